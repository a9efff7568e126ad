/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verdicts: the answer, the published file, the keeper's liveness. Linked
 * into the agent's front too, so: libc only. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>

#include "util-int.h"
#include "verdict-int.h"
#include "warden/probe.h"

#define VERDICT_MAGIC 0x77617264u /* "ward" */

struct verdict_file {
    uint32_t magic;
    uint32_t size; /* sizeof(struct verdict_file): a different build reads nothing */
    struct warden_verdict verdict;
};

int warden__verdict_answer(const struct warden_verdict *v, warden_usec_t now, char **ret_reason)
{
    warden_usec_t limit = v->check_interval_usec + v->check_timeout_usec + WARDEN_VERDICT_MARGIN;
    if (now > v->at_usec && now - v->at_usec > limit) {
        char age[32];
        *ret_reason = warden__strdup_printf("health monitor stalled: newest verdict is %s old",
                                            warden_time_format(now - v->at_usec, age, sizeof(age)));
        return -ETIMEDOUT;
    }
    switch (v->health) {
    case WARDEN_HEALTH_RUNNING:
        return 0;
    case WARDEN_HEALTH_DEGRADED:
        *ret_reason = strdup(v->reason);
        return WARDEN_PROBE_DEGRADED;
    case WARDEN_HEALTH_STOPPED:
        *ret_reason = strdup(v->reason);
        return -ESRCH;
    default:
        *ret_reason = strdup(v->reason);
        return -EIO;
    }
}

int warden__verdict_write(const char *state_dir, const struct warden_verdict *v)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof(tmp), "%s/verdict.tmp", state_dir);
    snprintf(path, sizeof(path), "%s/verdict", state_dir);
    struct verdict_file f = {.magic = VERDICT_MAGIC, .size = sizeof(f), .verdict = *v};
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return negative_errno();
    }
    if (write(fd, &f, sizeof(f)) != (ssize_t)sizeof(f)) {
        return -EIO;
    }
    return RET_NERRNO(rename(tmp, path));
}

/* The file of a 0.1 keeper: the header and the verdict up to its reason. */
#define VERDICT_FILE_SIZE_0_1 (offsetof(struct verdict_file, verdict) + WARDEN_VERDICT_SIZE_0_1)
_Static_assert(WARDEN_VERDICT_SIZE_0_1 == 328, "the 0.1 verdict's layout is fixed");

int warden__verdict_read(const char *state_dir, struct warden_verdict *ret)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/verdict", state_dir);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return negative_errno();
    }
    /* One byte more than ours: a longer file (a newer keeper's) is seen. */
    union {
        struct verdict_file f;
        char bytes[sizeof(struct verdict_file) + 1];
    } u = {0};
    ssize_t n = read(fd, &u, sizeof(u));
    if (n < (ssize_t)VERDICT_FILE_SIZE_0_1 || u.f.magic != VERDICT_MAGIC || u.f.size != (size_t)n ||
        (u.f.size != sizeof(u.f) && u.f.size != VERDICT_FILE_SIZE_0_1)) {
        return -EBADMSG;
    }
    u.f.verdict.reason[sizeof(u.f.verdict.reason) - 1] = '\0';
    u.f.verdict.last_failure_reason[sizeof(u.f.verdict.last_failure_reason) - 1] = '\0';
    *ret = u.f.verdict;
    return 0;
}

/* ---- the history --------------------------------------------------------- */

#define HISTORY_MAGIC   0x77686973u /* "whis" */
#define HISTORY_VERSION 1

struct history_file {
    uint32_t magic;
    uint32_t version;
    uint32_t size; /* sizeof(struct history_file) */
    uint32_t record_size;
    struct warden_history history;
};

int warden__history_write(const char *state_dir, const struct warden_history *h)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof(tmp), "%s/history.tmp", state_dir);
    snprintf(path, sizeof(path), "%s/history", state_dir);
    /* Static: 18 KiB is a lot for the stack of a keeper's loop. */
    static struct history_file f;
    f = (struct history_file){.magic = HISTORY_MAGIC,
                              .version = HISTORY_VERSION,
                              .size = sizeof(f),
                              .record_size = sizeof(struct warden_check_record),
                              .history = *h};
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return negative_errno();
    }
    if (write(fd, &f, sizeof(f)) != (ssize_t)sizeof(f)) {
        return -EIO;
    }
    return RET_NERRNO(rename(tmp, path));
}

static void terminate(char *text, size_t size)
{
    text[size - 1] = '\0';
}

