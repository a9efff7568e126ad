/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A service's process tree (the processes' room: proc-int.h): the processes
 * in it, found in /proc (the holder's session and subreaper descendants) or
 * in its cgroup, and signalled, waited for and killed each through a pidfd
 * opened on the very process found. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>

#include "cgroup-int.h"
#include "proc-int.h"
#include "util-int.h"

/* ---- the tree ---------------------------------------------------------- */

struct proc_entry {
    pid_t pid;
    struct warden_proc_stat st;
};

static int scan_proc(struct proc_entry **ret, size_t *ret_n)
{
    DIR *d = opendir("/proc");
    if (!d) {
        return negative_errno();
    }
    size_t n = 0, cap = 256;
    struct proc_entry *v = malloc(cap * sizeof(*v));
    if (!v) {
        closedir(d);
        return -ENOMEM;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) {
            continue;
        }
        pid_t pid = (pid_t)atoi(de->d_name);
        struct warden_proc_stat st;
        if (warden__proc_stat(pid, &st) < 0) {
            continue;
        }
        if (n == cap) {
            struct proc_entry *bigger = realloc(v, (cap *= 2) * sizeof(*v));
            if (!bigger) {
                free(v);
                closedir(d);
                return -ENOMEM;
            }
            v = bigger;
        }
        v[n++] = (struct proc_entry){.pid = pid, .st = st};
    }
    closedir(d);
    *ret = v;
    *ret_n = n;
    return 0;
}

static const struct proc_entry *find_entry(const struct proc_entry *v, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].pid == pid) {
            return &v[i];
        }
    }
    return NULL;
}

/* Set, and not exited: its pidfd is not readable (a zombie's is). */
static bool ref_live(const struct warden_pidref *p)
{
    if (!warden__pidref_is_set(p)) {
        return false;
    }
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 0;
}

/* The same process as the reference names: pid and start time. */
static bool is_ref(const struct proc_entry *e, const struct warden_pidref *p)
{
    return p->pid > 0 && e->pid == p->pid && (p->starttime == 0 || e->st.starttime == p->starttime);
}

/* Below `ancestor` through parent links. */
static bool descends_from(const struct proc_entry *v, size_t n, const struct proc_entry *e,
                          pid_t ancestor)
{
    const struct proc_entry *cur = e;
    for (size_t depth = 0; cur && depth < n; depth++) {
        if (cur->st.ppid == ancestor) {
            return true;
        }
        if (cur->st.ppid <= 1) {
            return false;
        }
        cur = find_entry(v, n, cur->st.ppid);
    }
    return false;
}

/* Whether the holder's pid still names the holder's session. While any
 * process has it as session id the kernel does not hand the pid out again,
 * so: no process under that pid, or the holder itself (alive or a zombie,
 * same start time), and the session is the holder's. A process under that
 * pid with another start time got the pid once the holder's session was
 * empty; the session with that id now, if any, is someone else's.
 *
 * One case is beyond telling apart: the pid was reused by a process that
 * made it a session id and exited, leaving processes in that session. It
 * takes a crash of the whole service, a pid reused at that number, and a new
 * session leader that dies before its children, between two actions. */
static bool session_is_ours(const struct warden_tree *t, const struct proc_entry *v, size_t n)
{
    if (t->holder.pid <= 1) {
        return false; /* session 0 would be the kernel's threads */
    }
    const struct proc_entry *leader = find_entry(v, n, t->holder.pid);
    return !leader || (t->holder.starttime != 0 && leader->st.starttime == t->holder.starttime);
}

