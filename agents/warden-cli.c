/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* warden(8): the operator's view of the warden instances on this node.
 *
 *   warden [--json] status [RESOURCE]   what runs, how healthy, how slow
 *   warden [--json] check RESOURCE      the probe now, step by step
 *   warden [--json] dumps [RESOURCE]    the dumps, newest first
 *
 * Fast, as the agents' front is: it links only libc and the library's
 * libc-only modules (lib/front.c's set) and reads what the keepers publish
 * in their state directories (verdict and history, lib/verdict-int.h), the
 * service's record (service) and the dump directories. `check` runs the
 * instance's own agent binary in its internal check action, with the
 * parameters its keeper runs with, so that the probe is the one the keeper
 * runs (an `exec:` check as the service's user, an agent's own probe). It
 * never loads Pacemaker's libraries.
 *
 * Exit codes: 0 done (check: the check passed, degraded included); 1 an
 * error, or the check failed; 2 usage; 3 no such resource on this node. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "instance-int.h"
#include "trace-int.h"
#include "util-int.h"
#include "verdict-int.h"
#include "warden/probe.h"
#include "warden/version.h"

#ifndef WARDEN_STATE_DIR_DEFAULT
#define WARDEN_STATE_DIR_DEFAULT "/run/warden"
#endif
#define DUMP_DIR_DEFAULT "/var/lib/warden/dumps"

enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_NO_RESOURCE = 3,
};

/* The most instances and dumps listed: a node runs tens, not thousands. */
#define INSTANCES_MAX 4096
#define DUMPS_MAX     1024
/* How many checks `status RESOURCE` shows as text (JSON: all kept). */
#define HISTORY_SHOWN 20

static bool json;

static const char *state_root(void)
{
    const char *env = getenv("WARDEN_STATE_DIR");
    return !isempty(env) ? env : WARDEN_STATE_DIR_DEFAULT;
}

/* ---- output --------------------------------------------------------------- */

