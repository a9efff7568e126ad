/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keeper process (the keeper's room: keeper-int.h): the agent binary
 * re-executed as WARDEN_KEEPER_ACTION by keeper-client.c's launch, detached,
 * root. It builds the service from the agent's parameters, runs the loop of
 * keeper.c around it (the probe, the main process's exit, reloads, whether
 * the state still names its main process), records itself in the state
 * directory, and on a failure dumps the service (the dump's room: dump-int.h)
 * and runs warden-push (cluster.c) to tell Pacemaker. Apart from
 * keeper-client.c because it runs in another process, with a loop, and
 * shares nothing with the agent but the state directory and the IPC. */
#include <fcntl.h>
#include <poll.h>
#include <qb/qblog.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "dump-int.h"
#include "hook-int.h"
#include "instance-int.h"
#include "keeper-int.h"
#include "notify-int.h"
#include "proc-int.h"
#include "util-int.h"

#ifndef WARDEN_PUSH_PATH
#define WARDEN_PUSH_PATH "/usr/libexec/warden/warden-push"
#endif

/* ---- the keeper process -------------------------------------------------- */

/* What the keeper's check runs: a probe and the values it is bound to (the
 * agent's own probe, check=agent, reads them). A reload makes a new binding;
 * the one it replaces lives on until the last probe that runs it returns,
 * since a probe abandoned as hung may outlive any number of reloads. */
struct check_binding {
    const warden_probe *probe;
    warden_params *params; /* owned, with the probe; NULL: the service's own */
    unsigned refs;         /* 1 while current, + 1 per probe running it */
};

struct keeper_process {
    struct warden_service *service;
    warden_keeper *keeper;
    qb_loop_t *loop;
    pthread_mutex_t check_lock;    /* guards check and every binding's refs */
    struct check_binding *check;   /* what the keeper's probe runs now */
    struct check_binding at_start; /* the service's own probe and values */
    pid_t watched_main;
    const struct warden_agent *agent; /* its prepare and probe */
    const warden_params *params;      /* the current values */
    char *node, *resource, *provider, *type;
    /* a dump before the push */
    pid_t dump_pid;
    int dump_pidfd, dump_report_fd;
    qb_loop_timer_handle dump_timer;
    char *push_reason;
    bool push_after_dump;
    uint64_t push_generation; /* the failure warden-push is telling */
    /* sd_notify: the service's NOTIFY_SOCKET and its watchdog */
    int notify_fd;
    bool in_main_exit; /* reading it from kp_main_exited */
    qb_loop_timer_handle watchdog_timer;
    warden_usec_t last_refused_log;
};

/* Called with check_lock held. */
static void check_binding_unref(struct check_binding *b)
{
    if (--b->refs > 0 || !b->params) {
        return; /* in use, or the service's own (kp->at_start) */
    }
    warden_probe_free((warden_probe *)b->probe);
    warden__params_free(b->params);
    free(b);
}

static int kp_probe(void *userdata, warden_usec_t deadline, char **ret_reason)
{
    struct keeper_process *kp = userdata;
    struct warden_service *s = kp->service;
    pthread_mutex_lock(&kp->check_lock);
    struct check_binding *b = kp->check;
    b->refs++;
    pthread_mutex_unlock(&kp->check_lock);
    struct warden_probe_context ctx = {.main_pid = s->main.pid, .service_exec = &s->exec};
    int r = warden_probe_run(b->probe, &ctx, deadline, ret_reason);
    pthread_mutex_lock(&kp->check_lock);
    check_binding_unref(b);
    pthread_mutex_unlock(&kp->check_lock);
    return r;
}

/* ---- the push (warden-push) ----------------------------------------------- */

/* A helper run by the keeper has exited: stop watching it, reap it. */
static siginfo_t reap_helper(struct keeper_process *kp, int fd)
{
    siginfo_t info = {0};
    qb_loop_poll_del(kp->loop, fd);
    waitid(P_PIDFD, (id_t)fd, &info, WEXITED);
    close(fd);
    return info;
}

static int32_t on_push_exit(int32_t fd, int32_t revents, void *data)
{
    struct keeper_process *kp = data;
    siginfo_t info = reap_helper(kp, fd);
    bool done = info.si_code == CLD_EXITED && info.si_status == 0;
    /* A waiting recurring monitor reports the failure itself unless the
     * controller has it. */
    warden__keeper_push_state(kp->keeper, kp->push_generation,
                              done ? WARDEN_PUSH_DONE : WARDEN_PUSH_FAILED);
    if (done) {
        qb_log(LOG_INFO, "warden-push finished");
    } else if (info.si_code == CLD_EXITED && info.si_status == 77) {
        qb_log(LOG_DEBUG, "no cluster to push the failure to");
    } else {
        qb_log(LOG_WARNING,
               "pushing the failure to the cluster failed (status %d); Pacemaker "
               "will see it at the next monitor",
               info.si_status);
    }
    return 0;
}

static const char *push_path(void)
{
    const char *path = getenv("WARDEN_PUSH");
    return isempty(path) ? WARDEN_PUSH_PATH : path;
}

/* The operator's note (warden-failure-<rsc>) is set by warden-push; a
 * file <state root>/.notes/<instance> says that one may exist. It is made
 * before each push (a keeper stood down mid-push cannot make it later) and
 * removed once warden-push --clear finds no note left. So a fresh keeper
 * runs --clear only after a push: in a storm of 100 restarts, 100 runs of
 * warden-push and attrd_updater (each loading Pacemaker's libraries) would
 * take seconds of CPU from the recovery itself. */
static int note_marker_path(const struct keeper_process *kp, char *buf, size_t size)
{
    char name[WARDEN_INSTANCE_FILE_SIZE];
    int r = warden__instance_file_name(kp->resource, name);
    if (r < 0) {
        return r;
    }
    int n = snprintf(buf, size, "%s/.notes/%s", warden__state_root(), name);
    return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static void note_marker_set(const struct keeper_process *kp)
{
    char path[4096];
    if (note_marker_path(kp, path, sizeof(path)) < 0) {
        return;
    }
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        qb_log(LOG_WARNING, "cannot make %s: %s", path, strerror(errno));
        return;
    }
    *slash = '/';
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        qb_log(LOG_WARNING, "cannot make %s: %s", path, strerror(errno));
        return;
    }
    close(fd);
}

static bool note_marker_exists(const struct keeper_process *kp)
{
    char path[4096];
    struct stat st;
    return note_marker_path(kp, path, sizeof(path)) == 0 && lstat(path, &st) == 0;
}

static int32_t on_clear_exit(int32_t fd, int32_t revents, void *data)
{
    struct keeper_process *kp = data;
    siginfo_t info = reap_helper(kp, fd);
    /* 0: no note is left; anything else: it stays (or attrd did not say) */
    char path[4096];
    if (info.si_code == CLD_EXITED && info.si_status == 0 &&
        note_marker_path(kp, path, sizeof(path)) == 0) {
        unlink(path);
    }
    return 0;
}

/* A fresh keeper: the operator's note of an earlier failure goes once that
 * failure has been cleaned up (warden-push --clear decides). Detached: never
 * in a monitor's path. */
static void push_clear(struct keeper_process *kp)
{
    if (isempty(kp->node) || !note_marker_exists(kp)) {
        return;
    }
    const char *path = push_path();
    char *argv[] = {(char *)path, "--clear", kp->node, kp->resource, NULL};
    pid_t pid = warden__spawn_detached(path, argv, -EBADF, NULL);
    int fd = pid > 0 ? pidfd_open(pid, 0) : -1;
    if (fd >= 0) {
        qb_loop_poll_add(kp->loop, QB_LOOP_LOW, fd, POLLIN, kp, on_clear_exit);
    }
}

/* Pushes in flight on this node at most: a failure storm (every service of
 * the node killed at once) pushed all at once floods the controller (each
 * push is several CIB writes, each of which aborts its transition; measured
 * in the lab with 50: no transition computed for 20 s, then the controller
 * exited on CIB query timeouts). Past this many, a failure is left to the
 * recurring monitors, which spread it over their interval and count it
 * once, as any agent's failure. */
#define PUSH_SLOTS 8

/* One of PUSH_SLOTS slot locks (<state root>/.push-slots/N, flock), or
 * -EBUSY when all are held. The fd goes to warden-push, which (with the
 * child that settles the count) holds it until it is done. */
static int push_slot(void)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/.push-slots", warden__state_root());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        return negative_errno();
    }
    for (int i = 0; i < PUSH_SLOTS; i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%d", dir, i);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            return negative_errno();
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            return fd;
        }
        close(fd);
    }
    return -EBUSY;
}

