/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keeper's loop, and its IPC server (the keeper's room: keeper-int.h).
 * The engine alone: it runs whatever probe and callbacks it is given, so the
 * unit tests drive it with scripted probes; keeper-process.c gives it a
 * service.
 *
 * Threads: the loop thread owns everything; the check thread only runs the
 * probe it is handed and posts the result. They meet in k->lock (the only
 * lock): a job slot going one way, a result slot the other, and an eventfd
 * that wakes the loop. A probe that overruns check_timeout is abandoned, not
 * cancelled: the verdict says "hung" at once, and no new probe starts until
 * the abandoned one returns (at most one in flight). */
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <qb/qbipcs.h>
#include <qb/qblog.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "keeper-int.h"
#include "proc-int.h"
#include "util-int.h"
#include "warden/probe.h"

struct warden_keeper {
    qb_loop_t *loop;
    struct warden_keeper_config cfg;
    struct warden_keeper_ops ops;
    struct warden_verdict verdict;
    bool in_episode;          /* a failure was pushed; ends when healthy again */
    bool sticky;              /* a failure no probe can undo (a dependency restarted) */
    enum warden_failure kind; /* of the failure being recorded */
    char note[160];           /* said with every verdict of this episode */
    char status[128];         /* the service's last STATUS= (sd_notify), said with failures */

    qb_loop_timer_handle tick_timer;
    qb_loop_timer_handle hang_timer;
    bool started;

    /* check thread */
    pthread_t thread;
    bool thread_running;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool job_posted; /* loop -> thread */
    warden_usec_t job_deadline;
    bool result_posted; /* thread -> loop */
    int result;
    char *result_reason;
    bool quit;
    bool probing; /* the thread is inside the probe (not merely unreported) */
    int efd;
    /* loop-thread view */
    bool in_flight;
    bool hung; /* the in-flight probe passed its deadline */
    uint64_t hung_count;

    /* main process */
    int main_fd;
    pid_t main_pid;

    /* depends_on */
    char *dep_pidfile;
    pid_t dep_pid;
    uint64_t dep_start;

    qb_ipcs_service_t *ipcs;
    char *publish_dir;
    struct warden_verdict published; /* what monitors see (file and IPC) */
    bool held;
    uint64_t self_start; /* our start time, for the verdict's keeper identity */
};

/* After every callback that may change the verdict: monitors read this
 * file, not the IPC, so that they load nothing but libc. */
static void publish(warden_keeper *k)
{
    if (k->held) {
        /* The verdict stays as it was while a failure is dumped, but it
         * stays fresh: the keeper is not stuck, and a monitor that took it
         * for stuck would replace it mid-dump and report the failure
         * itself, without the dump. */
        k->published.at_usec = warden_now();
    } else {
        k->published = k->verdict;
    }
    if (k->publish_dir) {
        int r = warden__verdict_write(k->publish_dir, &k->published);
        if (r < 0) {
            qb_log(LOG_WARNING, "cannot publish the verdict in %s: %s", k->publish_dir,
                   strerror(-r));
        }
    }
}

int warden__keeper_publish(warden_keeper *k, const char *state_dir)
{
    free(k->publish_dir);
    k->publish_dir = strdup(state_dir);
    if (!k->publish_dir) {
        return -ENOMEM;
    }
    publish(k);
    return 0;
}

/* ---- verdicts ------------------------------------------------------------ */

static void set_verdict(warden_keeper *k, enum warden_health health, const char *reason)
{
    struct warden_verdict *v = &k->verdict;
    v->health = health;
    v->at_usec = warden_now();
    v->check_interval_usec = k->cfg.check_interval;
    v->check_timeout_usec = k->cfg.check_timeout;
    v->keeper_pid = (int32_t)getpid();
    v->keeper_start = k->self_start;
    if (health == WARDEN_HEALTH_RUNNING) {
        k->in_episode = false;
        k->note[0] = '\0';
        v->push = WARDEN_PUSH_NONE;
    }
    snprintf(v->reason, sizeof(v->reason), "%s%s%s", k->note, k->note[0] && reason ? "; " : "",
             reason ? reason : "");
    if (health != WARDEN_HEALTH_RUNNING && k->status[0]) {
        size_t len = strlen(v->reason);
        snprintf(v->reason + len, sizeof(v->reason) - len, "%sstatus: '%s'", len ? "; " : "",
                 k->status);
    }
    if (health != WARDEN_HEALTH_RUNNING && !k->in_episode) {
        /* Once per episode: a failing service is reported once, then left
         * to Pacemaker's recovery. */
        k->in_episode = true;
        v->push = WARDEN_PUSH_NONE; /* until the push begins (warden__keeper_push_state) */
        qb_log(LOG_WARNING, "failure: %s", v->reason);
        if (k->cfg.notify_cluster) {
            v->pushes++;
        }
        if (k->ops.push) {
            k->ops.push(k->ops.userdata, v, k->kind, k->cfg.notify_cluster);
        }
    }
}

