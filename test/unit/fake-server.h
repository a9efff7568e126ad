/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A scripted fake server for the protocol probes: it listens on the loopback
 * address, any port, in a thread of the test, and serves every connection it
 * accepts by the same script: lines to say, lines it expects to hear, pauses,
 * silence, a reset. It never asserts (Check's assertions belong to the test's
 * thread): it records what it heard and the first surprise, and the test
 * looks once it has stopped the server. Every wait of the server is bounded,
 * so a broken probe cannot hang a test past its own timeout.
 *
 * Included by one test file, so everything here is static. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "check_common.h"

enum fake_op {
    FAKE_END,     /* the end of a script: close the connection */
    FAKE_SAY,     /* send text as it is (the script writes the "\r\n") */
    FAKE_HEAR,    /* read a line; it must be text ("X*": start with X) */
    FAKE_HEADERS, /* read lines up to an empty one (an HTTP request's headers) */
    FAKE_PAUSE,   /* wait ms, or until the client leaves */
    FAKE_HOLD,    /* say nothing until the client leaves: a frozen service */
    FAKE_RESET,   /* close with a reset (RST), not a FIN */
    FAKE_FLOOD,   /* send text again and again, without a pause, for ms or until
                     the client leaves: a server that keeps the socket readable */
};

struct fake_step {
    enum fake_op op;
    const char *text;
    int ms;
};

#define SAY(t)                                                                                     \
    {                                                                                              \
        FAKE_SAY, (t), 0                                                                           \
    }
#define HEAR(t)                                                                                    \
    {                                                                                              \
        FAKE_HEAR, (t), 0                                                                          \
    }
#define HEADERS()                                                                                  \
    {                                                                                              \
        FAKE_HEADERS, NULL, 0                                                                      \
    }
#define PAUSE(ms)                                                                                  \
    {                                                                                              \
        FAKE_PAUSE, NULL, (ms)                                                                     \
    }
#define HOLD()                                                                                     \
    {                                                                                              \
        FAKE_HOLD, NULL, 0                                                                         \
    }
#define RESET()                                                                                    \
    {                                                                                              \
        FAKE_RESET, NULL, 0                                                                        \
    }
#define FLOOD(t, ms)                                                                               \
    {                                                                                              \
        FAKE_FLOOD, (t), (ms)                                                                      \
    }
#define END()                                                                                      \
    {                                                                                              \
        FAKE_END, NULL, 0                                                                          \
    }

/* The longest the server waits for anything, so that it cannot outlive a
 * test that went wrong by much. */
#define FAKE_WAIT_MS 10000

struct fake_server {
    int listen_fd;
    int stop_fd; /* an eventfd: the test is done, stop accepting */
    int port;
    pthread_t thread;
    pid_t tid; /* the thread's, for /proc/self/task */
    const struct fake_step *script;
    /* Written by the server thread, read by the test after the join. */
    int served;       /* connections accepted */
    bool completed;   /* the last one ran its script to the end */
    char error[256];  /* the first surprise: a line not expected, the client gone */
    char heard[4096]; /* every line heard, each ending in "\n" */
    size_t heard_len;
};

static void fake_note(struct fake_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fake_note(struct fake_server *s, const char *fmt, ...)
{
    if (s->error[0]) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof(s->error), fmt, ap);
    va_end(ap);
}

