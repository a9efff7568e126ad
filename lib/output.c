/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service's stdout and stderr.
 *
 * file:PATH is the simplest: the service writes to the file itself, opened
 * by root with O_APPEND (so logrotate's copytruncate is safe: the next write
 * goes to the new end, no hole), and the start reads back what came after
 * the size it had when opened.
 *
 * syslog and journal need a reader of a pipe. That reader, the relay, is a
 * small process forked here, before the service: its own session, outside
 * the service's cgroup, never signalled by a stop. It ends by itself when
 * the last writer of the pipe is gone, which is when the service's whole
 * tree (the holder included, which keeps a copy as its own stdout) is gone,
 * so no line written before a stop or crash is lost, and it needs nothing
 * from the keeper (a keeper that dies, or that is replaced, does not cut
 * the service's output). Outside the cgroup it is neither counted as a
 * process of the service (a crash is "gone", not "half there") nor killed
 * with it, nor charged to its memory limit. It keeps the last KiB of output
 * in <state_dir>/output.tail for the reason of a start that fails.
 *
 * The relay is forked from the multi-threaded agent and never execs, so it
 * calls only async-signal-safe functions: read, write, send, socket,
 * connect, pwrite, ftruncate. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "output-int.h"
#include "param-int.h"
#include "util-int.h"

#define TAIL_BYTES   1024
#define LINE_MAX_OUT 1024

int warden__output_parse(const char *text, enum warden_output_kind *ret_kind, const char **ret_path)
{
    const char *path = NULL;
    enum warden_output_kind kind;
    if (streq(text, "syslog")) {
        kind = WARDEN_OUTPUT_SYSLOG;
    } else if (streq(text, "journal")) {
        kind = WARDEN_OUTPUT_JOURNAL;
    } else if (streq(text, "null")) {
        kind = WARDEN_OUTPUT_NULL;
    } else if (startswith(text, "file:")) {
        path = text + strlen("file:");
        const char *last = strrchr(path, '/');
        if (path[0] != '/' || strlen(path) >= 4096 || !last[1] || streq(last, "/.") ||
            streq(last, "/..")) {
            return -EINVAL;
        }
        for (const char *c = path; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                return -EINVAL;
            }
        }
        kind = WARDEN_OUTPUT_FILE;
    } else {
        return -EINVAL;
    }
    if (ret_kind) {
        *ret_kind = kind;
    }
    if (ret_path) {
        *ret_path = path;
    }
    return 0;
}

int warden__output_check(const char *text)
{
    return warden__output_parse(text, NULL, NULL);
}

const char *warden__output_default(void)
{
    /* sd_booted(): what systemd itself checks. */
    struct stat st;
    return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode) ? "journal" : "syslog";
}

static const char *syslog_socket(void)
{
    const char *env = getenv("WARDEN_SYSLOG_SOCKET");
    return !isempty(env) ? env : "/dev/log";
}

static const char *journal_socket(void)
{
    const char *env = getenv("WARDEN_JOURNAL_SOCKET");
    return !isempty(env) ? env : "/run/systemd/journal/stdout";
}

/* ---- file:PATH ------------------------------------------------------------ */

static bool in_groups(gid_t gid, const struct warden_exec *u)
{
    if (gid == u->gid) {
        return true;
    }
    for (int i = 0; i < u->n_groups; i++) {
        if (u->groups[i] == gid) {
            return true;
        }
    }
    return false;
}

/* Whether the service's user could change what a directory holds. A
 * service that runs as root could anyway. */
static bool writable_by(const struct stat *st, const struct warden_exec *u)
{
    if (!u || !u->set_user || u->uid == 0) {
        return false;
    }
    return st->st_uid == u->uid || ((st->st_mode & S_IWGRP) && in_groups(st->st_gid, u)) ||
           (st->st_mode & S_IWOTH);
}

/* Open the directory of path by walking it from / one name at a time with
 * O_NOFOLLOW: no symlink anywhere on the way (-ELOOP), and no directory the
 * service's user could change, except a sticky one (/tmp) whose next entry
 * is not the user's: there it cannot rename or replace it. The directory
 * that holds the file must not be writable by the user at all. ret_base
 * points into path. */
