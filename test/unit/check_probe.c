/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Health probes (lib/probe.c): parsing the `check` parameter, and each kind
 * run against something real on this machine: a socket the test listens on,
 * a command, a process, and for the protocol probes a scripted fake server
 * (fake-server.h). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <net/if.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif

#include "check_common.h"
#include "fake-server.h"

#include "probe-int.h"
#include "warden/probe.h"

#define MS WARDEN_USEC_PER_MSEC

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

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
        "smtp:127.0.0.1:25",
        "imap:[::1]:143",
        "pop3:mail.example.com:110",
        "http:127.0.0.1:8080/health",
        "http:[::1]:80/",
        "http:localhost:80",
        "http:h:8080/a/b?c=d&e=%20",
        /* Up to 5 digits, leading zeros included; 1-65535. */
        "tcp:h:08080",
        "smtp:h:00025",
        "smtp:[::1]:25",
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
        "",
        "bogus",
        "tcp:host",
        "tcp:h:0",
        "tcp:h:70000",
        "tcp:h:",
        "tcp::80",
        "tcp:h:80x",
        "tcp:h:-1",
        "tcp:[::1]25",
        "tcp:[::1:25",
        "tcp:[]:25",
        "processes",
        "process:1",
        "exec:",
        "exec:   ",
        "exec:'x",
        " process",
        "smtp:",
        "smtp:host",
        "imap:h:0",
        "pop3:[::1]110",
        "smtps:h",
        "ldaps:h:636",
        "ftp:h:21",
        "http:h/x",
        "http::80/",
        "http:h:80x/",
        "http:h:80/a b",
        "http:h:80/\x01",
        "http:[::1]/x",
        /* PORT is digits only, 1-65535: no blank, sign, hex or sixth digit
         * (strtol() once let "tcp:h: 80" and "tcp:h:+80" through). */
        "tcp:h: 80",
        "tcp:h:+80",
        "smtp:h:-1",
        "tcp:h:80 ",
        "tcp:h:\t80",
        "tcp:h:0x50",
        "tcp:h:000080",
        "tcp:h:65536",
        "tcp:h:99999",
        "tcp:h:00000",
        "imap:[::1]: 143",
        "http:h:+80/",
        "pop3:h:1e3",
        /* HOST is printable ASCII without blanks: it goes into reasons and
         * the Host header. */
        "tcp:a b:80",
        "tcp:h\r\n:80",
        "http:[127.0.0.1\r\nX: y]:80/",
        "tcp:\xc3\xa9:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        warden_probe *p = (warden_probe *)&bad; /* a sentinel: must stay untouched */
        ck_assert_msg(warden_probe_new(bad[i], &p) == -EINVAL, "'%s' accepted", bad[i]);
        ck_assert_ptr_eq(p, (warden_probe *)&bad);
        ck_assert_int_eq(warden_probe_check_spec(bad[i]), -EINVAL);
    }
    warden_probe *p = NULL;
    ck_assert_int_eq(warden_probe_new(NULL, &p), -EINVAL);

    /* A host name is at most 253 bytes. */
    char spec[300];
    snprintf(spec, sizeof(spec), "tcp:%0253d:80", 0);
    ck_assert_int_eq(warden_probe_check_spec(spec), 0);
    snprintf(spec, sizeof(spec), "tcp:%0254d:80", 0);
    ck_assert_int_eq(warden_probe_check_spec(spec), -EINVAL);

    /* What a refused spec's reason says is expected (lib/service.c and
     * lib/param.c print it) names the port's form. */
    ck_assert_ptr_nonnull(strstr(WARDEN_PROBE_FORMS, "PORT: digits only, 1-65535"));
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
     * /etc/hosts does not know it): a failure of its own, -ERESOLVE with a
     * reason that says so, never "no answer" (-ETIMEDOUT, a hung service).
     * The resolver is told to give up fast where no DNS server answers.
     * (Regression test: this was -EHOSTUNREACH, as for a host that does not
     * route.) */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    char *reason = NULL;
    int r = probe("tcp:warden-check.invalid:80", 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL);
    unsetenv("RES_OPTIONS");
    ck_assert_int_eq(r, -WARDEN_PROBE_ERESOLVE);
    const char *want = "tcp: cannot resolve warden-check.invalid: ";
    ck_assert_msg(reason && strncmp(reason, want, strlen(want)) == 0, "reason '%s'", reason);
    free(reason);
}
END_TEST

