/* What the mail agents share: the address parameter, checks, and defaults
 * derived from the instance's configuration. Header-only: each agent is one
 * file. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <warden/warden.h>

#define WARDEN_MAIL_ADDRESS_PARAM                                                                  \
    {                                                                                              \
        "address", WARDEN_PARAM_STRING, 0, "127.0.0.1", "Address the probe connects to",           \
            "Where the health probe reaches the server: an IPv4 or IPv6 address or a host name "   \
            "(a "                                                                                  \
            "virtual address of the resource group, typically).",                                  \
            "an address or host name", NULL                                                        \
    }

static inline int warden_mail_check_port(const char *value)
{
    char *end;
    long port = strtol(value, &end, 10);
    return *end == '\0' && port >= 1 && port <= 65535 ? 0 : -EINVAL;
}

/* A path that can be put in the command line: absolute, no quotes. */
static inline int warden_mail_check_path(const char *value)
{
    return value[0] == '/' && !strpbrk(value, "'\"\\") ? 0 : -EINVAL;
}

/* command = "<program> [<flag> '<config>'] <args>", check = "<proto>:<address>:<port>",
 * unless the administrator gave them. */
static inline int warden_mail_prepare(warden_params *p, const char *program, const char *flag,
                                      const char *args, const char *config_param, const char *proto)
{
    const char *config = warden_params_string(p, config_param);
    const char *address = warden_params_string(p, "address");
    char command[4200], check[600];
    if (config && config[0]) {
        snprintf(command, sizeof(command), "%s %s '%s' %s", program, flag, config, args);
    } else {
        snprintf(command, sizeof(command), "%s %s", program, args);
    }
    bool v6 = address && strchr(address, ':');
    snprintf(check, sizeof(check), "%s:%s%s%s:%lld", proto, v6 ? "[" : "",
             address ? address : "127.0.0.1", v6 ? "]" : "",
             (long long)warden_params_integer(p, "port"));
    int r = warden_params_set_default(p, "command", command);
    return r < 0 ? r : warden_params_set_default(p, "check", check);
}