static int open_parent(const char *path, const struct warden_exec *u, char **ret_where,
                       const char **ret_base)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    char *slash = strrchr(buf, '/');
    *ret_base = path + (slash - buf) + 1;
    *slash = '\0';
    _cleanup_close_ int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0) {
        return negative_errno();
    }
    struct stat st;
    if (fstat(cur, &st) < 0) {
        return negative_errno();
    }
    char *p = buf;
    for (;;) {
        while (*p == '/') {
            p++;
        }
        if (!*p) {
            break;
        }
        char *end = p + strcspn(p, "/");
        char saved = *end;
        *end = '\0';
        int next = warden__open_dir_step(cur, p);
        if (next < 0) {
            *ret_where = strdup(buf);
            return next;
        }
        struct stat nst;
        if (fstat(next, &nst) < 0) {
            int r = negative_errno();
            close(next);
            return r;
        }
        if (writable_by(&st, u) && !((st.st_mode & S_ISVTX) && nst.st_uid != u->uid)) {
            /* The directory before this one: the user could swap p. */
            *end = saved;
            char *cut = p > buf + 1 ? p - 1 : p;
            char c = *cut;
            *cut = '\0';
            *ret_where = strdup(*buf ? buf : "/");
            *cut = c;
            close(next);
            return -EPERM;
        }
        close(cur);
        cur = next;
        st = nst;
        *end = saved;
        p = end;
    }
    if (writable_by(&st, u)) {
        *ret_where = strdup(*buf ? buf : "/");
        return -EPERM;
    }
    return TAKE_FD(cur);
}

/* An existing file must be root's own regular file with one name: not a
 * FIFO or device (it would block or act), not another user's file, not a
 * hard link to a file elsewhere. */
static int check_file(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return negative_errno();
    }
    return S_ISREG(st.st_mode) && st.st_uid == 0 && st.st_nlink == 1 ? 0 : -EPERM;
}

static int file_reason(char **ret_reason, int r, const char *path, const char *where)
{
    char shown[WARDEN_SHOWN_SIZE], at[WARDEN_SHOWN_SIZE];
    warden__shown(path, shown);
    warden__shown(where ? where : path, at);
    switch (r) {
    case -ELOOP:
        return warden__set_reason(ret_reason, -EINVAL,
                                  "parameter 'output': file:%s passes through a symlink at '%s': "
                                  "expected a path without symlinks",
                                  shown, at);
    case -ENOENT:
    case -ENOTDIR:
        return warden__set_reason(ret_reason, -ENXIO,
                                  "parameter 'output': the directory of file:%s is missing on "
                                  "this node ('%s')",
                                  shown, at);
    case -EPERM:
        return warden__set_reason(ret_reason, -EINVAL,
                                  where ? "parameter 'output': file:%s: '%s' is writable by the "
                                          "service's user: expected a directory only root can "
                                          "change"
                                        : "parameter 'output': file:%s exists and is not root's "
                                          "own regular file (%s)",
                                  shown, at);
    default:
        return warden__set_reason(ret_reason, r, "parameter 'output': cannot open file:%s: %s",
                                  shown, strerror(-r));
    }
}

