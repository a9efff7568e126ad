/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keeper's verdict: what it serves over IPC and publishes in its state
 * directory, and how a monitor answers from it. No libqb here: the agent's
 * front (front.c) reads verdicts without loading it. Private. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "warden/time.h"

enum warden_health {
    WARDEN_HEALTH_RUNNING = 0,
    WARDEN_HEALTH_FAILED = 1,  /* failed or hung checks reached the threshold */
    WARDEN_HEALTH_STOPPED = 2, /* the main process is gone */
    /* Alive, with a warning (a probe answered WARDEN_PROBE_DEGRADED, or the
     * checks are slower than slow_threshold): monitor answers OCF's
     * degraded (190), which Pacemaker shows but neither recovers nor
     * counts. Not a failure: nothing is pushed. */
    WARDEN_HEALTH_DEGRADED = 3,
};

/* Whether the keeper is telling the cluster of the current failure
 * (warden-push). The failure's generation is `pushes`. A recurring monitor
 * that reads a failure being pushed leaves the count to the push: it waits
 * for the recovery to cancel it (warden__verdict_await). */
enum warden_push {
    WARDEN_PUSH_NONE = 0,    /* nothing pushed: a monitor reports the failure */
    WARDEN_PUSH_PENDING = 1, /* published before warden-push runs */
    WARDEN_PUSH_DONE = 2,    /* warden-push exited 0: the controller has it */
    WARDEN_PUSH_FAILED = 3,  /* warden-push failed: a monitor must report it */
};

/* Plain data: it crosses IPC and lives in a file. */
struct warden_verdict {
    int32_t health;       /* enum warden_health */
    uint32_t consecutive; /* failed checks in a row */
    uint64_t at_usec;     /* CLOCK_MONOTONIC of the verdict (system-wide) */
    uint64_t checks;      /* probes run */
    uint64_t failures;    /* probes failed or hung */
    uint64_t pushes;      /* failures pushed to the cluster */
    uint64_t check_interval_usec;
    uint64_t check_timeout_usec;
    int32_t keeper_pid;    /* who answers: to stand it down, to see it lives */
    uint32_t push;         /* enum warden_push: the keeper telling the cluster of this failure */
    uint64_t keeper_start; /* its start time (/proc/PID/stat), against pid reuse */
    char reason[256];
};

/* Margin a verdict may age past check_interval + check_timeout. */
#define WARDEN_VERDICT_MARGIN (2 * WARDEN_USEC_PER_SEC)

/* How a monitor answers from a verdict: 0 running, WARDEN_PROBE_DEGRADED
 * (1, probe.h) degraded with its reason, -ESRCH stopped, -EIO failed, -ETIMEDOUT when the verdict
 * is older than check_interval + check_timeout + margin (the keeper itself is stuck). */
int warden__verdict_answer(const struct warden_verdict *v, warden_usec_t now, char **ret_reason);

/* The published verdict: <state_dir>/verdict, replaced whole (rename) on
 * every change and every tick. */
int warden__verdict_write(const char *state_dir, const struct warden_verdict *v);
int warden__verdict_read(const char *state_dir, struct warden_verdict *ret);

/* A recurring monitor (interval > 0) that read v: when v is a failure the
 * keeper is pushing (pending or done), the push counts it, and the recovery
 * will cancel this monitor (a cancelled monitor counts nothing). So wait, on
 * the state directory's events (inotify, no polling), until one of: the push
 * failed, the failure is over (a new verdict of another generation, or none:
 * the keeper stood down), or the deadline (the op's timeout less a margin,
 * see warden__verdict_await_deadline). Then *v is the verdict to answer from;
 * returns 0 when the push failed or the failure is over (answer now, no
 * double count), -ETIMEDOUT at the deadline (answering now may count the
 * failure twice: say so), 1 when there was nothing to wait for. libc only. */
int warden__verdict_await(const char *state_dir, struct warden_verdict *v, warden_usec_t deadline);

/* The deadline for warden__verdict_await from the op's timeout
 * (OCF_RESKEY_CRM_meta_timeout, in ms; NULL or 0: none, do not wait): the
 * timeout less a margin for answering, max(1 s, 10%). 0 when not to wait. */
warden_usec_t warden__verdict_await_deadline(const char *timeout_ms);

/* Whether a recurring monitor should wait on v (see above). */
static inline bool warden__verdict_pushing(const struct warden_verdict *v)
{
    return (v->health == WARDEN_HEALTH_FAILED || v->health == WARDEN_HEALTH_STOPPED) &&
           (v->push == WARDEN_PUSH_PENDING || v->push == WARDEN_PUSH_DONE);
}

/* Whether the keeper that wrote a verdict still runs (not a zombie, same
 * start time). */
int warden__verdict_keeper_alive(const struct warden_verdict *v);