/* Still the keeper the instance's state records (v: this keeper's
 * verdict, which names it)? A stand-down unrecords it first
 * (warden__keeper_stand_down). */
static bool still_recorded(struct keeper_process *kp, const struct warden_verdict *v)
{
    pid_t pid;
    uint64_t start;
    return warden__keeper_record(kp->service->state_dir, &pid, &start) == 0 &&
           pid == v->keeper_pid && start == v->keeper_start;
}

static void push_now(struct keeper_process *kp)
{
    if (isempty(kp->node)) {
        qb_log(LOG_DEBUG, "not run by a cluster (no OCF_RESKEY_CRM_meta_on_node): push skipped");
        return;
    }
    struct warden_verdict v;
    warden__keeper_verdict(kp->keeper, &v);
    /* A keeper that was frozen (SIGSTOP, a stalled node) and resumes while
     * a stop or a monitor stands it down: that failure is Pacemaker's
     * already, and a push now would count it a second time (and restart
     * the service that replaced it). */
    if (!still_recorded(kp, &v)) {
        qb_log(LOG_NOTICE, "not pushing: this keeper is being stood down, and the failure is "
                           "already the cluster's");
        return;
    }
    const char *path = push_path();
    char *argv[] = {(char *)path, kp->node, kp->resource,
                    kp->provider, kp->type, kp->push_reason ? kp->push_reason : "",
                    NULL};
    /* Published before the push: a recurring monitor that runs meanwhile
     * leaves the count to it (verdict-int.h). */
    kp->push_generation = v.pushes;
    int slot = push_slot();
    if (slot < 0) {
        /* The verdict keeps push NONE: monitors report it at once. */
        qb_log(LOG_NOTICE, "%s: leaving this failure to the recurring monitor",
               slot == -EBUSY ? "many failures are being pushed on this node"
                              : "cannot take a push slot");
        return;
    }
    warden__keeper_push_state(kp->keeper, kp->push_generation, WARDEN_PUSH_PENDING);
    note_marker_set(kp);
    /* As fd 3: held by warden-push, unused. As fd 4: a pidfd of this
     * keeper, which warden-push waits on (the recovery stands the keeper
     * down); being its parent is no proof, for a keeper that exits at once
     * leaves warden-push to PID 1. */
    int self = pidfd_open(getpid(), 0);
    pid_t pid = warden__spawn_detached_pass(path, argv, slot, self, NULL);
    close(slot);
    if (self >= 0) {
        close(self);
    }
    int fd = pid > 0 ? pidfd_open(pid, 0) : -1;
    if (fd < 0) {
        qb_log(LOG_WARNING, "cannot run %s to push the failure: %s", path, strerror(errno));
        warden__keeper_push_state(kp->keeper, kp->push_generation, WARDEN_PUSH_FAILED);
        return;
    }
    /* Logged now: Pacemaker usually stands this keeper down (to restart the
     * service) before warden-push has finished. */
    qb_log(LOG_NOTICE, "pushing the failure to the cluster (%s on %s)", kp->resource, kp->node);
    qb_loop_poll_add(kp->loop, QB_LOOP_HIGH, fd, POLLIN, kp, on_push_exit);
}