static int session_tree_entries(const struct warden_tree *t, struct proc_entry **ret, size_t *ret_n)
{
    for (int attempt = 0;; attempt++) {
        /* Parent links count only below a process whose pidfd shows it alive
         * from before the scan to after it: its pid named it throughout. A
         * process that keeps dying under the scan loses that after three
         * tries; the session id still finds what is left. */
        bool holder_live = attempt < 3 && ref_live(&t->holder);
        bool main_live = attempt < 3 && ref_live(&t->main);
        struct proc_entry *v = NULL;
        size_t n = 0;
        int r = scan_proc(&v, &n);
        if (r < 0) {
            return r;
        }
        struct proc_entry *out = malloc((n + 1) * sizeof(*out));
        if (!out) {
            free(v);
            return -ENOMEM;
        }
        bool ours = session_is_ours(t, v, n);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            const struct proc_entry *e = &v[i];
            if (e->st.state == 'Z') {
                continue;
            }
            if ((ours && e->st.sid == t->holder.pid) ||
                (holder_live &&
                 (e->pid == t->holder.pid || descends_from(v, n, e, t->holder.pid))) ||
                (main_live && (e->pid == t->main.pid || descends_from(v, n, e, t->main.pid)))) {
                out[k++] = *e;
            }
        }
        free(v);
        if ((holder_live && !ref_live(&t->holder)) || (main_live && !ref_live(&t->main))) {
            free(out);
            continue;
        }
        *ret = out;
        *ret_n = k;
        return 0;
    }
}

static int cgroup_tree_entries(const char *cgroup, struct proc_entry **ret, size_t *ret_n)
{
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    int r = warden__cgroup_pids(cgroup, &pids, &n);
    if (r == -ENOENT) {
        n = 0;
    } else if (r < 0) {
        return r;
    }
    struct proc_entry *v = malloc((n + 1) * sizeof(*v));
    if (!v) {
        return -ENOMEM;
    }
    /* cgroup.procs may still list a zombie that waits for its reaper. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct warden_proc_stat st;
        if (warden__proc_stat(pids[i], &st) == 0 && st.state != 'Z') {
            v[k++] = (struct proc_entry){.pid = pids[i], .st = st};
        }
    }
    *ret = v;
    *ret_n = k;
    return 0;
}

/* The live processes of the tree, each with its start time. */
static int tree_entries(const struct warden_tree *t, struct proc_entry **ret, size_t *ret_n)
{
    return t->cgroup ? cgroup_tree_entries(t->cgroup, ret, ret_n)
                     : session_tree_entries(t, ret, ret_n);
}

int warden__tree_pids(const struct warden_tree *t, pid_t **ret, size_t *ret_n)
{
    _cleanup_free_ struct proc_entry *v = NULL;
    size_t n = 0;
    int r = tree_entries(t, &v, &n);
    if (r < 0) {
        return r;
    }
    pid_t *pids = malloc((n + 1) * sizeof(*pids));
    if (!pids) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        pids[i] = v[i].pid;
    }
    *ret = pids;
    *ret_n = n;
    return 0;
}

bool warden__tree_contains(const struct warden_tree *t, pid_t pid)
{
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    if (warden__tree_pids(t, &pids, &n) < 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (pids[i] == pid) {
            return true;
        }
    }
    return false;
}

static bool pid_listed(const pid_t *pids, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++) {
        if (pids[i] == pid) {
            return true;
        }
    }
    return false;
}

/* A pid from an enumeration may be reused before the signal, so each
 * process is held by a pidfd whose start time matches what the enumeration
 * read. The session scan read membership and start time in one read of
 * /proc/PID/stat; cgroup.procs and the stat are two reads, so with a cgroup
 * the listing is read again once the pidfds are open: a held process that
 * is still alive and still listed is a member. Where no pidfd can be had
 * (kernel < 5.3, valgrind, out of fds) the start time is checked just
 * before kill(), which narrows the window to microseconds but cannot close
 * it. */
