/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Processes: spawn, reference by pidfd, enumerate and kill a service's tree.
 *
 * Code that runs between fork() and exec() (child_exec, holder_main) calls
 * only async-signal-safe functions: the agent is multi-threaded, and another
 * thread may have held the malloc lock at the moment of the fork. Everything
 * those children need (argv, envp, groups) is prepared before the fork. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgroup-int.h"
#include "proc-int.h"
#include "util-int.h"

extern char **environ;

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

/* ---- commands ---------------------------------------------------------- */

void warden__strv_free(char **v)
{
    for (char **p = v; p && *p; p++) {
        free(*p);
    }
    free(v);
}

int warden__argv_split(const char *command, char ***ret_argv)
{
    size_t len = strlen(command);
    /* Each word needs at least one input byte plus a separator, so the
     * input length bounds both the word count and the total word size. */
    char **argv = calloc(len / 2 + 2, sizeof(char *));
    char *word = malloc(len + 1);
    if (!argv || !word) {
        free(argv);
        free(word);
        return -ENOMEM;
    }
    size_t n = 0;
    const char *p = command;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n') {
            p++;
        }
        if (!*p) {
            break;
        }
        size_t w = 0;
        char quote = 0;
        for (; *p && (quote || !(*p == ' ' || *p == '\t' || *p == '\n')); p++) {
            if (quote) {
                if (*p == quote) {
                    quote = 0;
                } else if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                    word[w++] = *++p;
                } else {
                    word[w++] = *p;
                }
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
            } else if (*p == '\\' && p[1]) {
                word[w++] = *++p;
            } else {
                word[w++] = *p;
            }
        }
        if (quote) {
            free(word);
            warden__strv_free(argv);
            return -EINVAL;
        }
        argv[n] = strndup(word, w);
        if (!argv[n++]) {
            free(word);
            warden__strv_free(argv);
            return -ENOMEM;
        }
    }
    free(word);
    if (n == 0) {
        warden__strv_free(argv);
        return -EINVAL;
    }
    *ret_argv = argv;
    return 0;
}

int warden__find_executable(const char *name, char **ret_path)
{
    if (isempty(name)) {
        return -ENOENT;
    }
    if (strchr(name, '/')) {
        struct stat st;
        if (stat(name, &st) < 0) {
            return negative_errno();
        }
        if (!S_ISREG(st.st_mode) || access(name, X_OK) < 0) {
            return -EACCES;
        }
        *ret_path = strdup(name);
        return *ret_path ? 0 : -ENOMEM;
    }
    const char *path = getenv("PATH");
    if (isempty(path)) {
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    }
    int result = -ENOENT;
    for (const char *dir = path; dir;) {
        const char *colon = strchr(dir, ':');
        size_t dlen = colon ? (size_t)(colon - dir) : strlen(dir);
        _cleanup_free_ char *candidate =
            warden__strdup_printf("%.*s/%s", (int)dlen, dlen ? dir : ".", name);
        if (!candidate) {
            return -ENOMEM;
        }
        struct stat st;
        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(candidate, X_OK) == 0) {
                *ret_path = TAKE_PTR(candidate);
                return 0;
            }
            result = -EACCES;
        }
        dir = colon ? colon + 1 : NULL;
    }
    return result;
}

int warden__exec_environment(char ***ret_envp)
{
    return warden__exec_environment_with(false, NULL, ret_envp);
}

static bool overridden(const char *entry, char *const extra[])
{
    size_t len = strcspn(entry, "=");
    for (size_t i = 0; extra && extra[i]; i++) {
        if (strncmp(extra[i], entry, len) == 0 && extra[i][len] == '=') {
            return true;
        }
    }
    return false;
}

