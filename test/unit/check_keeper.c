/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keeper's loop with scripted probes: healthy, failing, flapping around
 * the threshold, slow, hung forever; the cached answer and the stall guard;
 * a crash seen through the main process's pidfd; a restarted dependency;
 * the IPC server refusing an unprivileged client. */
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <pwd.h>
#include <qb/qbloop.h>
#include <stdatomic.h>

#include "check_common.h"
#include "keeper-int.h"
#include "proc-int.h"
#include "warden/probe.h"

#define MS            (WARDEN_USEC_PER_MSEC)
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a scripted probe ------------------------------------------------------ */

enum step { OK, FAIL, SLOW, HANG, NO_DNS, DEGRADED };

struct script {
    const enum step *steps;
    size_t n; /* the last step repeats */
    atomic_int calls;
    int hang_fd;        /* HANG blocks reading this until the test writes */
    warden_usec_t slow; /* how long SLOW takes */
    int pushes;
    char last_push[256];
    qb_loop_t *loop;
};

static int scripted_probe(void *userdata, warden_usec_t deadline, char **ret_reason)
{
    struct script *s = userdata;
    int i = atomic_fetch_add(&s->calls, 1);
    enum step step = s->steps[(size_t)i < s->n ? (size_t)i : s->n - 1];
    switch (step) {
    case OK:
        return 0;
    case SLOW:
        usleep((useconds_t)s->slow);
        return 0;
    case HANG: {
        /* Ignores its deadline, as a truly hung probe would. */
        char c;
        (void)!read(s->hang_fd, &c, 1);
        return 0;
    }
    case DEGRADED:
        *ret_reason = strdup("certificate expires in 3 days");
        return WARDEN_PROBE_DEGRADED;
    case NO_DNS:
        *ret_reason = strdup("smtp: cannot resolve mail.example.org within 2s");
        return -WARDEN_PROBE_ERESOLVE;
    case FAIL:
    default:
        *ret_reason = strdup("scripted failure");
        return -EIO;
    }
}

static void count_push(void *userdata, const struct warden_verdict *v, enum warden_failure kind,
                       bool notify)
{
    struct script *s = userdata;
    if (!notify) {
        return;
    }
    s->pushes++;
    snprintf(s->last_push, sizeof(s->last_push), "%s", v->reason);
}

static void stop_loop(void *data)
{
    qb_loop_stop(data);
}

/* Run the loop for ms milliseconds. */
static void run_for(qb_loop_t *loop, long ms)
{
    qb_loop_timer_handle h;
    qb_loop_timer_add(loop, QB_LOOP_LOW, (uint64_t)ms * 1000000, loop, stop_loop, &h);
    qb_loop_run(loop);
}

static warden_usec_t slow_threshold; /* for keeper_with; 0: off */

static warden_keeper *keeper_with(struct script *s, warden_usec_t interval, warden_usec_t timeout,
                                  int threshold)
{
    s->loop = qb_loop_create();
    ck_assert_ptr_nonnull(s->loop);
    struct warden_keeper_config cfg = {
        .check_interval = interval,
        .check_timeout = timeout,
        .failure_threshold = threshold,
        .notify_cluster = true,
        .slow_threshold = slow_threshold,
    };
    struct warden_keeper_ops ops = {.probe = scripted_probe, .push = count_push, .userdata = s};
    warden_keeper *k = NULL;
    ck_assert_int_eq(warden__keeper_new(s->loop, &cfg, &ops, &k), 0);
    ck_assert_int_eq(warden__keeper_start(k), 0);
    return k;
}

static void keeper_done(warden_keeper *k, struct script *s)
{
    warden__keeper_free(k);
    qb_loop_destroy(s->loop);
}

/* ---- the loop ----------------------------------------------------------- */

START_TEST(test_healthy)
{
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    warden_keeper *k = keeper_with(&s, 20 * MS, 100 * MS, 1);
    run_for(s.loop, 250);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    ck_assert_uint_ge(v.checks, 5);
    ck_assert_uint_eq(v.failures, 0);
    ck_assert_int_eq(s.pushes, 0);
    /* The verdict is fresh: at most about one interval old. */
    ck_assert_uint_lt(warden_now() - v.at_usec, 100 * MS);
    keeper_done(k, &s);
}
END_TEST

