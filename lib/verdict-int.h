/* The keeper's verdict: what it serves over IPC and publishes in its state
 * directory, and how a monitor answers from it. No libqb here: the agent's
 * front (front.c) reads verdicts without loading it. Private. */
#pragma once

#include <stdint.h>

#include "warden/time.h"

enum warden_health {
    WARDEN_HEALTH_RUNNING = 0,
    WARDEN_HEALTH_FAILED = 1,  /* failed or hung checks reached the threshold */
    WARDEN_HEALTH_STOPPED = 2, /* the main process is gone */
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
    int32_t keeper_pid; /* who answers: to stand it down, to see it lives */
    uint32_t reserved;
    uint64_t keeper_start; /* its start time (/proc/PID/stat), against pid reuse */
    char reason[256];
};

/* Margin a verdict may age past check_interval + check_timeout. */
#define WARDEN_VERDICT_MARGIN (2 * WARDEN_USEC_PER_SEC)

/* How a monitor answers from a verdict: 0 running, -ESRCH stopped, -EIO
 * failed, -ETIMEDOUT when the verdict is older than check_interval +
 * check_timeout + margin (the keeper itself is stuck). */
int warden__verdict_answer(const struct warden_verdict *v, warden_usec_t now, char **ret_reason);

/* The published verdict: <state_dir>/verdict, replaced whole (rename) on
 * every change and every tick. */
int warden__verdict_write(const char *state_dir, const struct warden_verdict *v);
int warden__verdict_read(const char *state_dir, struct warden_verdict *ret);

/* Whether the keeper that wrote a verdict still runs (not a zombie, same
 * start time). */
int warden__verdict_keeper_alive(const struct warden_verdict *v);
