/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reaching HOST:PORT under a deadline: the part of every network probe
 * (tcp:, the protocol dialogues, an agent's warden_dialogue_run()) before
 * the first byte is said. Resolving a name is bounded by the deadline too
 * (in a thread: see "resolving HOST"). */
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>

#include "connect-int.h"
#include "util-int.h"
#include "warden/probe.h"

const char *warden__answer_shown(const char *text, size_t len,
                                 char buf[static WARDEN_ANSWER_SHOWN_SIZE])
{
    if (len == 0) {
        return "an empty line";
    }
    return warden__text_shown(text, len, WARDEN_ANSWER_SHOWN, buf);
}

const char *warden__probe_waited_in(warden_usec_t start, warden_usec_t deadline,
                                    char buf[static WARDEN_WAITED_SIZE])
{
    warden_usec_t had = deadline > start ? deadline - start : 0;
    had =
        (had + 5 * WARDEN_USEC_PER_MSEC) / (10 * WARDEN_USEC_PER_MSEC) * 10 * WARDEN_USEC_PER_MSEC;
    return warden_time_format(had, buf, WARDEN_WAITED_SIZE);
}

int warden__probe_fail(char **ret_reason, int r, const char *fmt, ...)
{
    if (ret_reason) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret_reason, fmt, ap) < 0) {
            *ret_reason = NULL;
        }
        va_end(ap);
    }
    return r;
}

bool warden__port_parse(const char *text, char ret[static 6])
{
    size_t n = strspn(text, "0123456789");
    if (n == 0 || n > 5 || text[n] != '\0') {
        return false;
    }
    long port = strtol(text, NULL, 10);
    if (port < 1 || port > 65535) {
        return false;
    }
    /* Kept without leading zeros, as reasons and the Host header show it. */
    snprintf(ret, 6, "%ld", port);
    return true;
}

bool warden__host_ok(const char *host, size_t len)
{
    if (len == 0 || len > 253) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)host[i];
        if (ch <= ' ' || ch >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* Connect to one address; 0 and the connected (non-blocking) socket,
 * -ETIMEDOUT at the deadline, or -errno. */
static int tcp_connect(const struct addrinfo *ai, warden_usec_t deadline, int *ret_fd)
{
    _cleanup_close_ int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return negative_errno();
    }
    int r = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        r = errno == EINPROGRESS ? 1 : negative_errno();
    }
    while (r == 1) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int n = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
        if (n == 0) {
            r = -ETIMEDOUT;
        } else if (n < 0 && errno != EINTR) {
            r = negative_errno();
        } else if (n > 0) {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            r = -err;
        }
    }
    if (r == 0) {
        *ret_fd = TAKE_FD(fd);
    }
    return r;
}

/* ---- resolving HOST, under the deadline ------------------------------------
 *
 * getaddrinfo() takes no deadline: glibc's resolver waits timeout x attempts
 * for each name server (resolv.conf: seconds to minutes), and an NSS module
 * may wait longer still. A DNS outage would then hold every probe that names
 * a host past its check_timeout, and the keeper would call the service hung.
 * So a name is resolved in a thread of its own, and the probe waits for it
 * only until the deadline.
 *
 * Nothing can stop a getaddrinfo() that has begun (gai_cancel() does not
 * either: EAI_NOTCANCELED), so a lookup still running at the deadline is
 * abandoned: its thread finishes it, frees everything and ends. getaddrinfo_a()
 * would do the same in a pool of glibc's, whose threads linger a second after
 * each lookup and whose request must outlive an abandoned wait all the same;
 * one thread per lookup, joined when it answers in time, is simpler to
 * account for (and leaves nothing behind when it does).
 *
 * The keeper probes every check_interval, for as long as a DNS server may hang:
 * at most MAX_ABANDONED lookups may be left running in a process, after which
 * a probe that needs one more fails at once, so that threads cannot pile up. */
#define MAX_ABANDONED 4

static atomic_int abandoned_lookups;

int warden__connect_lookups_abandoned(void)
{
    return atomic_load(&abandoned_lookups);
}

struct lookup {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC, the deadline's clock */
    bool done;           /* the thread has answered: gai and list are set */
    bool abandoned;      /* the probe stopped waiting: the thread frees this */
    int gai;             /* getaddrinfo()'s result */
    int sys_errno;       /* and errno, for EAI_SYSTEM */
    struct addrinfo *list;
    char *host;
    char *port;
};

static void lookup_free(struct lookup *l)
{
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    if (l->list) {
        freeaddrinfo(l->list);
    }
    free(l->host);
    free(l->port);
    free(l);
}

static const struct addrinfo lookup_hints = {.ai_socktype = SOCK_STREAM,
                                             .ai_flags = AI_NUMERICSERV};

static void *lookup_thread(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo *list = NULL;
    int g = getaddrinfo(l->host, l->port, &lookup_hints, &list);
    int e = errno;
    pthread_mutex_lock(&l->lock);
    l->gai = g;
    l->sys_errno = e;
    l->list = list;
    l->done = true;
    bool abandoned = l->abandoned;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    /* Abandoned, the lookup is this thread's alone: the probe set the flag
     * under the lock, and no longer looks. */
    if (abandoned) {
        lookup_free(l);
        atomic_fetch_sub(&abandoned_lookups, 1);
    }
    return NULL;
}

/* Start a lookup thread for host:port. Every signal is blocked in it: a
 * thread that only waits for a name must not be where the agent's or the
 * keeper's signals get delivered. */