START_TEST(test_resolve_expired_deadline)
{
    /* A name is resolved under the probe's deadline: with none left, the
     * probe says at once that it could not resolve, not that the service
     * did not answer. An address needs no resolving: it goes on to connect
     * (and may or may not make it in no time). (Regression test: the name
     * was resolved whatever the deadline, then connected.) */
    int port;
    int fd = tcp_socket(16, &port);
    char spec[64];
    snprintf(spec, sizeof(spec), "tcp:localhost:%d", port);
    warden_probe *p = NULL;
    ck_assert_int_eq(warden_probe_new(spec, &p), 0);
    struct warden_probe_context ctx = {0};
    char *reason = NULL;
    warden_usec_t start = warden_now();
    int r = warden_probe_run(p, &ctx, start, &reason);
    long long ms = check_ms_since(start);
    warden_probe_free(p);
    ck_assert_int_eq(r, -WARDEN_PROBE_ERESOLVE);
    ck_assert_int_lt(ms, 100);
    ck_assert_msg(reason && strcmp(reason, "tcp: cannot resolve localhost within 0ms") == 0,
                  "reason '%s'", reason);
    free(reason);
    reason = NULL;

    snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
    ck_assert_int_eq(warden_probe_new(spec, &p), 0);
    r = warden_probe_run(p, &ctx, warden_now(), &reason);
    warden_probe_free(p);
    ck_assert_msg(r == 0 || r == -ETIMEDOUT, "%d: %s", r, reason);
    free(reason);
    close(fd);
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
                   mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
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

/* ---- a DNS server that does not answer, in a private network namespace ---- */

/* What the child of test_resolve_hung_dns found, sent back on a pipe. */
struct dns_report {
    int code; /* 0 ran; 77 no namespaces (not root); 1 setup failed: see reason */
    int hung_r;
    long long hung_ms;
    char hung_reason[160];
    int abandoned;    /* lookups left running after the hung probes */
    int capped_after; /* probes that waited, before one failed at once */
    int capped_r;
    long long capped_ms;
    char capped_reason[160];
    int abandoned_after; /* once the server answers */
    int leaked;          /* bytes the leak checker (ASan, valgrind) found lost */
    int refused_r;
    long long refused_ms;
    char refused_reason[160];
};

/* The stand-in DNS server: while `answer` is false it reads nothing (a
 * server that is down, or whose answers are lost); then it answers every
 * query REFUSED, at once. */
struct dns_standin {
    int fd;
    atomic_bool answer;
    atomic_bool stop;
};

static void *dns_standin_thread(void *arg)
{
    struct dns_standin *d = arg;
    while (!atomic_load(&d->stop)) {
        struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
        if (!atomic_load(&d->answer) || poll(&pfd, 1, 20) <= 0) {
            poll(NULL, 0, 10);
            continue;
        }
        unsigned char q[512];
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(d->fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
        if (n < 12) {
            continue;
        }
        /* The query itself, made an answer (QR) with RCODE 5, REFUSED. */
        q[2] |= 0x80;
        q[3] = (unsigned char)((q[3] & 0xf0) | 5);
        (void)!sendto(d->fd, q, (size_t)n, 0, (struct sockaddr *)&from, flen);
    }
    return NULL;
}

/* A temporary file holding text, to bind over a file of /etc. */
static void write_temp(const char *text, char *ret_path, size_t size)
{
    snprintf(ret_path, size, "/tmp/check-probe-dns-XXXXXX");
    int fd = mkostemp(ret_path, O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* In the child, in its own mount and network namespaces. */
static void dns_child(struct dns_report *rep, const char *resolv, const char *nsswitch)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0) {
        rep->code = 77;
        return;
    }
    rep->code = 1;
    int ifd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    bool lo_up = ifd >= 0 && ioctl(ifd, SIOCGIFFLAGS, &ifr) == 0 &&
                 (ifr.ifr_flags |= IFF_UP, ioctl(ifd, SIOCSIFFLAGS, &ifr) == 0);
    if (ifd >= 0) {
        close(ifd);
    }
    struct dns_standin d = {.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (!lo_up || d.fd < 0 || bind(d.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0 ||
        mount(nsswitch, "/etc/nsswitch.conf", NULL, MS_BIND, NULL) < 0) {
        snprintf(rep->hung_reason, sizeof(rep->hung_reason), "setup: %s", strerror(errno));
        return;
    }
    pthread_t standin;
    if (pthread_create(&standin, NULL, dns_standin_thread, &d) != 0) {
        snprintf(rep->hung_reason, sizeof(rep->hung_reason), "no thread");
        return;
    }
    rep->code = 0;
    warden_probe *p = NULL;
    struct warden_probe_context ctx = {0};
    char *reason = NULL;
    if (warden_probe_new("smtp:warden-check-hung.example:25", &p) < 0) {
        rep->code = 1;
        return;
    }

    /* The server is silent: the probe gives up at its deadline. */
    warden_usec_t start = warden_now();
    rep->hung_r = warden_probe_run(p, &ctx, start + 300 * MS, &reason);
    rep->hung_ms = check_ms_since(start);
    snprintf(rep->hung_reason, sizeof(rep->hung_reason), "%s", reason ? reason : "");
    free(reason);
    reason = NULL;
    rep->abandoned = warden__probe_lookups_abandoned();

    /* Probe after probe, as the keeper does: the lookups left running are
     * capped, and past the cap a probe fails at once. */
    for (int i = 0; i < 16; i++) {
        start = warden_now();
        rep->capped_r = warden_probe_run(p, &ctx, start + 100 * MS, &reason);
        rep->capped_ms = check_ms_since(start);
        snprintf(rep->capped_reason, sizeof(rep->capped_reason), "%s", reason ? reason : "");
        free(reason);
        reason = NULL;
        if (strstr(rep->capped_reason, "earlier lookups")) {
            break;
        }
        rep->capped_after++;
    }

    /* The server answers now: every lookup left running ends, and frees
     * what it had. */
    atomic_store(&d.answer, true);
    warden_usec_t limit = warden_deadline_in(10 * WARDEN_USEC_PER_SEC);
    while (warden__probe_lookups_abandoned() > 0 && warden_now() < limit) {
        poll(NULL, 0, 10);
    }
    rep->abandoned_after = warden__probe_lookups_abandoned();

    /* A server that refuses: the probe fails at once, with what the
     * resolver said. */
    start = warden_now();
    rep->refused_r = warden_probe_run(p, &ctx, start + 5 * WARDEN_USEC_PER_SEC, &reason);
    rep->refused_ms = check_ms_since(start);
    snprintf(rep->refused_reason, sizeof(rep->refused_reason), "%s", reason ? reason : "");
    free(reason);
    warden_probe_free(p);
    atomic_store(&d.stop, true);
    pthread_join(standin, NULL);
    close(d.fd);
    /* The lookups that were abandoned freed what they had: the child ends
     * with _exit(), where no leak check runs, so ask for one here. */
#ifdef __SANITIZE_ADDRESS__
    rep->leaked = __lsan_do_recoverable_leak_check();
#endif
#if __has_include(<valgrind/memcheck.h>)
    if (RUNNING_ON_VALGRIND) {
        /* Definitely lost only: "possibly lost" here is the parent's libqb
         * log filters and glibc's cached thread stacks (their DTVs), which
         * the parent's own leak check at exit does not count either. */
        unsigned long leaked = 0, dubious = 0, reachable = 0, suppressed = 0;
        VALGRIND_DO_LEAK_CHECK;
        VALGRIND_COUNT_LEAKS(leaked, dubious, reachable, suppressed);
        (void)dubious, (void)reachable, (void)suppressed;
        rep->leaked = (int)leaked;
    }
#endif
}

START_TEST(test_resolve_hung_dns)
{
    /* A DNS server that does not answer holds no probe past its deadline:
     * the probe says it could not resolve the name in time, which is not a
     * hung service (-ERESOLVE, not -ETIMEDOUT). The lookups it leaves
     * running are few, and end once DNS answers. (Regression test:
     * getaddrinfo() was called with no bound, for as long as the resolver
     * waited, here 5s.)
     *
     * The DNS server is a stand-in on 127.0.0.1:53, in a private network
     * namespace with its own resolv.conf (a bind mount, in a private mount
     * namespace), in a child; the child reports on a pipe. */
    char resolv[64], nsswitch[64];
    write_temp("nameserver 127.0.0.1\noptions timeout:5 attempts:1\n", resolv, sizeof(resolv));
    write_temp("hosts: files dns\n", nsswitch, sizeof(nsswitch));
    int answer[2];
    ck_assert_int_eq(pipe2(answer, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static struct dns_report rep;
        dns_child(&rep, resolv, nsswitch);
        (void)!write(answer[1], &rep, sizeof(rep));
        _exit(0);
    }
    close(answer[1]);
    static struct dns_report rep;
    ssize_t n = read(answer[0], &rep, sizeof(rep));
    close(answer[0]);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    unlink(resolv);
    unlink(nsswitch);
    ck_assert_int_eq(n, (ssize_t)sizeof(rep));
    if (rep.code == 77) {
        check_skip(__func__, "no private network namespace (needs root)");
        return;
    }
    ck_assert_msg(rep.code == 0, "the child could not set up: %s", rep.hung_reason);

    ck_assert_msg(rep.hung_r == -WARDEN_PROBE_ERESOLVE, "%d: %s", rep.hung_r, rep.hung_reason);
    ck_assert_int_ge(rep.hung_ms, 300);
    ck_assert_int_lt(rep.hung_ms, 300 + SLACK_MS);
    ck_assert_str_eq(rep.hung_reason,
                     "smtp: cannot resolve warden-check-hung.example within 300ms");
    ck_assert_int_eq(rep.abandoned, 1);

    ck_assert_msg(rep.capped_after >= 1 && rep.capped_after <= 8, "%d probes waited",
                  rep.capped_after);
    ck_assert_int_eq(rep.capped_r, -WARDEN_PROBE_ERESOLVE);
    ck_assert_int_lt(rep.capped_ms, 50);
    ck_assert_msg(strstr(rep.capped_reason, "smtp: cannot resolve warden-check-hung.example: ") &&
                      strstr(rep.capped_reason, "earlier lookups have not ended"),
                  "reason '%s'", rep.capped_reason);

    ck_assert_int_eq(rep.abandoned_after, 0);
    ck_assert_msg(rep.leaked == 0, "the abandoned lookups leaked (%d)", rep.leaked);
    ck_assert_msg(rep.refused_r == -WARDEN_PROBE_ERESOLVE, "%d: %s", rep.refused_r,
                  rep.refused_reason);
    ck_assert_int_lt(rep.refused_ms, 1000);
    ck_assert_msg(strstr(rep.refused_reason, "smtp: cannot resolve warden-check-hung.example: "),
                  "reason '%s'", rep.refused_reason);
}
END_TEST

/* ---- the protocol probes, against a fake server ---------------------------- */

/* What the generic tests need to know of a protocol. */
struct proto {
    const char *name;              /* "smtp" */
    const char *path;              /* what follows HOST:PORT in the spec */
    const char *first;             /* the first answer the probe waits for */
    const struct fake_step *hello; /* what the server hears before it */
    const struct fake_step *good;  /* a whole good dialogue */
};

static const struct fake_step no_hello[] = {END()};
static const struct fake_step http_hello[] = {HEAR("GET /health HTTP/1.0"), HEADERS(), END()};

/* Multi-line answers, a line that arrives in two pieces, several lines in
 * one segment. */
static const struct fake_step smtp_good[] = {
    SAY("220-mail.example.com ESMTP\r\n220-"),
    PAUSE(20),
    SAY("second line\r\n220 ready\r\n"),
    HEAR("EHLO *"),
    SAY("250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"),
    HEAR("NOOP"),
    SAY("250 2.0.0 OK\r\n"),
    HEAR("QUIT"),
    SAY("221 2.0.0 Bye\r\n"),
    END(),
};
static const struct fake_step imap_good[] = {
    SAY("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"),
    HEAR("a1 CAPABILITY"),
    SAY("* CAPABILITY IMAP4rev1 IDLE\r\n* ID NIL\r\na1 OK Capability completed.\r\n"),
    HEAR("a2 NOOP"),
    SAY("* 3 EXISTS\r\na2 OK NOOP completed.\r\n"),
    HEAR("a3 LOGOUT"),
    SAY("* BYE Logging out\r\na3 OK Logout completed.\r\n"),
    END(),
};
static const struct fake_step pop3_good[] = {
    SAY("+OK POP3 ready\r\n"),
    HEAR("CAPA"),
    SAY("+OK Capability list follows\r\nTOP\r\nUIDL\r\n..not the end\r\nUSER\r\n.\r\n"),
    HEAR("QUIT"),
    SAY("+OK Bye\r\n"),
    END(),
};
static const struct fake_step http_good[] = {
    HEAR("GET /health HTTP/1.0"),
    HEADERS(),
    SAY("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"),
    END(),
};

static const struct proto protos[] = {
    {"smtp", "", "greeting", no_hello, smtp_good},
    {"imap", "", "greeting", no_hello, imap_good},
    {"pop3", "", "greeting", no_hello, pop3_good},
    {"http", "/health", "answer to GET", http_hello, http_good},
};

/* A script made of a's steps (up to its END), then b's. */
static const struct fake_step *compose(struct fake_step *out, size_t size,
                                       const struct fake_step *a, const struct fake_step *b)
{
    size_t n = 0;
    for (; a->op != FAKE_END; a++) {
        ck_assert_uint_lt(n, size);
        out[n++] = *a;
    }
    do {
        ck_assert_uint_lt(n, size);
        out[n++] = *b;
    } while ((b++)->op != FAKE_END);
    return out;
}

/* A script with a pause of ms before everything the server says; through
 * ret_total, the sum of its pauses. */
static const struct fake_step *with_pauses(struct fake_step *out, size_t size,
                                           const struct fake_step *script, int ms, int *ret_total)
{
    size_t n = 0;
    int total = 0;
    do {
        ck_assert_uint_lt(n + 1, size);
        if (script->op == FAKE_SAY) {
            out[n++] = (struct fake_step)PAUSE(ms);
        }
        total += script->op == FAKE_SAY ? ms : script->op == FAKE_PAUSE ? script->ms : 0;
        out[n++] = *script;
    } while ((script++)->op != FAKE_END);
    *ret_total = total;
    return out;
}

/* A reason ends up as Pacemaker's exit reason: one line of printable text,
 * of which 128 bytes are kept. */
static void assert_clean_reason(const char *reason)
{
    ck_assert_uint_le(strlen(reason), 128);
    for (const char *c = reason; *c; c++) {
        ck_assert_msg(*c >= 0x20 && *c < 0x7f, "reason '%s' has byte 0x%02x", reason,
                      (unsigned char)*c);
    }
}

/* Serve script on a fresh fake server (IPv6 when host is "[::1]"), run the
 * probe "<kind>:<host>:<port><path>" at it under timeout, stop the server.
 * The server is left for the caller to look at. */
static int serve_and_probe(struct fake_server *srv, const char *kind, const char *host,
                           const char *path, const struct fake_step *script, warden_usec_t timeout,
                           char **ret_reason, long long *ret_ms)
{
    ck_assert_int_eq(fake_server_start(srv, host[0] == '[' ? AF_INET6 : AF_INET, script), 0);
    char spec[128];
    snprintf(spec, sizeof(spec), "%s:%s:%d%s", kind, host, srv->port, path);
    int r = probe(spec, 0, timeout, ret_reason, ret_ms);
    fake_server_stop(srv);
    if (*ret_reason) {
        assert_clean_reason(*ret_reason);
    }
    return r;
}

/* The common case, on 127.0.0.1: the probe must return want, with a reason
 * that holds want_reason; or, for want 0, no reason, and the server went
 * through its whole script. Returns how long the probe took. */
static long long expect_probe(const struct proto *p, const struct fake_step *script,
                              warden_usec_t timeout, int want, const char *want_reason)
{
    struct fake_server srv;
    char *reason = NULL;
    long long ms = 0;
    int r = serve_and_probe(&srv, p->name, "127.0.0.1", p->path, script, timeout, &reason, &ms);
    bool had_reason = reason;
    char why[256];
    snprintf(why, sizeof(why), "%s", reason ? reason : "(none)");
    free(reason);
    ck_assert_msg(r == want, "%s: %s (%d) instead of %s, reason '%s', server: %s", p->name,
                  strerror(-r), r, strerror(-want), why, srv.error);
    if (want == 0) {
        ck_assert_msg(!had_reason, "%s: a reason on success: %s", p->name, why);
        ck_assert_msg(srv.completed && !srv.error[0], "%s: the server's script: %s", p->name,
                      srv.error);
        ck_assert_int_eq(srv.served, 1);
    } else {
        ck_assert_msg(had_reason && strstr(why, want_reason), "%s: reason '%s', expected '%s'",
                      p->name, why, want_reason);
    }
    return ms;
}

static const struct proto *proto_named(const char *name)
{
    for (size_t i = 0; i < ELEMENTS(protos); i++) {
        if (strcmp(protos[i].name, name) == 0) {
            return &protos[i];
        }
    }
    ck_abort_msg("no protocol %s", name);
    return NULL;
}

START_TEST(test_dialogue_good)
{
    for (size_t i = 0; i < ELEMENTS(protos); i++) {
        expect_probe(&protos[i], protos[i].good, 5 * WARDEN_USEC_PER_SEC, 0, NULL);
    }
}
END_TEST

START_TEST(test_dialogue_sends)
{
    /* What the probes say, as the server heard it. */
    struct fake_server srv;
    char *reason = NULL;
    ck_assert_int_eq(serve_and_probe(&srv, "smtp", "127.0.0.1", "", smtp_good,
                                     5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                     0);
    /* EHLO names this host, or "warden" when it has no plain name. */
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char want[300];
    snprintf(want, sizeof(want), "EHLO %s\nNOOP\nQUIT\n", host);
    ck_assert_msg(strcmp(srv.heard, want) == 0 ||
                      strcmp(srv.heard, "EHLO warden\nNOOP\nQUIT\n") == 0,
                  "heard '%s'", srv.heard);

    ck_assert_int_eq(serve_and_probe(&srv, "imap", "127.0.0.1", "", imap_good,
                                     5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                     0);
    ck_assert_str_eq(srv.heard, "a1 CAPABILITY\na2 NOOP\na3 LOGOUT\n");

    ck_assert_int_eq(serve_and_probe(&srv, "pop3", "127.0.0.1", "", pop3_good,
                                     5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                     0);
    ck_assert_str_eq(srv.heard, "CAPA\nQUIT\n");

    ck_assert_int_eq(serve_and_probe(&srv, "http", "127.0.0.1", "/health", http_good,
                                     5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                     0);
    snprintf(want, sizeof(want),
             "GET /health HTTP/1.0\nHost: 127.0.0.1:%d\nUser-Agent: warden\nConnection: close\n\n",
             srv.port);
    ck_assert_str_eq(srv.heard, want);

    /* Without a path, "/". */
    static const struct fake_step root[] = {HEAR("GET / HTTP/1.0"), HEADERS(),
                                            SAY("HTTP/1.0 200 OK\r\n\r\n"), END()};
    ck_assert_int_eq(serve_and_probe(&srv, "http", "127.0.0.1", "", root, 5 * WARDEN_USEC_PER_SEC,
                                     &reason, NULL),
                     0);
    ck_assert_msg(srv.completed, "server: %s", srv.error);
}
END_TEST

START_TEST(test_dialogue_ipv6_and_names)
{
    /* HOST as [IPv6]: the Host header has the brackets too. */
    struct fake_server srv;
    char *reason = NULL;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    if (have_v6) {
        ck_assert_int_eq(serve_and_probe(&srv, "http", "[::1]", "/health", http_good,
                                         5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                         0);
        char want[64];
        snprintf(want, sizeof(want), "Host: [::1]:%d\n", srv.port);
        ck_assert_msg(strstr(srv.heard, want), "heard '%s'", srv.heard);
        ck_assert_int_eq(serve_and_probe(&srv, "imap", "[::1]", "", imap_good,
                                         5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                         0);
    }
    /* A name, tried address by address as tcp does (on Debian, localhost
     * is ::1 first, where nothing listens on this port). */
    ck_assert_int_eq(serve_and_probe(&srv, "pop3", "localhost", "", pop3_good,
                                     5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                     0);
    ck_assert_msg(srv.completed, "server: %s", srv.error);
    if (!have_v6) {
        check_skip(__func__, "no IPv6 loopback here (the [::1] half was not run)");
    }
}
END_TEST

START_TEST(test_dialogue_wrong_answers)
{
    /* Each wrong answer fails the probe with -EPROTO, and the reason names
     * the protocol, the step, and what came back. */
    static const struct {
        const char *proto;
        struct fake_step script[8];
        const char *reason;
    } cases[] = {
        {"smtp",
         {SAY("554 5.3.2 No service here\r\n"), END()},
         "smtp: greeting was 554 5.3.2 No service here"},
        {"smtp",
         {SAY("220 hi\r\n"), HEAR("EHLO *"), SAY("421 4.3.2 Service not available\r\n"), END()},
         "smtp: EHLO answered 421 4.3.2 Service not available"},
        {"smtp",
         {SAY("220 hi\r\n"), HEAR("EHLO *"), SAY("250-hi\r\n250 SIZE\r\n"), HEAR("NOOP"),
          SAY("451 4.3.0 Try later\r\n"), END()},
         "smtp: NOOP answered 451 4.3.0 Try later"},
        /* A goodbye may go unanswered, not answered wrongly. */
        {"smtp",
         {SAY("220 hi\r\n"), HEAR("EHLO *"), SAY("250 hi\r\n"), HEAR("NOOP"), SAY("250 ok\r\n"),
          HEAR("QUIT"), SAY("500 what?\r\n"), END()},
         "smtp: QUIT answered 500 what?"},
        {"imap",
         {SAY("* BYE Too many connections\r\n"), END()},
         "imap: greeting was * BYE Too many connections"},
        {"imap",
         {SAY("* OK hi\r\n"), HEAR("a1 CAPABILITY"), SAY("a1 BAD unknown\r\n"), END()},
         "imap: CAPABILITY answered a1 BAD unknown"},
        {"imap",
         {SAY("* OK hi\r\n"), HEAR("a1 CAPABILITY"), SAY("* CAPABILITY IMAP4rev1\r\na1 OK\r\n"),
          HEAR("a2 NOOP"), SAY("* 1 EXISTS\r\na2 NO mailbox gone\r\n"), END()},
         "imap: NOOP answered a2 NO mailbox gone"},
        {"pop3", {SAY("-ERR maintenance\r\n"), END()}, "pop3: greeting was -ERR maintenance"},
        {"pop3",
         {SAY("+OK hi\r\n"), HEAR("CAPA"), SAY("-ERR unknown command\r\n"), END()},
         "pop3: CAPA answered -ERR unknown command"},
        {"http",
         {HEAR("GET /health HTTP/1.0"), HEADERS(),
          SAY("HTTP/1.1 500 Internal Server Error\r\n\r\n"), END()},
         "http: status 500 Internal Server Error"},
        {"http",
         {HEAR("GET /health HTTP/1.0"), HEADERS(), SAY("HTTP/1.0 404 Not Found\r\n\r\n"), END()},
         "http: status 404 Not Found"},
        {"http",
         {HEAR("GET /health HTTP/1.0"), HEADERS(), SAY("SSH-2.0-OpenSSH_9.2\r\n"), END()},
         "http: GET answered SSH-2.0-OpenSSH_9.2"},
        {"http",
         {HEAR("GET /health HTTP/1.0"), HEADERS(), SAY("\r\n"), END()},
         "http: GET answered an empty line"},
    };
    for (size_t i = 0; i < ELEMENTS(cases); i++) {
        long long ms = expect_probe(proto_named(cases[i].proto), cases[i].script,
                                    5 * WARDEN_USEC_PER_SEC, -EPROTO, cases[i].reason);
        ck_assert_int_lt(ms, 1000);
    }
}
END_TEST

START_TEST(test_dialogue_other_good_answers)
{
    static const struct {
        const char *proto;
        struct fake_step script[10];
    } cases[] = {
        /* The goodbye unanswered: the server closes at once. */
        {"smtp",
         {SAY("220 hi\r\n"), HEAR("EHLO *"), SAY("250 hi\r\n"), HEAR("NOOP"), SAY("250 ok\r\n"),
          HEAR("QUIT"), END()}},
        {"imap",
         {SAY("* OK hi\r\n"), HEAR("a1 CAPABILITY"), SAY("a1 OK\r\n"), HEAR("a2 NOOP"),
          SAY("a2 OK\r\n"), HEAR("a3 LOGOUT"), SAY("* BYE\r\n"), END()}},
        {"pop3", {SAY("+OK\r\n"), HEAR("CAPA"), SAY("+OK\r\n.\r\n"), HEAR("QUIT"), RESET()}},
        /* SMTP replies without text; "\n" alone as a line end. */
        {"smtp",
         {SAY("220\n"), HEAR("EHLO *"), SAY("250\n"), HEAR("NOOP"), SAY("250\n"), HEAR("QUIT"),
          SAY("221\n"), END()}},
        /* A redirect is an answer; so is a status without a reason phrase. */
        {"http",
         {HEAR("GET /health HTTP/1.0"), HEADERS(), SAY("HTTP/1.1 301 Moved\r\n\r\n"), END()}},
        {"http", {HEAR("GET /health HTTP/1.0"), HEADERS(), SAY("HTTP/1.0 204\r\n\r\n"), END()}},
    };
    for (size_t i = 0; i < ELEMENTS(cases); i++) {
        expect_probe(proto_named(cases[i].proto), cases[i].script, 5 * WARDEN_USEC_PER_SEC, 0,
                     NULL);
    }
}
END_TEST

START_TEST(test_dialogue_silent)
{
    /* A frozen service: the kernel completes the handshake, the process
     * never answers. The probe fails at its deadline, not before, not much
     * after. */
    static const struct fake_step hold[] = {HOLD(), END()};
    for (size_t i = 0; i < ELEMENTS(protos); i++) {
        struct fake_step script[16];
        char want[64];
        snprintf(want, sizeof(want), "%s: no %s within", protos[i].name, protos[i].first);
        long long ms = expect_probe(&protos[i], compose(script, 16, protos[i].hello, hold),
                                    300 * MS, -ETIMEDOUT, want);
        ck_assert_int_ge(ms, 300);
        ck_assert_int_lt(ms, 300 + SLACK_MS);
    }
}
END_TEST

START_TEST(test_dialogue_closed_early)
{
    static const struct fake_step close_now[] = {END()};
    for (size_t i = 0; i < ELEMENTS(protos); i++) {
        struct fake_step script[16];
        char want[64];
        snprintf(want, sizeof(want), "%s: connection closed before the %s", protos[i].name,
                 protos[i].first);
        long long ms = expect_probe(&protos[i], compose(script, 16, protos[i].hello, close_now),
                                    5 * WARDEN_USEC_PER_SEC, -ECONNRESET, want);
        ck_assert_int_lt(ms, 1000);
    }
    /* Closed midway through a multi-line answer. */
    static const struct fake_step pop3_cut[] = {SAY("+OK\r\n"), HEAR("CAPA"), SAY("+OK\r\nTOP\r\n"),
                                                END()};
    expect_probe(proto_named("pop3"), pop3_cut, 5 * WARDEN_USEC_PER_SEC, -ECONNRESET,
                 "pop3: connection closed before the answer to CAPA");
    /* Reset rather than closed. */
    static const struct fake_step smtp_reset[] = {SAY("220 hi\r\n"), HEAR("EHLO *"), RESET()};
    char want[128];
    snprintf(want, sizeof(want), "smtp: %s before the answer to EHLO", strerror(ECONNRESET));
    expect_probe(proto_named("smtp"), smtp_reset, 5 * WARDEN_USEC_PER_SEC, -ECONNRESET, want);
}
END_TEST

START_TEST(test_dialogue_slow)
{
    /* A slow server, every answer 60ms late. All the steps share the one
     * deadline: just inside the sum of the delays the probe passes, just
     * outside it fails, though each delay alone is well within. */
    for (size_t i = 0; i < ELEMENTS(protos); i++) {
        struct fake_step script[32];
        int total = 0;
        with_pauses(script, 32, protos[i].good, 60, &total);
        expect_probe(&protos[i], script, (warden_usec_t)(total + 300) * MS, 0, NULL);

        warden_usec_t timeout = (warden_usec_t)(total - 40) * MS;
        char want[64];
        snprintf(want, sizeof(want), "%s: no ", protos[i].name);
        long long ms = expect_probe(&protos[i], script, timeout, -ETIMEDOUT, want);
        ck_assert_int_ge(ms, total - 40);
        ck_assert_int_lt(ms, total - 40 + SLACK_MS);
    }
}
END_TEST

START_TEST(test_dialogue_garbage)
{
    /* Binary garbage: a wrong answer, shown in the reason with its
     * unprintable bytes made '?' (expect_probe checks the reason is clean). */
    static const struct fake_step garbage[] = {SAY("\x01\x02\xff\xfe garbage \x1b[31m\t\r\n"),
                                               END()};
    for (size_t i = 0; i < ELEMENTS(protos); i++) {
        struct fake_step script[16];
        char want[64];
        snprintf(want, sizeof(want), "%s: ", protos[i].name);
        expect_probe(&protos[i], compose(script, 16, protos[i].hello, garbage),
                     5 * WARDEN_USEC_PER_SEC, -EPROTO, want);
    }
    expect_probe(proto_named("smtp"), garbage, 5 * WARDEN_USEC_PER_SEC, -EPROTO,
                 "smtp: greeting was ???? garbage ?[31m?");

    /* A long wrong answer is cut short in the reason. */
    static char long_answer[600];
    memset(long_answer, 'x', sizeof(long_answer) - 3);
    memcpy(long_answer, "554 ", 4);
    strcpy(long_answer + sizeof(long_answer) - 3, "\r\n");
    const struct fake_step long_wrong[] = {SAY(long_answer), END()};
    expect_probe(proto_named("smtp"), long_wrong, 5 * WARDEN_USEC_PER_SEC, -EPROTO,
                 "smtp: greeting was 554 xxx");
}
END_TEST

START_TEST(test_dialogue_line_too_long)
{
    /* A line longer than the probe's buffer fails it at once ("line too
     * long"), whether its end ever comes or not: bounded memory, no wait for
     * the deadline. */
    static char endless[3000], ended[3000];
    memset(endless, 'A', sizeof(endless) - 1);
    memset(ended, 'A', sizeof(ended) - 3);
    strcpy(ended + sizeof(ended) - 3, "\r\n");
    const struct fake_step too_long_then_hold[] = {SAY(endless), HOLD(), END()};
    const struct fake_step too_long_then_end[] = {SAY(ended), END()};
    for (size_t i = 0; i < ELEMENTS(protos); i++) {
        struct fake_step script[16];
        char want[64];
        snprintf(want, sizeof(want), "%s: line too long in the %s", protos[i].name,
                 protos[i].first);
        long long ms =
            expect_probe(&protos[i], compose(script, 16, protos[i].hello, too_long_then_hold),
                         5 * WARDEN_USEC_PER_SEC, -EPROTO, want);
        ck_assert_int_lt(ms, 1000);
        expect_probe(&protos[i], compose(script, 16, protos[i].hello, too_long_then_end),
                     5 * WARDEN_USEC_PER_SEC, -EPROTO, want);
    }

    /* The limit: a line of 1 KiB with its "\r\n" passes, one byte more does
     * not. An IMAP server's CAPABILITY line is the longest a real one says. */
    static char fits[1025], over[1026];
    snprintf(fits, sizeof(fits), "* CAPABILITY %-1009s\r\n", "IMAP4rev1");
    snprintf(over, sizeof(over), "* CAPABILITY %-1010s\r\n", "IMAP4rev1");
    ck_assert_uint_eq(strlen(fits), 1024);
    ck_assert_uint_eq(strlen(over), 1025);
    const struct fake_step imap_fits[] = {
        SAY("* OK hi\r\n"), HEAR("a1 CAPABILITY"), SAY(fits),
        SAY("a1 OK\r\n"),   HEAR("a2 NOOP"),       SAY("a2 OK\r\n"),
        HEAR("a3 LOGOUT"),  SAY("a3 OK\r\n"),      END(),
    };
    expect_probe(proto_named("imap"), imap_fits, 5 * WARDEN_USEC_PER_SEC, 0, NULL);
    const struct fake_step imap_over[] = {SAY("* OK hi\r\n"), HEAR("a1 CAPABILITY"), SAY(over),
                                          SAY("a1 OK\r\n"), END()};
    expect_probe(proto_named("imap"), imap_over, 5 * WARDEN_USEC_PER_SEC, -EPROTO,
                 "imap: line too long in the answer to CAPABILITY");
}
END_TEST

START_TEST(test_dialogue_refused)
{
    /* Nothing listens: the probe fails at once, naming the protocol and the
     * address, as tcp does. */
    int port;
    int fd = tcp_socket(-1, &port);
    char spec[64], where[64];
    snprintf(spec, sizeof(spec), "imap:127.0.0.1:%d", port);
    snprintf(where, sizeof(where), "imap 127.0.0.1:%d: ", port);
    char *reason = NULL;
    long long ms = 0;
    ck_assert_int_eq(probe(spec, 0, 5 * WARDEN_USEC_PER_SEC, &reason, &ms), -ECONNREFUSED);
    ck_assert_int_lt(ms, 1000);
    ck_assert_msg(reason && strstr(reason, where), "reason '%s'", reason);
    free(reason);
    close(fd);
}
END_TEST

START_TEST(test_dialogue_flood)
{
    /* A server that floods: it keeps the socket readable with lines that
     * continue the answer (SMTP "220-", IMAP "* ", POP3 CAPA lines without
     * the final ".", headers of an HTTP 1xx answer), or with a line without
     * end. The probe gives up by its deadline at the latest, naming the
     * step; it does not read for as long as the server writes. The server
     * floods for 3s, then closes. (Regression test: the probe looked at the
     * clock only when the socket had nothing to read, and read on until the
     * server stopped, on a whole core.) */
    static const struct {
        const char *proto;
        struct fake_step script[8];
        const char *reason;
    } cases[] = {
        {"smtp", {FLOOD("220-x\r\n", 3000), END()}, "smtp: no greeting "},
        {"smtp",
         {SAY("220 hi\r\n"), HEAR("EHLO *"), FLOOD("250-PIPELINING\r\n", 3000), END()},
         "smtp: no answer to EHLO "},
        {"imap",
         {SAY("* OK hi\r\n"), HEAR("a1 CAPABILITY"), FLOOD("* x\r\n", 3000), END()},
         "imap: no answer to CAPABILITY "},
        {"pop3",
         {SAY("+OK hi\r\n"), HEAR("CAPA"), SAY("+OK\r\n"), FLOOD("TOP\r\n", 3000), END()},
         "pop3: no answer to CAPA "},
        {"http",
         {HEAR("GET /health HTTP/1.0"), HEADERS(), SAY("HTTP/1.1 100 Continue\r\n"),
          FLOOD("X-Flood: x\r\n", 3000), END()},
         "http: no answer to GET "},
        {"http",
         {HEAR("GET /health HTTP/1.0"), HEADERS(), FLOOD("HTTP/1.1 100 Continue\r\n\r\n", 3000),
          END()},
         "http: no answer to GET "},
        /* One endless line: too long, at once. */
        {"http",
         {HEAR("GET /health HTTP/1.0"), HEADERS(), SAY("HTTP/1.1 200 "), FLOOD("OK", 3000), END()},
         "http: line too long in the answer to GET"},
    };
    for (size_t i = 0; i < ELEMENTS(cases); i++) {
        struct fake_server srv;
        char *reason = NULL;
        long long ms = 0;
        const struct proto *pr = proto_named(cases[i].proto);
        int r = serve_and_probe(&srv, pr->name, "127.0.0.1", pr->path, cases[i].script, 500 * MS,
                                &reason, &ms);
        char why[256];
        snprintf(why, sizeof(why), "%s", reason ? reason : "(none)");
        free(reason);
        ck_assert_msg(ms < 500 + SLACK_MS, "case %zu: %lld ms, reason '%s'", i, ms, why);
        ck_assert_msg(r == -EPROTO || r == -ETIMEDOUT, "case %zu: %d, reason '%s'", i, r, why);
        ck_assert_msg(strstr(why, cases[i].reason), "case %zu: reason '%s'", i, why);
        /* A flood of lines is named as such, whichever limit it met: the
         * deadline or the count of lines. */
        ck_assert_msg(strstr(why, "line too long") || strstr(why, "(endless continuation)"),
                      "case %zu: reason '%s'", i, why);
    }
}
END_TEST

START_TEST(test_dialogue_http_interim)
{
    /* An interim answer (1xx), with or without headers, before the status
     * is skipped: the status that follows decides. (Regression test:
     * "HTTP/1.1 100 Continue" failed the probe as "status 100 Continue".) */
    static const struct fake_step cont[] = {
        HEAR("GET /health HTTP/1.0"), HEADERS(),
        SAY("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), END()};
    static const struct fake_step hints[] = {
        HEAR("GET /health HTTP/1.0"),
        HEADERS(),
        SAY("HTTP/1.1 100 Continue\r\n\r\n"),
        PAUSE(20),
        SAY("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"),
        SAY("HTTP/1.1 204 No Content\r\n\r\n"),
        END()};
    static const struct fake_step then_500[] = {
        HEAR("GET /health HTTP/1.0"), HEADERS(),
        SAY("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n"), END()};
    const struct proto *http = proto_named("http");
    expect_probe(http, cont, 5 * WARDEN_USEC_PER_SEC, 0, NULL);
    expect_probe(http, hints, 5 * WARDEN_USEC_PER_SEC, 0, NULL);
    expect_probe(http, then_500, 5 * WARDEN_USEC_PER_SEC, -EPROTO, "http: status 500 Oops");
}
END_TEST

START_TEST(test_dialogue_tls)
{
    /* A port that speaks TLS: the server's first byte opens a TLS record, a
     * handshake (0x16) or an alert (0x15, a TLS server's answer to a request
     * in the clear). The reason says so. (A TLS server that waits for a
     * ClientHello is silent: "no greeting", test_dialogue_silent.)
     * (Regression test: this was "greeting was ???..." or "connection closed
     * before the answer to GET".) */
    static const struct fake_step hello[] = {SAY("\x16\x03\x03\x01\x7a\x02\x01"), HOLD(), END()};
    static const struct fake_step alert[] = {HEAR("GET /health HTTP/1.0"), HEADERS(),
                                             SAY("\x15\x03\x01\x02\x02\x32"), END()};
    long long ms = expect_probe(proto_named("smtp"), hello, 5 * WARDEN_USEC_PER_SEC, -EPROTO,
                                "smtp: server speaks TLS on this port");
    ck_assert_int_lt(ms, 1000);
    expect_probe(proto_named("http"), alert, 5 * WARDEN_USEC_PER_SEC, -EPROTO,
                 "http: server speaks TLS on this port");
    /* Only the first byte of the conversation: later, such a byte is just
     * garbage in a line. */
    static const struct fake_step later[] = {SAY("+OK hi\r\n"), HEAR("CAPA"),
                                             SAY("\x16\x03 no\r\n"), END()};
    expect_probe(proto_named("pop3"), later, 5 * WARDEN_USEC_PER_SEC, -EPROTO,
                 "pop3: CAPA answered ?? no");
}
END_TEST

START_TEST(test_reasons_quote_the_spec)
{
    /* Reasons that echo the spec (a command, a host) show it as they show a
     * server's answer: printable ASCII, at most 64 bytes of it. (Regression
     * test: the command and the host went into the reason as they were.) */
    char *reason = NULL;
    ck_assert_int_eq(probe("exec:'/nonexistent/a\r\nocf-exit-reason:forged'", 0,
                           5 * WARDEN_USEC_PER_SEC, &reason, NULL),
                     -ENOENT);
    ck_assert_msg(reason && strstr(reason, "exec /nonexistent/a??ocf-exit-reason:forged: "),
                  "reason '%s'", reason);
    assert_clean_reason(reason);
    free(reason);

    char spec[400];
    snprintf(spec, sizeof(spec), "exec:/nonexistent/%0300d", 7);
    ck_assert_int_eq(probe(spec, 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL), -ENOENT);
    ck_assert_msg(reason && strstr(reason, "000..."), "reason '%s'", reason);
    assert_clean_reason(reason);
    free(reason);

    /* The longest host name there is: its reason still fits. */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    snprintf(spec, sizeof(spec), "tcp:%0241d.invalid.:80", 0);
    memset(spec + 4, 'a', 241);
    for (int i = 4 + 60; i < 4 + 241; i += 61) {
        spec[i] = '.';
    }
    int r = probe(spec, 0, 5 * WARDEN_USEC_PER_SEC, &reason, NULL);
    unsetenv("RES_OPTIONS");
    ck_assert_int_eq(r, -WARDEN_PROBE_ERESOLVE);
    ck_assert_msg(reason && strstr(reason, "tcp: cannot resolve aaaa") && strstr(reason, "..."),
                  "reason '%s'", reason);
    assert_clean_reason(reason);
    free(reason);
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

/* A name is resolved in a thread of its own, which the probe joins
 * (lib/probe.c); pthread_join() returns a moment before the thread leaves
 * /proc/self/task, where the teardown counts threads. No event marks that
 * moment: look every millisecond, within a bound. A thread that stays is
 * still a leak. */
static void settle_threads(void)
{
    warden_usec_t limit = warden_deadline_in(2 * WARDEN_USEC_PER_SEC);
    while (check_count_threads() > check_base_threads && warden_now() < limit) {
        poll(NULL, 0, 1);
    }
}

int main(void)
{
    check_cleanup_hook = settle_threads;
    Suite *s = suite_create("probe");
    add_tcase(s, test_parse_accepts, 10);
    add_tcase(s, test_parse_rejects, 10);
    add_tcase(s, test_tcp_open, 10);
    add_tcase(s, test_tcp_open_ipv6, 10);
    add_tcase(s, test_tcp_refused, 10);
    add_tcase(s, test_tcp_unresolvable, 10);
    add_tcase(s, test_resolve_expired_deadline, 10);
    add_tcase(s, test_resolve_hung_dns, 30);
    add_tcase(s, test_tcp_no_answer, 10);
    add_tcase(s, test_tcp_tries_every_address, 10);
    add_tcase(s, test_dialogue_good, 10);
    add_tcase(s, test_dialogue_sends, 10);
    add_tcase(s, test_dialogue_ipv6_and_names, 10);
    add_tcase(s, test_dialogue_wrong_answers, 10);
    add_tcase(s, test_dialogue_other_good_answers, 10);
    add_tcase(s, test_dialogue_silent, 10);
    add_tcase(s, test_dialogue_closed_early, 10);
    add_tcase(s, test_dialogue_slow, 20);
    add_tcase(s, test_dialogue_garbage, 10);
    add_tcase(s, test_dialogue_line_too_long, 10);
    add_tcase(s, test_dialogue_refused, 10);
    add_tcase(s, test_dialogue_flood, 20);
    add_tcase(s, test_dialogue_http_interim, 10);
    add_tcase(s, test_dialogue_tls, 10);
    add_tcase(s, test_reasons_quote_the_spec, 10);
    add_tcase(s, test_exec, 10);
    add_tcase(s, test_exec_environment, 10);
    add_tcase(s, test_exec_hung, 10);
    add_tcase(s, test_process, 10);
    add_tcase(s, test_process_probe_failure_is_not_gone, 10);
    return check_run("check_probe", s);
}
