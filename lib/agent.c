/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* warden_agent_main: an OCF agent from a table. Parses the parameters,
 * prints meta-data, validates, runs the action under the wrapper's deadline
 * and maps the result to an OCF exit code, with the reason on stderr as
 * ocf-exit-reason so that Pacemaker shows it. */
#include <stdarg.h>
#include <stdio.h>

#include "agent-int.h"
#include "dump-int.h"
#include "hook-int.h"
#include "keeper-int.h"
#include "log-int.h"
#include "param-int.h"
#include "service-int.h"
#include "util-int.h"
#include "warden/agent.h"
#include "warden/dump.h"
#include "warden/op.h"

#define DEFAULT_PENDING_TIMEOUT (16 * WARDEN_USEC_PER_SEC)
#define OP_GRACE                (300 * WARDEN_USEC_PER_MSEC)

static int check_probe_spec(const char *value)
{
    return warden_probe_check_spec(value);
}

static int check_positive(const char *value)
{
    return strtoll(value, NULL, 10) >= 1 ? 0 : -EINVAL;
}

static int check_size(const char *value)
{
    uint64_t size;
    return warden_size_parse(value, &size);
}

static int check_not_negative(const char *value)
{
    return strtoll(value, NULL, 10) >= 0 ? 0 : -EINVAL;
}

/* Every time is bounded here, where a bad value gets a reason and exit 6:
 * so nothing downstream can wrap (interval + timeout + margin in a verdict,
 * the microseconds to nanoseconds of libqb's timers, timeout + grace) or
 * spin (an interval of 1us), and no saturating arithmetic is needed. */
#define TIME_MAX (24 * 3600 * WARDEN_USEC_PER_SEC)
#define TIME_FORMS                                                                                 \
    "e.g. 500ms, 10s, 2min (a whole number with unit ms, s, min or h; a bare number is seconds)"

static int time_within(const char *value, warden_usec_t min, warden_usec_t max)
{
    warden_usec_t usec = 0;
    return warden_time_parse(value, &usec) == 0 && usec >= min && usec <= max ? 0 : -EINVAL;
}

static int check_interval(const char *value)
{
    return time_within(value, 100 * WARDEN_USEC_PER_MSEC, TIME_MAX);
}

static int check_timeout(const char *value)
{
    return time_within(value, 10 * WARDEN_USEC_PER_MSEC, TIME_MAX);
}

/* The path of a file: absolute, naming something below / (not a directory:
 * no trailing slash, not "." or ".."), within PATH_MAX, and without control
 * characters (it appears in reasons and logs). */
static bool printable_path(const char *value)
{
    if (value[0] != '/' || strlen(value) >= 4096) {
        return false;
    }
    for (const char *c = value; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return false;
        }
    }
    return true;
}

static int check_dir_path(const char *value)
{
    return printable_path(value) ? 0 : -EINVAL;
}

static int check_file_path(const char *value)
{
    const char *last = strrchr(value, '/');
    return printable_path(value) && last[1] && !streq(last, "/.") && !streq(last, "/..") ? 0
                                                                                         : -EINVAL;
}

static const char *const dump_types[] = {"stacks", "core", NULL};

