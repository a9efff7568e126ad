/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Health probes. Each kind is a row of a table: its prefix, how to parse
 * what follows, how to run. Every step is bounded by the one deadline,
 * resolving a host name included (in a thread: see "resolving HOST").
 * Reasons show what is not ours (a server's bytes, a host, a command) through
 * shown(): printable ASCII, bounded.
 *
 * The protocol probes (smtp, imap, pop3, http) are one function and a table
 * each: a dialogue of steps, "send this line, then the answer's last line must
 * start with that", spoken over a non-blocking socket through a bounded line
 * reader. */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "probe-int.h"
#include "proc-int.h"
#include "util-int.h"
#include "warden/probe.h"

struct warden_probe {
    const struct probe_kind *kind;
    char *spec;
    char *host; /* tcp and the protocols */
    char *port;
    char *path;              /* http: "/..." */
    struct warden_exec exec; /* exec */
    /* agent: bound by the library (hook.c) */
    warden_probe_agent_fn agent_fn;
    void *agent_userdata;
    void (*agent_free)(void *);
};

struct probe_kind {
    const char *prefix;
    int (*parse)(warden_probe *p, const char *arg);
    int (*run)(const warden_probe *p, const struct warden_probe_context *ctx,
               warden_usec_t deadline, char **ret_reason);
    const struct dialogue *dialogue; /* the protocol probes */
};

static void set_reason(char **ret_reason, char *reason)
{
    if (ret_reason) {
        *ret_reason = reason;
    } else {
        free(reason);
    }
}

/* How much of a text not ours (a server's answer, a host or a command from
 * the spec) a reason shows: Pacemaker keeps 128 bytes of an exit reason, and
 * the protocol and the step come first. */
#define ANSWER_SHOWN 64

/* Text as a reason shows it: the first ANSWER_SHOWN bytes, with what is not
 * printable ASCII made '?', so that the reason stays one clean, short line
 * whatever a server sends or a spec holds. */
static const char *shown(const char *text, size_t len, char buf[static ANSWER_SHOWN + 4])
{
    if (len == 0) {
        return "an empty line";
    }
    return warden__text_shown(text, len, ANSWER_SHOWN, buf);
}

/* The same for a C string. */
#define SHOWN(text, buf) shown((text), strlen(text), (buf))

/* The time the probe had, for "no answer within ..." (check_timeout, not the
 * microseconds short of it that were left when the probe began). */
static char *waited(warden_usec_t start, warden_usec_t deadline)
{
    static __thread char buf[32];
    warden_usec_t had = deadline > start ? deadline - start : 0;
    had =
        (had + 5 * WARDEN_USEC_PER_MSEC) / (10 * WARDEN_USEC_PER_MSEC) * 10 * WARDEN_USEC_PER_MSEC;
    return warden_time_format(had, buf, sizeof(buf));
}

/* ---- process: the main process is alive -------------------------------- */

static int process_parse(_unused_ warden_probe *p, const char *arg)
{
    return isempty(arg) ? 0 : -EINVAL;
}

static int process_run(_unused_ const warden_probe *p, const struct warden_probe_context *ctx,
                       _unused_ warden_usec_t deadline, char **ret_reason)
{
    struct warden_pidref ref = WARDEN_PIDREF_NULL;
    int r = ctx->main_pid > 0 ? warden__pidref_open(ctx->main_pid, 0, &ref) : -ESRCH;
    if (r == -ESRCH) {
        set_reason(ret_reason, warden__strdup_printf("process %d is gone", (int)ctx->main_pid));
        return r;
    }
    if (r < 0) {
        /* Out of fds, say: the check failed, which says nothing of the
         * process. */
        set_reason(ret_reason, warden__strdup_printf("cannot look at process %d: %s",
                                                     (int)ctx->main_pid, strerror(-r)));
        return r;
    }
    warden__pidref_done(&ref);
    return 0;
}

/* ---- tcp:HOST:PORT: a connection is accepted ----------------------------- */

/* PORT: 1 to 5 digits, 1-65535. Not strtol(), which also takes blanks, a
 * sign and any number of leading zeros ("tcp:h: 80", "tcp:h:+80"): such a
 * spec would pass validation and fail only when run, as "cannot resolve". */
static bool port_parse(const char *text, char ret[static 6])
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

/* HOST: a name or an address, which is printable ASCII without blanks and no
 * longer than a DNS name. Anything else cannot resolve; refused here, it
 * cannot put control bytes into a reason or the HTTP Host header either. */
static bool host_ok(const char *host, size_t len)
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

static int tcp_parse(warden_probe *p, const char *arg)
{
    const char *colon;
    const char *host = arg;
    size_t hlen;
    if (*arg == '[') {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':') {
            return -EINVAL;
        }
        host = arg + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (!colon) {
            return -EINVAL;
        }
        hlen = (size_t)(colon - arg);
    }
    char port[6];
    if (!host_ok(host, hlen) || !port_parse(colon + 1, port)) {
        return -EINVAL;
    }
    p->host = strndup(host, hlen);
    p->port = strdup(port);
    return p->host && p->port ? 0 : -ENOMEM;
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

int warden__probe_lookups_abandoned(void)
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
static int tcp_open(const warden_probe *p, const char *what, warden_usec_t start,
                    warden_usec_t deadline, int *ret_fd, char **ret_reason)
{
    char host[ANSWER_SHOWN + 4];
    SHOWN(p->host, host);
    struct addrinfo *list = NULL;
    int g = 0, e = 0;
    int r = resolve(p->host, p->port, deadline, &list, &g, &e);
    if (r == -ENOMEM) {
        return r;
    }
    if (r != 0) {
        char why[80];
        if (r == -ETIMEDOUT) {
            snprintf(why, sizeof(why), " within %s", waited(start, deadline));
        } else if (r == -EBUSY) {
            snprintf(why, sizeof(why), ": %d earlier lookups have not ended", MAX_ABANDONED);
        } else if (r == 1) {
            snprintf(why, sizeof(why), ": %s", lookup_error(g, e));
        } else {
            snprintf(why, sizeof(why), ": %s", strerror(-r));
        }
        set_reason(ret_reason, warden__strdup_printf("%s: cannot resolve %s%s", what, host, why));
        return -WARDEN_PROBE_ERESOLVE;
    }
    /* A name may resolve to several addresses (localhost: ::1, then
     * 127.0.0.1); the service may listen on any one of them. */
    r = -EHOSTUNREACH;
    for (const struct addrinfo *ai = list; ai && r != 0 && r != -ETIMEDOUT; ai = ai->ai_next) {
        r = tcp_connect(ai, deadline, ret_fd);
    }
    freeaddrinfo(list);
    if (r == -ETIMEDOUT) {
        set_reason(ret_reason, warden__strdup_printf("%s %s:%s: no connection within %s", what,
                                                     host, p->port, waited(start, deadline)));
    } else if (r < 0) {
        set_reason(ret_reason,
                   warden__strdup_printf("%s %s:%s: %s", what, host, p->port, strerror(-r)));
    }
    return r;
}

static int tcp_run(const warden_probe *p, _unused_ const struct warden_probe_context *ctx,
                   warden_usec_t deadline, char **ret_reason)
{
    int fd = -EBADF;
    int r = tcp_open(p, "tcp", warden_now(), deadline, &fd, ret_reason);
    if (r == 0) {
        close(fd);
    }
    return r;
}

/* ---- exec:COMMAND: the command exits 0 --------------------------------- */

static int exec_parse(warden_probe *p, const char *arg)
{
    int r = warden__argv_split(arg, &p->exec.argv);
    if (r < 0) {
        return r;
    }
    /* Resolve the path at run time: the check may be installed later than
     * the parameter is validated, and the answer then is "failed", not
     * "misconfigured". */
    return 0;
}

static int exec_run(const warden_probe *p, const struct warden_probe_context *ctx,
                    warden_usec_t deadline, char **ret_reason)
{
    warden_usec_t start = warden_now();
    char name[ANSWER_SHOWN + 4]; /* argv[0] as reasons show it */
    SHOWN(p->exec.argv[0], name);
    struct warden_exec e = {0};
    warden__exec_copy_user(&e, ctx ? ctx->service_exec : NULL);
    _cleanup_free_ char *path = NULL;
    int r = warden__find_executable(p->exec.argv[0], &path);
    if (r < 0) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: %s", name, strerror(-r)));
        return r;
    }
    r = warden__exec_environment(&e.envp);
    if (r < 0) {
        return r;
    }
    size_t n = 0;
    while (p->exec.argv[n]) {
        n++;
    }
    /* A shallow copy of argv with the resolved path in front; the words
     * stay owned by the probe. */
    char **argv = calloc(n + 1, sizeof(char *));
    if (!argv) {
        warden__strv_free(e.envp);
        return -ENOMEM;
    }
    argv[0] = path;
    for (size_t i = 1; i < n; i++) {
        argv[i] = p->exec.argv[i];
    }
    e.argv = argv;
    int status = 0;
    r = warden__run(&e, deadline, &status);
    free(argv);
    warden__strv_free(e.envp);
    if (r == -ETIMEDOUT) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: no answer within %s", name,
                                                     waited(start, deadline)));
        return r;
    }
    if (r < 0) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: %s", name, strerror(-r)));
        return r;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    if (WIFSIGNALED(status)) {
        set_reason(ret_reason,
                   warden__strdup_printf("exec %s: killed by signal %d", name, WTERMSIG(status)));
    } else {
        set_reason(ret_reason,
                   warden__strdup_printf("exec %s: exit status %d", name, WEXITSTATUS(status)));
    }
    return -EIO;
}