/* The dump is done, or its budget is: say where it is, publish the failure,
 * then push it. */
static void dump_finished(struct keeper_process *kp, bool in_time)
{
    char *path = in_time ? warden__dump_read_report(kp->dump_report_fd) : NULL;
    if (path) {
        char note[300];
        snprintf(note, sizeof(note), "dump in %s", path);
        warden__keeper_annotate(kp->keeper, note);
        qb_log(LOG_NOTICE, "dump written to %s", path);
        free(path);
    } else {
        qb_log(LOG_WARNING, in_time ? "no dump was written (see the log)"
                                    : "the dump did not finish in its budget: pushing now");
    }
    qb_loop_poll_del(kp->loop, kp->dump_pidfd);
    if (kp->dump_timer) {
        qb_loop_timer_del(kp->loop, kp->dump_timer);
        kp->dump_timer = 0;
    }
    /* The helper stops at the same deadline; reap it if it has. */
    waitpid(kp->dump_pid, NULL, WNOHANG);
    close(kp->dump_pidfd);
    close(kp->dump_report_fd);
    kp->dump_pid = 0;
    /* The failure is published with its push already pending, so
     * that no monitor reports it in between */
    if (kp->push_after_dump) {
        push_now(kp);
    }
    warden__keeper_hold(kp->keeper, false);
}

static int32_t on_dump_exit(int32_t fd, int32_t revents, void *data)
{
    dump_finished(data, true);
    return 0;
}

static void on_dump_timeout(void *data)
{
    struct keeper_process *kp = data;
    kp->dump_timer = 0;
    dump_finished(kp, false);
}

