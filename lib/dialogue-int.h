/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dialogue engine (dialogue.h) as the library's own probes use it. */
#pragma once

#include <stdbool.h>

#include "tls-int.h"
#include "warden/dialogue.h"

/* A step flag only the library's own tables may set (http:): the final line
 * is an HTTP/1.x status line, 2xx or 3xx (a redirect is an answer too);
 * interim answers (1xx) and their headers before it are skipped, and a
 * wrong status reads "status 500 Oops". Regular expressions cannot say the
 * headers of an interim answer apart from a wrong final line, nor make that
 * reason. */
#define WARDEN__DIALOGUE_HTTP_STATUS (1u << 31)

/* Flags only the library's own tables may set, for STARTTLS (smtp with
 * check_tls=true): a line of the step's answer must offer it (the word
 * STARTTLS, as SMTP's EHLO and IMAP's CAPABILITY say it, or STLS, as POP3's
 * CAPA does), else "smtp: EHLO does not offer STARTTLS"; and after the
 * step's final line, TLS begins on the connection (the answer to STARTTLS
 * or STLS). Bytes the server sent after that answer, in the clear, fail
 * the probe: they would be taken as said under TLS (CVE-2011-0411). */
#define WARDEN__DIALOGUE_OFFERS_TLS (1u << 29)
#define WARDEN__DIALOGUE_STARTTLS   (1u << 30)

/* Where a dialogue goes, and what its sent lines may name. */
struct warden__dialogue_target {
    const char *host; /* as warden__host_ok() takes it */
    const char *port; /* digits, as warden__port_parse() leaves them */
    const char *path; /* "{path}" in a sent line (http:); NULL: not expanded */
    /* TLS: what the certificate must be, for a table that speaks TLS (from
     * the start with implicit_tls, or after a STARTTLS step); NULL: the
     * defaults (tls-int.h). A certificate near its expiry makes the
     * dialogue return WARDEN_PROBE_DEGRADED, once every step went well. */
    const struct warden__tls_options *tls;
    bool implicit_tls;
};

/* warden_dialogue_run_sized() for a host and port already checked; with
 * builtin, the steps may set the flags above. */
int warden__dialogue_run(const struct warden_dialogue *dialogue, size_t dialogue_size,
                         size_t step_size, const struct warden__dialogue_target *target,
                         bool builtin, warden_usec_t deadline, char **ret_reason);
