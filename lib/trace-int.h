/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A step trace of a probe, for `warden check`: the dialogue engine says
 * each step it completed (connect, greeting, EHLO, ...) and how long it
 * took. Off unless a process turns it on (the agent's internal check
 * action, WARDEN_CHECK_ACTION), so the keeper and the monitors pay one
 * relaxed load per step. Process-wide, not per thread: the probe runs in a
 * worker thread of the action. libc only (the front links the dialogue
 * engine). Private. */
#pragma once

#include "warden/time.h"

/* Called for each step, in the probe's thread: its name, how long it took,
 * and 0 or the -errno it failed with. */
typedef void (*warden__trace_fn)(void *userdata, const char *step, warden_usec_t took, int result);

/* Turn the trace on (fn) or off (NULL). */
void warden__trace_set(warden__trace_fn fn, void *userdata);

/* Say a step, when the trace is on. */
void warden__trace_step(const char *step, warden_usec_t took, int result);

/* The agent's internal action behind `warden check` (agent.c): run the
 * probe now, print each step and the result on stdout. */
#define WARDEN_CHECK_ACTION "__warden_check"
