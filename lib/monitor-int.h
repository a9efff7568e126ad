/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's side of the keeper: ask it for the verdict, start one, stand
 * it down, hand it reloaded values; and the keeper process itself, built
 * around one service. Private. */
#pragma once

#include "keeper-int.h"
#include "param-int.h"
#include "service-int.h"

/* The keeper's IPC name for an instance (at most 100 bytes). */
int warden__keeper_ipc_name(const char *instance, char **ret);

/* Ask the instance's keeper for its verdict, by the deadline. Only the
 * keeper recorded in state_dir/keeper (pid and start time, re-verified, and
 * root) is believed: -ENOTCONN when there is none, -EADDRINUSE when
 * another process serves the name, -EACCES when it refused us, -ETIMEDOUT
 * at the deadline. */
int warden__monitor_ask(const char *state_dir, const char *instance, warden_usec_t deadline,
                        struct warden_verdict *ret);

/* Send the recorded keeper a reload request (root only; the text is
 * warden__params_reload_text's), by the deadline.
 * -ENOTCONN without a keeper. */
int warden__monitor_reload(const char *state_dir, const char *instance, const char *text,
                           warden_usec_t deadline);

/* Start a keeper for a running service: this binary again, in keeper mode,
 * detached (own session, stdio on /dev/null), so that Pacemaker's kill of
 * the agent's process group on an op timeout does not reach it. Returns 0
 * once it keeps and serves its IPC, -EADDRINUSE when it keeps without IPC
 * (its name is taken), -ECHILD when it is not keeping, -ETIMEDOUT at the
 * deadline. */
int warden__keeper_launch(struct warden_service *s, warden_usec_t deadline);

/* Stand the keeper down before a deliberate stop (SIGTERM: it exits
 * without reporting anything), SIGKILL if it does not go by the deadline.
 * The keeper is the one its record names (re-verified by start time) or,
 * without a record, a root process with a keeper's command line for this
 * instance; never a pid learned over IPC. */
int warden__keeper_stand_down(struct warden_service *s, warden_usec_t deadline);

/* The keeper process: runs until stood down. agent is the agent's table:
 * its prepare derives defaults from reloaded values too, its probe is
 * check=agent. Exit status for main(). */
int warden__keeper_main(const warden_params *p, const char *instance,
                        const struct warden_agent *agent);

/* The internal action name that runs a keeper. */
#define WARDEN_KEEPER_ACTION "__warden_keeper"
