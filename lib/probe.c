/* Health probes. Each kind is a row of a table: its prefix, how to parse
 * what follows, how to run. Every step is bounded by the one deadline. */
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "proc-int.h"
#include "util-int.h"
#include "warden/probe.h"

struct warden_probe {
    const struct probe_kind *kind;
    char *spec;
    char *host; /* tcp */
    char *port;
    struct warden_exec exec; /* exec */
};

struct probe_kind {
    const char *prefix;
    int (*parse)(warden_probe *p, const char *arg);
    int (*run)(const warden_probe *p, const struct warden_probe_context *ctx,
               warden_usec_t deadline, char **ret_reason);
};

static void set_reason(char **ret_reason, char *reason)
{
    if (ret_reason) {
        *ret_reason = reason;
    } else {
        free(reason);
    }
}

static char *waited(warden_usec_t start)
{
    static __thread char buf[32];
    return warden_time_format(warden_now() - start, buf, sizeof(buf));
}

/* ---- process: the main process is alive -------------------------------- */

static int process_parse(_unused_ warden_probe *p, const char *arg)
{
    return isempty(arg) ? 0 : -EINVAL;
}

static int process_run(_unused_ const warden_probe *p, const struct warden_probe_context *ctx,
                       _unused_ warden_usec_t deadline, char **ret_reason)
{
    struct warden_pidref ref = WARDEN_PIDREF_NULL;
    int r = ctx->main_pid > 0 ? warden__pidref_open(ctx->main_pid, 0, &ref) : -ESRCH;
    if (r == -ESRCH) {
        set_reason(ret_reason, warden__strdup_printf("process %d is gone", (int)ctx->main_pid));
        return r;
    }
    if (r < 0) {
        /* Out of fds, say: the check failed, which says nothing of the
         * process. */
        set_reason(ret_reason, warden__strdup_printf("cannot look at process %d: %s",
                                                     (int)ctx->main_pid, strerror(-r)));
        return r;
    }
    warden__pidref_done(&ref);
    return 0;
}

/* ---- tcp:HOST:PORT: a connection is accepted ----------------------------- */

static int tcp_parse(warden_probe *p, const char *arg)
{
    const char *colon;
    const char *host = arg;
    size_t hlen;
    if (*arg == '[') {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':') {
            return -EINVAL;
        }
        host = arg + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (!colon) {
            return -EINVAL;
        }
        hlen = (size_t)(colon - arg);
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (hlen == 0 || *end || end == colon + 1 || port < 1 || port > 65535) {
        return -EINVAL;
    }
    p->host = strndup(host, hlen);
    p->port = strdup(colon + 1);
    return p->host && p->port ? 0 : -ENOMEM;
}

/* Connect to one address; 0, -ETIMEDOUT at the deadline, or -errno. */
static int tcp_connect(const struct addrinfo *ai, warden_usec_t deadline)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return negative_errno();
    }
    int r = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        r = errno == EINPROGRESS ? 1 : negative_errno();
    }
    while (r == 1) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int n = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
        if (n == 0) {
            r = -ETIMEDOUT;
        } else if (n < 0 && errno != EINTR) {
            r = negative_errno();
        } else if (n > 0) {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            r = -err;
        }
    }
    close(fd);
    return r;
}

static int tcp_run(const warden_probe *p, _unused_ const struct warden_probe_context *ctx,
                   warden_usec_t deadline, char **ret_reason)
{
    warden_usec_t start = warden_now();
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int g = getaddrinfo(p->host, p->port, &hints, &list);
    if (g != 0) {
        set_reason(ret_reason, warden__strdup_printf("tcp %s:%s: cannot resolve host: %s", p->host,
                                                     p->port, gai_strerror(g)));
        return -EHOSTUNREACH;
    }
    /* A name may resolve to several addresses (localhost: ::1, then
     * 127.0.0.1); the service may listen on any one of them. */
    int r = -EHOSTUNREACH;
    for (const struct addrinfo *ai = list; ai && r != 0 && r != -ETIMEDOUT; ai = ai->ai_next) {
        r = tcp_connect(ai, deadline);
    }
    freeaddrinfo(list);
    if (r == -ETIMEDOUT) {
        set_reason(ret_reason, warden__strdup_printf("tcp %s:%s: no connection within %s", p->host,
                                                     p->port, waited(start)));
    } else if (r < 0) {
        set_reason(ret_reason,
                   warden__strdup_printf("tcp %s:%s: %s", p->host, p->port, strerror(-r)));
    }
    return r;
}

