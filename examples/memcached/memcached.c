/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ocf:example:memcached - memcached, checked by asking its version; built out of tree
 * (doc/writing-an-agent.md): cc -o memcached memcached.c $(pkg-config --cflags --libs warden-agent)
 */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Ask "version", expect "VERSION 1.6.18": connect, send, read, all by the deadline. */
static int probe(const struct warden_agent_context *ctx, char **ret_reason)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port =
                                 htons((uint16_t)warden_params_integer(ctx->params, "port"))};
    inet_pton(AF_INET, warden_params_string(ctx->params, "address"), &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r = 0;
    char buf[256] = "";
    size_t len = 0;
    if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)) {
        r = -errno;
    }
    for (short want = POLLOUT; r == 0 && !memchr(buf, '\n', len);) {
        warden_usec_t now = warden_now();
        struct pollfd pfd = {.fd = fd, .events = want};
        if (poll(&pfd, 1, now < ctx->deadline ? (int)((ctx->deadline - now) / 1000) + 1 : 0) <= 0) {
            r = -ETIMEDOUT;
        } else if (want == POLLOUT) { /* connected, or refused */
            socklen_t sl = sizeof(r);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &sl);
            r = r ? -r : send(fd, "version\r\n", 9, MSG_NOSIGNAL) == 9 ? 0 : -errno;
            want = POLLIN;
        } else {
            ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
            r = n == 0                               ? -ECONNRESET
                : n < 0                              ? -errno
                : len + (size_t)n == sizeof(buf) - 1 ? -EPROTO
                                                     : 0;
            len += n > 0 ? (size_t)n : 0;
        }
    }
    close(fd);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (r == 0 && strncmp(buf, "VERSION ", 8) != 0) {
        r = -EPROTO;
    }
    if (r < 0) { /* "memcached: version answered 'ERROR'", "memcached: Connection refused" */
        const char *why = r == -EPROTO ? buf : r == -ETIMEDOUT ? "no answer in time" : strerror(-r);
        if (asprintf(ret_reason, "memcached: %s%s%s", r == -EPROTO ? "version answered '" : "", why,
                     r == -EPROTO ? "'" : "") < 0) {
            *ret_reason = NULL;
        }
    }
    return r;
}

static const struct warden_agent agent = {
    .name = "memcached",
    .version = "1.0",
    .shortdesc = "memcached, checked by asking its version (warden example)",
    .params = params,
    .prepare = prepare,
    .probe = probe,
};

int main(int argc, char **argv)
{
    return warden_agent_main(&agent, argc, argv);
}
