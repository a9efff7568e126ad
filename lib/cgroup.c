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

int warden__cgroup_pids(const char *path, pid_t **ret, size_t *ret_n)
{
    _cleanup_free_ char *procs = warden__strdup_printf("%s/cgroup.procs", path);
    _cleanup_free_ char *text = NULL;
    if (!procs) {
        return -ENOMEM;
    }
    int r = warden__read_file(procs, 1 << 20, &text);
    if (r < 0) {
        return r;
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
    return file ? warden__write_file(file, "1") : -ENOMEM;
}

static int read_populated(int fd)
{
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n < 0) {
        return negative_errno();
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
            return r;
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
