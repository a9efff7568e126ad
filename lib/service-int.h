/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The managed service: start, stop and status of one resource instance's
 * process tree, with its state under <state_dir>/<instance>/. Private. */
#pragma once

#include <pthread.h>

#include "environ-int.h"
#include "notify-int.h"
#include "output-int.h"
#include "proc-int.h"
#include "warden/agent.h"
#include "warden/param.h"
#include "warden/probe.h"

struct warden_service {
    char *instance;
    /* The agent (its probe and hooks: hook.c) and the values they see; both
     * outlive the service. NULL: no hooks (a stop with an invalid
     * configuration, the tests). */
    const struct warden_agent *agent;
    const warden_params *params;
    char *state_dir; /* <state_dir>/<instance>, mode 0700 */
    struct warden_exec exec;
    struct warden_environ environ; /* exec.environ points here */
    struct warden_output output;   /* what a start opened for the output */
    char *pidfile;
    char *stop_command;
    warden_probe *probe;
    warden_usec_t check_timeout;

    /* The sd_notify protocol (notify-int.h): whether the service gets a
     * NOTIFY_SOCKET (ready=notify, watchdog, or notify_access given), at
     * which path, and the start's listener (handed to the keeper). */
    enum warden_ready ready;
    enum warden_notify_access notify_access;
    warden_usec_t watchdog; /* 0: none */
    bool notify;
    char *notify_path;
    int notify_fd;
    /* ready=notify: the wait for READY=1 ends here (pending_timeout),
     * unless the service extends it, up to the deadline the start was
     * given. 0: the start's deadline. */
    warden_usec_t ready_deadline;
    char notify_status[WARDEN_NOTIFY_STATUS_SIZE]; /* the last STATUS= */

    /* Serialises the spawn and state writes of the worker with the
     * wrapper's clean-up after a timeout; see warden__service_abandon. */
    pthread_mutex_t lock;
    bool abandoned;

    /* Called by stop just before it escalates to SIGKILL, with the time it
     * may take (a dump of what is about to be killed). */
    void (*before_kill)(void *userdata, warden_usec_t deadline);
    void *hook_userdata;

    /* From the state file, or the start that made them. */
    struct warden_pidref holder;
    struct warden_pidref main;
    char *cgroup;
};

/* Build a service from an agent's parameters. Only what the action needs
 * must be valid: "stop" works from the state file alone.
 * -EINVAL (bad value, ret_reason says which), -ENOPKG (the command's binary
 * is missing on this node), -ENXIO (user or workdir missing on this node). */
int warden__service_new(const warden_params *p, const char *instance, bool need_exec,
                        struct warden_service **ret, char **ret_reason);

/* The agent whose probe (check=agent) and hooks the service runs: binds the
 * service's probe. -EINVAL and a reason when check is 'agent' and the agent
 * has none. */
int warden__service_set_agent(struct warden_service *s, const struct warden_agent *agent,
                              char **ret_reason);
struct warden_service *warden__service_free(struct warden_service *s);

/* The directory that holds every instance's state: WARDEN_STATE_DIR in the
 * environment (tests), else the build's state_dir. */
const char *warden__state_root(void);

/* 0 when the main process runs, -ESRCH when it does not (ret_reason: why). */
int warden__service_status(struct warden_service *s, char **ret_reason);

/* Start and wait until healthy. Idempotent: a healthy running service is
 * left alone; leftovers of an earlier start are cleaned up first. The
 * agent's before_start runs just before the command (not when the service
 * already runs), its ready once the check passes. */
int warden__service_start(struct warden_service *s, warden_usec_t deadline, char **ret_reason);

/* After the start: 0 while the service still runs, else -ESRCH (or -EIO
 * when it left processes behind) with "service exited while starting" and
 * its last output. A check that passed for an instant (check=process and a
 * command that exits at once) does not make a start. */
int warden__service_still_running(struct warden_service *s, warden_usec_t deadline,
                                  char **ret_reason);

/* Graceful stop, then SIGKILL of the whole tree as the deadline nears.
 * 0 only when no process of the service is left. The agent's before_stop
 * runs first, while the main process lives; its after_stop once nothing is
 * left (its failure fails the stop). */
int warden__service_stop(struct warden_service *s, warden_usec_t deadline, char **ret_reason);

/* reload-agent: the new memory_max and cpu_weight to the running service's
 * cgroup, or its unit's properties on a systemd host (an unset one back to
 * the default), by the deadline. 0 when nothing runs. */
int warden__service_reload(struct warden_service *s, warden_usec_t deadline, char **ret_reason);

/* Whether the sender of a notify message may speak for the service: its
 * main process, or with notify_access=all any process of its tree. */
bool warden__service_notify_sender_ok(const struct warden_service *s, const struct ucred *cred);

/* MAINPID=: make pid the main process, only when it is a process of the
 * service's tree (re-verified once its pidfd is open), and record it.
 * -EPERM (not the service's), -ESRCH (gone), and a reason. */
int warden__service_adopt_main(struct warden_service *s, pid_t pid, char **ret_reason);

/* Run the probe once against the running service. */
int warden__service_probe(struct warden_service *s, warden_usec_t deadline, char **ret_reason);

/* After the wrapper's deadline: stop the worker from spawning anything
 * further, then kill whatever the service has. 0 when nothing is left. */
int warden__service_abandon(struct warden_service *s, warden_usec_t deadline);

/* ---- the service's record (service-state.c) ---- */

/* Write, read (0, or -ENOENT when there is none) and remove the state file
 * and the instance's state directory (remove: once the keeper has been
 * stood down, or never ran). */
int warden__service_state_write(const struct warden_service *s);
int warden__service_state_load(struct warden_service *s);
void warden__service_state_remove(struct warden_service *s);

/* The service's tree: its cgroup, or the holder's session (by the holder's
 * recorded pid and start time, never by a bare pid) plus whatever lives
 * below the holder or the main process while their pidfds show them
 * alive. */
struct warden_tree warden__service_tree(const struct warden_service *s);

/* The cgroup a service of this instance would have, whether or not a state
 * file says so: a start whose state was lost can still be cleaned up. */
void warden__service_guess_cgroup(struct warden_service *s);

/* The service's cgroup, once nothing of the service is left in it: a
 * unit's goes with the unit (stopped), any other is removed. */
void warden__service_drop_cgroup(const struct warden_service *s, const char *cgroup,
                                 warden_usec_t deadline);