/* ---- smtp, imap, pop3, http: a short dialogue ---------------------------- */

/* The longest line read, its end ("\r\n") included: a longer one fails the
 * probe ("line too long"). Plenty for greetings, status lines and IMAP
 * CAPABILITY; a service that sends more is not one we can judge. */
#define LINE_MAX_BYTES 1024

/* The most lines one answer may have, continuation lines (SMTP's "250-",
 * IMAP's untagged "* "), POP3's CAPA list and HTTP's interim answers
 * included. A real one has a few dozen; a server that sends more without end
 * would otherwise keep the probe reading until its deadline, on a whole core. */
#define ANSWER_MAX_LINES 1000

/* One conversation over a non-blocking socket; every wait ends at the
 * deadline. */
struct conn {
    int fd;
    warden_usec_t deadline;
    bool closed;    /* the peer closed the connection (rather than reset it) */
    bool heard;     /* the peer has sent something */
    bool flooded;   /* the deadline passed while lines were still coming */
    unsigned lines; /* lines read in the current step */
    size_t len;     /* bytes in buf */
    size_t used;    /* of which the line last returned, with its end */
    char buf[LINE_MAX_BYTES];
};

/* conn_read_line()'s answer to a server whose first byte opens a TLS record:
 * 0x16 a handshake, 0x15 an alert (what a TLS server answers to a request in
 * the clear). No line of SMTP, IMAP, POP3 or HTTP starts with either. */
