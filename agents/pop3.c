/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ocf:warden:pop3 - Dovecot (or another server), checked by speaking POP3. */
#include <warden/warden.h>

#include "mail.h"

static const struct warden_param params[] = {
    WARDEN_MAIL_DOVECOT_CONFIG_PARAM,
    WARDEN_MAIL_ADDRESS_PARAM,
    {"port", WARDEN_PARAM_INTEGER, 0, "110", "Port the probe speaks POP3 to", NULL,
     "a port number, 1-65535", warden_mail_check_port},
    WARDEN_MAIL_DOVECOT_COMMAND_PARAM,
    {"check", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "pop3:ADDRESS:PORT",
     "Health probe (EXRES IsAlive)",
     "By default a POP3 dialogue with the server on address and port; a server that accepts "
     "but does not answer is hung.",
     WARDEN_PROBE_FORMS, warden_probe_check_spec},
    {"check_tls", WARDEN_PARAM_BOOLEAN, WARDEN_PARAM_RELOADABLE, "false", "Check that STLS works",
     "With true, a pop3: check begins TLS with STLS: CAPA must offer STLS; after its +OK, the TLS "
     "handshake, then CAPA and QUIT under TLS; the certificate as "
     "tls_verify and tls_warn_days say. A server that does not offer it fails the check. "
     "(For TLS from the first byte, set check to pop3s:HOST:PORT.)",
     NULL, NULL},
    {NULL},
};

static int prepare(warden_params *p, char **ret_reason)
{
    return warden_mail_prepare(p, "dovecot", "-c", "-F", "config", "pop3");
}

static const struct warden_agent agent = {
    .name = "pop3",
    .version = "0.1",
    .shortdesc = "A POP3 server (Dovecot), checked by speaking POP3 (warden)",
    .longdesc = "Runs Dovecot in the foreground as a cluster service, like Exchange's POP3 "
                "virtual server resource. Its health probe speaks POP3: a server that accepts "
                "connections but never answers fails it. Stop leaves nothing behind: no process "
                "of the instance, its port free.",
    .params = params,
    .prepare = prepare,
};

int main(int argc, char **argv)
{
    return warden_agent_main(&agent, argc, argv);
}
