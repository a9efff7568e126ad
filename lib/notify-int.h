/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sd_notify protocol (systemd's sd_notify(3)), with or without systemd:
 * the service gets a NOTIFY_SOCKET of its own, an AF_UNIX datagram socket
 * that warden reads, and says READY=1, STATUS=..., MAINPID=..., WATCHDOG=1,
 * STOPPING=1, EXTEND_TIMEOUT_USEC=... there. The start reads it until the
 * service is ready (ready=notify); then the keeper, which is handed the very
 * socket (nothing queued is lost), reads it for as long as it keeps the
 * service: the watchdog, STATUS= for its reasons, MAINPID=.
 *
 * Who may speak: the socket is a file in <state root>/.notify/ (root's,
 * 0755: no user can swap the path), owned by the service's user, mode 0600
 * (0660 with notify_access=all). Beyond that every datagram carries the
 * sender's credentials as the kernel saw them (SO_PASSCRED), and only the
 * service's main process (notify_access=main, the default, as systemd's
 * NotifyAccess=main) or a process of the service's tree (all) is listened
 * to; anything else is dropped. A pid from MAINPID= is believed only when
 * it is in the service's tree, and is pidfd'd at once. Private. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "warden/time.h"

/* A datagram larger than this is dropped whole (systemd: PIPE_BUF). */
#define WARDEN_NOTIFY_MAX 4096
/* STATUS= text kept, as shown (printable ASCII, then "..."). */
#define WARDEN_NOTIFY_STATUS_MAX  120
#define WARDEN_NOTIFY_STATUS_SIZE (WARDEN_NOTIFY_STATUS_MAX + 4)

enum warden_ready { WARDEN_READY_CHECK, WARDEN_READY_NOTIFY };
enum warden_notify_access { WARDEN_NOTIFY_MAIN, WARDEN_NOTIFY_ALL };

/* What one datagram said. Unknown keys, and known keys with values that do
 * not parse, are ignored (sd_notify(3): "unknown assignments are ignored"). */
struct warden_notify_msg {
    bool ready;            /* READY=1 */
    bool stopping;         /* STOPPING=1 */
    bool watchdog;         /* WATCHDOG=1 */
    bool watchdog_trigger; /* WATCHDOG=trigger: a hang, now */
    bool has_status;
    char status[WARDEN_NOTIFY_STATUS_SIZE]; /* STATUS=, shown safely */
    pid_t mainpid;                          /* MAINPID=, > 1; 0: none */
    bool has_extend;
    warden_usec_t extend_usec; /* EXTEND_TIMEOUT_USEC= */
};

/* Parse len bytes of one datagram: newline-separated KEY=VALUE. -EBADMSG
 * for an embedded NUL or len > WARDEN_NOTIFY_MAX; else 0. */
int warden__notify_parse(const char *buf, size_t len, struct warden_notify_msg *ret);

/* The socket's path for an instance: <state root>/.notify/<file name>, or
 * a hashed name when that would not fit in sun_path. */
int warden__notify_path(const char *instance, char **ret);

/* Bind a fresh socket at path (removing a stale one; its directory is made
 * root's 0755, refused if it is anything else), credentials on, owned by
 * uid:gid, mode 0600, or 0660 with group. Returns the fd (O_CLOEXEC,
 * O_NONBLOCK). */
int warden__notify_listen(const char *path, uid_t uid, gid_t gid, bool group);

/* Whether fd is a datagram socket bound at path (a notify socket handed to
 * the keeper). */
bool warden__notify_is_bound_at(int fd, const char *path);

/* Read one datagram: 0 and ret/ret_cred, -EAGAIN when none is queued,
 * -EBADMSG (too large, NUL in it, no credentials: dropped), other -errno.
 * File descriptors a sender passes are closed at once. */
int warden__notify_receive(int fd, struct warden_notify_msg *ret, struct ucred *ret_cred);

/* The values of the parameters ready and notify_access: 0 or -EINVAL. */
int warden__ready_parse(const char *text, enum warden_ready *ret);
int warden__notify_access_parse(const char *text, enum warden_notify_access *ret);