#define ERR_TLS (-EPROTONOSUPPORT)

/* Wait for @events on @fd: 0 (ready, or an error the next call will say),
 * -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, warden_usec_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
        if (n > 0) {
            return 0;
        }
        if (n == 0) {
            return -ETIMEDOUT;
        }
        if (errno != EINTR) {
            return negative_errno();
        }
    }
}

static int conn_send(struct conn *c, const char *text)
{
    size_t left = strlen(text);
    while (left > 0) {
        /* MSG_NOSIGNAL: a peer that has gone is an answer (EPIPE), not a
         * SIGPIPE that kills the agent or the keeper. */
        ssize_t n = send(c->fd, text, left, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            text += n;
            left -= (size_t)n;
        } else if (errno == EAGAIN) {
            int r = wait_fd(c->fd, POLLOUT, c->deadline);
            if (r < 0) {
                return r;
            }
        } else if (errno != EINTR) {
            return negative_errno();
        }
    }
    return 0;
}

/* Read the next line: 0 and the line, its end stripped, NUL-terminated (it
 * may hold other NULs: hence ret_len), valid until the next call;
 * -ETIMEDOUT; -ECONNRESET when the peer closed (c->closed) or reset;
 * -EMSGSIZE for a line that does not fit in the buffer; ERR_TLS; another
 * -errno. */