/* A failed or hung check is dumped first when dump_on_failure is set, within
 * a budget of one check_interval (the keeper would not check again before
 * then anyway). Until the dump is done or its budget is, the failure is
 * neither published nor pushed: nothing may stop the service mid-dump. A
 * crash leaves nothing to dump, a restarted dependency nothing stuck. */
static void kp_push(void *userdata, const struct warden_verdict *v, enum warden_failure kind,
                    bool notify)
{
    struct keeper_process *kp = userdata;
    free(kp->push_reason);
    kp->push_reason = strdup(v->reason);
    kp->push_after_dump = notify;
    bool stuck = kind == WARDEN_FAILURE_CHECK || kind == WARDEN_FAILURE_HUNG;
    if (!stuck || !warden__dump_enabled(kp->params) || kp->dump_pid > 0) {
        if (notify) {
            push_now(kp);
        }
        return;
    }
    warden_usec_t budget = warden_params_time(kp->params, "check_interval");
    int report = -EBADF;
    pid_t pid = warden__dump_spawn(kp->params, kp->resource,
                                   kind == WARDEN_FAILURE_HUNG ? "hung" : "check-failed",
                                   warden_deadline_in(budget), &report);
    int pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
    if (pidfd < 0) {
        qb_log(LOG_ERR, "cannot start the dump helper: %s", strerror(pid < 0 ? -pid : errno));
        if (report >= 0) {
            close(report);
        }
        if (notify) {
            push_now(kp);
        }
        return;
    }
    warden__keeper_hold(kp->keeper, true);
    kp->dump_pid = pid;
    kp->dump_pidfd = pidfd;
    kp->dump_report_fd = report;
    qb_loop_poll_add(kp->loop, QB_LOOP_HIGH, pidfd, POLLIN, kp, on_dump_exit);
    qb_loop_timer_add(kp->loop, QB_LOOP_HIGH, budget * 1000, kp, on_dump_timeout, &kp->dump_timer);
}

static int32_t on_notify(int32_t fd, int32_t revents, void *data);

static int kp_main_exited(void *userdata, int *ret_pidfd)
{
    struct keeper_process *kp = userdata;
    struct warden_service *s = kp->service;
    /* A service that hands over to a new main process says MAINPID= just
     * before the old one exits: both may wake the loop at once, and the
     * exit must not be judged before the message is read. */
    if (kp->notify_fd >= 0) {
        kp->in_main_exit = true;
        on_notify(kp->notify_fd, POLLIN, kp);
        kp->in_main_exit = false;
    }
    if (!warden__pidref_alive(&s->main)) {
        warden__pidref_done(&s->main);
        int r = warden__service_status(s, NULL);
        if (r < 0) {
            return r == -ESRCH ? -ESRCH : -EIO; /* -EIO: processes of it remain */
        }
    }
    int fd = fcntl(s->main.fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
        return -ESRCH;
    }
    kp->watched_main = s->main.pid;
    *ret_pidfd = fd;
    return 0;
}

/* ---- sd_notify: the service's messages, its watchdog ------------------- */

static void on_watchdog(void *data)
{
    struct keeper_process *kp = data;
    kp->watchdog_timer = 0;
    char buf[128], t[32];
    snprintf(buf, sizeof(buf), "hung: no WATCHDOG=1 within %s",
             warden_time_format(kp->service->watchdog, t, sizeof(t)));
    /* A hang, found without a probe: dumped (dump_on_failure) and pushed
     * by kp_push, as a hung check is. */
    warden__keeper_fail(kp->keeper, WARDEN_FAILURE_HUNG, buf);
}

static void watchdog_arm(struct keeper_process *kp)
{
    if (!kp->service->watchdog) {
        return;
    }
    if (kp->watchdog_timer) {
        qb_loop_timer_del(kp->loop, kp->watchdog_timer);
        kp->watchdog_timer = 0;
    }
    qb_loop_timer_add(kp->loop, QB_LOOP_HIGH, kp->service->watchdog * 1000, kp, on_watchdog,
                      &kp->watchdog_timer);
}

