/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service's environment beyond its command line: variables, resource
 * limits, umask, nice, OOM score, and the limits of its cgroup. Parsed from
 * the parameters once (environ.c), applied in the service's process between
 * fork and exec (environ-child.c) and to its cgroup by the start. Private. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "warden/param.h"

struct warden_unit_resources;

enum warden_limit { WARDEN_LIMIT_NOFILE, WARDEN_LIMIT_CORE, WARDEN_LIMIT_NPROC, WARDEN_LIMIT_N };

/* What the service's own process gets before exec. Plain data: the child
 * reads it after fork, where nothing may be allocated. */
struct warden_environ {
    bool set_limit[WARDEN_LIMIT_N];
    struct rlimit limit[WARDEN_LIMIT_N];
    bool set_umask;
    mode_t umask;
    bool set_nice;
    int nice;
    bool set_oom_score_adjust;
    int oom_score_adjust;
};

/* The library's parameters of a service's environment and output, for the
 * agent's table (merged after the common ones). */
extern const struct warden_param warden__environ_params[];

/* Parsers, each 0 or -EINVAL (the parameter tables' checks use them).
 * A limit: "N" (soft and hard), "SOFT:HARD", "infinity" for either; a size
 * with K/M/G/T where sizes says so (limit_core). */
int warden__limit_parse(const char *text, bool sizes, struct rlimit *ret);
/* Octal, 0 to 0777, e.g. 022 or 0027. */
int warden__umask_parse(const char *text, mode_t *ret);
/* Whole number within [min, max]. */
int warden__int_parse_within(const char *text, int min, int max, int *ret);
/* A list of NAME=VALUE words, split and quoted as command is; NAME is
 * [A-Za-z_][A-Za-z0-9_]*. ret (may be NULL) gets the words, for
 * warden__exec_environment_with. */
int warden__environment_parse(const char *text, char ***ret);
/* memory_max: a size as warden_size_parse takes it, or "infinity"; ret gets
 * the text for memory.max ("max" for infinity). */
int warden__memory_max_parse(const char *text, char ret[static 32]);

/* Build what the child applies from validated parameters; ret_extra gets
 * the `environment` words (NULL when none). -EINVAL and a reason naming
 * the parameter and its form for a bad value. */
int warden__environ_from_params(const warden_params *p, struct warden_environ *ret,
                                char ***ret_extra, char **ret_reason);

/* What only this node can say: limit_nofile within fs.nr_open (infinity
 * becomes fs.nr_open, the most setrlimit takes). -EINVAL and a reason. */
int warden__environ_check_node(struct warden_environ *env, char **ret_reason);

/* Apply env to the calling process: rlimits, umask, nice, oom_score_adj,
 * SIGPIPE ignored (systemd's IgnoreSIGPIPE=yes).
 * Called between fork and exec, before the user switch (raising a hard
 * limit, a negative nice or OOM score need root): async-signal-safe only.
 * -errno of the first step that failed. NULL env: nothing to do. */
int warden__environ_child_apply(const struct warden_environ *env);

/* The cgroup settings of a service (memory_max, cpu_weight) written to
 * cgroup, enabling the controllers in its parent (warden's own
 * <root>/warden) when they are not yet. Unset parameters are left alone at
 * start; with reset (a reload), an unset one goes back to the default.
 * -ENOPKG and a reason when a controller is not available; cgroup NULL
 * (no cgroup v2 here) with a setting asked for is -ENOPKG too. */
int warden__environ_apply_cgroup(const warden_params *p, const char *cgroup, bool reset,
                                 char **ret_reason);

/* The same settings as a systemd unit's properties (unit-int.h), for a
 * service in a unit: there the unit's cgroup files are systemd's. */
int warden__environ_unit_resources(const warden_params *p, struct warden_unit_resources *ret);

/* Whether the cgroup settings the parameters ask for could be applied on
 * this node (validate-all, and start before it spawns). */
int warden__environ_check_cgroup(const warden_params *p, char **ret_reason);