static void check_failed(warden_keeper *k, const char *reason)
{
    struct warden_verdict *v = &k->verdict;
    v->failures++;
    v->consecutive++;
    if (v->health == WARDEN_HEALTH_STOPPED || k->sticky) {
        v->at_usec = warden_now();
        return;
    }
    if ((int64_t)v->consecutive >= k->cfg.failure_threshold) {
        set_verdict(k, WARDEN_HEALTH_FAILED, reason);
        return;
    }
    /* Below the threshold the service still counts as running; say why it
     * may not for long. */
    char buf[sizeof(v->reason)];
    snprintf(buf, sizeof(buf), "%u of %lld checks failed: %s", v->consecutive,
             (long long)k->cfg.failure_threshold, reason);
    qb_log(LOG_NOTICE, "%s", buf);
    set_verdict(k, WARDEN_HEALTH_RUNNING, buf);
    k->verdict.reason[0] = '\0';
}

static void check_passed(warden_keeper *k)
{
    if (k->verdict.health == WARDEN_HEALTH_STOPPED || k->sticky) {
        /* Still refresh the time: the keeper is alive, the answer stands. */
        k->verdict.at_usec = warden_now();
        return;
    }
    if (k->verdict.health == WARDEN_HEALTH_FAILED) {
        qb_log(LOG_NOTICE, "healthy again after %u failed checks", k->verdict.consecutive);
    }
    k->verdict.consecutive = 0;
    set_verdict(k, WARDEN_HEALTH_RUNNING, NULL);
}

void warden__keeper_verdict(const warden_keeper *k, struct warden_verdict *ret)
{
    *ret = k->verdict;
}

void warden__keeper_annotate(warden_keeper *k, const char *text)
{
    struct warden_verdict *v = &k->verdict;
    char joined[sizeof(k->note) + sizeof(v->reason) + 2];
    snprintf(k->note, sizeof(k->note), "%s", text);
    snprintf(joined, sizeof(joined), "%s%s%s", k->note, v->reason[0] ? "; " : "", v->reason);
    snprintf(v->reason, sizeof(v->reason), "%.*s", (int)sizeof(v->reason) - 1, joined);
    publish(k);
}

void warden__keeper_status(warden_keeper *k, const char *status)
{
    snprintf(k->status, sizeof(k->status), "%s", status ? status : "");
}

void warden__keeper_fail(warden_keeper *k, enum warden_failure kind, const char *reason)
{
    /* A failure already on record (or a service gone) is not made twice. */
    if (k->verdict.health != WARDEN_HEALTH_RUNNING || !k->started) {
        return;
    }
    /* No probe can undo it: only a restart does. */
    k->sticky = true;
    k->kind = kind;
    set_verdict(k, WARDEN_HEALTH_FAILED, reason);
    publish(k);
}

void warden__keeper_push_state(warden_keeper *k, uint64_t generation, enum warden_push state)
{
    /* A push of an earlier failure that ends late says nothing of this one. */
    if (!k->in_episode || k->verdict.pushes != generation) {
        return;
    }
    k->verdict.push = (uint32_t)state;
    publish(k);
}

void warden__keeper_hold(warden_keeper *k, bool hold)
{
    k->held = hold;
    if (!hold) {
        publish(k);
    }
}

/* ---- the check thread ---------------------------------------------------- */