static void notify_message(struct keeper_process *kp, const struct warden_notify_msg *m)
{
    struct warden_service *s = kp->service;
    if (m->watchdog) {
        watchdog_arm(kp);
    }
    if (m->has_status && !streq(m->status, s->notify_status)) {
        snprintf(s->notify_status, sizeof(s->notify_status), "%s", m->status);
        qb_log(LOG_INFO, "service status: %s", s->notify_status);
        warden__keeper_status(kp->keeper, s->notify_status);
    }
    if (m->mainpid > 0 && m->mainpid != s->main.pid) {
        _cleanup_free_ char *why = NULL;
        int r = warden__service_adopt_main(s, m->mainpid, &why);
        int fd = r == 0 ? fcntl(s->main.fd, F_DUPFD_CLOEXEC, 3) : -1;
        if (fd >= 0) {
            qb_log(LOG_NOTICE, "main process is now pid %d (MAINPID=)", (int)m->mainpid);
            kp->watched_main = s->main.pid;
            if (kp->in_main_exit) {
                close(fd); /* kp_main_exited hands the new one to the loop */
            } else {
                warden__keeper_watch_main(kp->keeper, fd, s->main.pid);
            }
        } else {
            qb_log(LOG_WARNING, "%s: ignored", why ? why : "MAINPID= refused");
        }
    }
    if (m->stopping) {
        /* Said, not done: if it then exits, that is a crash, as ever. */
        qb_log(LOG_NOTICE, "the service says it is stopping (STOPPING=1)");
    }
    if (m->watchdog_trigger) {
        warden__keeper_fail(kp->keeper, WARDEN_FAILURE_HUNG,
                            "hung: the service said WATCHDOG=trigger");
    }
}

static int32_t on_notify(int32_t fd, int32_t revents, void *data)
{
    struct keeper_process *kp = data;
    /* A bounded batch per wake-up: a flood must not starve the loop. */
    for (int i = 0; i < 64; i++) {
        struct warden_notify_msg m;
        struct ucred cred;
        int r = warden__notify_receive(fd, &m, &cred);
        if (r == -EAGAIN) {
            break;
        }
        if (r == -EBADMSG) {
            continue;
        }
        if (r < 0) {
            qb_log(LOG_ERR, "cannot read NOTIFY_SOCKET: %s; no longer listening", strerror(-r));
            qb_loop_poll_del(kp->loop, fd);
            return 0;
        }
        if (!warden__service_notify_sender_ok(kp->service, &cred)) {
            /* Logged at most once a minute: anyone may flood us. */
            warden_usec_t now = warden_now();
            if (now - kp->last_refused_log > 60 * WARDEN_USEC_PER_SEC || !kp->last_refused_log) {
                kp->last_refused_log = now;
                qb_log(LOG_WARNING,
                       "dropped a notify message from pid %d uid %d: not the "
                       "service's %s",
                       (int)cred.pid, (int)cred.uid,
                       kp->service->notify_access == WARDEN_NOTIFY_ALL ? "process"
                                                                       : "main process");
            }
            continue;
        }
        notify_message(kp, &m);
    }
    return 0;
}

/* The NOTIFY_SOCKET the start handed over (fd 4, WARDEN_NOTIFY_FD), or,
 * for a keeper that replaces a lost one, a fresh socket at the same path:
 * the service's NOTIFY_SOCKET names the path. */
static int notify_attach(struct keeper_process *kp)
{
    struct warden_service *s = kp->service;
    const char *env = getenv("WARDEN_NOTIFY_FD");
    int fd = -EBADF;
    if (!isempty(env)) {
        fd = atoi(env);
        unsetenv("WARDEN_NOTIFY_FD");
        if (fd < 3 || !s->notify || !warden__notify_is_bound_at(fd, s->notify_path)) {
            if (fd >= 3) {
                close(fd);
            }
            fd = -EBADF;
        } else {
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            fcntl(fd, F_SETFL, O_NONBLOCK);
        }
    }
    if (!s->notify) {
        return 0;
    }
    if (fd < 0) {
        fd = warden__notify_listen(s->notify_path, s->exec.set_user ? s->exec.uid : 0,
                                   s->exec.set_user ? s->exec.gid : 0,
                                   s->notify_access == WARDEN_NOTIFY_ALL);
        if (fd < 0) {
            return fd;
        }
        qb_log(LOG_INFO, "NOTIFY_SOCKET %s made anew", s->notify_path);
    }
    kp->notify_fd = fd;
    /* What the service said before READY=1, which the start read. */
    _cleanup_free_ char *path = warden__keeper_file(s, "notify.status");
    _cleanup_free_ char *status = NULL;
    if (path && warden__read_file(path, WARDEN_NOTIFY_STATUS_SIZE - 1, &status) >= 0) {
        snprintf(s->notify_status, sizeof(s->notify_status), "%s", status);
        warden__keeper_status(kp->keeper, s->notify_status);
    }
    int r = qb_loop_poll_add(kp->loop, QB_LOOP_HIGH, fd, POLLIN, kp, on_notify);
    if (r < 0) {
        return r;
    }
    /* The service's first WATCHDOG=1 is due within one period of the
     * keeper's start (its start is complete then). */
    watchdog_arm(kp);
    return 0;
}

