/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keeper's room: EXRES's ExchangeIsAliveMonitor +
 * ExchangeCheckIsAliveWrapper. One keeper per running resource instance, in
 * a process of its own. Its loop thread wakes every check_interval and hands
 * the probe to a check thread; a probe that has not answered within
 * check_timeout counts as failed ("hung"). The verdict is cached, published
 * and served over libqb IPC; a failure is pushed to Pacemaker at once, once
 * per failure episode.
 *
 * The room, one header for all of it:
 *   keeper.c          the loop: ticks, the check thread, the watches (main
 *                     process, depends_on), the verdict; and its IPC server
 *   keeper-process.c  the keeper process built around one service (the
 *                     agent binary re-executed as WARDEN_KEEPER_ACTION): its
 *                     probe, reloads, a dump before a push, warden-push
 *   keeper-client.c   the keeper seen from the agent: the record it trusts,
 *                     asking and reloading over IPC, launch and stand down
 * The verdict itself is verdict-int.h's: the front reads it without libqb.
 * Private. */
#pragma once

#include <qb/qbipc_common.h>
#include <qb/qbloop.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "param-int.h"
#include "service-int.h"
#include "verdict-int.h"
#include "warden/time.h"

/* ---- the loop (keeper.c) ------------------------------------------------- */

struct warden_keeper_config {
    warden_usec_t check_interval;
    warden_usec_t check_timeout;
    int64_t failure_threshold;
    bool notify_cluster;
    /* When the median latency of the newest WARDEN_SLOW_WINDOW checks passes
     * it, the service is degraded (slow_threshold); 0: never. */
    warden_usec_t slow_threshold;
};

/* The checks whose median slow_threshold judges, and how many must be in
 * before it does (one slow check at start is not a trend). */
#define WARDEN_SLOW_WINDOW     20
#define WARDEN_SLOW_WINDOW_MIN 5

/* Run by the check thread; must honour the deadline (a probe that does not
 * is abandoned, and no new one starts until it returns). */
typedef int (*warden_keeper_probe_fn)(void *userdata, warden_usec_t deadline, char **ret_reason);
/* What began a failure episode. */
enum warden_failure {
    WARDEN_FAILURE_CHECK,      /* the probe answered: not healthy */
    WARDEN_FAILURE_HUNG,       /* the probe did not answer in check_timeout */
    WARDEN_FAILURE_CRASH,      /* the main process is gone */
    WARDEN_FAILURE_DEPENDENCY, /* depends_on restarted */
};

/* Called on the loop thread when a failure episode begins, whether or not
 * the cluster is to be told (notify: notify_cluster). */
typedef void (*warden_keeper_push_fn)(void *userdata, const struct warden_verdict *v,
                                      enum warden_failure kind, bool notify);
/* Called on the loop thread when the watched main process exits: return 0
 * and a new pidfd when the service lives on under a new main process (a
 * daemon that replaced itself), -ESRCH when it is gone, another -errno when
 * other processes of it remain (failed, not stopped). */
typedef int (*warden_keeper_exit_fn)(void *userdata, int *ret_pidfd);

/* Called on the loop thread at every tick: false when the keeper has been
 * superseded (its service's state names another process) and must go. */
typedef bool (*warden_keeper_still_mine_fn)(void *userdata);

/* Called on the loop thread with a reload request's body (the reloadable
 * parameters, warden__params_reload_text). */
typedef int (*warden_keeper_reload_fn)(void *userdata, const char *text);

struct warden_keeper_ops {
    warden_keeper_probe_fn probe;
    warden_keeper_push_fn push;
    warden_keeper_exit_fn main_exited;
    warden_keeper_reload_fn reload;
    warden_keeper_still_mine_fn still_mine;
    void *userdata;
};

typedef struct warden_keeper warden_keeper;

int warden__keeper_new(qb_loop_t *loop, const struct warden_keeper_config *cfg,
                       const struct warden_keeper_ops *ops, warden_keeper **ret);
warden_keeper *warden__keeper_free(warden_keeper *k);

/* Arm the interval timer and start the check thread. The first verdict is
 * "running" now: the keeper starts after a healthy start. */
int warden__keeper_start(warden_keeper *k);

/* Watch the service's main process: its exit is a failure known at once.
 * Takes ownership of pidfd. */
int warden__keeper_watch_main(warden_keeper *k, int pidfd, pid_t pid);

/* Watch a dependency's pidfile (depends_on): when the process it names
 * changes identity (pid + start time), the resource fails with
 * "dependency restarted". NULL stops watching. */
int warden__keeper_watch_dependency(warden_keeper *k, const char *pidfile);

/* New reloadable settings; the next tick uses them. */
int warden__keeper_reconfigure(warden_keeper *k, const struct warden_keeper_config *cfg);

void warden__keeper_verdict(const warden_keeper *k, struct warden_verdict *ret);

/* Say with every verdict of this failure episode, first (e.g. where a dump
 * went: Pacemaker keeps 128 characters of a reason). */
void warden__keeper_annotate(warden_keeper *k, const char *text);

/* The service's last STATUS= (sd_notify): said after the reason of every
 * failure from now on. */
