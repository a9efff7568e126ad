/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* warden_agent_main: an OCF agent from a table (the agent's room:
 * agent-int.h). The OCF dispatch: parses the parameters, prints meta-data,
 * validates, runs the action under the wrapper's deadline (op.c) and maps
 * the result to an OCF exit code, with the reason on stderr as
 * ocf-exit-reason so that Pacemaker shows it. What the actions do to the
 * service is service.c's; the keeper's side is keeper-client.c's. */
#include <stdarg.h>
#include <stdio.h>

#include "agent-int.h"
#include "dump-int.h"
#include "environ-int.h"
#include "hook-int.h"
#include "keeper-int.h"
#include "log-int.h"
#include "param-int.h"
#include "probe-int.h"
#include "service-int.h"
#include "tls-int.h"
#include "trace-int.h"
#include "util-int.h"
#include "warden/agent.h"
#include "warden/op.h"
#include "warden/probe.h"

#define DEFAULT_PENDING_TIMEOUT (16 * WARDEN_USEC_PER_SEC)
#define OP_GRACE                (300 * WARDEN_USEC_PER_MSEC)

enum warden_ocf_rc warden_ocf_rc_from_errno(int r)
{
    switch (r) {
    case 0:
        return WARDEN_OCF_SUCCESS;
    case WARDEN_PROBE_DEGRADED:
        return WARDEN_OCF_DEGRADED;
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
    /* The keeper watches the service from here on; one that exited in
     * between (it was seen alive for a moment) did not start. */
    return warden__service_still_running(s, o->deadline, &o->reason);
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

/* ready=notify: how long the start may wait for READY=1 when the service
 * asks for more time (EXTEND_TIMEOUT_USEC=): up to four fifths of the op
 * timeout, so that the undo of a start that still never says READY=1 keeps
 * the last fifth, as it does at the default pending_timeout. */
static warden_usec_t extended_timeout(struct run *r, warden_usec_t timeout)
{
    warden_usec_t most = r->op_timeout / 5 * 4;
    return r->service->ready == WARDEN_READY_NOTIFY && most > timeout ? most : timeout;
}

static int action_start(struct run *r)
{
    warden_usec_t began = warden_now();
    warden_usec_t timeout = pending_timeout(r);
    if (warden__service_status(r->service, NULL) < 0) {
        /* A keeper left from an earlier run has nothing to keep. */
        stand_down_keeper(r->service, warden_deadline_in(timeout));
    }
    int result = 0;
    warden_usec_t most = extended_timeout(r, timeout);
    r->service->ready_deadline = most > timeout ? warden_deadline_in(timeout) : 0;
    int w = wrapped(r, op_start, most, &result);
    if (w == -ETIMEDOUT || result == -ETIMEDOUT) {
        char buf[32];
        warden_usec_t cleanup = cleanup_deadline(r);
        if (most > timeout && cleanup > began + r->op_timeout - r->op_timeout / 20) {
            /* An extended wait took some of what the undo had. */
            cleanup = began + r->op_timeout - r->op_timeout / 20;
        }
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
    /* The watcher is watched. A stalled keeper goes first, whatever the
     * service's state: once this monitor has answered for a failure, a
     * keeper that resumes must not push it a second time. */
    if (k == -ETIMEDOUT) {
        qb_log(LOG_WARNING, "the keeper of pid %d is stalled: replacing it, and checking now",
               (int)r->service->main.pid);
        warden__keeper_stand_down(r->service, warden_deadline_in(KEEPER_ANSWER_TIMEOUT / 4));
    }
    int status = warden__service_status(r->service, &r->reason);
    if (status < 0) {
        return status;
    }
    if (k != -ETIMEDOUT) {
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
    int c = warden__service_reload(r->service, warden_deadline_in(pending_timeout(r)), &r->reason);
    if (c < 0) {
        return c;
    }
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
    int k = warden__param_table_merge_more(r->agent->params, warden__agent_common_params,
                                           warden__environ_params, &r->table, &r->n_params);
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

/* `warden check`: the probe now, under check_timeout, each step and the
 * result printed on stdout for the command to show ("step\tNAME\tUSEC\tRC",
 * then "result\tRC\tUSEC\tREASON"; RC 0, 1 degraded, or -errno). */
static void print_step(void *userdata, const char *step, warden_usec_t took, int result)
{
    printf("step\t%s\t%llu\t%d\n", step, (unsigned long long)took, result);
    fflush(stdout);
}

static int action_check(struct run *r)
{
    warden__trace_set(print_step, NULL);
    warden_usec_t began = warden_now();
    int result = probe_now(r);
    warden_usec_t took = warden_now() - began;
    warden__trace_set(NULL, NULL);
    char shown[WARDEN_REASON_SHOWN_SIZE];
    printf("result\t%d\t%llu\t%s\n", result, (unsigned long long)took,
           r->reason ? warden__reason_shown(r->reason, shown) : "");
    fflush(stdout);
    return result;
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
    {WARDEN_CHECK_ACTION, false, action_check},
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

/* A check over TLS needs GnuTLS, which the library loads only for it
 * (tls.c): start and validate-all find out here whether this node has it,
 * and answer as for a command missing here (-ENOPKG, "not installed"),
 * rather than start a service whose every probe would fail. */
static int check_tls_node(const struct warden_service *s, char **ret_reason)
{
    const char *proto = warden__probe_tls_proto(s->probe);
    if (!proto) {
        return 0;
    }
    _cleanup_free_ char *why = NULL;
    int r = warden__tls_load(&why);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "%s: %s", proto, why ? why : strerror(-r));
    }
    return 0;
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
    if (valid == 0 && act->needs_exec) {
        valid = check_tls_node(r->service, &r->reason);
    }
    if (valid < 0) {
        bool probing = act->run == action_monitor && r->probe;
        bool stopping = act->run == action_stop;
        return (stopping || probing) && valid != -ENOMEM ? answer_despite_config(r, valid) : valid;
    }
    return act->run(r);
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
    int k = warden__agent_normalize(agent_in, agent_size, param_size, &agent_copy, &params_copy);
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
        warden__agent_usage(agent, r.action ? stdout : stderr);
        result = r.action ? 0 : -ENXIO;
    } else if (is_action(r.action, "meta-data")) {
        warden__agent_print_metadata(agent, r.table, r.n_params, stdout);
        result = 0;
    } else {
        warden__log_open(agent->name, r.instance,
                         is_action(r.action, WARDEN_KEEPER_ACTION)  ? "keeper"
                         : is_action(r.action, WARDEN_DUMP_ACTION)  ? "dump"
                         : is_action(r.action, WARDEN_CHECK_ACTION) ? "check"
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
