/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file probe.h
 * Health probes: EXRES's IsAlive. A probe is given as text, the `check`
 * parameter: `process`, `tcp:HOST:PORT`, `exec:COMMAND`, or a short
 * protocol dialogue: `smtp:HOST:PORT` (greeting 220, EHLO 250, NOOP 250,
 * QUIT 221), `imap:HOST:PORT` (greeting "* OK", CAPABILITY, NOOP, LOGOUT),
 * `pop3:HOST:PORT` (greeting "+OK", CAPA, QUIT), `http:HOST:PORT/PATH`
 * (GET /PATH answered 2xx or 3xx; without /PATH, "/"). HOST is a name, an
 * IPv4 address or an [IPv6] address; PORT is digits only, 1-65535. An
 * `HTTP/1.x 1xx` interim answer (100 Continue) before the status is skipped.
 * The protocol probes are tables of the dialogue engine (dialogue.h).
 * `smtps:HOST:PORT`, `imaps:HOST:PORT`, `pop3s:HOST:PORT` and
 * `https:HOST:PORT/PATH` are the same dialogues over TLS from the first byte
 * (the handshake, with SNI when HOST is a name, under the same deadline).
 * The server's certificate: an expired one fails the probe (-EPROTO); one
 * that expires within 14 days makes it return WARDEN_PROBE_DEGRADED, its
 * reason naming the date ("imaps: certificate of mail.example expires
 * 2026-12-09 (in 7 days)"). An agent's parameters tls_verify (verify the
 * chain and HOST against the system's CAs or tls_ca_file; a certificate
 * that fails fails the probe, -EPROTO), tls_warn_days (instead of 14; 0:
 * never) and, for the mail agents, check_tls (smtp:, imap:, pop3: begin TLS
 * with STARTTLS, which the server must offer) apply to the probe of its
 * service; a probe made here from a spec alone has the defaults.
 * `agent` is the probe of the agent's own (struct warden_agent's probe,
 * agent.h): it parses anywhere, and runs only in an agent that has one.
 * A server may close the connection
 * instead of answering the goodbye (QUIT, LOGOUT); a wrong answer to it still
 * fails the probe.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

#include "warden/time.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct warden_probe warden_probe;

struct warden_exec;

/** What a probe looks at besides its own spec. Initialise it with a
 *  designated initializer; the fields after `size` only ever grow at the
 *  end (agent.h, "Extensibility"). */
struct warden_probe_context {
    /** sizeof(struct warden_probe_context), or 0 for the fields of 1.0
     *  (main_pid, service_exec): the library reads only what is within it. */
    size_t size;
    pid_t main_pid; /**< the service's main process (0: none known) */
    /** The service's user and groups (opaque): `exec:` checks run as that
     *  user. NULL: as the caller. */
    const struct warden_exec *service_exec;
};

/** The forms a probe spec takes, for error messages. */
#define WARDEN_PROBE_FORMS                                                                         \
    "process, tcp:HOST:PORT, exec:COMMAND, smtp:HOST:PORT, imap:HOST:PORT, pop3:HOST:PORT, "       \
    "http:HOST:PORT/PATH, or over TLS smtps:, imaps:, pop3s:, https: (PORT: digits only, "         \
    "1-65535)"

/**
 * What a probe returns when it cannot resolve HOST, negated: the name does
 * not exist, DNS did not answer before the deadline, or too many earlier
 * lookups are still running. It says nothing of the service: a caller should
 * not count it as "hung" (-ETIMEDOUT). ENONET, because no connect(), send()
 * or recv() returns it, so it cannot be confused with an answer of the
 * service's host.
 */
#define WARDEN_PROBE_ERESOLVE ENONET

/**
 * What a probe returns when the service answers but something is wrong that
 * is not yet a failure (a certificate near its expiry, answers getting slow):
 * monitor answers OCF's "degraded" (rc 190, OCF 1.1) with the reason, which
 * Pacemaker shows without recovering or counting anything. Positive: an
 * older caller that tests `< 0` for failure sees it as alive.
 */
#define WARDEN_PROBE_DEGRADED 1

/**
 * Parse a probe spec.
 * @return 0, -EINVAL for a malformed spec, -ENOMEM.
 */
int warden_probe_new(const char *spec, warden_probe **ret);

/** Free a probe; NULL-safe. @return NULL. */
warden_probe *warden_probe_free(warden_probe *p);

/** @return 0 when @p spec parses, -EINVAL otherwise (a parameter check). */
int warden_probe_check_spec(const char *spec);

/**
 * Run the probe once. Never blocks past @p deadline, host name resolution
 * included: a lookup still running then is left to end on its own, in a
 * thread of its own (at most a few per process; more fail at once).
 * @param ret_reason on failure, why, for people: one line of printable ASCII
 *        that shows at most 64 bytes of a server's answer or of HOST (free
 *        it); may be NULL.
 * @return 0 alive; WARDEN_PROBE_DEGRADED alive with a warning (in
 *         *ret_reason); -ETIMEDOUT no answer by the deadline (hung);
 *         -ESRCH the process is gone; -WARDEN_PROBE_ERESOLVE HOST did not
 *         resolve (in time); another -errno: the probe failed (e.g.
 *         -ECONNREFUSED; -EPROTO: a protocol probe got a wrong answer,
 *         garbage, a line longer than 1 KiB, more than 1000 lines in one
 *         answer, TLS where it speaks in the clear, a TLS handshake that
 *         fails, an expired or (asked to verify) untrusted certificate;
 *         -E2BIG: @p ctx sets fields this library does
 *         not know).
 */
int warden_probe_run(const warden_probe *p, const struct warden_probe_context *ctx,
                     warden_usec_t deadline, char **ret_reason);

/** @return the spec the probe was made from. */
const char *warden_probe_spec(const warden_probe *p);

#ifdef __cplusplus
}
#endif