int warden__history_read(const char *state_dir, struct warden_history *ret)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/history", state_dir);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return negative_errno();
    }
    struct history_file *f = calloc(1, sizeof(*f) + 1);
    if (!f) {
        return -ENOMEM;
    }
    ssize_t n = read(fd, f, sizeof(*f) + 1);
    int r = 0;
    if (n != (ssize_t)sizeof(*f) || f->magic != HISTORY_MAGIC || f->version != HISTORY_VERSION ||
        f->size != sizeof(*f) || f->record_size != sizeof(struct warden_check_record) ||
        f->history.count > WARDEN_HISTORY_MAX) {
        r = -EBADMSG;
    } else {
        struct warden_history *h = &f->history;
        terminate(h->resource, sizeof(h->resource));
        terminate(h->agent, sizeof(h->agent));
        terminate(h->agent_path, sizeof(h->agent_path));
        terminate(h->check, sizeof(h->check));
        terminate(h->dump_dir, sizeof(h->dump_dir));
        for (size_t i = 0; i < h->count; i++) {
            terminate(h->records[i].reason, sizeof(h->records[i].reason));
        }
        *ret = *h;
    }
    free(f);
    return r;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t warden__latency_percentile(const uint64_t *values, size_t n, unsigned pct)
{
    uint64_t sorted[WARDEN_HISTORY_MAX];
    if (n == 0) {
        return 0;
    }
    n = n > WARDEN_HISTORY_MAX ? WARDEN_HISTORY_MAX : n;
    memcpy(sorted, values, n * sizeof(*values));
    qsort(sorted, n, sizeof(*sorted), cmp_u64);
    if (pct == 50) {
        return n % 2 ? sorted[n / 2]
                     : sorted[n / 2 - 1] / 2 + sorted[n / 2] / 2 +
                           (sorted[n / 2 - 1] % 2 + sorted[n / 2] % 2) / 2;
    }
    /* Nearest rank: the smallest value with at least pct% at or below it. */
    size_t rank = ((size_t)pct * n + 99) / 100;
    return sorted[rank > 0 ? rank - 1 : 0];
}

int warden__verdict_keeper_alive(const struct warden_verdict *v)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)v->keeper_pid);
    _cleanup_close_ int fd = v->keeper_pid > 1 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
        return -ESRCH;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0) {
        return -ESRCH;
    }
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    char state = 0;
    unsigned long long start = 0;
    if (!p || sscanf(p + 2,
                     "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                     "%*s %*s %*s %llu",
                     &state, &start) != 2) {
        return -EIO;
    }
    return state != 'Z' && start == v->keeper_start ? 0 : -ESRCH;
}

warden_usec_t warden__verdict_await_deadline(const char *timeout_ms)
{
    warden_usec_t timeout =
        timeout_ms ? (warden_usec_t)strtoull(timeout_ms, NULL, 10) * WARDEN_USEC_PER_MSEC : 0;
    warden_usec_t margin = timeout / 10 > WARDEN_USEC_PER_SEC ? timeout / 10 : WARDEN_USEC_PER_SEC;
    return timeout > margin ? warden_deadline_in(timeout - margin) : 0;
}

/* The same failure, still being pushed by the same keeper. */
static bool same_push(const struct warden_verdict *a, const struct warden_verdict *b)
{
    return a->keeper_pid == b->keeper_pid && a->keeper_start == b->keeper_start &&
           a->pushes == b->pushes && warden__verdict_pushing(b);
}

int warden__verdict_await(const char *state_dir, struct warden_verdict *v, warden_usec_t deadline)
{
    if (!warden__verdict_pushing(v) || deadline == 0) {
        return 1;
    }
    /* Watch first, then read again: a change between the caller's read and
     * the watch is not missed. The keeper replaces the file by rename and
     * removes it when it stands down. */
    _cleanup_close_ int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd < 0 || inotify_add_watch(ifd, state_dir,
                                     IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
        return negative_errno();
    }
    /* A keeper killed outright leaves its verdict behind: its exit ends the
     * wait too. */
    _cleanup_close_ int pfd = v->keeper_pid > 1 ? pidfd_open(v->keeper_pid, 0) : -EBADF;
    if (pfd >= 0 && warden__verdict_keeper_alive(v) < 0) {
        return 0;
    }
    for (;;) {
        struct warden_verdict now;
        if (warden__verdict_read(state_dir, &now) < 0) {
            return 0; /* stood down: answer the failure we read */
        }
        if (!same_push(v, &now)) {
            /* Over, or the push failed: answer from what the keeper says
             * now (a new keeper's verdict is as good). */
            *v = now;
            return 0;
        }
        *v = now;
        struct pollfd p[2] = {{.fd = ifd, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
        int n = poll(p, pfd >= 0 ? 2 : 1, warden__poll_timeout_ms(deadline));
        if (n == 0) {
            return -ETIMEDOUT;
        }
        if (n < 0 && errno != EINTR) {
            return negative_errno();
        }
        if (p[1].revents) {
            return 0;
        }
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(ifd, buf, sizeof(buf)) > 0) {
        }
    }
}
