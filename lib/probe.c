/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Health probes. Each kind is a row of a table: its prefix, how to parse
 * what follows, how to run. Every step is bounded by the one deadline,
 * resolving a host name included (connect.c).
 *
 * The protocol probes (smtp, imap, pop3, http) are tables of the dialogue
 * engine (dialogue.c): steps of "send this line, then the answer's lines
 * must match these patterns", the same tables an agent writes for a
 * protocol of its own (dialogue.h). */
#include <stdio.h>
#include <sys/wait.h>

#include "connect-int.h"
#include "dialogue-int.h"
#include "probe-int.h"
#include "proc-int.h"
#include "tls-int.h"
#include "util-int.h"
#include "warden/param.h"
#include "warden/probe.h"

struct warden_probe {
    const struct probe_kind *kind;
    char *spec;
    char *host; /* tcp and the protocols */
    char *port;
    char *path; /* http: "/..." */
    /* TLS (warden__probe_set_tls): the certificate's checks, and STARTTLS
     * for smtp:, imap:, pop3: (check_tls=true). */
    struct warden__tls_options tls;
    char *ca_file; /* tls.ca_file's */
    bool starttls;
    struct warden_exec exec; /* exec */
    /* agent: bound by the library (hook.c) */
    warden_probe_agent_fn agent_fn;
    void *agent_userdata;
    void (*agent_free)(void *);
};

struct probe_kind {
    const char *prefix;
    int (*parse)(warden_probe *p, const char *arg);
    int (*run)(const warden_probe *p, const struct warden_probe_context *ctx,
               warden_usec_t deadline, char **ret_reason);
    const struct warden_dialogue *dialogue; /* the protocol probes */
    const struct warden_dialogue *starttls; /* the same, with STARTTLS (check_tls=true) */
    bool implicit_tls;                      /* smtps:, imaps:, pop3s:, https: */
};

static void set_reason(char **ret_reason, char *reason)
{
    if (ret_reason) {
        *ret_reason = reason;
    } else {
        free(reason);
    }
}

/* Reasons show what is not ours (a server's bytes, a host, a command) as
 * connect-int.h says: printable ASCII, at most WARDEN_ANSWER_SHOWN bytes. */
#define SHOWN(text, buf)        WARDEN_SHOWN((text), (buf))
#define waited(start, deadline) warden__probe_waited((start), (deadline))

int warden__probe_lookups_abandoned(void)
{
    return warden__connect_lookups_abandoned();
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
    char port[6];
    if (!warden__host_ok(host, hlen) || !warden__port_parse(colon + 1, port)) {
        return -EINVAL;
    }
    p->host = strndup(host, hlen);
    p->port = strdup(port);
    return p->host && p->port ? 0 : -ENOMEM;
}