/* Parameters every agent has; an agent may redeclare one to change it. */
static const struct warden_param common_params[] = {
    {"command", WARDEN_PARAM_STRING, WARDEN_PARAM_REQUIRED, NULL, "Command to run the service",
     "The service's command line, run in the foreground without a shell: words split on blanks, "
     "'...' and \"...\" quote, no expansion. Set shell=true to run it through /bin/sh -c.",
     "a program and its arguments, e.g. /usr/sbin/mydaemon -f", NULL},
    {"shell", WARDEN_PARAM_BOOLEAN, 0, "false", "Run command through /bin/sh -c",
     "Run command through /bin/sh -c, for pipelines, redirections and variables.", NULL, NULL},
    {"pidfile", WARDEN_PARAM_STRING, WARDEN_PARAM_UNIQUE, NULL, "Pidfile of a daemonizing service",
     "For a service that forks into the background: the file in which it writes its pid. The "
     "process it names (it must belong to the service) is then the main process.",
     "the absolute path of a file, e.g. /run/mydaemon/mydaemon.pid", check_file_path},
    {"user", WARDEN_PARAM_STRING, 0, NULL, "Run the service as this user",
     "Run the service, stop_command and exec: checks as this user, with its groups.", "a user name",
     NULL},
    {"workdir", WARDEN_PARAM_STRING, 0, NULL, "Working directory",
     "The service's working directory (default /).", "an existing directory", NULL},
    {"stop_command", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, NULL,
     "Command for a graceful stop",
     "Run through /bin/sh -c instead of sending SIGTERM, for a graceful stop. Whatever is left "
     "of the service when pending_timeout nears is killed with SIGKILL.",
     "a shell command", NULL},
    {"pending_timeout", WARDEN_PARAM_TIME, WARDEN_PARAM_RELOADABLE, NULL,
     "Deadline of start and stop (EXRES PendingTimeOut)",
     "How long start and stop may take before warden gives up on them: a start that runs over "
     "is undone and fails; a stop kills the service's whole process tree before it. Default: "
     "80% of the operation's timeout, or 16s when none is given; a value past the operation's "
     "timeout is lowered to that default, so warden always answers before Pacemaker would kill "
     "it.",
     "a time from 10ms to 24h, " TIME_FORMS, check_timeout},
    {"check", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "process",
     "Health probe (EXRES IsAlive)",
     "How to tell the service is healthy: 'process' (its main process runs), 'tcp:HOST:PORT' (a "
     "connection is accepted), 'exec:COMMAND' (the command exits 0), or a dialogue in the "
     "service's protocol: 'smtp:HOST:PORT' (greeting, EHLO, NOOP, QUIT), 'imap:HOST:PORT' "
     "(greeting, CAPABILITY, NOOP, LOGOUT), 'pop3:HOST:PORT' (greeting, CAPA, QUIT), "
     "'http:HOST:PORT/PATH' (GET, a 2xx or 3xx status). A server that accepts a connection "
     "but does not answer fails a protocol check: it is hung.",
     WARDEN_PROBE_FORMS, check_probe_spec},
    {"check_timeout", WARDEN_PARAM_TIME, WARDEN_PARAM_RELOADABLE, "5s",
     "Timeout of one health probe",
     "A probe that has not answered within this time counts as failed: the service is hung.",
     "a time from 10ms to 24h, " TIME_FORMS, check_timeout},
    {"check_interval", WARDEN_PARAM_TIME, WARDEN_PARAM_RELOADABLE, "10s",
     "How often the keeper probes (EXRES: every 10 s)",
     "The keeper, a small process started with the service, runs the check this often and "
     "caches the verdict; a monitor at depth 0 answers from that cache at once. A crash of the "
     "main process is known at once, whatever the interval.",
     "a time from 100ms to 24h, " TIME_FORMS, check_interval},
    {"failure_threshold", WARDEN_PARAM_INTEGER, WARDEN_PARAM_RELOADABLE, "1",
     "Failed checks in a row that make a failure",
     "How many consecutive failed or hung checks make the resource failed.",
     "a whole number, 1 or more", check_positive},
    {"notify_cluster", WARDEN_PARAM_BOOLEAN, WARDEN_PARAM_RELOADABLE, "true",
     "Push failures to Pacemaker at once",
     "When the keeper sees a failure it tells the local Pacemaker controller at once (as "
     "crm_resource --fail does), so recovery does not wait for the next monitor. With false, "
     "Pacemaker learns of it at the next monitor.",
     NULL, NULL},
    {"depends_on", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, NULL,
     "Pidfile of a process this service depends on",
     "When the process this pidfile names restarts under the service (its pid and start time "
     "change), the resource fails with 'dependency restarted', so that Pacemaker restarts it "
     "and it renews what it held of the dependency.",
     "the absolute path of a file, e.g. /run/mydep/mydep.pid", check_file_path},
    {"dump_on_failure", WARDEN_PARAM_BOOLEAN, WARDEN_PARAM_RELOADABLE, "false",
     "Dump the service before recovering it (EXRES DumpProcessOnIsAliveFailure)",
     "Before a failure is reported, dump the service's processes for diagnosis, without "
     "killing them: on a failed or hung check (before the keeper pushes the failure; within "
     "one check_interval), on a start that runs over pending_timeout (before it is undone), on "
     "a stop that must escalate to SIGKILL (before the kill). Never for a crash: nothing is "
     "left to dump. The exit reason and the log say where the dump is.",
     NULL, NULL},
    {"dump_dir", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "/var/lib/warden/dumps",
     "Where dumps go (EXRES ProcessDumpDirPath)",
     "Created with mode 0700 if missing; files are written 0600 and never through a symlink "
     "(dumps hold what the service had in memory). Named "
     "<instance>-<UTC time>-<reason>.stacks and .core.<PID>.",
     "an absolute path, e.g. /var/lib/warden/dumps", check_dir_path},
    {"dump_type", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "stacks", "What a dump holds",
     "'stacks': one text file with, per thread of every process of the service, the kernel "
     "stack, wchan and syscall, and the user-space backtrace from eu-stack (elfutils) when "
     "installed. 'core': that, and a core of each process from gcore (gdb) when installed; "
     "gcore stops the process while it writes (about 3.5 s per GiB), so a core is only begun "
     "when it fits the time left.",
     "stacks or core", NULL, dump_types},
    {"dump_keep", WARDEN_PARAM_INTEGER, WARDEN_PARAM_RELOADABLE, "5", "Dumps kept per resource",
     "The newest N dumps of this resource are kept, older ones removed; 0 keeps all.",
     "a whole number, 0 or more", check_not_negative},
    {"dump_max_bytes", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "2G",
     "Largest total size of the cores of one dump",
     "A core that would take the dump past this is not written.",
     "a size in bytes, or with K, M or G, e.g. 512M", check_size},
    {NULL},
};

