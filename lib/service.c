/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The managed service of one resource instance.
 *
 * Lock: s->lock only. The worker thread holds it while it spawns and while
 * it records what it spawned; the wrapper's thread holds it to abandon the
 * worker after a timeout. So a start that overruns can never leave a process
 * behind that the clean-up did not see. */
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cgroup-int.h"
#include "hook-int.h"
#include "instance-int.h"
#include "log-int.h"
#include "param-int.h"
#include "service-int.h"
#include "unit-int.h"
#include "util-int.h"

#ifndef WARDEN_STATE_DIR_DEFAULT
#define WARDEN_STATE_DIR_DEFAULT "/run/warden"
#endif

const char *warden__state_root(void)
{
    const char *env = getenv("WARDEN_STATE_DIR");
    return !isempty(env) ? env : WARDEN_STATE_DIR_DEFAULT;
}

/* The sd_notify variables: the service's own, and never one that the
 * agent inherited (a NOTIFY_SOCKET of Pacemaker's systemd unit would let the
 * service speak for Pacemaker), whatever `environment` says. WATCHDOG_PID
 * is a placeholder the service's process fills with its own pid between
 * fork and exec (proc-exec.c): the pid is not known before. */
static int notify_environment(struct warden_service *s)
{
    static const char *const names[] = {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="};
    char **envp = s->exec.envp;
    size_t n = 0, k = 0;
    while (envp[n]) {
        n++;
    }
    char **out = calloc(n + 4, sizeof(char *));
    if (!out) {
        return -ENOMEM;
    }
    if (s->notify) {
        out[k++] = warden__strdup_printf("NOTIFY_SOCKET=%s", s->notify_path);
        if (s->watchdog) {
            out[k++] = warden__strdup_printf("WATCHDOG_USEC=%llu", (unsigned long long)s->watchdog);
            out[k++] = strdup("WATCHDOG_PID=0000000000");
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (!out[i]) {
            warden__strv_free(out);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        bool ours = false;
        for (size_t j = 0; j < ELEMENTSOF(names); j++) {
            ours = ours || startswith(envp[i], names[j]);
        }
        if (ours) {
            free(envp[i]);
        } else {
            out[k++] = envp[i];
        }
    }
    free(envp);
    s->exec.envp = out;
    return 0;
}

/* ready, watchdog, notify_access (validated by the table already). */
static int notify_from_params(struct warden_service *s, const warden_params *p)
{
    int r = warden__notify_path(s->instance, &s->notify_path);
    if (r < 0) {
        return r;
    }
    if (warden__ready_parse(warden_params_string(p, "ready"), &s->ready) < 0 ||
        warden__notify_access_parse(warden_params_string(p, "notify_access"), &s->notify_access) <
            0) {
        return -EINVAL;
    }
    s->watchdog = warden_params_time(p, "watchdog");
    s->notify = s->ready == WARDEN_READY_NOTIFY || s->watchdog > 0 ||
                (p && warden_params_is_set(p, "notify_access"));
    return 0;
}

static int build_exec(struct warden_service *s, const warden_params *p, char **ret_reason)
{
    char shown[WARDEN_SHOWN_SIZE];
    /* The user first: an action that does not exec (a monitor, the keeper)
     * still runs exec: checks as that user, whatever else is amiss. */
    const char *user = warden_params_string(p, "user");
    if (!isempty(user) && warden__exec_set_user(&s->exec, user) < 0) {
        return warden__set_reason(ret_reason, -ENXIO, "user '%s' does not exist on this node",
                                  warden__shown(user, shown));
    }
    const char *command = warden_params_string(p, "command");
    if (isempty(command)) {
        return warden__set_reason(ret_reason, -EINVAL, "parameter 'command' is required");
    }
    int r;
    if (warden_params_boolean(p, "shell")) {
        char **argv = calloc(4, sizeof(char *));
        if (!argv) {
            return -ENOMEM;
        }
        argv[0] = strdup("/bin/sh");
        argv[1] = strdup("-c");
        argv[2] = strdup(command);
        s->exec.argv = argv;
        if (!argv[0] || !argv[1] || !argv[2]) {
            return -ENOMEM;
        }
    } else {
        r = warden__argv_split(command, &s->exec.argv);
        if (r < 0) {
            return warden__set_reason(
                ret_reason, r,
                "parameter 'command' has invalid value '%s': expected a program "
                "and its arguments, with '...' or \"...\" quoting",
                warden__shown(command, shown));
        }
    }
    char *path = NULL;
    r = warden__find_executable(s->exec.argv[0], &path);
    if (r < 0) {
        return warden__set_reason(ret_reason, -ENOPKG,
                                  "command '%s' is not installed on this node: %s",
                                  warden__shown(s->exec.argv[0], shown), strerror(-r));
    }
    free(s->exec.argv[0]);
    s->exec.argv[0] = path;

    const char *workdir = warden_params_string(p, "workdir");
    if (!isempty(workdir)) {
        struct stat st;
        if (stat(workdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            return warden__set_reason(ret_reason, -ENXIO,
                                      "workdir '%s' is not a directory on this node",
                                      warden__shown(workdir, shown));
        }
        s->exec.workdir = workdir;
    }
    /* The rest of the service's environment (environ.c, output.c): what
     * start would refuse, validate-all refuses too, with the same reason. */
    char **extra = NULL;
    r = warden__environ_from_params(p, &s->environ, &extra, ret_reason);
    if (r == 0) {
        s->exec.environ = &s->environ;
        r = warden__environ_check_node(&s->environ, ret_reason);
    }
    if (r == 0) {
        r = warden__output_check_node(warden_params_string(p, "output"), &s->exec, ret_reason);
    }
    if (r == 0) {
        r = warden__environ_check_cgroup(p, ret_reason);
    }
    if (r == 0) {
        r = warden__exec_environment_with(false, extra, &s->exec.envp);
    }
    warden__strv_free(extra);
    if (r == 0) {
        r = notify_environment(s);
    }
    return r;
}

int warden__service_new(const warden_params *p, const char *instance, bool need_exec,
                        struct warden_service **ret, char **ret_reason)
{
    /* Any other name maps to a directory, a cgroup and an IPC name
     * (instance-int.h). */
    char dir_name[WARDEN_INSTANCE_FILE_SIZE];
    if (warden__instance_file_name(instance, dir_name) < 0) {
        return warden__set_reason(
            ret_reason, -EINVAL,
            "OCF_RESOURCE_INSTANCE is empty or not set: expected the resource's "
            "name, as Pacemaker sets it");
    }
    struct warden_service *s = calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->holder = WARDEN_PIDREF_NULL;
    s->main = WARDEN_PIDREF_NULL;
    s->output = WARDEN_OUTPUT_INIT;
    s->notify_fd = -EBADF;
    s->instance = strdup(instance);
    s->state_dir = warden__strdup_printf("%s/%s", warden__state_root(), dir_name);
    const char *pidfile = warden_params_string(p, "pidfile");
    const char *stop_command = warden_params_string(p, "stop_command");
    s->pidfile = !isempty(pidfile) ? strdup(pidfile) : NULL;
    s->stop_command = !isempty(stop_command) ? strdup(stop_command) : NULL;
    s->check_timeout = warden_params_time(p, "check_timeout");
    if (!s->instance || !s->state_dir) {
        warden__service_free(s);
        return -ENOMEM;
    }
    const char *check = warden_params_string(p, "check");
    int r = warden_probe_new(!isempty(check) ? check : "process", &s->probe);
    if (r < 0) {
        warden__service_free(s);
        char shown[WARDEN_SHOWN_SIZE];
        return warden__set_reason(ret_reason, r,
                                  "parameter 'check' has invalid value '%s': expected %s",
                                  warden__shown(check, shown), WARDEN_PROBE_FORMS);
    }
    s->params = p;
    r = notify_from_params(s, p);
    if (r < 0) {
        warden__service_free(s);
        return warden__set_reason(ret_reason, r, "cannot name the service's NOTIFY_SOCKET: %s",
                                  strerror(-r));
    }
    r = build_exec(s, p, ret_reason);
    if (r < 0 && need_exec) {
        warden__service_free(s);
        return r;
    }
    if (r < 0 && ret_reason) {
        /* Not an error for an action that does not exec (stop, monitor). */
        free(*ret_reason);
        *ret_reason = NULL;
    }
    *ret = s;
    return 0;
}

int warden__service_set_agent(struct warden_service *s, const struct warden_agent *agent,
                              char **ret_reason)
{
    s->agent = agent;
    return warden__hook_bind_probe(s->probe, agent, s->params, s->instance, ret_reason);
}

/* Run one of the agent's hooks, if it has it and there are values for it to
 * see, under deadline. */
static int run_hook(struct warden_service *s, const char *name, warden_agent_fn fn,
                    warden_usec_t deadline, char **ret_reason)
{
    if (!fn || !s->params) {
        return 0;
    }
    struct warden_agent_context ctx = {
        .params = s->params,
        .instance = s->instance,
        .main_pid = warden__pidref_alive(&s->main) ? s->main.pid : 0,
        .deadline = deadline,
    };
    qb_log(LOG_DEBUG, "running the agent's %s", name);
    return warden__hook_run(name, fn, &ctx, ret_reason);
}

struct warden_service *warden__service_free(struct warden_service *s)
{
    if (!s) {
        return NULL;
    }
    /* workdir points into the parameters; do not let exec_done free it. */
    s->exec.workdir = NULL;
    warden__exec_done(&s->exec);
    warden__output_done(&s->output);
    if (s->notify_fd >= 0) {
        close(s->notify_fd);
    }
    free(s->notify_path);
    warden_probe_free(s->probe);
    warden__pidref_done(&s->holder);
    warden__pidref_done(&s->main);
    pthread_mutex_destroy(&s->lock);
    free(s->cgroup);
    free(s->pidfile);
    free(s->stop_command);
    free(s->state_dir);
    free(s->instance);
    free(s);
    return NULL;
}

/* ---- status -------------------------------------------------------------- */

/* The daemon's pid from its pidfile, when it is alive and ours. The pidfile
 * sits where the service's user can write, so warden__read_file opens no
 * symlink, FIFO or device: a FIFO would block the keeper's loop, a device
 * node could do anything on open. Anything but a regular file is no pid. */
static int read_pidfile(struct warden_service *s, struct warden_pidref *ret)
{
    _cleanup_free_ char *text = NULL;
    int r = warden__read_file(s->pidfile, 64, &text);
    if (r == -ELOOP || r == -EBADFD) {
        qb_log(LOG_WARNING, "pidfile %s is %s, not a regular file: ignored", s->pidfile,
               r == -ELOOP ? "a symlink" : "a FIFO, device or directory");
    }
    if (r < 0) {
        return r;
    }
    char *end;
    long pid = strtol(text, &end, 10);
    if (end == text || pid <= 1) {
        return -EINVAL;
    }
    struct warden_tree t = warden__service_tree(s);
    if (!warden__tree_contains(&t, (pid_t)pid)) {
        return -ESRCH;
    }
    return warden__pidref_open((pid_t)pid, 0, ret);
}

int warden__service_status(struct warden_service *s, char **ret_reason)
{
    if (!warden__pidref_is_set(&s->main) && !warden__pidref_is_set(&s->holder) &&
        warden__service_state_load(s) < 0) {
        return warden__set_reason(ret_reason, -ESRCH, "not running");
    }
    if (warden__pidref_alive(&s->main)) {
        return 0;
    }
    /* A daemon may replace itself (re-exec, reload); its pidfile says who
     * the main process is now. */
    struct warden_pidref fresh = WARDEN_PIDREF_NULL;
    if (s->pidfile && read_pidfile(s, &fresh) == 0) {
        warden__pidref_done(&s->main);
        s->main = fresh;
        warden__service_state_write(s);
        return 0;
    }
    /* The main process is gone. Whatever else of the service still runs
     * (its children, in its cgroup or session) makes it half there: failed,
     * so that Pacemaker stops it, not "not running", which would let it
     * start the service elsewhere beside those processes. */
    struct warden_tree t = warden__service_tree(s);
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0, left = 0;
    int r = warden__tree_pids(&t, &pids, &n);
    if (r < 0) {
        return warden__set_reason(
            ret_reason, -EIO, "service process %d is gone; cannot tell whether others remain: %s",
            (int)s->main.pid, strerror(-r));
    }
    for (size_t i = 0; i < n; i++) {
        if (pids[i] != s->holder.pid) {
            left++;
        }
    }
    if (left > 0) {
        return warden__set_reason(
            ret_reason, -EIO,
            "service process %d is gone but %zu other process(es) of it still run",
            (int)s->main.pid, left);
    }
    return warden__set_reason(ret_reason, -ESRCH, "service process %d is gone", (int)s->main.pid);
}

/* The probe, once the service is known to run. exec: checks run as the
 * service's user: a check script in the service's own tree must not be
 * root's code. */
static int probe_running(struct warden_service *s, warden_usec_t deadline, char **ret_reason)
{
    struct warden_probe_context ctx = {.main_pid = s->main.pid, .service_exec = &s->exec};
    return warden_probe_run(s->probe, &ctx, deadline, ret_reason);
}

int warden__service_probe(struct warden_service *s, warden_usec_t deadline, char **ret_reason)
{
    int r = warden__service_status(s, ret_reason);
    if (r < 0) {
        return r;
    }
    return probe_running(s, deadline, ret_reason);
}

/* ---- start --------------------------------------------------------------- */

static int make_state_dir(struct warden_service *s)
{
    if (mkdir(warden__state_root(), 0755) < 0 && errno != EEXIST) {
        return negative_errno();
    }
    if (mkdir(s->state_dir, 0700) < 0 && errno != EEXIST) {
        return negative_errno();
    }
    return RET_NERRNO(chmod(s->state_dir, 0700));
}

/* Kill and forget whatever an earlier start left: a half-started service,
 * a service whose state was lost, a stale state file. */
static int clean_leftovers(struct warden_service *s, warden_usec_t deadline)
{
    warden__service_guess_cgroup(s);
    struct warden_tree t = warden__service_tree(s);
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    int r = warden__tree_pids(&t, &pids, &n);
    if (r < 0) {
        return r;
    }
    if (n > 0) {
        qb_log(LOG_NOTICE, "killing %zu process(es) left by an earlier start", n);
        r = warden__tree_kill(&t, deadline);
        if (r < 0) {
            return r;
        }
    }
    warden__service_drop_cgroup(s, s->cgroup, deadline);
    free(s->cgroup);
    s->cgroup = NULL;
    warden__service_state_remove(s);
    warden__pidref_done(&s->holder);
    warden__pidref_done(&s->main);
    return 0;
}

static int wait_pidfile(struct warden_service *s, warden_usec_t deadline, char **ret_reason)
{
    _cleanup_free_ char *copy = strdup(s->pidfile);
    if (!copy) {
        return -ENOMEM;
    }
    _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino < 0) {
        return negative_errno();
    }
    inotify_add_watch(ino, dirname(copy), IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | IN_CREATE);
    for (;;) {
        struct warden_pidref ref = WARDEN_PIDREF_NULL;
        if (read_pidfile(s, &ref) == 0) {
            pthread_mutex_lock(&s->lock);
            warden__pidref_done(&s->main);
            s->main = ref;
            int r = s->abandoned ? -ETIMEDOUT : warden__service_state_write(s);
            pthread_mutex_unlock(&s->lock);
            return r;
        }
        /* Wake on the pidfile's directory changing, or on the holder's exit:
         * once the holder is gone, no process of the service is left. */
        struct pollfd pfd[2] = {{.fd = ino, .events = POLLIN},
                                {.fd = s->holder.fd, .events = POLLIN}};
        int n = poll(pfd, 2, warden__poll_timeout_ms(deadline));
        if (n == 0) {
            return warden__set_reason(ret_reason, -ETIMEDOUT,
                                      "pidfile %s did not name a live process", s->pidfile);
        }
        if (n > 0 && pfd[1].revents) {
            return warden__set_reason(ret_reason, -ESRCH,
                                      "service exited before it wrote pidfile %s", s->pidfile);
        }
        char buf[4096];
        while (read(ino, buf, sizeof(buf)) > 0) {
        }
    }
}

/* Probe until healthy. Between tries, wait on the main process's pidfd, so
 * that a service that dies while starting fails the start at once. */
static int wait_healthy(struct warden_service *s, warden_usec_t deadline, char **ret_reason)
{
    warden_usec_t pause = 50 * WARDEN_USEC_PER_MSEC;
    for (;;) {
        _cleanup_free_ char *reason = NULL;
        int r = warden__service_status(s, &reason);
        if (r < 0) {
            /* -ESRCH, or -EIO when it left processes behind. */
            return warden__set_reason(ret_reason, r, "service exited while starting (%s)",
                                      reason ? reason : "gone");
        }
        r = probe_running(s, deadline, &reason);
        if (r >= 0) {
            /* WARDEN_PROBE_DEGRADED too: the service answers, and its
             * warning (a certificate near its expiry) is monitor's to say. */
            return 0;
        }
        warden_usec_t wake = warden_deadline_in(pause);
        warden__pidref_wait_exit(&s->main, wake < deadline ? wake : deadline);
        if (warden_now() >= deadline) {
            return warden__set_reason(ret_reason, -ETIMEDOUT, "not healthy in time: %s",
                                      reason ? reason : "check failed");
        }
        pause = pause * 2 > WARDEN_USEC_PER_SEC ? WARDEN_USEC_PER_SEC : pause * 2;
    }
}

/* ---- sd_notify ----------------------------------------------------------- */

bool warden__service_notify_sender_ok(const struct warden_service *s, const struct ucred *cred)
{
    /* The kernel's word for who sent it (SO_PASSCRED): a process cannot
     * claim another's pid without CAP_SYS_ADMIN. A message the main process
     * sent just before it exited still counts (a forking service's parent
     * says MAINPID= and goes). */
    if (cred->pid <= 1) {
        return false;
    }
    if (cred->pid == s->main.pid) {
        return true;
    }
    if (s->notify_access != WARDEN_NOTIFY_ALL || cred->pid == s->holder.pid) {
        return false;
    }
    struct warden_tree t = warden__service_tree(s);
    return warden__tree_contains(&t, cred->pid);
}

int warden__service_adopt_main(struct warden_service *s, pid_t pid, char **ret_reason)
{
    if (pid == s->main.pid && warden__pidref_alive(&s->main)) {
        return 0;
    }
    struct warden_tree t = warden__service_tree(s);
    if (pid <= 1 || pid == s->holder.pid || !warden__tree_contains(&t, pid)) {
        return warden__set_reason(ret_reason, -EPERM, "MAINPID=%d is not a process of the service",
                                  (int)pid);
    }
    struct warden_pidref ref = WARDEN_PIDREF_NULL;
    if (warden__pidref_open(pid, 0, &ref) < 0) {
        return warden__set_reason(ret_reason, -ESRCH, "MAINPID=%d is gone", (int)pid);
    }
    /* The pid was looked at before its pidfd was open: it may have been
     * another process then. Now that the pidfd pins the process, while it
     * lives the pid is its, so a second look settles whose it is. */
    t = warden__service_tree(s);
    if (!warden__tree_contains(&t, pid) || !warden__pidref_alive(&ref)) {
        warden__pidref_done(&ref);
        return warden__set_reason(ret_reason, -EPERM, "MAINPID=%d is not a process of the service",
                                  (int)pid);
    }
    pthread_mutex_lock(&s->lock);
    warden__pidref_done(&s->main);
    s->main = ref;
    int r = s->abandoned ? -ETIMEDOUT : warden__service_state_write(s);
    pthread_mutex_unlock(&s->lock);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "cannot record MAINPID=%d: %s", (int)pid,
                                  strerror(-r));
    }
    return 0;
}

/* One message during a start. Returns 1 on READY=1. */
static int start_notify_message(struct warden_service *s, const struct warden_notify_msg *m,
                                warden_usec_t *deadline, warden_usec_t cap)
{
    if (m->has_status && !streq(m->status, s->notify_status)) {
        snprintf(s->notify_status, sizeof(s->notify_status), "%s", m->status);
        qb_log(LOG_INFO, "service status: %s", s->notify_status);
    }
    if (m->mainpid > 0 && m->mainpid != s->main.pid) {
        _cleanup_free_ char *why = NULL;
        if (warden__service_adopt_main(s, m->mainpid, &why) == 0) {
            qb_log(LOG_INFO, "main process is now pid %d (MAINPID=)", (int)m->mainpid);
        } else {
            qb_log(LOG_WARNING, "%s: ignored", why ? why : "MAINPID= refused");
        }
    }
    if (m->stopping) {
        qb_log(LOG_NOTICE, "the service says it is stopping (STOPPING=1)");
    }
    if (m->has_extend) {
        warden_usec_t want = warden_deadline_in(m->extend_usec);
        if (want > *deadline) {
            *deadline = want < cap ? want : cap;
            char t[32];
            qb_log(LOG_INFO, "the service extends its start: READY=1 awaited %s more%s",
                   warden_time_format(*deadline - warden_now(), t, sizeof(t)),
                   want > cap ? " (the most the operation's timeout leaves)" : "");
        }
    }
    return m->ready ? 1 : 0;
}

/* The last STATUS= the start read, for the keeper (it reads only what the
 * service says after READY=1): "READY=1\nSTATUS=serving" is common. */
static void save_status(const struct warden_service *s)
{
    if (!s->notify_status[0]) {
        return;
    }
    _cleanup_free_ char *path = warden__strdup_printf("%s/notify.status", s->state_dir);
    FILE *f = path ? fopen(path, "we") : NULL;
    if (f) {
        fputs(s->notify_status, f);
        fclose(f);
    }
}

/* ready=notify: the start is complete when the service says READY=1 (from
 * its main process, or any of its tree with notify_access=all), not when a
 * check passes. Wakes on a message or on the main process's exit; the
 * wait ends at deadline, which EXTEND_TIMEOUT_USEC= may move up to cap. */
static int wait_ready(struct warden_service *s, warden_usec_t deadline, warden_usec_t cap,
                      char **ret_reason)
{
    warden_usec_t began = warden_now();
    unsigned refused = 0;
    for (;;) {
        /* Every queued message first: a forking service's parent may have
         * said MAINPID= and READY=1 just before it exited. A bounded batch:
         * a flood must not keep the start past its deadline. */
        for (int i = 0; i < 64; i++) {
            struct warden_notify_msg m;
            struct ucred cred;
            int r = warden__notify_receive(s->notify_fd, &m, &cred);
            if (r == -EAGAIN) {
                break;
            }
            if (r == -EBADMSG) {
                qb_log(LOG_DEBUG, "dropped a malformed notify message");
                continue;
            }
            if (r < 0) {
                return warden__set_reason(ret_reason, r, "cannot read NOTIFY_SOCKET: %s",
                                          strerror(-r));
            }
            if (!warden__service_notify_sender_ok(s, &cred)) {
                if (refused++ > 0) {
                    continue; /* logged once: anyone who can reach it may flood it */
                }
                qb_log(LOG_WARNING,
                       "dropped a notify message from pid %d uid %d: not the service's %s",
                       (int)cred.pid, (int)cred.uid,
                       s->notify_access == WARDEN_NOTIFY_ALL ? "process" : "main process");
                continue;
            }
            if (start_notify_message(s, &m, &deadline, cap) == 1) {
                char t[32];
                qb_log(LOG_INFO, "READY=1 after %s",
                       warden_time_format(warden_now() - began, t, sizeof(t)));
                save_status(s);
                return 0;
            }
        }
        _cleanup_free_ char *reason = NULL;
        int r = warden__service_status(s, &reason);
        if (r < 0) {
            return warden__set_reason(ret_reason, r, "service exited while starting (%s)",
                                      reason ? reason : "gone");
        }
        if (warden_now() >= deadline) {
            char t[32];
            warden_time_format(warden_now() - began, t, sizeof(t));
            if (s->notify_status[0]) {
                return warden__set_reason(ret_reason, -ETIMEDOUT, "no READY=1 in %s, status: '%s'",
                                          t, s->notify_status);
            }
            return warden__set_reason(ret_reason, -ETIMEDOUT, "no READY=1 in %s (no STATUS=)", t);
        }
        struct pollfd pfd[2] = {{.fd = s->notify_fd, .events = POLLIN},
                                {.fd = s->main.fd, .events = POLLIN}};
        poll(pfd, 2, warden__poll_timeout_ms(deadline));
    }
}

/* A start that failed says what the service printed last: a daemon that
 * explains why it will not run ("refusing to run as root") is understood
 * from the reason alone. */
static int with_last_output(struct warden_service *s, int r, warden_usec_t deadline,
                            char **ret_reason)
{
    _cleanup_free_ char *tail = warden__output_tail(&s->output, deadline);
    if (!tail || !ret_reason) {
        return r;
    }
    _cleanup_free_ char *before = TAKE_PTR(*ret_reason);
    /* Pacemaker shows 128 characters of a reason: the service's own words
     * come right after what happened, the pid after them. */
    static const char exited[] = "service exited while starting ";
    if (startswith(before, exited)) {
        return warden__set_reason(ret_reason, r,
                                  "service exited while starting, last output: "
                                  "'%s' %s",
                                  tail, before + strlen(exited));
    }
    return warden__set_reason(ret_reason, r, "%s; last output: '%s'",
                              before ? before : "start failed", tail);
}

/* The holder into the service's systemd unit, before it forks the service
 * (warden__tree_spawn_placed). Runs with s->lock held: the cgroup is
 * recorded where an abandon finds it. */
struct placement {
    struct warden_service *s;
    struct warden_unit_resources res;
    char *reason;
};

static int place_in_unit(pid_t holder, void *userdata, warden_usec_t deadline)
{
    struct placement *pl = userdata;
    return warden__unit_start(pl->s->instance, holder, &pl->res, deadline, &pl->s->cgroup,
                              &pl->reason);
}

int warden__service_start(struct warden_service *s, warden_usec_t deadline, char **ret_reason)
{
    if (!s->exec.argv || !s->exec.envp) {
        return warden__set_reason(ret_reason, -EINVAL, "no command to start");
    }
    /* Only the wait for READY=1 may run past ready_deadline. */
    warden_usec_t cap = deadline;
    if (s->ready_deadline && s->ready_deadline < deadline) {
        deadline = s->ready_deadline;
    }
    const struct warden_agent *a = s->agent;
    if (warden__service_status(s, NULL) == 0) {
        qb_log(LOG_INFO, "already running as pid %d", (int)s->main.pid);
        int h = wait_healthy(s, deadline, ret_reason);
        return h < 0 ? h : run_hook(s, "ready", a ? a->ready : NULL, deadline, ret_reason);
    }
    int r = clean_leftovers(s, deadline);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "cannot clean up an earlier start: %s",
                                  strerror(-r));
    }
    r = make_state_dir(s);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "cannot create %s: %s", s->state_dir,
                                  strerror(-r));
    }
    r = run_hook(s, "before_start", a ? a->before_start : NULL, deadline, ret_reason);
    if (r < 0) {
        return r;
    }
    int unit_mode = warden__unit_enabled();
    bool in_unit = unit_mode > 0;
    if (unit_mode == 0) {
        r = warden__cgroup_create(s->instance, &s->cgroup);
        if (r < 0) {
            qb_log(LOG_DEBUG, "no cgroup (%s): the tree is the holder's session", strerror(-r));
        }
    } else if (unit_mode < 0) {
        qb_log(LOG_DEBUG, "systemd without cgroup v2 or cgroup.kill: the tree is the holder's "
                          "session");
    }
    struct placement pl = {.s = s};
    /* In a unit, systemd sets its cgroup's limits from its properties. */
    r = in_unit ? warden__environ_unit_resources(s->params, &pl.res)
                : warden__environ_apply_cgroup(s->params, s->cgroup, false, ret_reason);
    if (r == 0 && s->notify) {
        int fd = warden__notify_listen(s->notify_path, s->exec.set_user ? s->exec.uid : 0,
                                       s->exec.set_user ? s->exec.gid : 0,
                                       s->notify_access == WARDEN_NOTIFY_ALL);
        if (fd < 0) {
            r = warden__set_reason(ret_reason, fd, "cannot make the NOTIFY_SOCKET %s: %s",
                                   s->notify_path, strerror(-fd));
        } else {
            if (s->notify_fd >= 0) {
                close(s->notify_fd);
            }
            s->notify_fd = fd;
        }
    }
    if (r == 0 && s->params) {
        r = warden__output_open(&s->output, warden_params_string(s->params, "output"), s->instance,
                                s->state_dir, &s->exec, ret_reason);
    }
    if (r < 0) {
        if (s->cgroup) {
            warden__cgroup_remove(s->cgroup);
        }
        warden__service_state_remove(s);
        return r;
    }

    pthread_mutex_lock(&s->lock);
    if (s->abandoned) {
        pthread_mutex_unlock(&s->lock);
        return -ETIMEDOUT;
    }
    s->exec.stdout_fd = s->output.service_fd >= 0 ? s->output.service_fd : 0;
    r = in_unit ? warden__tree_spawn_placed(&s->exec, NULL, place_in_unit, &pl, deadline,
                                            &s->holder, &s->main)
                : warden__tree_spawn(&s->exec, s->cgroup, deadline, &s->holder, &s->main);
    s->exec.stdout_fd = 0;
    warden__output_spawned(&s->output);
    if (r == 0) {
        r = warden__service_state_write(s);
    }
    pthread_mutex_unlock(&s->lock);
    if (r < 0) {
        warden__service_drop_cgroup(s, s->cgroup, deadline);
        warden__service_state_remove(s);
        r = warden__set_reason(ret_reason, r, "cannot start %s: %s", s->exec.argv[0],
                               pl.reason ? pl.reason : strerror(-r));
        free(pl.reason);
        return r;
    }
    qb_log(LOG_INFO, "started %s as pid %d%s%s", s->exec.argv[0], (int)s->main.pid,
           s->cgroup ? " in cgroup " : " in session ", s->cgroup ? s->cgroup : "");

    if (s->pidfile) {
        r = wait_pidfile(s, deadline, ret_reason);
        if (r < 0) {
            return with_last_output(s, r, deadline, ret_reason);
        }
        qb_log(LOG_INFO, "pidfile %s names pid %d", s->pidfile, (int)s->main.pid);
    }
    r = s->ready == WARDEN_READY_NOTIFY && s->notify_fd >= 0
            ? wait_ready(s, deadline, cap, ret_reason)
            : wait_healthy(s, deadline, ret_reason);
    if (r < 0) {
        return with_last_output(s, r, deadline, ret_reason);
    }
    return run_hook(s, "ready", a ? a->ready : NULL, cap, ret_reason);
}

