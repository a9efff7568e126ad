/* Logging targets. Pacemaker hands its log settings to agents in the
 * environment, in both the PCMK_ and the older HA_ spelling. */
#include <stdio.h>
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