enum warden_ocf_rc warden_ocf_rc_from_errno(int r)
{
    switch (r) {
    case 0:
        return WARDEN_OCF_SUCCESS;
    case -ESRCH:
        return WARDEN_OCF_NOT_RUNNING;
    case -EINVAL:
        return WARDEN_OCF_ERR_CONFIGURED;
    case -ENOPKG:
        return WARDEN_OCF_ERR_INSTALLED;
    case -ENXIO:
        return WARDEN_OCF_ERR_ARGS;
    case -EPERM:
    case -EACCES:
        return WARDEN_OCF_ERR_PERM;
    case -EOPNOTSUPP:
        return WARDEN_OCF_ERR_UNIMPLEMENTED;
    default:
        return WARDEN_OCF_ERR_GENERIC;
    }
}

/* One invocation. */
struct run {
    const struct warden_agent *agent;
    const char *action;
    const char *instance;
    const struct warden_param **table;
    size_t n_params;
    warden_params *params;
    struct warden_service *service;
    warden_usec_t op_timeout; /* OCF_RESKEY_CRM_meta_timeout; 0 when not given */
    bool probe;               /* monitor with interval 0 */
    char *reason;
    int argc;
    char **argv;
};

static int exit_with(struct run *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int exit_with(struct run *r, int err, const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        free(r->reason);
        if (vasprintf(&r->reason, fmt, ap) < 0) {
            r->reason = NULL;
        }
        va_end(ap);
    }
    return err;
}

/* ---- meta-data ----------------------------------------------------------- */

static bool caller_speaks_ocf11(void)
{
    const char *major = getenv("OCF_RA_VERSION_MAJOR");
    const char *minor = getenv("OCF_RA_VERSION_MINOR");
    if (isempty(major) || isempty(minor)) {
        return false;
    }
    int ma = atoi(major), mi = atoi(minor);
    return ma > 1 || (ma == 1 && mi >= 1);
}

static void print_metadata(const struct run *r, FILE *out)
{
    const struct warden_agent *a = r->agent;
    bool ocf11 = caller_speaks_ocf11();
    fputs("<?xml version=\"1.0\"?>\n", out);
    if (!ocf11) {
        /* Old callers (ocf-tester) validate against ra-api-1.dtd. */
        fputs("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n", out);
    }
    fprintf(out, "<resource-agent name=\"%s\" version=\"%s\">\n<version>%s</version>\n", a->name,
            a->version ? a->version : "1.0", ocf11 ? "1.1" : "1.0");
    fputs("<longdesc lang=\"en\">", out);
    warden__xml_escape(out, a->longdesc ? a->longdesc : a->shortdesc);
    fputs("</longdesc>\n<shortdesc lang=\"en\">", out);
    warden__xml_escape(out, a->shortdesc);
    fputs("</shortdesc>\n", out);
    warden__params_print_metadata(r->table, r->n_params, ocf11, out);
    fputs("<actions>\n"
          "<action name=\"start\" timeout=\"20s\"/>\n"
          "<action name=\"stop\" timeout=\"20s\"/>\n"
          "<action name=\"monitor\" timeout=\"20s\" interval=\"10s\" depth=\"0\"/>\n"
          "<action name=\"monitor\" timeout=\"20s\" interval=\"60s\" depth=\"10\"/>\n"
          "<action name=\"meta-data\" timeout=\"5s\"/>\n"
          "<action name=\"validate-all\" timeout=\"20s\"/>\n",
          out);
    if (ocf11) {
        fputs("<action name=\"reload-agent\" timeout=\"20s\"/>\n", out);
    }
    fputs("</actions>\n</resource-agent>\n", out);
}

static void usage(const struct warden_agent *a, FILE *out)
{
    fprintf(out,
            "usage: %s {start|stop|monitor|meta-data|validate-all|reload-agent}\n"
            "ocf:warden:%s, an OCF resource agent (see its meta-data). Parameters come from\n"
            "OCF_RESKEY_<name> in the environment, as Pacemaker sets them.\n",
            a->name, a->name);
}

/* ---- deadlines ----------------------------------------------------------- */

/* pending_timeout: what the administrator set, else 80% of the op timeout,
 * else 16 s. A value past the op timeout would let Pacemaker kill the agent
 * before it answers, so it is lowered to the default. */
