/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by every libwarden module: cleanup attributes, errno
 * conversion, monotonic time. Private to the library. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warden/time.h"

#define _cleanup_(f)  __attribute__((cleanup(f)))
#define _unused_      __attribute__((unused))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
    free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
#define _cleanup_close_ _cleanup_(closep)

/* Hand-off of a cleanup-owned local: returns the value and leaves the local
 * empty so the cleanup does nothing. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _p = (p);                                                                    \
        (p) = NULL;                                                                                \
        _p;                                                                                        \
    })
#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int _fd = (fd);                                                                            \
        (fd) = -EBADF;                                                                             \
        _fd;                                                                                       \
    })

/* libc reports failure as -1 + errno; we return -errno. The one conversion. */
static inline int negative_errno(void)
{
    return errno > 0 ? -errno : -EIO;
}
#define RET_NERRNO(expr) ((expr) < 0 ? negative_errno() : 0)

static inline bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static inline bool startswith(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline bool isempty(const char *s)
{
    return !s || !*s;
}

/* Milliseconds a poll() may wait before deadline; 0 once it has passed,
 * -1 (forever) for WARDEN_USEC_INFINITY. */
int warden__poll_timeout_ms(warden_usec_t deadline);

/* Write the whole buffer to a path (O_CLOEXEC, no create) - for cgroup and
 * proc files where one write is one command. */
int warden__write_file(const char *path, const char *text);

/* Read a small file (at most max bytes) into a NUL-terminated buffer. Only a
 * regular file, and not through a symlink at the last step: -ELOOP for a
 * symlink, -EBADFD for a FIFO, device, socket or directory. Never blocks on
 * open. Returns the length read. */
/* Set *ret_reason (when ret_reason is not NULL) to the formatted text,
 * replacing what it held, and return r: for "return warden__set_reason(
 * ret_reason, -EINVAL, ...)". */
int warden__set_reason(char **ret_reason, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int warden__read_file(const char *path, size_t max, char **ret);

/* One step of a walk down a path that must hold no symlink: name in dir,
 * opened as a directory (O_PATH) without following a symlink. -ELOOP for a
 * symlink (which fails O_DIRECTORY before O_NOFOLLOW would say so). */
int warden__open_dir_step(int dir, const char *name);

/* A public struct that a caller filled, as this library knows it: the
 * caller's src_size bytes of it, zero-extended to dst_size, the way the
 * kernel takes extensible structs from user space (copy_struct_from_user).
 * A caller built against newer headers may pass more: that is accepted only
 * when every byte past dst_size is zero (fields this library does not know,
 * left unset), else -E2BIG, for the caller asks for what this library
 * cannot do. */
int warden__struct_copy(void *dst, size_t dst_size, const void *src, size_t src_size);

/* An agent's reason (its prepare, probe or hooks) as warden shows it: one
 * line of printable ASCII (anything else becomes '?'), at most
 * WARDEN_REASON_SHOWN_MAX bytes, then "...". Returns buf. */
#define WARDEN_REASON_SHOWN_MAX  200
#define WARDEN_REASON_SHOWN_SIZE (WARDEN_REASON_SHOWN_MAX + 4)
const char *warden__reason_shown(const char *text, char buf[static WARDEN_REASON_SHOWN_SIZE]);

/* The same for len bytes of text (not NUL-terminated: what a server sent),
 * at most max of them shown; buf has room for max + 4. */
const char *warden__text_shown(const char *text, size_t len, size_t max, char *buf);

/* printf into a new string; NULL on allocation failure. */
char *warden__strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