static int keeper_config(const warden_params *p, struct warden_keeper_config *ret)
{
    *ret = (struct warden_keeper_config){
        .check_interval = warden_params_time(p, "check_interval"),
        .check_timeout = warden_params_time(p, "check_timeout"),
        .failure_threshold = warden_params_integer(p, "failure_threshold"),
        .notify_cluster = warden_params_boolean(p, "notify_cluster"),
        .slow_threshold = warden_params_time(p, "slow_threshold"),
    };
    if (ret->check_interval == 0 || ret->failure_threshold < 1) {
        return -EINVAL;
    }
    return 0;
}

/* Who this keeper keeps, for the history it publishes (`warden status`,
 * `warden check`): again after every reload. */
static void identify(struct keeper_process *kp, const warden_params *p)
{
    static struct warden_history who; /* 18 KiB: not on the stack */
    memset(&who, 0, offsetof(struct warden_history, records));
    snprintf(who.resource, sizeof(who.resource), "%s", kp->resource ? kp->resource : "");
    snprintf(who.agent, sizeof(who.agent), "%.60s:%.60s", kp->provider ? kp->provider : "",
             kp->type ? kp->type : "");
    ssize_t n = readlink("/proc/self/exe", who.agent_path, sizeof(who.agent_path) - 1);
    who.agent_path[n > 0 ? n : 0] = '\0';
    const char *check = warden_params_string(p, "check");
    snprintf(who.check, sizeof(who.check), "%s", check ? check : "process");
    const char *dump_dir = warden_params_string(p, "dump_dir");
    snprintf(who.dump_dir, sizeof(who.dump_dir), "%s", dump_dir ? dump_dir : "");
    who.slow_threshold_usec = warden_params_time(p, "slow_threshold");
    warden__keeper_identify(kp->keeper, &who);
}

/* Reload: the text carries the reloadable parameters; each is validated
 * with the same table as the agent's, then applied, or nothing is. */
static int kp_reload(void *userdata, const char *text)
{
    struct keeper_process *kp = userdata;
    warden_params *p = NULL;
    _cleanup_free_ char *refused = NULL;
    int r = warden__params_copy_with(kp->params, text, &p, &refused);
    if (r < 0) {
        qb_log(LOG_ERR, "reload refused: %s", refused ? refused : strerror(-r));
        return r;
    }
    /* Defaults that derive from other values (smtp's check from address
     * and port) are derived again, as the agent does on every action. */
    _cleanup_free_ char *why = NULL;
    if (kp->agent->prepare) {
        r = kp->agent->prepare(p, &why);
        if (r < 0) {
            char shown[WARDEN_REASON_SHOWN_SIZE];
            qb_log(LOG_ERR, "reload refused: %s",
                   why ? warden__reason_shown(why, shown) : strerror(-r));
            warden__params_free(p);
            return r;
        }
        free(TAKE_PTR(why));
    }
    struct warden_keeper_config cfg;
    warden_probe *probe = NULL;
    r = warden__params_validate(p, &why);
    if (r == 0) {
        r = keeper_config(p, &cfg);
    }
    if (r == 0) {
        r = warden_probe_new(warden_params_string(p, "check"), &probe);
    }
    if (r == 0) {
        r = warden__hook_bind_probe(probe, kp->agent, p, kp->service->instance, &why);
    }
    struct check_binding *b = r == 0 ? malloc(sizeof(*b)) : NULL;
    if (r < 0 || !b) {
        qb_log(LOG_ERR, "reload refused: %s", why ? why : r < 0 ? "invalid values" : "no memory");
        warden_probe_free(probe);
        warden__params_free(p);
        return r < 0 ? r : -ENOMEM;
    }
    *b = (struct check_binding){.probe = probe, .params = p, .refs = 1};
    pthread_mutex_lock(&kp->check_lock);
    check_binding_unref(TAKE_PTR(kp->check));
    kp->check = b;
    pthread_mutex_unlock(&kp->check_lock);
    kp->params = p;
    identify(kp, p);
    warden__keeper_reconfigure(kp->keeper, &cfg);
    warden__keeper_watch_dependency(kp->keeper, warden_params_string(p, "depends_on"));
    char t[32], check[WARDEN_SHOWN_SIZE];
    qb_log(LOG_NOTICE, "reloaded: check '%s' every %s",
           warden__shown(warden_params_string(p, "check"), check),
           warden_time_format(cfg.check_interval, t, sizeof(t)));
    return 0;
}

