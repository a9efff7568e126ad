/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dialogue engine (dialogue.h): a probe written as a table of steps,
 * "send this line, then the answer's lines must match these patterns",
 * spoken over a non-blocking socket through a bounded line reader, every
 * wait under the one deadline. The library's smtp:, imap:, pop3: and http:
 * probes are tables of it (probe.c), and so are agents' probes
 * (warden_dialogue_run()).
 *
 * TLS (the library's own tables only: smtps:, imaps:, pop3s:, https:, and
 * STARTTLS): the bytes of a conversation pass through conn_send() and
 * conn_recv() alone, which go through a TLS session (tls.c) once one has
 * begun, from the start (the target's implicit_tls) or after a step that
 * says STARTTLS. Only libwarden is built with WARDEN_TLS: the agents'
 * libc-only front (lib/meson.build) has this file without GnuTLS, and never
 * runs a built-in probe. */
#include <ctype.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <strings.h>
#include <stdio.h>
#include <sys/socket.h>

#include "connect-int.h"
#include "dialogue-int.h"
#include "util-int.h"
#if WARDEN_TLS
#include "tls-int.h"
#else
struct warden__tls;
#endif
#include "warden/probe.h"

/* The longest line read, its end ("\r\n") included: a longer one fails the
 * probe ("line too long"). Plenty for greetings, status lines and IMAP
 * CAPABILITY; a service that sends more is not one we can judge. */
#define LINE_MAX_BYTES 1024

/* The most lines one answer may have, continuation lines (SMTP's "250-",
 * IMAP's untagged "* "), data lines (POP3's CAPA list) and HTTP's interim
 * answers included. A real one has a few dozen; a server that sends more
 * without end would otherwise keep the probe reading until its deadline, on
 * a whole core. */
#define ANSWER_MAX_LINES 1000

/* The most steps of a dialogue: a probe is a short conversation. */
#define STEPS_MAX 32

/* The fields of version 1.1 (WARDEN_1.1), the first: a caller's struct is
 * never smaller. Neither struct has padding at its end (dialogue.h), so
 * whatever a newer caller's struct holds past these is a field this library
 * does not know, and warden__struct_copy() sees it. */
#define DIALOGUE_SIZE_1_1 (offsetof(struct warden_dialogue, steps) + sizeof(void *))
#define STEP_SIZE_1_1     (offsetof(struct warden_dialogue_step, flags) + sizeof(uint64_t))
_Static_assert(sizeof(struct warden_dialogue) == DIALOGUE_SIZE_1_1, "padding at the end");
_Static_assert(sizeof(struct warden_dialogue_step) == STEP_SIZE_1_1, "padding at the end");

/* One conversation over a non-blocking socket; every wait ends at the
 * deadline. */
struct conn {
    int fd;
    struct warden__tls *tls; /* once TLS has begun */
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
 * the clear). No line of a line-based protocol starts with either. */
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
        ssize_t n;
#if WARDEN_TLS
        if (c->tls) {
            /* 0: not yet; GnuTLS wants the same bytes again after the wait. */
            n = warden__tls_send(c->tls, text, left);
            if (n < 0) {
                return (int)n;
            }
            if (n == 0) {
                int r = wait_fd(c->fd, warden__tls_events(c->tls), c->deadline);
                if (r < 0) {
                    return r;
                }
            }
            text += n;
            left -= (size_t)n;
            continue;
        }
#endif
        n = send(c->fd, text, left, MSG_NOSIGNAL | MSG_DONTWAIT);
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

/* Receive into the free part of the buffer: how many bytes came (> 0), 0
 * when there is nothing yet, or -errno (-ECONNRESET when the peer closed:
 * c->closed). */
static ssize_t conn_recv(struct conn *c)
{
#if WARDEN_TLS
    if (c->tls) {
        return warden__tls_recv(c->tls, c->buf + c->len, sizeof(c->buf) - c->len, &c->closed);
    }
#endif
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
    if (n > 0) {
        return n;
    }
    if (n == 0) {
        c->closed = true;
        return -ECONNRESET;
    }
    return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
}

/* What to wait for when there is nothing to read yet: in a TLS session,
 * what GnuTLS last wanted (a key update may want to write). */
static short conn_events(const struct conn *c)
{
#if WARDEN_TLS
    if (c->tls) {
        return warden__tls_events(c->tls);
    }
#endif
    return POLLIN;
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
        ssize_t n = conn_recv(c);
        if (n > 0) {
            /* A TLS-only port: say so, rather than "no greeting" or a
             * wrong answer of binary bytes. */
            if (!c->heard && !c->tls && (c->buf[c->len] == 0x15 || c->buf[c->len] == 0x16)) {
                return ERR_TLS;
            }
            c->heard = true;
            c->len += (size_t)n;
        } else if (n == 0) {
            int r = wait_fd(c->fd, conn_events(c), c->deadline);
            if (r < 0) {
                return r;
            }
        } else {
            return (int)n;
        }
    }
}

