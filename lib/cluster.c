/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* warden-push: tell the local Pacemaker controller that a resource failed,
 * now, instead of waiting for its next monitor. What `crm_resource --fail`
 * does, through the same call (pcmk_controld_api_fail).
 *
 * The one file of warden that includes Pacemaker's headers. It is built as a
 * small executable of its own, run by the keeper when a failure begins, so
 * that neither the agent (exec'd for every monitor) nor the keeper (resident,
 * with a memory budget) ever loads libcrmcommon and its 33 shared objects.
 *
 *   warden-push NODE RESOURCE PROVIDER TYPE [REASON]
 *   warden-push --clear NODE RESOURCE
 *
 * Exit status: 0 pushed; 77 no controller to talk to (no cluster here);
 * 1 the controller refused or failed. --clear: 0 no note is left, 3 it
 * stays (its failure still counts), 1 attrd did not tell.
 *
 * The reason reaches the operator: the controller records a pushed failure
 * as "asyncmon ... Simulated failure" (hard-coded up to Pacemaker 3.0), so
 * warden-push also sets (right after the push) the transient node attribute
 * warden-failure-RESOURCE to "REASON at TIME" (UTC), which `crm_mon -A` and
 * `pcs status --full` show (attrd writes it to the CIB 5 s later: every
 * status write aborts the controller's transition, and in a storm the
 * recovery comes first). `--clear` (run by every new keeper, detached)
 * removes it once the failure has been cleaned up: when the resource has no
 * fail count of pushed failures left on the node.
 *
 * One failure, one count, on Pacemaker before 2.1.6. There the controller
 * counts a simulated failure twice: a failed non-recurring op is recorded as
 * both "RSC_last_failure_0" and "RSC_last_0", both land in one CIB change,
 * and the controller turns each into an attrd "value++" of
 * fail-count-RSC#asyncmon_0 (2.1.6's fix keeps a per-change set of outside
 * events). attrd expands "value++" against the value it has *delivered*
 * (through corosync), so two increments in a row may also fold into one:
 * the result is +2, or +1, racily. No call of the controller's API avoids
 * it (the op's interval is forced to 0; on-fail=ignore applies to graph
 * actions only). So warden-push settles the count with absolute values
 * only, each after a barrier that proves attrd has delivered everything
 * before it:
 *  - barrier: a private attribute (never written to the CIB) set to a new
 *    token; once a query returns the token, every update attrd took before
 *    it has been delivered (corosync delivers one sender's messages in
 *    order; a query answers with delivered values). Then the count read is
 *    the true one: B;
 *  - it sets the count to B-1 (always: Pacemaker does not tell agents the
 *    migration-threshold), then pushes. The two increments then land on
 *    B+1 (or B, folded). Values in between stay at or below B+1, so
 *    migration-threshold is not reached early;
 *  - in a child, detached: it waits until the keeper (its parent) exits.
 *    The keeper is stood down by the recovery's stop, which the scheduler
 *    computed after the controller had handled the CIB change, and the
 *    controller sends both increments, synchronously (attrd acks after it
 *    has expanded and broadcast them), while handling it. Then a second
 *    barrier, and if the count is not B+1, it is set to B+1.
 * The only writers of fail-count-RSC#asyncmon_0 are the controller for our
 * pushes, our own corrections and clean-ups: a clean-up run by hand in the
 * middle of a push is the one case this cannot order. Every step is
 * bounded; a barrier not reached in time (attrd stalled longer than the
 * bound) leaves the count as Pacemaker made it, and says so in the log.
 * attrd is spoken to in process (its API as installed by 2.1.5), one
 * connection per process: an attrd_updater per step cost a storm of
 * failures more CPU than its recovery. */
#include <crm/common/ipc.h>
#include <crm/common/ipc_controld.h>
#include <crm/common/logging.h>
#include <crm/common/results.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define REASON_MAX 200 /* of the attribute's value; Pacemaker keeps 128 of an exit reason */
/* The note is written to the CIB this long after it is set (attrd's
 * dampening): every status change aborts the controller's transition, and
 * in a storm of failures the recovery comes first. */