/* The keeper is the service's only while the state names the main process
 * it watches: a start after the state was removed by hand makes a new one. */
static bool kp_still_mine(void *userdata)
{
    struct keeper_process *kp = userdata;
    _cleanup_free_ char *path = warden__keeper_file(kp->service, "service");
    _cleanup_free_ char *text = NULL;
    if (!path || warden__read_file(path, 8192, &text) < 0) {
        return false;
    }
    char want[64];
    snprintf(want, sizeof(want), "main %d ", (int)kp->watched_main);
    return strstr(text, want) != NULL;
}

static int32_t on_stand_down(int32_t sig, void *data)
{
    struct keeper_process *kp = data;
    qb_log(LOG_INFO, "standing down (signal %d)", sig);
    qb_loop_stop(kp->loop);
    return 0;
}

static int write_keeper_state(struct warden_service *s)
{
    _cleanup_free_ char *path = warden__keeper_file(s, "keeper");
    struct warden_proc_stat st;
    if (!path || warden__proc_stat(getpid(), &st) < 0) {
        return -ENOMEM;
    }
    FILE *f = fopen(path, "we");
    if (!f) {
        return negative_errno();
    }
    fprintf(f, "%d %llu\n", (int)getpid(), (unsigned long long)st.starttime);
    return fclose(f) == 0 ? 0 : negative_errno();
}

/* Tell the agent that launched us how it went, once: '1' keeping and
 * serving IPC, '2' keeping without IPC (the name is taken), nothing (EOF)
 * when this keeper is not keeping anything. */
static void signal_ready(const char *how)
{
    const char *fd = getenv("WARDEN_REPORT_FD");
    if (!isempty(fd)) {
        int n = atoi(fd);
        if (how) {
            (void)!write(n, how, 1);
        }
        close(n);
        unsetenv("WARDEN_REPORT_FD");
    }
}

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v ? strdup(v) : NULL;
}