START_TEST(test_failing_pushes_once)
{
    static const enum step steps[] = {FAIL};
    struct script s = {.steps = steps, .n = 1};
    warden_keeper *k = keeper_with(&s, 20 * MS, 100 * MS, 1);
    run_for(s.loop, 250);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_FAILED);
    ck_assert_str_eq(v.reason, "scripted failure");
    ck_assert_uint_ge(v.consecutive, 5);
    /* Once per failure episode, however many checks fail. */
    ck_assert_int_eq(s.pushes, 1);
    ck_assert_uint_eq(v.pushes, 1);
    ck_assert_str_eq(s.last_push, "scripted failure");
    keeper_done(k, &s);
}
END_TEST

START_TEST(test_flapping_below_threshold)
{
    /* Two failures in a row, then a success, over and over: with a threshold
     * of 3 the service never counts as failed. */
    static const enum step steps[] = {FAIL, FAIL, OK, FAIL, FAIL, OK, FAIL, FAIL, OK, OK};
    struct script s = {.steps = steps, .n = ELEMENTSOF(steps)};
    warden_keeper *k = keeper_with(&s, 15 * MS, 100 * MS, 3);
    run_for(s.loop, 600);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_ge(atomic_load(&s.calls), 10);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    ck_assert_uint_eq(v.failures, 6);
    ck_assert_int_eq(s.pushes, 0);
    keeper_done(k, &s);
}
END_TEST

START_TEST(test_threshold_reached)
{
    /* The third failure in a row makes the failure; a success ends the
     * episode, and the next failure run is pushed again. */
    static const enum step steps[] = {FAIL, FAIL, FAIL, FAIL, OK, FAIL, FAIL, FAIL, OK};
    struct script s = {.steps = steps, .n = ELEMENTSOF(steps)};
    warden_keeper *k = keeper_with(&s, 15 * MS, 100 * MS, 3);
    run_for(s.loop, 600);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(s.pushes, 2);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    keeper_done(k, &s);
}
END_TEST

START_TEST(test_degraded_is_alive)
{
    /* A degraded answer is alive with a warning: it ends a run of failed
     * checks below the threshold, is neither counted nor pushed, and the
     * verdict says why; a clean answer clears it. */
    static const enum step steps[] = {FAIL, DEGRADED, FAIL, DEGRADED, DEGRADED, OK};
    struct script s = {.steps = steps, .n = 4};
    warden_keeper *k = keeper_with(&s, 15 * MS, 100 * MS, 2);
    run_for(s.loop, 300);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_ge(atomic_load(&s.calls), 6);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_DEGRADED);
    ck_assert_str_eq(v.reason, "certificate expires in 3 days");
    ck_assert_uint_eq(v.failures, 2);
    ck_assert_uint_eq(v.consecutive, 0);
    ck_assert_int_eq(s.pushes, 0);
    ck_assert_uint_eq(v.pushes, 0);
    keeper_done(k, &s);

    static const enum step clears[] = {DEGRADED, DEGRADED, OK};
    struct script c = {.steps = clears, .n = 3};
    k = keeper_with(&c, 15 * MS, 100 * MS, 1);
    run_for(c.loop, 200);
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    ck_assert_str_eq(v.reason, "");
    keeper_done(k, &c);
}
END_TEST

