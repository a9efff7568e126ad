/* Health probes (lib/probe.c): parsing the `check` parameter, and each kind
 * run against something real on this machine: a socket the test listens on,
 * a command, a process. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "check_common.h"

#include "warden/probe.h"

#define MS WARDEN_USEC_PER_MSEC

/* How late a probe may answer after its deadline (fork, exec and kill of a
 * command; room for a loaded machine or valgrind). */
#define SLACK_MS 200

START_TEST(test_parse_accepts)
{
    static const char *const good[] = {
        "process",
        "tcp:127.0.0.1:80",
        "tcp:[::1]:25",
        "tcp:localhost:65535",
        "tcp:h:1",
        "exec:/bin/true",
        "exec:check 'a b'",
        "exec:/usr/bin/test -e /x",
        "tcp:[fe80::1%lo]:8080",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        warden_probe *p = NULL;
        int r = warden_probe_new(good[i], &p);
        ck_assert_msg(r == 0, "'%s': %s", good[i], strerror(-r));
        ck_assert_str_eq(warden_probe_spec(p), good[i]);
        ck_assert_ptr_null(warden_probe_free(p));
        ck_assert_int_eq(warden_probe_check_spec(good[i]), 0);
    }
    ck_assert_ptr_null(warden_probe_free(NULL));
}
END_TEST

START_TEST(test_parse_rejects)
{
    static const char *const bad[] = {
        "",          "bogus",     "tcp:host", "tcp:h:0",     "tcp:h:70000", "tcp:h:",
        "tcp::80",   "tcp:h:80x", "tcp:h:-1", "tcp:[::1]25", "tcp:[::1:25", "tcp:[]:25",
        "processes", "process:1", "exec:",    "exec:   ",    "exec:'x",     " process",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        warden_probe *p = (warden_probe *)&bad; /* a sentinel: must stay untouched */
        ck_assert_msg(warden_probe_new(bad[i], &p) == -EINVAL, "'%s' accepted", bad[i]);
        ck_assert_ptr_eq(p, (warden_probe *)&bad);
        ck_assert_int_eq(warden_probe_check_spec(bad[i]), -EINVAL);
    }
    warden_probe *p = NULL;
    ck_assert_int_eq(warden_probe_new(NULL, &p), -EINVAL);
}
END_TEST

/* Run a probe spec once; returns its result and, through ret_ms, how long it
 * took. */
static int probe(const char *spec, pid_t main_pid, warden_usec_t timeout, char **ret_reason,
                 long long *ret_ms)
{
    warden_probe *p = NULL;
    ck_assert_int_eq(warden_probe_new(spec, &p), 0);
    struct warden_probe_context ctx = {.main_pid = main_pid};
    warden_usec_t start = warden_now();
    int r = warden_probe_run(p, &ctx, start + timeout, ret_reason);
    if (ret_ms) {
        *ret_ms = check_ms_since(start);
    }
    warden_probe_free(p);
    return r;
}

/* A TCP socket on 127.0.0.1, any port; listening if backlog >= 0. */
static int tcp_socket(int backlog, int *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (backlog >= 0) {
        ck_assert_int_eq(listen(fd, backlog), 0);
    }
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *ret_port = ntohs(sa.sin_port);
    return fd;
}

