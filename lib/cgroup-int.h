/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup v2: one cgroup per service instance, killed whole with cgroup.kill.
 * Private to the library. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "warden/time.h"

/* Where the cgroup v2 hierarchy is mounted (from /proc/self/mountinfo):
 * /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones.
 * -ENOMEDIUM when there is none. WARDEN_CGROUP=off forces the fallback,
 * so that both paths can be tested on one machine. */
int warden__cgroup_root(char **ret);

/* Create the instance's cgroup, <root>/warden/<its cgroup name> (see
 * instance-int.h; idempotent); -EOPNOTSUPP when cgroup.kill is missing
 * (kernel < 5.14): the caller then falls back to sessions. -ENOTDIR when
 * something other than a directory has that name. */
int warden__cgroup_create(const char *instance, char **ret_path);

/* The instance's cgroup when it exists (a directory): a start whose state
 * was lost can still be cleaned up. -ENOENT when there is none. */
int warden__cgroup_find(const char *instance, char **ret_path);

/* Open <path>/cgroup.procs for writing; a forked child writes "0" to it to
 * join the cgroup before it execs. */
int warden__cgroup_open_procs(const char *path);

/* The pids in the cgroup (cgroup.procs). Here and below, -ENOENT when the
 * cgroup is gone, also when it went between the open of its file and the
 * read or write (systemd removes a scope's the moment it is empty). */
int warden__cgroup_pids(const char *path, pid_t **ret, size_t *ret_n);

/* SIGKILL every process of the cgroup at once. */
int warden__cgroup_kill(const char *path);

/* Whether any process is left (cgroup.events "populated"). -ENOENT when the
 * cgroup is gone. */
int warden__cgroup_populated(const char *path);

/* Wait until the cgroup is empty or the deadline passes (-ETIMEDOUT);
 * waits on cgroup.events notifications, not by polling. */
int warden__cgroup_wait_empty(const char *path, warden_usec_t deadline);

/* rmdir the cgroup; 0 when it is already gone. */
int warden__cgroup_remove(const char *path);

/* 0 when controller is listed in dir's cgroup.controllers (available to
 * dir), -ENOPKG when it is not. */
int warden__cgroup_controller_available(const char *dir, const char *controller);

/* Write value to <path>/<file> (memory.max, cpu.weight), first enabling
 * controller in the parent's cgroup.subtree_control (warden's own
 * <root>/warden, and the root above it where PID 1 is not systemd) when
 * the file is not there. -ENOPKG when the controller cannot be had. */
int warden__cgroup_set(const char *path, const char *controller, const char *file,
                       const char *value);