static void *check_thread(void *arg)
{
    warden_keeper *k = arg;
    pthread_mutex_lock(&k->lock);
    for (;;) {
        while (!k->job_posted && !k->quit) {
            pthread_cond_wait(&k->cond, &k->lock);
        }
        if (k->quit) {
            break;
        }
        k->job_posted = false;
        k->probing = true;
        warden_usec_t deadline = k->job_deadline;
        pthread_mutex_unlock(&k->lock);

        char *reason = NULL;
        int r = k->ops.probe(k->ops.userdata, deadline, &reason);

        pthread_mutex_lock(&k->lock);
        k->probing = false;
        free(k->result_reason);
        k->result = r;
        k->result_reason = reason;
        k->result_posted = true;
        uint64_t one = 1;
        (void)!write(k->efd, &one, sizeof(one));
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

static void on_hang_timer(void *data)
{
    warden_keeper *k = data;
    k->hang_timer = 0;
    if (!k->in_flight || k->hung) {
        return;
    }
    k->hung = true;
    k->hung_count++;
    k->kind = WARDEN_FAILURE_HUNG;
    k->verdict.checks++;
    char buf[128], t[32];
    snprintf(buf, sizeof(buf), "hung: check did not answer within %s",
             warden_time_format(k->cfg.check_timeout, t, sizeof(t)));
    check_failed(k, buf);
    publish(k);
}

static int32_t on_result(int32_t fd, int32_t revents, void *data)
{
    warden_keeper *k = data;
    uint64_t n;
    (void)!read(fd, &n, sizeof(n));
    pthread_mutex_lock(&k->lock);
    bool posted = k->result_posted;
    int r = k->result;
    char *reason = k->result_reason;
    k->result_reason = NULL;
    k->result_posted = false;
    pthread_mutex_unlock(&k->lock);
    if (!posted) {
        free(reason);
        return 0;
    }
    bool was_hung = k->hung;
    k->in_flight = false;
    k->hung = false;
    if (k->hang_timer) {
        qb_loop_timer_del(k->loop, k->hang_timer);
        k->hang_timer = 0;
    }
    if (!was_hung) {
        /* An abandoned probe's late answer says nothing about now. */
        k->verdict.checks++;
        if (r == 0) {
            check_passed(k);
        } else if (r == -WARDEN_PROBE_ERESOLVE) {
            /* The check could not reach the service at all: a DNS outage
             * says nothing about the service, and failing every resource
             * whose check names a host at once would be a failover storm.
             * Logged, not counted; the verdict stands. */
            qb_log(LOG_WARNING, "check not run: %s", reason ? reason : "cannot resolve");
            k->verdict.at_usec = warden_now();
        } else if (r == -ETIMEDOUT) {
            /* A probe that ran out of time is a hung service; it says
             * which step got no answer ("smtp: no greeting within 5s"). */
            char buf[sizeof(k->verdict.reason)];
            snprintf(buf, sizeof(buf), "hung: %s", reason ? reason : "no answer");
            k->kind = WARDEN_FAILURE_HUNG;
            check_failed(k, buf);
        } else {
            k->kind = WARDEN_FAILURE_CHECK;
            check_failed(k, reason ? reason : strerror(-r));
        }
        publish(k);
    }
    free(reason);
    return 0;
}

/* ---- the monitor loop ---------------------------------------------------- */

static void dependency_check(warden_keeper *k);

static void schedule_tick(warden_keeper *k);

static void on_tick(void *data)
{
    warden_keeper *k = data;
    k->tick_timer = 0;
    if (k->ops.still_mine && !k->ops.still_mine(k->ops.userdata)) {
        qb_log(LOG_NOTICE, "the service's state names another process now: keeper exits");
        qb_loop_stop(k->loop);
        return;
    }
    schedule_tick(k);
    dependency_check(k);
    publish(k);
    if (k->verdict.health == WARDEN_HEALTH_STOPPED) {
        /* Nothing left to probe; the answer stands and stays fresh. */
        k->verdict.at_usec = warden_now();
        publish(k);
        return;
    }
    if (k->in_flight) {
        /* The last probe is still out (hung past its timeout): no second
         * one, but the verdict stays fresh and says so. */
        if (k->hung) {
            k->verdict.checks++;
            k->kind = WARDEN_FAILURE_HUNG;
            check_failed(k, "check still hung");
            publish(k);
        }
        return;
    }
    pthread_mutex_lock(&k->lock);
    k->job_deadline = warden_deadline_in(k->cfg.check_timeout);
    k->job_posted = true;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
    k->in_flight = true;
    k->hung = false;
    /* The probe ends itself at check_timeout, naming what it waited for
     * ("smtp: no greeting within 5s"); the hang timer is for a probe that
     * does not, so it fires a little later, not in a race with it. */
    warden_usec_t grace = k->cfg.check_timeout / 10;
    grace = grace < 100 * WARDEN_USEC_PER_MSEC   ? 100 * WARDEN_USEC_PER_MSEC
            : grace > 500 * WARDEN_USEC_PER_MSEC ? 500 * WARDEN_USEC_PER_MSEC
                                                 : grace;
    qb_loop_timer_add(k->loop, QB_LOOP_HIGH, (k->cfg.check_timeout + grace) * 1000, k,
                      on_hang_timer, &k->hang_timer);
}

static void schedule_tick(warden_keeper *k)
{
    qb_loop_timer_add(k->loop, QB_LOOP_MED, k->cfg.check_interval * 1000, k, on_tick,
                      &k->tick_timer);
}

int warden__keeper_new(qb_loop_t *loop, const struct warden_keeper_config *cfg,
                       const struct warden_keeper_ops *ops, warden_keeper **ret)
{
    warden_keeper *k = calloc(1, sizeof(*k));
    if (!k) {
        return -ENOMEM;
    }
    k->loop = loop;
    k->cfg = *cfg;
    k->ops = *ops;
    k->main_fd = -EBADF;
    k->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (k->efd < 0) {
        free(k);
        return negative_errno();
    }
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    struct warden_proc_stat st;
    if (warden__proc_stat(getpid(), &st) == 0) {
        k->self_start = st.starttime;
    }
    *ret = k;
    return 0;
}

int warden__keeper_start(warden_keeper *k)
{
    int r = -pthread_create(&k->thread, NULL, check_thread, k);
    if (r < 0) {
        return r;
    }
    k->thread_running = true;
    r = qb_loop_poll_add(k->loop, QB_LOOP_HIGH, k->efd, POLLIN, k, on_result);
    if (r < 0) {
        return r;
    }
    k->started = true;
    set_verdict(k, WARDEN_HEALTH_RUNNING, NULL);
    publish(k);
    schedule_tick(k);
    return 0;
}

int warden__keeper_reconfigure(warden_keeper *k, const struct warden_keeper_config *cfg)
{
    bool interval_changed = cfg->check_interval != k->cfg.check_interval;
    k->cfg = *cfg;
    k->verdict.check_interval_usec = cfg->check_interval;
    k->verdict.check_timeout_usec = cfg->check_timeout;
    if (interval_changed && k->started) {
        if (k->tick_timer) {
            qb_loop_timer_del(k->loop, k->tick_timer);
            k->tick_timer = 0;
        }
        schedule_tick(k);
    }
    publish(k);
    return 0;
}

/* ---- the main process ---------------------------------------------------- */

static int32_t on_main_exit(int32_t fd, int32_t revents, void *data)
{
    warden_keeper *k = data;
    qb_loop_poll_del(k->loop, fd);
    close(fd);
    k->main_fd = -EBADF;
    int newfd = -EBADF;
    int r = k->ops.main_exited ? k->ops.main_exited(k->ops.userdata, &newfd) : -ESRCH;
    if (r == 0) {
        qb_log(LOG_INFO, "main process %d was replaced; following the new one", (int)k->main_pid);
        return warden__keeper_watch_main(k, newfd, 0);
    }
    char buf[128];
    k->kind = WARDEN_FAILURE_CRASH;
    if (r == -ESRCH) {
        snprintf(buf, sizeof(buf), "service process %d exited", (int)k->main_pid);
        set_verdict(k, WARDEN_HEALTH_STOPPED, buf);
    } else {
        /* Other processes of the service live on: it is half there, not
         * cleanly stopped. "Failed" makes Pacemaker stop it (which ends
         * them) before it starts it again; no probe can undo that. */
        snprintf(buf, sizeof(buf),
                 "service process %d exited; other processes of the service remain",
                 (int)k->main_pid);
        k->sticky = true;
        set_verdict(k, WARDEN_HEALTH_FAILED, buf);
    }
    publish(k);
    return 0;
}

int warden__keeper_watch_main(warden_keeper *k, int pidfd, pid_t pid)
{
    if (k->main_fd >= 0) {
        qb_loop_poll_del(k->loop, k->main_fd);
        close(k->main_fd);
    }
    k->main_fd = pidfd;
    if (pid > 0) {
        k->main_pid = pid;
    }
    return qb_loop_poll_add(k->loop, QB_LOOP_HIGH, pidfd, POLLIN, k, on_main_exit);
}

/* ---- depends_on ---------------------------------------------------------- */

/* The identity of the process a pidfile names: pid + start time. */
static int pidfile_identity(const char *path, pid_t *ret_pid, uint64_t *ret_start)
{
    _cleanup_free_ char *text = NULL;
    int r = warden__read_file(path, 64, &text);
    if (r < 0) {
        return r;
    }
    long pid = strtol(text, NULL, 10);
    struct warden_proc_stat st;
    if (pid <= 0 || warden__proc_stat((pid_t)pid, &st) < 0 || st.state == 'Z') {
        return -ESRCH;
    }
    *ret_pid = (pid_t)pid;
    *ret_start = st.starttime;
    return 0;
}

int warden__keeper_watch_dependency(warden_keeper *k, const char *pidfile)
{
    free(k->dep_pidfile);
    k->dep_pidfile = NULL;
    k->dep_pid = 0;
    k->dep_start = 0;
    if (isempty(pidfile)) {
        return 0;
    }
    k->dep_pidfile = strdup(pidfile);
    if (!k->dep_pidfile) {
        return -ENOMEM;
    }
    /* A dependency not running yet is recorded when it first appears. */
    pidfile_identity(pidfile, &k->dep_pid, &k->dep_start);
    return 0;
}

static void dependency_check(warden_keeper *k)
{
    pid_t pid;
    uint64_t start;
    if (!k->dep_pidfile || pidfile_identity(k->dep_pidfile, &pid, &start) < 0) {
        return;
    }
    if (k->dep_pid == 0) {
        k->dep_pid = pid;
        k->dep_start = start;
        return;
    }
    if (pid == k->dep_pid && start == k->dep_start) {
        return;
    }
    char buf[sizeof(k->verdict.reason)];
    snprintf(buf, sizeof(buf), "dependency restarted: %s names pid %d, was %d", k->dep_pidfile,
             (int)pid, (int)k->dep_pid);
    k->dep_pid = pid;
    k->dep_start = start;
    /* What the service held of the old dependency is stale whatever its
     * probe says now: only a restart of the service renews it. */
    k->sticky = true;
    k->kind = WARDEN_FAILURE_DEPENDENCY;
    set_verdict(k, WARDEN_HEALTH_FAILED, buf);
}

/* ---- IPC ----------------------------------------------------------------- */

bool warden__ipc_client_allowed(uid_t uid, gid_t gid)
{
    if (uid == 0) {
        return true;
    }
    struct group grp, *g = NULL;
    char buf[4096];
    if (getgrnam_r("haclient", &grp, buf, sizeof(buf), &g) != 0 || !g) {
        return false;
    }
    if (gid == g->gr_gid) {
        return true;
    }
    /* libqb hands us the primary gid only; haclient may be supplementary. */
    struct passwd pw, *p = NULL;
    char pbuf[4096];
    if (getpwuid_r(uid, &pw, pbuf, sizeof(pbuf), &p) != 0 || !p) {
        return false;
    }
    for (char **m = g->gr_mem; m && *m; m++) {
        if (streq(*m, p->pw_name)) {
            return true;
        }
    }
    return false;
}

static warden_keeper *ipc_keeper; /* the one keeper a process serves */

/* Per connection: whether the client is root. Verdicts are for root and
 * haclient; a reload installs checks that run as root, so it is root's. */
#define CLIENT_ROOT  ((void *)2)
#define CLIENT_GROUP ((void *)1)

static int32_t ipc_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
    if (!warden__ipc_client_allowed(uid, gid)) {
        qb_log(LOG_NOTICE, "refused IPC client uid %d gid %d", (int)uid, (int)gid);
        return -EACCES;
    }
    qb_ipcs_context_set(c, uid == 0 ? CLIENT_ROOT : CLIENT_GROUP);
    return 0;
}

static int32_t ipc_dispatch(qb_ipcs_connection_t *c, void *data, size_t size)
{
    const struct qb_ipc_request_header *req = data;
    struct warden_ipc_response resp = {0};
    resp.hdr.id = req->id;
    resp.hdr.size = sizeof(resp);
    warden_keeper *k = ipc_keeper;
    if (size < sizeof(*req)) {
        resp.hdr.error = -EBADMSG;
    } else if (req->id == WARDEN_IPC_RELOAD && qb_ipcs_context_get(c) != CLIENT_ROOT) {
        qb_log(LOG_WARNING, "refused a reload from a client that is not root");
        resp.hdr.error = -EPERM;
    } else if (req->id == WARDEN_IPC_RELOAD && k->ops.reload) {
        size_t len = size > sizeof(*req) ? size - sizeof(*req) : 0;
        char *text = strndup((const char *)data + sizeof(*req), len);
        resp.hdr.error = text ? k->ops.reload(k->ops.userdata, text) : -ENOMEM;
        free(text);
    } else if (req->id != WARDEN_IPC_VERDICT) {
        resp.hdr.error = -EOPNOTSUPP;
    }
    resp.verdict = k->published;
    qb_ipcs_response_send(c, &resp, sizeof(resp));
    return 0;
}

static int32_t ipc_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
    return qb_loop_job_add(ipc_keeper->loop, p, data, fn);
}

