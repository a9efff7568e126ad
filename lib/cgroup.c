/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup v2 support. The kernel gives us two things we want: a set that no
 * process can leave by forking or setsid(), and cgroup.kill to end the set at
 * once (Linux 5.14+). Where either is missing the caller falls back to the
 * holder's session and subreaper descendants (proc-tree.c). */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cgroup-int.h"
#include "instance-int.h"
#include "util-int.h"

int warden__cgroup_root(char **ret)
{
    const char *force = getenv("WARDEN_CGROUP");
    if (force && streq(force, "off")) {
        return -ENOMEDIUM;
    }
    _cleanup_free_ char *info = NULL;
    int r = warden__read_file("/proc/self/mountinfo", 1 << 20, &info);
    if (r < 0) {
        return r;
    }
    /* mountinfo: "id parent maj:min root mountpoint opts [optional...] - fstype src superopts" */
    char *save = NULL;
    for (char *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sep = strstr(line, " - ");
        if (!sep || !startswith(sep + 3, "cgroup2 ")) {
            continue;
        }
        char mountpoint[4096];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mountpoint) != 1) {
            continue;
        }
        *ret = strdup(mountpoint);
        return *ret ? 0 : -ENOMEM;
    }
    return -ENOMEDIUM;
}

/* <root>/warden/<the instance's cgroup name> (instance-int.h). */
static int instance_path(const char *root, const char *instance, char **ret)
{
    char name[WARDEN_INSTANCE_CGROUP_SIZE];
    int r = warden__instance_cgroup_name(instance, name);
    if (r < 0) {
        return r;
    }
    *ret = warden__strdup_printf("%s/warden/%s", root, name);
    return *ret ? 0 : -ENOMEM;
}

/* A cgroup is a directory; anything else there (a file of the parent's, for
 * a name the escaping did not foresee) is not one of ours. */
static int require_directory(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        return negative_errno();
    }
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int warden__cgroup_create(const char *instance, char **ret_path)
{
    _cleanup_free_ char *root = NULL;
    int r = warden__cgroup_root(&root);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *parent = warden__strdup_printf("%s/warden", root);
    _cleanup_free_ char *kill_file = warden__strdup_printf("%s/warden/cgroup.kill", root);
    _cleanup_free_ char *path = NULL;
    if (!parent || !kill_file) {
        return -ENOMEM;
    }
    r = instance_path(root, instance, &path);
    if (r < 0) {
        return r;
    }
    if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
        return negative_errno();
    }
    if (access(kill_file, W_OK) < 0) {
        return -EOPNOTSUPP;
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        return negative_errno();
    }
    r = require_directory(path);
    if (r < 0) {
        return r;
    }
    *ret_path = TAKE_PTR(path);
    return 0;
}

int warden__cgroup_find(const char *instance, char **ret_path)
{
    _cleanup_free_ char *root = NULL;
    _cleanup_free_ char *path = NULL;
    int r = warden__cgroup_root(&root);
    if (r < 0) {
        return r;
    }
    r = instance_path(root, instance, &path);
    if (r < 0) {
        return r;
    }
    r = require_directory(path);
    if (r < 0) {
        return r;
    }
    *ret_path = TAKE_PTR(path);
    return 0;
}

int warden__cgroup_open_procs(const char *path)
{
    _cleanup_free_ char *procs = warden__strdup_printf("%s/cgroup.procs", path);
    if (!procs) {
        return -ENOMEM;
    }
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    return fd < 0 ? negative_errno() : fd;
}

/* A cgroup removed after one of its files was opened (by its manager, as
 * systemd removes a scope's the moment it is empty) answers ENODEV on that
 * file (kernfs); it is as gone as one removed before the open (ENOENT), and
 * its processes have all exited. A stop that took it for an error failed,
 * and its node was fenced. */
static int gone_as_enoent(int r)
{
    return r == -ENODEV ? -ENOENT : r;
}

int warden__cgroup_pids(const char *path, pid_t **ret, size_t *ret_n)
{
    _cleanup_free_ char *procs = warden__strdup_printf("%s/cgroup.procs", path);
    _cleanup_free_ char *text = NULL;
    if (!procs) {
        return -ENOMEM;
    }
    int r = warden__read_file(procs, 1 << 20, &text);
    if (r < 0) {
        return gone_as_enoent(r);
    }
    size_t n = 0, cap = 16;
    _cleanup_free_ pid_t *pids = malloc(cap * sizeof(*pids));
    if (!pids) {
        return -ENOMEM;
    }
    for (char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            break;
        }
        if (n == cap) {
            pid_t *bigger = realloc(pids, (cap *= 2) * sizeof(*pids));
            if (!bigger) {
                return -ENOMEM;
            }
            pids = bigger;
        }
        pids[n++] = (pid_t)v;
        p = end;
    }
    *ret = TAKE_PTR(pids);
    *ret_n = n;
    return 0;
}

