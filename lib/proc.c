/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One process (the processes' room: proc-int.h): the fields of
 * /proc/PID/stat we use, and a reference by pidfd and start time that pid
 * reuse cannot fool. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>

#include "proc-int.h"
#include "util-int.h"

int warden__proc_stat(pid_t pid, struct warden_proc_stat *ret)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? -ESRCH : negative_errno();
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0) {
        return n < 0 && errno != ESRCH ? negative_errno() : -ESRCH;
    }
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields start after
     * the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) {
        return -EIO;
    }
    struct warden_proc_stat st = {0};
    int ppid, pgrp, sid;
    unsigned long long start;
    if (sscanf(p + 2,
               "%c %d %d %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
               &st.state, &ppid, &pgrp, &sid, &start) != 5) {
        return -EIO;
    }
    st.ppid = ppid;
    st.pgrp = pgrp;
    st.sid = sid;
    st.starttime = start;
    *ret = st;
    return 0;
}

int warden__pidref_open(pid_t pid, uint64_t starttime, struct warden_pidref *ret)
{
    if (pid <= 0) {
        return -ESRCH;
    }
    _cleanup_close_ int fd = pidfd_open(pid, 0);
    if (fd < 0) {
        return errno == ESRCH ? -ESRCH : negative_errno();
    }
    /* Read the start time after the pidfd exists: if the pid was reused in
     * between, the stat belongs to the process the pidfd names. */
    struct warden_proc_stat st;
    int r = warden__proc_stat(pid, &st);
    if (r < 0) {
        return r;
    }
    if (st.state == 'Z' || (starttime != 0 && st.starttime != starttime)) {
        return -ESRCH;
    }
    *ret = (struct warden_pidref){.pid = pid, .fd = TAKE_FD(fd), .starttime = st.starttime};
    return 0;
}

void warden__pidref_done(struct warden_pidref *p)
{
    if (p->fd >= 0) {
        close(p->fd);
    }
    *p = WARDEN_PIDREF_NULL;
}

bool warden__pidref_is_set(const struct warden_pidref *p)
{
    return p->pid > 0 && p->fd >= 0;
}

bool warden__pidref_alive(const struct warden_pidref *p)
{
    if (!warden__pidref_is_set(p)) {
        return false;
    }
    /* A pidfd turns readable when the process exits, before it is reaped. */
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    if (poll(&pfd, 1, 0) != 0) {
        return false;
    }
    struct warden_proc_stat st;
    return warden__proc_stat(p->pid, &st) == 0 && st.state != 'Z' && st.starttime == p->starttime;
}

int warden__pidref_signal(const struct warden_pidref *p, int sig)
{
    if (!warden__pidref_is_set(p)) {
        return -ESRCH;
    }
    return RET_NERRNO(syscall(SYS_pidfd_send_signal, p->fd, sig, NULL, 0));
}

int warden__pidref_wait_exit(const struct warden_pidref *p, warden_usec_t deadline)
{
    if (!warden__pidref_is_set(p)) {
        return 0;
    }
    for (;;) {
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int r = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
        if (r > 0) {
            return 0;
        }
        if (r == 0) {
            return -ETIMEDOUT;
        }
        if (errno != EINTR) {
            return negative_errno();
        }
    }
}
