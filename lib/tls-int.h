/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TLS for the protocol probes (smtps:, imaps:, pop3s:, https:, and STARTTLS
 * after a step of a dialogue), with GnuTLS: the handshake and the look at the
 * server's certificate under the probe's one deadline, then records over the
 * same non-blocking socket. Private; only libwarden has it (the agents'
 * libc-only front is built without WARDEN_TLS, see dialogue.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "warden/time.h"

/* What the parameters tls_verify, tls_ca_file and tls_warn_days ask of a
 * probe (agent-table.c). The strings belong to the probe. */
struct warden__tls_options {
    bool verify;         /* the chain against the CAs, and HOST against the certificate */
    const char *ca_file; /* the CAs trusted instead of the system's; NULL: the system's */
    int warn_days;       /* a certificate expiring within this many days: degraded; 0: never */
};
#define WARDEN__TLS_WARN_DAYS_DEFAULT 14
#define WARDEN__TLS_WARN_DAYS_MAX     3650
#define WARDEN__TLS_OPTIONS_DEFAULT                                                                \
    {                                                                                              \
        .warn_days = WARDEN__TLS_WARN_DAYS_DEFAULT                                                 \
    }

/* The largest CA file read: Debian's whole bundle is about 200 KiB. */
#define WARDEN__TLS_CA_FILE_MAX (4u << 20)

struct warden__tls;

/* Begin TLS as a client on fd (connected, non-blocking; still the caller's)
 * to host, by deadline: the handshake (with SNI when host is a name), then
 * the server's certificate: expired, or failing verification when
 * o->verify, fails. 0 and the session in *ret; *ret_warning is set (free
 * it) when the certificate expires within o->warn_days, else NULL.
 * -ETIMEDOUT (no handshake in time), -EPROTO (the handshake failed, or the
 * certificate), -ECONNRESET (closed during the handshake), -errno of the
 * CA file, -ENOMEM; a reason that starts with @proto. @start: when the
 * probe began, for "within". */
int warden__tls_start(int fd, const char *proto, const char *host,
                      const struct warden__tls_options *o, warden_usec_t start,
                      warden_usec_t deadline, struct warden__tls **ret, char **ret_warning,
                      char **ret_reason);

/* Receive up to len bytes: how many came (> 0), 0 when nothing is there yet
 * (wait for warden__tls_events()), -ECONNRESET when the server closed (a
 * close_notify, or a plain close: *ret_closed), -EPROTO for anything else
 * TLS says. */
ssize_t warden__tls_recv(struct warden__tls *t, void *buf, size_t len, bool *ret_closed);

/* Send: how many bytes went (> 0); 0: nothing yet (wait for
 * warden__tls_events(), then call again with the same bytes, as GnuTLS
 * wants); -EPIPE, -ECONNRESET, -EPROTO. */
ssize_t warden__tls_send(struct warden__tls *t, const void *buf, size_t len);

/* What to poll() for before the next call: POLLIN or POLLOUT. */
short warden__tls_events(const struct warden__tls *t);

/* Free a session (NULL-safe); the fd stays the caller's. */
void warden__tls_free(struct warden__tls *t);

/* Read the CA file as root may read a path others may own: no symlink
 * anywhere on it, a regular file, at most WARDEN__TLS_CA_FILE_MAX bytes.
 * 0 and the bytes (free them), or -errno (-ELOOP: a symlink; -EBADFD: not a
 * regular file; -EFBIG: too big). Exposed for the tests. */
int warden__tls_read_ca_file(const char *path, char **ret, size_t *ret_len);