START_TEST(test_history_bounded)
{
    /* More than WARDEN_HISTORY_MAX checks: the newest 100 are kept, oldest
     * first, and the published file reads back the same, at its one size. */
    static const enum step steps[] = {OK, FAIL, OK};
    struct script s = {.steps = steps, .n = ELEMENTSOF(steps)};
    char dir[] = "/tmp/check-history-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    warden_keeper *k = keeper_with(&s, 2 * MS, 100 * MS, 3);
    struct warden_history who = {.resource = "web", .agent = "warden:daemon", .check = "process"};
    warden__keeper_identify(k, &who);
    ck_assert_int_eq(warden__keeper_publish(k, dir), 0);
    while (atomic_load(&s.calls) < WARDEN_HISTORY_MAX + 20) {
        run_for(s.loop, 50);
    }
    run_for(s.loop, 10);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_uint_gt(v.checks, WARDEN_HISTORY_MAX);
    static struct warden_history h, f;
    warden__keeper_history(k, &h);
    ck_assert_uint_eq(h.count, WARDEN_HISTORY_MAX);
    for (size_t i = 1; i < h.count; i++) {
        ck_assert_uint_le(h.records[i - 1].at, h.records[i].at);
    }
    ck_assert_int_eq(h.records[h.count - 1].result, v.last_result);
    ck_assert_uint_eq(h.records[h.count - 1].at, v.last_check_at);
    /* The script's one failure, the second check, has left the ring; it
     * still counts in the last hour and is the last failure. */
    for (size_t i = 0; i < h.count; i++) {
        ck_assert_int_eq(h.records[i].result, 0);
    }
    ck_assert_uint_eq(v.failures_last_hour, 1);
    ck_assert_str_eq(v.last_failure_reason, "scripted failure");
    ck_assert_uint_gt(v.last_failure_at, 1700000000ull * WARDEN_USEC_PER_SEC);
    ck_assert_uint_le(v.check_p50_usec, v.check_p99_usec);
    ck_assert_str_eq(h.resource, "web");
    /* The published file: the same records. */
    run_for(s.loop, 10);
    warden__keeper_history(k, &h);
    ck_assert_int_eq(warden__history_read(dir, &f), 0);
    ck_assert_uint_eq(f.count, WARDEN_HISTORY_MAX);
    ck_assert_str_eq(f.agent, "warden:daemon");
    char path[64];
    snprintf(path, sizeof(path), "%s/history", dir);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_lt(st.st_size, 32 * 1024);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    keeper_done(k, &s);
    static const char *const files[] = {"history", "verdict"};
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}
END_TEST

START_TEST(test_slow_threshold)
{
    /* Checks slower than slow_threshold: degraded once 5 are in, with the
     * median and the window in the reason; nothing pushed or counted; fast
     * checks bring the median back and clear it. */
    enum step steps[40];
    for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
        steps[i] = i < 12 ? SLOW : OK;
    }
    struct script s = {.steps = steps, .n = ELEMENTSOF(steps), .slow = 30 * MS};
    slow_threshold = 10 * MS;
    warden_keeper *k = keeper_with(&s, 5 * MS, 200 * MS, 1);
    slow_threshold = 0;
    struct warden_history who = {.check = "imap:127.0.0.1:143"};
    warden__keeper_identify(k, &who);
    struct warden_verdict v;
    while (atomic_load(&s.calls) < 4) {
        run_for(s.loop, 20);
    }
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING); /* fewer than 5: no judgement */
    while (atomic_load(&s.calls) < 8) {
        run_for(s.loop, 20);
    }
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_DEGRADED);
    ck_assert_msg(strncmp(v.reason, "imap: median check 30ms over the last ", 38) == 0, "%s",
                  v.reason);
    ck_assert_msg(strstr(v.reason, ", threshold 10ms"), "%s", v.reason);
    ck_assert_uint_eq(v.failures, 0);
    ck_assert_int_eq(s.pushes, 0);
    ck_assert_uint_ge(v.check_p50_usec, 30 * MS);
    while (atomic_load(&s.calls) < 36) {
        run_for(s.loop, 20);
    }
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    ck_assert_str_eq(v.reason, "");
    keeper_done(k, &s);
}
END_TEST

START_TEST(test_slow_inside_timeout)
{
    static const enum step steps[] = {SLOW};
    struct script s = {.steps = steps, .n = 1, .slow = 40 * MS};
    warden_keeper *k = keeper_with(&s, 30 * MS, 150 * MS, 1);
    run_for(s.loop, 400);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    ck_assert_uint_ge(v.checks, 3);
    ck_assert_uint_eq(v.failures, 0);
    keeper_done(k, &s);
}
END_TEST

