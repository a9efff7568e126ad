/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the library's modules (see util-int.h). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "util-int.h"

int warden__poll_timeout_ms(warden_usec_t deadline)
{
    if (deadline == WARDEN_USEC_INFINITY) {
        return -1;
    }
    warden_usec_t now = warden_now();
    if (now >= deadline) {
        return 0;
    }
    /* Round up so a wait never returns just before the deadline and spins. */
    warden_usec_t ms = (deadline - now + WARDEN_USEC_PER_MSEC - 1) / WARDEN_USEC_PER_MSEC;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int warden__write_file(const char *path, const char *text)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return negative_errno();
    }
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    if (n < 0) {
        return negative_errno();
    }
    return (size_t)n == len ? 0 : -EIO;
}

int warden__open_dir_step(int dir, const char *name)
{
    int fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        return fd;
    }
    int r = negative_errno();
    struct stat lst;
    return fstatat(dir, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode) ? -ELOOP : r;
}

int warden__read_file(const char *path, size_t max, char **ret)
{
    /* Some of these files sit where a service's user can write (a pidfile,
     * depends_on) and root reads them: no symlink is followed at the last
     * step, a FIFO opens without waiting for a writer, and anything but a
     * regular file (FIFO, device, socket, directory) is refused before a
     * byte is read. /proc, cgroup and state files are regular files. */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return negative_errno();
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return negative_errno();
    }
    if (!S_ISREG(st.st_mode)) {
        return -EBADFD;
    }
    _cleanup_free_ char *buf = malloc(max + 1);
    if (!buf) {
        return -ENOMEM;
    }
    size_t len = 0;
    while (len < max) {
        ssize_t n = read(fd, buf + len, max - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return negative_errno();
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    *ret = TAKE_PTR(buf);
    return (int)len;
}

char *warden__strdup_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    return r < 0 ? NULL : s;
}

int warden__set_reason(char **ret_reason, int r, const char *fmt, ...)
{
    if (ret_reason) {
        va_list ap;
        va_start(ap, fmt);
        free(*ret_reason);
        if (vasprintf(ret_reason, fmt, ap) < 0) {
            *ret_reason = NULL;
        }
        va_end(ap);
    }
    return r;
}

int warden__struct_copy(void *dst, size_t dst_size, const void *src, size_t src_size)
{
    const unsigned char *extra = (const unsigned char *)src + dst_size;
    for (size_t i = 0; src_size > dst_size && i < src_size - dst_size; i++) {
        if (extra[i]) {
            return -E2BIG;
        }
    }
    memset(dst, 0, dst_size);
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    return 0;
}

const char *warden__text_shown(const char *text, size_t len, size_t max, char *buf)
{
    size_t n = len < max ? len : max;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        buf[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    strcpy(buf + n, len > n ? "..." : "");
    return buf;
}

const char *warden__reason_shown(const char *text, char buf[static WARDEN_REASON_SHOWN_SIZE])
{
    return warden__text_shown(text, strlen(text), WARDEN_REASON_SHOWN_MAX, buf);
}
