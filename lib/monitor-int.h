/* The agent's side of the keeper: ask it for the verdict, start one, stand
 * it down, hand it reloaded values; and the keeper process itself, built
 * around one service. Private. */
#pragma once

#include "keeper-int.h"
#include "param-int.h"
#include "service-int.h"

/* The keeper's IPC name for an instance (at most 100 bytes). */
int warden__keeper_ipc_name(const char *instance, char **ret);

/* Ask the instance's keeper for its verdict. -ENOTCONN when none answers,
 * -EACCES when it refused us. */
int warden__monitor_ask(const char *instance, struct warden_verdict *ret);

/* Send a reload request (warden__params_reload_text). -ENOTCONN without a keeper. */
int warden__monitor_reload(const char *instance, const char *text);

/* Start a keeper for a running service: this binary again, in keeper mode,
 * detached (own session, stdio on /dev/null), so that Pacemaker's kill of
 * the agent's process group on an op timeout does not reach it. Returns
 * once it serves its IPC, or at the deadline. */
int warden__keeper_launch(struct warden_service *s, warden_usec_t deadline);

/* Stand the keeper down before a deliberate stop (SIGTERM: it exits
 * without reporting anything), SIGKILL if it does not go by the deadline. */
int warden__keeper_stand_down(struct warden_service *s, warden_usec_t deadline);

/* The keeper process: runs until stood down. prepare is the agent's (it
 * derives defaults from reloaded values too). Exit status for main(). */
int warden__keeper_main(const warden_params *p, const char *instance,
                        int (*prepare)(warden_params *p));

/* The internal action name that runs a keeper. */
#define WARDEN_KEEPER_ACTION "__warden_keeper"
