/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A resource instance's name where it becomes a directory, a cgroup, a
 * socket, a file name or a log line. Pacemaker accepts any XML ID, of any
 * length, and a clone adds ":N"; each of those places takes less. All the
 * mappings are here, so that every module (and the agent's front, which
 * links only libc: no libqb here) finds the same names. Private.
 *
 * A name that is short and safe stays as it is: operators and tests look at
 * /run/warden/<name> and <cgroup2>/warden/<name>. Any other name becomes a
 * readable prefix of it, '~', and the 16 hex digits of a 64-bit FNV-1a hash
 * of the whole name, so two long names that share a prefix still differ. A
 * safe name holds no '~', so a shortened name never equals a kept one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest name kept whole in a file or directory name. */
#define WARDEN_INSTANCE_FILE_MAX 100
/* The longest name kept whole in the keeper's IPC name (libqb's names, with
 * "warden-" in front, must stay within 100 bytes). */
#define WARDEN_INSTANCE_IPC_MAX 80
/* The longest instance or action name put into a log line's prefix: libqb
 * 2.0.6 overflows its own buffer on long formats. */
#define WARDEN_INSTANCE_LOG_MAX 64

/* Buffer sizes for the forms below, with their NUL. */
#define WARDEN_INSTANCE_FILE_SIZE   (WARDEN_INSTANCE_FILE_MAX + 1)
#define WARDEN_INSTANCE_CGROUP_SIZE (WARDEN_INSTANCE_FILE_MAX + 2)
#define WARDEN_INSTANCE_IPC_SIZE    (sizeof("warden-") + WARDEN_INSTANCE_IPC_MAX)
#define WARDEN_INSTANCE_LOG_SIZE    (WARDEN_INSTANCE_LOG_MAX + 1)
/* systemd's longest unit name (UNIT_NAME_MAX), with its NUL. */
#define WARDEN_INSTANCE_UNIT_SIZE (255 + 1)

/* 64-bit FNV-1a of a string. */
uint64_t warden__instance_hash(const char *text);

/* text itself when it has at most max bytes (max >= 24), does not start with
 * '.', and holds no control byte, no '/', no '~' and none of the bytes in
 * avoid (may be NULL); else a prefix of it cut at a UTF-8 character boundary
 * with those bytes (and a leading '.') as '_', then '~' and the hash: at most
 * max bytes. Writes buf (max + 1 bytes). Returns true when text was kept. */
bool warden__instance_shorten(const char *text, size_t max, const char *avoid, char *buf);

/* The instance's directory under the state root (<root>/<this>/) and the
 * stem of its dump files (<this>-<UTC time>-<reason>.stacks). -EINVAL for an
 * empty or missing name. */
int warden__instance_file_name(const char *instance, char ret[static WARDEN_INSTANCE_FILE_SIZE]);

/* The instance's cgroup under <cgroup2>/warden/: the file name, with '_' in
 * front when it would clash with the kernel's interface files there
 * (cgroup.kill, cpu.pressure, tasks, ...) or starts with '_' or '.', as
 * systemd's cg_escape() does. -EINVAL for an empty or missing name. */
int warden__instance_cgroup_name(const char *instance,
                                 char ret[static WARDEN_INSTANCE_CGROUP_SIZE]);

/* The instance's systemd unit, "warden-<name>.scope": <name> is the file
 * name above escaped as systemd-escape does (every byte but ASCII letters,
 * digits, ':', '_' and a '.' not in front as \xNN, '-' too), so that
 * `systemctl status "warden-$(systemd-escape NAME).scope"` finds it; when
 * that would pass systemd's 255 bytes, the escaped form of the name
 * shortened to 60 bytes instead (at most 240 bytes escaped). -EINVAL for an
 * empty or missing name. */
int warden__instance_unit_name(const char *instance, char ret[static WARDEN_INSTANCE_UNIT_SIZE]);

/* The keeper's libqb IPC service name: "warden-<name>", shortened past
 * WARDEN_INSTANCE_IPC_MAX. -EINVAL for an empty or missing name. */
int warden__instance_ipc_name(const char *instance, char ret[static WARDEN_INSTANCE_IPC_SIZE]);

/* An instance or action name for a log format string: shortened past
 * WARDEN_INSTANCE_LOG_MAX, with no '%' (libqb would read a directive);
 * "-" for none. */
void warden__instance_log_name(const char *text, char ret[static WARDEN_INSTANCE_LOG_SIZE]);