int warden__exec_environment_with(bool keep_params, char *const extra[], char ***ret_envp)
{
    size_t n = 0, n_extra = 0;
    while (environ && environ[n]) {
        n++;
    }
    while (extra && extra[n_extra]) {
        n_extra++;
    }
    char **envp = calloc(n + n_extra + 1, sizeof(char *));
    if (!envp) {
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_extra; i++) {
        if (!(envp[k++] = strdup(extra[i]))) {
            warden__strv_free(envp);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        /* A service has no business with the agent's parameters; the
         * agent's own helpers (keeper, dump) need them. */
        if ((!keep_params &&
             (startswith(environ[i], "OCF_RESKEY_") || startswith(environ[i], "__OCF_"))) ||
            overridden(environ[i], extra)) {
            continue;
        }
        if (!(envp[k++] = strdup(environ[i]))) {
            warden__strv_free(envp);
            return -ENOMEM;
        }
    }
    *ret_envp = envp;
    return 0;
}

int warden__exec_set_user(struct warden_exec *e, const char *user)
{
    struct passwd pw, *result = NULL;
    char buf[4096];
    int r = getpwnam_r(user, &pw, buf, sizeof(buf), &result);
    if (r != 0 || !result) {
        return -ENXIO;
    }
    int n = 64;
    gid_t *groups = malloc((size_t)n * sizeof(gid_t));
    if (!groups) {
        return -ENOMEM;
    }
    if (getgrouplist(user, pw.pw_gid, groups, &n) < 0) {
        gid_t *bigger = realloc(groups, (size_t)n * sizeof(gid_t));
        if (!bigger) {
            free(groups);
            return -ENOMEM;
        }
        groups = bigger;
        if (getgrouplist(user, pw.pw_gid, groups, &n) < 0) {
            free(groups);
            return -EIO;
        }
    }
    free(e->groups);
    e->groups = groups;
    e->n_groups = n;
    e->uid = pw.pw_uid;
    e->gid = pw.pw_gid;
    e->set_user = true;
    return 0;
}

void warden__exec_copy_user(struct warden_exec *e, const struct warden_exec *from)
{
    if (!from || !from->set_user) {
        return;
    }
    e->set_user = true;
    e->uid = from->uid;
    e->gid = from->gid;
    e->groups = from->groups;
    e->n_groups = from->n_groups;
}

void warden__exec_done(struct warden_exec *e)
{
    warden__strv_free(e->argv);
    warden__strv_free(e->envp);
    free(e->groups);
    *e = (struct warden_exec){0};
}

/* ---- between fork and exec: async-signal-safe only --------------------- */

enum exec_step { STEP_EXEC, STEP_WORKDIR, STEP_USER, STEP_FORK, STEP_SETUP };

struct exec_report {
    pid_t pid;
    int error; /* errno; 0 when exec succeeded */
    int step;  /* enum exec_step */
};

static void write_all(int fd, const void *buf, size_t len)
{
    while (write(fd, buf, len) < 0 && errno == EINTR) {
    }
}

static void stdio_to_devnull(void)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) {
            close(null);
        }
    }
}

/* The agent may run with signals blocked or ignored; a service must start
 * with the defaults. */
static void reset_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            sigaction(sig, &dfl, NULL);
        }
    }
}

/* Never returns: execs, or reports the failure on err_fd and exits 127. */
static _Noreturn void child_exec(const struct warden_exec *e, int err_fd)
{
    struct exec_report rep = {.step = STEP_EXEC};
    reset_signals();
    if (e->set_user) {
        if (setgroups((size_t)e->n_groups, e->groups) < 0 || setgid(e->gid) < 0 ||
            setuid(e->uid) < 0) {
            rep.step = STEP_USER;
            goto fail;
        }
    }
    /* After the switch: the working directory is the user's to choose, so
     * it is entered with the user's rights, never root's (a symlink the
     * user planted in its path leads nowhere the user could not go). */
    if (chdir(e->workdir ? e->workdir : "/") < 0) {
        rep.step = STEP_WORKDIR;
        goto fail;
    }
    execve(e->argv[0], e->argv, e->envp);
fail:
    rep.error = errno;
    write_all(err_fd, &rep, sizeof(rep));
    _exit(127);
}

/* The holder: session leader and subreaper of the service's tree. It reports
 * the service's pid (or why it could not start) on report_fd, then reaps
 * every child until none is left, and exits. */