void warden__keeper_status(warden_keeper *k, const char *status);

/* A failure found without any probe (a missed watchdog: kind HUNG): the
 * verdict fails at once, for good (no passing check undoes it), and is
 * pushed as any failure. Nothing when the verdict is not "running". */
void warden__keeper_fail(warden_keeper *k, enum warden_failure kind, const char *reason);

/* Hold the published verdict (file and IPC) as it is, while the failure is
 * being dumped: nobody may act on it before the dump is done. Releasing
 * publishes the current one. */
void warden__keeper_hold(warden_keeper *k, bool hold);

/* Say how the push of failure `generation` (the verdict's `pushes`) goes,
 * and publish it at once: PENDING before warden-push runs, then DONE or
 * FAILED (verdict-int.h). Ignored once that failure is no longer current. */
void warden__keeper_push_state(warden_keeper *k, uint64_t generation, enum warden_push state);

/* Who the keeper keeps, for the history it publishes (verdict-int.h): the
 * identity fields of who (resource, agent, agent_path, check, dump_dir,
 * slow_threshold_usec) are copied; its records are ignored. Called again
 * after a reload. */
void warden__keeper_identify(warden_keeper *k, const struct warden_history *who);

/* The history as it is now, oldest first. */
void warden__keeper_history(const warden_keeper *k, struct warden_history *ret);

/* Publish every verdict in state_dir/verdict, and the history in
 * state_dir/history (see verdict-int.h). */
int warden__keeper_publish(warden_keeper *k, const char *state_dir);

/* Serve the verdict over libqb IPC as `name`; only root and the haclient
 * group may connect. */
int warden__keeper_serve(warden_keeper *k, const char *name);

/* ---- IPC: keeper.c serves, keeper-client.c asks -------------------------- */

/* Requests are a qb_ipc_request_header and a body. */
enum warden_ipc_request {
    WARDEN_IPC_VERDICT = 1,
    WARDEN_IPC_RELOAD = 2, /* body: "name=len:value\n" records, NUL-terminated */
};
#define WARDEN_IPC_MAX_MSG 4096

/* Every answer: the header (error < 0 when a request was refused) and the
 * verdict as it is now. */
struct warden_ipc_response {
    struct qb_ipc_response_header hdr;
    struct warden_verdict verdict;
};

/* Whether a connecting client may talk to the keeper: root, or a member of
 * the haclient group. */
bool warden__ipc_client_allowed(uid_t uid, gid_t gid);

/* ---- the agent's side (keeper-client.c) ---------------------------------- */

/* "name" in the instance's state directory (keeper, keeper.lock, service,
 * verdict). */
char *warden__keeper_file(const struct warden_service *s, const char *name);

/* The keeper's IPC name for an instance (at most 100 bytes). */
int warden__keeper_ipc_name(const char *instance, char **ret);

/* Ask the instance's keeper for its verdict, by the deadline. Only the
 * keeper recorded in state_dir/keeper (pid and start time, re-verified, and
 * root) is believed: -ENOTCONN when there is none, -EADDRINUSE when
 * another process serves the name, -EACCES when it refused us, -ETIMEDOUT
 * at the deadline. */
int warden__monitor_ask(const char *state_dir, const char *instance, warden_usec_t deadline,
                        struct warden_verdict *ret);

/* Send the recorded keeper a reload request (root only; the text is
 * warden__params_reload_text's), by the deadline.
 * -ENOTCONN without a keeper. */
int warden__monitor_reload(const char *state_dir, const char *instance, const char *text,
                           warden_usec_t deadline);

/* Start a keeper for a running service: this binary again, in keeper mode,
 * detached (own session, stdio on /dev/null), so that Pacemaker's kill of
 * the agent's process group on an op timeout does not reach it. Returns 0
 * once it keeps and serves its IPC, -EADDRINUSE when it keeps without IPC
 * (its name is taken), -ECHILD when it is not keeping, -ETIMEDOUT at the
 * deadline. */
int warden__keeper_launch(struct warden_service *s, warden_usec_t deadline);

/* Stand the keeper down before a deliberate stop (SIGTERM: it exits
 * without reporting anything), SIGKILL if it does not go by the deadline.
 * The keeper is the one its record names (re-verified by start time) or,
 * without a record, a root process with a keeper's command line for this
 * instance; never a pid learned over IPC. */
int warden__keeper_stand_down(struct warden_service *s, warden_usec_t deadline);
/* The keeper the instance's state records (<state_dir>/keeper: pid and
 * start time); -ENOENT when none is, or the record is unreadable. */
int warden__keeper_record(const char *state_dir, pid_t *ret_pid, uint64_t *ret_start);

/* ---- the keeper process (keeper-process.c) ------------------------------- */

/* The keeper process: runs until stood down. agent is the agent's table:
 * its prepare derives defaults from reloaded values too, its probe is
 * check=agent. Exit status for main(). */
int warden__keeper_main(const warden_params *p, const char *instance,
                        const struct warden_agent *agent);

/* The internal action name that runs a keeper. */
#define WARDEN_KEEPER_ACTION "__warden_keeper"