int warden__service_still_running(struct warden_service *s, warden_usec_t deadline,
                                  char **ret_reason)
{
    _cleanup_free_ char *reason = NULL;
    int r = warden__service_status(s, &reason);
    if (r == 0) {
        return 0;
    }
    r = warden__set_reason(ret_reason, r, "service exited while starting (%s)",
                           reason ? reason : "gone");
    return with_last_output(s, r, deadline, ret_reason);
}

int warden__service_reload(struct warden_service *s, warden_usec_t deadline, char **ret_reason)
{
    if (!s->cgroup && warden__service_state_load(s) < 0) {
        return 0; /* nothing runs: the next start applies the values */
    }
    warden__service_guess_cgroup(s);
    if (warden__unit_owns_cgroup(s->cgroup)) {
        struct warden_unit_resources res;
        int r = warden__environ_unit_resources(s->params, &res);
        return r < 0 ? r : warden__unit_set_resources(s->instance, &res, deadline, ret_reason);
    }
    return warden__environ_apply_cgroup(s->params, s->cgroup, true, ret_reason);
}

/* ---- stop ---------------------------------------------------------------- */

/* Time kept back from the graceful phase for SIGKILL and its wait: a fifth
 * of the budget, at least 0.5 s, at most 3 s. */
static warden_usec_t kill_reserve(warden_usec_t budget)
{
    warden_usec_t r = budget / 5;
    if (r < 500 * WARDEN_USEC_PER_MSEC) {
        r = 500 * WARDEN_USEC_PER_MSEC;
    }
    return r > 3 * WARDEN_USEC_PER_SEC ? 3 * WARDEN_USEC_PER_SEC : r;
}