/* The length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xc2)) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    /* Overlong forms, surrogates, past U+10FFFF. */
    if ((len == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (len == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (len == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
        (len == 4 && (s[0] > 0xf4 || (s[0] == 0xf4 && s[1] >= 0x90)))) {
        return 0;
    }
    return len;
}

/* A JSON string: quotes, backslashes and control characters escaped, bytes
 * that are not UTF-8 as U+FFFD (a reason holds what a server sent). NULL is
 * null. */
static void json_string(const char *text)
{
    if (!text) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);
    while (n > 0) {
        if (*s == '"' || *s == '\\') {
            printf("\\%c", *s);
        } else if (*s == '\n') {
            fputs("\\n", stdout);
        } else if (*s == '\t') {
            fputs("\\t", stdout);
        } else if (*s < 0x20 || *s == 0x7f) {
            printf("\\u%04x", *s);
        } else {
            size_t len = utf8_len(s, n);
            if (len == 0) {
                fputs("\\ufffd", stdout);
                len = 1;
            } else {
                fwrite(s, 1, len, stdout);
            }
            s += len;
            n -= len;
            continue;
        }
        s++;
        n--;
    }
    putchar('"');
}

/* Text for people: bytes outside printable ASCII as '?'. */
static const char *printable(const char *text, char *buf, size_t size)
{
    size_t i = 0;
    for (; text && text[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[i] = '\0';
    return buf;
}

/* usec as "0.3 ms", "1.25 s", "3 min". */
static const char *duration(uint64_t usec, char *buf, size_t size)
{
    if (usec < WARDEN_USEC_PER_SEC) {
        snprintf(buf, size, "%.1f ms", (double)usec / 1000.0);
    } else if (usec < 120 * WARDEN_USEC_PER_SEC) {
        snprintf(buf, size, "%.2f s", (double)usec / 1e6);
    } else if (usec < 2 * 3600 * WARDEN_USEC_PER_SEC) {
        snprintf(buf, size, "%llu min", (unsigned long long)(usec / (60 * WARDEN_USEC_PER_SEC)));
    } else {
        snprintf(buf, size, "%llu h", (unsigned long long)(usec / (3600 * WARDEN_USEC_PER_SEC)));
    }
    return buf;
}

/* A CLOCK_REALTIME usec as ISO 8601 UTC with milliseconds; NULL for 0. */
static const char *utc(uint64_t usec, char *buf, size_t size)
{
    if (usec == 0) {
        return NULL;
    }
    time_t t = (time_t)(usec / WARDEN_USEC_PER_SEC);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03lluZ", (unsigned long long)(usec / 1000 % 1000));
    return buf;
}

static void json_ms(uint64_t usec, bool known)
{
    if (known) {
        printf("%.3f", (double)usec / 1000.0);
    } else {
        fputs("null", stdout);
    }
}

/* What a check's result is called. */
static const char *result_name(int32_t result)
{
    switch (result) {
    case 0:
        return "ok";
    case WARDEN_PROBE_DEGRADED:
        return "degraded";
    case -ETIMEDOUT:
        return "hung";
    case -ESRCH:
        return "gone";
    case -WARDEN_PROBE_ERESOLVE:
        return "unresolved";
    default:
        return "failed";
    }
}

/* ---- what a state directory says ------------------------------------------ */

struct instance {
    char dir_name[NAME_MAX + 1];
    char dir[PATH_MAX];
    char resource[256];
    char agent[128];
    const char *state;
    pid_t main_pid; /* 0: none recorded */
    bool main_alive;
    bool has_verdict, keeper_alive, has_history;
    bool verdict_foreign; /* a verdict file this warden does not read (size, magic) */
    struct warden_verdict verdict;
    struct warden_history *history; /* NULL without one */
    uint64_t verdict_age;           /* usec */
    char newest_dump[PATH_MAX];
};

/* "main PID START" in the service's record. */
static void read_service(struct instance *in, bool *ret_recorded)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/service", in->dir);
    _cleanup_free_ char *text = NULL;
    *ret_recorded = warden__read_file(path, 8192, &text) >= 0;
    if (!*ret_recorded) {
        return;
    }
    const char *line = strstr(text, "main ");
    int pid = 0;
    unsigned long long start = 0;
    if (line && sscanf(line, "main %d %llu", &pid, &start) == 2 && pid > 0) {
        in->main_pid = pid;
        /* Alive with the recorded start time: the same check as a keeper's. */
        struct warden_verdict probe = {.keeper_pid = pid, .keeper_start = start};
        in->main_alive = warden__verdict_keeper_alive(&probe) == 0;
    }
}

static bool file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/* The state, from the verdict when its keeper lives, else from the record:
 * running, degraded, failed, hung, stopped, starting, keeper gone, keeper
 * stuck. */
static const char *instance_state(const struct instance *in, bool recorded)
{
    if (!recorded) {
        return "stopped";
    }
    if (in->has_verdict && in->keeper_alive) {
        char *reason = NULL;
        int r = warden__verdict_answer(&in->verdict, warden_now(), &reason);
        free(reason);
        if (r == -ETIMEDOUT) {
            return "keeper stuck";
        }
        switch (in->verdict.health) {
        case WARDEN_HEALTH_RUNNING:
            return "running";
        case WARDEN_HEALTH_DEGRADED:
            return "degraded";
        case WARDEN_HEALTH_STOPPED:
            return "stopped";
        default:
            return startswith(in->verdict.reason, "hung") ||
                           strstr(in->verdict.reason, "; hung:") ||
                           startswith(in->verdict.reason, "check still hung")
                       ? "hung"
                       : "failed";
        }
    }
    if (!in->main_alive) {
        return "stopped";
    }
    /* The service runs without a live keeper: one that left its record
     * (killed) is gone; without any, start has not launched one yet. */
    return in->has_verdict || file_exists(in->dir, "keeper") ? "keeper gone" : "starting";
}

static void instance_free(struct instance *in)
{
    free(in->history);
    in->history = NULL;
}

static void newest_dump_of(struct instance *in);

/* Read what the state directory <root>/<name> says. -ENOENT when it is not
 * an instance's (not a directory of ours). */
static int instance_load(const char *name, struct instance *in)
{
    *in = (struct instance){0};
    snprintf(in->dir_name, sizeof(in->dir_name), "%s", name);
    snprintf(in->dir, sizeof(in->dir), "%s/%s", state_root(), name);
    struct stat st;
    if (name[0] == '.' || lstat(in->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        return -ENOENT;
    }
    bool recorded = false;
    read_service(in, &recorded);
    in->history = calloc(1, sizeof(*in->history));
    if (!in->history) {
        return -ENOMEM;
    }
    in->has_history = warden__history_read(in->dir, in->history) == 0;
    if (!in->has_history) {
        free(in->history);
        in->history = NULL;
    }
    int vr = warden__verdict_read(in->dir, &in->verdict);
    in->has_verdict = vr == 0;
    in->verdict_foreign = vr == -EBADMSG;
    in->keeper_alive = in->has_verdict && warden__verdict_keeper_alive(&in->verdict) == 0;
    warden_usec_t now = warden_now();
    in->verdict_age = in->has_verdict && now > in->verdict.at_usec ? now - in->verdict.at_usec : 0;
    /* The directory's name may be a hash of the resource's: the history
     * names it. */
    snprintf(in->resource, sizeof(in->resource), "%s",
             in->has_history && in->history->resource[0] ? in->history->resource : name);
    snprintf(in->agent, sizeof(in->agent), "%s", in->has_history ? in->history->agent : "");
    in->state = instance_state(in, recorded);
    newest_dump_of(in);
    return 0;
}

/* ---- dumps ---------------------------------------------------------------- */

struct dump {
    char path[PATH_MAX];
    char stem[NAME_MAX + 1]; /* the instance's file name */
    char reason[64];
    char stamp[32]; /* 20261122T154910.552Z */
    uint64_t size;
};

/* "<stem>-<YYYYmmddTHHMMSS.mmmZ>-<reason>.stacks" or ".core.<PID>" (dump.c). */
static bool parse_dump_name(const char *name, struct dump *d)
{
    static const char form[] = "ddddddddTdddddd.dddZ";
    const size_t stamp_len = sizeof(form) - 1;
    const char *suffix = strstr(name, ".stacks");
    if (!suffix || suffix[strlen(".stacks")] != '\0') {
        suffix = strstr(name, ".core.");
    }
    if (!suffix) {
        return false;
    }
    /* The reason is the last '-' field before the suffix; the stamp before
     * it; the stem before that. */
    const char *dash = suffix;
    while (dash > name && dash[-1] != '-') {
        dash--;
    }
    if (dash == name || (size_t)(dash - name) < stamp_len + 2) {
        return false;
    }
    const char *stamp = dash - 1 - stamp_len;
    for (size_t i = 0; i < stamp_len; i++) {
        bool ok = form[i] == 'd' ? (stamp[i] >= '0' && stamp[i] <= '9') : stamp[i] == form[i];
        if (!ok) {
            return false;
        }
    }
    if (stamp == name || stamp[-1] != '-') {
        return false;
    }
    snprintf(d->stem, sizeof(d->stem), "%.*s", (int)(stamp - 1 - name), name);
    snprintf(d->stamp, sizeof(d->stamp), "%.*s", (int)stamp_len, stamp);
    snprintf(d->reason, sizeof(d->reason), "%.*s", (int)(suffix - dash), dash);
    return d->stem[0] != '\0';
}

/* Add the dumps of dir (of stem, or all when NULL) to list. */
static void dumps_in(const char *dir, const char *stem, struct dump *list, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) && *n < DUMPS_MAX) {
        struct dump x = {0};
        if (!parse_dump_name(de->d_name, &x) || (stem && !streq(x.stem, stem))) {
            continue;
        }
        snprintf(x.path, sizeof(x.path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        x.size = (uint64_t)st.st_size;
        bool seen = false;
        for (size_t i = 0; i < *n && !seen; i++) {
            seen = streq(list[i].path, x.path);
        }
        if (!seen) {
            list[(*n)++] = x;
        }
    }
    closedir(d);
}

static int newest_first(const void *a, const void *b)
{
    const struct dump *x = a, *y = b;
    int c = strcmp(y->stamp, x->stamp);
    return c ? c : strcmp(x->path, y->path);
}

/* The dump directories: the default, and each instance's dump_dir. */
static size_t collect_dumps(const char *stem, struct dump *list)
{
    size_t n = 0;
    dumps_in(DUMP_DIR_DEFAULT, stem, list, &n);
    DIR *d = opendir(state_root());
    struct dirent *de;
    static struct warden_history h;
    while (d && (de = readdir(d))) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/%s", state_root(), de->d_name);
        if (de->d_name[0] != '.' && warden__history_read(dir, &h) == 0 && h.dump_dir[0] == '/') {
            dumps_in(h.dump_dir, stem, list, &n);
        }
    }
    if (d) {
        closedir(d);
    }
    qsort(list, n, sizeof(*list), newest_first);
    return n;
}

/* The newest dump of one instance, without listing them all. */
static void newest_in(const char *dir, const char *stem, struct dump *best)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        struct dump x = {0};
        struct stat st;
        if (parse_dump_name(de->d_name, &x) && streq(x.stem, stem) &&
            strcmp(x.stamp, best->stamp) > 0 &&
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
            snprintf(best->stamp, sizeof(best->stamp), "%s", x.stamp);
            snprintf(best->path, sizeof(best->path), "%s/%s", dir, de->d_name);
        }
    }
    if (d) {
        closedir(d);
    }
}

