/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dumps of a stuck service (see dump.h; the dump's room: dump-int.h). What
 * a dump holds and where it goes; dump-helper.c decides when and of whom.
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
#include <sys/random.h>
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

/* A directory on the way to dump_dir that no one but root can change: root's,
 * and writable by no one else, or sticky (like /tmp, where others cannot
 * rename or remove root's entries). */
static bool safe_ancestor(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
           (!(st.st_mode & 0022) || (st.st_mode & S_ISVTX));
}

/* Open dump_dir by walking it from / one name at a time, each relative to
 * the directory before it: a user who may write an ancestor could otherwise
 * swap the path between a check and the writes. Every directory on the way
 * must be safe_ancestor(); a symlink on the way is followed only inside
 * one (where only root could have made it). The last name is created 0700
 * when missing, is never a symlink (-ELOOP), and must be ours and closed to
 * others (-EPERM). Everything after works relative to the fd returned. */
static int open_dump_dir(const char *dir)
{
    if (isempty(dir) || dir[0] != '/') {
        return -EINVAL;
    }
    char path[4096];
    if (strlen(dir) >= sizeof(path)) {
        return -ENAMETOOLONG;
    }
    snprintf(path, sizeof(path), "%s", dir);
    _cleanup_close_ int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0) {
        return negative_errno();
    }
    char *p = path;
    for (int links = 0;;) {
        while (*p == '/') {
            p++;
        }
        if (!*p) {
            return -EPERM; /* "/" itself */
        }
        char *end = p + strcspn(p, "/");
        bool last = !end[strspn(end, "/")];
        *end = '\0';
        if (!safe_ancestor(cur)) {
            return -EPERM;
        }
        if (last) {
            if (mkdirat(cur, p, 0700) < 0 && errno != EEXIST) {
                return negative_errno();
            }
            int fd = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                /* A symlink fails O_DIRECTORY before O_NOFOLLOW: say ELOOP. */
                int r = negative_errno();
                struct stat lst;
                return fstatat(cur, p, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode)
                           ? -ELOOP
                           : r;
            }
            struct stat st;
            if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0077)) {
                /* Someone else's, or open to others: not where a core belongs. */
                close(fd);
                return -EPERM;
            }
            return fd;
        }
        int next = openat(cur, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && (errno == ELOOP || errno == ENOTDIR)) {
            /* A symlink in a directory only root can change: follow it, as a
             * new path in front of what is left. */
            char target[4096];
            ssize_t n = readlinkat(cur, p, target, sizeof(target) - 1);
            if (n < 0) {
                return errno == EINVAL ? -ENOTDIR : negative_errno();
            }
            if (n == 0 || ++links > 40) {
                return -ELOOP;
            }
            target[n] = '\0';
            char rest[4096];
            int len = snprintf(rest, sizeof(rest), "%s/%s", target, end + 1);
            if (len < 0 || (size_t)len >= sizeof(rest)) {
                return -ENAMETOOLONG;
            }
            memcpy(path, rest, (size_t)len + 1);
            p = path;
            if (target[0] == '/') {
                close(cur);
                cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (cur < 0) {
                    return negative_errno();
                }
            }
            continue;
        }
        if (next < 0) {
            return negative_errno();
        }
        close(cur);
        cur = next;
        p = end + 1;
    }
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

/* Run a tool with its output into the dump, bounded by the deadline. The
 * tools (eu-stack, gcore) run as root although the service may have a
 * user=: they must ptrace the service's processes, which a user cannot do to
 * a process that has changed its credentials or is not dumpable, and they
 * are the system's own programs, not the service's. */
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

/* The quick part, from /proc: the process, its threads and their kernel
 * stacks. */
static void dump_process_stacks(struct out *out, pid_t pid)
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
}

/* The slow part: eu-stack ptraces the process and reads its debug info.
 * Under a header of its own, after every process's /proc part. */