int warden__cgroup_kill(const char *path)
{
    _cleanup_free_ char *file = warden__strdup_printf("%s/cgroup.kill", path);
    return file ? gone_as_enoent(warden__write_file(file, "1")) : -ENOMEM;
}

static int read_populated(int fd)
{
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n < 0) {
        return gone_as_enoent(negative_errno());
    }
    buf[n] = '\0';
    const char *p = strstr(buf, "populated ");
    if (!p) {
        return -EIO;
    }
    return p[strlen("populated ")] == '1';
}

static int open_events(const char *path)
{
    _cleanup_free_ char *file = warden__strdup_printf("%s/cgroup.events", path);
    if (!file) {
        return -ENOMEM;
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? negative_errno() : fd;
}

int warden__cgroup_populated(const char *path)
{
    _cleanup_close_ int fd = open_events(path);
    return fd < 0 ? fd : read_populated(fd);
}

int warden__cgroup_wait_empty(const char *path, warden_usec_t deadline)
{
    _cleanup_close_ int fd = open_events(path);
    if (fd < 0) {
        return fd == -ENOENT ? 0 : fd;
    }
    for (;;) {
        /* Read after arming: kernfs signals POLLPRI on each change of
         * cgroup.events, so a change between read and poll is not lost. */
        int r = read_populated(fd);
        if (r <= 0) {
            return r == -ENOENT ? 0 : r;
        }
        int timeout = warden__poll_timeout_ms(deadline);
        if (timeout == 0) {
            return -ETIMEDOUT;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLPRI};
        if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
            return negative_errno();
        }
    }
}

int warden__cgroup_remove(const char *path)
{
    if (rmdir(path) < 0 && errno != ENOENT) {
        return negative_errno();
    }
    return 0;
}

/* ---- controllers ----------------------------------------------------------- */

/* Whether word is one of the blank-separated words of a cgroup file. */
static int file_lists(const char *path, const char *word)
{
    _cleanup_free_ char *text = NULL;
    int r = warden__read_file(path, 4096, &text);
    if (r < 0) {
        return r;
    }
    size_t len = strlen(word);
    for (char *p = text; (p = strstr(p, word)); p += len) {
        bool starts = p == text || p[-1] == ' ' || p[-1] == '\n';
        bool ends = p[len] == '\0' || p[len] == ' ' || p[len] == '\n';
        if (starts && ends) {
            return 0;
        }
    }
    return -ENOENT;
}

int warden__cgroup_controller_available(const char *dir, const char *controller)
{
    _cleanup_free_ char *path = warden__strdup_printf("%s/cgroup.controllers", dir);
    if (!path) {
        return -ENOMEM;
    }
    int r = file_lists(path, controller);
    return r == -ENOENT ? -ENOPKG : r;
}

/* Enable a controller for the children of dir (its cgroup.subtree_control),
 * when it is not yet. */
static int enable_below(const char *dir, const char *controller)
{
    _cleanup_free_ char *path = warden__strdup_printf("%s/cgroup.subtree_control", dir);
    _cleanup_free_ char *plus = warden__strdup_printf("+%s", controller);
    if (!path || !plus) {
        return -ENOMEM;
    }
    if (file_lists(path, controller) == 0) {
        return 0;
    }
    return warden__write_file(path, plus) < 0 ? -ENOPKG : 0;
}

static bool systemd_booted(void)
{
    struct stat st;
    return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

int warden__cgroup_set(const char *path, const char *controller, const char *file,
                       const char *value)
{
    _cleanup_free_ char *target = warden__strdup_printf("%s/%s", path, file);
    _cleanup_free_ char *parent = strdup(path);
    if (!target || !parent) {
        return -ENOMEM;
    }
    char *slash = strrchr(parent, '/');
    if (!slash || slash == parent) {
        return -EINVAL;
    }
    *slash = '\0';
    if (access(target, F_OK) < 0) {
        /* The parent is warden's own <root>/warden; the root above it is
         * the hierarchy's, and warden enables a controller there only
         * where PID 1 is not systemd (which owns the root otherwise). */
        _cleanup_free_ char *root = strdup(parent);
        char *up = root ? strrchr(root, '/') : NULL;
        if (!root) {
            return -ENOMEM;
        }
        if (up && up != root) {
            *up = '\0';
            if (warden__cgroup_controller_available(parent, controller) < 0 &&
                (systemd_booted() || enable_below(root, controller) < 0)) {
                return -ENOPKG;
            }
        }
        int r = enable_below(parent, controller);
        if (r < 0) {
            return r;
        }
        if (access(target, F_OK) < 0) {
            return -ENOPKG;
        }
    }
    return warden__write_file(target, value);
}
