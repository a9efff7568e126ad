/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's room: what warden_agent_main (agent.h) is made of. Private.
 *   front.c        the front every agent binary links (libc only): a
 *                  depth-0 monitor answered from the keeper's verdict file,
 *                  else this library, loaded and called
 *   agent.c        the full agent behind it: the OCF dispatch (actions,
 *                  deadlines, exit codes)
 *   agent-table.c  the agent's table as the library completes it: the
 *                  common parameters every agent inherits, the table
 *                  normalised to this library's sizes, the meta-data and
 *                  usage that describe it. Apart from agent.c because it is
 *                  data and description, not the running of an action. */
#pragma once

#include <stdio.h>

#include "warden/agent.h"

/* Everything warden_agent_main does but the front's fast monitor. Weak in
 * the front: where the full library is linked in (libwarden.so, the tests)
 * the front calls it directly; the agents' libc-only front dlopen()s it.
 *
 * Its signature is an ABI of its own: an agent built out of tree carries the
 * front (libwarden-front.a) of the libwarden it was built against, and
 * dlopen()s whatever libwarden.so.0 is installed later. So it never changes
 * for this soname (a new one would get a new name, and the library would
 * keep this one), and the agent's table crosses it with the sizes it was
 * compiled with (warden_agent_main_sized). */
int warden__agent_main_full(const struct warden_agent *agent, size_t agent_size, size_t param_size,
                            int argc, char **argv);

/* Parameters every agent has; an agent may redeclare one to change it.
 * NULL-terminated. */
extern const struct warden_param warden__agent_common_params[];

/* The agent's tables as this library knows them (agent.h, "Extensibility"):
 * agent_size and param_size are the sizes the agent was compiled with. out
 * gets a copy whose params (*ret_params, to free) are this library's
 * warden_param; -E2BIG when a newer agent sets fields this library does not
 * know, -EINVAL for an unusable table, -ENOMEM. */
int warden__agent_normalize(const struct warden_agent *in, size_t agent_size, size_t param_size,
                            struct warden_agent *out, struct warden_param **ret_params);

/* The agent's OCF meta-data, for the parameter table merged from its own
 * and the common ones (OCF 1.1 when the caller speaks it). */
void warden__agent_print_metadata(const struct warden_agent *a,
                                  const struct warden_param *const *table, size_t n_params,
                                  FILE *out);

/* The usage line of `agent` with no or an unknown action. */
void warden__agent_usage(const struct warden_agent *a, FILE *out);
