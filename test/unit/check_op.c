/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wrapper (lib/op.c): an operation runs in a worker thread; the caller
 * gets its result, or -ETIMEDOUT at the deadline however long the operation
 * goes on. An abandoned worker must still finish cleanly: each test that
 * abandons one lets it finish and waits until its thread is gone, so that the
 * leak checks (and valgrind) see everything released. */
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <time.h>

#include "check_common.h"

#include "warden/op.h"

#define MS WARDEN_USEC_PER_MSEC

/* How late the wrapper may answer after its deadline: a thread wake-up and
 * a poll() rounding, with plenty of room for a loaded machine or valgrind. */
#define SLACK_MS 250

struct op_state {
    warden_usec_t sleep_until; /* the operation returns at this point */
    int pipe_fd;               /* or, when >= 0, once a byte can be read from it */
    int result;                /* what it returns */
    warden_usec_t seen_deadline;
    void *seen_self;
    atomic_bool finished;
};

static void sleep_until(warden_usec_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / WARDEN_USEC_PER_SEC),
                          .tv_nsec = (long)(t % WARDEN_USEC_PER_SEC) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static int op(void *userdata, warden_usec_t deadline)
{
    struct op_state *s = userdata;
    s->seen_deadline = deadline;
    s->seen_self = s;
    if (s->pipe_fd >= 0) {
        char c;
        while (read(s->pipe_fd, &c, 1) < 0 && errno == EINTR) {
        }
    } else if (s->sleep_until) {
        sleep_until(s->sleep_until);
    }
    atomic_store(&s->finished, true);
    return s->result;
}

/* Wait for a worker: first for the operation to return, then for its thread
 * to exit. Even a worker that finished in time outlives warden_op_run() for
 * a moment (it is detached, and drops its reference to the slot, closing the
 * eventfd, after waking the caller), so every test waits here before the
 * teardown counts threads and fds. A detached thread gives no event to wait
 * on, so this looks at /proc/self/task every few milliseconds, within a
 * bound. */
static void wait_worker_gone(struct op_state *s, int threads_before)
{
    warden_usec_t limit = warden_deadline_in(5 * WARDEN_USEC_PER_SEC);
    while (!atomic_load(&s->finished) || check_count_threads() > threads_before) {
        ck_assert_msg(warden_now() < limit, "the abandoned worker did not finish");
        poll(NULL, 0, 2);
    }
}

START_TEST(test_fast_op)
{
    /* The operation's own return value, error or not, is the result; the
     * wrapper's return only says whether it finished. It gets the userdata
     * and the deadline it was given. */
    int threads = check_count_threads();
    struct op_state s = {.pipe_fd = -1, .result = 42};
    warden_usec_t deadline = warden_deadline_in(5 * WARDEN_USEC_PER_SEC);
    int result = 0;
    ck_assert_int_eq(warden_op_run(op, &s, deadline, &result), 0);
    ck_assert_int_eq(result, 42);
    ck_assert_ptr_eq(s.seen_self, &s);
    ck_assert_uint_eq(s.seen_deadline, deadline);

    s.result = -EIO;
    ck_assert_int_eq(warden_op_run(op, &s, deadline, &result), 0);
    ck_assert_int_eq(result, -EIO);

    /* No deadline at all. */
    s.result = 7;
    ck_assert_int_eq(warden_op_run(op, &s, WARDEN_USEC_INFINITY, &result), 0);
    ck_assert_int_eq(result, 7);
    wait_worker_gone(&s, threads);
}
END_TEST

START_TEST(test_slow_op_just_in_time)
{
    /* An operation that uses all but the last 150 ms of its time still
     * counts: the wrapper waits for it, not for a fixed slice. */
    int threads = check_count_threads();
    warden_usec_t start = warden_now();
    warden_usec_t deadline = start + 600 * MS;
    struct op_state s = {.pipe_fd = -1, .result = 3, .sleep_until = deadline - 150 * MS};
    int result = 0;
    ck_assert_int_eq(warden_op_run(op, &s, deadline, &result), 0);
    ck_assert_int_eq(result, 3);
    ck_assert(atomic_load(&s.finished));
    long long ms = check_ms_since(start);
    ck_assert_int_ge(ms, 450);
    ck_assert_int_lt(ms, 600);
    wait_worker_gone(&s, threads);
}
END_TEST

START_TEST(test_slow_op_past_deadline)
{
    /* The operation runs for 1.5 s; the wrapper answers at its 200 ms
     * deadline, not when the operation is done, and does not touch the
     * result. */
    int threads = check_count_threads();
    warden_usec_t start = warden_now();
    struct op_state s = {.pipe_fd = -1, .result = 1, .sleep_until = start + 1500 * MS};
    int result = 12345;
    ck_assert_int_eq(warden_op_run(op, &s, start + 200 * MS, &result), -ETIMEDOUT);
    long long ms = check_ms_since(start);
    ck_assert_int_ge(ms, 200);
    ck_assert_int_lt(ms, 200 + SLACK_MS);
    ck_assert(!atomic_load(&s.finished));
    ck_assert_int_eq(result, 12345);
    wait_worker_gone(&s, threads);
}
END_TEST

START_TEST(test_hung_op)
{
    /* An operation blocked on a read that would never return by itself: the
     * wrapper gives up at the deadline. The test then unblocks it; the
     * worker must finish and release the shared slot (the eventfd among
     * it, which the fd check in the teardown would see). */
    int threads = check_count_threads();
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    struct op_state s = {.pipe_fd = fds[0], .result = 0};
    warden_usec_t start = warden_now();
    int result = 12345;
    ck_assert_int_eq(warden_op_run(op, &s, start + 200 * MS, &result), -ETIMEDOUT);
    long long ms = check_ms_since(start);
    ck_assert_int_ge(ms, 200);
    ck_assert_int_lt(ms, 200 + SLACK_MS);
    ck_assert_int_eq(result, 12345);
    /* Still hung, still a thread of ours. */
    ck_assert(!atomic_load(&s.finished));
    ck_assert_int_eq(check_count_threads(), threads + 1);

    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    wait_worker_gone(&s, threads);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(test_deadline_already_passed)
{
    /* A deadline in the past is answered at once with -ETIMEDOUT for an
     * operation that has not finished, rather than waiting for it. */
    int threads = check_count_threads();
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    struct op_state s = {.pipe_fd = fds[0]};
    warden_usec_t start = warden_now();
    int result = 0;
    ck_assert_int_eq(warden_op_run(op, &s, start - 1, &result), -ETIMEDOUT);
    ck_assert_int_lt(check_ms_since(start), SLACK_MS);
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    wait_worker_gone(&s, threads);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("op");
    add_tcase(s, test_fast_op, 10);
    add_tcase(s, test_slow_op_just_in_time, 10);
    add_tcase(s, test_slow_op_past_deadline, 10);
    add_tcase(s, test_hung_op, 10);
    add_tcase(s, test_deadline_already_passed, 10);
    return check_run("check_op", s);
}
