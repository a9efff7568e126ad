/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reaching HOST:PORT under a deadline, for the probes and the dialogues:
 * what a spec may name, name resolution that never outlasts the deadline,
 * connecting, and how reasons show text that is not ours. Private. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "warden/time.h"

/* How much of a text not ours (a server's answer, a host or a command from
 * a spec) a probe's reason shows: Pacemaker keeps 128 bytes of an exit
 * reason, and the protocol and the step come first. */
#define WARDEN_ANSWER_SHOWN      64
#define WARDEN_ANSWER_SHOWN_SIZE (WARDEN_ANSWER_SHOWN + 4)

/* Text as a reason shows it: the first WARDEN_ANSWER_SHOWN bytes, with what
 * is not printable ASCII made '?', so that the reason stays one clean, short
 * line whatever a server sends or a spec holds; "an empty line" for none.
 * Returns buf. */
const char *warden__answer_shown(const char *text, size_t len,
                                 char buf[static WARDEN_ANSWER_SHOWN_SIZE]);
#define WARDEN_SHOWN(text, buf) warden__answer_shown((text), strlen(text), (buf))

/* The time a probe had, for "no answer within ...": check_timeout as the
 * administrator gave it (rounded to 10ms), not the microseconds short of it
 * that were left when the probe began. Written into buf, returned. The
 * macro gives it a buffer that lives as long as the enclosing block (not a
 * thread-local one: TLS in the agent's static front would make every agent
 * binary need ld.so's __tls_get_addr). */
#define WARDEN_WAITED_SIZE 32
const char *warden__probe_waited_in(warden_usec_t start, warden_usec_t deadline,
                                    char buf[static WARDEN_WAITED_SIZE]);
#define warden__probe_waited(start, deadline)                                                      \
    warden__probe_waited_in((start), (deadline), (char[WARDEN_WAITED_SIZE]){0})

/* Fail with r, and a reason in *ret_reason (when ret_reason is not NULL):
 * what a probe returns. Unlike warden__set_reason(), *ret_reason is
 * overwritten, not freed first: a probe's caller may hand it unset
 * (probe.h). NULL when out of memory. */
int warden__probe_fail(char **ret_reason, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* HOST of a spec: a name or an address, printable ASCII without blanks, no
 * longer than a DNS name (len bytes of host). Anything else cannot resolve;
 * refused, it cannot put control bytes into a reason or a request either. */
bool warden__host_ok(const char *host, size_t len);

/* PORT of a spec: 1 to 5 digits, 1-65535, kept in ret without leading
 * zeros. Not strtol(), which also takes blanks, a sign and any number of
 * leading zeros: such a spec would pass validation and fail only when run. */
bool warden__port_parse(const char *text, char ret[static 6]);

/* Connect to host:port by deadline: 0 and a connected, non-blocking,
 * close-on-exec socket in *ret_fd; or -errno and a reason that starts with
 * @what ("tcp", "smtp"): -ETIMEDOUT (no connection in time),
 * -WARDEN_PROBE_ERESOLVE (the host did not resolve in time, or at all: never
 * -ETIMEDOUT, for that says nothing of the service), -ENOMEM, or what
 * connect() said (-ECONNREFUSED). A name is resolved in a thread of its own
 * that is abandoned at the deadline (connect.c). @start: when the probe
 * began, for the reason's "within". */
int warden__connect(const char *what, const char *host, const char *port, warden_usec_t start,
                    warden_usec_t deadline, int *ret_fd, char **ret_reason);

/* How many name lookups abandoned at their deadline are still running in
 * this process. */
int warden__connect_lookups_abandoned(void);
