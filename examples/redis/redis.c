/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ocf:example:redis - Redis without persistence, checked by PING; built out of tree
 * (doc/writing-an-agent.md): cc -o redis redis.c $(pkg-config --cflags --libs warden-agent)
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
    {"address", WARDEN_PARAM_STRING, 0, "127.0.0.1", "Address Redis listens on",
     "The IPv4 address Redis listens on and the probe asks.", "an IPv4 address", check_address},
    {"port", WARDEN_PARAM_INTEGER, 0, "6379", "TCP port", NULL, "1-65535", check_port},
    {"user", WARDEN_PARAM_STRING, 0, "redis", "Run Redis as this user", NULL, NULL, NULL},
    {"workdir", WARDEN_PARAM_STRING, 0, "/var/lib/redis", "Redis' working directory", NULL, NULL,
     NULL},
    {"command", WARDEN_PARAM_STRING, 0,
     "redis-server --port PORT --bind ADDRESS --daemonize no --save '' --appendonly no", "Command",
     "By default redis-server in the foreground on address and port, without persistence and "
     "without a configuration file.",
     NULL, NULL},
    {NULL},
};

static int prepare(warden_params *p, char **ret_reason)
{
    char command[160];
    snprintf(command, sizeof(command),
             "redis-server --port %lld --bind %s --daemonize no --save '' --appendonly no",
             (long long)warden_params_integer(p, "port"), warden_params_string(p, "address"));
    return warden_params_set_default(p, "command", command);
}

/* PING is answered "+PONG"; an error ("-LOADING ...") is a wrong answer. Then QUIT. */
static const struct warden_dialogue_step ping_steps[] = {
    {.send = "PING", .expect = "^\\+PONG$"},
    {.send = "QUIT", .expect = "^\\+OK", .flags = WARDEN_DIALOGUE_BYE},
    {NULL},
};
static const struct warden_dialogue ping = {.name = "redis", .steps = ping_steps};

static int probe(const struct warden_agent_context *ctx, char **ret_reason)
{
    return warden_dialogue_run(&ping, warden_params_string(ctx->params, "address"),
                               warden_params_integer(ctx->params, "port"), ctx->deadline,
                               ret_reason);
}

static const struct warden_agent agent = {
    .name = "redis",
    .version = "1.0",
    .shortdesc = "Redis, checked by PING (warden example)",
    .params = params,
    .prepare = prepare,
    .probe = probe,
};

int main(int argc, char **argv)
{
    return warden_agent_main(&agent, argc, argv);
}