static _Noreturn void holder_main(const struct warden_exec *e, int report_fd, int cgroup_fd)
{
    struct exec_report rep = {.step = STEP_SETUP};
    /* "0" moves the writing process into the cgroup; its children follow. */
    if (cgroup_fd >= 0 && write(cgroup_fd, "0", 1) < 0) {
        goto fail;
    }
    /* A name that says what this process is, in ps and top. */
    prctl(PR_SET_NAME, "warden-holder");
    if (setsid() < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        goto fail;
    }
    stdio_to_devnull();
    /* Keep only stdio and the report pipe: an inherited pipe from the
     * executor would make Pacemaker wait for this process's exit. */
    if (dup2(report_fd, 3) < 0) {
        goto fail;
    }
    report_fd = 3;
    close_range(4, ~0U, 0);

    int err_pipe[2];
    if (pipe2(err_pipe, O_CLOEXEC) < 0) {
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rep.step = STEP_FORK;
        goto fail;
    }
    if (pid == 0) {
        close(err_pipe[0]);
        close(report_fd);
        /* The service gets a process group of its own inside the session,
         * so it looks like a job to anything that signals groups. */
        setpgid(0, 0);
        child_exec(e, err_pipe[1]);
    }
    close(err_pipe[1]);
    rep = (struct exec_report){.pid = pid};
    ssize_t n;
    do {
        n = read(err_pipe[0], &rep, sizeof(rep));
    } while (n < 0 && errno == EINTR);
    rep.pid = pid;
    close(err_pipe[0]);
    write_all(report_fd, &rep, sizeof(rep));
    close(report_fd);

    for (;;) {
        if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD) {
            _exit(0);
        }
    }
fail:
    rep.error = errno;
    write_all(report_fd, &rep, sizeof(rep));
    _exit(127);
}

static int report_to_errno(const struct exec_report *rep)
{
    switch (rep->step) {
    case STEP_WORKDIR:
        return -ENOENT;
    case STEP_USER:
        return -ENXIO;
    default:
        return rep->error > 0 ? -rep->error : -EIO;
    }
}

static int read_report(int fd, warden_usec_t deadline, struct exec_report *ret)
{
    size_t got = 0;
    while (got < sizeof(*ret)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
        if (r == 0) {
            return -ETIMEDOUT;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return negative_errno();
        }
        ssize_t n = read(fd, (char *)ret + got, sizeof(*ret) - got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return negative_errno();
        }
        if (n == 0) {
            return -EPIPE;
        }
        got += (size_t)n;
    }
    return 0;
}

int warden__tree_spawn(const struct warden_exec *e, const char *cgroup, warden_usec_t deadline,
                       struct warden_pidref *ret_holder, struct warden_pidref *ret_main)
{
    _cleanup_close_ int cgroup_fd = -EBADF;
    if (cgroup) {
        cgroup_fd = warden__cgroup_open_procs(cgroup);
        if (cgroup_fd < 0) {
            return cgroup_fd;
        }
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        return negative_errno();
    }
    _cleanup_close_ int rd = pipefd[0];
    pid_t holder = fork();
    if (holder < 0) {
        close(pipefd[1]);
        return negative_errno();
    }
    if (holder == 0) {
        close(pipefd[0]);
        holder_main(e, pipefd[1], cgroup_fd);
    }
    close(pipefd[1]);

    struct warden_pidref h = WARDEN_PIDREF_NULL;
    int r = warden__pidref_open(holder, 0, &h);
    if (r < 0) {
        /* No pidfd (out of fds, or valgrind). The start time, read while
         * the holder is our unreaped child, still tells its session from a
         * later one under the same id. */
        struct warden_proc_stat st = {0};
        warden__proc_stat(holder, &st);
        h = (struct warden_pidref){.pid = holder, .fd = -EBADF, .starttime = st.starttime};
    }
    struct exec_report rep;
    int rr = read_report(rd, deadline, &rep);
    if (rr < 0 || rep.error) {
        /* The holder exits by itself once its child is gone; make sure. */
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
        warden__pidref_done(&h);
        return rr < 0 ? rr : report_to_errno(&rep);
    }
    /* The holder's parent is the agent, which exits soon; reap it if it is
     * already gone so no zombie of ours outlives us. */
    waitpid(holder, NULL, WNOHANG);
    struct warden_pidref m = WARDEN_PIDREF_NULL;
    if (warden__pidref_open(rep.pid, 0, &m) < 0) {
        /* A service that exits at once: report it started and let the
         * caller's health check see it gone. */
        m = (struct warden_pidref){.pid = rep.pid, .fd = -EBADF};
    }
    *ret_holder = h;
    *ret_main = m;
    return 0;
}

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

/* ---- short-lived commands ---------------------------------------------- */

/* Wait for our child to exit without reaping it: until it is reaped, its pid
 * (and so its session id) cannot be anyone else's. 1 once it exited. */
