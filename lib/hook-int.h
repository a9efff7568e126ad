/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's own code, run by the library: its probe and its hooks
 * (agent.h), each in a thread of its own under a deadline. Private. */
#pragma once

#include "warden/agent.h"
#include "warden/probe.h"

/* Run fn(ctx) in a thread of its own until ctx->deadline (and a little
 * grace). Returns its result: 0, or -errno with *ret_reason (may be NULL)
 * set to "<name>: <its reason>" (shown: one printable line, bounded), or to
 * "<name> failed: <strerror>" when it gave none. With name NULL (a probe,
 * whose reasons speak for themselves, as the built-in ones do) the reason is
 * the agent's alone and what is missing says "agent probe". One that
 * overruns is abandoned (its thread and call record are left to it, on
 * purpose: see warden__hooks_abandoned) and the result is -ETIMEDOUT, "<name>
 * did not return within <time>". A positive result counts as -EIO. */
int warden__hook_run(const char *name, warden_agent_fn fn, const struct warden_agent_context *ctx,
                     char **ret_reason);

/* Whether a hook or probe of the agent was abandoned in this process: it may
 * still read what its context points to, so nothing of it may be freed
 * before the process exits. */
bool warden__hooks_abandoned(void);

/* Bind a probe made from the spec "agent" to the agent's probe, with the
 * values and instance it is to see (both must outlive the probe). 0 for any
 * other kind of probe (nothing to bind); -EINVAL, and a reason, when the
 * spec is "agent" and the agent has no probe of its own; -ENOMEM. */
int warden__hook_bind_probe(warden_probe *probe, const struct warden_agent *agent,
                            const warden_params *params, const char *instance, char **ret_reason);