static int tcp_run(const warden_probe *p, _unused_ const struct warden_probe_context *ctx,
                   warden_usec_t deadline, char **ret_reason)
{
    int fd = -EBADF;
    int r = warden__connect("tcp", p->host, p->port, warden_now(), deadline, &fd, ret_reason);
    if (r == 0) {
        close(fd);
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

static int exec_run(const warden_probe *p, const struct warden_probe_context *ctx,
                    warden_usec_t deadline, char **ret_reason)
{
    warden_usec_t start = warden_now();
    char name[WARDEN_ANSWER_SHOWN_SIZE]; /* argv[0] as reasons show it */
    SHOWN(p->exec.argv[0], name);
    struct warden_exec e = {0};
    warden__exec_copy_user(&e, ctx ? ctx->service_exec : NULL);
    _cleanup_free_ char *path = NULL;
    int r = warden__find_executable(p->exec.argv[0], &path);
    if (r < 0) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: %s", name, strerror(-r)));
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
        set_reason(ret_reason, warden__strdup_printf("exec %s: no answer within %s", name,
                                                     waited(start, deadline)));
        return r;
    }
    if (r < 0) {
        set_reason(ret_reason, warden__strdup_printf("exec %s: %s", name, strerror(-r)));
        return r;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    if (WIFSIGNALED(status)) {
        set_reason(ret_reason,
                   warden__strdup_printf("exec %s: killed by signal %d", name, WTERMSIG(status)));
    } else {
        set_reason(ret_reason,
                   warden__strdup_printf("exec %s: exit status %d", name, WEXITSTATUS(status)));
    }
    return -EIO;
}

/* ---- smtp, imap, pop3, http: a short dialogue ---------------------------- */

/* Each is a table of the dialogue engine (dialogue.c), the same tables an
 * agent writes for a protocol of its own (dialogue.h). */

/* SMTP (RFC 5321): a reply "DDD text" may be preceded by lines "DDD-text". */
static const struct warden_dialogue_step smtp_steps[] = {
    {.expect = "^220([^-]|$)", .more = "^220-"},
    {.send = "EHLO {me}", .expect = "^250([^-]|$)", .more = "^250-"},
    {.send = "NOOP", .expect = "^250([^-]|$)", .more = "^250-"},
    {.send = "QUIT", .expect = "^221([^-]|$)", .more = "^221-", .flags = WARDEN_DIALOGUE_BYE},
    {NULL},
};

/* IMAP (RFC 9051): untagged "* ..." lines, then the tagged status. LOGOUT's
 * "* BYE" is one of the untagged lines. */
static const struct warden_dialogue_step imap_steps[] = {
    {.expect = "^\\* OK"},
    {.send = "a1 CAPABILITY", .name = "CAPABILITY", .more = "^\\* ", .expect = "^a1 OK"},
    {.send = "a2 NOOP", .name = "NOOP", .more = "^\\* ", .expect = "^a2 OK"},
    {.send = "a3 LOGOUT",
     .name = "LOGOUT",
     .more = "^\\* ",
     .expect = "^a3 OK",
     .flags = WARDEN_DIALOGUE_BYE},
    {NULL},
};

/* POP3 (RFC 1939, CAPA from RFC 2449): CAPA's list ends with a lone ".". */
static const struct warden_dialogue_step pop3_steps[] = {
    {.expect = "^\\+OK"},
    {.send = "CAPA", .expect = "^\\+OK", .until = "^\\.$"},
    {.send = "QUIT", .expect = "^\\+OK", .flags = WARDEN_DIALOGUE_BYE},
    {NULL},
};

/* HTTP/1.0: one request, and its status line (dialogue-int.h says why that
 * is not a pattern). The blank line that ends the request is the end every
 * sent line gets. */
static const struct warden_dialogue_step http_steps[] = {
    {.send = "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: warden\r\nConnection: close\r\n",
     .flags = WARDEN__DIALOGUE_HTTP_STATUS},
    {NULL},
};

/* STARTTLS (check_tls=true): the server must offer it before it is asked
 * (RFC 3207 for SMTP, RFC 9051 for IMAP, RFC 2595 for POP3), TLS begins
 * after its answer, and the dialogue starts again under TLS, where the
 * capabilities are asked anew: those said in the clear are not to be
 * trusted. */
#define F_OFFERS   WARDEN__DIALOGUE_OFFERS_TLS
#define F_STARTTLS WARDEN__DIALOGUE_STARTTLS
static const struct warden_dialogue_step smtp_starttls_steps[] = {
    {.expect = "^220([^-]|$)", .more = "^220-"},
    {.send = "EHLO {me}", .expect = "^250([^-]|$)", .more = "^250-", .flags = F_OFFERS},
    {.send = "STARTTLS", .expect = "^220([^-]|$)", .more = "^220-", .flags = F_STARTTLS},
    {.send = "EHLO {me}", .expect = "^250([^-]|$)", .more = "^250-"},
    {.send = "NOOP", .expect = "^250([^-]|$)", .more = "^250-"},
    {.send = "QUIT", .expect = "^221([^-]|$)", .more = "^221-", .flags = WARDEN_DIALOGUE_BYE},
    {NULL},
};

static const struct warden_dialogue_step imap_starttls_steps[] = {
    {.expect = "^\\* OK"},
    {.send = "a1 CAPABILITY",
     .name = "CAPABILITY",
     .more = "^\\* ",
     .expect = "^a1 OK",
     .flags = F_OFFERS},
    {.send = "a2 STARTTLS",
     .name = "STARTTLS",
     .more = "^\\* ",
     .expect = "^a2 OK",
     .flags = F_STARTTLS},
    {.send = "a3 CAPABILITY", .name = "CAPABILITY", .more = "^\\* ", .expect = "^a3 OK"},
    {.send = "a4 NOOP", .name = "NOOP", .more = "^\\* ", .expect = "^a4 OK"},
    {.send = "a5 LOGOUT",
     .name = "LOGOUT",
     .more = "^\\* ",
     .expect = "^a5 OK",
     .flags = WARDEN_DIALOGUE_BYE},
    {NULL},
};

static const struct warden_dialogue_step pop3_starttls_steps[] = {
    {.expect = "^\\+OK"},
    {.send = "CAPA", .expect = "^\\+OK", .until = "^\\.$", .flags = F_OFFERS},
    {.send = "STLS", .expect = "^\\+OK", .flags = F_STARTTLS},
    {.send = "CAPA", .expect = "^\\+OK", .until = "^\\.$"},
    {.send = "QUIT", .expect = "^\\+OK", .flags = WARDEN_DIALOGUE_BYE},
    {NULL},
};

static const struct warden_dialogue smtp_dialogue = {.name = "smtp", .steps = smtp_steps};
static const struct warden_dialogue imap_dialogue = {.name = "imap", .steps = imap_steps};
static const struct warden_dialogue pop3_dialogue = {.name = "pop3", .steps = pop3_steps};
static const struct warden_dialogue http_dialogue = {.name = "http", .steps = http_steps};
static const struct warden_dialogue smtp_starttls = {.name = "smtp", .steps = smtp_starttls_steps};
static const struct warden_dialogue imap_starttls = {.name = "imap", .steps = imap_starttls_steps};
static const struct warden_dialogue pop3_starttls = {.name = "pop3", .steps = pop3_starttls_steps};
/* Implicit TLS: the same dialogues, under TLS from the first byte. */
static const struct warden_dialogue smtps_dialogue = {.name = "smtps", .steps = smtp_steps};
static const struct warden_dialogue imaps_dialogue = {.name = "imaps", .steps = imap_steps};
static const struct warden_dialogue pop3s_dialogue = {.name = "pop3s", .steps = pop3_steps};
static const struct warden_dialogue https_dialogue = {.name = "https", .steps = http_steps};

static int http_parse(warden_probe *p, const char *arg)
{
    /* No host name or address holds a '/': the first one starts the path.
     * Without one, the path is "/". */
    const char *slash = strchr(arg, '/');
    _cleanup_free_ char *where = slash ? strndup(arg, (size_t)(slash - arg)) : strdup(arg);
    if (!where) {
        return -ENOMEM;
    }
    int r = tcp_parse(p, where);
    if (r < 0) {
        return r;
    }
    const char *path = slash ? slash : "/";
    /* It goes into the request line as it is: no blanks, no control bytes. */
    for (const char *c = path; *c; c++) {
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
            return -EINVAL;
        }
    }
    p->path = strdup(path);
    return p->path ? 0 : -ENOMEM;
}

static int dialogue_run(const warden_probe *p, _unused_ const struct warden_probe_context *ctx,
                        warden_usec_t deadline, char **ret_reason)
{
    const struct warden_dialogue *d =
        p->starttls && p->kind->starttls ? p->kind->starttls : p->kind->dialogue;
    struct warden__dialogue_target target = {.host = p->host,
                                             .port = p->port,
                                             .path = p->path,
                                             .tls = &p->tls,
                                             .implicit_tls = p->kind->implicit_tls};
    return warden__dialogue_run(d, sizeof(*d), sizeof(struct warden_dialogue_step), &target, true,
                                deadline, ret_reason);
}

/* ---- agent: the agent's own probe ------------------------------------------ */

static int agent_parse(_unused_ warden_probe *p, const char *arg)
{
    return isempty(arg) ? 0 : -EINVAL;
}

static int agent_run(const warden_probe *p, const struct warden_probe_context *ctx,
                     warden_usec_t deadline, char **ret_reason)
{
    if (!p->agent_fn) {
        set_reason(ret_reason, strdup("check 'agent': this agent has no probe of its own"));
        return -EINVAL;
    }
    return p->agent_fn(p->agent_userdata, ctx->main_pid, deadline, ret_reason);
}

bool warden__probe_is_agent(const warden_probe *p)
{
    return p && p->kind->run == agent_run;
}

void warden__probe_bind_agent(warden_probe *p, warden_probe_agent_fn fn, void *userdata,
                              void (*free_userdata)(void *))
{
    if (p->agent_free) {
        p->agent_free(p->agent_userdata);
    }
    p->agent_fn = fn;
    p->agent_userdata = userdata;
    p->agent_free = free_userdata;
}

static const struct probe_kind kinds[] = {
    {"process", process_parse, process_run, NULL, NULL, false},
    {"agent", agent_parse, agent_run, NULL, NULL, false},
    {"tcp:", tcp_parse, tcp_run, NULL, NULL, false},
    {"exec:", exec_parse, exec_run, NULL, NULL, false},
    {"smtp:", tcp_parse, dialogue_run, &smtp_dialogue, &smtp_starttls, false},
    {"imap:", tcp_parse, dialogue_run, &imap_dialogue, &imap_starttls, false},
    {"pop3:", tcp_parse, dialogue_run, &pop3_dialogue, &pop3_starttls, false},
    {"http:", http_parse, dialogue_run, &http_dialogue, NULL, false},
    {"smtps:", tcp_parse, dialogue_run, &smtps_dialogue, NULL, true},
    {"imaps:", tcp_parse, dialogue_run, &imaps_dialogue, NULL, true},
    {"pop3s:", tcp_parse, dialogue_run, &pop3s_dialogue, NULL, true},
    {"https:", http_parse, dialogue_run, &https_dialogue, NULL, true},
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
        p->tls = (struct warden__tls_options)WARDEN__TLS_OPTIONS_DEFAULT;
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
    free(p->path);
    free(p->ca_file);
    warden__exec_done(&p->exec);
    if (p->agent_free) {
        p->agent_free(p->agent_userdata);
    }
    free(p);
    return NULL;
}

int warden__probe_set_tls(warden_probe *p, const warden_params *params)
{
    const char *ca_file = warden_params_string(params, "tls_ca_file");
    char *copy = NULL;
    if (!isempty(ca_file) && !(copy = strdup(ca_file))) {
        return -ENOMEM;
    }
    free(p->ca_file);
    p->ca_file = copy;
    /* An agent whose table lacks one of these (built against an older
     * libwarden than the one that added them) keeps the default. */
    const char *days = warden_params_string(params, "tls_warn_days");
    p->tls = (struct warden__tls_options){
        .verify = warden_params_boolean(params, "tls_verify"),
        .ca_file = p->ca_file,
        .warn_days = !isempty(days) ? (int)warden_params_integer(params, "tls_warn_days")
                                    : WARDEN__TLS_WARN_DAYS_DEFAULT,
    };
    p->starttls = warden_params_boolean(params, "check_tls");
    return 0;
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
    /* As this library knows it (probe.h): size 0 is the 1.0 layout. */
    struct warden_probe_context c;
    int r = warden__struct_copy(&c, sizeof(c), ctx, ctx->size ? ctx->size : sizeof(c));
    if (r < 0) {
        set_reason(ret_reason, strdup("the probe context sets fields this libwarden does not "
                                      "know (built against a newer one)"));
        return r;
    }
    return p->kind->run(p, &c, deadline, ret_reason);
}

const char *warden_probe_spec(const warden_probe *p)
{
    return p->spec;
}
