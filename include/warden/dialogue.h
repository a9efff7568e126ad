/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file dialogue.h
 * Declarative probes: a short conversation with a line-based TCP service,
 * written as a table. warden_dialogue_run() connects to HOST:PORT, then
 * goes through the steps: each sends a line and reads the answer, which is
 * matched line by line against POSIX extended regular expressions
 * (regex(7)). Every step, name resolution and connect included, runs under
 * the one deadline, and reasons follow the built-in probes (probe.h):
 * "memcached: no answer to stats within 1s", "redis: PING answered -LOADING
 * ...", "memcached 127.0.0.1:11211: Connection refused". The shipped
 * smtp:, imap: and pop3: probes are tables of this kind.
 *
 * An agent's probe (agent.h) for memcached's `stats`:
 * @code
 * static const struct warden_dialogue_step stats_steps[] = {
 *     {.send = "stats", .more = "^STAT ", .expect = "^END$"},
 *     {NULL},
 * };
 * static const struct warden_dialogue stats = {.name = "memcached", .steps = stats_steps};
 *
 * static int probe(const struct warden_agent_context *ctx, char **ret_reason)
 * {
 *     return warden_dialogue_run(&stats, warden_params_string(ctx->params, "address"),
 *                                warden_params_integer(ctx->params, "port"), ctx->deadline,
 *                                ret_reason);
 * }
 * @endcode
 *
 * **An answer** is read line by line (a line ends with "\n" or "\r\n",
 * which the patterns do not see), each looked at in this order: a line that
 * matches `fail` fails the step; one that matches `expect` is the answer's
 * final line and ends it; one that matches `more` is part of the answer, and
 * the next is read (SMTP's "250-" continuation lines, IMAP's untagged "* "
 * lines, memcached's "STAT" lines; "^" takes any line); any other line is a
 * wrong answer. With `until`, data lines follow the final line, up to one
 * that matches `until` (POP3's lone "." after CAPA); `fail`, `expect` and
 * `more` do not apply to them.
 *
 * **Bounds**: a line longer than 1 KiB with its end, more than 1000 lines in
 * one answer, or a first byte that opens a TLS record fail the step
 * (-EPROTO); a server that keeps sending cannot keep the probe past its
 * deadline. At most 32 steps.
 *
 * **Extensibility**: as struct warden_agent (agent.h): both structs only
 * ever grow at their end, and warden_dialogue_run() is a macro that passes
 * the sizes the agent was compiled with. Initialise them with designated
 * initializers. Flags not defined here must be 0 (a library that does not
 * know a flag fails the probe with -E2BIG and a reason asking for a newer
 * libwarden). New in libwarden 0.2.0 (symbol version WARDEN_1.1).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "warden/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of a step. */
enum warden_dialogue_step_flag {
    /** The goodbye (QUIT, LOGOUT): the server may close the connection
     *  instead of answering it, or before it is sent; an answer it gives
     *  must still be right. */
    WARDEN_DIALOGUE_BYE = 1u << 0,
};

/**
 * One step: send a line (optional), then read the answer. A table of steps
 * ends with one that has neither `send` nor `expect` (`{NULL}`).
 */
struct warden_dialogue_step {
    /** The line to send, without its end ("\r\n" is added); NULL: send
     *  nothing, only read (a greeting). `{me}` in it becomes this host's
     *  name ("warden" when it has no plain one), `{host}` the HOST:PORT
     *  connected to (an IPv6 address in brackets), as a Host header says. */
    const char *send;
    /** What reasons call the step ("answer to EHLO", "EHLO answered ...");
     *  NULL: the first word of `send`, or "greeting" when nothing is sent. */
    const char *name;
    /** Lines that may come before the final line; NULL: none. */
    const char *more;
    /** The final line; NULL: the first line that is not `more`. */
    const char *expect;
    /** A line that matches this fails the step at once; NULL: none. */
    const char *fail;
    /** After the final line, data lines up to one that matches this;
     *  NULL: none. */
    const char *until;
    /** enum warden_dialogue_step_flag, or-ed; 0 for none. 64 bits wide so
     *  that the struct has no padding at its end, where a field of a later
     *  version would go unnoticed by an older library. */
    uint64_t flags;
};

/** A dialogue: a name for reasons and its steps. */
struct warden_dialogue {
    /** Every reason starts with it ("memcached: ..."); required. */
    const char *name;
    /** The steps, ending with {NULL}. */
    const struct warden_dialogue_step *steps;
};

/**
 * Run a dialogue with host:port, every step by @p deadline. A macro: it
 * passes the sizes of struct warden_dialogue and struct
 * warden_dialogue_step the caller was compiled with to
 * warden_dialogue_run_sized().
 * @param dialogue the table (see above).
 * @param host a host name or an IP address (IPv6 without brackets); a name
 *        is resolved under the deadline too.
 * @param port 1-65535.
 * @param deadline an absolute CLOCK_MONOTONIC point (warden_now()): an
 *        agent's probe passes ctx->deadline.
 * @param ret_reason on failure, why, for people: one line that shows at most
 *        64 bytes of a server's answer (free it; it is overwritten, not
 *        freed first); may be NULL.
 * @return as warden_probe_run() (probe.h): 0 the dialogue went as the table
 *         says; -ETIMEDOUT no answer by the deadline (hung);
 *         -WARDEN_PROBE_ERESOLVE the host did not resolve (in time);
 *         -EPROTO a wrong answer, a line matching `fail`, a line too long,
 *         too many lines, TLS; -ECONNRESET the server closed the connection
 *         (except at a goodbye); -ECONNREFUSED and the like; -EINVAL a bad
 *         table, host or port (a pattern that does not compile); -E2BIG the
 *         table sets fields or flags this library does not know; -ENOMEM.
 */
#define warden_dialogue_run(dialogue, host, port, deadline, ret_reason)                            \
    warden_dialogue_run_sized((dialogue), sizeof(*(dialogue)),                                     \
                              sizeof(struct warden_dialogue_step), (host), (port), (deadline),     \
                              (ret_reason))

/**
 * What warden_dialogue_run() expands to; call that instead.
 * @param dialogue_size sizeof(struct warden_dialogue) as the caller was
 *        compiled.
 * @param step_size sizeof(struct warden_dialogue_step) as the caller was
 *        compiled: the stride of dialogue->steps.
 * @return see warden_dialogue_run().
 */
int warden_dialogue_run_sized(const struct warden_dialogue *dialogue, size_t dialogue_size,
                              size_t step_size, const char *host, int64_t port,
                              warden_usec_t deadline, char **ret_reason);

#ifdef __cplusplus
}
#endif
