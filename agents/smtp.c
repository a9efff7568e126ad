/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ocf:warden:smtp - Postfix (or another MTA), checked by speaking SMTP. */
#include <warden/warden.h>

#include "mail.h"

static const struct warden_param params[] = {
    {"config_dir", WARDEN_PARAM_STRING, WARDEN_PARAM_UNIQUE | WARDEN_PARAM_NODE_PATH, NULL,
     "Postfix configuration directory",
     "A non-default Postfix instance: runs 'postfix -c DIR start-fg'. Postfix accepts it only "
     "when the default main.cf lists it in alternate_config_directories.",
     "an absolute path without quotes", warden_mail_check_path},
    WARDEN_MAIL_ADDRESS_PARAM,
    {"port", WARDEN_PARAM_INTEGER, 0, "25", "Port the probe speaks SMTP to", NULL,
     "a port number, 1-65535", warden_mail_check_port},
    {"command", WARDEN_PARAM_STRING, 0, "postfix start-fg", "Command to run the MTA",
     "By default Postfix in the foreground (with config_dir, 'postfix -c DIR start-fg'); set it "
     "to run another MTA.",
     NULL, NULL},
    {"check", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "smtp:ADDRESS:PORT",
     "Health probe (EXRES IsAlive)",
     "By default an SMTP dialogue with the server on address and port: the greeting, EHLO, "
     "NOOP, QUIT; a server that accepts but does not answer is hung.",
     WARDEN_PROBE_FORMS, warden_probe_check_spec},
    {"check_tls", WARDEN_PARAM_BOOLEAN, WARDEN_PARAM_RELOADABLE, "false",
     "Check that STARTTLS works",
     "With true, a smtp: check begins TLS with STARTTLS: EHLO must offer STARTTLS; after its 220, "
     "the TLS handshake, then EHLO again, NOOP and QUIT under TLS; the certificate as "
     "tls_verify and tls_warn_days say. A server that does not offer it fails the check. "
     "(For TLS from the first byte, set check to smtps:HOST:PORT.)",
     NULL, NULL},
    {NULL},
};

static int prepare(warden_params *p, char **ret_reason)
{
    return warden_mail_prepare(p, "postfix", "-c", "start-fg", "config_dir", "smtp");
}

static const struct warden_agent agent = {
    .name = "smtp",
    .version = "0.1",
    .shortdesc = "An SMTP server (Postfix), checked by speaking SMTP (warden)",
    .longdesc = "Runs Postfix in the foreground as a cluster service, like Exchange's SMTP "
                "virtual server resource. Its health probe speaks SMTP: a server that accepts "
                "connections but never answers fails it, where a process check would pass. "
                "Stop leaves nothing behind: no process of the instance, its port free.",
    .params = params,
    .prepare = prepare,
};

int main(int argc, char **argv)
{
    return warden_agent_main(&agent, argc, argv);
}