static int conn_read_line(struct conn *c, char **ret_line, size_t *ret_len)
{
    memmove(c->buf, c->buf + c->used, c->len - c->used);
    c->len -= c->used;
    c->used = 0;
    size_t scanned = 0;
    for (;;) {
        /* The clock is read on every pass, not only when recv() has nothing
         * (in wait_fd()): a server that keeps the socket readable never lets
         * it say EAGAIN, and would keep the probe past its deadline. */
        if (warden_now() >= c->deadline) {
            c->flooded = c->lines > 0;
            return -ETIMEDOUT;
        }
        char *nl = memchr(c->buf + scanned, '\n', c->len - scanned);
        if (nl) {
            size_t len = (size_t)(nl - c->buf);
            c->used = len + 1;
            if (len > 0 && c->buf[len - 1] == '\r') {
                len--;
            }
            c->buf[len] = '\0';
            c->lines++;
            *ret_line = c->buf;
            *ret_len = len;
            return 0;
        }
        scanned = c->len;
        if (c->len == sizeof(c->buf)) {
            return -EMSGSIZE;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
        if (n > 0) {
            /* A TLS-only port: say so, rather than "no greeting" or a
             * wrong answer of binary bytes. */
            if (!c->heard && (c->buf[c->len] == 0x15 || c->buf[c->len] == 0x16)) {
                return ERR_TLS;
            }
            c->heard = true;
            c->len += (size_t)n;
        } else if (n == 0) {
            c->closed = true;
            return -ECONNRESET;
        } else if (errno == EAGAIN) {
            int r = wait_fd(c->fd, POLLIN, c->deadline);
            if (r < 0) {
                return r;
            }
        } else if (errno != EINTR) {
            return negative_errno();
        }
    }
}

static bool has_prefix(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

/* The status code of an HTTP/1.x status line ("HTTP/1.1 200 OK"), or -1. */
static int http_status(const char *line, size_t len)
{
    if (len < 12 || !has_prefix(line, len, "HTTP/1.") || line[8] != ' ' ||
        (len > 12 && line[12] != ' ')) {
        return -1;
    }
    int code = 0;
    for (size_t i = 9; i < 12; i++) {
        if (!isdigit((unsigned char)line[i])) {
            return -1;
        }
        code = code * 10 + (line[i] - '0');
    }
    return code;
}

/* One step of a dialogue: send a line (none for the greeting), then read
 * the answer. Lines that start with `more` may come first (the continuation
 * lines of SMTP's multi-line replies, IMAP's untagged responses); the next
 * line must start with `ok`. Every answer ends within ANSWER_MAX_LINES. */
struct step {
    const char *send; /* "{me}": our host name; "{host}": HOST:PORT; "{path}" */
    const char *name; /* for reasons: "greeting", "EHLO" */
    const char *more;
    const char *ok;
    bool dot;    /* then lines follow, up to a lone "." (POP3's multi-line answers) */
    bool bye;    /* the goodbye: the connection may close instead of answering */
    bool status; /* instead of `ok`: an HTTP status line, 2xx or 3xx */
};

struct dialogue {
    const char *name;     /* "smtp"; every reason starts with it */
    struct step steps[5]; /* up to the first without a name */
};

/* SMTP (RFC 5321): a reply "DDD text" may be preceded by lines "DDD-text". */
static const struct dialogue smtp_dialogue = {
    .name = "smtp",
    .steps =
        {
            {NULL, "greeting", "220-", "220"},
            {"EHLO {me}", "EHLO", "250-", "250"},
            {"NOOP", "NOOP", "250-", "250"},
            {"QUIT", "QUIT", "221-", "221", .bye = true},
        },
};

/* IMAP (RFC 9051): untagged "* ..." lines, then the tagged status. LOGOUT's
 * "* BYE" is one of the untagged lines. */
static const struct dialogue imap_dialogue = {
    .name = "imap",
    .steps =
        {
            {NULL, "greeting", NULL, "* OK"},
            {"a1 CAPABILITY", "CAPABILITY", "* ", "a1 OK"},
            {"a2 NOOP", "NOOP", "* ", "a2 OK"},
            {"a3 LOGOUT", "LOGOUT", "* ", "a3 OK", .bye = true},
        },
};

/* POP3 (RFC 1939, CAPA from RFC 2449). */
static const struct dialogue pop3_dialogue = {
    .name = "pop3",
    .steps =
        {
            {NULL, "greeting", NULL, "+OK"},
            {"CAPA", "CAPA", NULL, "+OK", .dot = true},
            {"QUIT", "QUIT", NULL, "+OK", .bye = true},
        },
};

/* HTTP/1.0: one request, and its status line. The blank line that ends the
 * request is the end every sent line gets. */
static const struct dialogue http_dialogue = {
    .name = "http",
    .steps =
        {
            {"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: warden\r\nConnection: close\r\n",
             "GET", .status = true},
        },
};

static int http_parse(warden_probe *p, const char *arg)
{
    /* No host name or address holds a '/': the first one starts the path.
     * Without one, the path is "/". */
    const char *slash = strchr(arg, '/');
    _cleanup_free_ char *where = slash ? strndup(arg, (size_t)(slash - arg)) : strdup(arg);
    if (!where) {
        return -ENOMEM;
    }
    int r = tcp_parse(p, where);
    if (r < 0) {
        return r;
    }
    const char *path = slash ? slash : "/";
    /* It goes into the request line as it is: no blanks, no control bytes. */
    for (const char *c = path; *c; c++) {
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
            return -EINVAL;
        }
    }
    p->path = strdup(path);
    return p->path ? 0 : -ENOMEM;
}

/* Our host name, for EHLO; "warden" when it is unset or not a plain name. */
static void our_name(char *buf, size_t size)
{
    bool ok = gethostname(buf, size) == 0 && buf[0];
    buf[size - 1] = '\0';
    for (const char *c = buf; ok && *c; c++) {
        ok = isalnum((unsigned char)*c) || *c == '-' || *c == '.';
    }
    if (!ok) {
        snprintf(buf, size, "warden");
    }
}

/* A step's line with its {names} filled in, and its end. */
static char *expand(const char *text, const warden_probe *p, const char *me)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f) {
        return NULL;
    }
    while (*text) {
        if (startswith(text, "{me}")) {
            fputs(me, f);
            text += strlen("{me}");
        } else if (startswith(text, "{host}")) {
            /* An IPv6 address goes in brackets, as in a URL. */
            bool v6 = strchr(p->host, ':');
            fprintf(f, "%s%s%s:%s", v6 ? "[" : "", p->host, v6 ? "]" : "", p->port);
            text += strlen("{host}");
        } else if (startswith(text, "{path}")) {
            fputs(p->path, f);
            text += strlen("{path}");
        } else {
            fputc(*text++, f);
        }
    }
    fputs("\r\n", f);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static bool answer_ok(const struct step *s, const char *line, size_t len)
{
    if (s->status) {
        /* A redirect (3xx), to a login page say, is an answer too. */
        int code = http_status(line, len);
        return code >= 200 && code < 400;
    }
    return has_prefix(line, len, s->ok);
}

