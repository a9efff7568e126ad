/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Starting processes (the processes' room: proc-int.h): what to run and as
 * whom, the holder of a service's tree, short-lived commands, detached
 * helpers.
 *
 * Code that runs between fork() and exec() (child_exec, holder_main) calls
 * only async-signal-safe functions: the agent is multi-threaded, and another
 * thread may have held the malloc lock at the moment of the fork. Everything
 * those children need (argv, envp, groups) is prepared before the fork. */
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
#include <sys/wait.h>

#include "cgroup-int.h"
#include "environ-int.h"
#include "proc-int.h"
#include "util-int.h"

extern char **environ;

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

/* WATCHDOG_PID (sd_notify) must name the service's own process, which does
 * not exist before the fork: the entry comes as a placeholder of ten digits
 * (service.c), filled here in the child's copy of the environment. */
static void fill_watchdog_pid(char **envp)
{
    static const char name[] = "WATCHDOG_PID=";
    for (char **v = envp; v && *v; v++) {
        if (strncmp(*v, name, sizeof(name) - 1) == 0 && strlen(*v + sizeof(name) - 1) >= 10) {
            char digits[12];
            int n = 0;
            for (unsigned long pid = (unsigned long)getpid(); n == 0 || pid; pid /= 10) {
                digits[n++] = (char)('0' + pid % 10);
            }
            char *at = *v + sizeof(name) - 1;
            while (n > 0) {
                *at++ = digits[--n];
            }
            *at = '\0';
        }
    }
}

/* Never returns: execs, or reports the failure on err_fd and exits 127. */
static _Noreturn void child_exec(const struct warden_exec *e, int err_fd)
{
    struct exec_report rep = {.step = STEP_EXEC};
    reset_signals();
    fill_watchdog_pid(e->envp);
    if (warden__environ_child_apply(e->environ) < 0) {
        rep.step = STEP_SETUP;
        goto fail;
    }
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
static _Noreturn void holder_main(const struct warden_exec *e, int report_fd, int cgroup_fd,
                                  int gate_fd)
{
    struct exec_report rep = {.step = STEP_SETUP};
    /* Placed from outside (a systemd unit): nothing is forked before the
     * parent says the holder is where it belongs; EOF means it is not. */
    if (gate_fd >= 0) {
        char go;
        ssize_t n;
        do {
            n = read(gate_fd, &go, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) {
            _exit(127);
        }
        close(gate_fd);
    }
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
    if (e->stdout_fd > STDERR_FILENO) {
        /* The service's output (output.c), inherited by its processes. */
        dup2(e->stdout_fd, STDOUT_FILENO);
        dup2(e->stdout_fd, STDERR_FILENO);
    }
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
    return warden__tree_spawn_placed(e, cgroup, NULL, NULL, deadline, ret_holder, ret_main);
}

int warden__tree_spawn_placed(const struct warden_exec *e, const char *cgroup,
                              warden_place_fn place, void *userdata, warden_usec_t deadline,
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
    int gate[2] = {-EBADF, -EBADF};
    if (place && pipe2(gate, O_CLOEXEC) < 0) {
        int r = negative_errno();
        close(pipefd[1]);
        return r;
    }
    pid_t holder = fork();
    if (holder < 0) {
        int r = negative_errno();
        close(pipefd[1]);
        if (place) {
            close(gate[0]);
            close(gate[1]);
        }
        return r;
    }
    if (holder == 0) {
        close(pipefd[0]);
        if (place) {
            close(gate[1]);
        }
        holder_main(e, pipefd[1], cgroup_fd, gate[0]);
    }
    close(pipefd[1]);
    if (place) {
        close(gate[0]);
        _cleanup_close_ int go = gate[1];
        int r = place(holder, userdata, deadline);
        if (r == 0 && write(go, "1", 1) != 1) {
            r = negative_errno();
        }
        if (r < 0) {
            /* Not where it belongs: it must not run the service. */
            kill(holder, SIGKILL);
            waitpid(holder, NULL, 0);
            return r;
        }
    }

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
    return warden__spawn_detached_pass(path, argv, ready_fd, -EBADF, extra_env);
}

pid_t warden__spawn_detached_pass(const char *path, char *const argv[], int ready_fd, int pass_fd,
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
        if (pass_fd >= 0 && pass_fd < 5) {
            /* Out of the way of 3 and 4 first. */
            pass_fd = fcntl(pass_fd, F_DUPFD_CLOEXEC, 5);
        }
        if (ready_fd >= 0) {
            /* dup2 onto itself would keep O_CLOEXEC; clear it then. */
            if (ready_fd == 3) {
                fcntl(3, F_SETFD, 0);
            } else {
                dup2(ready_fd, 3);
            }
            if (pass_fd >= 0) {
                dup2(pass_fd, 4);
            }
            close_range(pass_fd >= 0 ? 5 : 4, ~0U, 0);
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