static int32_t ipc_poll_add(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
                            qb_ipcs_dispatch_fn_t fn)
{
    return qb_loop_poll_add(ipc_keeper->loop, p, fd, events, data, fn);
}

static int32_t ipc_poll_mod(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
                            qb_ipcs_dispatch_fn_t fn)
{
    return qb_loop_poll_mod(ipc_keeper->loop, p, fd, events, data, fn);
}

static int32_t ipc_poll_del(int32_t fd)
{
    return qb_loop_poll_del(ipc_keeper->loop, fd);
}

int warden__keeper_serve(warden_keeper *k, const char *name)
{
    static struct qb_ipcs_service_handlers handlers = {
        .connection_accept = ipc_accept,
        .msg_process = ipc_dispatch,
    };
    static struct qb_ipcs_poll_handlers poll_handlers = {
        .job_add = ipc_job_add,
        .dispatch_add = ipc_poll_add,
        .dispatch_mod = ipc_poll_mod,
        .dispatch_del = ipc_poll_del,
    };
    ipc_keeper = k;
    /* Sockets, not shared memory: a monitor connects, asks once and goes,
     * and a socket connection is the cheaper one to set up. */
    k->ipcs = qb_ipcs_create(name, 0, QB_IPC_SOCKET, &handlers);
    if (!k->ipcs) {
        return -ENOMEM;
    }
    qb_ipcs_poll_handlers_set(k->ipcs, &poll_handlers);
    int r = qb_ipcs_run(k->ipcs);
    if (r < 0) {
        /* The name is taken (or the socket cannot be made): the keeper
         * goes on without IPC. qb_ipcs_run has freed the service itself
         * (destroying it again was a double free). */
        k->ipcs = NULL;
        ipc_keeper = NULL;
    }
    return r;
}