START_TEST(test_hung_forever)
{
    static const enum step steps[] = {HANG, OK};
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    struct script s = {.steps = steps, .n = ELEMENTSOF(steps), .hang_fd = fds[0]};
    warden_keeper *k = keeper_with(&s, 20 * MS, 50 * MS, 1);

    /* The first probe hangs: just past check_timeout (the probe's own end,
     * plus a grace) it counts as failed, the keeper keeps serving fresh
     * verdicts, and never runs a second probe while the first is out. */
    run_for(s.loop, 400);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_FAILED);
    ck_assert_msg(strstr(v.reason, "did not answer within 50ms") || strstr(v.reason, "still hung"),
                  "reason: %s", v.reason);
    ck_assert_int_eq(atomic_load(&s.calls), 1);
    ck_assert_int_eq(s.pushes, 1);
    ck_assert_uint_ge(v.consecutive, 3);
    ck_assert_uint_lt(warden_now() - v.at_usec, 100 * MS);

    /* Released, the probe returns; its late answer is ignored, and the next
     * probe (OK) ends the episode. */
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    run_for(s.loop, 200);
    warden__keeper_verdict(k, &v);
    ck_assert_int_ge(atomic_load(&s.calls), 2);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    keeper_done(k, &s);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(test_reconfigure_interval)
{
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    warden_keeper *k = keeper_with(&s, 1000 * MS, 100 * MS, 1);
    run_for(s.loop, 150);
    ck_assert_int_eq(atomic_load(&s.calls), 0);
    struct warden_keeper_config cfg = {
        .check_interval = 20 * MS, .check_timeout = 100 * MS, .failure_threshold = 1};
    ck_assert_int_eq(warden__keeper_reconfigure(k, &cfg), 0);
    run_for(s.loop, 200);
    ck_assert_int_ge(atomic_load(&s.calls), 4);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_uint_eq(v.check_interval_usec, 20 * MS);
    keeper_done(k, &s);
}
END_TEST

/* ---- the answer a monitor gives ---------------------------------------------- */

START_TEST(test_cached_answer)
{
    warden_usec_t now = warden_now();
    struct warden_verdict v = {.health = WARDEN_HEALTH_RUNNING,
                               .at_usec = now - 5 * WARDEN_USEC_PER_SEC,
                               .check_interval_usec = 10 * WARDEN_USEC_PER_SEC,
                               .check_timeout_usec = 5 * WARDEN_USEC_PER_SEC};
    char *reason = NULL;
    ck_assert_int_eq(warden__verdict_answer(&v, now, &reason), 0);
    ck_assert_ptr_null(reason);

    v.health = WARDEN_HEALTH_FAILED;
    snprintf(v.reason, sizeof(v.reason), "exec x: exit status 3");
    ck_assert_int_eq(warden__verdict_answer(&v, now, &reason), -EIO);
    ck_assert_str_eq(reason, "exec x: exit status 3");
    free(reason);

    v.health = WARDEN_HEALTH_STOPPED;
    ck_assert_int_eq(warden__verdict_answer(&v, now, &reason), -ESRCH);
    free(reason);
}
END_TEST

START_TEST(test_stall_guard)
{
    /* A verdict older than check_interval + check_timeout + the margin means
     * the keeper itself is stuck: the monitor must not trust it. */
    warden_usec_t now = warden_now() + 60 * WARDEN_USEC_PER_SEC;
    warden_usec_t limit =
        10 * WARDEN_USEC_PER_SEC + 5 * WARDEN_USEC_PER_SEC + WARDEN_VERDICT_MARGIN;
    struct warden_verdict v = {.health = WARDEN_HEALTH_RUNNING,
                               .check_interval_usec = 10 * WARDEN_USEC_PER_SEC,
                               .check_timeout_usec = 5 * WARDEN_USEC_PER_SEC};
    char *reason = NULL;
    v.at_usec = now - limit + WARDEN_USEC_PER_SEC;
    ck_assert_int_eq(warden__verdict_answer(&v, now, &reason), 0);
    v.at_usec = now - limit - WARDEN_USEC_PER_SEC;
    ck_assert_int_eq(warden__verdict_answer(&v, now, &reason), -ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(reason, "health monitor stalled"));
    free(reason);
}
END_TEST

