/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keeper's verdict: what it serves over IPC and publishes in its state
 * directory, and how a monitor answers from it. No libqb here: the agent's
 * front (front.c) reads verdicts without loading it. Private. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
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

/* How much of a check's reason the history keeps (with its NUL). */
#define WARDEN_HISTORY_REASON_SIZE 128

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
    /* Appended in 0.2 (issue 12): what `warden status` shows, kept by the
     * keeper so that the command reads one small file. A verdict of 0.1
     * (shorter, ending at reason) still reads, these fields zero (a keeper
     * of the older version running through a package upgrade); any other
     * size is refused. Only ever append. */
    uint64_t last_check_usec;    /* latency of the newest check */
    uint64_t check_p50_usec;     /* median latency over the history (below) */
    uint64_t check_p99_usec;     /* 99th percentile (nearest rank) over the history */
    uint64_t last_check_at;      /* CLOCK_REALTIME of the newest check, usec; 0: none yet */
    uint64_t last_failure_at;    /* CLOCK_REALTIME of the newest failure, usec; 0: none */
    uint32_t failures_last_hour; /* failed or hung checks, crashes, dependency restarts */
    int32_t last_result;         /* the newest check's: 0, WARDEN_PROBE_DEGRADED, -errno */
    char last_failure_reason[WARDEN_HISTORY_REASON_SIZE * 2];
};

/* The verdict of 0.1 ended at reason. */
#define WARDEN_VERDICT_SIZE_0_1 offsetof(struct warden_verdict, last_check_usec)

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

/* ---- the check history --------------------------------------------------- */

/* The keeper keeps the newest WARDEN_HISTORY_MAX checks and publishes them,
 * whole, in <state_dir>/history beside the verdict (replaced by rename, as
 * the verdict), for `warden status RESOURCE`. Fixed size: about 18 KiB. */
#define WARDEN_HISTORY_MAX 100

struct warden_check_record {
    uint64_t at;      /* CLOCK_REALTIME when the check ended, usec */
    uint64_t latency; /* how long it took, usec (a hung one: until it was given up) */
    int32_t result;   /* 0, WARDEN_PROBE_DEGRADED, -errno (-ETIMEDOUT: hung) */
    uint32_t pad;
    char reason[WARDEN_HISTORY_REASON_SIZE]; /* cut to fit; empty when healthy */
};

/* Who the history is of: a state directory's name may be a hash of the
 * resource's (instance-int.h), and the command needs the agent and the
 * check to run it again (`warden check`). Strings are cut to fit. */
struct warden_history {
    char resource[256];           /* OCF_RESOURCE_INSTANCE */
    char agent[128];              /* "<provider>:<type>", e.g. "warden:daemon" */
    char agent_path[256];         /* the agent binary the keeper is */
    char check[256];              /* the check spec now (after reloads) */
    char dump_dir[256];           /* where its dumps go */
    uint64_t slow_threshold_usec; /* 0: none */
    uint32_t count;               /* records in use, oldest first */
    uint32_t pad;
    struct warden_check_record records[WARDEN_HISTORY_MAX];
};

/* Write and read <state_dir>/history. The reader refuses a file that is not
 * one (magic), of another version or size (-EBADMSG), or that claims more
 * than WARDEN_HISTORY_MAX records. libc only. */
int warden__history_write(const char *state_dir, const struct warden_history *h);
int warden__history_read(const char *state_dir, struct warden_history *ret);

/* The pct-th percentile of n latencies (n <= WARDEN_HISTORY_MAX): for 50
 * the median (the mean of the two middle values when n is even), otherwise
 * the nearest rank. 0 when n is 0. values is left as it was. */
uint64_t warden__latency_percentile(const uint64_t *values, size_t n, unsigned pct);