/* Why reading the answer to step @s failed, as a reason; the result. */
static int read_failed(const struct conn *c, const char *proto, const char *what, int r,
                       warden_usec_t start, char **ret_reason)
{
    if (r == -ETIMEDOUT) {
        set_reason(ret_reason, warden__strdup_printf("%s: no %s within %s%s", proto, what,
                                                     waited(start, c->deadline),
                                                     c->flooded ? " (endless continuation)" : ""));
    } else if (r == ERR_TLS) {
        set_reason(ret_reason, warden__strdup_printf("%s: server speaks TLS on this port", proto));
        r = -EPROTO;
    } else if (r == -EMSGSIZE) {
        set_reason(ret_reason, warden__strdup_printf("%s: line too long in the %s", proto, what));
        r = -EPROTO;
    } else if (c->closed) {
        set_reason(ret_reason,
                   warden__strdup_printf("%s: connection closed before the %s", proto, what));
    } else {
        set_reason(ret_reason,
                   warden__strdup_printf("%s: %s before the %s", proto, strerror(-r), what));
    }
    return r;
}

static int wrong_answer(const char *proto, const struct step *s, const char *line, size_t len,
                        char **ret_reason)
{
    char buf[ANSWER_SHOWN + 4];
    char *reason;
    if (s->status && http_status(line, len) >= 0) {
        reason = warden__strdup_printf("%s: status %s", proto, shown(line + 9, len - 9, buf));
    } else if (s->send) {
        reason = warden__strdup_printf("%s: %s answered %s", proto, s->name, shown(line, len, buf));
    } else {
        reason = warden__strdup_printf("%s: %s was %s", proto, s->name, shown(line, len, buf));
    }
    set_reason(ret_reason, reason);
    return -EPROTO;
}