/* ---- the main process and a dependency ------------------------------------------ */

static pid_t spawn_sleeper(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "60", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int gone(void *userdata, int *ret_pidfd)
{
    return -ESRCH;
}

START_TEST(test_crash_known_at_once)
{
    CHECK_REQUIRE_PIDFD();
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    /* An interval far longer than the test: only the pidfd can tell. */
    s.loop = qb_loop_create();
    struct warden_keeper_config cfg = {.check_interval = 60 * WARDEN_USEC_PER_SEC,
                                       .check_timeout = 5 * WARDEN_USEC_PER_SEC,
                                       .failure_threshold = 1,
                                       .notify_cluster = true};
    struct warden_keeper_ops ops = {
        .probe = scripted_probe, .push = count_push, .main_exited = gone, .userdata = &s};
    warden_keeper *k = NULL;
    ck_assert_int_eq(warden__keeper_new(s.loop, &cfg, &ops, &k), 0);
    ck_assert_int_eq(warden__keeper_start(k), 0);
    pid_t pid = spawn_sleeper();
    int fd = pidfd_open(pid, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(warden__keeper_watch_main(k, fd, pid), 0);
    run_for(s.loop, 50);
    kill(pid, SIGKILL);
    warden_usec_t t0 = warden_now();
    run_for(s.loop, 300);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_STOPPED);
    ck_assert_ptr_nonnull(strstr(v.reason, "exited"));
    ck_assert_int_eq(s.pushes, 1);
    /* Known at once: well before the 60 s interval (and the test's end). */
    ck_assert_uint_lt(v.at_usec - t0, 250 * MS);
    waitpid(pid, NULL, 0);
    keeper_done(k, &s);
}
END_TEST

START_TEST(test_dependency_restarted)
{
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    warden_keeper *k = keeper_with(&s, 20 * MS, 100 * MS, 1);
    char path[] = "/tmp/check-keeper-dep.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    pid_t a = spawn_sleeper();
    dprintf(fd, "%d\n", (int)a);
    close(fd);
    ck_assert_int_eq(warden__keeper_watch_dependency(k, path), 0);
    run_for(s.loop, 100);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);

    /* The dependency restarts under the service: a new process in the
     * pidfile. */
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    pid_t b = spawn_sleeper();
    FILE *f = fopen(path, "we");
    fprintf(f, "%d\n", (int)b);
    fclose(f);
    run_for(s.loop, 100);
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_FAILED);
    ck_assert_ptr_nonnull(strstr(v.reason, "dependency restarted"));
    ck_assert_int_eq(s.pushes, 1);
    kill(b, SIGKILL);
    waitpid(b, NULL, 0);
    unlink(path);
    keeper_done(k, &s);
}
END_TEST

/* ---- IPC --------------------------------------------------------------------- */

/* The keeper's loop must run while the child asks: the child is watched
 * from the loop through its pidfd. */
static int32_t child_done(int32_t fd, int32_t revents, void *data)
{
    qb_loop_stop(data);
    return 0;
}

/* A state directory whose keeper record names pid (with its start time),
 * as the keeper writes it. */
static void record_keeper(char *dir, pid_t pid)
{
    strcpy(dir, "/tmp/check-keeper-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/keeper", dir);
    struct warden_proc_stat st;
    ck_assert_int_eq(warden__proc_stat(pid, &st), 0);
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%d %llu\n", (int)pid, (unsigned long long)st.starttime);
    fclose(f);
}

static void remove_state(const char *dir)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/keeper", dir);
    unlink(path);
    rmdir(dir);
}

enum client { AS_ROOT, AS_NOBODY, AS_HACLIENT };

/* In a child (as who): ask for the verdict, or send a reload when text is
 * given. Exits with -(the result). */
