/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file agent.h
 * An OCF resource agent as a table. warden_agent_main() does the rest:
 * parses OCF_RESKEY_*, prints meta-data, validates, runs the action under its
 * deadline and maps the result to an OCF exit code.
 */
#pragma once

#include "warden/param.h"

#ifdef __cplusplus
extern "C" {
#endif

/** OCF exit codes (Pacemaker 2.1 semantics). */
enum warden_ocf_rc {
    WARDEN_OCF_SUCCESS = 0,
    WARDEN_OCF_ERR_GENERIC = 1,
    WARDEN_OCF_ERR_ARGS = 2,
    WARDEN_OCF_ERR_UNIMPLEMENTED = 3,
    WARDEN_OCF_ERR_PERM = 4,
    WARDEN_OCF_ERR_INSTALLED = 5,
    WARDEN_OCF_ERR_CONFIGURED = 6,
    WARDEN_OCF_NOT_RUNNING = 7,
};

/** An agent: what it is called, what it takes, and how its defaults derive. */
struct warden_agent {
    const char *name;    /**< the OCF type, e.g. "daemon" */
    const char *version; /**< the agent's version */
    const char *shortdesc;
    const char *longdesc;
    /** The agent's own parameters, ending with {NULL}. They come first in the
     * meta-data; one named like a common parameter (command, check, ...)
     * replaces the common one. */
    const struct warden_param *params;
    /** Optional: derive defaults from other values (warden_params_set_default)
     * before validation. @return 0 or -errno. */
    int (*prepare)(warden_params *p);
};

/**
 * Run the OCF action named by argv[1] and return its exit code.
 * @return an OCF exit code (enum warden_ocf_rc), for main() to return.
 */
int warden_agent_main(const struct warden_agent *agent, int argc, char **argv);

/**
 * Map a warden return value (0 or -errno) to an OCF exit code. The one place
 * this mapping lives; the README documents it.
 */
enum warden_ocf_rc warden_ocf_rc_from_errno(int r);

#ifdef __cplusplus
}
#endif
