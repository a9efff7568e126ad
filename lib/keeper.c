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

    /* The history (loop thread): the newest checks in a ring, who they are
     * of, and the failures of the last hour in one bucket per minute (the
     * ring covers less than an hour at the default interval). */
    struct warden_history who; /* identity only; records built at publish */
    struct warden_check_record ring[WARDEN_HISTORY_MAX];
    size_t ring_next, ring_count;
    bool history_dirty;
    uint32_t fail_count[60];
    uint64_t fail_minute[60];
    warden_usec_t job_started; /* when the check in flight was posted */
    warden_usec_t result_latency;
};

/* ---- the history --------------------------------------------------------- */

static uint64_t realtime_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * WARDEN_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* A failure for "failures in the last hour" and "the last failure". */
static void note_failure(warden_keeper *k, const char *reason)
{
    uint64_t now = realtime_usec();
    uint64_t minute = now / (60 * WARDEN_USEC_PER_SEC);
    size_t b = minute % 60;
    if (k->fail_minute[b] != minute) {
        k->fail_minute[b] = minute;
        k->fail_count[b] = 0;
    }
    k->fail_count[b]++;
    k->verdict.last_failure_at = now;
    snprintf(k->verdict.last_failure_reason, sizeof(k->verdict.last_failure_reason), "%s",
             reason ? reason : "");
}

static uint32_t failures_last_hour(const warden_keeper *k)
{
    uint64_t minute = realtime_usec() / (60 * WARDEN_USEC_PER_SEC);
    uint32_t n = 0;
    for (size_t b = 0; b < 60; b++) {
        /* The current minute and the 59 before it. */
        if (k->fail_count[b] && k->fail_minute[b] + 60 > minute) {
            n += k->fail_count[b];
        }
    }
    return n;
}

/* The newest n latencies (at most WARDEN_HISTORY_MAX) into out; returns how
 * many. */
static size_t newest_latencies(const warden_keeper *k, size_t n, uint64_t *out)
{
    n = n < k->ring_count ? n : k->ring_count;
    for (size_t i = 0; i < n; i++) {
        size_t at = (k->ring_next + WARDEN_HISTORY_MAX - 1 - i) % WARDEN_HISTORY_MAX;
        out[i] = k->ring[at].latency;
    }
    return n;
}

static void record_check(warden_keeper *k, int result, warden_usec_t latency, const char *reason)
{
    struct warden_check_record *rec = &k->ring[k->ring_next];
    *rec =
        (struct warden_check_record){.at = realtime_usec(), .latency = latency, .result = result};
    /* Cut to fit: the history is bounded, the verdict has the whole reason. */
    if (reason) {
        size_t len = strnlen(reason, sizeof(rec->reason) - 1);
        memcpy(rec->reason, reason, len);
        rec->reason[len] = '\0';
    }
    k->ring_next = (k->ring_next + 1) % WARDEN_HISTORY_MAX;
    if (k->ring_count < WARDEN_HISTORY_MAX) {
        k->ring_count++;
    }
    k->verdict.last_check_usec = latency;
    k->verdict.last_check_at = rec->at;
    k->verdict.last_result = result;
    uint64_t all[WARDEN_HISTORY_MAX];
    size_t n = newest_latencies(k, WARDEN_HISTORY_MAX, all);
    k->verdict.check_p50_usec = warden__latency_percentile(all, n, 50);
    k->verdict.check_p99_usec = warden__latency_percentile(all, n, 99);
    k->history_dirty = true;
}

/* Append text to the string in buf, cut to fit. */
static void append_cut(char *buf, size_t size, const char *text)
{
    size_t have = strnlen(buf, size - 1);
    size_t add = strnlen(text, size - 1 - have);
    memcpy(buf + have, text, add);
    buf[have + add] = '\0';
}

/* slow_threshold: the reason the service is slow, in buf, or false. */
static bool too_slow(const warden_keeper *k, const char *proto, char *buf, size_t size)
{
    uint64_t window[WARDEN_SLOW_WINDOW];
    size_t n = newest_latencies(k, WARDEN_SLOW_WINDOW, window);
    if (k->cfg.slow_threshold == 0 || n < WARDEN_SLOW_WINDOW_MIN) {
        return false;
    }
    uint64_t median = warden__latency_percentile(window, n, 50);
    if (median <= k->cfg.slow_threshold) {
        return false;
    }
    /* Named as the probe's own reasons are: "imap: ...". */
    size_t plen = proto ? strcspn(proto, ":") : 0;
    char m[32], t[32];
    snprintf(buf, size, "%.*s%smedian check %s over the last %zu, threshold %s",
             (int)(plen < 16 ? plen : 16), plen ? proto : "", plen ? ": " : "",
             warden_time_format(median, m, sizeof(m)), n,
             warden_time_format(k->cfg.slow_threshold, t, sizeof(t)));
    return true;
}

void warden__keeper_identify(warden_keeper *k, const struct warden_history *who)
{
    memcpy(k->who.resource, who->resource, sizeof(k->who.resource));
    memcpy(k->who.agent, who->agent, sizeof(k->who.agent));
    memcpy(k->who.agent_path, who->agent_path, sizeof(k->who.agent_path));
    memcpy(k->who.check, who->check, sizeof(k->who.check));
    memcpy(k->who.dump_dir, who->dump_dir, sizeof(k->who.dump_dir));
    k->who.slow_threshold_usec = who->slow_threshold_usec;
    k->history_dirty = true;
}

