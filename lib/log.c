/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging targets. Pacemaker hands its log settings to agents in the
 * environment, in both the PCMK_ and the older HA_ spelling. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>

#include "instance-int.h"
#include "log-int.h"
#include "param-int.h"
#include "util-int.h"

static const char *env_either(const char *a, const char *b)
{
    const char *v = getenv(a);
    return !isempty(v) ? v : getenv(b);
}

static bool env_true(const char *v)
{
    bool b = false;
    return !isempty(v) && warden__parse_boolean(v, &b) == 0 && b;
}

static int log_file_target = -1;

/* libqb opens the log file without O_CLOEXEC and keeps its fd to itself:
 * find every fd open on that file and mark it close-on-exec, so that no
 * command warden runs (stop_command and checks run as the service's user)
 * can read or forge the cluster's log. */
static void log_file_cloexec(const char *file)
{
    struct stat want;
    DIR *d = stat(file, &want) == 0 ? opendir("/proc/self/fd") : NULL;
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        struct stat st;
        if (fd > STDERR_FILENO && fd != dirfd(d) && fstat(fd, &st) == 0 &&
            st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
            int flags = fcntl(fd, F_GETFD);
            if (flags >= 0) {
                fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
            }
        }
    }
    closedir(d);
}

void warden__log_open(const char *agent, const char *instance, const char *action)
{
    const char *facility = env_either("PCMK_logfacility", "HA_LOGFACILITY");
    const char *file = env_either("PCMK_logfile", "HA_logfile");
    bool debug = env_true(env_either("PCMK_debug", "HA_debug"));
    int priority = debug ? LOG_DEBUG : LOG_INFO;

    char name[64];
    snprintf(name, sizeof(name), "warden-%s", agent);
    qb_log_init(name, LOG_DAEMON, LOG_INFO);
    qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);

    /* Pacemaker takes names of any length, and libqb 2.0.6 overflows its
     * own stack buffer on a long format: only a bounded form of the
     * instance and the action goes in, with no "%" (libqb would read a
     * directive). */
    char inst[WARDEN_INSTANCE_LOG_SIZE], act[WARDEN_INSTANCE_LOG_SIZE];
    warden__instance_log_name(instance, inst);
    warden__instance_log_name(action, act);
    char format[256];
    snprintf(format, sizeof(format), "%%N(%s)[%%P] %s: %%p: %%b", inst, act);

    bool any = false;
    if (!isempty(facility) && !streq(facility, "none")) {
        int f = qb_log_facility2int(facility);
        qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_FACILITY, f < 0 ? LOG_DAEMON : f);
        qb_log_format_set(QB_LOG_SYSLOG, format);
        qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", priority);
        qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_TRUE);
        any = true;
    }
    if (!isempty(file) && !streq(file, "none") && !streq(file, "/dev/null")) {
        log_file_target = qb_log_file_open(file);
        if (log_file_target >= 0) {
            log_file_cloexec(file);
            char fmt[300];
            snprintf(fmt, sizeof(fmt), "%%t %s", format);
            qb_log_format_set(log_file_target, fmt);
            qb_log_filter_ctl(log_file_target, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*",
                              priority);
            qb_log_ctl(log_file_target, QB_LOG_CONF_ENABLED, QB_TRUE);
            any = true;
        }
    }
    if (!any && streq(action, "keeper")) {
        /* A keeper's stderr is /dev/null: with no target given, syslog. */
        qb_log_format_set(QB_LOG_SYSLOG, format);
        qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", priority);
        qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_TRUE);
    } else if (!any) {
        qb_log_format_set(QB_LOG_STDERR, format);
        qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", priority);
        qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
    }
}

void warden__log_close(void)
{
    if (log_file_target >= 0) {
        qb_log_file_close(log_file_target);
        log_file_target = -1;
    }
    qb_log_fini();
}
