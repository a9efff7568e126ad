/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a recurring monitor answers a failure the keeper pushes
 * (lib/verdict.c, warden__verdict_await): it leaves the count to the push
 * and waits for the recovery to cancel it, on the state directory's events. */
#include "check_common.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "verdict-int.h"
#include "warden/probe.h"

#define MS  WARDEN_USEC_PER_MSEC
#define SEC WARDEN_USEC_PER_SEC

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check-verdict-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/verdict", dir);
    unlink(path);
    rmdir(dir);
}

static struct warden_verdict failed(enum warden_push push)
{
    struct warden_verdict v = {
        .health = WARDEN_HEALTH_STOPPED,
        .at_usec = warden_now(),
        .pushes = 1,
        .push = push,
        .check_interval_usec = 10 * SEC,
        .check_timeout_usec = 5 * SEC,
    };
    snprintf(v.reason, sizeof(v.reason), "service process 4711 exited");
    return v;
}

/* Publishes `next` (or removes the verdict when NULL) after ms, from a
 * child: the keeper's side. The child says how it went on a pipe, not in
 * its exit status: under valgrind a forked child's exit status is
 * valgrind's verdict on the memory it inherited. */
struct publisher {
    pid_t pid;
    int result_fd;
};

static struct publisher publish_later(long ms, const struct warden_verdict *next)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        char path[128];
        snprintf(path, sizeof(path), "%s/verdict", dir);
        bool ok = next ? warden__verdict_write(dir, next) == 0 : unlink(path) == 0;
        (void)!write(fds[1], ok ? "0" : "1", 1);
        _exit(0);
    }
    close(fds[1]);
    return (struct publisher){.pid = pid, .result_fd = fds[0]};
}

static void reap(struct publisher p)
{
    char c = 0;
    ck_assert_int_eq(read(p.result_fd, &c, 1), 1);
    close(p.result_fd);
    ck_assert_int_eq(waitpid(p.pid, NULL, 0), p.pid);
    ck_assert_int_eq(c, '0');
}

START_TEST(test_no_wait_without_push)
{
    /* Nothing pushed, or pushing failed, or healthy: answer at once. */
    enum warden_push states[] = {WARDEN_PUSH_NONE, WARDEN_PUSH_FAILED};
    for (size_t i = 0; i < 2; i++) {
        struct warden_verdict v = failed(states[i]);
        warden_usec_t start = warden_now();
        ck_assert_int_eq(warden__verdict_await(dir, &v, warden_deadline_in(5 * SEC)), 1);
        ck_assert_int_lt(check_ms_since(start), 100);
    }
    struct warden_verdict ok = failed(WARDEN_PUSH_DONE);
    ok.health = WARDEN_HEALTH_RUNNING;
    ck_assert_int_eq(warden__verdict_await(dir, &ok, warden_deadline_in(5 * SEC)), 1);
    /* No op timeout given (a manual run): no wait either. */
    struct warden_verdict v = failed(WARDEN_PUSH_DONE);
    ck_assert_int_eq(warden__verdict_await(dir, &v, 0), 1);
}
END_TEST

START_TEST(test_waits_until_deadline)
{
    /* The push is done and nobody cancels the monitor: it waits to its
     * deadline, then answers the failure (and the caller says it may count
     * twice). */
    struct warden_verdict v = failed(WARDEN_PUSH_DONE);
    ck_assert_int_eq(warden__verdict_write(dir, &v), 0);
    warden_usec_t start = warden_now();
    ck_assert_int_eq(warden__verdict_await(dir, &v, warden_deadline_in(400 * MS)), -ETIMEDOUT);
    long long took = check_ms_since(start);
    ck_assert_int_ge(took, 390);
    ck_assert_int_lt(took, 1000);
    ck_assert_int_eq(v.push, WARDEN_PUSH_DONE);
    ck_assert(warden__verdict_pushing(&v));
}
END_TEST

