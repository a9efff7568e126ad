/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ocf:warden:imap - Dovecot (or another server), checked by speaking IMAP. */
#include <warden/warden.h>

#include "mail.h"

static const struct warden_param params[] = {
    WARDEN_MAIL_DOVECOT_CONFIG_PARAM,
    WARDEN_MAIL_ADDRESS_PARAM,
    {"port", WARDEN_PARAM_INTEGER, 0, "143", "Port the probe speaks IMAP to", NULL,
     "a port number, 1-65535", warden_mail_check_port},
    WARDEN_MAIL_DOVECOT_COMMAND_PARAM,
    {"check", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "imap:ADDRESS:PORT",
     "Health probe (EXRES IsAlive)",
     "By default an IMAP dialogue with the server on address and port; a server that accepts "
     "but does not answer is hung.",
     WARDEN_PROBE_FORMS, warden_probe_check_spec},
    {"check_tls", WARDEN_PARAM_BOOLEAN, WARDEN_PARAM_RELOADABLE, "false",
     "Check that STARTTLS works",
     "With true, a imap: check begins TLS with STARTTLS: CAPABILITY must offer STARTTLS; after its "
     "OK, the TLS handshake, then CAPABILITY, NOOP and LOGOUT under TLS; the certificate as "
     "tls_verify and tls_warn_days say. A server that does not offer it fails the check. "
     "(For TLS from the first byte, set check to imaps:HOST:PORT.)",
     NULL, NULL},
    {NULL},
};

static int prepare(warden_params *p, char **ret_reason)
{
    return warden_mail_prepare(p, "dovecot", "-c", "-F", "config", "imap");
}

static const struct warden_agent agent = {
    .name = "imap",
    .version = "0.1",
    .shortdesc = "An IMAP server (Dovecot), checked by speaking IMAP (warden)",
    .longdesc = "Runs Dovecot in the foreground as a cluster service, like Exchange's IMAP "
                "virtual server resource. Its health probe speaks IMAP: a server that accepts "
                "connections but never answers fails it. Stop leaves nothing behind: no process "
                "of the instance, its port free.",
    .params = params,
    .prepare = prepare,
};

int main(int argc, char **argv)
{
    return warden_agent_main(&agent, argc, argv);
}