/* The directory, and the file when it exists (create: make it). */
static int open_file(const char *path, const struct warden_exec *u, bool create, int *ret_fd,
                     char **ret_reason)
{
    _cleanup_free_ char *where = NULL;
    const char *base = NULL;
    _cleanup_close_ int dir = open_parent(path, u, &where, &base);
    if (dir < 0) {
        return file_reason(ret_reason, dir, path, where);
    }
    /* O_NOFOLLOW: never through a symlink; O_NONBLOCK: a FIFO planted
     * there does not block the open (check_file refuses it). */
    int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    _cleanup_close_ int fd = openat(dir, base, flags | (create ? O_CREAT : 0), 0640);
    if (fd < 0) {
        int r = negative_errno();
        if (!create && r == -ENOENT) {
            return 0;
        }
        return file_reason(ret_reason, r, path, r == -ELOOP ? path : NULL);
    }
    int r = check_file(fd);
    if (r < 0) {
        return file_reason(ret_reason, r, path, NULL);
    }
    /* Blocking again: the service's writes must not fail with EAGAIN. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        return file_reason(ret_reason, negative_errno(), path, NULL);
    }
    if (ret_fd) {
        *ret_fd = TAKE_FD(fd);
    }
    return 0;
}

int warden__output_check_node(const char *text, const struct warden_exec *user, char **ret_reason)
{
    enum warden_output_kind kind;
    const char *path = NULL;
    if (isempty(text)) {
        text = warden__output_default();
    }
    if (warden__output_parse(text, &kind, &path) < 0) {
        char shown[WARDEN_SHOWN_SIZE];
        return warden__set_reason(ret_reason, -EINVAL,
                                  "parameter 'output' has invalid value '%s': expected %s",
                                  warden__shown(text, shown), WARDEN_OUTPUT_FORMS);
    }
    if (kind == WARDEN_OUTPUT_JOURNAL) {
        struct stat st;
        const char *sock = journal_socket();
        if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
            return warden__set_reason(ret_reason, -EINVAL,
                                      "parameter 'output' is 'journal', but no systemd-journald "
                                      "runs on this node (%s is missing): expected syslog, "
                                      "file:PATH or null here",
                                      sock);
        }
    }
    if (kind == WARDEN_OUTPUT_FILE) {
        return open_file(path, user, false, NULL, ret_reason);
    }
    return 0;
}

/* ---- the relay ------------------------------------------------------------- */

/* Everything below runs in the relay: async-signal-safe only. */

static size_t cat(char *dst, size_t at, size_t cap, const char *src, size_t len)
{
    size_t n = len < cap - at ? len : cap - at;
    memcpy(dst + at, src, n);
    return at + n;
}

static int relay_connect(const char *path, int type)
{
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    /* A syslog daemon that stops reading must not stall the service
     * behind a full pipe for long: a line waits at most 1 s, then is
     * dropped. */
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(sa.sun_path)) {
        close(fd);
        return -1;
    }
    memcpy(sa.sun_path, path, len);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

struct relay {
    enum warden_output_kind kind;
    const char *ident;
    const char *path;
    int sock;
    char line[LINE_MAX_OUT];
    size_t line_len;
    char tail[TAIL_BYTES];
    size_t tail_len;
};

/* One line to syslog: "<PRI>IDENT: text", LOG_DAEMON|LOG_INFO; the
 * receiver stamps the time. Tried twice: the daemon may have restarted
 * since the last line (a new socket under the same name). */
static void send_line(struct relay *r)
{
    char msg[LINE_MAX_OUT + WARDEN_OUTPUT_IDENT_MAX + 16];
    size_t n = cat(msg, 0, sizeof(msg), "<30>", 4);
    n = cat(msg, n, sizeof(msg), r->ident, strlen(r->ident));
    n = cat(msg, n, sizeof(msg), ": ", 2);
    n = cat(msg, n, sizeof(msg), r->line, r->line_len);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (r->sock < 0) {
            r->sock = relay_connect(r->path, SOCK_DGRAM);
        }
        if (r->sock >= 0 && send(r->sock, msg, n, MSG_NOSIGNAL) >= 0) {
            return;
        }
        if (r->sock >= 0) {
            close(r->sock);
            r->sock = -1;
        }
    }
}

/* journald's stream protocol (what sd_journal_stream_fd sends): the
 * identifier, an empty unit id, priority 6, level prefixes on ("<3>" at the
 * start of a line sets its priority, as systemd's services have it), and
 * no forwarding; then the bytes, which journald splits into lines. */
