/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd hosts: each service in a transient scope unit of its own. Private.
 *
 * Where PID 1 is systemd, only PID 1 writes to the cgroup tree outside the
 * units it delegated (systemd's CONTROL_GROUP_INTERFACE.md), so a service
 * does not get <cgroup2>/warden/<name> there: it runs in
 * "warden-<name>.scope" (instance-int.h) in warden.slice, made over D-Bus
 * with the holder as its process, Delegate=yes (warden writes cgroup.kill
 * and reads cgroup.procs and cgroup.events of the scope's cgroup: those are
 * its own only in a delegated one). Everything else (the kill, the wait,
 * the state file's "cgroup" line) works on the scope's cgroup path as on
 * any cgroup (cgroup-int.h). Elsewhere none of this is used.
 *
 * Every call here is bounded by the caller's deadline: the connection, each
 * method call, and the wait for systemd's JobRemoved and UnitRemoved. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "warden/time.h"

/* Whether services go into units: 1 when PID 1 is systemd (sd_booted())
 * with a cgroup v2 hierarchy and a kernel with cgroup.kill; 0 when PID 1 is
 * not systemd (the cgroup tree of cgroup-int.h is used), or when
 * WARDEN_SYSTEMD=off or WARDEN_CGROUP=off (cgroup-int.h) is set in the
 * environment (tests of the other paths on a systemd host); -EOPNOTSUPP on
 * a systemd host that lacks either: no cgroup of warden's at all there
 * (the holder's session), rather than one outside systemd's units. */
int warden__unit_enabled(void);

/* The service's resource controls as the unit's properties (MemoryMax=,
 * CPUWeight=): a scope's own cgroup files are systemd's to write, and it
 * writes them again on every daemon-reload. WARDEN_UNIT_UNSET: the
 * property's default (no limit, weight 100). */
#define WARDEN_UNIT_UNSET UINT64_MAX
struct warden_unit_resources {
    uint64_t memory_max; /* bytes */
    uint64_t cpu_weight; /* 1-10000 */
};

/* Create the instance's scope unit with pid (the holder, which waits: it
 * forks nothing before it is in the unit) as its process, wait until the
 * start job is done, and check that pid is in the unit's cgroup.
 * ret_cgroup: that cgroup's path. ret_reason (may be NULL) says what
 * systemd answered on failure. -ETIMEDOUT at the deadline, -EEXIST when the
 * unit exists already, -EIO when systemd refused it or its start failed. */
int warden__unit_start(const char *instance, pid_t pid, const struct warden_unit_resources *res,
                       warden_usec_t deadline, char **ret_cgroup, char **ret_reason);

/* Set the running unit's resource controls (a reload): every one, the unset
 * ones back to their default. -EIO with systemd's answer in ret_reason. */
int warden__unit_set_resources(const char *instance, const struct warden_unit_resources *res,
                               warden_usec_t deadline, char **ret_reason);

/* Make sure the instance's unit is gone: stop it if it is loaded (with
 * nothing of the service left in it, which is what the callers make sure of
 * first), and wait until systemd has unloaded it (CollectMode=
 * inactive-or-failed). 0 once it is gone or when there was none. */
int warden__unit_stop(const char *instance, warden_usec_t deadline);

/* The cgroup a unit of this instance has, when that directory exists: a
 * start whose state was lost can still be cleaned up. -ENOENT when there is
 * none. Reads the file system only, no D-Bus. */
int warden__unit_cgroup_find(const char *instance, char **ret_path);

/* Whether a recorded cgroup path is a unit's (in warden.slice): such a
 * cgroup is systemd's to remove, never ours to rmdir. */
bool warden__unit_owns_cgroup(const char *path);
