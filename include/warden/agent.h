/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file agent.h
 * An OCF resource agent as a table. warden_agent_main() does the rest:
 * parses OCF_RESKEY_*, prints meta-data, validates, runs the action under its
 * deadline and maps the result to an OCF exit code. doc/writing-an-agent.md
 * walks through an agent from an empty file to a cluster primitive.
 *
 * **The common parameters.** Every agent has the parameters of
 * ocf:warden:daemon (see its meta-data, or the README's table): command,
 * shell, pidfile, user, workdir, stop_command, pending_timeout, check,
 * check_timeout, check_interval, failure_threshold, notify_cluster,
 * depends_on and the dump_* parameters. An agent's own parameters come first
 * in its meta-data. To change a common parameter (its default, its
 * description, its check), the agent declares one of the same name: that
 * declaration replaces the common one whole. To derive a default from other
 * values at run time (a command built from a config path), the agent's
 * prepare() calls warden_params_set_default(); a value the administrator
 * gave always wins.
 *
 * **The re-exec contract.** warden_agent_main() must be the first thing
 * main() does, with main's own argc and argv, untouched, and its return
 * value returned from main(). The library runs the agent binary again, by
 * /proc/self/exe, in internal modes: the keeper (argv[0] "warden-keeper",
 * argv[1] "__warden_keeper", argv[2] the instance: the resident watcher that
 * runs the probe every check_interval) and the dump helper (argv[1]
 * "__warden_dump"). So everything an agent does before warden_agent_main()
 * is done again in those processes, and an agent must not interpret argv
 * itself, change its working directory, close file descriptors it did not
 * open, or install signal handlers before it. The keeper is the agent's own
 * code: the agent's probe and prepare() run there too, without a
 * controlling terminal, with stdin, stdout and stderr on /dev/null.
 *
 * **Extensibility.** struct warden_agent and struct warden_param only ever
 * grow at their end. warden_agent_main() is a macro that passes the sizes
 * the agent was compiled with; the library reads only the fields within
 * them, so an agent built against older headers runs with a newer library
 * (the fields it does not know are unset). An agent built against newer
 * headers runs with an older library as long as it leaves the newer fields
 * unset; otherwise it exits 5 (not installed) with a reason asking for a
 * newer libwarden. Initialise the tables with designated initializers
 * (`.name = ...`), never by position.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "warden/param.h"
#include "warden/time.h"

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
    /** Running, with a warning (OCF 1.1; Pacemaker 2.1 and 3.0 show it
     *  among failed actions but neither recover nor count it). */
    WARDEN_OCF_DEGRADED = 190,
};

/**
 * What the library hands an agent's probe and hooks. Filled by the library
 * and valid for the duration of the call; fields are only ever appended, so
 * an agent reads the ones its headers know.
 */
struct warden_agent_context {
    /** The values of this invocation (in the keeper: after the last reload).
     *  Read them with warden_params_string() and its siblings. */
    const warden_params *params;
    /** The resource instance, OCF_RESOURCE_INSTANCE (e.g. "web" or "web:0"). */
    const char *instance;
    /** The service's main process; 0 before it is started (before_start),
     *  and after it is gone (after_stop). */
    pid_t main_pid;
    /** Return by then: an absolute CLOCK_MONOTONIC point (warden_now()).
     *  A callback that has not returned by then is abandoned: it keeps
     *  running in its thread until it returns, and the operation goes on
     *  (or fails) without it, so it must not touch what it does not own. */
    warden_usec_t deadline;
};

/**
 * An agent's probe or hook.
 * @param ctx what the library knows at this point (see above).
 * @param ret_reason on failure, why, for people: a string the callback
 *        allocates (malloc) and the library frees; may be left NULL. It is
 *        shown as the OCF exit reason and logged, made one line of printable
 *        ASCII and cut to 200 bytes (Pacemaker keeps 128 of a reason: say
 *        the essential first).
 * @return 0 on success, or -errno. For a probe, as the built-in ones:
 *         WARDEN_PROBE_DEGRADED (probe.h) alive with a warning, said in
 *         *ret_reason (monitor answers 190, degraded), -ETIMEDOUT no answer by the deadline (hung),
 * -ESRCH the service is gone, -WARDEN_PROBE_ERESOLVE a host did not resolve (the check could not be
 * run: the keeper does not count it), any other -errno the service is not healthy (-EPROTO for a
 * wrong answer, -ECONNREFUSED, ...).
 */
