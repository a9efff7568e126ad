/* The keeper's loop with scripted probes: healthy, failing, flapping around
 * the threshold, slow, hung forever; the cached answer and the stall guard;
 * a crash seen through the main process's pidfd; a restarted dependency;
 * the IPC server refusing an unprivileged client. */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <qb/qbloop.h>
#include <stdatomic.h>

#include "check_common.h"
#include "keeper-int.h"
#include "monitor-int.h"

#define MS            (WARDEN_USEC_PER_MSEC)
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a scripted probe ------------------------------------------------------ */

enum step { OK, FAIL, SLOW, HANG };

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

static int ask(qb_loop_t *loop, const char *instance, bool as_nobody)
{
    int status = -1;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (as_nobody) {
            struct passwd *pw = getpwnam("nobody");
            if (!pw || setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
                _exit(10);
            }
        }
        struct warden_verdict v;
        int r = warden__monitor_ask(instance, &v);
        if (as_nobody) {
            _exit(r < 0 ? 0 : 11);
        }
        _exit(r == 0 && v.health == WARDEN_HEALTH_RUNNING ? 0 : 12);
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
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
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
    warden_keeper *k = keeper_with(&s, 1000 * MS, 100 * MS, 1);
    char instance[64], *name = NULL;
    snprintf(instance, sizeof(instance), "check-keeper-%d", (int)getpid());
    ck_assert_int_eq(warden__keeper_ipc_name(instance, &name), 0);
    ck_assert_int_eq(warden__keeper_serve(k, name), 0);
    free(name);
    check_log_expect_errors(); /* libqb logs the refused connection */
    ck_assert_int_eq(ask(s.loop, instance, false), 0);
    ck_assert_int_eq(ask(s.loop, instance, true), 0);
    ck_assert(warden__ipc_client_allowed(0, 0));
    struct passwd *pw = getpwnam("nobody");
    ck_assert(!warden__ipc_client_allowed(pw->pw_uid, pw->pw_gid));
    keeper_done(k, &s);
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
    add_tcase(s, test_hung_forever, 10);
    add_tcase(s, test_reconfigure_interval, 10);
    add_tcase(s, test_cached_answer, 10);
    add_tcase(s, test_stall_guard, 10);
    add_tcase(s, test_crash_known_at_once, 10);
    add_tcase(s, test_dependency_restarted, 10);
    add_tcase(s, test_ipc_root_only, 20);
    return check_run("check_keeper", s);
}