START_TEST(test_push_failed_ends_wait)
{
    /* pending -> failed: the monitor reports the failure at once, on the
     * event, long before its deadline. */
    struct warden_verdict v = failed(WARDEN_PUSH_PENDING);
    ck_assert_int_eq(warden__verdict_write(dir, &v), 0);
    struct warden_verdict next = v;
    next.push = WARDEN_PUSH_FAILED;
    struct publisher pub = publish_later(200, &next);
    warden_usec_t start = warden_now();
    ck_assert_int_eq(warden__verdict_await(dir, &v, warden_deadline_in(5 * SEC)), 0);
    long long took = check_ms_since(start);
    reap(pub);
    ck_assert_int_ge(took, 150);
    ck_assert_int_lt(took, 1500);
    ck_assert_int_eq(v.push, WARDEN_PUSH_FAILED);
    ck_assert(!warden__verdict_pushing(&v));
}
END_TEST

START_TEST(test_keeps_waiting_through_ticks)
{
    /* pending -> done, and the keeper's ticks republish the same failure:
     * still the push's to count; the wait goes on to the deadline. */
    struct warden_verdict v = failed(WARDEN_PUSH_PENDING);
    ck_assert_int_eq(warden__verdict_write(dir, &v), 0);
    struct warden_verdict next = v;
    next.push = WARDEN_PUSH_DONE;
    struct publisher pub = publish_later(100, &next);
    warden_usec_t start = warden_now();
    ck_assert_int_eq(warden__verdict_await(dir, &v, warden_deadline_in(600 * MS)), -ETIMEDOUT);
    reap(pub);
    ck_assert_int_ge(check_ms_since(start), 590);
    ck_assert_int_eq(v.push, WARDEN_PUSH_DONE);
}
END_TEST

START_TEST(test_stand_down_ends_wait)
{
    /* The keeper stood down (the verdict is gone): answer the failure read. */
    struct warden_verdict v = failed(WARDEN_PUSH_DONE);
    ck_assert_int_eq(warden__verdict_write(dir, &v), 0);
    struct publisher pub = publish_later(150, NULL);
    warden_usec_t start = warden_now();
    ck_assert_int_eq(warden__verdict_await(dir, &v, warden_deadline_in(5 * SEC)), 0);
    reap(pub);
    ck_assert_int_lt(check_ms_since(start), 1500);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_STOPPED);
}
END_TEST

START_TEST(test_new_failure_ends_wait)
{
    /* Another generation (a new failure, or a new keeper's verdict) is
     * answered from: the one waited on is over. */
    struct warden_verdict v = failed(WARDEN_PUSH_DONE);
    ck_assert_int_eq(warden__verdict_write(dir, &v), 0);
    struct warden_verdict next = v;
    next.pushes = 2;
    next.health = WARDEN_HEALTH_RUNNING;
    next.push = WARDEN_PUSH_NONE;
    struct publisher pub = publish_later(100, &next);
    ck_assert_int_eq(warden__verdict_await(dir, &v, warden_deadline_in(5 * SEC)), 0);
    reap(pub);
    ck_assert_int_eq(v.health, WARDEN_HEALTH_RUNNING);
}
END_TEST

START_TEST(test_answer_degraded)
{
    /* Degraded answers 1 (WARDEN_PROBE_DEGRADED, monitor's 190) with its
     * reason; it is not a failure being pushed, so no monitor waits. */
    struct warden_verdict v = failed(WARDEN_PUSH_NONE);
    v.health = WARDEN_HEALTH_DEGRADED;
    snprintf(v.reason, sizeof(v.reason), "imap: median check 850ms over the last 20");
    char *reason = NULL;
    ck_assert_int_eq(warden__verdict_answer(&v, warden_now(), &reason), WARDEN_PROBE_DEGRADED);
    ck_assert_str_eq(reason, "imap: median check 850ms over the last 20");
    free(reason);
    v.push = WARDEN_PUSH_DONE;
    ck_assert(!warden__verdict_pushing(&v));
    ck_assert_int_eq(warden__verdict_await(dir, &v, warden_deadline_in(5 * SEC)), 1);
    /* Stale is stale, degraded or not. */
    reason = NULL;
    ck_assert_int_eq(warden__verdict_answer(&v, v.at_usec + 60 * SEC, &reason), -ETIMEDOUT);
    free(reason);
}
END_TEST