static warden_usec_t pending_timeout(struct run *r)
{
    warden_usec_t fallback = r->op_timeout ? r->op_timeout / 5 * 4 : DEFAULT_PENDING_TIMEOUT;
    if (!warden_params_is_set(r->params, "pending_timeout")) {
        return fallback;
    }
    warden_usec_t v = warden_params_time(r->params, "pending_timeout");
    if (r->op_timeout && v >= r->op_timeout) {
        char a[32], b[32], c[32];
        qb_log(LOG_WARNING, "pending_timeout %s is not below the operation timeout %s: using %s",
               warden_time_format(v, a, sizeof(a)), warden_time_format(r->op_timeout, b, sizeof(b)),
               warden_time_format(fallback, c, sizeof(c)));
        return fallback;
    }
    return v;
}

/* After the wrapper's deadline there is still the rest of the op timeout:
 * clean-up gets that, less a margin to print the answer and exit. */
static warden_usec_t cleanup_deadline(struct run *r)
{
    warden_usec_t pending = pending_timeout(r);
    warden_usec_t total = r->op_timeout ? r->op_timeout : pending + pending / 4;
    warden_usec_t rest = total > pending ? total - pending : 0;
    return warden_deadline_in(rest > 200 * WARDEN_USEC_PER_MSEC ? rest - rest / 4 : rest);
}

/* ---- actions ------------------------------------------------------------- */

struct op_args {
    struct run *run;
    warden_usec_t deadline; /* the operation's own, a little before the wrapper's */
    char *reason;           /* written by the worker; read only if it finished */
};

/* Without a keeper the service still runs; the next monitor checks it
 * itself and tries again. So a keeper that cannot start is a warning. */
static void launch_keeper(struct warden_service *s, warden_usec_t deadline)
{
    int k = warden__keeper_launch(s, deadline);
    if (k == -EADDRINUSE) {
        qb_log(LOG_WARNING, "the keeper runs, but another process holds its IPC name: "
                            "monitors work, reload-agent does not");
    } else if (k < 0) {
        qb_log(LOG_WARNING,
               "keeper did not start (%s): the next monitor checks the service "
               "itself and retries",
               strerror(-k));
    }
}

static int op_start(void *userdata, warden_usec_t deadline)
{
    struct op_args *o = userdata;
    struct warden_service *s = o->run->service;
    int r = warden__service_start(s, o->deadline, &o->reason);
    if (r < 0) {
        return r;
    }
    launch_keeper(s, o->deadline);
    return 0;
}

/* The keeper is stood down before the service is touched, so that a
 * deliberate stop is never reported as a failure. */
static void stand_down_keeper(struct warden_service *s, warden_usec_t deadline)
{
    warden_usec_t soon = warden_deadline_in(2 * WARDEN_USEC_PER_SEC);
    warden__keeper_stand_down(s, soon < deadline ? soon : deadline);
}

static int op_stop(void *userdata, warden_usec_t deadline)
{
    struct op_args *o = userdata;
    stand_down_keeper(o->run->service, o->deadline);
    return warden__service_stop(o->run->service, o->deadline, &o->reason);
}

/* Depth 10, and probes: a fresh IsAlive, now. */
static int op_probe(void *userdata, warden_usec_t deadline)
{
    struct op_args *o = userdata;
    return warden__service_probe(o->run->service, o->deadline, &o->reason);
}

/* An abandoned worker may still use its arguments and the service until the
 * process exits; they are parked here, never freed, and stay reachable. */
static struct op_args *abandoned_op;

/* Run an operation under the wrapper. */
static int wrapped(struct run *r, warden_op_fn fn, warden_usec_t timeout, int *ret_result)
{
    struct op_args *o = calloc(1, sizeof(*o));
    if (!o) {
        return -ENOMEM;
    }
    o->run = r;
    /* The operation ends itself at its deadline, with its own reason, and
     * kills what it ran (a probe's command); the wrapper waits a little
     * longer, for the operation that cannot. */
    o->deadline = warden_deadline_in(timeout);
    timeout += OP_GRACE;
    int result = 0;
    int w = warden_op_run(fn, o, warden_deadline_in(timeout), &result);
    if (w == -ETIMEDOUT) {
        abandoned_op = o;
    }
    if (w < 0) {
        return w;
    }
    free(r->reason);
    r->reason = o->reason;
    free(o);
    *ret_result = result;
    return 0;
}

/* Dump what is about to be killed, when asked to, in the first half of
 * what is left before the deadline. Returns where the dump went, or NULL. */
static char *dump_before_kill(struct run *r, const char *why, warden_usec_t deadline)
{
    if (!warden__dump_enabled(r->params)) {
        return NULL;
    }
    warden_usec_t now = warden_now();
    char *path = NULL;
    int k = warden__dump_run(r->params, r->instance, why,
                             now + (deadline > now ? (deadline - now) / 2 : 0), &path);
    if (k < 0) {
        qb_log(LOG_WARNING, "no dump before the kill: %s", strerror(-k));
        return NULL;
    }
    qb_log(LOG_NOTICE, "dump written to %s", path);
    return path;
}

static void dump_hook(void *userdata, warden_usec_t deadline)
{
    free(dump_before_kill(userdata, "stop-kill", deadline));
}

