/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the mail agents share: the address parameter, checks, and defaults
 * derived from the instance's configuration. Header-only: each agent is one
 * file. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <warden/warden.h>

/* Where the probe connects: an IPv4 or IPv6 literal (an IPv6 one may carry
 * a %zone), or a host name: dot-separated labels of letters, digits and
 * inner hyphens, at most 63 bytes each and 253 in all (a final dot allowed).
 * Checked here so that a bad address is refused under its own name, not as
 * the check it is put into. */
static inline int warden_mail_check_address(const char *value)
{
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, value, addr) == 1) {
        return 0;
    }
    size_t len = strlen(value);
    if (strchr(value, ':')) {
        char v6[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
        if (len >= sizeof(v6)) {
            return -EINVAL;
        }
        memcpy(v6, value, len + 1);
        char *zone = strchr(v6, '%');
        if (zone) {
            *zone++ = '\0';
            size_t zlen = strspn(zone, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789_.-");
            if (zlen == 0 || zlen >= IF_NAMESIZE || zone[zlen]) {
                return -EINVAL;
            }
        }
        return inet_pton(AF_INET6, v6, addr) == 1 ? 0 : -EINVAL;
    }
    if (len == 0 || len > 254 || (len == 254 && value[253] != '.')) {
        return -EINVAL;
    }
    for (const char *label = value; *label;) {
        size_t n = strspn(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
        if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-' ||
            (label[n] && label[n] != '.')) {
            return -EINVAL;
        }
        label += n + (label[n] == '.');
    }
    return 0;
}

#define WARDEN_MAIL_ADDRESS_PARAM                                                                  \
    {                                                                                              \
        "address", WARDEN_PARAM_STRING, 0, "127.0.0.1", "Address the probe connects to",           \
            "Where the health probe reaches the server: an IPv4 or IPv6 address or a host name "   \
            "(a virtual address of the resource group, typically).",                               \
            "an IPv4 or IPv6 address or a host name, e.g. 10.0.0.50, fd00::50 or "                 \
            "mail.example.com",                                                                    \
            warden_mail_check_address                                                              \
    }

static inline int warden_mail_check_port(const char *value)
{
    char *end;
    long port = strtol(value, &end, 10);
    return *end == '\0' && port >= 1 && port <= 65535 ? 0 : -EINVAL;
}

/* A path that can be put in the command line: absolute, no quotes, no
 * control characters (it appears in reasons and logs). Whether it exists is
 * a matter of the node (WARDEN_PARAM_NODE_PATH): checked by start and
 * validate-all, exit 2 when it does not. */
static inline int warden_mail_check_path(const char *value)
{
    if (value[0] != '/' || strpbrk(value, "'\"\\") || strlen(value) >= 4096) {
        return -EINVAL;
    }
    for (const char *c = value; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return -EINVAL;
        }
    }
    return 0;
}

/* The Dovecot agents' (imap, pop3) config and command, the same for both. */
#define WARDEN_MAIL_DOVECOT_CONFIG_PARAM                                                           \
    {                                                                                              \
        "config", WARDEN_PARAM_STRING, WARDEN_PARAM_UNIQUE | WARDEN_PARAM_NODE_PATH, NULL,         \
            "Dovecot configuration file",                                                          \
            "Runs 'dovecot -F -c FILE': a Dovecot instance of its own (give each instance its "    \
            "own base_dir in that file, and two run side by side on one node).",                   \
            "an absolute path without quotes", warden_mail_check_path                              \
    }
#define WARDEN_MAIL_DOVECOT_COMMAND_PARAM                                                          \
    {                                                                                              \
        "command", WARDEN_PARAM_STRING, 0, "dovecot -F", "Command to run the server",              \
            "By default Dovecot in the foreground (with config, 'dovecot -F -c FILE'); set it to " \
            "run another server.",                                                                 \
            NULL, NULL                                                                             \
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