static int step_run(struct conn *c, const warden_probe *p, const struct step *s, const char *me,
                    warden_usec_t start, char **ret_reason)
{
    const char *proto = p->kind->dialogue->name;
    char what[64]; /* "greeting", "answer to EHLO" */
    snprintf(what, sizeof(what), "%s%s", s->send ? "answer to " : "", s->name);
    if (s->send) {
        _cleanup_free_ char *line = expand(s->send, p, me);
        int r = line ? conn_send(c, line) : -ENOMEM;
        if (s->bye && (r == -EPIPE || r == -ECONNRESET)) {
            return 0;
        }
        if (r == -ETIMEDOUT) {
            set_reason(ret_reason, warden__strdup_printf("%s: cannot send %s within %s", proto,
                                                         s->name, waited(start, c->deadline)));
            return r;
        }
        if (r < 0) {
            set_reason(ret_reason, warden__strdup_printf("%s: cannot send %s: %s", proto, s->name,
                                                         strerror(-r)));
            return r;
        }
    }
    bool body = false;    /* after the `ok` line of a `dot` step */
    bool interim = false; /* in the headers of an HTTP 1xx answer */
    c->lines = 0;
    c->flooded = false;
    for (;;) {
        /* conn_read_line() looks at the deadline on every pass of this loop
         * too; the count stops a flood faster than that. */
        if (c->lines >= ANSWER_MAX_LINES) {
            set_reason(ret_reason,
                       warden__strdup_printf("%s: no %s after %d lines (endless continuation)",
                                             proto, what, ANSWER_MAX_LINES));
            return -EPROTO;
        }
        char *line;
        size_t len;
        int r = conn_read_line(c, &line, &len);
        if (r == -ECONNRESET && s->bye) {
            /* The service proved itself in the steps before; closing at
             * once instead of answering the goodbye is its right. */
            return 0;
        }
        if (r < 0) {
            return read_failed(c, proto, what, r, start, ret_reason);
        }
        if (body) {
            if (len == 1 && line[0] == '.') {
                return 0;
            }
        } else if (interim) {
            /* An interim answer's headers end with an empty line. */
            interim = len > 0;
        } else if (s->status && http_status(line, len) / 100 == 1) {
            /* "HTTP/1.1 100 Continue" (or 103 Early Hints, with headers):
             * the real status follows. */
            interim = true;
        } else if (!s->more || !has_prefix(line, len, s->more)) {
            if (!answer_ok(s, line, len)) {
                return wrong_answer(proto, s, line, len, ret_reason);
            }
            if (!s->dot) {
                return 0;
            }
            body = true;
        }
    }
}

/* Connect, then go through the kind's dialogue, every step under the one
 * deadline. The first step that fails says why. */
