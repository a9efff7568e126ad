/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service's limits, umask, nice and OOM score, applied in its own
 * process between fork and exec (proc.c's child_exec). The agent is
 * multi-threaded, so only async-signal-safe calls here: setrlimit, umask,
 * setpriority, open/write/close. Libc only: the agents' front links it. */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "environ-int.h"
#include "util-int.h"

static const int resources[WARDEN_LIMIT_N] = {
    [WARDEN_LIMIT_NOFILE] = RLIMIT_NOFILE,
    [WARDEN_LIMIT_CORE] = RLIMIT_CORE,
    [WARDEN_LIMIT_NPROC] = RLIMIT_NPROC,
};

/* "-1000".."1000" without snprintf (not async-signal-safe). */
static size_t format_int(int v, char buf[static 16])
{
    char rev[16];
    size_t n = 0, len = 0;
    unsigned u = v < 0 ? (unsigned)-(long)v : (unsigned)v;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && n < sizeof(rev));
    if (v < 0) {
        buf[len++] = '-';
    }
    while (n > 0) {
        buf[len++] = rev[--n];
    }
    return len;
}

int warden__environ_child_apply(const struct warden_environ *env)
{
    if (!env) {
        return 0;
    }
    /* systemd's IgnoreSIGPIPE=yes, its default for every service: a service
     * whose output relay is gone (killed with the agent's cgroup, e.g.)
     * gets EPIPE from a write to its stdout, instead of dying of it. The
     * disposition is kept across exec. */
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ignore, NULL);
    for (int i = 0; i < WARDEN_LIMIT_N; i++) {
        if (env->set_limit[i] && setrlimit(resources[i], &env->limit[i]) < 0) {
            return negative_errno();
        }
    }
    if (env->set_umask) {
        umask(env->umask);
    }
    if (env->set_nice && setpriority(PRIO_PROCESS, 0, env->nice) < 0) {
        return negative_errno();
    }
    if (env->set_oom_score_adjust) {
        /* Inherited by everything the service forks, and kept across the
         * user switch and exec. */
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            return negative_errno();
        }
        char buf[16];
        size_t len = format_int(env->oom_score_adjust, buf);
        ssize_t n = write(fd, buf, len);
        int r = n < 0 ? negative_errno() : 0;
        close(fd);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}