static int ask_as(qb_loop_t *loop, const char *state_dir, const char *instance, enum client who,
                  const char *reload_text)
{
    int status = -1;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (who != AS_ROOT) {
            struct passwd *pw = getpwnam("nobody");
            struct group *g = who == AS_HACLIENT ? getgrnam("haclient") : NULL;
            gid_t gid = g ? g->gr_gid : pw ? pw->pw_gid : 0;
            if (!pw || (who == AS_HACLIENT && !g) || setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
                setuid(pw->pw_uid) < 0) {
                _exit(100);
            }
        }
        struct warden_verdict v;
        warden_usec_t deadline = warden_deadline_in(2 * WARDEN_USEC_PER_SEC);
        int r = reload_text ? warden__monitor_reload(state_dir, instance, reload_text, deadline)
                            : warden__monitor_ask(state_dir, instance, deadline, &v);
        if (r == 0 && !reload_text && v.health != WARDEN_HEALTH_RUNNING) {
            _exit(101);
        }
        _exit(-r);
    }
    int fd = pidfd_open(pid, 0);
    ck_assert_int_ge(fd, 0);
    qb_loop_poll_add(loop, QB_LOOP_LOW, fd, POLLIN, loop, child_done);
    qb_loop_timer_handle h;
    qb_loop_timer_add(loop, QB_LOOP_LOW, 5000000000ULL, loop, stop_loop, &h);
    qb_loop_run(loop);
    qb_loop_timer_del(loop, h);
    qb_loop_poll_del(loop, fd);
    close(fd);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? -WEXITSTATUS(status) : -1000;
}

static int reloads;
static int count_reload(void *userdata, const char *text)
{
    reloads++;
    return 0;
}

/* This process serves an instance's keeper IPC, as the keeper would. */
static warden_keeper *serving_keeper(struct script *s, char *instance, size_t size)
{
    warden_keeper *k = keeper_with(s, 1000 * MS, 500 * MS, 1);
    char *name = NULL;
    snprintf(instance, size, "check-keeper-%d", (int)getpid());
    ck_assert_int_eq(warden__keeper_ipc_name(instance, &name), 0);
    ck_assert_int_eq(warden__keeper_serve(k, name), 0);
    free(name);
    return k;
}

START_TEST(test_ipc_root_only)
{
    CHECK_REQUIRE_PIDFD();
    if (geteuid() != 0) {
        fprintf(stderr, "SKIP %s: needs root to switch to nobody\n", __func__);
        return;
    }
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    char instance[64], dir[64];
    warden_keeper *k = serving_keeper(&s, instance, sizeof(instance));
    record_keeper(dir, getpid());
    ck_assert_int_eq(chmod(dir, 0755), 0); /* see test_ipc_reload_root_only */
    check_log_expect_errors();             /* libqb logs the refused connection */
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_ROOT, NULL), 0);
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_NOBODY, NULL), -EACCES);
    ck_assert(warden__ipc_client_allowed(0, 0));
    struct passwd *pw = getpwnam("nobody");
    ck_assert(!warden__ipc_client_allowed(pw->pw_uid, pw->pw_gid));
    remove_state(dir);
    keeper_done(k, &s);
}
END_TEST

/* Review M1: haclient may read verdicts, but a reload (which installs
 * checks that run as root) is root's alone. */