static void send_stream(struct relay *r, const char *buf, size_t len)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (r->sock < 0) {
            r->sock = relay_connect(r->path, SOCK_STREAM);
            if (r->sock >= 0) {
                char head[WARDEN_OUTPUT_IDENT_MAX + 32];
                size_t n = cat(head, 0, sizeof(head), r->ident, strlen(r->ident));
                static const char rest[] = "\n\n6\n1\n0\n0\n0\n";
                n = cat(head, n, sizeof(head), rest, sizeof(rest) - 1);
                if (send(r->sock, head, n, MSG_NOSIGNAL) < 0) {
                    close(r->sock);
                    r->sock = -1;
                }
            }
        }
        size_t done = 0;
        while (r->sock >= 0 && done < len) {
            ssize_t k = send(r->sock, buf + done, len - done, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR) {
                continue;
            }
            if (k <= 0) {
                close(r->sock);
                r->sock = -1;
                break;
            }
            done += (size_t)k;
        }
        if (r->sock >= 0) {
            return;
        }
        buf += done;
        len -= done;
    }
}

static void keep_tail(struct relay *r, int tail_fd, const char *buf, size_t len)
{
    if (len >= TAIL_BYTES) {
        memcpy(r->tail, buf + len - TAIL_BYTES, TAIL_BYTES);
        r->tail_len = TAIL_BYTES;
    } else {
        size_t keep = r->tail_len + len > TAIL_BYTES ? TAIL_BYTES - len : r->tail_len;
        memmove(r->tail, r->tail + r->tail_len - keep, keep);
        memcpy(r->tail + keep, buf, len);
        r->tail_len = keep + len;
    }
    if (tail_fd >= 0 && pwrite(tail_fd, r->tail, r->tail_len, 0) >= 0) {
        (void)!ftruncate(tail_fd, (off_t)r->tail_len);
    }
}

void warden__output_relay(int in, int tail_fd, enum warden_output_kind kind, const char *ident,
                          const char *socket_path)
{
    static struct relay r;
    r = (struct relay){.kind = kind, .ident = ident, .path = socket_path, .sock = -1};
    char buf[4096];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        keep_tail(&r, tail_fd, buf, (size_t)n);
        if (kind == WARDEN_OUTPUT_JOURNAL) {
            send_stream(&r, buf, (size_t)n);
            continue;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || r.line_len == sizeof(r.line)) {
                send_line(&r);
                r.line_len = 0;
                if (buf[i] == '\n') {
                    continue;
                }
            }
            r.line[r.line_len++] = buf[i];
        }
    }
    if (kind == WARDEN_OUTPUT_SYSLOG && r.line_len > 0) {
        send_line(&r);
    }
    if (r.sock >= 0) {
        close(r.sock);
    }
}

/* A syslog tag: the instance's printable bytes, without blanks, ':' or
 * '[' (they end a tag), cut. */
static void make_ident(const char *instance, char ident[static WARDEN_OUTPUT_IDENT_MAX + 1])
{
    size_t n = 0;
    for (const char *c = instance; *c && n < WARDEN_OUTPUT_IDENT_MAX; c++) {
        unsigned char ch = (unsigned char)*c;
        ident[n++] = ch > 0x20 && ch < 0x7f && ch != ':' && ch != '[' && ch != ']' ? (char)ch : '_';
    }
    ident[n] = '\0';
    if (n == 0) {
        strcpy(ident, "warden");
    }
}