/* ---- the table, compiled ------------------------------------------------- */

enum { PAT_FAIL, PAT_MORE, PAT_EXPECT, PAT_UNTIL, N_PATS };

struct step {
    const char *send;
    char name[40]; /* "greeting", "EHLO" */
    uint64_t flags;
    regex_t pat[N_PATS];
    bool has[N_PATS];
};

struct table {
    const char *name;
    size_t n;
    struct step steps[STEPS_MAX];
};

static void table_done(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (int k = 0; k < N_PATS; k++) {
            if (t->steps[i].has[k]) {
                regfree(&t->steps[i].pat[k]);
            }
        }
    }
    t->n = 0;
}

static int step_compile(const char *proto, size_t i, const struct warden_dialogue_step *in,
                        uint64_t known_flags, struct step *out, char **ret_reason)
{
    if (in->flags & ~known_flags) {
        return warden__probe_fail(ret_reason, -E2BIG,
                                  "%s: step %zu sets flags this libwarden does not know (built "
                                  "against a newer one)",
                                  proto, i + 1);
    }
    out->send = in->send;
    out->flags = in->flags;
    if (in->name) {
        snprintf(out->name, sizeof(out->name), "%s", in->name);
    } else if (in->send) {
        /* The first word: "EHLO {me}" is "EHLO". */
        snprintf(out->name, sizeof(out->name), "%.*s", (int)strcspn(in->send, " \t"), in->send);
    } else {
        snprintf(out->name, sizeof(out->name), "greeting");
    }
    const char *pats[N_PATS] = {in->fail, in->more, in->expect, in->until};
    for (int k = 0; k < N_PATS; k++) {
        if (!pats[k]) {
            continue;
        }
        /* REG_NOSUB: whether a line matches, not where. */
        int e = regcomp(&out->pat[k], pats[k], REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
            char why[128], shown[WARDEN_ANSWER_SHOWN_SIZE];
            regerror(e, &out->pat[k], why, sizeof(why));
            return warden__probe_fail(ret_reason, -EINVAL, "%s: step %zu: bad pattern '%s': %s",
                                      proto, i + 1, WARDEN_SHOWN(pats[k], shown), why);
        }
        out->has[k] = true;
    }
    return 0;
}

/* The caller's tables as this library knows them (the stride and the sizes
 * of its headers: agent.h, "Extensibility"), patterns compiled. */
static int table_compile(const struct warden_dialogue *d_in, size_t dialogue_size, size_t step_size,
                         uint64_t known_flags, struct table *t, char **ret_reason)
{
    struct warden_dialogue d;
    if (!d_in || dialogue_size < DIALOGUE_SIZE_1_1 || step_size < STEP_SIZE_1_1) {
        return warden__probe_fail(ret_reason, -EINVAL, "dialogue: not a table (sizes %zu, %zu)",
                                  dialogue_size, step_size);
    }
    const char *proto = d_in->name ? d_in->name : "dialogue";
    if (warden__struct_copy(&d, sizeof(d), d_in, dialogue_size) < 0) {
        return warden__probe_fail(ret_reason, -E2BIG,
                                  "%s: the dialogue sets fields this libwarden does not know "
                                  "(built against a newer one)",
                                  proto);
    }
    if (!d.name || !d.steps) {
        return warden__probe_fail(ret_reason, -EINVAL, "%s: a dialogue needs a name and steps",
                                  proto);
    }
    t->name = d.name;
    const unsigned char *at = (const unsigned char *)d.steps;
    for (size_t i = 0;; i++, at += step_size) {
        struct warden_dialogue_step s;
        if (warden__struct_copy(&s, sizeof(s), at, step_size) < 0) {
            return warden__probe_fail(ret_reason, -E2BIG,
                                      "%s: step %zu sets fields this libwarden does not know "
                                      "(built against a newer one)",
                                      proto, i + 1);
        }
        if (!s.send && !s.expect) {
            return i > 0 ? 0 : warden__probe_fail(ret_reason, -EINVAL, "%s: no steps", proto);
        }
        if (i == STEPS_MAX) {
            return warden__probe_fail(ret_reason, -EINVAL, "%s: more than %d steps", proto,
                                      STEPS_MAX);
        }
        t->steps[i] = (struct step){0};
        t->n = i + 1; /* so that table_done() frees what compiled */
        int r = step_compile(proto, i, &s, known_flags, &t->steps[i], ret_reason);
        if (r < 0) {
            return r;
        }
    }
}