/* Wait for events on fd for at most ms; the revents, 0 on timeout. */
static short fake_wait(int fd, short events, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int n;
    do {
        n = poll(&pfd, 1, ms);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? pfd.revents : 0;
}

/* Read one line (without its "\r\n") into line; false when the client left
 * or was silent too long. Reads a byte at a time: the fake server is no
 * place for speed, and nothing it has not been asked for is consumed. */
static bool fake_read_line(struct fake_server *s, int fd, char *line, size_t size)
{
    size_t len = 0;
    for (;;) {
        if (!(fake_wait(fd, POLLIN, FAKE_WAIT_MS) & (POLLIN | POLLHUP | POLLERR))) {
            fake_note(s, "nothing heard within %d ms", FAKE_WAIT_MS);
            return false;
        }
        char ch;
        ssize_t n = recv(fd, &ch, 1, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fake_note(s, "the client left (%s)", n == 0 ? "closed" : strerror(errno));
            return false;
        }
        if (ch == '\n') {
            break;
        }
        if (len + 1 < size) {
            line[len++] = ch;
        }
    }
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    line[len] = '\0';
    int n = snprintf(s->heard + s->heard_len, sizeof(s->heard) - s->heard_len, "%s\n", line);
    if (n > 0 && s->heard_len + (size_t)n < sizeof(s->heard)) {
        s->heard_len += (size_t)n;
    }
    return true;
}

static bool fake_hear(struct fake_server *s, int fd, const char *want)
{
    char line[2048];
    if (!fake_read_line(s, fd, line, sizeof(line))) {
        return false;
    }
    size_t n = strlen(want);
    bool ok =
        n > 0 && want[n - 1] == '*' ? strncmp(line, want, n - 1) == 0 : strcmp(line, want) == 0;
    if (!ok) {
        fake_note(s, "expected '%s', heard '%s'", want, line);
    }
    return ok;
}

/* Wait ms, or until the client shuts its side (then false). POLLRDHUP alone:
 * what the client sends meanwhile waits for the next HEAR. */
static bool fake_pause(struct fake_server *s, int fd, int ms)
{
    if (fake_wait(fd, POLLRDHUP, ms)) {
        fake_note(s, "the client left during a pause");
        return false;
    }
    return true;
}

/* Send text over and over for ms, as fast as the client takes it, in
 * chunks of many copies (a server that floods keeps the client's socket
 * readable: one copy per send() would let it drain); false when the client
 * left (the flood's normal end: it gave up). Never blocks past ms: a client
 * that stops reading only makes the server wait. */
static bool fake_flood(int fd, const char *text, int ms)
{
    static __thread char chunk[16384];
    size_t len = strlen(text), size = 0;
    while (size + len <= sizeof(chunk)) {
        memcpy(chunk + size, text, len);
        size += len;
    }
    warden_usec_t end = warden_deadline_in((warden_usec_t)ms * WARDEN_USEC_PER_MSEC);
    size_t off = 0;
    for (;;) {
        warden_usec_t now = warden_now();
        if (now >= end) {
            return true;
        }
        int left = (int)((end - now) / WARDEN_USEC_PER_MSEC) + 1;
        short ev = fake_wait(fd, POLLOUT | POLLRDHUP, left);
        if (ev & (POLLRDHUP | POLLHUP | POLLERR)) {
            return false;
        }
        if (!(ev & POLLOUT)) {
            continue;
        }
        ssize_t n = send(fd, chunk + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        }
        if (n > 0) {
            off = (off + (size_t)n) % size;
        }
    }
}

/* Serve one connection by the script; closes fd. */
static void fake_serve_one(struct fake_server *s, int fd)
{
    char line[2048];
    s->completed = false;
    for (const struct fake_step *st = s->script;; st++) {
        bool ok = true;
        switch (st->op) {
        case FAKE_END:
            s->completed = true;
            close(fd);
            return;
        case FAKE_SAY:
            ok = send(fd, st->text, strlen(st->text), MSG_NOSIGNAL) == (ssize_t)strlen(st->text);
            if (!ok) {
                fake_note(s, "cannot say '%.40s': %s", st->text, strerror(errno));
            }
            break;
        case FAKE_HEAR:
            ok = fake_hear(s, fd, st->text);
            break;
        case FAKE_HEADERS:
            do {
                ok = fake_read_line(s, fd, line, sizeof(line));
            } while (ok && line[0]);
            break;
        case FAKE_PAUSE:
            ok = fake_pause(s, fd, st->ms);
            break;
        case FAKE_HOLD:
            if (!fake_wait(fd, POLLRDHUP, FAKE_WAIT_MS)) {
                fake_note(s, "the client stayed %d ms", FAKE_WAIT_MS);
            }
            s->completed = true;
            ok = false;
            break;
        case FAKE_FLOOD:
            if (!fake_flood(fd, st->text, st->ms)) {
                s->completed = true;
                ok = false;
            }
            break;
        case FAKE_RESET: {
            /* Linger on, with a time of 0: close() sends a RST. */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            s->completed = true;
            ok = false;
            break;
        }
        }
        if (!ok) {
            close(fd);
            return;
        }
    }
}

static void *fake_server_thread(void *arg)
{
    struct fake_server *s = arg;
    s->tid = gettid();
    for (;;) {
        struct pollfd pfd[2] = {{.fd = s->listen_fd, .events = POLLIN},
                                {.fd = s->stop_fd, .events = POLLIN}};
        int n = poll(pfd, 2, FAKE_WAIT_MS);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        /* A connection waiting goes first, even when the test has already
         * asked to stop: the probe may have given up before the server got
         * to accept it. */
        if (n <= 0 || !(pfd[0].revents & POLLIN)) {
            if (n == 0) {
                fake_note(s, "neither a connection nor a stop within %d ms", FAKE_WAIT_MS);
            }
            return NULL;
        }
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            s->served++;
            fake_serve_one(s, fd);
        }
    }
}

/* Listen on the loopback address of family (AF_INET, AF_INET6) and serve
 * script (it must outlive the server); 0, or -errno when the address cannot
 * be bound (no IPv6 here, say). */
static int fake_server_start(struct fake_server *s, int family, const struct fake_step *script)
{
    *s = (struct fake_server){.listen_fd = -EBADF, .stop_fd = -EBADF, .script = script};
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET6) {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
        *sa = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        len = sizeof(*sa);
    } else {
        struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
        *sa =
            (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        len = sizeof(*sa);
    }
    s->listen_fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&ss, len) < 0) {
        int r = -errno;
        if (s->listen_fd >= 0) {
            close(s->listen_fd);
        }
        return r;
    }
    ck_assert_int_eq(listen(s->listen_fd, 16), 0);
    ck_assert_int_eq(getsockname(s->listen_fd, (struct sockaddr *)&ss, &len), 0);
    s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    ck_assert_int_ge(s->stop_fd, 0);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, fake_server_thread, s), 0);
    return 0;
}

/* Stop accepting, wait for the connection being served to end, and free
 * everything; then the test may look at what the server heard. */
static void fake_server_stop(struct fake_server *s)
{
    uint64_t one = 1;
    ck_assert_int_eq(write(s->stop_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
    ck_assert_int_eq(pthread_join(s->thread, NULL), 0);
    close(s->stop_fd);
    close(s->listen_fd);
    /* pthread_join() returns once the kernel clears the thread's tid, a
     * moment before the thread leaves /proc/self/task, where the teardown
     * counts threads. No event marks that moment; look every millisecond,
     * within a bound. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d", (int)s->tid);
    warden_usec_t limit = warden_deadline_in(5 * WARDEN_USEC_PER_SEC);
    while (access(path, F_OK) == 0) {
        ck_assert_msg(warden_now() < limit, "the fake server's thread did not go");
        poll(NULL, 0, 1);
    }
}
