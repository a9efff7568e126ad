/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Health probes: what the library and the tests see beyond probe.h. */
#pragma once

#include <stdbool.h>

#include "warden/param.h"
#include "warden/probe.h"

/* What the parameters tls_verify, tls_ca_file, tls_warn_days and (an
 * agent's) check_tls ask of the probe's TLS (tls-int.h): read from the
 * values the probe is run with, by the library when it binds a service's
 * probe (hook.c). The TLS probes of a probe made from a spec alone
 * (warden_probe_new()) keep the defaults: no verification, a warning 14
 * days before expiry, no STARTTLS. 0 or -ENOMEM. */
int warden__probe_set_tls(warden_probe *p, const warden_params *params);

/* How many name lookups a probe gave up on at its deadline are still
 * running in this process (each in a thread of its own, which frees it and
 * ends once getaddrinfo() returns). At most a few: see lib/probe.c. */
int warden__probe_lookups_abandoned(void);

/* check=agent: a probe of the agent's own (agent.h). The spec parses
 * anywhere (so that a parameter check accepts it); the library binds it to
 * the agent's probe when it builds the service (hook.c). Run unbound, it
 * fails with -EINVAL: the agent has no probe. */
typedef int (*warden_probe_agent_fn)(void *userdata, pid_t main_pid, warden_usec_t deadline,
                                     char **ret_reason);
bool warden__probe_is_agent(const warden_probe *p);
/* Takes userdata, freed with free_userdata when the probe is. */
void warden__probe_bind_agent(warden_probe *p, warden_probe_agent_fn fn, void *userdata,
                              void (*free_userdata)(void *));