START_TEST(test_tcp_open)
{
    int port;
    int fd = tcp_socket(16, &port);
    char spec[64];
    snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
    char *reason = NULL;
    ck_assert_int_eq(probe(spec, 0, 2 * WARDEN_USEC_PER_SEC, &reason, NULL), 0);
    ck_assert_ptr_null(reason);
    /* The probe connected: there is a connection waiting to be accepted. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 1000), 1);
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(c, 0);
    close(c);
    close(fd);
}
END_TEST

START_TEST(test_tcp_open_ipv6)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0) {
            close(fd);
        }
        check_skip(__func__, "no IPv6 loopback here");
        return;
    }
    ck_assert_int_eq(listen(fd, 16), 0);
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char spec[64];
    snprintf(spec, sizeof(spec), "tcp:[::1]:%d", ntohs(sa.sin6_port));
    char *reason = NULL;
    ck_assert_int_eq(probe(spec, 0, 2 * WARDEN_USEC_PER_SEC, &reason, NULL), 0);
    ck_assert_ptr_null(reason);
    close(fd);
}
END_TEST

START_TEST(test_tcp_refused)
{
    /* Bound but not listening: the port is ours, and refuses. The probe
     * fails at once, not at its deadline, and says why and where. */
    int port;
    int fd = tcp_socket(-1, &port);
    char spec[64], where[64];
    snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
    snprintf(where, sizeof(where), "127.0.0.1:%d", port);
    char *reason = NULL;
    long long ms = 0;
    ck_assert_int_eq(probe(spec, 0, 5 * WARDEN_USEC_PER_SEC, &reason, &ms), -ECONNREFUSED);
    ck_assert_int_lt(ms, 1000);
    ck_assert_ptr_nonnull(reason);
    ck_assert_msg(strstr(reason, where), "reason '%s'", reason);
    ck_assert_msg(strstr(reason, strerror(ECONNREFUSED)), "reason '%s'", reason);
    free(reason);
    /* Without a place for the reason, the probe still fails, and frees it. */
    ck_assert_int_eq(probe(spec, 0, 5 * WARDEN_USEC_PER_SEC, NULL, NULL), -ECONNREFUSED);
    close(fd);
}
END_TEST

START_TEST(test_tcp_unresolvable)
{
    /* A name that cannot resolve (the .invalid TLD is reserved, and
     * /etc/hosts does not know it): a failure with a reason. The resolver
     * is told to give up fast where no DNS server answers. */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    char *reason = NULL;
    int r = probe("tcp:warden-check.invalid:80", 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL);
    unsetenv("RES_OPTIONS");
    ck_assert_int_lt(r, 0);
    ck_assert_int_ne(r, -ETIMEDOUT);
    ck_assert_ptr_nonnull(reason);
    ck_assert_msg(strstr(reason, "warden-check.invalid"), "reason '%s'", reason);
    free(reason);
}
END_TEST

START_TEST(test_tcp_no_answer)
{
    /* A service too busy to accept: the listen queue is full, so the
     * kernel drops further SYNs and the connection neither succeeds nor
     * fails. That is "no answer", reported at the deadline as -ETIMEDOUT.
     * Backlog 0 holds one connection; the test makes it. */
    int port;
    int fd = tcp_socket(0, &port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(c, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = connect(c, (struct sockaddr *)&sa, sizeof(sa));
    ck_assert(r == 0 || errno == EINPROGRESS);
    struct pollfd pfd = {.fd = c, .events = POLLOUT};
    ck_assert_int_eq(poll(&pfd, 1, 2000), 1);

    char spec[64];
    snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
    char *reason = NULL;
    long long ms = 0;
    ck_assert_int_eq(probe(spec, 0, 300 * MS, &reason, &ms), -ETIMEDOUT);
    ck_assert_int_ge(ms, 300);
    ck_assert_int_lt(ms, 300 + SLACK_MS);
    ck_assert_msg(strstr(reason, "no connection within"), "reason '%s'", reason);
    free(reason);
    close(c);
    close(fd);
}
END_TEST

START_TEST(test_tcp_tries_every_address)
{
    /* Every address a name resolves to is tried, not only the first. On a
     * stock Debian /etc/hosts "localhost" is ::1 first, then 127.0.0.1, and
     * `tcp:localhost:PORT` must work for a service that listens on
     * 127.0.0.1 only, as many do. (Regression test: tcp_run once tried the
     * first address alone.)
     *
     * The test gives a name both addresses, ::1 first, in a private mount
     * namespace (a bind mount over /etc/hosts, in a child), and listens on
     * 127.0.0.1 only; ::1 on the same port is bound, not listening, so it
     * refuses. The child answers with one byte on a pipe (its exit status
     * would not do: under valgrind, valgrind's own checks in a child that
     * never execs may change it): 0 ok, 1 probe failed, 77 no mount
     * namespace, 78 no IPv6 loopback, 79 the resolver did not put ::1 first. */
    int port;
    int fd = tcp_socket(16, &port);
    int fd6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6,
                               .sin6_port = htons((uint16_t)port),
                               .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = fd6 >= 0 && bind(fd6, (struct sockaddr *)&sa6, sizeof(sa6)) == 0;
    char hosts[] = "/tmp/check-probe-hosts-XXXXXX";
    int hfd = mkostemp(hosts, O_CLOEXEC);
    ck_assert_int_ge(hfd, 0);
    const char *text = "::1 warden-check-dual\n127.0.0.1 warden-check-dual\n";
    ck_assert_int_eq(write(hfd, text, strlen(text)), (ssize_t)strlen(text));
    close(hfd);
    int answer[2];
    ck_assert_int_eq(pipe2(answer, O_CLOEXEC), 0);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        unsigned char code = 0;
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        if (!have_v6) {
            code = 78;
        } else if (unshare(CLONE_NEWNS) < 0 ||
                   mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                   mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) < 0) {
            code = 77;
        } else if (getaddrinfo("warden-check-dual", NULL, &hints, &ai) != 0 ||
                   ai->ai_family != AF_INET6 || !ai->ai_next) {
            code = 79;
        } else {
            char spec[64];
            snprintf(spec, sizeof(spec), "tcp:warden-check-dual:%d", port);
            warden_probe *p = NULL;
            struct warden_probe_context ctx = {0};
            int r = warden_probe_new(spec, &p);
            if (r == 0) {
                r = warden_probe_run(p, &ctx, warden_deadline_in(2 * WARDEN_USEC_PER_SEC), NULL);
            }
            warden_probe_free(p);
            code = r == 0 ? 0 : 1;
        }
        if (ai) {
            freeaddrinfo(ai);
        }
        (void)!write(answer[1], &code, 1);
        _exit(0);
    }
    close(answer[1]);
    unsigned char code = 255;
    ssize_t n = read(answer[0], &code, 1);
    close(answer[0]);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    unlink(hosts);
    if (fd6 >= 0) {
        close(fd6);
    }
    close(fd);
    ck_assert_int_eq(n, 1);
    if (code >= 77) {
        check_skip(__func__, code == 77   ? "no private mount namespace (needs root)"
                             : code == 78 ? "no IPv6 loopback"
                                          : "the resolver does not put ::1 first here");
        return;
    }
    ck_assert_msg(code == 0, "tcp probe of a name whose second address (127.0.0.1) listens "
                             "failed: only the first (::1) was tried");
}
END_TEST