START_TEST(test_percentiles)
{
    uint64_t v[WARDEN_HISTORY_MAX];
    for (size_t i = 0; i < 100; i++) {
        v[i] = 100 - i; /* 100 .. 1, unsorted on purpose */
    }
    ck_assert_uint_eq(warden__latency_percentile(v, 0, 50), 0);
    ck_assert_uint_eq(warden__latency_percentile(v, 1, 50), 100);
    ck_assert_uint_eq(warden__latency_percentile(v, 1, 99), 100);
    /* 100 values 1..100: the median is the mean of 50 and 51 (rounded
     * down), p99 the 99th. */
    ck_assert_uint_eq(warden__latency_percentile(v, 100, 50), 50);
    ck_assert_uint_eq(warden__latency_percentile(v, 100, 99), 99);
    ck_assert_uint_eq(v[0], 100); /* left as it was */
    /* Odd count: the middle value. 100, 99, 98 -> 99; p99 of 3: the top. */
    ck_assert_uint_eq(warden__latency_percentile(v, 3, 50), 99);
    ck_assert_uint_eq(warden__latency_percentile(v, 3, 99), 100);
    /* Even: 20 and 30 -> 25; huge values do not overflow. */
    uint64_t w[] = {30, 20};
    ck_assert_uint_eq(warden__latency_percentile(w, 2, 50), 25);
    uint64_t big[] = {UINT64_MAX, UINT64_MAX - 2};
    ck_assert_uint_eq(warden__latency_percentile(big, 2, 50), UINT64_MAX - 1);
}
END_TEST

/* Raw bytes as <dir>/<name>. */
static void write_raw(const char *name, const void *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, size), (ssize_t)size);
    close(fd);
}

START_TEST(test_verdict_sizes)
{
    /* Ours reads back whole; a 0.1 keeper's (ending at reason) reads with
     * the newer fields zero; any other size is refused. */
    struct warden_verdict v = failed(WARDEN_PUSH_NONE), r;
    v.last_check_usec = 1234;
    snprintf(v.last_failure_reason, sizeof(v.last_failure_reason), "boom");
    ck_assert_int_eq(warden__verdict_write(dir, &v), 0);
    ck_assert_int_eq(warden__verdict_read(dir, &r), 0);
    ck_assert_uint_eq(r.last_check_usec, 1234);
    ck_assert_str_eq(r.last_failure_reason, "boom");

    unsigned char buf[8 + sizeof(v) + 16] = {0};
    uint32_t magic = 0x77617264u, size = (uint32_t)(8 + WARDEN_VERDICT_SIZE_0_1);
    memcpy(buf, &magic, 4);
    memcpy(buf + 4, &size, 4);
    memcpy(buf + 8, &v, WARDEN_VERDICT_SIZE_0_1);
    write_raw("verdict", buf, size);
    memset(&r, 0xff, sizeof(r));
    ck_assert_int_eq(warden__verdict_read(dir, &r), 0);
    ck_assert_str_eq(r.reason, "service process 4711 exited");
    ck_assert_uint_eq(r.last_check_usec, 0);
    ck_assert_str_eq(r.last_failure_reason, "");
    /* Sizes that are neither: refused. */
    size = (uint32_t)(8 + sizeof(v) + 8);
    memcpy(buf + 4, &size, 4);
    write_raw("verdict", buf, size);
    ck_assert_int_eq(warden__verdict_read(dir, &r), -EBADMSG);
    size = (uint32_t)(8 + WARDEN_VERDICT_SIZE_0_1 - 8);
    memcpy(buf + 4, &size, 4);
    write_raw("verdict", buf, size);
    ck_assert_int_eq(warden__verdict_read(dir, &r), -EBADMSG);
    /* A size field that does not match the bytes: refused. */
    size = (uint32_t)(8 + sizeof(v));
    memcpy(buf + 4, &size, 4);
    write_raw("verdict", buf, 8 + WARDEN_VERDICT_SIZE_0_1);
    ck_assert_int_eq(warden__verdict_read(dir, &r), -EBADMSG);
}
END_TEST