static int action_start(struct run *r)
{
    warden_usec_t timeout = pending_timeout(r);
    if (warden__service_status(r->service, NULL) < 0) {
        /* A keeper left from an earlier run has nothing to keep. */
        stand_down_keeper(r->service, warden_deadline_in(timeout));
    }
    int result = 0;
    int w = wrapped(r, op_start, timeout, &result);
    if (w == -ETIMEDOUT || result == -ETIMEDOUT) {
        char buf[32];
        warden_usec_t cleanup = cleanup_deadline(r);
        _cleanup_free_ char *dump = dump_before_kill(r, "start-timeout", cleanup);
        int k = warden__service_abandon(r->service, cleanup);
        /* Where the dump is comes early: Pacemaker keeps 128 characters. */
        _cleanup_free_ char *why = w == -ETIMEDOUT ? strdup("it hung") : TAKE_PTR(r->reason);
        return exit_with(r, -ETIMEDOUT, "start ran over pending_timeout %s%s%s; %s: %s",
                         warden_time_format(timeout, buf, sizeof(buf)), dump ? "; dump in " : "",
                         dump ? dump : "", k == 0 ? "killed" : "processes of it survived SIGKILL",
                         why ? why : "not healthy");
    }
    if (w < 0) {
        return exit_with(r, w, "cannot run start: %s", strerror(-w));
    }
    if (result < 0) {
        if (result == -ESRCH) {
            /* A service that dies while starting failed to start. */
            result = -EIO;
        }
        warden__service_abandon(r->service, cleanup_deadline(r));
        return result;
    }
    qb_log(LOG_INFO, "started, pid %d", (int)r->service->main.pid);
    return 0;
}

static int action_stop(struct run *r)
{
    warden_usec_t timeout = pending_timeout(r);
    if (warden__dump_enabled(r->params)) {
        r->service->before_kill = dump_hook;
        r->service->hook_userdata = r;
    }
    int result = 0;
    int w = wrapped(r, op_stop, timeout, &result);
    if (w == -ETIMEDOUT) {
        /* The worker itself escalates before the deadline; getting here
         * means it is stuck (a hung stop_command). Kill from this thread. */
        int k = warden__service_abandon(r->service, cleanup_deadline(r));
        return k == 0 ? 0
                      : exit_with(r, -EIO, "stop did not finish and processes survived SIGKILL");
    }
    if (w < 0) {
        return exit_with(r, w, "cannot run stop: %s", strerror(-w));
    }
    if (result == 0) {
        qb_log(LOG_INFO, "stopped");
    }
    return result;
}

static int check_level(void)
{
    const char *level = getenv("OCF_CHECK_LEVEL");
    return isempty(level) ? 0 : atoi(level);
}

/* A request to the keeper, run under the wrapper: a frozen keeper never
 * completes libqb's connection set-up, and the action must still answer.
 * Static: an abandoned worker may still write to it until the process
 * exits, and then nothing of the run may be freed (see keeper_abandoned). */
static struct keeper_request {
    char *state_dir;
    const char *instance;
    const char *reload_text; /* NULL: ask for the verdict */
    warden_usec_t deadline;
    struct warden_verdict verdict;
} keeper_req;
static bool keeper_abandoned;

static int op_keeper_request(void *userdata, warden_usec_t deadline)
{
    struct keeper_request *q = userdata;
    if (q->reload_text) {
        return warden__monitor_reload(q->state_dir, q->instance, q->reload_text, q->deadline);
    }
    return warden__monitor_ask(q->state_dir, q->instance, q->deadline, &q->verdict);
}

/* Ask the keeper (verdict, or reload with text), by timeout. -ETIMEDOUT
 * when it does not answer in time. */
static int keeper_request(struct run *r, const char *reload_text, warden_usec_t timeout,
                          struct warden_verdict *ret)
{
    free(keeper_req.state_dir);
    keeper_req = (struct keeper_request){
        .state_dir = strdup(r->service->state_dir),
        .instance = r->instance,
        .reload_text = reload_text,
        .deadline = warden_deadline_in(timeout),
    };
    if (!keeper_req.state_dir) {
        return -ENOMEM;
    }
    int k = 0;
    int w =
        warden_op_run(op_keeper_request, &keeper_req, warden_deadline_in(timeout + OP_GRACE), &k);
    if (w == -ETIMEDOUT) {
        keeper_abandoned = true;
        return -ETIMEDOUT;
    }
    if (w < 0) {
        return w;
    }
    if (k == -EAGAIN) {
        k = -ETIMEDOUT; /* libqb's word for a reply that did not come */
    }
    if (k == 0 && ret) {
        *ret = keeper_req.verdict;
    }
    return k;
}

/* How long a keeper may take to answer before it counts as stuck. */
#define KEEPER_ANSWER_TIMEOUT (2 * WARDEN_USEC_PER_SEC)