START_TEST(test_ipc_reload_root_only)
{
    CHECK_REQUIRE_PIDFD();
    if (geteuid() != 0 || !getgrnam("haclient")) {
        fprintf(stderr, "SKIP %s: needs root and the haclient group\n", __func__);
        return;
    }
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    char instance[64], dir[64];
    warden_keeper *k = keeper_with(&s, 1000 * MS, 500 * MS, 1);
    warden__keeper_free(k);
    qb_loop_destroy(s.loop);
    /* Again, with a reload handler. */
    s.loop = qb_loop_create();
    struct warden_keeper_config cfg = {
        .check_interval = 1000 * MS, .check_timeout = 500 * MS, .failure_threshold = 1};
    struct warden_keeper_ops ops = {
        .probe = scripted_probe, .reload = count_reload, .userdata = &s};
    ck_assert_int_eq(warden__keeper_new(s.loop, &cfg, &ops, &k), 0);
    ck_assert_int_eq(warden__keeper_start(k), 0);
    char *name = NULL;
    snprintf(instance, sizeof(instance), "check-keeper-%d", (int)getpid());
    ck_assert_int_eq(warden__keeper_ipc_name(instance, &name), 0);
    ck_assert_int_eq(warden__keeper_serve(k, name), 0);
    free(name);
    record_keeper(dir, getpid());
    /* Clients that are not root cannot read a real state directory, so
     * they cannot prove the keeper; here they may, to reach the server's
     * own rule. */
    ck_assert_int_eq(chmod(dir, 0755), 0);
    check_log_expect_errors(); /* the keeper logs the refused reload */
    reloads = 0;
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_HACLIENT, NULL), 0);
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_HACLIENT, "check_interval=1s\n"), -EPERM);
    ck_assert_int_eq(reloads, 0);
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_ROOT, "check_interval=1s\n"), 0);
    ck_assert_int_eq(reloads, 1);
    remove_state(dir);
    keeper_done(k, &s);
}
END_TEST

/* Review H1: whoever binds the instance's name is not believed. Without a
 * keeper record nothing is asked at all; with one, a server that is not the
 * recorded process is refused before any request is sent. */
START_TEST(test_ipc_impostor_refused)
{
    CHECK_REQUIRE_PIDFD();
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    char instance[64], dir[64];
    warden_keeper *k = serving_keeper(&s, instance, sizeof(instance));
    /* No record: no keeper, whatever serves the name. */
    strcpy(dir, "/tmp/check-keeper-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_ROOT, NULL), -ENOTCONN);
    rmdir(dir);
    /* A record naming another live process (our parent stands in for the
     * real keeper): the server here is an impostor. */
    record_keeper(dir, getppid());
    check_log_expect_errors(); /* the client logs the impostor */
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_ROOT, NULL), -EADDRINUSE);
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_ROOT, "check=exec:/bin/true\n"), -EADDRINUSE);
    remove_state(dir);
    /* A record of a process that is gone (start time of another). */
    record_keeper(dir, getpid());
    char path[128];
    snprintf(path, sizeof(path), "%s/keeper", dir);
    FILE *f = fopen(path, "we");
    fprintf(f, "%d 1\n", (int)getpid());
    fclose(f);
    ck_assert_int_eq(ask_as(s.loop, dir, instance, AS_ROOT, NULL), -ENOTCONN);
    remove_state(dir);
    keeper_done(k, &s);
}
END_TEST

static int survivors_remain(void *userdata, int *ret_pidfd)
{
    return -EIO;
}

/* The main process exits while other processes of the service live on: the
 * service is failed (Pacemaker stops it before a restart), not cleanly
 * stopped, and a probe the survivors still pass does not undo that. */
START_TEST(test_crash_with_survivors_is_failed)
{
    CHECK_REQUIRE_PIDFD();
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    s.loop = qb_loop_create();
    struct warden_keeper_config cfg = {.check_interval = 20 * MS,
                                       .check_timeout = 100 * MS,
                                       .failure_threshold = 1,
                                       .notify_cluster = true};
    struct warden_keeper_ops ops = {.probe = scripted_probe,
                                    .push = count_push,
                                    .main_exited = survivors_remain,
                                    .userdata = &s};
    warden_keeper *k = NULL;
    ck_assert_int_eq(warden__keeper_new(s.loop, &cfg, &ops, &k), 0);
    ck_assert_int_eq(warden__keeper_start(k), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        _exit(0);
    }
    int fd = pidfd_open(child, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(warden__keeper_watch_main(k, fd, child), 0);
    run_for(s.loop, 200); /* the exit, then several passing checks */
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_FAILED);
    ck_assert_ptr_nonnull(strstr(v.reason, "other processes of the service remain"));
    ck_assert_int_eq(s.pushes, 1);
    keeper_done(k, &s);
}
END_TEST

/* A verdict held while a failure is dumped stays what it was, but fresh:
 * the keeper is not stuck (a monitor that took it for stuck replaced the
 * keeper mid-dump and reported the failure without the dump, in CI). */