/* ---- exec:COMMAND: the command exits 0 --------------------------------- */

static int exec_parse(warden_probe *p, const char *arg)
{
    int r = warden__argv_split(arg, &p->exec.argv);
    if (r < 0) {
        return r;
    }
    /* Resolve the path at run time: the check may be installed later than
     * the parameter is validated, and the answer then is "failed", not
     * "misconfigured". */
    return 0;
}

static int exec_run(const warden_probe *p, _unused_ const struct warden_probe_context *ctx,
                    warden_usec_t deadline, char **ret_reason)
{
    warden_usec_t start = warden_now();
    struct warden_exec e = {0};
    _cleanup_free_ char *path = NULL;
    int r = warden__find_executable(p->exec.argv[0], &path);
    if (r < 0) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: %s", p->exec.argv[0], strerror(-r)));
        return r;
    }
    r = warden__exec_environment(&e.envp);
    if (r < 0) {
        return r;
    }
    size_t n = 0;
    while (p->exec.argv[n]) {
        n++;
    }
    /* A shallow copy of argv with the resolved path in front; the words
     * stay owned by the probe. */
    char **argv = calloc(n + 1, sizeof(char *));
    if (!argv) {
        warden__strv_free(e.envp);
        return -ENOMEM;
    }
    argv[0] = path;
    for (size_t i = 1; i < n; i++) {
        argv[i] = p->exec.argv[i];
    }
    e.argv = argv;
    int status = 0;
    r = warden__run(&e, deadline, &status);
    free(argv);
    warden__strv_free(e.envp);
    if (r == -ETIMEDOUT) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: no answer within %s",
                                                     p->exec.argv[0], waited(start)));
        return r;
    }
    if (r < 0) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: %s", p->exec.argv[0], strerror(-r)));
        return r;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    if (WIFSIGNALED(status)) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: killed by signal %d",
                                                     p->exec.argv[0], WTERMSIG(status)));
    } else {
        set_reason(ret_reason, warden__strdup_printf("exec %s: exit status %d", p->exec.argv[0],
                                                     WEXITSTATUS(status)));
    }
    return -EIO;
}

static const struct probe_kind kinds[] = {
    {"process", process_parse, process_run},
    {"tcp:", tcp_parse, tcp_run},
    {"exec:", exec_parse, exec_run},
};

int warden_probe_new(const char *spec, warden_probe **ret)
{
    if (isempty(spec)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
        if (!startswith(spec, kinds[i].prefix)) {
            continue;
        }
        warden_probe *p = calloc(1, sizeof(*p));
        if (!p) {
            return -ENOMEM;
        }
        p->kind = &kinds[i];
        p->spec = strdup(spec);
        int r = p->spec ? kinds[i].parse(p, spec + strlen(kinds[i].prefix)) : -ENOMEM;
        if (r < 0) {
            warden_probe_free(p);
            return r;
        }
        *ret = p;
        return 0;
    }
    return -EINVAL;
}

warden_probe *warden_probe_free(warden_probe *p)
{
    if (!p) {
        return NULL;
    }
    free(p->spec);
    free(p->host);
    free(p->port);
    warden__exec_done(&p->exec);
    free(p);
    return NULL;
}

int warden_probe_check_spec(const char *spec)
{
    warden_probe *p = NULL;
    int r = warden_probe_new(spec, &p);
    warden_probe_free(p);
    return r;
}

int warden_probe_run(const warden_probe *p, const struct warden_probe_context *ctx,
                     warden_usec_t deadline, char **ret_reason)
{
    return p->kind->run(p, ctx, deadline, ret_reason);
}

const char *warden_probe_spec(const warden_probe *p)
{
    return p->spec;
}
