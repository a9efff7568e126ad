/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every unit test shares: one test case per test with its own timeout,
 * a guard that fails a test when the library logs an error the test did not
 * expect, and checks that a test left no fd, thread or child process behind.
 * (After libqb's tests/check_common.h.)
 *
 * Each test file is one translation unit, so everything here is static. */
#pragma once

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <qb/qblog.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "warden/time.h"

/* ---- what a test may leak ------------------------------------------------ */

/* Entries of a /proc directory, without "." and "..". */
static inline int check_count_entries(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_msg(d, "opendir(%s): %s", path, strerror(errno));
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Open fds, not counting the one opendir() holds while it counts. */
static inline int check_count_fds(void)
{
    return check_count_entries("/proc/self/fd") - 1;
}

static inline int check_count_threads(void)
{
    return check_count_entries("/proc/self/task");
}

/* The first live child of ours found in /proc, or 0. */
static inline pid_t check_find_child(void)
{
    DIR *d = opendir("/proc");
    if (!d) {
        return 0;
    }
    pid_t found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) {
            continue;
        }
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f) {
            continue;
        }
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        int ppid = 0;
        char state = 0;
        if (p && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && ppid == getpid() && state != 'Z') {
            found = (pid_t)atoi(de->d_name);
        }
    }
    closedir(d);
    return found;
}

/* Reap every child that has exited (the library's holders are children of
 * the test process, and exit once their service is gone), then fail if any
 * is still running. A child left running is killed first, so that it does
 * not confuse the tests that follow. */
static inline void check_assert_no_children(void)
{
    for (;;) {
        pid_t pid = waitpid(-1, NULL, WNOHANG);
        if (pid > 0 || (pid < 0 && errno == EINTR)) {
            continue;
        }
        if (pid < 0) {
            ck_assert_msg(errno == ECHILD, "waitpid: %s", strerror(errno));
            return;
        }
        pid_t left = check_find_child();
        if (left > 0) {
            kill(left, SIGKILL);
            waitpid(left, NULL, 0);
        }
        ck_abort_msg("child process %d was left running", (int)left);
    }
}

/* ---- preconditions --------------------------------------------------------- */

/* A test whose precondition is absent here says why and passes; with
 * WARDEN_NO_SKIP=1 (scripts/test.sh, so CI) it fails instead, as the agent
 * and cluster tests do. The caller returns right after. */
static inline void check_skip(const char *test, const char *why)
{
    const char *no_skip = getenv("WARDEN_NO_SKIP");
    if (no_skip && strcmp(no_skip, "1") == 0) {
        ck_abort_msg("%s cannot run, and WARDEN_NO_SKIP=1 forbids skipping: %s", test, why);
    }
    fprintf(stderr, "SKIP %s: %s\n", test, why);
}

/* The library tracks processes by pidfd (Linux 5.3+). Valgrind 3.19, the one
 * in Debian 12, does not know pidfd_open() and fails it with ENOSYS, so the
 * tests that need it are skipped under valgrind; they run natively and under
 * ASan. This is the test tool's gap, known and permanent on Debian 12, so it
 * skips even with WARDEN_NO_SKIP=1. */
static inline bool check_have_pidfd(void)
{
    int fd = pidfd_open(getpid(), 0);
    if (fd < 0) {
        return errno != ENOSYS;
    }
    close(fd);
    return true;
}

#define CHECK_REQUIRE_PIDFD()                                                                      \
    do {                                                                                           \
        if (!check_have_pidfd()) {                                                                 \
            fprintf(stderr,                                                                        \
                    "SKIP %s: pidfd_open() is not available here (ENOSYS; valgrind "               \
                    "3.19 does not implement it)\n",                                               \
                    __func__);                                                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* ---- time ------------------------------------------------------------------ */

static inline long long check_ms_since(warden_usec_t start)
{
    return (long long)((warden_now() - start) / WARDEN_USEC_PER_MSEC);
}

/* ---- the log guard ----------------------------------------------------------- */

/* The library returns codes and lets its caller log; an error it logs on its
 * own is a surprise, and a test that did not ask for one fails. The handler
 * may run on a worker thread, where Check's assertions must not be used, so
 * it only records; the teardown asserts. */
static pthread_mutex_t check_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int check_log_errors;
static bool check_log_expected;
static char check_log_first[512];

static void check_log_fn(int32_t target, struct qb_log_callsite *cs, struct timespec *timestamp,
                         const char *msg)
{
    if (cs->priority > LOG_ERR) {
        return;
    }
    pthread_mutex_lock(&check_log_lock);
    if (check_log_errors++ == 0) {
        snprintf(check_log_first, sizeof(check_log_first), "%s:%u: %s", cs->filename,
                 (unsigned)cs->lineno, msg);
    }
    pthread_mutex_unlock(&check_log_lock);
}

/* A test that provokes an error log says so first. */
static inline void check_log_expect_errors(void)
{
    pthread_mutex_lock(&check_log_lock);
    check_log_expected = true;
    pthread_mutex_unlock(&check_log_lock);
}

/* How many errors were logged since the test began. */
static inline int check_log_error_count(void)
{
    pthread_mutex_lock(&check_log_lock);
    int n = check_log_errors;
    pthread_mutex_unlock(&check_log_lock);
    return n;
}

static inline void check_log_open(const char *name)
{
    qb_log_init(name, LOG_USER, LOG_INFO);
    qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
    /* Warnings on stderr end up in the test log, where they help. */
    qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_WARNING);
    qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
    int32_t t = qb_log_custom_open(check_log_fn, NULL, NULL, NULL);
    if (t < 0) {
        /* Outside a test: Check's assertions cannot report yet. */
        fprintf(stderr, "qb_log_custom_open: %s\n", strerror(-t));
        abort();
    }
    qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_ERR);
    qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE);
}

/* ---- fixture and runner ---------------------------------------------------- */

/* A file may set this to undo what a failed test left (a process tree, a
 * cgroup, the environment); it runs before the leak checks. */
static void (*check_cleanup_hook)(void);

static int check_base_fds;
static int check_base_threads;

static void check_setup(void)
{
    pthread_mutex_lock(&check_log_lock);
    check_log_errors = 0;
    check_log_expected = false;
    check_log_first[0] = '\0';
    pthread_mutex_unlock(&check_log_lock);
    check_base_fds = check_count_fds();
    check_base_threads = check_count_threads();
}

static void check_teardown(void)
{
    if (check_cleanup_hook) {
        check_cleanup_hook();
    }
    pthread_mutex_lock(&check_log_lock);
    int errors = check_log_errors;
    bool expected = check_log_expected;
    char first[sizeof(check_log_first)];
    memcpy(first, check_log_first, sizeof(first));
    pthread_mutex_unlock(&check_log_lock);
    ck_assert_msg(expected || errors == 0, "%d unexpected error log(s), first: %s", errors, first);
    ck_assert_int_eq(check_count_fds(), check_base_fds);
    ck_assert_int_eq(check_count_threads(), check_base_threads);
    check_assert_no_children();
}

/* One test case per test, so each has its own timeout and fixture. Check's
 * START_TEST names a `const TTest *`, not a TFun, hence the type. */
static inline void add_tcase(Suite *s, const TTest *fn, int timeout_s)
{
    TCase *tc = tcase_create(fn->name);
    tcase_add_checked_fixture(tc, check_setup, check_teardown);
    tcase_add_test(tc, fn);
    tcase_set_timeout(tc, timeout_s);
    suite_add_tcase(s, tc);
}

/* main() of every test program. */
static inline int check_run(const char *name, Suite *s)
{
    check_log_open(name);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    qb_log_fini();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