START_TEST(test_held_verdict_stays_fresh)
{
    static const enum step steps[] = {OK};
    struct script s = {.steps = steps, .n = 1};
    warden_keeper *k = keeper_with(&s, 50 * MS, 20 * MS, 1);
    char dir[] = "/tmp/check-keeper-held-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(warden__keeper_publish(k, dir), 0);
    run_for(s.loop, 100);
    warden__keeper_hold(k, true);
    run_for(s.loop, 300); /* past interval + timeout, several ticks */
    struct warden_verdict v;
    ck_assert_int_eq(warden__verdict_read(dir, &v), 0);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    ck_assert_uint_lt(warden_now() - v.at_usec, 70 * MS);
    warden__keeper_hold(k, false);
    keeper_done(k, &s);
    char path[64];
    snprintf(path, sizeof(path), "%s/verdict", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Review M4: a check that cannot resolve its host did not reach the
 * service; a DNS outage must not fail (and fail over) every resource whose
 * check names a host. Not counted, not pushed. */
START_TEST(test_unresolvable_not_counted)
{
    static const enum step steps[] = {NO_DNS};
    struct script s = {.steps = steps, .n = 1};
    warden_keeper *k = keeper_with(&s, 20 * MS, 100 * MS, 1);
    check_log_expect_errors(); /* warned about at every check */
    run_for(s.loop, 200);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_int_ge(s.calls, 3);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
    ck_assert_int_eq(s.pushes, 0);
    ck_assert_uint_lt(warden_now() - v.at_usec, 100 * MS); /* still fresh */
    keeper_done(k, &s);
}
END_TEST

/* A probe that overran its timeout but has returned since (its answer not
 * yet read by the loop) is joined when the keeper is freed: abandoning it
 * left a thread and the keeper's memory behind (check_keeper's
 * test_ipc_root_only once counted 2 threads against 1 in CI). */
START_TEST(test_returned_hung_probe_joined)
{
    static const enum step steps[] = {SLOW};
    struct script s = {.steps = steps, .n = 1, .slow = 300 * MS};
    warden_keeper *k = keeper_with(&s, 20 * MS, 50 * MS, 1);
    /* The first tick posts the probe; the hang timer marks it hung. */
    run_for(s.loop, 250);
    struct warden_verdict v;
    warden__keeper_verdict(k, &v);
    ck_assert_ptr_nonnull(strstr(v.reason, "hung"));
    /* The probe returns while the loop does not run. */
    usleep(200 * 1000);
    int threads = check_count_threads();
    keeper_done(k, &s);
    /* Joined at once, not left to exit some time later. */
    ck_assert_int_eq(check_count_threads(), threads - 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keeper");
    add_tcase(s, test_healthy, 10);
    add_tcase(s, test_failing_pushes_once, 10);
    add_tcase(s, test_flapping_below_threshold, 10);
    add_tcase(s, test_threshold_reached, 10);
    add_tcase(s, test_slow_inside_timeout, 10);
    add_tcase(s, test_degraded_is_alive, 10);
    add_tcase(s, test_history_bounded, 20);
    add_tcase(s, test_slow_threshold, 20);
    add_tcase(s, test_hung_forever, 10);
    add_tcase(s, test_reconfigure_interval, 10);
    add_tcase(s, test_cached_answer, 10);
    add_tcase(s, test_stall_guard, 10);
    add_tcase(s, test_crash_known_at_once, 10);
    add_tcase(s, test_dependency_restarted, 10);
    add_tcase(s, test_ipc_root_only, 20);
    add_tcase(s, test_ipc_reload_root_only, 20);
    add_tcase(s, test_ipc_impostor_refused, 20);
    add_tcase(s, test_returned_hung_probe_joined, 10);
    add_tcase(s, test_unresolvable_not_counted, 10);
    add_tcase(s, test_held_verdict_stays_fresh, 10);
    add_tcase(s, test_crash_with_survivors_is_failed, 10);
    return check_run("check_keeper", s);
}