static void run_stop_command(struct warden_service *s, warden_usec_t deadline)
{
    struct warden_exec e = s->exec;
    char *argv[] = {"/bin/sh", "-c", s->stop_command, NULL};
    e.argv = argv;
    if (!e.envp) {
        return;
    }
    int status = 0;
    int r = warden__run(&e, deadline, &status);
    if (r < 0) {
        qb_log(LOG_WARNING, "stop_command failed: %s", strerror(-r));
    } else if (status != 0) {
        qb_log(LOG_WARNING, "stop_command exited with status %d", status);
    }
}

static int report_survivors(struct warden_service *s, char **ret_reason)
{
    struct warden_tree t = warden__service_tree(s);
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    warden__tree_pids(&t, &pids, &n);
    char list[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(list) - 16; i++) {
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d", i ? " " : "", (int)pids[i]);
    }
    return warden__set_reason(ret_reason, -EBUSY, "%zu process(es) survived SIGKILL: %s", n, list);
}

/* Nothing of the service is left: the agent's clean-up. */
static int after_stop(struct warden_service *s, warden_usec_t deadline, char **ret_reason)
{
    return run_hook(s, "after_stop", s->agent ? s->agent->after_stop : NULL, deadline, ret_reason);
}

int warden__service_stop(struct warden_service *s, warden_usec_t deadline, char **ret_reason)
{
    warden_usec_t now = warden_now();
    warden_usec_t escalate_at = deadline - kill_reserve(deadline > now ? deadline - now : 0);
    /* 0 only once this stop has seen that nothing of the service is left:
     * a state or a cgroup it cannot read is a failed stop, not a done one. */
    int r = warden__service_state_load(s);
    if (r < 0 && r != -ENOENT) {
        return warden__set_reason(ret_reason, -EIO, "cannot read the service's state in %s: %s",
                                  s->state_dir, strerror(-r));
    }
    if (r == -ENOENT) {
        warden__service_guess_cgroup(s);
        int populated = s->cgroup ? warden__cgroup_populated(s->cgroup) : 0;
        if (populated < 0 && populated != -ENOENT) {
            return warden__set_reason(ret_reason, -EIO,
                                      "cannot tell whether cgroup %s is empty: %s", s->cgroup,
                                      strerror(-populated));
        }
        if (populated <= 0) {
            warden__service_drop_cgroup(s, s->cgroup, deadline);
            return after_stop(s, deadline, ret_reason);
        }
        qb_log(LOG_NOTICE, "no state, but cgroup %s holds processes: stopping them", s->cgroup);
    }
    struct warden_tree t = warden__service_tree(s);

    if (s->agent && s->agent->before_stop && warden__pidref_alive(&s->main)) {
        /* A graceful step that fails or overruns is no reason not to stop:
         * the rest of the stop follows, in time. */
        _cleanup_free_ char *why = NULL;
        if (run_hook(s, "before_stop", s->agent->before_stop, escalate_at, &why) < 0) {
            qb_log(LOG_WARNING, "%s; stopping the service all the same",
                   why ? why : "before_stop failed");
        }
    }
    if (s->stop_command && warden__pidref_alive(&s->main)) {
        run_stop_command(s, escalate_at);
    } else {
        warden__tree_signal(&t, SIGTERM);
    }
    /* A stopped (frozen) process only acts on SIGTERM once it runs again;
     * a hung service is often one that someone, or something, froze. The
     * holder too: it must reap what SIGTERM ends. */
    warden__tree_signal(&t, SIGCONT);
    warden__pidref_signal(&s->holder, SIGCONT);
    warden__pidref_wait_exit(&s->main, escalate_at);
    if (s->stop_command && warden__tree_signal(&t, SIGTERM) > 0) {
        qb_log(LOG_INFO, "main process gone; SIGTERM to the rest of the service");
    }
    r = warden__tree_wait_empty(&t, false, escalate_at);
    if (r < 0) {
        if (s->before_kill) {
            /* Half of what is left; SIGKILL and its wait get the rest. */
            warden_usec_t now2 = warden_now();
            s->before_kill(s->hook_userdata, now2 + (deadline > now2 ? (deadline - now2) / 2 : 0));
        }
        qb_log(LOG_WARNING, "service still running at the stop deadline: SIGKILL to all of it");
    }
    r = warden__tree_kill(&t, deadline);
    if (r < 0) {
        return report_survivors(s, ret_reason);
    }
    warden__service_drop_cgroup(s, s->cgroup, deadline);
    warden__service_state_remove(s);
    return after_stop(s, deadline, ret_reason);
}