static int lookup_start(struct lookup *l, pthread_t *ret_thread)
{
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    int e = pthread_create(ret_thread, NULL, lookup_thread, l);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return -e;
}

/* What getaddrinfo() said, as a reason says it. */
static const char *lookup_error(int gai, int sys_errno)
{
    return gai == EAI_SYSTEM ? strerror(sys_errno) : gai_strerror(gai);
}

/* Resolve host:port by deadline. 0 and the addresses (freeaddrinfo() them);
 * 1 when getaddrinfo() said no, its error in *ret_gai (errno in *ret_errno
 * for EAI_SYSTEM); -ETIMEDOUT, the deadline passed first (the lookup may go
 * on, abandoned); -EBUSY, too many earlier lookups are still running;
 * -ENOMEM; -EAGAIN (no thread). */
static int resolve(const char *host, const char *port, warden_usec_t deadline,
                   struct addrinfo **ret_list, int *ret_gai, int *ret_errno)
{
    /* An address needs no lookup, and no thread: AI_NUMERICHOST never
     * blocks. Give addresses where DNS may fail. */
    struct addrinfo hints = lookup_hints;
    hints.ai_flags |= AI_NUMERICHOST;
    int g = getaddrinfo(host, port, &hints, ret_list);
    if (g == 0) {
        return 0;
    }
    if (g != EAI_NONAME) {
        *ret_gai = g;
        *ret_errno = errno;
        return g == EAI_MEMORY ? -ENOMEM : 1;
    }
    /* A name. No lookup starts that could not end in time. */
    if (warden_now() >= deadline) {
        return -ETIMEDOUT;
    }
    if (atomic_load(&abandoned_lookups) >= MAX_ABANDONED) {
        return -EBUSY;
    }
    struct lookup *l = calloc(1, sizeof(*l));
    if (!l) {
        return -ENOMEM;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&l->lock, NULL);
    l->host = strdup(host);
    l->port = strdup(port);
    pthread_t thread;
    int r = l->host && l->port ? lookup_start(l, &thread) : -ENOMEM;
    if (r < 0) {
        lookup_free(l);
        return r;
    }

    pthread_mutex_lock(&l->lock);
    struct timespec ts = {.tv_sec = (time_t)(deadline / WARDEN_USEC_PER_SEC),
                          .tv_nsec = (long)(deadline % WARDEN_USEC_PER_SEC) * 1000};
    int e = 0;
    while (!l->done && e != ETIMEDOUT) {
        e = deadline == WARDEN_USEC_INFINITY ? pthread_cond_wait(&l->cond, &l->lock)
                                             : pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
    if (!l->done) {
        /* Counted before the thread can see the flag, so that its count
         * down never comes first. */
        atomic_fetch_add(&abandoned_lookups, 1);
        l->abandoned = true;
        pthread_mutex_unlock(&l->lock);
        /* It may have ended and freed l by now; the thread id is ours. */
        pthread_detach(thread);
        return -ETIMEDOUT;
    }
    pthread_mutex_unlock(&l->lock);
    pthread_join(thread, NULL);
    r = l->gai == 0 ? 0 : l->gai == EAI_MEMORY ? -ENOMEM : 1;
    if (r == 0) {
        *ret_list = TAKE_PTR(l->list);
    } else {
        *ret_gai = l->gai;
        *ret_errno = l->sys_errno;
    }
    lookup_free(l);
    return r;
}

/* Connect to the probe's HOST:PORT: 0 and the socket, or -errno and a
 * reason that starts with @what ("tcp", "smtp"). Shared by every kind that
 * talks TCP. A host that does not resolve in time is not a service that does
 * not answer: it fails with -WARDEN_PROBE_ERESOLVE, never -ETIMEDOUT. */

int warden__connect(const char *what, const char *host, const char *port, warden_usec_t start,
                    warden_usec_t deadline, int *ret_fd, char **ret_reason)
{
    char shown[WARDEN_ANSWER_SHOWN_SIZE];
    WARDEN_SHOWN(host, shown);
    struct addrinfo *list = NULL;
    int g = 0, e = 0;
    int r = resolve(host, port, deadline, &list, &g, &e);
    if (r == -ENOMEM) {
        return r;
    }
    if (r != 0) {
        char why[80];
        if (r == -ETIMEDOUT) {
            snprintf(why, sizeof(why), " within %s", warden__probe_waited(start, deadline));
        } else if (r == -EBUSY) {
            snprintf(why, sizeof(why), ": %d earlier lookups have not ended", MAX_ABANDONED);
        } else if (r == 1) {
            snprintf(why, sizeof(why), ": %s", lookup_error(g, e));
        } else {
            snprintf(why, sizeof(why), ": %s", strerror(-r));
        }
        return warden__probe_fail(ret_reason, -WARDEN_PROBE_ERESOLVE, "%s: cannot resolve %s%s",
                                  what, shown, why);
    }
    /* A name may resolve to several addresses (localhost: ::1, then
     * 127.0.0.1); the service may listen on any one of them. */
    r = -EHOSTUNREACH;
    for (const struct addrinfo *ai = list; ai && r != 0 && r != -ETIMEDOUT; ai = ai->ai_next) {
        r = tcp_connect(ai, deadline, ret_fd);
    }
    freeaddrinfo(list);
    if (r == -ETIMEDOUT) {
        return warden__probe_fail(ret_reason, r, "%s %s:%s: no connection within %s", what, shown,
                                  port, warden__probe_waited(start, deadline));
    }
    if (r < 0) {
        return warden__probe_fail(ret_reason, r, "%s %s:%s: %s", what, shown, port, strerror(-r));
    }
    return 0;
}