/* A recurring monitor that reads a failure the keeper is pushing waits for
 * the recovery to cancel it (warden__verdict_await), as the front's fast
 * path does, then answers from the newest verdict: the push counts the
 * failure, the cancelled monitor does not. */
static int answer_after_push(struct run *r, struct warden_verdict *v, char **ret_reason)
{
    int w = warden__verdict_await(
        r->service->state_dir, v,
        warden__verdict_await_deadline(getenv("OCF_RESKEY_CRM_meta_timeout")));
    int k = warden__verdict_answer(v, warden_now(), ret_reason);
    if (w <= 0 && k != 0 && k != -ETIMEDOUT && warden__verdict_pushing(v)) {
        qb_log(LOG_WARNING,
               "reporting a failure the keeper pushed (%s): Pacemaker may count it "
               "twice",
               w == -ETIMEDOUT ? "no recovery before this monitor's timeout" : strerror(-w));
    }
    return k;
}

/* A fresh IsAlive, now, under check_timeout (depth 10, probes, and a
 * depth-0 monitor whose keeper cannot answer). */
static int probe_now(struct run *r)
{
    warden_usec_t timeout = warden_params_time(r->params, "check_timeout");
    if (r->op_timeout && timeout + OP_GRACE >= r->op_timeout) {
        timeout = r->op_timeout / 5 * 4;
    }
    int result = 0;
    int w = wrapped(r, op_probe, timeout, &result);
    if (w == -ETIMEDOUT) {
        char buf[32], check[WARDEN_SHOWN_SIZE];
        return exit_with(r, -ETIMEDOUT, "check '%s' did not answer within %s",
                         warden__shown(warden_params_string(r->params, "check"), check),
                         warden_time_format(timeout, buf, sizeof(buf)));
    }
    if (w < 0) {
        return exit_with(r, w, "cannot run monitor: %s", strerror(-w));
    }
    if (result == -ESRCH) {
        /* Not running is an answer, not an error to log loudly. */
        return result;
    }
    if (result < 0 && result != -EINVAL) {
        result = -EIO; /* a failed check is a failed service */
    }
    return result;
}

/* Depth 0: the keeper's cached verdict, at once. The keeper's own trouble
 * (gone, stuck, its verdict stale) is not the service's: it is replaced,
 * and the answer comes from a probe of our own, now. */
static int answer_from_keeper(struct run *r)
{
    struct warden_verdict v;
    int k = keeper_request(r, NULL, KEEPER_ANSWER_TIMEOUT, &v);
    if (k == 0) {
        char *reason = NULL;
        int answer = answer_after_push(r, &v, &reason);
        if (answer != -ETIMEDOUT) {
            free(r->reason);
            r->reason = reason;
            return answer;
        }
        qb_log(LOG_WARNING, "%s", reason);
        free(reason);
        k = -ETIMEDOUT; /* the keeper answers, but its checks are stuck */
    }
    if (k == -EACCES) {
        return exit_with(r, -EACCES, "the keeper refused this monitor (not root or haclient)");
    }
    /* The watcher is watched. */
    int status = warden__service_status(r->service, &r->reason);
    if (status < 0) {
        return status;
    }
    if (k == -ETIMEDOUT) {
        qb_log(LOG_WARNING, "the keeper of pid %d is stalled: replacing it, and checking now",
               (int)r->service->main.pid);
        warden__keeper_stand_down(r->service, warden_deadline_in(KEEPER_ANSWER_TIMEOUT / 4));
    } else {
        qb_log(LOG_WARNING, "the keeper of pid %d is gone (%s): checking now, then a new one",
               (int)r->service->main.pid, strerror(-k));
    }
    int result = probe_now(r);
    if (result == 0) {
        launch_keeper(r->service, warden_deadline_in(pending_timeout(r)));
    }
    return result;
}

static int action_monitor(struct run *r)
{
    if (!r->probe && check_level() < 10) {
        return answer_from_keeper(r);
    }
    /* A deep recurring monitor too leaves a failure being pushed to the
     * push. */
    struct warden_verdict pushed;
    if (!r->probe && warden__verdict_read(r->service->state_dir, &pushed) == 0 &&
        warden__verdict_pushing(&pushed) && warden__verdict_keeper_alive(&pushed) == 0) {
        return answer_after_push(r, &pushed, &r->reason);
    }
    return probe_now(r);
}

/* reload-agent: the keeper takes the new reloadable values without a
 * restart of the service; the other actions read them anew each time. */
