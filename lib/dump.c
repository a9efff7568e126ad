/* Dumps of a stuck service (see dump.h).
 *
 * Safety: a dump holds what the service had in memory (passwords, mail), so
 * the directory is 0700 and every file 0600, created with O_EXCL and
 * O_NOFOLLOW relative to a directory fd opened with O_NOFOLLOW: nothing is
 * ever written through a symlink. gcore writes its core into a fresh 0700
 * directory of ours (mkdtemp) from which we rename it into place. A full
 * disk or a read-only directory is an error returned, never a wait. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "instance-int.h"
#include "proc-int.h"
#include "util-int.h"
#include "warden/dump.h"

/* gcore stops the process while it writes: about 3.5 s per GiB here, plus
 * gdb's start. A core is begun only when this estimate fits the budget. */
#define CORE_USEC_PER_MIB (3500 * WARDEN_USEC_PER_MSEC / 1024)
#define CORE_START_USEC   (700 * WARDEN_USEC_PER_MSEC)

int warden_size_parse(const char *text, uint64_t *ret)
{
    if (!text || !isdigit((unsigned char)*text)) {
        return -EINVAL;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno) {
        return -EINVAL;
    }
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},   {"K", 10},   {"KiB", 10}, {"M", 20},  {"MiB", 20},
                 {"G", 30}, {"GiB", 30}, {"T", 40},   {"TiB", 40}};
    for (size_t i = 0; i < ELEMENTSOF(units); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (units[i].shift && v > (UINT64_MAX >> units[i].shift)) {
                return -EINVAL;
            }
            *ret = (uint64_t)v << units[i].shift;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- the directory ------------------------------------------------------- */

static int open_dump_dir(const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        return negative_errno();
    }
    struct stat lst;
    if (lstat(dir, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        return -ELOOP; /* said clearly; O_NOFOLLOW below closes the race */
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* ELOOP: dump_dir is a symlink. */
        return negative_errno();
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0077)) {
        /* Someone else's, or open to others: not where a core belongs. */
        close(fd);
        return -EPERM;
    }
    return fd;
}