int warden__keeper_main(const warden_params *p, const char *instance,
                        const struct warden_agent *agent)
{
    prctl(PR_SET_NAME, "warden-keeper");
    struct keeper_process kp = {.params = p, .agent = agent, .notify_fd = -EBADF};
    pthread_mutex_init(&kp.check_lock, NULL);
    bool owner = false;
    _cleanup_free_ char *why = NULL;
    _cleanup_close_ int lock_fd = -EBADF;
    _cleanup_free_ char *ipc_name = NULL;
    _cleanup_free_ char *lock_path = NULL;
    int result = 1;
    struct warden_keeper_config cfg;

    int r = warden__service_new(p, instance, false, &kp.service, &why);
    if (r == 0) {
        r = warden__service_set_agent(kp.service, agent, &why);
    }
    if (r < 0 || keeper_config(p, &cfg) < 0) {
        qb_log(LOG_ERR, "keeper: bad configuration: %s", why ? why : "invalid keeper settings");
        goto out;
    }
    kp.at_start = (struct check_binding){.probe = kp.service->probe, .refs = 1};
    kp.check = &kp.at_start;
    lock_path = warden__keeper_file(kp.service, "keeper.lock");
    lock_fd = lock_path ? open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        /* Another keeper holds the instance: one is enough. */
        qb_log(LOG_INFO, "a keeper already runs for %s", instance);
        signal_ready("1");
        result = 0;
        goto out;
    }
    owner = true;
    if (warden__service_status(kp.service, &why) < 0) {
        qb_log(LOG_NOTICE, "keeper: nothing to keep: %s", why ? why : "not running");
        goto out;
    }
    kp.node = dup_env("OCF_RESKEY_CRM_meta_on_node");
    kp.resource = strdup(instance);
    kp.provider = dup_env("OCF_RESOURCE_PROVIDER");
    kp.type = dup_env("OCF_RESOURCE_TYPE");
    if (!kp.provider) {
        kp.provider = strdup("warden");
    }
    if (!kp.type) {
        kp.type = strdup("daemon");
    }

    kp.loop = qb_loop_create();
    struct warden_keeper_ops ops = {
        .probe = kp_probe,
        .push = kp_push,
        .main_exited = kp_main_exited,
        .reload = kp_reload,
        .still_mine = kp_still_mine,
        .userdata = &kp,
    };
    if (!kp.loop || warden__keeper_new(kp.loop, &cfg, &ops, &kp.keeper) < 0) {
        goto out;
    }
    kp.watched_main = kp.service->main.pid;
    int main_fd = fcntl(kp.service->main.fd, F_DUPFD_CLOEXEC, 3);
    if (main_fd < 0 || warden__keeper_watch_main(kp.keeper, main_fd, kp.service->main.pid) < 0) {
        qb_log(LOG_ERR, "keeper: cannot watch the main process");
        goto out;
    }
    warden__keeper_watch_dependency(kp.keeper, warden_params_string(p, "depends_on"));
    identify(&kp, p);
    qb_loop_signal_handle sig_handles[2];
    qb_loop_signal_add(kp.loop, QB_LOOP_HIGH, SIGTERM, &kp, on_stand_down, &sig_handles[0]);
    qb_loop_signal_add(kp.loop, QB_LOOP_HIGH, SIGINT, &kp, on_stand_down, &sig_handles[1]);
    /* The record first: it is what stop and the monitors trust, IPC or
     * not. */
    if (write_keeper_state(kp.service) < 0 || warden__keeper_start(kp.keeper) < 0 ||
        warden__keeper_publish(kp.keeper, kp.service->state_dir) < 0) {
        qb_log(LOG_ERR, "keeper: cannot record itself or publish in %s", kp.service->state_dir);
        goto out;
    }
    r = notify_attach(&kp);
    if (r < 0) {
        /* Without it no watchdog is kept: a failure, not a silent gap. */
        qb_log(LOG_ERR, "keeper: cannot listen on NOTIFY_SOCKET %s: %s", kp.service->notify_path,
               strerror(-r));
        goto out;
    }
    /* IPC serves reloads and monitors that find no verdict file. Another
     * process holding the name (any local user can bind an abstract name)
     * must not stop the keeping: the verdict file and the pushes go on,
     * and clients refuse that process (connect_keeper). */
    const char *how = "1";
    r = warden__keeper_ipc_name(instance, &ipc_name);
    if (r == 0) {
        r = warden__keeper_serve(kp.keeper, ipc_name);
    }
    if (r < 0) {
        qb_log(LOG_ERR, "keeper: cannot serve IPC as %s (%s): keeping without it; reload will fail",
               ipc_name ? ipc_name : instance, strerror(-r));
        how = "2";
    }
    char t[32], check[WARDEN_SHOWN_SIZE];
    qb_log(LOG_INFO, "keeping pid %d: check '%s' every %s", (int)kp.service->main.pid,
           warden__shown(warden_probe_spec(kp.service->probe), check),
           warden_time_format(cfg.check_interval, t, sizeof(t)));
    signal_ready(how);
    push_clear(&kp); /* an old failure's note goes once its fail count is cleaned up */
    qb_loop_run(kp.loop);
    result = 0;
out:
    signal_ready(NULL);
    if (kp.watchdog_timer) {
        qb_loop_timer_del(kp.loop, kp.watchdog_timer);
    }
    if (kp.notify_fd >= 0) {
        qb_loop_poll_del(kp.loop, kp.notify_fd);
        close(kp.notify_fd);
    }
    warden__keeper_free(kp.keeper);
    if (kp.loop) {
        qb_loop_destroy(kp.loop);
    }
    if (owner) {
        /* A verdict nobody keeps must not be read as current. */
        static const char *const files[] = {"verdict", "keeper"};
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
            _cleanup_free_ char *path = warden__keeper_file(kp.service, files[i]);
            if (path) {
                unlink(path);
            }
        }
    }
    if (warden__hooks_abandoned()) {
        /* The agent's probe may still run, reading the probe and the
         * values it was given: the process ends in a moment. */
        return result;
    }
    if (kp.check) {
        pthread_mutex_lock(&kp.check_lock);
        check_binding_unref(kp.check); /* the reload's values and probe, if one ran */
        pthread_mutex_unlock(&kp.check_lock);
    }
    warden__service_free(kp.service);
    pthread_mutex_destroy(&kp.check_lock);
    if (kp.dump_pid > 0) {
        close(kp.dump_pidfd);
        close(kp.dump_report_fd);
    }
    free(kp.push_reason);
    free(kp.node);
    free(kp.resource);
    free(kp.provider);
    free(kp.type);
    return result;
}