static int action_reload(struct run *r)
{
    _cleanup_free_ char *text = warden__params_reload_text(r->params);
    if (!text) {
        return -ENOMEM;
    }
    int k = keeper_request(r, text, pending_timeout(r), NULL);
    if (k == -ENOTCONN) {
        qb_log(LOG_INFO, "no keeper runs: nothing to reload");
        return 0;
    }
    if (k == -EADDRINUSE) {
        return exit_with(r, -EIO,
                         "the keeper cannot be reached: its IPC name is held by another process "
                         "(see the log); the new values were not sent");
    }
    if (k < 0) {
        return exit_with(r, k, "the keeper refused the new values: %s", strerror(-k));
    }
    qb_log(LOG_INFO, "keeper reloaded");
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static int setup(struct run *r)
{
    int k = warden__param_table_merge(r->agent->params, common_params, &r->table, &r->n_params);
    if (k < 0) {
        return k;
    }
    return warden__params_load(r->table, r->n_params, &r->params);
}

static bool is_action(const char *a, const char *b)
{
    return streq(a, b);
}

static int action_validate(struct run *r)
{
    return 0; /* what is to validate was, before any action runs */
}

static int action_keeper(struct run *r)
{
    return warden__keeper_main(r->params, r->instance, r->agent) == 0 ? 0 : -EIO;
}

static int action_dump(struct run *r)
{
    return warden__dump_main(r->params, r->instance, r->argc, r->argv) == 0 ? 0 : -EIO;
}

static const struct action {
    const char *name;
    bool needs_exec; /* the command must be runnable on this node */
    int (*run)(struct run *r);
} actions[] = {
    {"start", true, action_start},
    {"stop", false, action_stop},
    {"monitor", false, action_monitor},
    {"status", false, action_monitor},
    {"validate-all", true, action_validate},
    {"reload-agent", false, action_reload},
    {WARDEN_KEEPER_ACTION, false, action_keeper},
    {WARDEN_DUMP_ACTION, false, action_dump},
};

/* The configuration is bad (or the command missing here). A stop and a probe
 * must still answer, from what runs: a stop reads its state file, not the
 * parameters; on a node where nothing runs the answers are "stopped". */
static int answer_despite_config(struct run *r, int invalid)
{
    if (!r->service || invalid == -ENOPKG || invalid == -ENXIO) {
        warden__service_free(r->service);
        r->service = NULL;
        warden__service_new(NULL, r->instance, false, &r->service, NULL);
    }
    bool stopping = is_action(r->action, "stop");
    /* Running, or half there (-EIO: the main process gone, others left):
     * a stop must end it, whatever the configuration says now. */
    if (r->service && warden__service_status(r->service, NULL) != -ESRCH) {
        return stopping ? action_stop(r) : invalid;
    }
    free(r->reason);
    r->reason = NULL;
    return stopping ? 0 : -ESRCH;
}

static int dispatch(struct run *r)
{
    const struct action *act = NULL;
    for (size_t i = 0; i < ELEMENTSOF(actions) && !act; i++) {
        act = is_action(r->action, actions[i].name) ? &actions[i] : NULL;
    }
    if (!act) {
        return exit_with(r, -EOPNOTSUPP, "action '%s' is not implemented", r->action);
    }
    if (r->agent->prepare) {
        char *why = NULL;
        int k = r->agent->prepare(r->params, &why);
        if (k < 0) {
            char buf[WARDEN_REASON_SHOWN_SIZE];
            int e = why ? exit_with(r, k, "%s", warden__reason_shown(why, buf))
                        : exit_with(r, k, "cannot derive defaults: %s", strerror(-k));
            free(why);
            return e;
        }
        free(why);
    }
    int valid = warden__params_validate(r->params, &r->reason);
    if (valid == 0) {
        valid =
            warden__service_new(r->params, r->instance, act->needs_exec, &r->service, &r->reason);
    }
    if (valid == 0) {
        valid = warden__service_set_agent(r->service, r->agent, &r->reason);
    }
    if (valid == 0 && act->needs_exec) {
        valid = warden__params_check_node(r->params, &r->reason);
    }
    if (valid < 0) {
        bool probing = act->run == action_monitor && r->probe;
        bool stopping = act->run == action_stop;
        return (stopping || probing) && valid != -ENOMEM ? answer_despite_config(r, valid) : valid;
    }
    return act->run(r);
}

/* The common `check` of an agent that has a probe of its own: that probe
 * is its default. */
static const struct warden_param agent_check_param = {
    "check",
    WARDEN_PARAM_STRING,
    WARDEN_PARAM_RELOADABLE,
    "agent",
    "Health probe (EXRES IsAlive)",
    "How to tell the service is healthy: 'agent' (the default: this agent's own probe of the "
    "service), 'process' (its main process runs), 'tcp:HOST:PORT' (a connection is accepted), "
    "'exec:COMMAND' (the command exits 0), or a dialogue in a protocol warden speaks: "
    "'smtp:HOST:PORT', 'imap:HOST:PORT', 'pop3:HOST:PORT', 'http:HOST:PORT/PATH'. A server that "
    "accepts a connection but does not answer fails a protocol check: it is hung.",
    "agent, " WARDEN_PROBE_FORMS,
    check_probe_spec};

/* The agent's tables as this library knows them (agent.h, "Extensibility"):
 * the fields within the sizes the agent was compiled with, zero-extended;
 * unknown fields of a newer agent must be unset (-E2BIG). Parameters are
 * copied one by one, at the agent's stride. An agent with a probe of its
 * own and no `check` of its own gets agent_check_param. */
static int agent_normalize(const struct warden_agent *in, size_t agent_size, size_t param_size,
                           struct warden_agent *out, struct warden_param **ret_params)
{
    if (!in || agent_size < sizeof(in->name) || (param_size && param_size < sizeof(char *))) {
        return -EINVAL;
    }
    int r = warden__struct_copy(out, sizeof(*out), in, agent_size);
    if (r < 0 || !out->name) {
        return r < 0 ? r : -EINVAL;
    }
    size_t n = 0;
    bool has_check = false;
    const unsigned char *at = (const unsigned char *)out->params;
    for (; at && *(const char *const *)(at + n * param_size); n++) {
        has_check = has_check || streq(*(const char *const *)(at + n * param_size), "check");
    }
    bool add_check = out->probe && !has_check;
    struct warden_param *params = calloc(n + 2, sizeof(*params));
    if (!params) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        r = warden__struct_copy(&params[i], sizeof(params[i]), at + i * param_size, param_size);
        if (r < 0) {
            free(params);
            return r;
        }
    }
    if (add_check) {
        params[n] = agent_check_param;
    }
    out->params = params;
    *ret_params = params;
    return 0;
}