/* A copy of a reference with a pidfd of its own: the worker may still close
 * the original. */
static struct warden_pidref ref_dup(const struct warden_pidref *p)
{
    struct warden_pidref c = *p;
    c.fd = p->fd >= 0 ? fcntl(p->fd, F_DUPFD_CLOEXEC, 3) : -EBADF;
    if (c.fd < 0) {
        c.fd = -EBADF;
    }
    return c;
}

int warden__service_abandon(struct warden_service *s, warden_usec_t deadline)
{
    /* The worker may still run (stuck), so this works on a copy of what it
     * had recorded, and stops it from spawning anything further. */
    struct warden_service found = {.instance = s->instance, .state_dir = s->state_dir};
    pthread_mutex_lock(&s->lock);
    s->abandoned = true;
    found.holder = ref_dup(&s->holder);
    found.main = ref_dup(&s->main);
    found.cgroup = s->cgroup ? strdup(s->cgroup) : NULL;
    pthread_mutex_unlock(&s->lock);

    /* The caller reports a stop done on 0, so 0 must mean that nothing of
     * the service is left. A run that recorded nothing (a stop stuck before
     * it read the state) kills what the state file and the instance's
     * cgroup name; with neither, nothing of the service is known here. */
    int r = 0;
    if (found.holder.pid <= 0 && !found.cgroup) {
        r = warden__service_state_load(&found);
        if (r == -ENOENT) {
            r = 0;
        }
        warden__service_guess_cgroup(&found);
    }
    if (r == 0) {
        struct warden_tree t = warden__service_tree(&found);
        r = warden__tree_kill(&t, deadline);
    }
    if (r == 0 && found.cgroup) {
        int populated = warden__cgroup_populated(found.cgroup);
        r = populated == 0 || populated == -ENOENT ? 0 : -EIO;
    }
    if (r == 0) {
        warden__service_drop_cgroup(&found, found.cgroup, deadline);
        warden__service_state_remove(s);
    } else {
        qb_log(LOG_ERR, "processes of the service may survive: %s", strerror(-r));
    }
    warden__pidref_done(&found.holder);
    warden__pidref_done(&found.main);
    free(found.cgroup);
    return r == 0 ? 0 : -EIO;
}
