/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ocf:example:memcached - memcached, checked by asking its `stats`; built out of tree
 * (doc/writing-an-agent.md): cc -o memcached memcached.c $(pkg-config --cflags --libs warden-agent)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <warden/warden.h>

static int check_address(const char *value)
{
    unsigned char a[16];
    return inet_pton(AF_INET, value, a) == 1 ? 0 : -EINVAL;
}

static int check_port(const char *value)
{
    int port = atoi(value);
    return port > 0 && port < 65536 ? 0 : -EINVAL; /* an integer: warden checked that */
}

static const struct warden_param params[] = {
    {"address", WARDEN_PARAM_STRING, 0, "127.0.0.1", "Address memcached listens on",
     "The IPv4 address memcached listens on and the probe asks.", "an IPv4 address", check_address},
    {"port", WARDEN_PARAM_INTEGER, 0, "11211", "TCP port", NULL, "1-65535", check_port},
    {"user", WARDEN_PARAM_STRING, 0, "memcache", "Run memcached as this user", NULL, NULL, NULL},
    {"command", WARDEN_PARAM_STRING, 0, "memcached -l ADDRESS -p PORT -U 0", "Command",
     "By default memcached in the foreground on address and port, without UDP.", NULL, NULL},
    {NULL},
};

static int prepare(warden_params *p, char **ret_reason)
{
    char command[128];
    snprintf(command, sizeof(command), "memcached -l %s -p %lld -U 0",
             warden_params_string(p, "address"), (long long)warden_params_integer(p, "port"));
    return warden_params_set_default(p, "command", command);
}

/* `stats` is answered by "STAT name value" lines and "END"; an error line fails at once
 * ("memcached: stats answered SERVER_ERROR out of memory"). */
static const struct warden_dialogue_step stats_steps[] = {
    {.send = "stats", .expect = "^END$", .more = "^STAT ", .fail = "^(SERVER_|CLIENT_)?ERROR"},
    {NULL},
};
static const struct warden_dialogue stats = {.name = "memcached", .steps = stats_steps};

static int probe(const struct warden_agent_context *ctx, char **ret_reason)
{
    return warden_dialogue_run(&stats, warden_params_string(ctx->params, "address"),
                               warden_params_integer(ctx->params, "port"), ctx->deadline,
                               ret_reason);
}

static const struct warden_agent agent = {
    .name = "memcached",
    .version = "1.1",
    .shortdesc = "memcached, checked by asking its stats (warden example)",
    .params = params,
    .prepare = prepare,
    .probe = probe,
};

int main(int argc, char **argv)
{
    return warden_agent_main(&agent, argc, argv);
}