static int spawn_relay(struct warden_output *o, int in, int tail_fd, const char *instance)
{
    /* Everything the child needs is ready before the fork. */
    static char ident[WARDEN_OUTPUT_IDENT_MAX + 1];
    static char path[108];
    static char title[WARDEN_OUTPUT_IDENT_MAX + 32];
    make_ident(instance, ident);
    int title_len = snprintf(title, sizeof(title), "warden-output %s", ident);
    /* The size of our own argument area, should the relay have to write
     * its title there. */
    _cleanup_free_ char *cmdline = NULL;
    int args_len = warden__read_file("/proc/self/cmdline", 4096, &cmdline);
    snprintf(path, sizeof(path), "%s",
             o->kind == WARDEN_OUTPUT_JOURNAL ? journal_socket() : syslog_socket());
    enum warden_output_kind kind = o->kind;
    pid_t pid = fork();
    if (pid < 0) {
        return negative_errno();
    }
    if (pid == 0) {
        setsid();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* It ends when the output ends, not on a signal meant for the
         * service or the agent's session. */
        struct sigaction ign = {.sa_handler = SIG_IGN};
        sigaction(SIGTERM, &ign, NULL);
        sigaction(SIGINT, &ign, NULL);
        sigaction(SIGHUP, &ign, NULL);
        sigaction(SIGPIPE, &ign, NULL);
        prctl(PR_SET_NAME, "warden-output");
        /* Forked, not exec'd: its command line would still be the agent's
         * ("daemon start"), which ps would show for as long as the service
         * runs. Root may point it elsewhere (CAP_SYS_RESOURCE); start
         * first, as the new area lies below the old one. */
        if (prctl(PR_SET_MM, PR_SET_MM_ARG_START, (unsigned long)title, 0, 0) < 0 ||
            prctl(PR_SET_MM, PR_SET_MM_ARG_END, (unsigned long)(title + title_len + 1), 0, 0) < 0) {
            /* Without the capability: over the agent's own arguments,
             * which begin at argv[0] (this child's copy of them). */
            if (args_len > 1 && program_invocation_name) {
                size_t room = (size_t)args_len - 1;
                size_t n = (size_t)title_len < room ? (size_t)title_len : room;
                memset(program_invocation_name, 0, room);
                memcpy(program_invocation_name, title, n);
            }
        }
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (dup2(in, 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) {
            _exit(1);
        }
        /* No tail file (it could not be made) is no reason to lose the
         * output itself. */
        int tail = tail_fd >= 0 && dup2(tail_fd, 3) == 3 ? 3 : -1;
        /* Only these: an inherited pipe of the executor would make
         * Pacemaker wait for this process, the write end of our own would
         * keep the output from ever ending. */
        close_range(tail == 3 ? 4 : 3, ~0U, 0);
        warden__output_relay(0, tail, kind, ident, path);
        _exit(0);
    }
    struct warden_pidref ref = WARDEN_PIDREF_NULL;
    if (warden__pidref_open(pid, 0, &ref) < 0) {
        ref = (struct warden_pidref){.pid = pid, .fd = -EBADF};
    }
    o->relay = ref;
    return 0;
}

int warden__output_open(struct warden_output *o, const char *text, const char *instance,
                        const char *state_dir, const struct warden_exec *user, char **ret_reason)
{
    int r = warden__output_check_node(text, user, ret_reason);
    if (r < 0) {
        return r;
    }
    if (isempty(text)) {
        text = warden__output_default();
    }
    const char *path = NULL;
    *o = WARDEN_OUTPUT_INIT;
    warden__output_parse(text, &o->kind, &path);
    if (o->kind == WARDEN_OUTPUT_NULL) {
        return 0;
    }
    if (o->kind == WARDEN_OUTPUT_FILE) {
        r = open_file(path, user, true, &o->service_fd, ret_reason);
        if (r < 0) {
            return r;
        }
        struct stat st;
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", o->service_fd);
        /* The same file, for reading back (the service's fd is write-only). */
        o->tail_fd = open(self, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (o->tail_fd < 0 || fstat(o->service_fd, &st) < 0) {
            o->tail_fd = -EBADF;
        } else {
            o->tail_from = st.st_size;
        }
        return 0;
    }
    _cleanup_free_ char *tail_path = warden__strdup_printf("%s/output.tail", state_dir);
    if (!tail_path) {
        return -ENOMEM;
    }
    o->tail_fd = open(tail_path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (o->tail_fd < 0) {
        o->tail_fd = -EBADF; /* no tail; the output still goes where it should */
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        r = negative_errno();
        warden__output_done(o);
        return warden__set_reason(ret_reason, r, "cannot make the service's output pipe: %s",
                                  strerror(-r));
    }
    _cleanup_close_ int rd = pipefd[0];
    o->service_fd = pipefd[1];
    r = spawn_relay(o, rd, o->tail_fd, instance);
    if (r < 0) {
        warden__output_done(o);
        return warden__set_reason(ret_reason, r, "cannot start the output relay: %s", strerror(-r));
    }
    return 0;
}

void warden__output_spawned(struct warden_output *o)
{
    if (o->service_fd >= 0) {
        close(o->service_fd);
    }
    o->service_fd = -EBADF;
}

char *warden__output_tail(struct warden_output *o, warden_usec_t deadline)
{
    if (o->tail_fd < 0) {
        return NULL;
    }
    if (warden__pidref_is_set(&o->relay)) {
        /* The relay has written the last output once it has read the end
         * of it: when the service's tree is gone. A child of the service
         * that still holds the output leaves it running; then what it
         * wrote so far. */
        warden_usec_t soon = warden_deadline_in(300 * WARDEN_USEC_PER_MSEC);
        warden__pidref_wait_exit(&o->relay, soon < deadline ? soon : deadline);
    }
    struct stat st;
    if (fstat(o->tail_fd, &st) < 0) {
        return NULL;
    }
    off_t from = o->kind == WARDEN_OUTPUT_FILE ? o->tail_from : 0;
    if (st.st_size < from) {
        from = 0; /* truncated since (copytruncate) */
    }
    bool partial = st.st_size - from > TAIL_BYTES;
    if (partial) {
        from = st.st_size - TAIL_BYTES;
    }
    char buf[TAIL_BYTES];
    size_t want = (size_t)(st.st_size - from);
    ssize_t n = pread(o->tail_fd, buf, want < sizeof(buf) ? want : sizeof(buf), from);
    if (n <= 0) {
        return NULL;
    }
    /* The relay's tail starts wherever the last KiB began. */
    partial = partial || (o->kind != WARDEN_OUTPUT_FILE && n == TAIL_BYTES);
    return warden__output_last_lines(buf, (size_t)n, partial, 3, 200);
}

void warden__output_done(struct warden_output *o)
{
    warden__output_spawned(o);
    if (o->tail_fd >= 0) {
        close(o->tail_fd);
    }
    o->tail_fd = -EBADF;
    if (o->relay.pid > 0) {
        /* Reap it if it has ended; else it is reparented when we exit. */
        waitpid(o->relay.pid, NULL, WNOHANG);
    }
    warden__pidref_done(&o->relay);
}

char *warden__output_last_lines(const char *text, size_t len, bool partial, size_t max_lines,
                                size_t max_bytes)
{
    /* Walk back from the end, line by line. */
    const char *starts[16];
    size_t lens[16], n = 0;
    if (max_lines > ELEMENTSOF(starts)) {
        max_lines = ELEMENTSOF(starts);
    }
    size_t end = len;
    while (end > 0 && n < max_lines) {
        size_t begin = end;
        while (begin > 0 && text[begin - 1] != '\n') {
            begin--;
        }
        bool first_partial = begin == 0 && partial;
        size_t a = begin, b = end;
        while (b > a && (text[b - 1] == '\r' || text[b - 1] == '\n' || text[b - 1] == ' ' ||
                         text[b - 1] == '\t')) {
            b--;
        }
        while (a < b && (text[a] == ' ' || text[a] == '\t')) {
            a++;
        }
        if (b > a && !(first_partial && n > 0)) {
            starts[n] = text + a;
            lens[n] = b - a;
            n++;
        }
        end = begin > 0 ? begin - 1 : 0;
    }
    if (n == 0) {
        return NULL;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += lens[i] + 3;
    }
    char *joined = malloc(total + 1);
    if (!joined) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = n; i-- > 0;) {
        for (size_t j = 0; j < lens[i]; j++) {
            unsigned char ch = (unsigned char)starts[i][j];
            joined[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        if (i > 0) {
            memcpy(joined + k, " | ", 3);
            k += 3;
        }
    }
    joined[k] = '\0';
    if (max_bytes >= 4 && k > max_bytes) {
        /* The newest words matter most: keep the end. */
        size_t keep = max_bytes - 3;
        memmove(joined + 3, joined + k - keep, keep);
        memcpy(joined, "...", 3);
        joined[max_bytes] = '\0';
    }
    return joined;
}