START_TEST(test_history_file)
{
    static struct warden_history h, r;
    memset(&h, 0, sizeof(h));
    snprintf(h.resource, sizeof(h.resource), "web");
    h.count = 2;
    h.records[1].result = -ETIMEDOUT;
    memset(h.records[1].reason, 'x', sizeof(h.records[1].reason)); /* unterminated */
    ck_assert_int_eq(warden__history_write(dir, &h), 0);
    ck_assert_int_eq(warden__history_read(dir, &r), 0);
    ck_assert_uint_eq(r.count, 2);
    ck_assert_int_eq(r.records[1].result, -ETIMEDOUT);
    ck_assert_uint_eq(strlen(r.records[1].reason), sizeof(r.records[1].reason) - 1);

    /* The file as written, then spoiled one field at a time. */
    char path[128];
    snprintf(path, sizeof(path), "%s/history", dir);
    size_t size = 16 + sizeof(h);
    unsigned char *good = malloc(size + 1), *bad = malloc(size + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(read(fd, good, size + 1), (ssize_t)size);
    close(fd);
    size_t fields[] = {0, 4, 8, 12}; /* magic, version, size, record size */
    for (size_t i = 0; i < 4; i++) {
        memcpy(bad, good, size);
        bad[fields[i]] ^= 0x40;
        write_raw("history", bad, size);
        ck_assert_int_eq(warden__history_read(dir, &r), -EBADMSG);
    }
    /* More records than the bound. */
    memcpy(bad, good, size);
    uint32_t count = WARDEN_HISTORY_MAX + 1;
    memcpy(bad + 16 + offsetof(struct warden_history, count), &count, 4);
    write_raw("history", bad, size);
    ck_assert_int_eq(warden__history_read(dir, &r), -EBADMSG);
    /* Short, and long. */
    write_raw("history", good, size - 1);
    ck_assert_int_eq(warden__history_read(dir, &r), -EBADMSG);
    memcpy(bad, good, size);
    bad[size] = 0;
    write_raw("history", bad, size + 1);
    ck_assert_int_eq(warden__history_read(dir, &r), -EBADMSG);
    free(good);
    free(bad);
    unlink(path);
}
END_TEST

START_TEST(test_deadline_from_op_timeout)
{
    /* The op timeout less max(1 s, 10%); none (or too short): no wait. */
    warden_usec_t now = warden_now();
    warden_usec_t d = warden__verdict_await_deadline("20000");
    ck_assert_uint_ge(d, now + 18 * SEC);
    ck_assert_uint_le(d, warden_now() + 18 * SEC);
    d = warden__verdict_await_deadline("5000");
    ck_assert_uint_ge(d, now + 4 * SEC);
    ck_assert_uint_le(d, warden_now() + 4 * SEC);
    ck_assert_uint_eq(warden__verdict_await_deadline(NULL), 0);
    ck_assert_uint_eq(warden__verdict_await_deadline("1000"), 0);
    ck_assert_uint_eq(warden__verdict_await_deadline(""), 0);
}
END_TEST

static void add_fixture_tcase(Suite *s, const TTest *t, int timeout)
{
    TCase *tc = tcase_create(t->name);
    tcase_add_checked_fixture(tc, check_setup, check_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, t);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
}

int main(void)
{
    Suite *s = suite_create("verdict");
    add_fixture_tcase(s, test_no_wait_without_push, 10);
    add_fixture_tcase(s, test_answer_degraded, 10);
    add_fixture_tcase(s, test_percentiles, 10);
    add_fixture_tcase(s, test_verdict_sizes, 10);
    add_fixture_tcase(s, test_history_file, 10);
    add_fixture_tcase(s, test_waits_until_deadline, 10);
    add_fixture_tcase(s, test_push_failed_ends_wait, 10);
    add_fixture_tcase(s, test_keeps_waiting_through_ticks, 10);
    add_fixture_tcase(s, test_stand_down_ends_wait, 10);
    add_fixture_tcase(s, test_new_failure_ends_wait, 10);
    add_fixture_tcase(s, test_deadline_from_op_timeout, 10);
    return check_run("check_verdict", s);
}