static void dump_process_user_stack(struct out *out, pid_t pid, warden_usec_t deadline)
{
    say(out, "\n== process %d (continued)\n-- user space (eu-stack):\n", (int)pid);
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

/* A fresh 0700 directory in dirfd, named ".<base>.XXXXXX" (mkdtemp, but
 * relative to the directory fd). */
static int make_private_dir(int dirfd, const char *base, char *name, size_t size)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            return negative_errno();
        }
        char suffix[7];
        for (size_t i = 0; i < sizeof(rnd); i++) {
            suffix[i] = chars[rnd[i] % (sizeof(chars) - 1)];
        }
        suffix[6] = '\0';
        snprintf(name, size, ".%s.%s", base, suffix);
        if (mkdirat(dirfd, name, 0700) == 0) {
            return 0;
        }
        if (errno != EEXIST) {
            return negative_errno();
        }
    }
    return -EEXIST;
}

/* One core, through a fresh private directory, renamed into place. Returns
 * its size, or -errno. Every step works relative to the dump directory's fd
 * (checked once, in open_dump_dir), never on its path: gcore writes through
 * /proc/<our pid>/fd/<the private directory's fd>, and the core is made
 * 0600 through an fd of its own, not a name a symlink could replace. */
static int64_t dump_core(struct out *out, int dirfd, const char *base, pid_t pid, uint64_t room,
                         warden_usec_t deadline)
{
    char tmpname[512];
    int64_t result = make_private_dir(dirfd, base, tmpname, sizeof(tmpname));
    if (result < 0) {
        return result;
    }
    _cleanup_close_ int tfd =
        openat(dirfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tfd < 0) {
        result = negative_errno();
        unlinkat(dirfd, tmpname, AT_REMOVEDIR);
        return result;
    }
    char prefix[128], pidtext[16], leaf[64];
    snprintf(prefix, sizeof(prefix), "/proc/%d/fd/%d/core", (int)getpid(), tfd);
    snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
    snprintf(leaf, sizeof(leaf), "core.%d", (int)pid);
    _cleanup_free_ char *gcore = NULL;
    result = warden__find_executable("gcore", &gcore);
    if (result == 0) {
        /* As root, as eu-stack (run_into): it must ptrace the service,
         * which may run as another user, and write where only root may. */
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
    char final[512];
    snprintf(final, sizeof(final), "%s.core.%d", base, (int)pid);
    _cleanup_close_ int cfd =
        result == 0 ? openat(tfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -EBADF;
    struct stat st;
    if (cfd >= 0 && fstat(cfd, &st) == 0 && S_ISREG(st.st_mode) && fchmod(cfd, 0600) == 0) {
        result = renameat2(tfd, leaf, dirfd, final, RENAME_NOREPLACE) == 0 ? (int64_t)st.st_size
                                                                           : negative_errno();
    } else if (result == 0) {
        result = -EIO;
    }
    unlinkat(tfd, leaf, 0); /* a partial core, when gcore ran out of time or room */
    unlinkat(dirfd, tmpname, AT_REMOVEDIR);
    return result;
}

/* ---- the dump ---------------------------------------------------------------- */

int warden_dump_processes(const struct warden_dump_options *options, const char *instance,
                          const char *reason, const pid_t *pids, size_t n_pids,
                          warden_usec_t deadline, char **ret_path)
{
    /* As this library knows them (dump.h): size 0 is the 1.0 layout. */
    struct warden_dump_options copy;
    const struct warden_dump_options *o = &copy;
    int k = warden__struct_copy(&copy, sizeof(copy), options,
                                options->size ? options->size : sizeof(copy));
    if (k < 0) {
        return k;
    }
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
    /* What /proc tells of every process first (quick), then each one's
     * user-space stack (slow): an eu-stack that takes all the time there is
     * (a machine under load) would otherwise keep every process after the
     * first out of the dump. */
    for (size_t i = 0; i < n_pids && warden_now() < deadline; i++) {
        dump_process_stacks(out, pids[i]);
    }
    for (size_t i = 0; i < n_pids && warden_now() < deadline; i++) {
        dump_process_user_stack(out, pids[i], deadline);
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
        int64_t r = dump_core(out, dirfd, base, pids[i], o->max_bytes - used, deadline);
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