static int dialogue_run(const warden_probe *p, _unused_ const struct warden_probe_context *ctx,
                        warden_usec_t deadline, char **ret_reason)
{
    warden_usec_t start = warden_now();
    struct conn c = {.fd = -EBADF, .deadline = deadline};
    int r = tcp_open(p, p->kind->dialogue->name, start, deadline, &c.fd, ret_reason);
    char me[HOST_NAME_MAX + 1];
    our_name(me, sizeof(me));
    for (const struct step *s = p->kind->dialogue->steps; r == 0 && s->name; s++) {
        r = step_run(&c, p, s, me, start, ret_reason);
    }
    if (c.fd >= 0) {
        close(c.fd);
    }
    return r;
}

/* ---- agent: the agent's own probe ------------------------------------------ */

static int agent_parse(_unused_ warden_probe *p, const char *arg)
{
    return isempty(arg) ? 0 : -EINVAL;
}

static int agent_run(const warden_probe *p, const struct warden_probe_context *ctx,
                     warden_usec_t deadline, char **ret_reason)
{
    if (!p->agent_fn) {
        set_reason(ret_reason, strdup("check 'agent': this agent has no probe of its own"));
        return -EINVAL;
    }
    return p->agent_fn(p->agent_userdata, ctx->main_pid, deadline, ret_reason);
}

bool warden__probe_is_agent(const warden_probe *p)
{
    return p && p->kind->run == agent_run;
}

void warden__probe_bind_agent(warden_probe *p, warden_probe_agent_fn fn, void *userdata,
                              void (*free_userdata)(void *))
{
    if (p->agent_free) {
        p->agent_free(p->agent_userdata);
    }
    p->agent_fn = fn;
    p->agent_userdata = userdata;
    p->agent_free = free_userdata;
}

static const struct probe_kind kinds[] = {
    {"process", process_parse, process_run, NULL},
    {"agent", agent_parse, agent_run, NULL},
    {"tcp:", tcp_parse, tcp_run, NULL},
    {"exec:", exec_parse, exec_run, NULL},
    {"smtp:", tcp_parse, dialogue_run, &smtp_dialogue},
    {"imap:", tcp_parse, dialogue_run, &imap_dialogue},
    {"pop3:", tcp_parse, dialogue_run, &pop3_dialogue},
    {"http:", http_parse, dialogue_run, &http_dialogue},
};

int warden_probe_new(const char *spec, warden_probe **ret)
{
    if (isempty(spec)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
        if (!startswith(spec, kinds[i].prefix)) {
            continue;
        }
        warden_probe *p = calloc(1, sizeof(*p));
        if (!p) {
            return -ENOMEM;
        }
        p->kind = &kinds[i];
        p->spec = strdup(spec);
        int r = p->spec ? kinds[i].parse(p, spec + strlen(kinds[i].prefix)) : -ENOMEM;
        if (r < 0) {
            warden_probe_free(p);
            return r;
        }
        *ret = p;
        return 0;
    }
    return -EINVAL;
}

warden_probe *warden_probe_free(warden_probe *p)
{
    if (!p) {
        return NULL;
    }
    free(p->spec);
    free(p->host);
    free(p->port);
    free(p->path);
    warden__exec_done(&p->exec);
    if (p->agent_free) {
        p->agent_free(p->agent_userdata);
    }
    free(p);
    return NULL;
}

int warden_probe_check_spec(const char *spec)
{
    warden_probe *p = NULL;
    int r = warden_probe_new(spec, &p);
    warden_probe_free(p);
    return r;
}

int warden_probe_run(const warden_probe *p, const struct warden_probe_context *ctx,
                     warden_usec_t deadline, char **ret_reason)
{
    /* As this library knows it (probe.h): size 0 is the 1.0 layout. */
    struct warden_probe_context c;
    int r = warden__struct_copy(&c, sizeof(c), ctx, ctx->size ? ctx->size : sizeof(c));
    if (r < 0) {
        set_reason(ret_reason, strdup("the probe context sets fields this libwarden does not "
                                      "know (built against a newer one)"));
        return r;
    }
    return p->kind->run(p, &c, deadline, ret_reason);
}

const char *warden_probe_spec(const warden_probe *p)
{
    return p->spec;
}