static void utc_stamp(char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y%m%dT%H%M%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Whether text starts with what utc_stamp() writes: 20261122T154910.552Z. */
static bool is_stamp(const char *t)
{
    static const char form[] = "ddddddddTdddddd.dddZ";
    for (size_t i = 0; i < sizeof(form) - 1; i++) {
        bool ok = form[i] == 'd' ? isdigit((unsigned char)t[i]) != 0 : t[i] == form[i];
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* "<stem>-<stamp>-<reason>" then ".stacks" or ".core.<PID>": a file of one
 * of this instance's dumps (its key: all before the suffix), not of
 * "<stem>-2"'s, nor of an instance named "<stem>-<stamp>-<reason>". The stem
 * is the instance's file name (instance-int.h), as the dump was named. */
static bool is_dump_of(const char *name, const char *stem, size_t *ret_key_len)
{
    size_t sl = strlen(stem);
    if (strncmp(name, stem, sl) != 0 || name[sl] != '-' || !is_stamp(name + sl + 1)) {
        return false;
    }
    const char *reason = name + sl + 1 + strlen("20261122T154910.552Z");
    if (reason[0] != '-') {
        return false;
    }
    const char *suffix = strchr(reason, '.');
    if (!suffix || suffix == reason + 1) {
        return false;
    }
    if (!streq(suffix, ".stacks")) {
        const char *pid = suffix + strlen(".core.");
        if (!startswith(suffix, ".core.") || !*pid || strspn(pid, "0123456789") != strlen(pid)) {
            return false;
        }
    }
    *ret_key_len = (size_t)(suffix - name);
    return true;
}

static int cmp_desc(const void *a, const void *b)
{
    return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep the newest `keep` dumps of the instance (a dump: its stacks file and
 * its cores, one key); remove the files of older ones. */
static void apply_retention(int dirfd, const char *stem, unsigned keep)
{
    if (keep == 0) {
        return;
    }
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    char **keys = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    size_t klen;
    while ((de = readdir(d))) {
        if (!is_dump_of(de->d_name, stem, &klen)) {
            continue;
        }
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++) {
            seen = strlen(keys[i]) == klen && strncmp(keys[i], de->d_name, klen) == 0;
        }
        if (seen) {
            continue;
        }
        if (n == cap) {
            char **bigger = realloc(keys, (cap = cap ? cap * 2 : 16) * sizeof(*keys));
            if (!bigger) {
                break;
            }
            keys = bigger;
        }
        keys[n] = strndup(de->d_name, klen);
        if (keys[n]) {
            n++;
        }
    }
    /* The time follows the instance, so names sort by time. */
    qsort(keys, n, sizeof(*keys), cmp_desc);
    rewinddir(d);
    while ((de = readdir(d))) {
        if (!is_dump_of(de->d_name, stem, &klen)) {
            continue;
        }
        for (size_t i = keep; i < n; i++) {
            if (strlen(keys[i]) == klen && strncmp(keys[i], de->d_name, klen) == 0) {
                unlinkat(dirfd, de->d_name, 0);
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
    }
    free(keys);
    closedir(d);
}

/* ---- stacks ---------------------------------------------------------------- */

/* The stacks file, and the first write error on it: a full disk shows as a
 * failed write (tmpfs never reports it at fsync). */
struct out {
    int fd;
    int err;
};

static void say(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vdprintf(o->fd, fmt, ap) < 0 && o->err == 0) {
        o->err = negative_errno();
    }
    va_end(ap);
}

/* Copy a small /proc file into the dump, indented; "?" when unreadable. */
static void copy_proc_file(struct out *out, const char *path, const char *indent)
{
    _cleanup_free_ char *text = NULL;
    if (warden__read_file(path, 64 * 1024, &text) <= 0) {
        say(out, "%s?\n", indent);
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        say(out, "%s%s\n", indent, line);
    }
}

static void first_line(const char *path, char *buf, size_t size)
{
    _cleanup_free_ char *text = NULL;
    buf[0] = '\0';
    if (warden__read_file(path, size - 1, &text) > 0) {
        snprintf(buf, size, "%s", text);
        buf[strcspn(buf, "\n")] = '\0';
    }
}

/* Run a tool with its output into the dump, bounded by the deadline. */
static void run_into(struct out *out, char **argv, warden_usec_t deadline)
{
    _cleanup_free_ char *path = NULL;
    if (warden__find_executable(argv[0], &path) < 0) {
        say(out, "   (%s is not installed)\n", argv[0]);
        return;
    }
    struct warden_exec e = {.stdout_fd = out->fd};
    if (warden__exec_environment(&e.envp) < 0) {
        return;
    }
    char *saved = argv[0];
    argv[0] = path;
    e.argv = argv;
    int status = 0;
    int r = warden__run(&e, deadline, &status);
    argv[0] = saved;
    warden__strv_free(e.envp);
    if (r == -ETIMEDOUT) {
        say(out, "   (%s: out of time)\n", saved);
    } else if (r < 0) {
        say(out, "   (%s: %s)\n", saved, strerror(-r));
    }
}

static void dump_process_stacks(struct out *out, pid_t pid, warden_usec_t deadline)
{
    char path[128], comm[64], cmdline[512];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    first_line(path, comm, sizeof(comm));
    _cleanup_free_ char *raw = NULL;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    int len = warden__read_file(path, sizeof(cmdline) - 1, &raw);
    for (int i = 0; i < len - 1; i++) {
        if (raw[i] == '\0') {
            raw[i] = ' ';
        }
    }
    snprintf(cmdline, sizeof(cmdline), "%s", len > 0 ? raw : "?");
    struct warden_proc_stat st = {0};
    warden__proc_stat(pid, &st);
    say(out, "\n== process %d (%s), state %c, cmdline: %s\n", (int)pid, comm,
        st.state ? st.state : '?', cmdline);

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) {
            continue;
        }
        char tpath[320], tcomm[64], wchan[128], sys[256];
        snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/comm", (int)pid, de->d_name);
        first_line(tpath, tcomm, sizeof(tcomm));
        snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/wchan", (int)pid, de->d_name);
        first_line(tpath, wchan, sizeof(wchan));
        snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/syscall", (int)pid, de->d_name);
        first_line(tpath, sys, sizeof(sys));
        say(out, "-- thread %s (%s), wchan %s, syscall %s\n", de->d_name, tcomm,
            wchan[0] ? wchan : "?", sys[0] ? sys : "?");
        snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/stack", (int)pid, de->d_name);
        copy_proc_file(out, tpath, "   ");
    }
    if (d) {
        closedir(d);
    }
    say(out, "-- user space (eu-stack):\n");
    char pidtext[16];
    snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
    char *argv[] = {"eu-stack", "-p", pidtext, NULL};
    run_into(out, argv, deadline);
}

/* ---- cores ----------------------------------------------------------------- */

static uint64_t resident_bytes(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    _cleanup_free_ char *text = NULL;
    if (warden__read_file(path, 8192, &text) < 0) {
        return 0;
    }
    const char *rss = strstr(text, "VmRSS:");
    return rss ? strtoull(rss + 6, NULL, 10) * 1024 : 0;
}

/* One core, through a fresh private directory, renamed into place. Returns
 * its size, or -errno. */
static int64_t dump_core(struct out *out, int dirfd, const char *dir, const char *base, pid_t pid,
                         uint64_t room, warden_usec_t deadline)
{
    char tmpdir[4096];
    snprintf(tmpdir, sizeof(tmpdir), "%s/.%s.XXXXXX", dir, base);
    if (!mkdtemp(tmpdir)) {
        return negative_errno();
    }
    char prefix[4200], pidtext[16];
    snprintf(prefix, sizeof(prefix), "%s/core", tmpdir);
    snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
    _cleanup_free_ char *gcore = NULL;
    int64_t result = warden__find_executable("gcore", &gcore);
    if (result == 0) {
        struct warden_exec e = {.stdout_fd = out->fd, .fsize_limit = room};
        char *argv[] = {gcore, "-o", prefix, pidtext, NULL};
        e.argv = argv;
        int status = 0;
        result = warden__exec_environment(&e.envp);
        if (result == 0) {
            result = warden__run(&e, deadline, &status);
        }
        warden__strv_free(e.envp);
        if (result == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            result = -EIO;
        }
    }
    char written[4300], final[512];
    snprintf(written, sizeof(written), "%s.%d", prefix, (int)pid);
    snprintf(final, sizeof(final), "%s.core.%d", base, (int)pid);
    struct stat st;
    if (result == 0 && stat(written, &st) == 0) {
        chmod(written, 0600);
        int tfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char leaf[64];
        snprintf(leaf, sizeof(leaf), "core.%d", (int)pid);
        result = tfd >= 0 && renameat2(tfd, leaf, dirfd, final, RENAME_NOREPLACE) == 0
                     ? (int64_t)st.st_size
                     : negative_errno();
        if (tfd >= 0) {
            close(tfd);
        }
    } else if (result == 0) {
        result = -EIO;
    }
    unlink(written); /* a partial core, when gcore ran out of time or room */
    rmdir(tmpdir);
    return result;
}

/* ---- the dump ---------------------------------------------------------------- */

int warden_dump_processes(const struct warden_dump_options *o, const char *instance,
                          const char *reason, const pid_t *pids, size_t n_pids,
                          warden_usec_t deadline, char **ret_path)
{
    _cleanup_close_ int dirfd = open_dump_dir(o->dir);
    if (dirfd < 0) {
        return dirfd;
    }
    /* Any name Pacemaker accepts, as the instance's file name: a long one
     * shortened with a hash, so that every file of a dump fits NAME_MAX. */
    char stem[WARDEN_INSTANCE_FILE_SIZE];
    if (warden__instance_file_name(instance, stem) < 0 || isempty(reason) || strchr(reason, '/') ||
        strchr(reason, '.')) {
        return -EINVAL;
    }
    char stamp[32], base[NAME_MAX + 1], name[sizeof(base) + sizeof(".stacks")];
    utc_stamp(stamp, sizeof(stamp));
    /* The longest file is "<base>.core.<PID>"; the core's private directory
     * ".<base>.XXXXXX" is shorter. */
    int len = snprintf(base, sizeof(base), "%s-%s-%s", stem, stamp, reason);
    if (len < 0 || (size_t)len + strlen(".core.") + 10 > NAME_MAX) {
        return -ENAMETOOLONG;
    }
    snprintf(name, sizeof(name), "%s.stacks", base);
    struct out stacks = {
        .fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
    struct out *out = &stacks;
    if (out->fd < 0) {
        return negative_errno();
    }
    say(out, "# warden dump of %s (%s) at %s: %zu process(es)\n", instance, reason, stamp, n_pids);
    for (size_t i = 0; i < n_pids && warden_now() < deadline; i++) {
        dump_process_stacks(out, pids[i], deadline);
    }
    if (out->err == 0 && fsync(out->fd) < 0) {
        out->err = negative_errno();
    }
    if (out->err < 0) {
        /* A full disk, say: no half dump is left to mislead anyone. */
        int r = out->err;
        close(out->fd);
        unlinkat(dirfd, name, 0);
        return r;
    }

    uint64_t used = 0;
    for (size_t i = 0; o->core && i < n_pids; i++) {
        uint64_t size = resident_bytes(pids[i]);
        warden_usec_t need = CORE_START_USEC + (size >> 20) * CORE_USEC_PER_MIB;
        if (used + size > o->max_bytes) {
            say(out, "\n# core of %d not written: it would pass dump_max_bytes\n", (int)pids[i]);
            continue;
        }
        if (warden_now() + need > deadline) {
            say(out, "\n# core of %d not written: not enough time left\n", (int)pids[i]);
            continue;
        }
        say(out, "\n# core of %d (gcore):\n", (int)pids[i]);
        int64_t r = dump_core(out, dirfd, o->dir, base, pids[i], o->max_bytes - used, deadline);
        if (r < 0) {
            say(out, "# core of %d failed: %s\n", (int)pids[i], strerror((int)-r));
        } else {
            used += (uint64_t)r;
        }
    }
    close(out->fd);
    apply_retention(dirfd, stem, o->keep);
    if (ret_path) {
        *ret_path = warden__strdup_printf("%s/%s", o->dir, name);
    }
    return 0;
}