int warden__tree_signal(const struct warden_tree *t, int sig)
{
    _cleanup_free_ struct proc_entry *v = NULL;
    size_t n = 0;
    int r = tree_entries(t, &v, &n);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ struct warden_pidref *refs = calloc(n + 1, sizeof(*refs));
    _cleanup_free_ bool *unheld = calloc(n + 1, sizeof(*unheld));
    if (!refs || !unheld) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        refs[i] = WARDEN_PIDREF_NULL;
        if (!is_ref(&v[i], &t->holder)) {
            int k = warden__pidref_open(v[i].pid, v[i].st.starttime, &refs[i]);
            unheld[i] = k < 0 && k != -ESRCH;
        }
    }
    _cleanup_free_ pid_t *again = NULL;
    size_t n_again = 0;
    if (t->cgroup && warden__cgroup_pids(t->cgroup, &again, &n_again) < 0) {
        n_again = 0;
    }
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        bool member = !t->cgroup || pid_listed(again, n_again, v[i].pid);
        if (warden__pidref_is_set(&refs[i])) {
            if (member && ref_live(&refs[i]) && warden__pidref_signal(&refs[i], sig) == 0) {
                count++;
            }
            warden__pidref_done(&refs[i]);
            continue;
        }
        struct warden_proc_stat st;
        if (unheld[i] && member && warden__proc_stat(v[i].pid, &st) == 0 &&
            st.starttime == v[i].st.starttime && kill(v[i].pid, sig) == 0) {
            count++;
        }
    }
    return count;
}

/* Wait until every listed process has exited: poll their pidfds together, so
 * the wait is on the real event. */
static int wait_entries_exit(const struct proc_entry *v, size_t n, warden_usec_t deadline)
{
    struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));
    if (!pfd) {
        return -ENOMEM;
    }
    size_t k = 0;
    bool unheld = false;
    for (size_t i = 0; i < n; i++) {
        struct warden_pidref ref = WARDEN_PIDREF_NULL;
        int r = warden__pidref_open(v[i].pid, v[i].st.starttime, &ref);
        if (r == 0) {
            pfd[k++] = (struct pollfd){.fd = ref.fd, .events = POLLIN};
        } else if (r != -ESRCH) {
            unheld = true;
        }
    }
    int result = 0;
    if (k == 0 && unheld) {
        /* No pidfd for any of them (out of fds, or valgrind): look again
         * soon rather than spin; the caller's deadline bounds it. */
        free(pfd);
        usleep(10000);
        return warden_now() >= deadline ? -ETIMEDOUT : 0;
    }
    for (size_t done = 0; done < k;) {
        int r = poll(pfd, k, warden__poll_timeout_ms(deadline));
        if (r == 0) {
            result = -ETIMEDOUT;
            break;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            result = negative_errno();
            break;
        }
        for (size_t i = 0; i < k; i++) {
            if (pfd[i].fd >= 0 && pfd[i].revents) {
                close(pfd[i].fd);
                pfd[i].fd = -1; /* poll ignores negative fds */
                done++;
            }
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (pfd[i].fd >= 0) {
            close(pfd[i].fd);
        }
    }
    free(pfd);
    return result;
}

int warden__tree_wait_empty(const struct warden_tree *t, bool include_holder,
                            warden_usec_t deadline)
{
    for (;;) {
        _cleanup_free_ struct proc_entry *v = NULL;
        size_t n = 0;
        int r = tree_entries(t, &v, &n);
        if (r < 0) {
            return r;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (include_holder || !is_ref(&v[i], &t->holder)) {
                v[k++] = v[i];
            }
        }
        if (k == 0) {
            return 0;
        }
        if (warden_now() >= deadline) {
            return -ETIMEDOUT;
        }
        /* New processes may appear while we wait (a fork racing the kill):
         * after these exit, look again. */
        r = wait_entries_exit(v, k, deadline);
        if (r < 0 && r != -ETIMEDOUT) {
            return r;
        }
    }
}

int warden__tree_kill(const struct warden_tree *t, warden_usec_t deadline)
{
    for (;;) {
        if (t->cgroup) {
            int r = warden__cgroup_kill(t->cgroup);
            if (r < 0 && r != -ENOENT) {
                return r;
            }
        } else {
            /* Kill the members but not the holder first: while it lives,
             * it adopts the orphans of what we kill, so they stay findable.
             * The holder last, through its own pidfd only: its bare pid may
             * be anyone's by now. Without one, it exits by itself once it
             * has no child. */
            warden__tree_signal(t, SIGKILL);
            if (warden__tree_wait_empty(t, false, deadline) == 0) {
                warden__pidref_signal(&t->holder, SIGKILL);
            }
        }
        int r = warden__tree_wait_empty(t, true, deadline);
        if (r != -ETIMEDOUT || warden_now() >= deadline) {
            return r;
        }
    }
}