/* The whole agent; the front (front.c) loads this library and calls it for
 * everything but a depth-0 monitor it can answer by itself. */
int warden__agent_main_full(const struct warden_agent *agent_in, size_t agent_size,
                            size_t param_size, int argc, char **argv)
{
    /* Static: a worker abandoned at its deadline may still use it until the
     * process exits (one invocation per process). */
    static struct run r;
    static struct warden_agent agent_copy;
    static struct warden_param *params_copy;
    const struct warden_agent *agent = &agent_copy;
    int k = agent_normalize(agent_in, agent_size, param_size, &agent_copy, &params_copy);
    if (k == -E2BIG) {
        fputs("ocf-exit-reason:this agent was built against a newer libwarden than the one "
              "installed: it sets fields of struct warden_agent or warden_param that this "
              "library does not know (install a newer libwarden)\n",
              stderr);
        return WARDEN_OCF_ERR_INSTALLED;
    }
    if (k < 0) {
        fprintf(stderr, "ocf-exit-reason:the agent's table is unusable: %s\n", strerror(-k));
        return WARDEN_OCF_ERR_GENERIC;
    }
    r = (struct run){.agent = agent, .argc = argc, .argv = argv};
    r.action = argc > 1 ? argv[1] : NULL;
    r.instance = getenv("OCF_RESOURCE_INSTANCE");
    const char *timeout_ms = getenv("OCF_RESKEY_CRM_meta_timeout");
    if (!isempty(timeout_ms)) {
        r.op_timeout = (warden_usec_t)strtoull(timeout_ms, NULL, 10) * WARDEN_USEC_PER_MSEC;
    }
    const char *interval = getenv("OCF_RESKEY_CRM_meta_interval");
    r.probe = isempty(interval) || strtoull(interval, NULL, 10) == 0;

    int result;
    if (setup(&r) < 0) {
        fputs("ocf-exit-reason:out of memory\n", stderr);
        return WARDEN_OCF_ERR_GENERIC;
    }
    if (!r.action || is_action(r.action, "usage") || is_action(r.action, "help") ||
        is_action(r.action, "--help")) {
        usage(agent, r.action ? stdout : stderr);
        result = r.action ? 0 : -ENXIO;
    } else if (is_action(r.action, "meta-data")) {
        print_metadata(&r, stdout);
        result = 0;
    } else {
        warden__log_open(agent->name, r.instance,
                         is_action(r.action, WARDEN_KEEPER_ACTION) ? "keeper"
                         : is_action(r.action, WARDEN_DUMP_ACTION) ? "dump"
                                                                   : r.action);
        result = dispatch(&r);
        if (result < 0 && result != -ESRCH) {
            qb_log(LOG_ERR, "%s failed: %s", r.action, r.reason ? r.reason : strerror(-result));
        }
        warden__log_close();
    }
    enum warden_ocf_rc rc = warden_ocf_rc_from_errno(result);
    if (r.reason && rc != WARDEN_OCF_SUCCESS) {
        fprintf(stderr, "ocf-exit-reason:%s\n", r.reason);
    }
    free(r.reason);
    if (abandoned_op || keeper_abandoned || warden__hooks_abandoned()) {
        /* The worker may still hold it; the process ends in a moment. */
        return rc;
    }
    free(keeper_req.state_dir);
    warden__service_free(r.service);
    warden__params_free(r.params);
    free(r.table);
    free(params_copy);
    params_copy = NULL;
    return rc;
}
