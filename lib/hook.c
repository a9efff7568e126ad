/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's own code, run by the library: its probe and its hooks. Each
 * call gets a thread of its own, watched by warden_op_run() against the
 * call's deadline, so that a probe or hook that blocks (a server that never
 * answers, a config renderer stuck on NFS) costs its operation no more than
 * its deadline: the operation answers in time, with a reason naming the
 * hook. An abandoned call keeps its thread and its record until it returns;
 * the process ends soon after (an agent action), or the keeper stops
 * running that probe until it returns (keeper.c). */
#include <stdatomic.h>

#include "hook-int.h"
#include "probe-int.h"
#include "util-int.h"
#include "warden/op.h"

/* What the wrapper waits beyond the deadline it gave the call, for a call
 * that returns right at it with a reason of its own. Well inside the
 * operation's own grace (agent.c's OP_GRACE). */
#define HOOK_GRACE (100 * WARDEN_USEC_PER_MSEC)

struct hook_call {
    warden_agent_fn fn;
    struct warden_agent_context ctx;
    char *reason;
};

static atomic_int n_abandoned;

bool warden__hooks_abandoned(void)
{
    return atomic_load(&n_abandoned) > 0;
}

static int hook_op(void *userdata, _unused_ warden_usec_t deadline)
{
    struct hook_call *c = userdata;
    return c->fn(&c->ctx, &c->reason);
}

int warden__hook_run(const char *name, warden_agent_fn fn, const struct warden_agent_context *ctx,
                     char **ret_reason)
{
    const char *what = name ? name : "agent probe";
    warden_usec_t start = warden_now();
    struct hook_call *c = calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->fn = fn;
    c->ctx = *ctx;
    int result = 0;
    warden_usec_t wait =
        ctx->deadline == WARDEN_USEC_INFINITY ? ctx->deadline : ctx->deadline + HOOK_GRACE;
    int w = warden_op_run(hook_op, c, wait, &result);
    if (w == -ETIMEDOUT) {
        atomic_fetch_add(&n_abandoned, 1);
        char buf[32];
        /* The time it had, as the administrator gave it (check_timeout
         * 1s, not the 999.8ms left when the call began). */
        warden_usec_t tick = 10 * WARDEN_USEC_PER_MSEC;
        warden_usec_t had = ctx->deadline > start ? ctx->deadline - start : 0;
        had = (had + tick / 2) / tick * tick;
        return warden__set_reason(ret_reason, -ETIMEDOUT, "%s did not return within %s", what,
                                  warden_time_format(had, buf, sizeof(buf)));
    }
    _cleanup_free_ char *reason = c->reason;
    free(c);
    if (w < 0) {
        return warden__set_reason(ret_reason, w, "cannot run %s: %s", what, strerror(-w));
    }
    if (result > 0) {
        result = -EIO; /* not a -errno: a failure all the same */
    }
    if (result < 0) {
        char shown[WARDEN_REASON_SHOWN_SIZE];
        if (isempty(reason)) {
            warden__set_reason(ret_reason, result, "%s failed: %s", what, strerror(-result));
        } else if (name) {
            warden__set_reason(ret_reason, result, "%s: %s", name,
                               warden__reason_shown(reason, shown));
        } else {
            warden__set_reason(ret_reason, result, "%s", warden__reason_shown(reason, shown));
        }
    }
    return result;
}

/* ---- check=agent ----------------------------------------------------------- */

struct probe_binding {
    const struct warden_agent *agent;
    const warden_params *params;
    const char *instance;
};

static int run_agent_probe(void *userdata, pid_t main_pid, warden_usec_t deadline,
                           char **ret_reason)
{
    const struct probe_binding *b = userdata;
    struct warden_agent_context ctx = {
        .params = b->params,
        .instance = b->instance,
        .main_pid = main_pid,
        .deadline = deadline,
    };
    return warden__hook_run(NULL, b->agent->probe, &ctx, ret_reason);
}

int warden__hook_bind_probe(warden_probe *probe, const struct warden_agent *agent,
                            const warden_params *params, const char *instance, char **ret_reason)
{
    /* Every probe of a service, whatever its kind, sees the TLS parameters
     * (tls_verify, ...): here, where both the agent and the keeper (on
     * reload too) hand a probe its values. */
    int r = warden__probe_set_tls(probe, params);
    if (r < 0) {
        return r;
    }
    if (!warden__probe_is_agent(probe)) {
        return 0;
    }
    if (!agent || !agent->probe) {
        return warden__set_reason(ret_reason, -EINVAL,
                                  "parameter 'check' is 'agent', but agent %s has no probe "
                                  "of its own: expected %s",
                                  agent && agent->name ? agent->name : "?", WARDEN_PROBE_FORMS);
    }
    struct probe_binding *b = malloc(sizeof(*b));
    if (!b) {
        return -ENOMEM;
    }
    *b = (struct probe_binding){.agent = agent, .params = params, .instance = instance};
    warden__probe_bind_agent(probe, run_agent_probe, b, free);
    return 0;
}