#define NOTE_DELAY "5s"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int ms_left(uint64_t deadline)
{
    uint64_t now = now_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

/* Pacemaker's standard return codes (pcmk_rc_*, or errno values) to ours. */
static int rc_to_errno(int rc)
{
    if (rc == pcmk_rc_ok) {
        return 0;
    }
    return rc > 0 ? -rc : -EIO;
}

static int push_failure(const char *node, const char *rsc, const char *provider, const char *type)
{
    pcmk_ipc_api_t *api = NULL;
    int r = rc_to_errno(pcmk_new_ipc_api(&api, pcmk_ipc_controld));
    if (r < 0) {
        return r;
    }
    r = rc_to_errno(pcmk_connect_ipc(api, pcmk_ipc_dispatch_sync));
    if (r < 0) {
        pcmk_free_ipc_api(api);
        return -ENOTCONN;
    }
    r = rc_to_errno(pcmk_controld_api_fail(api, node, NULL, rsc, rsc, "ocf", provider, type));
    pcmk_disconnect_ipc(api);
    pcmk_free_ipc_api(api);
    return r;
}

/* ---- attrd, through its public tool ---------------------------------------- */

/* Run attrd_updater with args, its stdout into out, killed at the deadline.
 * Returns its exit status, or -errno (-ETIMEDOUT). */
static int attrd_updater(char *const args[], char *out, size_t size, uint64_t deadline)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        return -errno;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int r = posix_spawnp(&pid, "attrd_updater", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (r != 0) {
        close(pipefd[0]);
        return -r;
    }
    size_t len = 0;
    bool late = false;
    for (;;) {
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        int n = poll(&p, 1, ms_left(deadline));
        if (n == 0) {
            late = true;
            break;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        ssize_t got = read(pipefd[0], out + len, len + 1 < size ? size - len - 1 : 0);
        if (got <= 0) {
            break; /* EOF (it exited) or no room left */
        }
        len += (size_t)got;
    }
    out[len] = '\0';
    close(pipefd[0]);
    if (late) {
        kill(pid, SIGKILL);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (late) {
        return -ETIMEDOUT;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -EIO;
}

/* The node's delivered value of an attribute into value: 0 when it has
 * one, -ENOENT when it has none, -errno when attrd did not answer. */
static int attr_query(const char *node, const char *name, char *value, size_t size,
                      uint64_t deadline)
{
    char out[1024];
    char *args[] = {"attrd_updater", "-Q", "-n", (char *)name, "-N", (char *)node, NULL};
    int r = attrd_updater(args, out, sizeof(out), deadline);
    if (r < 0) {
        return r;
    }
    const char *v = strstr(out, "value=\"");
    if (r != 0 || !v) {
        return -ENOENT;
    }
    v += strlen("value=\"");
    const char *end = strrchr(v, '"');
    size_t n = end ? (size_t)(end - v) : strlen(v);
    if (n == 0) {
        return -ENOENT; /* deleted: the attribute stays known with no value */
    }
    snprintf(value, size, "%.*s", (int)n, v);
    return 0;
}

/* The note (see NOTE_DELAY). */
static int attr_set_note(const char *node, const char *name, const char *value, uint64_t deadline)
{
    char out[256];
    char *args[] = {"attrd_updater", "-U", (char *)value, "-n", (char *)name, "-N",
                    (char *)node,    "-d", NOTE_DELAY,    NULL};
    int r = attrd_updater(args, out, sizeof(out), deadline);
    return r == 0 ? 0 : r < 0 ? r : -EIO;
}

static int attr_delete(const char *node, const char *name, uint64_t deadline)
{
    char out[256];
    char *args[] = {"attrd_updater", "-D", "-n", (char *)name, "-N", (char *)node, NULL};
    int r = attrd_updater(args, out, sizeof(out), deadline);
    return r == 0 ? 0 : r < 0 ? r : -EIO;
}

static long long count_value(const char *text)
{
    if (strncmp(text, "INFINITY", 8) == 0 || strncmp(text, "+INFINITY", 9) == 0) {
        return 1000000; /* Pacemaker's score infinity */
    }
    return strtoll(text, NULL, 10);
}

/* The count of pushed failures, as delivered: 0 when there is none. */
static int count_query(const char *node, const char *name, long long *ret, uint64_t deadline)
{
    char value[64];
    int r = attr_query(node, name, value, sizeof(value), deadline);
    if (r == -ENOENT) {
        *ret = 0;
        return 0;
    }
    if (r == 0) {
        *ret = count_value(value);
    }
    return r;
}

/* ---- the operator's note ----------------------------------------------------- */

/* "REASON at 2026-01-02T03:04:05Z": one line, printable, bounded. */
static void reason_value(const char *reason, char *out, size_t size)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    char clean[REASON_MAX + 1];
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)(reason ? reason : "");
         *c && n < REASON_MAX; c++) {
        clean[n++] = (*c < 0x20 || *c == 0x7f) ? ' ' : (char)*c;
    }
    clean[n] = '\0';
    snprintf(out, size, "%s at %s", n ? clean : "failed", when);
}

static void note_failure(const char *node, const char *rsc, const char *reason, uint64_t deadline)
{
    char name[512], value[REASON_MAX + 64];
    snprintf(name, sizeof(name), "warden-failure-%s", rsc);
    reason_value(reason, value, sizeof(value));
    int r = attr_set_note(node, name, value, deadline);
    if (r < 0) {
        crm_warn("%s: cannot set %s: %s", rsc, name, strerror(-r));
    }
}

/* --clear: the note goes once the pushed failures are cleaned up. Exit
 * status 0: no note is left; 3: it stays (its failure still counts); 1:
 * attrd did not tell. */
static int clear_note(const char *node, const char *rsc)
{
    uint64_t deadline = now_ms() + 10000;
    char name[512], count[512], value[512];
    snprintf(name, sizeof(name), "warden-failure-%s", rsc);
    snprintf(count, sizeof(count), "fail-count-%s#asyncmon_0", rsc);
    int r = attr_query(node, name, value, sizeof(value), deadline);
    if (r < 0) {
        return r == -ENOENT ? 0 : 1;
    }
    long long n = 0;
    if (count_query(node, count, &n, deadline) < 0) {
        return 1;
    }
    if (n > 0) {
        return 3;
    }
    r = attr_delete(node, name, deadline);
    if (r < 0) {
        crm_warn("%s: cannot clear %s: %s", rsc, name, strerror(-r));
        return 1;
    }
    crm_info("%s: cleared %s (failures cleaned up)", rsc, name);
    return 0;
}

/* ---- one count per failure before 2.1.6 (see the top of the file) --------- */

#if WARDEN_PCMK_DOUBLE_COUNTS
/* Here attrd is spoken to in this process, over one connection: in a storm
 * of failures a dozen attrd_updater processes per push cost more CPU than
 * the recovery itself. Its API (installed, though named internal) as in
 * 2.1.5, the only version compiled with this; the option bits are 2.1.5's
 * pcmk__node_attr_value and pcmk__node_attr_private. */
#include <crm/common/ipc_attrd_internal.h>

#define ATTR_VALUE   (1U << 3)
#define ATTR_PRIVATE (1U << 1)
#define ATTR_DELAY   (1U << 4)

#define BARRIER_MS   5000  /* attrd stalled longer than this: leave the count */
#define STOP_WAIT_MS 60000 /* the recovery's stop of the keeper */

struct attrd {
    pcmk_ipc_api_t *api;
    /* the reply to the last query */
    bool answered;
    int rc;
    char value[256];
};

static void on_attrd_reply(pcmk_ipc_api_t *api, enum pcmk_ipc_event type, crm_exit_t status,
                           void *event_data, void *user_data)
{
    struct attrd *a = user_data;
    if (type != pcmk_ipc_event_reply) {
        return;
    }
    a->answered = true;
    a->rc = -ENOENT;
    pcmk__attrd_api_reply_t *reply = event_data;
    if (status != CRM_EX_OK || !reply || reply->reply_type != pcmk__attrd_reply_query ||
        !reply->data.pairs) {
        return;
    }
    const pcmk__attrd_query_pair_t *pair = reply->data.pairs->data;
    if (pair && pair->value && pair->value[0]) {
        snprintf(a->value, sizeof(a->value), "%s", pair->value);
        a->rc = 0;
    }
}

static int attrd_open(struct attrd *a)
{
    *a = (struct attrd){0};
    int r = rc_to_errno(pcmk_new_ipc_api(&a->api, pcmk_ipc_attrd));
    if (r < 0) {
        return r;
    }
    pcmk_register_ipc_callback(a->api, on_attrd_reply, a);
    r = rc_to_errno(pcmk_connect_ipc(a->api, pcmk_ipc_dispatch_sync));
    if (r < 0) {
        pcmk_free_ipc_api(a->api);
        a->api = NULL;
    }
    return r;
}

static void attrd_close(struct attrd *a)
{
    if (a->api) {
        pcmk_disconnect_ipc(a->api);
        pcmk_free_ipc_api(a->api);
        a->api = NULL;
    }
}

/* The delivered value: 0, -ENOENT when none; each request is bounded by
 * libcrmcommon's IPC timeout (5 s). */
static int a_query(struct attrd *a, const char *node, const char *name, char *value, size_t size)
{
    a->answered = false;
    int r = rc_to_errno(pcmk__attrd_api_query(a->api, node, name, 0));
    if (r < 0) {
        return r;
    }
    if (!a->answered) {
        return -EIO;
    }
    if (a->rc == 0) {
        size_t n = strnlen(a->value, size - 1);
        memcpy(value, a->value, n);
        value[n] = '\0';
    }
    return a->rc;
}

static int a_set(struct attrd *a, const char *node, const char *name, const char *value,
                 bool private)
{
    return rc_to_errno(pcmk__attrd_api_update(a->api, node, name, value, NULL, NULL, NULL,
                                              ATTR_VALUE | (private ? ATTR_PRIVATE : 0)));
}

/* Set with a write delay (dampening), as for the note. */
static int a_set_delayed(struct attrd *a, const char *node, const char *name, const char *value,
                         const char *delay)
{
    return rc_to_errno(pcmk__attrd_api_update(a->api, node, name, value, delay, NULL, NULL,
                                              ATTR_VALUE | ATTR_DELAY));
}

/* Every update attrd took before this call has been delivered once this
 * returns 0: set a private attribute to a new token and wait until a query
 * returns it. attrd has no event to wait on: it is asked again after 5, 10,
 * 20... ms (one query answers at once when attrd is not stalled). */
static int a_barrier(struct attrd *a, const char *node, const char *rsc, uint64_t deadline)
{
    char name[512], token[64], seen[128];
    snprintf(name, sizeof(name), "warden-push-%s", rsc);
    snprintf(token, sizeof(token), "%d.%llu", (int)getpid(), (unsigned long long)now_ms());
    int r = a_set(a, node, name, token, true);
    if (r < 0) {
        return r;
    }
    for (long wait = 5;; wait = wait < 320 ? wait * 2 : wait) {
        if (a_query(a, node, name, seen, sizeof(seen)) == 0 && strcmp(seen, token) == 0) {
            return 0;
        }
        if ((uint64_t)ms_left(deadline) <= (uint64_t)wait) {
            return -ETIMEDOUT;
        }
        struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int a_count(struct attrd *a, const char *node, const char *name, long long *ret)
{
    char value[64];
    int r = a_query(a, node, name, value, sizeof(value));
    if (r == -ENOENT) {
        *ret = 0;
        return 0;
    }
    if (r == 0) {
        *ret = count_value(value);
    }
    return r;
}

static int a_count_set(struct attrd *a, const char *node, const char *name, long long value)
{
    char text[32];
    snprintf(text, sizeof(text), "%lld", value);
    return a_set(a, node, name, text, false);
}

/* The child's half: after the controller's increments, set the count to
 * want. keeper_fd: a pidfd of the keeper. */
static void settle(const char *node, const char *rsc, const char *name, long long want,
                   int keeper_fd)
{
    struct pollfd p = {.fd = keeper_fd, .events = POLLIN};
    int n = keeper_fd >= 0 ? poll(&p, 1, STOP_WAIT_MS) : 0;
    if (keeper_fd < 0) {
        crm_notice("%s: no keeper to wait on (it is gone): settling the count now", rsc);
    } else if (n <= 0) {
        crm_notice("%s: keeper still runs after %d s (no recovery?): settling the count now", rsc,
                   STOP_WAIT_MS / 1000);
    }
    struct attrd a;
    uint64_t deadline = now_ms() + BARRIER_MS;
    int r = attrd_open(&a);
    long long now = 0;
    if (r == 0) {
        r = a_barrier(&a, node, rsc, deadline);
    }
    if (r == 0) {
        r = a_count(&a, node, name, &now);
    }
    if (r < 0) {
        crm_warn("%s: attrd did not settle in %d ms (%s): %s left as Pacemaker made it, it may "
                 "be off by one",
                 rsc, BARRIER_MS, strerror(-r), name);
        attrd_close(&a);
        return;
    }
    if (now == want) {
        crm_info("%s: %s is %lld: one count", rsc, name, now);
    } else {
        r = a_count_set(&a, node, name, want);
        crm_notice("%s: %s was %lld after the push (Pacemaker 2.1.5 counts it %s): set to "
                   "%lld%s",
                   rsc, name, now, now > want ? "twice" : "folded", want, r < 0 ? " FAILED" : "");
    }
    attrd_close(&a);
}

/* The keeper that runs us, to wait on: its pidfd as fd 4 (a keeper that
 * is stood down at once leaves us to PID 1, so our parent is no proof).
 * From a keeper of before 0.2 that passes none: the parent, unless it is
 * gone already. */
static int keeper_pidfd(void)
{
    char link[64];
    ssize_t n = readlink("/proc/self/fd/4", link, sizeof(link) - 1);
    if (n > 0) {
        link[n] = '\0';
        if (strcmp(link, "anon_inode:[pidfd]") == 0) {
            return 4;
        }
    }
    pid_t parent = getppid();
    return parent > 1 ? pidfd_open(parent, 0) : -1;
}

static int push_counted_once(const char *node, const char *rsc, const char *provider,
                             const char *type, const char *reason)
{
    char name[512];
    snprintf(name, sizeof(name), "fail-count-%s#asyncmon_0", rsc);
    int keeper_fd = keeper_pidfd();
    uint64_t deadline = now_ms() + BARRIER_MS;
    long long before = 0;
    struct attrd a;
    int r = attrd_open(&a);
    if (r == 0) {
        r = a_barrier(&a, node, rsc, deadline);
    }
    if (r == 0) {
        r = a_count(&a, node, name, &before);
    }
    if (r < 0) {
        /* Without a true count nothing can be set: push as Pacemaker
         * does (one failure may count 2). */
        crm_warn("%s: attrd did not settle in %d ms (%s): pushing without the 2.1.5 count "
                 "correction",
                 rsc, BARRIER_MS, strerror(-r));
        attrd_close(&a);
        if (keeper_fd >= 0) {
            close(keeper_fd);
        }
        r = push_failure(node, rsc, provider, type);
        if (r == 0) {
            note_failure(node, rsc, reason, now_ms() + 5000);
        }
        return r;
    }
    /* Below the right value until the increments land: a transient B+2
     * must not reach migration-threshold (which Pacemaker does not tell
     * agents: measured, it is not in their environment). */
    bool lowered = a_count_set(&a, node, name, before - 1) == 0;
    crm_info("%s: %s is %lld: lowered by one until the push lands", rsc, name, before);
    r = push_failure(node, rsc, provider, type);
    if (r < 0) {
        if (lowered) {
            a_count_set(&a, node, name, before);
        }
        attrd_close(&a);
        return r;
    }
    /* The operator's note, on the same connection (see note_failure). */
    char note[512], value[REASON_MAX + 64];
    snprintf(note, sizeof(note), "warden-failure-%s", rsc);
    reason_value(reason, value, sizeof(value));
    if (a_set_delayed(&a, node, note, value, NOTE_DELAY) < 0) {
        crm_warn("%s: cannot set %s", rsc, note);
    }
    attrd_close(&a); /* the child makes its own connection */
    /* The rest waits for the recovery: in a child, so that the keeper
     * learns at once that the controller has the failure. */
    pid_t pid = fork();
    if (pid == 0) {
        settle(node, rsc, name, before + 1, keeper_fd);
        _exit(0);
    }
    if (pid < 0) {
        crm_warn("%s: cannot fork to settle the count: %s", rsc, strerror(errno));
    }
    if (keeper_fd >= 0) {
        close(keeper_fd);
    }
    return 0;
}
#endif

int main(int argc, char **argv)
{
    crm_log_init("warden-push", LOG_INFO, FALSE, FALSE, 0, NULL, TRUE);
    if (argc == 4 && strcmp(argv[1], "--clear") == 0) {
        return clear_note(argv[2], argv[3]);
    }
    if (argc < 5) {
        fprintf(stderr,
                "usage: %s NODE RESOURCE PROVIDER TYPE [REASON]\n"
                "       %s --clear NODE RESOURCE\n",
                argv[0], argv[0]);
        return 2;
    }
    const char *node = argv[1], *rsc = argv[2];
    const char *reason = argc > 5 ? argv[5] : NULL;
#if WARDEN_PCMK_DOUBLE_COUNTS
    int r = push_counted_once(node, rsc, argv[3], argv[4], reason);
#else
    int r = push_failure(node, rsc, argv[3], argv[4]);
    if (r == 0) {
        /* After the push, which it must not delay: the operator reads it
         * after the fact. */
        note_failure(node, rsc, reason, now_ms() + 5000);
    }
#endif
    if (r == -ENOTCONN) {
        fprintf(stderr, "warden-push: no Pacemaker controller to talk to\n");
        return 77;
    }
    if (r < 0) {
        crm_err("%s on %s: %s", rsc, node, strerror(-r));
        fprintf(stderr, "warden-push: %s on %s: %s\n", rsc, node, strerror(-r));
        return 1;
    }
    crm_info("pushed the failure of %s on %s", rsc, node);
    return 0;
}