/* ---- teardown ------------------------------------------------------------ */

warden_keeper *warden__keeper_free(warden_keeper *k)
{
    if (!k) {
        return NULL;
    }
    if (k->ipcs) {
        qb_ipcs_destroy(k->ipcs);
        ipc_keeper = NULL;
    }
    if (k->tick_timer) {
        qb_loop_timer_del(k->loop, k->tick_timer);
    }
    if (k->hang_timer) {
        qb_loop_timer_del(k->loop, k->hang_timer);
    }
    if (k->main_fd >= 0) {
        qb_loop_poll_del(k->loop, k->main_fd);
        close(k->main_fd);
    }
    if (k->started) {
        qb_loop_poll_del(k->loop, k->efd);
    }
    bool abandoned = false;
    if (k->thread_running) {
        pthread_mutex_lock(&k->lock);
        k->quit = true;
        pthread_cond_signal(&k->cond);
        /* A probe still out past its deadline may never return: leave the
         * thread (and this keeper's memory) behind rather than hang here.
         * Only while the thread is inside the probe: a hung probe that has
         * since returned, its answer not yet read by the loop, is joined
         * (abandoning it left a thread and the keeper behind for nothing). */
        abandoned = k->probing && k->hung;
        pthread_mutex_unlock(&k->lock);
        if (abandoned) {
            pthread_detach(k->thread);
        } else {
            pthread_join(k->thread, NULL);
        }
    }
    if (abandoned) {
        return NULL;
    }
    free(k->result_reason);
    free(k->dep_pidfile);
    free(k->publish_dir);
    close(k->efd);
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->lock);
    free(k);
    return NULL;
}