typedef int (*warden_agent_fn)(const struct warden_agent_context *ctx, char **ret_reason);

/**
 * An agent: what it is called, what it takes, how its defaults derive, and
 * optionally a probe of its own and hooks around start and stop.
 *
 * Every hook runs under the deadline of its operation (start and stop:
 * pending_timeout; see below for what each gets), in a thread of its own: a
 * hook that overruns is abandoned at its deadline and the operation answers
 * in time. A hook's reason reaches the OCF exit reason as
 * "<hook>: <reason>" whenever the operation fails.
 */
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
     * before validation, in every action that reads parameters and in the
     * keeper on each reload. No deadline: it must not block.
     * @param ret_reason on failure, why (allocated; the library frees it),
     *        shown as the exit reason; may be left NULL.
     * @return 0 or -errno; -EINVAL exits 6 (not configured). */
    int (*prepare)(warden_params *p, char **ret_reason);
    /** Optional: a health probe of the agent's own, run where the built-in
     * ones run (the keeper every check_interval, a depth-10 monitor, a
     * probe, start's wait until healthy), under check_timeout, with the
     * reason conventions of warden_agent_fn. The `check` spec `agent`
     * selects it, and it is the default of `check` for an agent that has
     * one (unless the agent redeclares `check`); validate-all accepts
     * `check=agent` only for an agent that has a probe. */
    warden_agent_fn probe;
    /** Optional: run by start before the service's command, after what an
     * earlier start left was cleaned up (prepare directories, render a
     * configuration). Not run when the service is already running. Deadline:
     * the start's. A failure fails the start (nothing was started). */
    warden_agent_fn before_start;
    /** Optional: run by start once the check passes, for readiness beyond
     * it (a cache warmed, a replica caught up). It waits itself, until the
     * deadline at most. Deadline: the start's. A failure fails the start
     * and ends the service. */
    warden_agent_fn ready;
    /** Optional: run by stop first, while the main process runs: a graceful
     * step in C (ask the service to drain), before stop_command or SIGTERM.
     * Deadline: the point where stop escalates to SIGKILL. A failure or an
     * overrun is logged and the stop goes on: a stop must stop. */
    warden_agent_fn before_stop;
    /** Optional: run by stop once nothing of the service is left (clean-up:
     * remove a socket, release a lock file). Deadline: the stop's. A failure
     * fails the stop: Pacemaker then fences the node, so fail only when
     * starting the service elsewhere would be unsafe; log and return 0
     * otherwise. */
    warden_agent_fn after_stop;
};

/**
 * Run the OCF action named by argv[1] and return its exit code: the whole
 * agent. The first statement of main(): `return warden_agent_main(&agent,
 * argc, argv);` (see "The re-exec contract" above). A macro: it passes the
 * sizes of struct warden_agent and struct warden_param that the agent was
 * compiled with to warden_agent_main_sized().
 * @return an OCF exit code (enum warden_ocf_rc), for main() to return.
 */
#define warden_agent_main(agent, argc, argv)                                                       \
    warden_agent_main_sized((agent), sizeof(*(agent)), sizeof(struct warden_param), (argc), (argv))

/**
 * What warden_agent_main() expands to; call that instead.
 * @param agent_size sizeof(struct warden_agent) as the agent was compiled.
 * @param param_size sizeof(struct warden_param) as the agent was compiled:
 *        the stride of agent->params.
 * @return an OCF exit code (enum warden_ocf_rc).
 */
int warden_agent_main_sized(const struct warden_agent *agent, size_t agent_size, size_t param_size,
                            int argc, char **argv);

/**
 * Map a warden return value (0, WARDEN_PROBE_DEGRADED or -errno) to an OCF
 * exit code. The one place this mapping lives; the README documents it.
 */
enum warden_ocf_rc warden_ocf_rc_from_errno(int r);

#ifdef __cplusplus
}
#endif