static void newest_dump_of(struct instance *in)
{
    struct dump best = {0};
    newest_in(DUMP_DIR_DEFAULT, in->dir_name, &best);
    if (in->has_history && in->history->dump_dir[0] == '/') {
        newest_in(in->history->dump_dir, in->dir_name, &best);
    }
    snprintf(in->newest_dump, sizeof(in->newest_dump), "%s", best.path);
}

/* ---- finding instances ----------------------------------------------------- */

static int by_resource(const void *a, const void *b)
{
    return strcmp(((const struct instance *)a)->resource, ((const struct instance *)b)->resource);
}

/* Every instance on this node, sorted by resource. */
static int load_all(struct instance **ret, size_t *ret_n)
{
    DIR *d = opendir(state_root());
    if (!d) {
        *ret = NULL;
        *ret_n = 0;
        return errno == ENOENT ? 0 : negative_errno();
    }
    struct instance *list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d)) && n < INSTANCES_MAX) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct instance *grown = realloc(list, cap * sizeof(*list));
            if (!grown) {
                r = -ENOMEM;
                break;
            }
            list = grown;
        }
        if (instance_load(de->d_name, &list[n]) == 0) {
            n++;
        }
    }
    closedir(d);
    if (r < 0) {
        for (size_t i = 0; i < n; i++) {
            instance_free(&list[i]);
        }
        free(list);
        return r;
    }
    if (n > 1) {
        qsort(list, n, sizeof(*list), by_resource);
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

/* The instance of a resource: its state directory is the name's file name
 * (instance-int.h), which the history confirms when there is one. */
static int load_one(const char *resource, struct instance *ret)
{
    char name[WARDEN_INSTANCE_FILE_SIZE];
    if (warden__instance_file_name(resource, name) < 0 || instance_load(name, ret) < 0) {
        return -ENOENT;
    }
    if (ret->has_history && ret->history->resource[0] && !streq(ret->history->resource, resource)) {
        instance_free(ret);
        return -ENOENT;
    }
    return 0;
}

static int no_such_resource(const char *resource)
{
    char shown[256];
    fprintf(stderr, "warden: no warden instance '%s' on this node (state directories: %s)\n",
            printable(resource, shown, sizeof(shown)), state_root());
    return EXIT_NO_RESOURCE;
}

/* ---- status ---------------------------------------------------------------- */

static void status_json(const struct instance *in, bool with_history)
{
    char t[64];
    const struct warden_verdict *v = &in->verdict;
    bool checked = in->has_verdict && v->last_check_at != 0;
    fputs("{\"resource\":", stdout);
    json_string(in->resource);
    fputs(",\"agent\":", stdout);
    json_string(in->agent[0] ? in->agent : NULL);
    fputs(",\"state\":", stdout);
    json_string(in->state);
    printf(",\"main_pid\":");
    in->main_pid > 0 ? printf("%d", (int)in->main_pid) : fputs("null", stdout);
    printf(",\"keeper_pid\":");
    in->keeper_alive ? printf("%d", (int)v->keeper_pid) : fputs("null", stdout);
    fputs(",\"check\":", stdout);
    json_string(in->has_history ? in->history->check : NULL);
    fputs(",\"last_result\":", stdout);
    json_string(checked ? result_name(v->last_result) : NULL);
    fputs(",\"reason\":", stdout);
    json_string(in->has_verdict && v->reason[0] ? v->reason : NULL);
    fputs(",\"last_check_ms\":", stdout);
    json_ms(v->last_check_usec, checked);
    fputs(",\"check_p50_ms\":", stdout);
    json_ms(v->check_p50_usec, checked);
    fputs(",\"check_p99_ms\":", stdout);
    json_ms(v->check_p99_usec, checked);
    fputs(",\"verdict_age_ms\":", stdout);
    json_ms(in->verdict_age, in->has_verdict);
    printf(",\"checks\":%llu,\"failures\":%llu,\"failures_last_hour\":%u",
           (unsigned long long)v->checks, (unsigned long long)v->failures,
           (unsigned)v->failures_last_hour);
    fputs(",\"last_failure_reason\":", stdout);
    json_string(v->last_failure_at ? v->last_failure_reason : NULL);
    fputs(",\"last_failure_at\":", stdout);
    json_string(utc(v->last_failure_at, t, sizeof(t)));
    fputs(",\"newest_dump\":", stdout);
    json_string(in->newest_dump[0] ? in->newest_dump : NULL);
    fputs(",\"state_dir\":", stdout);
    json_string(in->dir);
    printf(",\"verdict_readable\":%s", in->has_verdict ? "true" : "false");
    if (with_history) {
        fputs(",\"slow_threshold_ms\":", stdout);
        json_ms(in->has_history ? in->history->slow_threshold_usec : 0,
                in->has_history && in->history->slow_threshold_usec);
        fputs(",\"history\":[", stdout);
        for (uint32_t i = 0; in->has_history && i < in->history->count; i++) {
            const struct warden_check_record *r = &in->history->records[i];
            fputs(i ? ",{\"at\":" : "{\"at\":", stdout);
            json_string(utc(r->at, t, sizeof(t)));
            fputs(",\"result\":", stdout);
            json_string(result_name(r->result));
            printf(",\"errno\":%d,\"latency_ms\":", r->result < 0 ? -r->result : 0);
            json_ms(r->latency, true);
            fputs(",\"reason\":", stdout);
            json_string(r->reason[0] ? r->reason : NULL);
            putchar('}');
        }
        putchar(']');
    }
    putchar('}');
}

static void status_line(const struct instance *in)
{
    char a[32], b[32], c[32], d[32], shown[300], check[64];
    const struct warden_verdict *v = &in->verdict;
    bool checked = in->has_verdict && v->last_check_at != 0;
    printf("%-20s %-14s %-12s %7s %-26s %-9s %9s %9s %6u\n", printable(in->resource, shown, 21),
           in->agent[0] ? in->agent : "-", in->state,
           in->main_pid > 0 ? (snprintf(a, sizeof(a), "%d", (int)in->main_pid), a) : "-",
           in->has_history ? printable(in->history->check, check, 27) : "-",
           checked ? result_name(v->last_result) : "-",
           checked ? duration(v->last_check_usec, b, sizeof(b)) : "-",
           in->has_verdict ? duration(in->verdict_age, c, sizeof(c)) : "-",
           (unsigned)v->failures_last_hour);
    if (in->verdict_foreign) {
        printf("    verdict: not one this warden reads (a keeper of another version?)\n");
    }
    if (in->has_verdict && v->reason[0] && !streq(in->state, "running")) {
        printf("    now: %s\n", printable(v->reason, shown, sizeof(shown)));
    }
    if (v->last_failure_at) {
        printf("    last failure %s: %s\n", utc(v->last_failure_at, d, sizeof(d)),
               printable(v->last_failure_reason, shown, sizeof(shown)));
    }
    if (in->newest_dump[0]) {
        printf("    newest dump: %s\n", printable(in->newest_dump, shown, sizeof(shown)));
    }
}

static void status_detail(const struct instance *in)
{
    char a[32], b[32], c[32], shown[300];
    const struct warden_verdict *v = &in->verdict;
    printf("\n  state dir %s, keeper ", in->dir);
    in->keeper_alive ? printf("pid %d", (int)v->keeper_pid) : printf("not running");
    printf(", %llu checks, %llu failed\n", (unsigned long long)v->checks,
           (unsigned long long)v->failures);
    if (in->has_history && in->history->count > 0) {
        printf("  latency over the last %u checks: median %s, p99 %s", in->history->count,
               duration(v->check_p50_usec, a, sizeof(a)),
               duration(v->check_p99_usec, b, sizeof(b)));
        if (in->history->slow_threshold_usec) {
            printf(" (slow_threshold %s)",
                   duration(in->history->slow_threshold_usec, c, sizeof(c)));
        }
        printf("\n  recent checks (newest last):\n");
        uint32_t from = in->history->count > HISTORY_SHOWN ? in->history->count - HISTORY_SHOWN : 0;
        for (uint32_t i = from; i < in->history->count; i++) {
            const struct warden_check_record *r = &in->history->records[i];
            printf("    %s  %-10s %9s  %s\n", utc(r->at, a, sizeof(a)), result_name(r->result),
                   duration(r->latency, b, sizeof(b)), printable(r->reason, shown, sizeof(shown)));
        }
    } else {
        printf("  no check history (the keeper has not published one)\n");
    }
}

static void status_header(void)
{
    printf("%-20s %-14s %-12s %7s %-26s %-9s %9s %9s %6s\n", "RESOURCE", "AGENT", "STATE", "PID",
           "CHECK", "LAST", "LATENCY", "AGE", "FAIL1H");
}

static int cmd_status(const char *resource)
{
    if (resource) {
        struct instance in;
        if (load_one(resource, &in) < 0) {
            return no_such_resource(resource);
        }
        if (json) {
            status_json(&in, true);
            putchar('\n');
        } else {
            status_header();
            status_line(&in);
            status_detail(&in);
        }
        instance_free(&in);
        return EXIT_OK;
    }
    struct instance *list = NULL;
    size_t n = 0;
    int r = load_all(&list, &n);
    if (r < 0) {
        fprintf(stderr, "warden: cannot read %s: %s\n", state_root(), strerror(-r));
        return EXIT_ERROR;
    }
    if (json) {
        fputs("[", stdout);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ",\n" : "\n", stdout);
            status_json(&list[i], false);
        }
        fputs("\n]\n", stdout);
    } else if (n == 0) {
        printf("no warden instances on this node (%s)\n", state_root());
    } else {
        status_header();
        for (size_t i = 0; i < n; i++) {
            status_line(&list[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        instance_free(&list[i]);
    }
    free(list);
    return EXIT_OK;
}

/* ---- dumps ------------------------------------------------------------------ */

static int cmd_dumps(const char *resource)
{
    char stem[WARDEN_INSTANCE_FILE_SIZE];
    if (resource && warden__instance_file_name(resource, stem) < 0) {
        return no_such_resource(resource);
    }
    struct dump *list = calloc(DUMPS_MAX, sizeof(*list));
    if (!list) {
        fputs("warden: out of memory\n", stderr);
        return EXIT_ERROR;
    }
    size_t n = collect_dumps(resource ? stem : NULL, list);
    char shown[PATH_MAX];
    if (json) {
        fputs("[", stdout);
    } else if (n == 0) {
        printf("no dumps%s%s\n", resource ? " of " : "",
               resource ? printable(resource, shown, sizeof(shown)) : "");
    }
    for (size_t i = 0; i < n; i++) {
        const struct dump *d = &list[i];
        if (json) {
            fputs(i ? ",\n{\"instance\":" : "\n{\"instance\":", stdout);
            json_string(d->stem);
            fputs(",\"at\":", stdout);
            json_string(d->stamp);
            fputs(",\"reason\":", stdout);
            json_string(d->reason);
            printf(",\"bytes\":%llu,\"path\":", (unsigned long long)d->size);
            json_string(d->path);
            putchar('}');
        } else {
            printf("%s  %-14s %-24s %10llu  %s\n", d->stamp, d->reason,
                   printable(d->stem, shown, 25), (unsigned long long)d->size,
                   printable(d->path, shown, sizeof(shown)));
        }
    }
    if (json) {
        fputs(n ? "\n]\n" : "]\n", stdout);
    }
    free(list);
    return EXIT_OK;
}

/* ---- check ------------------------------------------------------------------ */

/* The keeper's environment (NUL-separated), as root reads /proc: the
 * parameters it was started with. */
static int keeper_environ(pid_t pid, char **ret, size_t *ret_len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return negative_errno();
    }
    size_t cap = 1 << 20, len = 0; /* bounded: 1 MiB */
    char *buf = malloc(cap + 1);
    if (!buf) {
        return -ENOMEM;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            int r = negative_errno();
            free(buf);
            return r;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len == cap) {
            free(buf);
            return -E2BIG;
        }
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    return 0;
}

struct step_seen {
    char name[64];
    uint64_t took;
    int result;
};

static int cmd_check(const char *resource)
{
    struct instance in;
    if (load_one(resource, &in) < 0) {
        return no_such_resource(resource);
    }
    char shown[300];
    int rc = EXIT_ERROR;
    _cleanup_free_ char *env_text = NULL, *check_env = NULL, *timeout_env = NULL;
    size_t env_len = 0;
    if (!in.keeper_alive || !in.has_history || in.history->agent_path[0] != '/') {
        fprintf(stderr,
                "warden: %s: no keeper runs (state: %s), so the parameters of its check are "
                "not known here; `crm_resource --force-check -r %s` runs it through the "
                "cluster\n",
                printable(resource, shown, sizeof(shown)), in.state, shown);
        goto out;
    }
    int r = keeper_environ(in.verdict.keeper_pid, &env_text, &env_len);
    if (r < 0 || warden__verdict_keeper_alive(&in.verdict) < 0) {
        fprintf(stderr, "warden: cannot read the keeper's parameters: %s\n",
                strerror(r < 0 ? -r : ESRCH));
        goto out;
    }
    /* Its environment, with the check and its timeout as they are now
     * (reload-agent changes them in the keeper, not in its environment). */
    size_t n_env = 0;
    for (size_t i = 0; i < env_len; i += strlen(env_text + i) + 1) {
        n_env++;
    }
    char **envp = calloc(n_env + 3, sizeof(*envp));
    if (!envp) {
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < env_len; i += strlen(env_text + i) + 1) {
        const char *e = env_text + i;
        if (!startswith(e, "OCF_RESKEY_check=") && !startswith(e, "OCF_RESKEY_check_timeout=") &&
            !startswith(e, "WARDEN_REPORT_FD=") && !startswith(e, "OCF_CHECK_LEVEL=")) {
            envp[k++] = (char *)e;
        }
    }
    check_env = warden__strdup_printf("OCF_RESKEY_check=%s", in.history->check);
    timeout_env = warden__strdup_printf(
        "OCF_RESKEY_check_timeout=%llums",
        (unsigned long long)(in.verdict.check_timeout_usec / WARDEN_USEC_PER_MSEC));
    envp[k++] = check_env;
    envp[k++] = timeout_env;
    int out_pipe[2];
    if (!check_env || !timeout_env || pipe2(out_pipe, O_CLOEXEC) < 0) {
        free(envp);
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {in.history->agent_path, WARDEN_CHECK_ACTION, NULL};
    pid_t pid;
    r = -posix_spawn(&pid, in.history->agent_path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    free(envp);
    if (r < 0) {
        close(out_pipe[0]);
        fprintf(stderr, "warden: cannot run %s: %s\n", in.history->agent_path, strerror(-r));
        goto out;
    }
    /* The agent answers within check_timeout (and a grace); this bounds a
     * wedged one. */
    warden_usec_t deadline =
        warden_deadline_in(in.verdict.check_timeout_usec + 10 * WARDEN_USEC_PER_SEC);
    char buf[16384];
    size_t len = 0;
    bool timed_out = false;
    for (;;) {
        struct pollfd p = {.fd = out_pipe[0], .events = POLLIN};
        int w = poll(&p, 1, warden__poll_timeout_ms(deadline));
        if (w == 0) {
            timed_out = true;
            break;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        ssize_t got = w > 0 ? read(out_pipe[0], buf + len, sizeof(buf) - 1 - len) : -1;
        if (got <= 0) {
            break;
        }
        len += (size_t)got;
        if (len == sizeof(buf) - 1) {
            break;
        }
    }
    buf[len] = '\0';
    close(out_pipe[0]);
    if (timed_out) {
        kill(pid, SIGKILL);
    }
    waitpid(pid, NULL, 0);

    struct step_seen steps[32];
    size_t n_steps = 0;
    bool have_result = false;
    int result = -EIO;
    unsigned long long total = 0;
    const char *reason = "";
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        unsigned long long took;
        int res;
        if (sscanf(line, "step\t%63[^\t]\t%llu\t%d", name, &took, &res) == 3 && n_steps < 32) {
            snprintf(steps[n_steps].name, sizeof(steps[n_steps].name), "%s", name);
            steps[n_steps].took = took;
            steps[n_steps++].result = res;
        } else if (sscanf(line, "result\t%d\t%llu", &res, &took) == 2) {
            have_result = true;
            result = res;
            total = took;
            const char *tab = strchr(line + strlen("result\t"), '\t');
            tab = tab ? strchr(tab + 1, '\t') : NULL;
            reason = tab ? tab + 1 : "";
        }
    }
    if (!have_result) {
        fprintf(stderr, "warden: the agent %s gave no result%s\n", in.history->agent_path,
                timed_out ? " in time (killed)" : "");
        goto out;
    }
    const char *word = result == 0                       ? "ok"
                       : result == WARDEN_PROBE_DEGRADED ? "degraded"
                       : result == -ESRCH                ? "not running"
                       : result == -ETIMEDOUT            ? "hung"
                                                         : "failed";
    char a[32];
    if (json) {
        fputs("{\"resource\":", stdout);
        json_string(in.resource);
        fputs(",\"agent\":", stdout);
        json_string(in.agent);
        fputs(",\"check\":", stdout);
        json_string(in.history->check);
        fputs(",\"result\":", stdout);
        json_string(word);
        fputs(",\"reason\":", stdout);
        json_string(reason[0] ? reason : NULL);
        fputs(",\"total_ms\":", stdout);
        json_ms(total, true);
        fputs(",\"steps\":[", stdout);
        for (size_t i = 0; i < n_steps; i++) {
            fputs(i ? ",{\"step\":" : "{\"step\":", stdout);
            json_string(steps[i].name);
            fputs(",\"ms\":", stdout);
            json_ms(steps[i].took, true);
            printf(",\"ok\":%s}", steps[i].result == 0 ? "true" : "false");
        }
        fputs("]}\n", stdout);
    } else {
        printf("%s: %s: %s in %s", printable(in.resource, shown, 64),
               printable(in.history->check, shown + 100, 100), word, duration(total, a, sizeof(a)));
        for (size_t i = 0; i < n_steps; i++) {
            printf("%s%s %s%s", i ? ", " : ": ", steps[i].name,
                   duration(steps[i].took, a, sizeof(a)), steps[i].result ? " (failed)" : "");
        }
        putchar('\n');
        if (reason[0]) {
            printf("  %s\n", printable(reason, shown, sizeof(shown)));
        }
    }
    rc = result == 0 || result == WARDEN_PROBE_DEGRADED ? EXIT_OK : EXIT_ERROR;
out:
    instance_free(&in);
    return rc;
}

/* ---- main ------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fputs("usage: warden [--json] status [RESOURCE]\n"
          "       warden [--json] check RESOURCE\n"
          "       warden [--json] dumps [RESOURCE]\n"
          "The warden instances on this node: their state, checks and dumps (warden(8)).\n"
          "Exit: 0 done, 1 error or failed check, 2 usage, 3 no such resource.\n",
          out);
}

int main(int argc, char **argv)
{
    const char *words[3] = {NULL};
    size_t n_words = 0;
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--json") || streq(argv[i], "-j")) {
            json = true;
        } else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
            usage(stdout);
            return EXIT_OK;
        } else if (streq(argv[i], "--version")) {
            printf("warden %s\n", WARDEN_VERSION_STRING);
            return EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "warden: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        } else if (n_words < ELEMENTSOF(words)) {
            words[n_words++] = argv[i];
        } else {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    const char *cmd = n_words > 0 ? words[0] : "status";
    const char *resource = n_words > 1 ? words[1] : NULL;
    if (n_words > 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (resource && isempty(resource)) {
        return no_such_resource(resource);
    }
    if (streq(cmd, "status")) {
        return cmd_status(resource);
    }
    if (streq(cmd, "dumps")) {
        return cmd_dumps(resource);
    }
    if (streq(cmd, "check") && resource) {
        return cmd_check(resource);
    }
    usage(stderr);
    return EXIT_USAGE;
}
