/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The full agent, behind the front (front.c). Private. */
#pragma once

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