START_TEST(test_exec)
{
    char *reason = NULL;
    ck_assert_int_eq(probe("exec:/bin/true", 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL), 0);
    ck_assert_ptr_null(reason);
    /* Found through PATH, like the command line of a service. */
    ck_assert_int_eq(probe("exec:true", 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL), 0);

    ck_assert_int_eq(probe("exec:/bin/false", 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL), -EIO);
    ck_assert_msg(reason && strstr(reason, "exit status 1"), "reason '%s'", reason);
    free(reason);
    reason = NULL;

    ck_assert_int_eq(probe("exec:/bin/sh -c 'exit 3'", 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                     -EIO);
    ck_assert_msg(reason && strstr(reason, "exit status 3"), "reason '%s'", reason);
    free(reason);
    reason = NULL;

    ck_assert_int_eq(
        probe("exec:/bin/sh -c 'kill -9 $$'", 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL), -EIO);
    ck_assert_msg(reason && strstr(reason, "killed by signal 9"), "reason '%s'", reason);
    free(reason);
    reason = NULL;

    /* A check that is not installed fails (the service is not healthy),
     * saying which. */
    ck_assert_int_eq(probe("exec:/nonexistent/check", 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                     -ENOENT);
    ck_assert_msg(reason && strstr(reason, "/nonexistent/check"), "reason '%s'", reason);
    free(reason);
}
END_TEST

START_TEST(test_exec_environment)
{
    /* The check runs without the agent's OCF_RESKEY_* parameters. */
    setenv("OCF_RESKEY_secret", "x", 1);
    int r = probe("exec:/bin/sh -c 'test -z \"$OCF_RESKEY_secret\"'", 0, 5 * WARDEN_USEC_PER_SEC,
                  NULL, NULL);
    unsetenv("OCF_RESKEY_secret");
    ck_assert_int_eq(r, 0);
}
END_TEST

START_TEST(test_exec_hung)
{
    CHECK_REQUIRE_PIDFD();
    /* A check that hangs is killed at the deadline and reported as "no
     * answer" (the service is hung), soon after the deadline. */
    char *reason = NULL;
    long long ms = 0;
    ck_assert_int_eq(probe("exec:/bin/sleep 10", 0, 300 * MS, &reason, &ms), -ETIMEDOUT);
    ck_assert_int_ge(ms, 300);
    ck_assert_int_lt(ms, 300 + SLACK_MS);
    ck_assert_msg(reason && strstr(reason, "no answer"), "reason '%s'", reason);
    free(reason);
}
END_TEST

START_TEST(test_process)
{
    CHECK_REQUIRE_PIDFD();
    char *reason = NULL;
    ck_assert_int_eq(probe("process", getpid(), 1 * WARDEN_USEC_PER_SEC, &reason, NULL), 0);
    ck_assert_ptr_null(reason);

    /* No main process known. */
    ck_assert_int_eq(probe("process", 0, 1 * WARDEN_USEC_PER_SEC, &reason, NULL), -ESRCH);
    ck_assert_ptr_nonnull(reason);
    free(reason);

    /* A process that has exited: first as a zombie (dead, not yet reaped),
     * then reaped. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(0);
    }
    siginfo_t si;
    ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    ck_assert_int_eq(probe("process", pid, 1 * WARDEN_USEC_PER_SEC, &reason, NULL), -ESRCH);
    char want[64];
    snprintf(want, sizeof(want), "process %d is gone", (int)pid);
    ck_assert_msg(reason && strstr(reason, want), "reason '%s'", reason);
    free(reason);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    ck_assert_int_eq(probe("process", pid, 1 * WARDEN_USEC_PER_SEC, &reason, NULL), -ESRCH);
    free(reason);
}
END_TEST

START_TEST(test_process_probe_failure_is_not_gone)
{
    /* A probe that cannot look is not a process that is gone. Here the
     * process is this very one, alive; only no fd is left for its pidfd
     * (EMFILE). probe.h keeps -ESRCH for a process that is gone and
     * "another -errno" for a probe that failed: for a probe (monitor with
     * interval 0) Pacemaker reads -ESRCH as "not running here" and may start
     * the service a second time elsewhere. (Regression test: process_run
     * once turned every failure of warden__pidref_open() into -ESRCH.) */
    CHECK_REQUIRE_PIDFD();
    warden_probe *p = NULL;
    ck_assert_int_eq(warden_probe_new("process", &p), 0);
    struct rlimit saved, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = 64;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    /* Take every fd left under the limit. */
    int taken[64], n = 0;
    while (n < 64) {
        int fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            break;
        }
        taken[n++] = fd;
    }
    int dup_errno = errno;
    struct warden_probe_context ctx = {.main_pid = getpid()};
    char *reason = NULL;
    int r = warden_probe_run(p, &ctx, warden_deadline_in(WARDEN_USEC_PER_SEC), &reason);
    while (n > 0) {
        close(taken[--n]);
    }
    setrlimit(RLIMIT_NOFILE, &saved);
    warden_probe_free(p);
    char why[128];
    snprintf(why, sizeof(why), "%s", reason ? reason : "");
    free(reason);
    ck_assert_int_eq(dup_errno, EMFILE);
    ck_assert_msg(r != -ESRCH, "a live process reported gone: %s", why);
    /* Either it found another way to look (alive), or it says it could not. */
    ck_assert_msg(r == 0 || (r == -EMFILE && why[0]), "%d: %s", r, why);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probe");
    add_tcase(s, test_parse_accepts, 10);
    add_tcase(s, test_parse_rejects, 10);
    add_tcase(s, test_tcp_open, 10);
    add_tcase(s, test_tcp_open_ipv6, 10);
    add_tcase(s, test_tcp_refused, 10);
    add_tcase(s, test_tcp_unresolvable, 10);
    add_tcase(s, test_tcp_no_answer, 10);
    add_tcase(s, test_tcp_tries_every_address, 10);
    add_tcase(s, test_exec, 10);
    add_tcase(s, test_exec_environment, 10);
    add_tcase(s, test_exec_hung, 10);
    add_tcase(s, test_process, 10);
    add_tcase(s, test_process_probe_failure_is_not_gone, 10);
    return check_run("check_probe", s);
}
