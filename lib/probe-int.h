/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Health probes: what the library and the tests see beyond probe.h. */
#pragma once

/* How many name lookups a probe gave up on at its deadline are still
 * running in this process (each in a thread of its own, which frees it and
 * ends once getaddrinfo() returns). At most a few: see lib/probe.c. */
int warden__probe_lookups_abandoned(void);
