/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sd_notify protocol: the message parser, the service's socket, and
 * reading one datagram with its sender's credentials (notify-int.h says who
 * may speak, and why). What a message does is the reader's: service.c
 * during a start, keeper-process.c afterwards. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "instance-int.h"
#include "notify-int.h"
#include "service-int.h"
#include "util-int.h"

/* ---- the message --------------------------------------------------------- */

/* A decimal number, digits only, no sign, no overflow. */
static int parse_decimal(const char *text, size_t len, uint64_t *ret)
{
    if (len == 0 || len > 20) {
        return -EINVAL;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -EINVAL;
        }
        uint64_t d = (uint64_t)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -EINVAL;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

static bool key_is(const char *line, size_t len, const char *key, const char **ret_value,
                   size_t *ret_len)
{
    size_t k = strlen(key);
    if (len < k || memcmp(line, key, k) != 0) {
        return false;
    }
    *ret_value = line + k;
    *ret_len = len - k;
    return true;
}

int warden__notify_parse(const char *buf, size_t len, struct warden_notify_msg *ret)
{
    /* sd_notify sends text; a NUL inside would cut what a C string of it
     * says from what was sent (systemd refuses these too). */
    if (len > WARDEN_NOTIFY_MAX || memchr(buf, '\0', len)) {
        return -EBADMSG;
    }
    struct warden_notify_msg m = {0};
    for (size_t at = 0; at < len;) {
        const char *line = buf + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = nl ? (size_t)(nl - line) : len - at;
        at += n + 1;
        const char *v;
        size_t vlen;
        uint64_t num;
        if (key_is(line, n, "READY=", &v, &vlen)) {
            m.ready = m.ready || (vlen == 1 && v[0] == '1');
        } else if (key_is(line, n, "STOPPING=", &v, &vlen)) {
            m.stopping = m.stopping || (vlen == 1 && v[0] == '1');
        } else if (key_is(line, n, "WATCHDOG=", &v, &vlen)) {
            if (vlen == 1 && v[0] == '1') {
                m.watchdog = true;
            } else if (vlen == 7 && memcmp(v, "trigger", 7) == 0) {
                m.watchdog_trigger = true;
            }
        } else if (key_is(line, n, "STATUS=", &v, &vlen)) {
            m.has_status = true;
            warden__text_shown(v, vlen, WARDEN_NOTIFY_STATUS_MAX, m.status);
        } else if (key_is(line, n, "MAINPID=", &v, &vlen)) {
            if (parse_decimal(v, vlen, &num) == 0 && num > 1 && num <= INT32_MAX) {
                m.mainpid = (pid_t)num;
            }
        } else if (key_is(line, n, "EXTEND_TIMEOUT_USEC=", &v, &vlen)) {
            if (parse_decimal(v, vlen, &num) == 0) {
                m.has_extend = true;
                m.extend_usec = num;
            }
        }
        /* Anything else (FDSTORE=, ERRNO=, RELOADING=, ...) is ignored. */
    }
    *ret = m;
    return 0;
}

/* ---- parameters ---------------------------------------------------------- */

int warden__ready_parse(const char *text, enum warden_ready *ret)
{
    if (isempty(text) || streq(text, "check")) {
        *ret = WARDEN_READY_CHECK;
    } else if (streq(text, "notify")) {
        *ret = WARDEN_READY_NOTIFY;
    } else {
        return -EINVAL;
    }
    return 0;
}

int warden__notify_access_parse(const char *text, enum warden_notify_access *ret)
{
    if (isempty(text) || streq(text, "main")) {
        *ret = WARDEN_NOTIFY_MAIN;
    } else if (streq(text, "all")) {
        *ret = WARDEN_NOTIFY_ALL;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* ---- the socket ---------------------------------------------------------- */

int warden__notify_path(const char *instance, char **ret)
{
    char name[WARDEN_INSTANCE_FILE_SIZE];
    int r = warden__instance_file_name(instance, name);
    if (r < 0) {
        return r;
    }
    const char *root = warden__state_root();
    struct sockaddr_un sa;
    char *path = warden__strdup_printf("%s/.notify/%s", root, name);
    if (path && strlen(path) >= sizeof(sa.sun_path)) {
        /* A long name: its hash alone still names one instance. */
        free(path);
        path =
            warden__strdup_printf("%s/.notify/~%016" PRIx64, root, warden__instance_hash(instance));
        if (path && strlen(path) >= sizeof(sa.sun_path)) {
            free(path);
            return -ENAMETOOLONG;
        }
    }
    if (!path) {
        return -ENOMEM;
    }
    *ret = path;
    return 0;
}

/* <state root>/.notify: root's, 0755, a real directory. The service's user
 * may search it but never write it, so the socket's path stays warden's. */
static int notify_dir(const char *path)
{
    _cleanup_free_ char *dir = strdup(path);
    if (!dir) {
        return -ENOMEM;
    }
    *strrchr(dir, '/') = '\0';
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        return negative_errno();
    }
    struct stat st;
    if (lstat(dir, &st) < 0) {
        return negative_errno();
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022)) {
        return -EPERM;
    }
    return 0;
}

int warden__notify_listen(const char *path, uid_t uid, gid_t gid, bool group)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    int r = notify_dir(path);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return negative_errno();
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
        return negative_errno();
    }
    /* A stale socket of an earlier start (or keeper): the directory is
     * root's alone, so what is at the path is ours to replace. */
    if (unlink(path) < 0 && errno != ENOENT) {
        return negative_errno();
    }
    /* Bound with the process's umask (not changed here: it is every
     * thread's), then given to the service alone. Whoever could send in
     * between is still only heard if it is the service (its credentials). */
    r = RET_NERRNO(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
    if (r == 0) {
        r = RET_NERRNO(chown(path, uid, gid));
    }
    if (r == 0) {
        r = RET_NERRNO(chmod(path, group ? 0660 : 0600));
    }
    if (r < 0) {
        unlink(path);
        return r;
    }
    return TAKE_FD(fd);
}

