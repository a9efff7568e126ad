/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The full agent, behind the front (front.c). Private. */
#pragma once

#include "warden/agent.h"

/* Everything warden_agent_main does but the front's fast monitor. Weak in
 * the front: where the full library is linked in (libwarden.so, the tests)
 * the front calls it directly; the agents' libc-only front dlopen()s it. */
int warden__agent_main_full(const struct warden_agent *agent, int argc, char **argv);