static int wait_child_exit(const struct warden_pidref *child, warden_usec_t deadline)
{
    if (child->fd >= 0) {
        int r = warden__pidref_wait_exit(child, deadline);
        return r < 0 ? r : 1;
    }
    /* No pidfd (kernel < 5.3, or valgrind): the one place we must poll,
     * bounded by the deadline. */
    for (;;) {
        siginfo_t info = {0};
        if (waitid(P_PID, (id_t)child->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return negative_errno();
        }
        if (info.si_pid == child->pid) {
            return 1;
        }
        if (warden_now() >= deadline) {
            return -ETIMEDOUT;
        }
        usleep(10000);
    }
}

int warden__run(const struct warden_exec *e, warden_usec_t deadline, int *ret_status)
{
    int err_pipe[2];
    if (pipe2(err_pipe, O_CLOEXEC) < 0) {
        return negative_errno();
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(err_pipe[0]);
        close(err_pipe[1]);
        return negative_errno();
    }
    if (pid == 0) {
        close(err_pipe[0]);
        setsid();
        stdio_to_devnull();
        if (e->stdout_fd > 0) {
            dup2(e->stdout_fd, STDOUT_FILENO);
            dup2(e->stdout_fd, STDERR_FILENO);
        }
        /* Nothing of the agent's but stdio reaches the command, which may
         * run as the service's user: a log file libqb or a library opened
         * without O_CLOEXEC would otherwise be readable and writable by it.
         * CLOEXEC rather than close: the error pipe must live until exec. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
            /* Before Linux 5.11: close all but the error pipe. */
            if (err_pipe[1] > 3) {
                close_range(3, (unsigned)err_pipe[1] - 1, 0);
            }
            close_range((unsigned)err_pipe[1] + 1, ~0U, 0);
        }
        if (e->fsize_limit > 0) {
            struct rlimit lim = {.rlim_cur = e->fsize_limit, .rlim_max = e->fsize_limit};
            setrlimit(RLIMIT_FSIZE, &lim);
        }
        child_exec(e, err_pipe[1]);
    }
    close(err_pipe[1]);
    struct exec_report rep = {0};
    ssize_t n;
    do {
        n = read(err_pipe[0], &rep, sizeof(rep));
    } while (n < 0 && errno == EINTR);
    close(err_pipe[0]);
    if (n == (ssize_t)sizeof(rep)) {
        waitpid(pid, NULL, 0);
        return report_to_errno(&rep);
    }
    _cleanup_close_ int fd = pidfd_open(pid, 0);
    struct warden_pidref ref = {.pid = pid, .fd = fd};
    struct warden_proc_stat st;
    if (warden__proc_stat(pid, &st) == 0) {
        ref.starttime = st.starttime;
    }
    int r = wait_child_exit(&ref, deadline);
    if (r < 0) {
        /* Still ours and unreaped: the pid is this command. */
        kill(pid, SIGKILL);
    }
    /* Whatever the command left in its session (a check that backgrounds
     * something, a process group of its own, or all of it at the deadline)
     * ends with it: a check must not leak a process per monitor. Only then
     * is the command reaped, and its pid free. */
    struct warden_tree t = {.holder = ref, .main = WARDEN_PIDREF_NULL};
    warden__tree_kill(&t, warden_deadline_in(WARDEN_USEC_PER_SEC));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (r < 0) {
        return r;
    }
    *ret_status = status;
    return 0;
}

pid_t warden__spawn_detached(const char *path, char *const argv[], int ready_fd,
                             char *const extra_env[])
{
    char **envp = NULL;
    int r = warden__exec_environment_with(ready_fd >= 0, extra_env, &envp);
    if (r < 0) {
        return r;
    }
    pid_t pid = fork();
    if (pid < 0) {
        r = negative_errno();
        warden__strv_free(envp);
        return r;
    }
    if (pid == 0) {
        setsid();
        reset_signals();
        if (ready_fd >= 0) {
            /* dup2 onto itself would keep O_CLOEXEC; clear it then. */
            if (ready_fd == 3) {
                fcntl(3, F_SETFD, 0);
            } else {
                dup2(ready_fd, 3);
            }
            close_range(4, ~0U, 0);
        } else {
            close_range(3, ~0U, 0);
        }
        stdio_to_devnull();
        execve(path, argv, envp);
        _exit(127);
    }
    warden__strv_free(envp);
    return pid;
}