bool warden__notify_is_bound_at(int fd, const char *path)
{
    struct sockaddr_un sa = {0};
    socklen_t len = sizeof(sa);
    int type = 0;
    socklen_t tlen = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_DGRAM ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path)) {
        return false;
    }
    size_t n = len - offsetof(struct sockaddr_un, sun_path);
    return strnlen(sa.sun_path, n) == strlen(path) && strncmp(sa.sun_path, path, n) == 0;
}

/* Close every descriptor a datagram carried (FDSTORE=1 and friends): warden
 * keeps none, and leaving them open would let a sender exhaust ours. */
static void close_passed_fds(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int fds[n > 0 ? n : 1];
            memcpy(fds, CMSG_DATA(c), n * sizeof(int));
            for (size_t i = 0; i < n; i++) {
                close(fds[i]);
            }
        }
    }
}

int warden__notify_receive(int fd, struct warden_notify_msg *ret, struct ucred *ret_cred)
{
    char buf[WARDEN_NOTIFY_MAX];
    /* Room for the credentials and a few passed descriptors (which are
     * closed; more than fit are discarded by the kernel, MSG_CTRUNC). */
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = &control,
        .msg_controllen = sizeof(control),
    };
    ssize_t n;
    do {
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
    }
    close_passed_fds(&mh);
    const struct ucred *cred = NULL;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
            cred = (const struct ucred *)CMSG_DATA(c);
        }
    }
    /* With MSG_TRUNC, n is the datagram's real length: a longer one is
     * dropped whole, not acted on in part. */
    if (!cred || (mh.msg_flags & MSG_TRUNC) || (size_t)n > sizeof(buf)) {
        return -EBADMSG;
    }
    int r = warden__notify_parse(buf, (size_t)n, ret);
    if (r < 0) {
        return r;
    }
    memcpy(ret_cred, cred, sizeof(*ret_cred));
    return 0;
}