void warden__keeper_history(const warden_keeper *k, struct warden_history *ret)
{
    memcpy(ret, &k->who, offsetof(struct warden_history, records));
    ret->count = (uint32_t)k->ring_count;
    size_t first = (k->ring_next + WARDEN_HISTORY_MAX - k->ring_count) % WARDEN_HISTORY_MAX;
    for (size_t i = 0; i < k->ring_count; i++) {
        ret->records[i] = k->ring[(first + i) % WARDEN_HISTORY_MAX];
    }
}

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
        k->verdict.failures_last_hour = failures_last_hour(k);
        k->published = k->verdict;
    }
    if (k->publish_dir) {
        int r = warden__verdict_write(k->publish_dir, &k->published);
        if (r < 0) {
            qb_log(LOG_WARNING, "cannot publish the verdict in %s: %s", k->publish_dir,
                   strerror(-r));
        }
    }
    if (k->publish_dir && k->history_dirty) {
        /* Static: 18 KiB; the loop thread is the only one here. */
        static struct warden_history h;
        warden__keeper_history(k, &h);
        int r = warden__history_write(k->publish_dir, &h);
        if (r < 0) {
            qb_log(LOG_WARNING, "cannot publish the check history in %s: %s", k->publish_dir,
                   strerror(-r));
        }
        k->history_dirty = r < 0;
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
    bool healthy = health == WARDEN_HEALTH_RUNNING || health == WARDEN_HEALTH_DEGRADED;
    if (healthy) {
        k->in_episode = false;
        k->note[0] = '\0';
        v->push = WARDEN_PUSH_NONE;
    }
    snprintf(v->reason, sizeof(v->reason), "%s%s%s", k->note, k->note[0] && reason ? "; " : "",
             reason ? reason : "");
    if (!healthy && k->status[0]) {
        size_t len = strlen(v->reason);
        snprintf(v->reason + len, sizeof(v->reason) - len, "%sstatus: '%s'", len ? "; " : "",
                 k->status);
    }
    if (!healthy && !k->in_episode) {
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
    note_failure(k, reason);
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

/* A check that passed, or passed with a warning (degraded: the probe said
 * WARDEN_PROBE_DEGRADED, with why). Either ends a run of failed checks;
 * neither is counted or pushed. */
static void check_passed(warden_keeper *k, const char *degraded)
{
    if (k->verdict.health == WARDEN_HEALTH_STOPPED || k->sticky) {
        /* Still refresh the time: the keeper is alive, the answer stands. */
        k->verdict.at_usec = warden_now();
        return;
    }
    if (k->verdict.health == WARDEN_HEALTH_FAILED) {
        qb_log(LOG_NOTICE, "healthy again after %u failed checks", k->verdict.consecutive);
    }
    /* Slow is degraded too; a probe's own warning comes first. */
    char slow[sizeof(k->verdict.reason)], both[sizeof(k->verdict.reason)];
    if (too_slow(k, k->who.check[0] ? k->who.check : NULL, slow, sizeof(slow))) {
        if (degraded) {
            /* Cut to fit, as every reason. */
            both[0] = '\0';
            append_cut(both, sizeof(both), degraded);
            append_cut(both, sizeof(both), "; ");
            append_cut(both, sizeof(both), slow);
            degraded = both;
        } else {
            degraded = slow;
        }
    }
    bool was_degraded = k->verdict.health == WARDEN_HEALTH_DEGRADED;
    if (degraded && (!was_degraded || strcmp(k->verdict.reason, degraded) != 0)) {
        qb_log(LOG_WARNING, "degraded: %s", degraded);
    } else if (!degraded && was_degraded) {
        qb_log(LOG_NOTICE, "no longer degraded");
    }
    k->verdict.consecutive = 0;
    set_verdict(k, degraded ? WARDEN_HEALTH_DEGRADED : WARDEN_HEALTH_RUNNING, degraded);
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
        warden_usec_t began = warden_now();
        int r = k->ops.probe(k->ops.userdata, deadline, &reason);
        warden_usec_t took = warden_now() - began;

        pthread_mutex_lock(&k->lock);
        k->probing = false;
        k->result_latency = took;
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
    record_check(k, -ETIMEDOUT, warden_now() - k->job_started, buf);
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
    warden_usec_t latency = k->result_latency;
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
        if (r == -ETIMEDOUT) {
            char buf[sizeof(k->verdict.reason)];
            snprintf(buf, sizeof(buf), "hung: %s", reason ? reason : "no answer");
            record_check(k, r, latency, buf);
        } else {
            record_check(k, r, latency, r < 0 && !reason ? strerror(-r) : reason);
        }
        if (r == 0 || r == WARDEN_PROBE_DEGRADED) {
            check_passed(k, r == WARDEN_PROBE_DEGRADED ? (!isempty(reason) ? reason : "degraded")
                                                       : NULL);
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
            record_check(k, -ETIMEDOUT, warden_now() - k->job_started, "check still hung");
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
    k->job_started = warden_now();
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
        note_failure(k, buf);
        set_verdict(k, WARDEN_HEALTH_STOPPED, buf);
    } else {
        /* Other processes of the service live on: it is half there, not
         * cleanly stopped. "Failed" makes Pacemaker stop it (which ends
         * them) before it starts it again; no probe can undo that. */
        snprintf(buf, sizeof(buf),
                 "service process %d exited; other processes of the service remain",
                 (int)k->main_pid);
        k->sticky = true;
        note_failure(k, buf);
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
    note_failure(k, buf);
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