/* ---- a step ------------------------------------------------------------------ */

struct run {
    struct conn conn;
    const char *proto;
    const struct warden__dialogue_target *target;
    warden_usec_t start;
    char *warning; /* TLS: the certificate expires soon (degraded) */
    char me[HOST_NAME_MAX + 1];
};

static bool matches(const regex_t *re, const char *line, size_t len)
{
    /* REG_STARTEND: the whole line, NULs a server sent included. */
    regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)len};
    return regexec(re, line, 1, &m, REG_STARTEND) == 0;
}

/* The status code of an HTTP/1.x status line ("HTTP/1.1 200 OK"), or -1. */
static int http_status(const char *line, size_t len)
{
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
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

/* Our host name, for {me}; "warden" when it is unset or not a plain name. */
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
static char *expand(const char *text, struct run *run)
{
    const struct warden__dialogue_target *t = run->target;
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f) {
        return NULL;
    }
    while (*text) {
        if (startswith(text, "{me}")) {
            if (!run->me[0]) {
                our_name(run->me, sizeof(run->me));
            }
            fputs(run->me, f);
            text += strlen("{me}");
        } else if (startswith(text, "{host}")) {
            /* An IPv6 address goes in brackets, as in a URL. */
            bool v6 = strchr(t->host, ':');
            fprintf(f, "%s%s%s:%s", v6 ? "[" : "", t->host, v6 ? "]" : "", t->port);
            text += strlen("{host}");
        } else if (t->path && startswith(text, "{path}")) {
            fputs(t->path, f);
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

/* Why reading the answer to a step failed, as a reason; the result. */
static int read_failed(const struct run *run, const char *what, int r, char **ret_reason)
{
    const struct conn *c = &run->conn;
    if (r == -ETIMEDOUT) {
        return warden__probe_fail(ret_reason, r, "%s: no %s within %s%s", run->proto, what,
                                  warden__probe_waited(run->start, c->deadline),
                                  c->flooded ? " (endless continuation)" : "");
    }
    if (r == ERR_TLS) {
        return warden__probe_fail(ret_reason, -EPROTO, "%s: server speaks TLS on this port",
                                  run->proto);
    }
    if (r == -EMSGSIZE) {
        return warden__probe_fail(ret_reason, -EPROTO, "%s: line too long in the %s", run->proto,
                                  what);
    }
    if (c->closed) {
        return warden__probe_fail(ret_reason, r, "%s: connection closed before the %s", run->proto,
                                  what);
    }
    return warden__probe_fail(ret_reason, r, "%s: %s before the %s", run->proto, strerror(-r),
                              what);
}

static int wrong_answer(const struct run *run, const struct step *s, const char *line, size_t len,
                        char **ret_reason)
{
    char buf[WARDEN_ANSWER_SHOWN_SIZE];
    if ((s->flags & WARDEN__DIALOGUE_HTTP_STATUS) && http_status(line, len) >= 0) {
        return warden__probe_fail(ret_reason, -EPROTO, "%s: status %s", run->proto,
                                  warden__answer_shown(line + 9, len - 9, buf));
    }
    return warden__probe_fail(ret_reason, -EPROTO, "%s: %s %s %s", run->proto, s->name,
                              s->send ? "answered" : "was", warden__answer_shown(line, len, buf));
}

/* What a line of the answer (before its final line) is. */
enum verdict { LINE_MORE, LINE_FINAL, LINE_WRONG, LINE_INTERIM };

/* In the order dialogue.h gives: `fail`, then `expect`, then `more`. */
static enum verdict classify(const struct step *s, const char *line, size_t len)
{
    if (s->has[PAT_FAIL] && matches(&s->pat[PAT_FAIL], line, len)) {
        return LINE_WRONG;
    }
    if (s->flags & WARDEN__DIALOGUE_HTTP_STATUS) {
        int code = http_status(line, len);
        /* "HTTP/1.1 100 Continue" (or 103 Early Hints, with headers): the
         * real status follows. A redirect (3xx), to a login page say, is an
         * answer too. */
        return code / 100 == 1 ? LINE_INTERIM : code >= 200 && code < 400 ? LINE_FINAL : LINE_WRONG;
    }
    bool more = s->has[PAT_MORE] && matches(&s->pat[PAT_MORE], line, len);
    /* Without `expect`, any line that is not `more` is the final one. */
    if (s->has[PAT_EXPECT] ? matches(&s->pat[PAT_EXPECT], line, len) : !more) {
        return LINE_FINAL;
    }
    return more ? LINE_MORE : LINE_WRONG;
}

static int step_send(struct run *run, const struct step *s, char **ret_reason)
{
    _cleanup_free_ char *line = expand(s->send, run);
    int r = line ? conn_send(&run->conn, line) : -ENOMEM;
    if (r == -ETIMEDOUT) {
        return warden__probe_fail(ret_reason, r, "%s: cannot send %s within %s", run->proto,
                                  s->name, warden__probe_waited(run->start, run->conn.deadline));
    }
    if (r < 0 && r != -ENOMEM &&
        !((s->flags & WARDEN_DIALOGUE_BYE) && (r == -EPIPE || r == -ECONNRESET))) {
        return warden__probe_fail(ret_reason, r, "%s: cannot send %s: %s", run->proto, s->name,
                                  strerror(-r));
    }
    return r;
}

/* Whether a line offers TLS: the word STARTTLS or STLS, in any case,
 * between blanks or after SMTP's "250-". */
static bool offers_tls(const char *line, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && line[i + n] != ' ' && line[i + n] != '-') {
            n++;
        }
        if ((n == 8 && strncasecmp(line + i, "STARTTLS", 8) == 0) ||
            (n == 4 && strncasecmp(line + i, "STLS", 4) == 0)) {
            return true;
        }
        i += n + 1;
    }
    return false;
}

/* The answer has ended well: unless it had to offer TLS and did not. */
static int step_done(const struct run *run, const struct step *s, bool offered, char **ret_reason)
{
    if ((s->flags & WARDEN__DIALOGUE_OFFERS_TLS) && !offered) {
        return warden__probe_fail(ret_reason, -EPROTO, "%s: %s does not offer STARTTLS", run->proto,
                                  s->name);
    }
    return 0;
}

static int step_run(struct run *run, const struct step *s, char **ret_reason)
{
    struct conn *c = &run->conn;
    bool bye = s->flags & WARDEN_DIALOGUE_BYE;
    char what[64]; /* "greeting", "answer to EHLO" */
    snprintf(what, sizeof(what), "%s%s", s->send ? "answer to " : "", s->name);
    if (s->send) {
        int r = step_send(run, s, ret_reason);
        if (bye && (r == -EPIPE || r == -ECONNRESET)) {
            return 0;
        }
        if (r < 0) {
            return r;
        }
    }
    bool data = false;    /* after the final line, up to `until` */
    bool interim = false; /* in the headers of an HTTP 1xx answer */
    bool offered = false; /* a line offered TLS */
    c->lines = 0;
    c->flooded = false;
    for (;;) {
        /* conn_read_line() looks at the deadline on every pass of this loop
         * too; the count stops a flood faster than that. */
        if (c->lines >= ANSWER_MAX_LINES) {
            return warden__probe_fail(ret_reason, -EPROTO,
                                      "%s: no %s after %d lines (endless continuation)", run->proto,
                                      what, ANSWER_MAX_LINES);
        }
        char *line = NULL;
        size_t len = 0;
        int r = conn_read_line(c, &line, &len);
        if (r == -ECONNRESET && bye) {
            /* The service proved itself in the steps before; closing at
             * once instead of answering the goodbye is its right. */
            return 0;
        }
        if (r < 0) {
            return read_failed(run, what, r, ret_reason);
        }
        offered = offered || ((s->flags & WARDEN__DIALOGUE_OFFERS_TLS) && offers_tls(line, len));
        if (data) {
            if (matches(&s->pat[PAT_UNTIL], line, len)) {
                return step_done(run, s, offered, ret_reason);
            }
            continue;
        }
        if (interim) {
            /* An interim answer's headers end with an empty line. */
            interim = len > 0;
            continue;
        }
        switch (classify(s, line, len)) {
        case LINE_MORE:
            break;
        case LINE_INTERIM:
            interim = true;
            break;
        case LINE_WRONG:
            return wrong_answer(run, s, line, len, ret_reason);
        case LINE_FINAL:
            if (!s->has[PAT_UNTIL]) {
                return step_done(run, s, offered, ret_reason);
            }
            data = true;
            break;
        }
    }
}

/* ---- a dialogue ---------------------------------------------------------------- */

/* Begin TLS on the connection: from the start, or after the answer to
 * STARTTLS. */
static int begin_tls(struct run *run, char **ret_reason)
{
    struct conn *c = &run->conn;
    if (c->len > c->used) {
        /* Said in the clear after the answer to STARTTLS: a server (or a
         * man in the middle) that would have it taken as said under TLS. */
        return warden__probe_fail(
            ret_reason, -EPROTO, "%s: the server sent more after agreeing to STARTTLS", run->proto);
    }
    c->len = c->used = 0;
    c->heard = false;
#if WARDEN_TLS
    static const struct warden__tls_options defaults = WARDEN__TLS_OPTIONS_DEFAULT;
    const struct warden__tls_options *o = run->target->tls ? run->target->tls : &defaults;
    return warden__tls_start(c->fd, run->proto, run->target->host, o, run->start, c->deadline,
                             &c->tls, &run->warning, ret_reason);
#else
    return warden__probe_fail(ret_reason, -EPROTONOSUPPORT,
                              "%s: TLS needs libwarden (this program was built without it)",
                              run->proto);
#endif
}

int warden__dialogue_run(const struct warden_dialogue *dialogue, size_t dialogue_size,
                         size_t step_size, const struct warden__dialogue_target *target,
                         bool builtin, warden_usec_t deadline, char **ret_reason)
{
    struct run run = {
        .conn = {.fd = -EBADF, .deadline = deadline}, .target = target, .start = warden_now()};
    /* A table is a few hundred bytes of patterns each: on the heap, not on
     * the stack of a hook's thread. */
    struct table *t = calloc(1, sizeof(*t));
    if (!t) {
        return -ENOMEM;
    }
    uint64_t known =
        WARDEN_DIALOGUE_BYE | (builtin ? WARDEN__DIALOGUE_HTTP_STATUS |
                                             WARDEN__DIALOGUE_OFFERS_TLS | WARDEN__DIALOGUE_STARTTLS
                                       : 0);
    int r = table_compile(dialogue, dialogue_size, step_size, known, t, ret_reason);
    if (r == 0) {
        run.proto = t->name;
        r = warden__connect(run.proto, target->host, target->port, run.start, deadline,
                            &run.conn.fd, ret_reason);
    }
    if (r == 0 && builtin && target->implicit_tls) {
        r = begin_tls(&run, ret_reason);
    }
    for (size_t i = 0; r == 0 && i < t->n; i++) {
        r = step_run(&run, &t->steps[i], ret_reason);
        if (r == 0 && (t->steps[i].flags & WARDEN__DIALOGUE_STARTTLS)) {
            r = begin_tls(&run, ret_reason);
        }
    }
#if WARDEN_TLS
    warden__tls_free(run.conn.tls);
#endif
    if (run.conn.fd >= 0) {
        close(run.conn.fd);
    }
    table_done(t);
    free(t);
    if (r == 0 && run.warning) {
        /* Every step went well: the service answers, with a warning. */
        if (ret_reason) {
            *ret_reason = TAKE_PTR(run.warning);
        }
        r = WARDEN_PROBE_DEGRADED;
    }
    free(run.warning);
    return r;
}

int warden_dialogue_run_sized(const struct warden_dialogue *dialogue, size_t dialogue_size,
                              size_t step_size, const char *host, int64_t port,
                              warden_usec_t deadline, char **ret_reason)
{
    const char *proto = dialogue && dialogue->name ? dialogue->name : "dialogue";
    char shown[WARDEN_ANSWER_SHOWN_SIZE];
    if (!host || !warden__host_ok(host, strlen(host))) {
        return warden__probe_fail(ret_reason, -EINVAL,
                                  "%s: host '%s' is not a host name or IP address", proto,
                                  host ? WARDEN_SHOWN(host, shown) : "(none)");
    }
    if (port < 1 || port > 65535) {
        return warden__probe_fail(ret_reason, -EINVAL, "%s: port %lld is not 1-65535", proto,
                                  (long long)port);
    }
    char digits[6];
    snprintf(digits, sizeof(digits), "%d", (int)port);
    struct warden__dialogue_target target = {.host = host, .port = digits};
    return warden__dialogue_run(dialogue, dialogue_size, step_size, &target, false, deadline,
                                ret_reason);
}
