/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Processes (lib/proc*.c, with lib/cgroup.c underneath): command lines,
 * executables, pidfd references, the holder's process tree with and without
 * a cgroup, and short-lived commands.
 *
 * The holders the library forks are children of this test process; the
 * common teardown reaps them and fails a test that left one running. Each
 * test that starts a tree records it in `cur`, so that a failed test still
 * kills what it started (in CK_FORK=no runs, where the teardown runs after a
 * failure). */
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "check_common.h"

#include "cgroup-int.h"
#include "proc-int.h"
#include "service-int.h"
#include "warden/probe.h"

#define MS  WARDEN_USEC_PER_MSEC
#define SEC WARDEN_USEC_PER_SEC

/* How late a bounded wait may end after its deadline, on a loaded machine
 * or under valgrind. */
#define SLACK_MS 300

/* What the current test started, for the clean-up hook. */
static struct {
    struct warden_tree tree;
    bool live;
    char *cgroup;
    char *saved_path;
    char tmpdir[64];
} cur;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void remove_tmpdir(void)
{
    if (cur.tmpdir[0]) {
        nftw(cur.tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        cur.tmpdir[0] = '\0';
    }
}

static void cleanup(void)
{
    if (cur.live) {
        warden__tree_kill(&cur.tree, warden_deadline_in(5 * SEC));
        cur.live = false;
    }
    if (cur.cgroup) {
        if (warden__cgroup_populated(cur.cgroup) > 0) {
            warden__cgroup_kill(cur.cgroup);
            warden__cgroup_wait_empty(cur.cgroup, warden_deadline_in(5 * SEC));
        }
        /* Reap the holder first: the cgroup cannot go while it is busy. */
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        warden__cgroup_remove(cur.cgroup);
        free(cur.cgroup);
        cur.cgroup = NULL;
    }
    unsetenv("WARDEN_CGROUP");
    if (cur.saved_path) {
        setenv("PATH", cur.saved_path, 1);
        free(cur.saved_path);
        cur.saved_path = NULL;
    }
    remove_tmpdir();
}

/* ---- helpers ------------------------------------------------------------ */

static const char *make_tmpdir(void)
{
    snprintf(cur.tmpdir, sizeof(cur.tmpdir), "/tmp/check-proc-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cur.tmpdir));
    return cur.tmpdir;
}

static char *tmp_path(const char *name)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", cur.tmpdir, name), 0);
    return p;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* An exec description for argv, with the agent's environment. */
static void exec_init(struct warden_exec *e, const char *const *argv)
{
    *e = (struct warden_exec){0};
    size_t n = 0;
    while (argv[n]) {
        n++;
    }
    e->argv = calloc(n + 1, sizeof(char *));
    ck_assert_ptr_nonnull(e->argv);
    for (size_t i = 0; i < n; i++) {
        e->argv[i] = strdup(argv[i]);
    }
    ck_assert_int_eq(warden__exec_environment(&e->envp), 0);
}

static int ms_left(warden_usec_t deadline)
{
    warden_usec_t now = warden_now();
    return now >= deadline ? 0 : (int)((deadline - now + MS - 1) / MS);
}

/* A FIFO the service writes its pids to: the only way out of a tree whose
 * stdio is /dev/null and whose other fds are closed. Opened non-blocking
 * for reading first, so that the writer never blocks. */
static int open_fifo(const char *name, char **ret_path)
{
    char *path = tmp_path(name);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    *ret_path = path;
    return fd;
}

/* Read one pid, written as a line, within the deadline. */
static pid_t read_pid(int fd, warden_usec_t deadline)
{
    char buf[32];
    size_t got = 0;
    while (!memchr(buf, '\n', got)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, ms_left(deadline));
        ck_assert_msg(r > 0, "no pid from the service in time");
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        ck_assert_msg(n > 0, "the service closed the fifo without writing a pid");
        got += (size_t)n;
    }
    buf[got] = '\0';
    return (pid_t)atoi(buf);
}

/* Gone: reaped, or a zombie waiting for a parent that will never come (in
 * containers whose pid 1 does not reap, orphans stay zombies). */
static bool gone(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH) {
        return true;
    }
    struct warden_proc_stat st;
    return warden__proc_stat(pid, &st) == -ESRCH || st.state == 'Z';
}

/* Wait until a process is gone, on its pidfd. */
static bool wait_gone(pid_t pid, warden_usec_t deadline)
{
    int fd = pidfd_open(pid, 0);
    if (fd < 0) {
        return errno == ESRCH;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, ms_left(deadline));
    close(fd);
    return r > 0;
}

/* Whether a process has an fd open on the object /proc shows as `link`
 * (e.g. "pipe:[1234]"). */
static bool has_fd_to(pid_t pid, const char *link)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    ck_assert_msg(d, "%s: %s", dir, strerror(errno));
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        char path[320], target[256];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            found = strcmp(target, link) == 0;
        }
    }
    closedir(d);
    return found;
}

static bool pids_contain(const pid_t *pids, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++) {
        if (pids[i] == pid) {
            return true;
        }
    }
    return false;
}

/* A cgroup for this test, or NULL (and a message) where the kernel has no
 * cgroup v2 with cgroup.kill: the one precondition that may be absent. */
static const char *test_cgroup(const char *test)
{
    char name[64];
    snprintf(name, sizeof(name), "check-proc-%d", (int)getpid());
    int r = warden__cgroup_create(name, &cur.cgroup);
    if (r == -ENOMEDIUM || r == -EOPNOTSUPP) {
        check_skip(test, r == -ENOMEDIUM ? "no cgroup v2 hierarchy mounted"
                                         : "cgroup v2 without cgroup.kill (Linux < 5.14)");
        return NULL;
    }
    ck_assert_msg(r == 0, "warden__cgroup_create: %s", strerror(-r));
    return cur.cgroup;
}

static void read_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
}

static void readlink_proc(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    ssize_t n = readlink(path, buf, size - 1);
    ck_assert_msg(n >= 0, "%s: %s", path, strerror(errno));
    buf[n] = '\0';
}

/* ---- command lines -------------------------------------------------------- */

static void expect_split(const char *command, const char *const *want)
{
    char **argv = NULL;
    int r = warden__argv_split(command, &argv);
    ck_assert_msg(r == 0, "split(%s): %s", command, strerror(-r));
    size_t i = 0;
    for (; want[i]; i++) {
        ck_assert_msg(argv[i], "split(%s): word %zu missing", command, i);
        ck_assert_str_eq(argv[i], want[i]);
    }
    ck_assert_msg(!argv[i], "split(%s): extra word '%s'", command, argv[i]);
    warden__strv_free(argv);
}

START_TEST(test_argv_split)
{
    expect_split("/bin/echo a  b", (const char *[]){"/bin/echo", "a", "b", NULL});
    expect_split("  lead\ttab\nnewline  ", (const char *[]){"lead", "tab", "newline", NULL});
    expect_split("x 'a b' \"c d\"", (const char *[]){"x", "a b", "c d", NULL});
    /* Quotes join with what touches them, as in sh. */
    expect_split("ab'cd'\"ef\"g", (const char *[]){"abcdefg", NULL});
    /* An empty quoted word is a word. */
    expect_split("a '' b", (const char *[]){"a", "", "b", NULL});
    /* Backslash: escapes anything outside quotes, only " and \ inside
     * double quotes, nothing inside single quotes. */
    expect_split("a\\ b", (const char *[]){"a b", NULL});
    expect_split("\\'x\\\"", (const char *[]){"'x\"", NULL});
    expect_split("\"a\\\"b\\\\c\\n\"", (const char *[]){"a\"b\\c\\n", NULL});
    expect_split("'a\\b'", (const char *[]){"a\\b", NULL});
    expect_split("\"it's\" 'say \"hi\"'", (const char *[]){"it's", "say \"hi\"", NULL});
    /* No expansion of any kind. */
    expect_split("$HOME * ~ `id` $(id)",
                 (const char *[]){"$HOME", "*", "~", "`id`", "$(id)", NULL});
    /* The word array is sized from the input; the densest input fills it. */
    expect_split("a b c d e f g h", (const char *[]){"a", "b", "c", "d", "e", "f", "g", "h", NULL});
    expect_split("'' '' ''", (const char *[]){"", "", "", NULL});
}
END_TEST

START_TEST(test_argv_split_rejects)
{
    static const char *const bad[] = {"", "   ", "\t\n", "'abc", "\"abc", "a 'b c", "a \"b\\\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char **argv = (char **)&bad; /* a sentinel: must stay untouched */
        ck_assert_msg(warden__argv_split(bad[i], &argv) == -EINVAL, "'%s' accepted", bad[i]);
        ck_assert_ptr_eq(argv, (char **)&bad);
    }
}
END_TEST

START_TEST(test_find_executable)
{
    char *path = NULL;
    ck_assert_int_eq(warden__find_executable("sh", &path), 0);
    ck_assert_msg(path[0] == '/' && strcmp(strrchr(path, '/'), "/sh") == 0, "found %s", path);
    ck_assert_int_eq(access(path, X_OK), 0);
    free(path);

    ck_assert_int_eq(warden__find_executable("/bin/sh", &path), 0);
    ck_assert_str_eq(path, "/bin/sh");
    free(path);

    path = (char *)"untouched";
    ck_assert_int_eq(warden__find_executable("/nonexistent", &path), -ENOENT);
    ck_assert_int_eq(warden__find_executable("no-such-command-warden", &path), -ENOENT);
    ck_assert_int_eq(warden__find_executable("", &path), -ENOENT);
    /* A directory is not an executable, even with x bits. */
    ck_assert_int_eq(warden__find_executable("/tmp", &path), -EACCES);

    /* Not executable: root has every permission but x needs an x bit. */
    make_tmpdir();
    char *noexec = tmp_path("noexec");
    write_file(noexec, "#!/bin/sh\n", 0644);
    ck_assert_int_eq(warden__find_executable(noexec, &path), -EACCES);
    ck_assert_str_eq(path, "untouched");

    /* Through PATH, as execvp: a non-executable match is skipped for a later
     * executable one, and reported (-EACCES) only when none follows. */
    char *a = tmp_path("a"), *b = tmp_path("b");
    ck_assert_int_eq(mkdir(a, 0755), 0);
    ck_assert_int_eq(mkdir(b, 0755), 0);
    char *a_tool = tmp_path("a/tool"), *b_tool = tmp_path("b/tool");
    write_file(a_tool, "#!/bin/sh\n", 0644);
    cur.saved_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *search = NULL;
    ck_assert_int_ge(asprintf(&search, "%s:/nonexistent-dir", a), 0);
    setenv("PATH", search, 1);
    ck_assert_int_eq(warden__find_executable("tool", &path), -EACCES);
    write_file(b_tool, "#!/bin/sh\n", 0755);
    free(search);
    ck_assert_int_ge(asprintf(&search, "%s:%s", a, b), 0);
    setenv("PATH", search, 1);
    ck_assert_int_eq(warden__find_executable("tool", &path), 0);
    ck_assert_str_eq(path, b_tool);
    free(path);
    free(search);
    free(noexec);
    free(a);
    free(b);
    free(a_tool);
    free(b_tool);
}
END_TEST

START_TEST(test_exec_environment)
{
    /* The service inherits our environment but not the agent's own
     * parameters (they may hold secrets meant for the agent). */
    setenv("OCF_RESKEY_password", "secret", 1);
    setenv("__OCF_ACTION", "start", 1);
    setenv("CHECK_PROC_KEEP", "kept", 1);
    char **envp = NULL;
    int r = warden__exec_environment(&envp);
    unsetenv("OCF_RESKEY_password");
    unsetenv("__OCF_ACTION");
    unsetenv("CHECK_PROC_KEEP");
    ck_assert_int_eq(r, 0);
    bool kept = false;
    for (char **e = envp; *e; e++) {
        ck_assert_msg(strncmp(*e, "OCF_RESKEY_", 11) != 0, "%s passed on", *e);
        ck_assert_msg(strncmp(*e, "__OCF_", 6) != 0, "%s passed on", *e);
        kept = kept || strcmp(*e, "CHECK_PROC_KEEP=kept") == 0;
    }
    ck_assert(kept);
    warden__strv_free(envp);
}
END_TEST

START_TEST(test_exec_set_user)
{
    struct warden_exec e = {0};
    ck_assert_int_eq(warden__exec_set_user(&e, "no-such-user-warden"), -ENXIO);
    ck_assert(!e.set_user);
    ck_assert_int_eq(warden__exec_set_user(&e, "root"), 0);
    ck_assert(e.set_user);
    ck_assert_uint_eq(e.uid, 0);
    ck_assert_uint_eq(e.gid, 0);
    ck_assert_int_ge(e.n_groups, 1);
    warden__exec_done(&e);
    ck_assert_ptr_null(e.groups);
}
END_TEST

/* ---- process references ------------------------------------------------- */

/* A child that runs `sh -c 'read x; exit 3'` with stdin on a pipe: alive
 * until the test closes the pipe. It execs at once, so nothing of this
 * process (or of valgrind) runs in it. */
static pid_t spawn_reader(int *ret_wfd)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[0], STDIN_FILENO);
        execl("/bin/sh", "sh", "-c", "read x; exit 3", (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    *ret_wfd = fds[1];
    return pid;
}

START_TEST(test_pidref)
{
    CHECK_REQUIRE_PIDFD();
    int wfd;
    pid_t pid = spawn_reader(&wfd);
    struct warden_pidref ref = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__pidref_open(pid, 0, &ref), 0);
    ck_assert(warden__pidref_is_set(&ref));
    ck_assert(warden__pidref_alive(&ref));
    struct warden_proc_stat st;
    ck_assert_int_eq(warden__proc_stat(pid, &st), 0);
    ck_assert_uint_eq(ref.starttime, st.starttime);
    ck_assert_int_eq(st.ppid, getpid());

    /* The same pid with another start time is another process. */
    struct warden_pidref other = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__pidref_open(pid, st.starttime + 1, &other), -ESRCH);
    ck_assert(!warden__pidref_is_set(&other));
    ck_assert_int_eq(warden__pidref_open(pid, st.starttime, &other), 0);
    warden__pidref_done(&other);
    ck_assert_int_eq(warden__pidref_open(0, 0, &other), -ESRCH);
    ck_assert_int_eq(warden__pidref_open(-1, 0, &other), -ESRCH);

    /* A live process: waiting for it ends at the deadline. */
    warden_usec_t start = warden_now();
    ck_assert_int_eq(warden__pidref_wait_exit(&ref, start + 100 * MS), -ETIMEDOUT);
    ck_assert_int_ge(check_ms_since(start), 100);
    ck_assert_int_lt(check_ms_since(start), 100 + SLACK_MS);

    /* It exits; nobody has reaped it yet. A zombie is dead. */
    close(wfd);
    ck_assert_int_eq(warden__pidref_wait_exit(&ref, warden_deadline_in(5 * SEC)), 0);
    ck_assert(!warden__pidref_alive(&ref));
    ck_assert_int_eq(warden__proc_stat(pid, &st), 0);
    ck_assert_int_eq(st.state, 'Z');
    ck_assert_int_eq(warden__pidref_open(pid, 0, &other), -ESRCH);

    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    ck_assert(!warden__pidref_alive(&ref));
    ck_assert_int_eq(warden__proc_stat(pid, &st), -ESRCH);
    ck_assert_int_eq(warden__pidref_signal(&ref, 0), -ESRCH);

    /* A reference that was never set is dead and harmless. */
    warden__pidref_done(&ref);
    ck_assert_int_eq(ref.pid, 0);
    ck_assert_int_eq(ref.fd, -EBADF);
    ck_assert(!warden__pidref_is_set(&ref));
    ck_assert(!warden__pidref_alive(&ref));
    ck_assert_int_eq(warden__pidref_signal(&ref, SIGKILL), -ESRCH);
    ck_assert_int_eq(warden__pidref_wait_exit(&ref, warden_now()), 0);
    warden__pidref_done(&ref);
}
END_TEST

START_TEST(test_pidref_signal)
{
    CHECK_REQUIRE_PIDFD();
    int wfd;
    pid_t pid = spawn_reader(&wfd);
    struct warden_pidref ref = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__pidref_open(pid, 0, &ref), 0);
    ck_assert_int_eq(warden__pidref_signal(&ref, SIGKILL), 0);
    ck_assert_int_eq(warden__pidref_wait_exit(&ref, warden_deadline_in(5 * SEC)), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    warden__pidref_done(&ref);
    close(wfd);
}
END_TEST

START_TEST(test_proc_stat)
{
    /* The command name may hold ") (" and spaces; the fields after it must
     * still be read right. */
    int ready[2], hold[2];
    ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_NAME, "a) R 1 (b");
        char c = 0;
        (void)!write(ready[1], &c, 1);
        (void)!read(hold[0], &c, 1);
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    struct warden_proc_stat st;
    ck_assert_int_eq(warden__proc_stat(pid, &st), 0);
    ck_assert_int_eq(st.ppid, getpid());
    ck_assert_int_eq(st.pgrp, getpgrp());
    ck_assert_int_eq(st.sid, getsid(0));
    ck_assert_uint_gt(st.starttime, 0);
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    close(ready[0]);
    close(hold[1]);
    ck_assert_int_eq(warden__proc_stat(pid, &st), -ESRCH);
}
END_TEST

/* ---- the process tree ------------------------------------------------------ */

/* Start `sleep 1000`; look at where everything sits; kill the tree. */
static void spawn_sleep_and_kill(const char *cgroup)
{
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/bin/sleep", "1000", NULL});
    /* The service must start with default signal handling, whatever the
     * agent blocks or ignores. */
    sigset_t block, saved_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, &saved_mask), 0);
    struct sigaction ign = {.sa_handler = SIG_IGN}, saved_usr1;
    ck_assert_int_eq(sigaction(SIGUSR1, &ign, &saved_usr1), 0);

    /* An fd the agent leaks to its children (no O_CLOEXEC), as a library
     * linked into an agent might. */
    int marker[2];
    ck_assert_int_eq(pipe(marker), 0);
    char marker_name[16], marker_link[64];
    snprintf(marker_name, sizeof(marker_name), "fd/%d", marker[1]);
    readlink_proc(getpid(), marker_name, marker_link, sizeof(marker_link));

    struct warden_pidref holder = WARDEN_PIDREF_NULL, main_ = WARDEN_PIDREF_NULL;
    int r = warden__tree_spawn(&e, cgroup, warden_deadline_in(5 * SEC), &holder, &main_);
    sigprocmask(SIG_SETMASK, &saved_mask, NULL);
    sigaction(SIGUSR1, &saved_usr1, NULL);
    ck_assert_msg(r == 0, "tree_spawn: %s", strerror(-r));
    cur.tree = (struct warden_tree){.holder = holder, .main = main_, .cgroup = cgroup};
    cur.live = true;
    ck_assert(warden__pidref_is_set(&holder));
    ck_assert(warden__pidref_is_set(&main_));
    ck_assert(warden__pidref_alive(&main_));

    /* The holder: our child, a session leader, named for ps. */
    struct warden_proc_stat hst, mst;
    ck_assert_int_eq(warden__proc_stat(holder.pid, &hst), 0);
    ck_assert_int_eq(hst.ppid, getpid());
    ck_assert_int_eq(hst.sid, holder.pid);
    char buf[4096];
    read_proc_file(holder.pid, "comm", buf, sizeof(buf));
    ck_assert_str_eq(buf, "warden-holder\n");
    /* The service: the holder's child, in its session, its own group. */
    ck_assert_int_eq(warden__proc_stat(main_.pid, &mst), 0);
    ck_assert_int_eq(mst.ppid, holder.pid);
    ck_assert_int_eq(mst.sid, holder.pid);
    ck_assert_int_eq(mst.pgrp, main_.pid);
    /* Stdio on /dev/null, and no fd of the agent's: an inherited pipe would
     * keep Pacemaker waiting for the agent's output. (Not a count of fds:
     * the service may hold a file of its own for a moment as it starts.)
     * And the cwd is /. */
    ck_assert(has_fd_to(getpid(), marker_link));
    close(marker[0]);
    close(marker[1]);
    ck_assert_msg(!has_fd_to(holder.pid, marker_link), "the holder inherited %s", marker_link);
    ck_assert_msg(!has_fd_to(main_.pid, marker_link), "the service inherited %s", marker_link);
    for (int fd = 0; fd < 3; fd++) {
        char name[16];
        snprintf(name, sizeof(name), "fd/%d", fd);
        readlink_proc(main_.pid, name, buf, sizeof(buf));
        ck_assert_str_eq(buf, "/dev/null");
    }
    readlink_proc(main_.pid, "cwd", buf, sizeof(buf));
    ck_assert_str_eq(buf, "/");
    read_proc_file(main_.pid, "status", buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "SigBlk:\t0000000000000000"));
    ck_assert_ptr_nonnull(strstr(buf, "SigIgn:\t0000000000000000"));

    /* The tree is the holder and the service, not us. */
    pid_t *pids = NULL;
    size_t n = 0;
    ck_assert_int_eq(warden__tree_pids(&cur.tree, &pids, &n), 0);
    ck_assert(pids_contain(pids, n, main_.pid));
    ck_assert(pids_contain(pids, n, holder.pid));
    ck_assert(!pids_contain(pids, n, getpid()));
    free(pids);
    ck_assert(warden__tree_contains(&cur.tree, main_.pid));
    ck_assert(!warden__tree_contains(&cur.tree, getpid()));
    if (cgroup) {
        ck_assert_int_eq(warden__cgroup_populated(cgroup), 1);
        ck_assert_int_eq(warden__cgroup_wait_empty(cgroup, warden_deadline_in(100 * MS)),
                         -ETIMEDOUT);
        read_proc_file(main_.pid, "cgroup", buf, sizeof(buf));
        ck_assert_msg(strstr(buf, strrchr(cgroup, '/')), "not in %s: %s", cgroup, buf);
    }

    warden_usec_t start = warden_now();
    ck_assert_int_eq(warden__tree_kill(&cur.tree, start + 5 * SEC), 0);
    ck_assert_int_lt(check_ms_since(start), 2000);
    cur.live = false;
    ck_assert(!warden__pidref_alive(&main_));
    ck_assert(!warden__pidref_alive(&holder));
    ck_assert(gone(main_.pid));
    ck_assert_int_eq(waitpid(holder.pid, NULL, WNOHANG), holder.pid);
    if (cgroup) {
        ck_assert_int_eq(warden__cgroup_populated(cgroup), 0);
    }
    warden__pidref_done(&holder);
    warden__pidref_done(&main_);
    warden__exec_done(&e);
}

START_TEST(test_tree_spawn_kill_session)
{
    CHECK_REQUIRE_PIDFD();
    /* WARDEN_CGROUP=off forces the fallback on a machine with cgroups, so
     * that the session + subreaper path is tested here too. */
    setenv("WARDEN_CGROUP", "off", 1);
    char *root = NULL, *path = NULL;
    ck_assert_int_eq(warden__cgroup_root(&root), -ENOMEDIUM);
    ck_assert_int_eq(warden__cgroup_create("check-proc-off", &path), -ENOMEDIUM);
    ck_assert_ptr_null(root);
    ck_assert_ptr_null(path);
    spawn_sleep_and_kill(NULL);
}
END_TEST

START_TEST(test_tree_spawn_kill_cgroup)
{
    CHECK_REQUIRE_PIDFD();
    const char *cgroup = test_cgroup(__func__);
    if (!cgroup) {
        return;
    }
    /* Creating it again is fine and gives the same path. */
    char *again = NULL;
    ck_assert_int_eq(warden__cgroup_create(strrchr(cgroup, '/') + 1, &again), 0);
    ck_assert_str_eq(again, cgroup);
    free(again);
    ck_assert_int_eq(warden__cgroup_populated(cgroup), 0);
    ck_assert_int_eq(warden__cgroup_wait_empty(cgroup, warden_now()), 0);

    spawn_sleep_and_kill(cgroup);

    ck_assert_int_eq(warden__cgroup_remove(cgroup), 0);
    struct stat st;
    ck_assert_int_eq(stat(cgroup, &st), -1);
    /* Gone is gone: removing again is fine, asking about it is -ENOENT. */
    ck_assert_int_eq(warden__cgroup_remove(cgroup), 0);
    ck_assert_int_eq(warden__cgroup_populated(cgroup), -ENOENT);
    ck_assert_int_eq(warden__cgroup_wait_empty(cgroup, warden_now()), 0);
}
END_TEST

/* A service manager removes a cgroup of its own (systemd, a scope's) the
 * moment it is empty: as the kill ends the last process, it may be removed
 * between warden's open of one of its files and the read or write, which
 * the kernel answers with ENODEV. A cgroup removed under the kill is an
 * empty one, not a failed stop (which is fencing): found by the chaos lab,
 * a forking service's stop answered "0 process(es) survived SIGKILL" and its
 * node was fenced. The remover here is a thread that tries rmdir without a
 * pause, which makes the race likely: without the fix, a few of these
 * kills fail. */
static atomic_bool remover_stop;

static void *remove_when_empty(void *path)
{
    while (!remover_stop && rmdir(path) < 0 && errno == EBUSY) {
    }
    return NULL;
}

START_TEST(test_tree_kill_cgroup_removed_under_it)
{
    CHECK_REQUIRE_PIDFD();
    const char *cgroup = test_cgroup(__func__);
    if (!cgroup) {
        return;
    }
    enum { ROUNDS = 300 };
    int failed = 0, first = 0;
    for (int i = 0; i < ROUNDS; i++) {
        char *again = NULL;
        ck_assert_int_eq(warden__cgroup_create(strrchr(cgroup, '/') + 1, &again), 0);
        free(again);
        struct warden_exec e;
        exec_init(&e, (const char *[]){"/bin/sleep", "1000", NULL});
        struct warden_pidref holder = WARDEN_PIDREF_NULL, main_ = WARDEN_PIDREF_NULL;
        int r = warden__tree_spawn(&e, cgroup, warden_deadline_in(5 * SEC), &holder, &main_);
        ck_assert_msg(r == 0, "tree_spawn: %s", strerror(-r));
        cur.tree = (struct warden_tree){.holder = holder, .main = main_, .cgroup = cgroup};
        cur.live = true;

        pthread_t remover;
        remover_stop = false;
        ck_assert_int_eq(pthread_create(&remover, NULL, remove_when_empty, (void *)cgroup), 0);
        r = warden__tree_kill(&cur.tree, warden_deadline_in(5 * SEC));
        remover_stop = true;
        pthread_join(remover, NULL);
        if (r != 0 && failed++ == 0) {
            first = r;
        }
        ck_assert(!warden__pidref_alive(&main_));
        cur.live = false;
        ck_assert_int_eq(waitpid(holder.pid, NULL, 0), holder.pid);
        warden__pidref_done(&holder);
        warden__pidref_done(&main_);
        warden__exec_done(&e);
    }
    ck_assert_msg(failed == 0, "%d of %d kills failed (first: %s)", failed, ROUNDS,
                  strerror(-first));
}
END_TEST

/* The case the holder exists for: a service that ignores SIGTERM and whose
 * child double-forks into a session of its own. SIGTERM leaves all of it
 * running; the tree still lists the escaped process; the kill ends all of
 * it, within a bound. */
static void escaped_tree(const char *cgroup)
{
    make_tmpdir();
    /* The escaped process reports its pid on one fifo; the service, once
     * the subshell that forked it has exited, reports its sleep's on the
     * other. By then the escaped process is an orphan, adopted by the
     * holder (a subreaper), in a session of its own. */
    char *fifo = NULL, *fifo2 = NULL;
    int fifo_fd = open_fifo("escaped", &fifo);
    int fifo2_fd = open_fifo("main", &fifo2);
    char *script = NULL;
    ck_assert_int_ge(asprintf(&script,
                              "trap '' TERM; "
                              "( setsid sh -c 'trap \"\" TERM; echo $$ > %s; exec sleep 1000' & ); "
                              "sleep 1000 & echo $! > %s; wait",
                              fifo, fifo2),
                     0);
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/bin/sh", "-c", script, NULL});
    struct warden_pidref holder = WARDEN_PIDREF_NULL, main_ = WARDEN_PIDREF_NULL;
    int r = warden__tree_spawn(&e, cgroup, warden_deadline_in(5 * SEC), &holder, &main_);
    ck_assert_msg(r == 0, "tree_spawn: %s", strerror(-r));
    cur.tree = (struct warden_tree){.holder = holder, .main = main_, .cgroup = cgroup};
    cur.live = true;
    pid_t escaped = read_pid(fifo_fd, warden_deadline_in(5 * SEC));
    pid_t sleeper = read_pid(fifo2_fd, warden_deadline_in(5 * SEC));

    /* It did escape the session, and the holder adopted it. */
    struct warden_proc_stat est, sst;
    ck_assert_int_eq(warden__proc_stat(escaped, &est), 0);
    ck_assert_int_eq(est.sid, escaped);
    ck_assert_int_ne(est.sid, holder.pid);
    ck_assert_int_eq(est.ppid, holder.pid);
    ck_assert_int_eq(warden__proc_stat(sleeper, &sst), 0);
    ck_assert_int_eq(sst.ppid, main_.pid);
    ck_assert_int_eq(sst.sid, holder.pid);

    /* Still part of the tree: by cgroup, or as a descendant of the holder. */
    pid_t *pids = NULL;
    size_t n = 0;
    ck_assert_int_eq(warden__tree_pids(&cur.tree, &pids, &n), 0);
    ck_assert(pids_contain(pids, n, main_.pid));
    ck_assert(pids_contain(pids, n, sleeper));
    ck_assert_msg(pids_contain(pids, n, escaped), "escaped pid %d not in the tree", (int)escaped);
    ck_assert(!pids_contain(pids, n, getpid()));
    /* Hold every one of them by pidfd, so that "dead" below is about these
     * processes and not whatever reuses their pids. One that exits on its
     * own meanwhile (the subshell) is simply not held. */
    struct warden_pidref *refs = calloc(n, sizeof(*refs));
    ck_assert_ptr_nonnull(refs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        refs[k] = WARDEN_PIDREF_NULL;
        if (warden__pidref_open(pids[i], 0, &refs[k]) == 0) {
            k++;
        }
    }
    free(pids);
    ck_assert_uint_ge(k, 4); /* holder, sh, its sleep, the escaped sleep */

    /* SIGTERM reaches them all, and all ignore it. */
    int sent = warden__tree_signal(&cur.tree, SIGTERM);
    ck_assert_int_ge(sent, 3);
    ck_assert_int_eq(warden__tree_wait_empty(&cur.tree, false, warden_deadline_in(300 * MS)),
                     -ETIMEDOUT);
    for (size_t i = 0; i < k; i++) {
        if (refs[i].pid == main_.pid || refs[i].pid == sleeper || refs[i].pid == escaped) {
            ck_assert_msg(warden__pidref_alive(&refs[i]), "%d died of SIGTERM", (int)refs[i].pid);
        }
    }

    warden_usec_t start = warden_now();
    ck_assert_int_eq(warden__tree_kill(&cur.tree, start + 5 * SEC), 0);
    ck_assert_int_lt(check_ms_since(start), 2000);
    cur.live = false;
    for (size_t i = 0; i < k; i++) {
        ck_assert_msg(!warden__pidref_alive(&refs[i]), "pid %d survived", (int)refs[i].pid);
        ck_assert_msg(gone(refs[i].pid), "pid %d survived", (int)refs[i].pid);
        warden__pidref_done(&refs[i]);
    }
    free(refs);
    ck_assert(gone(escaped));
    ck_assert_int_eq(warden__tree_pids(&cur.tree, &pids, &n), 0);
    ck_assert_uint_eq(n, 0);
    free(pids);
    if (cgroup) {
        ck_assert_int_eq(warden__cgroup_populated(cgroup), 0);
    }
    ck_assert_int_eq(waitpid(holder.pid, NULL, WNOHANG), holder.pid);

    warden__pidref_done(&holder);
    warden__pidref_done(&main_);
    warden__exec_done(&e);
    close(fifo_fd);
    close(fifo2_fd);
    free(fifo);
    free(fifo2);
    free(script);
}

START_TEST(test_tree_escape_session)
{
    CHECK_REQUIRE_PIDFD();
    setenv("WARDEN_CGROUP", "off", 1);
    escaped_tree(NULL);
}
END_TEST

START_TEST(test_tree_escape_cgroup)
{
    CHECK_REQUIRE_PIDFD();
    const char *cgroup = test_cgroup(__func__);
    if (!cgroup) {
        return;
    }
    escaped_tree(cgroup);
    ck_assert_int_eq(warden__cgroup_remove(cgroup), 0);
}
END_TEST

START_TEST(test_tree_service_exits)
{
    CHECK_REQUIRE_PIDFD();
    /* A service that exits at once still "started" (the caller's health
     * check tells); the holder then has no child and exits by itself. */
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/bin/true", NULL});
    struct warden_pidref holder = WARDEN_PIDREF_NULL, main_ = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__tree_spawn(&e, NULL, warden_deadline_in(5 * SEC), &holder, &main_), 0);
    cur.tree = (struct warden_tree){.holder = holder, .main = main_};
    cur.live = true;
    ck_assert_int_gt(main_.pid, 0);
    ck_assert_int_eq(warden__tree_wait_empty(&cur.tree, true, warden_deadline_in(5 * SEC)), 0);
    ck_assert_int_eq(warden__pidref_wait_exit(&holder, warden_deadline_in(5 * SEC)), 0);
    /* Reaped by us, or already by warden__tree_spawn() if the holder was
     * gone before it returned. */
    pid_t w = waitpid(holder.pid, NULL, WNOHANG);
    ck_assert_msg(w == holder.pid || (w < 0 && errno == ECHILD), "holder not reaped: %d", (int)w);
    cur.live = false;
    ck_assert(!warden__pidref_alive(&main_));
    warden__pidref_done(&holder);
    warden__pidref_done(&main_);
    warden__exec_done(&e);
}
END_TEST

/* Spawn must fail with r and leave its outputs and no process behind. */
static void expect_spawn_fails(struct warden_exec *e, int want)
{
    struct warden_pidref holder = {.pid = 4242, .fd = -EBADF}, main_ = {.pid = 4343, .fd = -EBADF};
    int r = warden__tree_spawn(e, NULL, warden_deadline_in(5 * SEC), &holder, &main_);
    ck_assert_msg(r == want, "tree_spawn gave %d (%s), want %d", r, strerror(-r), want);
    ck_assert_int_eq(holder.pid, 4242);
    ck_assert_int_eq(main_.pid, 4343);
    /* The holder was reaped by the library, not left to us. */
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}

START_TEST(test_tree_spawn_failures)
{
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/nonexistent/daemon", NULL});
    expect_spawn_fails(&e, -ENOENT);
    warden__exec_done(&e);

    exec_init(&e, (const char *[]){"/bin/true", NULL});
    e.workdir = "/nonexistent-workdir";
    expect_spawn_fails(&e, -ENOENT);
    warden__exec_done(&e);

    make_tmpdir();
    char *noexec = tmp_path("noexec");
    write_file(noexec, "#!/bin/sh\n", 0644);
    exec_init(&e, (const char *[]){noexec, NULL});
    expect_spawn_fails(&e, -EACCES);
    warden__exec_done(&e);
    free(noexec);
}
END_TEST

/* A placement (a systemd unit on systemd hosts) sees the holder before it
 * has forked anything; the service starts only once it said yes. */
struct placed {
    pid_t holder;
    int children; /* the holder's children while it was being placed */
    bool ran;
    int answer;
};

static int place_probe(pid_t holder, void *userdata, warden_usec_t deadline)
{
    struct placed *p = userdata;
    char path[64], buf[256] = "";
    p->ran = true;
    p->holder = holder;
    /* Give a holder that did not wait the time to fork. */
    usleep(100000);
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)holder, (int)holder);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    p->children = fgets(buf, sizeof(buf), f) && buf[0] && buf[0] != '\n' ? 1 : 0;
    fclose(f);
    ck_assert(deadline > warden_now());
    return p->answer;
}

START_TEST(test_tree_spawn_placed)
{
    CHECK_REQUIRE_PIDFD();
    make_tmpdir();
    char *marker = tmp_path("ran");
    char script[512];
    snprintf(script, sizeof(script), "touch %s; exec sleep 1000", marker);
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/bin/sh", "-c", script, NULL});

    /* Refused: the holder is killed and reaped, the command never ran. */
    struct placed no = {.answer = -EIO};
    struct warden_pidref holder = WARDEN_PIDREF_NULL, main_ = WARDEN_PIDREF_NULL;
    int r = warden__tree_spawn_placed(&e, NULL, place_probe, &no, warden_deadline_in(5 * SEC),
                                      &holder, &main_);
    ck_assert_int_eq(r, -EIO);
    ck_assert(no.ran);
    ck_assert_int_eq(no.children, 0);
    ck_assert_int_eq(holder.pid, 0);
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    ck_assert_int_eq(access(marker, F_OK), -1);

    /* Placed: the holder had forked nothing while it was; then it runs. */
    struct placed yes = {.answer = 0};
    r = warden__tree_spawn_placed(&e, NULL, place_probe, &yes, warden_deadline_in(5 * SEC), &holder,
                                  &main_);
    ck_assert_msg(r == 0, "tree_spawn_placed: %s", strerror(-r));
    cur.tree = (struct warden_tree){.holder = holder, .main = main_};
    cur.live = true;
    ck_assert_int_eq(yes.holder, holder.pid);
    ck_assert_int_eq(yes.children, 0);
    ck_assert(warden__pidref_alive(&main_));
    ck_assert_int_eq(warden__tree_kill(&cur.tree, warden_deadline_in(5 * SEC)), 0);
    cur.live = false;
    waitpid(holder.pid, NULL, 0);
    warden__pidref_done(&holder);
    warden__pidref_done(&main_);
    warden__exec_done(&e);
    free(marker);
}
END_TEST

START_TEST(test_tree_spawn_as_user)
{
    CHECK_REQUIRE_PIDFD();
    /* The user switch happens in the service, not in the holder. */
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/bin/sleep", "1000", NULL});
    int r = warden__exec_set_user(&e, "nobody");
    if (r == -ENXIO) {
        check_skip(__func__, "no user 'nobody' on this machine");
        warden__exec_done(&e);
        return;
    }
    ck_assert_int_eq(r, 0);
    struct warden_pidref holder = WARDEN_PIDREF_NULL, main_ = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__tree_spawn(&e, NULL, warden_deadline_in(5 * SEC), &holder, &main_), 0);
    cur.tree = (struct warden_tree){.holder = holder, .main = main_};
    cur.live = true;
    char buf[4096], want[64];
    read_proc_file(main_.pid, "status", buf, sizeof(buf));
    snprintf(want, sizeof(want), "\nUid:\t%u\t%u\t%u\t%u\n", e.uid, e.uid, e.uid, e.uid);
    ck_assert_msg(strstr(buf, want), "service uid is not %u", e.uid);
    read_proc_file(holder.pid, "status", buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "\nUid:\t0\t0\t0\t0\n"));
    ck_assert_int_eq(warden__tree_kill(&cur.tree, warden_deadline_in(5 * SEC)), 0);
    cur.live = false;
    ck_assert_int_eq(waitpid(holder.pid, NULL, 0), holder.pid);
    warden__pidref_done(&holder);
    warden__pidref_done(&main_);
    warden__exec_done(&e);
}
END_TEST

/* ---- detached processes (the keeper, warden-push) ------------------------- */

/* Start `script` detached, with or without a ready pipe; the script reports
 * on the pipe (fd 3) or, without one, on a fifo; then it execs sleep. Checks
 * what the process got, then kills and reaps it (it is our child). */
static void spawn_detached_case(bool with_ready)
{
    make_tmpdir();
    char *fifo = NULL;
    int fifo_fd = open_fifo("fifo", &fifo);
    int ready[2];
    ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
    int marker[2];
    ck_assert_int_eq(pipe(marker), 0); /* leaks into children unless closed */
    char marker_name[16], marker_link[64], ready_link[64];
    snprintf(marker_name, sizeof(marker_name), "fd/%d", marker[1]);
    readlink_proc(getpid(), marker_name, marker_link, sizeof(marker_link));
    snprintf(marker_name, sizeof(marker_name), "fd/%d", ready[1]);
    readlink_proc(getpid(), marker_name, ready_link, sizeof(ready_link));

    char *script = NULL;
    ck_assert_int_ge(asprintf(&script,
                              "echo \"${WARDEN_REPORT_FD:-none} ${OCF_RESKEY_check_x:-none}\" "
                              "> %s; exec sleep 1000",
                              with_ready ? "/dev/fd/3" : fifo),
                     0);
    char *argv[] = {(char *)"check-detached", (char *)"-c", script, NULL};
    setenv("OCF_RESKEY_check_x", "given", 1);
    char *env[] = {(char *)"WARDEN_REPORT_FD=3", NULL};
    pid_t pid = warden__spawn_detached("/bin/sh", argv, with_ready ? ready[1] : -EBADF,
                                       with_ready ? env : NULL);
    unsetenv("OCF_RESKEY_check_x");
    close(ready[1]);
    ck_assert_int_gt(pid, 0);

    char line[64] = "";
    int from = with_ready ? ready[0] : fifo_fd;
    struct pollfd pfd = {.fd = from, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
    ssize_t n = read(from, line, sizeof(line) - 1);
    ck_assert_int_gt(n, 0);
    line[n] = '\0';
    /* With a ready pipe: the keeper's full environment (its parameters
     * included) and the pipe as fd 3. Without: no agent parameters. */
    ck_assert_str_eq(line, with_ready ? "3 given\n" : "none none\n");

    struct warden_proc_stat st;
    ck_assert_int_eq(warden__proc_stat(pid, &st), 0);
    ck_assert_int_eq(st.ppid, getpid());
    ck_assert_int_eq(st.sid, pid);
    ck_assert(has_fd_to(getpid(), marker_link));
    ck_assert_msg(!has_fd_to(pid, marker_link), "the detached process inherited %s", marker_link);
    if (with_ready) {
        char link[64];
        readlink_proc(pid, "fd/3", link, sizeof(link));
        ck_assert_str_eq(link, ready_link);
    }
    char buf[64];
    readlink_proc(pid, "fd/0", buf, sizeof(buf));
    ck_assert_str_eq(buf, "/dev/null");

    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    close(ready[0]);
    close(marker[0]);
    close(marker[1]);
    close(fifo_fd);
    free(fifo);
    free(script);
}

START_TEST(test_spawn_detached)
{
    spawn_detached_case(true);
    remove_tmpdir();
    spawn_detached_case(false);

    /* It does not wait for the exec: a missing program is a child that
     * fails (127; under valgrind, whose own checks run in a child that never
     * execs, possibly valgrind's error code instead). */
    char *argv[] = {(char *)"missing", NULL};
    pid_t pid = warden__spawn_detached("/nonexistent/warden-push", argv, -EBADF, NULL);
    ck_assert_int_gt(pid, 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x", status);
}
END_TEST

/* ---- short-lived commands --------------------------------------------------- */

static int run_argv(const char *const *argv, const char *workdir, warden_usec_t deadline,
                    int *ret_status)
{
    struct warden_exec e;
    exec_init(&e, argv);
    e.workdir = workdir;
    int r = warden__run(&e, deadline, ret_status);
    warden__exec_done(&e);
    return r;
}

START_TEST(test_run_status)
{
    warden_usec_t deadline = warden_deadline_in(5 * SEC);
    int status = -1;
    ck_assert_int_eq(run_argv((const char *[]){"/bin/true", NULL}, NULL, deadline, &status), 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(run_argv((const char *[]){"/bin/false", NULL}, NULL, deadline, &status), 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    ck_assert_int_eq(
        run_argv((const char *[]){"/bin/sh", "-c", "exit 7", NULL}, NULL, deadline, &status), 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    /* Its own session, stdio on /dev/null, the working directory asked for. */
    ck_assert_int_eq(run_argv((const char *[]){"/bin/sh", "-c",
                                               "set -- $(cat /proc/$$/stat) && test $6 -eq $$ && "
                                               "test \"$(readlink /proc/$$/fd/1)\" = /dev/null && "
                                               "test \"$(pwd)\" = /tmp",
                                               NULL},
                              "/tmp", deadline, &status),
                     0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);

    /* Failures to start are errors, not statuses; status is untouched. */
    status = -1;
    ck_assert_int_eq(
        run_argv((const char *[]){"/nonexistent/check", NULL}, NULL, deadline, &status), -ENOENT);
    ck_assert_int_eq(
        run_argv((const char *[]){"/bin/true", NULL}, "/nonexistent-workdir", deadline, &status),
        -ENOENT);
    ck_assert_int_eq(status, -1);
}
END_TEST

/* A command that outlives its deadline: -ETIMEDOUT soon after it, and the
 * command's whole session dies with it. `background` is started in the
 * background and reports its pid on the fifo. */
static void run_past_deadline(const char *background)
{
    make_tmpdir();
    char *fifo = NULL;
    int fifo_fd = open_fifo("fifo", &fifo);
    char *script = NULL;
    ck_assert_int_ge(asprintf(&script, "%s & echo $! > %s; sleep 1000", background, fifo), 0);
    warden_usec_t start = warden_now();
    int status = 12345;
    int r =
        run_argv((const char *[]){"/bin/sh", "-c", script, NULL}, NULL, start + 300 * MS, &status);
    ck_assert_int_eq(r, -ETIMEDOUT);
    long long ms = check_ms_since(start);
    ck_assert_int_ge(ms, 300);
    ck_assert_int_lt(ms, 300 + SLACK_MS);
    ck_assert_int_eq(status, 12345);
    pid_t bg = read_pid(fifo_fd, warden_deadline_in(1 * SEC));
    close(fifo_fd);
    free(fifo);
    free(script);
    /* Clean up before asserting: with CK_FORK a failed test gets no
     * teardown. */
    remove_tmpdir();
    ck_assert_int_gt(bg, 1);
    bool dead = wait_gone(bg, warden_deadline_in(2 * SEC));
    if (!dead) {
        /* Do not leave it (and, if it leads a group, its group) behind. */
        kill(-bg, SIGKILL);
        kill(bg, SIGKILL);
    }
    ck_assert_msg(dead, "'%s' (pid %d) in the command's session survived the deadline", background,
                  (int)bg);
}

START_TEST(test_run_timeout)
{
    CHECK_REQUIRE_PIDFD();
    run_past_deadline("sleep 1000");
}
END_TEST

START_TEST(test_run_timeout_other_process_group)
{
    CHECK_REQUIRE_PIDFD();
    /* The whole session, not only the command's process group: a member
     * that moved to a group of its own must die too. coreutils `timeout`
     * does exactly that (setpgid), so a check script that uses it would
     * leak a process on every hung monitor. (Regression test: warden__run
     * once killed only with kill(-pid).) */
    run_past_deadline("timeout 1000 sleep 1000");
}
END_TEST

/* ---- a recycled holder pid ------------------------------------------------------ */

/* Fork a child that gets pid `want` (through ns_last_pid; another process
 * may take the pid first, so it tries a few times). The child makes a
 * session of its own, forks a grandchild into it, reports the grandchild's
 * pid on the pipe and waits: an unrelated process that holds the dead
 * holder's pid as pid and as session id, and has a child below it. Returns
 * 0 when the pid could not be had (no permission: not root). */
static pid_t fork_at_pid(pid_t want, pid_t *ret_grandchild)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            return 0;
        }
        char text[16];
        int len = snprintf(text, sizeof(text), "%d", (int)want - 1);
        bool written = write(fd, text, (size_t)len) == len;
        close(fd);
        if (!written) {
            return 0;
        }
        int report[2];
        ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            /* Both exec, so that nothing of the test (Check's handlers and
             * its pipe to the runner) lives on in them. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            setsid();
            pid_t g = fork();
            if (g == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                execl("/bin/sleep", "sleep", "1000", (char *)NULL);
                _exit(127);
            }
            (void)!write(report[1], &g, sizeof(g));
            execl("/bin/sleep", "sleep", "1000", (char *)NULL);
            _exit(127);
        }
        close(report[1]);
        pid_t g = 0;
        ck_assert_int_eq(read(report[0], &g, sizeof(g)), (ssize_t)sizeof(g));
        close(report[0]);
        if (pid == want) {
            *ret_grandchild = g;
            return pid;
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ck_abort_msg("pid %d was taken by others 100 times", (int)want);
    return 0;
}

START_TEST(test_tree_recycled_holder_pid)
{
    CHECK_REQUIRE_PIDFD();
    /* The service crashes; its holder, with no child left, exits, and its
     * pid goes to an unrelated process that makes it its session id too.
     * The state still names the old holder (pid and start time), as a
     * later stop or start reads it: nothing of the unrelated process is
     * the service's. (Regression test: the session fallback once counted
     * `pid == holder`, `sid == holder` and the holder's descendants, and
     * SIGKILLed the unrelated process and its child.) */
    setenv("WARDEN_CGROUP", "off", 1);
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/bin/sleep", "1000", NULL});
    struct warden_pidref holder = WARDEN_PIDREF_NULL, main_ = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__tree_spawn(&e, NULL, warden_deadline_in(5 * SEC), &holder, &main_), 0);
    cur.tree = (struct warden_tree){.holder = holder, .main = main_};
    cur.live = true;
    ck_assert_int_eq(warden__pidref_signal(&main_, SIGKILL), 0);
    ck_assert_int_eq(warden__pidref_wait_exit(&holder, warden_deadline_in(5 * SEC)), 0);
    ck_assert_int_eq(waitpid(holder.pid, NULL, 0), holder.pid);
    cur.live = false;

    /* What a later action loads from the state: pids and start times, no
     * pidfd (the processes are gone). */
    struct warden_tree recorded = {
        .holder = {.pid = holder.pid, .fd = -EBADF, .starttime = holder.starttime},
        .main = {.pid = main_.pid, .fd = -EBADF, .starttime = main_.starttime},
    };
    /* A start time is counted in clock ticks (10 ms here): a process made
     * within the same tick under the same pid is indistinguishable from the
     * holder. Outside a test that needs the whole pid space cycled within
     * one tick; here ns_last_pid hands the pid over at once, so let a tick
     * pass (the test failed now and then without this). */
    usleep(30 * 1000);
    pid_t grandchild = 0;
    pid_t victim = fork_at_pid(holder.pid, &grandchild);
    if (victim == 0) {
        check_skip(__func__, "cannot write /proc/sys/kernel/ns_last_pid (not root)");
        warden__pidref_done(&holder);
        warden__pidref_done(&main_);
        warden__exec_done(&e);
        return;
    }
    struct warden_pidref v = WARDEN_PIDREF_NULL, g = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__pidref_open(victim, 0, &v), 0);
    ck_assert_int_eq(warden__pidref_open(grandchild, 0, &g), 0);
    struct warden_proc_stat st;
    ck_assert_int_eq(warden__proc_stat(grandchild, &st), 0);
    ck_assert_int_eq(st.sid, holder.pid);

    pid_t *pids = NULL;
    size_t n = 0;
    ck_assert_int_eq(warden__tree_pids(&recorded, &pids, &n), 0);
    bool listed = pids_contain(pids, n, victim) || pids_contain(pids, n, grandchild);
    free(pids);
    int sent = warden__tree_signal(&recorded, SIGTERM);
    int killed = warden__tree_kill(&recorded, warden_deadline_in(2 * SEC));
    bool victim_alive = warden__pidref_alive(&v), grandchild_alive = warden__pidref_alive(&g);
    /* Clean up before asserting: with CK_FORK a failed test gets no
     * teardown. */
    warden__pidref_signal(&g, SIGKILL);
    warden__pidref_signal(&v, SIGKILL);
    waitpid(victim, NULL, 0);
    warden__pidref_done(&v);
    warden__pidref_done(&g);
    warden__pidref_done(&holder);
    warden__pidref_done(&main_);
    warden__exec_done(&e);
    ck_assert_msg(!listed, "the unrelated process under the old holder's pid counted as the tree");
    ck_assert_int_eq(sent, 0);
    ck_assert_int_eq(killed, 0);
    ck_assert_msg(victim_alive, "the unrelated process %d was killed", (int)victim);
    ck_assert_msg(grandchild_alive, "the unrelated process's child %d was killed", (int)grandchild);
}
END_TEST

START_TEST(test_tree_dead_holder_leftovers)
{
    CHECK_REQUIRE_PIDFD();
    /* The holder itself was killed; what the service ran lives on in its
     * session. The session id alone (no pidfd of the holder or the main
     * process) still finds it, and the kill ends it. */
    setenv("WARDEN_CGROUP", "off", 1);
    make_tmpdir();
    char *fifo = NULL;
    int fifo_fd = open_fifo("left", &fifo);
    char *script = NULL;
    ck_assert_int_ge(asprintf(&script, "sleep 1000 & echo $! > %s; wait", fifo), 0);
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/bin/sh", "-c", script, NULL});
    struct warden_pidref holder = WARDEN_PIDREF_NULL, main_ = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__tree_spawn(&e, NULL, warden_deadline_in(5 * SEC), &holder, &main_), 0);
    cur.tree = (struct warden_tree){.holder = holder, .main = main_};
    cur.live = true;
    pid_t sleeper = read_pid(fifo_fd, warden_deadline_in(5 * SEC));
    struct warden_pidref s = WARDEN_PIDREF_NULL;
    ck_assert_int_eq(warden__pidref_open(sleeper, 0, &s), 0);
    ck_assert_int_eq(warden__pidref_signal(&holder, SIGKILL), 0);
    ck_assert_int_eq(waitpid(holder.pid, NULL, 0), holder.pid);

    struct warden_tree recorded = {
        .holder = {.pid = holder.pid, .fd = -EBADF, .starttime = holder.starttime},
        .main = {.pid = main_.pid, .fd = -EBADF, .starttime = main_.starttime},
    };
    pid_t *pids = NULL;
    size_t n = 0;
    ck_assert_int_eq(warden__tree_pids(&recorded, &pids, &n), 0);
    ck_assert(pids_contain(pids, n, main_.pid));
    ck_assert(pids_contain(pids, n, sleeper));
    free(pids);
    ck_assert_int_eq(warden__tree_kill(&recorded, warden_deadline_in(5 * SEC)), 0);
    cur.live = false;
    ck_assert(!warden__pidref_alive(&s));
    ck_assert(!warden__pidref_alive(&main_));
    warden__pidref_done(&s);
    warden__pidref_done(&holder);
    warden__pidref_done(&main_);
    warden__exec_done(&e);
    close(fifo_fd);
    free(fifo);
    free(script);
}
END_TEST

/* ---- the service (lib/service.c) on top of the tree ----------------------------- */

/* A service of no parameters, its state under the test's directory. */
static struct warden_service *test_service(void)
{
    setenv("WARDEN_STATE_DIR", make_tmpdir(), 1);
    char name[64];
    snprintf(name, sizeof(name), "procs-check-%d", (int)getpid());
    struct warden_service *s = NULL;
    ck_assert_int_eq(warden__service_new(NULL, name, false, &s, NULL), 0);
    ck_assert_int_eq(mkdir(s->state_dir, 0700), 0);
    return s;
}

static void write_state_file(struct warden_service *s)
{
    char *path = NULL, *text = NULL;
    ck_assert_int_ge(asprintf(&path, "%s/service", s->state_dir), 0);
    ck_assert_int_ge(asprintf(&text, "holder %d %llu\nmain %d %llu\n", (int)s->holder.pid,
                              (unsigned long long)s->holder.starttime, (int)s->main.pid,
                              (unsigned long long)s->main.starttime),
                     0);
    write_file(path, text, 0644);
    free(path);
    free(text);
}

/* Start `before FIFO after` as the service's tree; the script reports a pid
 * on the fifo. */
static pid_t service_spawn(struct warden_service *s, struct warden_exec *e, const char *before,
                           const char *after)
{
    char *fifo = NULL;
    int fifo_fd = open_fifo("report", &fifo);
    char *script = NULL;
    ck_assert_int_ge(asprintf(&script, "%s%s%s", before, fifo, after), 0);
    exec_init(e, (const char *[]){"/bin/sh", "-c", script, NULL});
    ck_assert_int_eq(
        warden__tree_spawn(e, s->cgroup, warden_deadline_in(5 * SEC), &s->holder, &s->main), 0);
    cur.tree = (struct warden_tree){.holder = s->holder, .main = s->main, .cgroup = s->cgroup};
    cur.live = true;
    pid_t pid = read_pid(fifo_fd, warden_deadline_in(5 * SEC));
    close(fifo_fd);
    free(fifo);
    free(script);
    return pid;
}

static void service_half_there(const char *cgroup)
{
    /* The main process crashes; its child lives on in the service's
     * cgroup or session. That is a failed service (-EIO, OCF 1), not a
     * stopped one (-ESRCH, OCF 7): a "not running" would let Pacemaker
     * start it elsewhere beside what is left here. */
    struct warden_service *s = test_service();
    s->cgroup = cgroup ? strdup(cgroup) : NULL;
    struct warden_exec e;
    pid_t child = service_spawn(s, &e, "sleep 1000 & echo $! > ", "; exec sleep 1000");
    ck_assert_int_eq(warden__service_status(s, NULL), 0);
    ck_assert_int_eq(warden__pidref_signal(&s->main, SIGKILL), 0);
    ck_assert_int_eq(warden__pidref_wait_exit(&s->main, warden_deadline_in(5 * SEC)), 0);
    char *reason = NULL;
    int r = warden__service_status(s, &reason);
    ck_assert_msg(r == -EIO, "status %d (%s), want -EIO", r, reason ? reason : "");
    ck_assert_ptr_nonnull(strstr(reason, "1 other process(es) of it still run"));
    free(reason);
    reason = NULL;
    /* Once the rest is gone too, the service is stopped. */
    ck_assert_int_eq(warden__tree_kill(&cur.tree, warden_deadline_in(5 * SEC)), 0);
    cur.live = false;
    ck_assert(gone(child));
    waitpid(s->holder.pid, NULL, 0);
    ck_assert_int_eq(warden__service_status(s, &reason), -ESRCH);
    ck_assert_ptr_nonnull(strstr(reason, "is gone"));
    free(reason);
    warden__service_free(s);
    warden__exec_done(&e);
    unsetenv("WARDEN_STATE_DIR");
}

START_TEST(test_service_half_there_session)
{
    CHECK_REQUIRE_PIDFD();
    setenv("WARDEN_CGROUP", "off", 1);
    service_half_there(NULL);
}
END_TEST

START_TEST(test_service_half_there_cgroup)
{
    CHECK_REQUIRE_PIDFD();
    const char *cgroup = test_cgroup(__func__);
    if (cgroup) {
        service_half_there(cgroup);
    }
}
END_TEST

START_TEST(test_service_abandon_loads_state)
{
    CHECK_REQUIRE_PIDFD();
    /* An operation that ran over its deadline before it loaded anything (a
     * stop stuck before it read the state): the clean-up must find the
     * service through the state file and kill it, for its 0 means "stopped".
     * (Regression test: it once returned 0 at once, leaving all of it.) */
    setenv("WARDEN_CGROUP", "off", 1);
    struct warden_service *spawned = test_service();
    struct warden_exec e;
    pid_t child = service_spawn(spawned, &e, "sleep 1000 & echo $! > ", "; exec sleep 1000");
    write_state_file(spawned);

    struct warden_service *s = NULL;
    ck_assert_int_eq(warden__service_new(NULL, spawned->instance, false, &s, NULL), 0);
    int r = warden__service_abandon(s, warden_deadline_in(5 * SEC));
    bool main_alive = warden__pidref_alive(&spawned->main);
    if (main_alive) {
        warden__tree_kill(&cur.tree, warden_deadline_in(5 * SEC));
    }
    cur.live = false;
    waitpid(spawned->holder.pid, NULL, 0);
    ck_assert_int_eq(r, 0);
    ck_assert_msg(!main_alive, "the service survived its abandoned stop");
    ck_assert(gone(child));
    ck_assert_int_eq(access(s->state_dir, F_OK), -1); /* state removed */
    warden__service_free(s);

    /* A state it cannot read: it cannot tell, so it is no success. */
    ck_assert_int_eq(mkdir(spawned->state_dir, 0700), 0);
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s/service", spawned->state_dir), 0);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(warden__service_new(NULL, spawned->instance, false, &s, NULL), 0);
    check_log_expect_errors();
    ck_assert_int_eq(warden__service_abandon(s, warden_deadline_in(1 * SEC)), -EIO);
    rmdir(path);
    free(path);
    warden__service_free(s);
    warden__service_free(spawned);
    warden__exec_done(&e);
    unsetenv("WARDEN_STATE_DIR");
}
END_TEST

START_TEST(test_service_pidfile_not_regular)
{
    CHECK_REQUIRE_PIDFD();
    /* The pidfile sits where the service's user writes. A FIFO there (or a
     * symlink to one) must not block the status call, which runs on the
     * keeper's loop; a symlink, even to a good pidfile, is not followed.
     * (Regression test: root once opened it with a plain open(), which
     * waits for a writer on a FIFO.) */
    setenv("WARDEN_CGROUP", "off", 1);
    struct warden_service *s = test_service();
    struct warden_exec e;
    pid_t child = service_spawn(s, &e, "echo $$ > ", "; exec sleep 1000");
    ck_assert_int_eq(child, s->main.pid);
    char *good = tmp_path("good.pid"), *fifo = tmp_path("fifo"), *link = tmp_path("link.pid");
    char text[32];
    snprintf(text, sizeof(text), "%d\n", (int)child);
    write_file(good, text, 0644);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    /* The main process as recorded is gone (a re-exec, say): status asks
     * the pidfile who runs now. */
    struct warden_pidref real = s->main;
    s->main = (struct warden_pidref){.pid = real.pid, .fd = -EBADF, .starttime = 1};
    s->pidfile = good;
    ck_assert_int_eq(warden__service_status(s, NULL), 0);
    ck_assert_int_eq(s->main.pid, child);
    warden__pidref_done(&s->main);

    const char *const targets[] = {fifo, fifo, good};
    for (int i = 0; i < 3; i++) {
        s->main = (struct warden_pidref){.pid = real.pid, .fd = -EBADF, .starttime = 1};
        s->pidfile = i == 0 ? fifo : link;
        unlink(link);
        ck_assert_int_eq(symlink(targets[i], link), 0);
        warden_usec_t start = warden_now();
        int r = warden__service_status(s, NULL);
        ck_assert_int_lt(check_ms_since(start), 1000);
        ck_assert_msg(r != 0, "pidfile %s (-> %s) was read", s->pidfile, targets[i]);
        warden__pidref_done(&s->main);
    }
    s->pidfile = NULL;
    s->main = real;
    ck_assert_int_eq(warden__tree_kill(&cur.tree, warden_deadline_in(5 * SEC)), 0);
    cur.live = false;
    waitpid(s->holder.pid, NULL, 0);
    warden__service_free(s);
    warden__exec_done(&e);
    free(good);
    free(fifo);
    free(link);
    unsetenv("WARDEN_STATE_DIR");
}
END_TEST

/* ---- what commands run for a service get ------------------------------------------- */

START_TEST(test_run_no_inherited_fds)
{
    /* A descriptor the agent leaks (libqb's log file, opened without
     * O_CLOEXEC) must not reach a command, which may run as the service's
     * user. (Regression test: warden__run once passed them all on.) */
    int leak[2];
    ck_assert_int_eq(pipe(leak), 0);
    char *script = NULL;
    ck_assert_int_ge(
        asprintf(&script, "test ! -e /proc/$$/fd/%d && test ! -e /proc/$$/fd/%d", leak[0], leak[1]),
        0);
    int status = -1;
    int r = run_argv((const char *[]){"/bin/sh", "-c", script, NULL}, NULL,
                     warden_deadline_in(5 * SEC), &status);
    close(leak[0]);
    close(leak[1]);
    free(script);
    ck_assert_int_eq(r, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the command saw the agent's fds (status %#x)", status);
}
END_TEST

START_TEST(test_run_workdir_as_user)
{
    /* The working directory is entered as the user, so a directory only
     * root may enter is refused, not entered with root's rights before the
     * switch. (Regression test: chdir() once came before setuid().) */
    struct warden_exec e;
    exec_init(&e, (const char *[]){"/bin/true", NULL});
    int r = warden__exec_set_user(&e, "nobody");
    if (r == -ENXIO) {
        check_skip(__func__, "no user 'nobody' on this machine");
        warden__exec_done(&e);
        return;
    }
    ck_assert_int_eq(chmod(make_tmpdir(), 0755), 0);
    char *closed = tmp_path("closed");
    ck_assert_int_eq(mkdir(closed, 0700), 0);
    e.workdir = closed;
    int status = -1;
    r = warden__run(&e, warden_deadline_in(5 * SEC), &status);
    ck_assert_msg(r == -ENOENT, "run in a root-only workdir as nobody: %d, status %#x", r, status);
    /* And one the user may enter works. */
    ck_assert_int_eq(chmod(closed, 0755), 0);
    ck_assert_int_eq(warden__run(&e, warden_deadline_in(5 * SEC), &status), 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    e.workdir = NULL;
    free(closed);
    warden__exec_done(&e);
}
END_TEST

START_TEST(test_exec_check_as_user)
{
    /* An exec: check of a service with user= runs as that user, not as
     * root. (Regression test: exec: checks once always ran as root.) */
    struct warden_exec svc = {0};
    int r = warden__exec_set_user(&svc, "nobody");
    if (r == -ENXIO) {
        check_skip(__func__, "no user 'nobody' on this machine");
        return;
    }
    char spec[128];
    snprintf(spec, sizeof(spec), "exec:/bin/sh -c 'test \"$(id -u)\" = %u'", (unsigned)svc.uid);
    warden_probe *p = NULL;
    ck_assert_int_eq(warden_probe_new(spec, &p), 0);
    struct warden_probe_context ctx = {.main_pid = 0, .service_exec = &svc};
    char *reason = NULL;
    r = warden_probe_run(p, &ctx, warden_deadline_in(5 * SEC), &reason);
    ck_assert_msg(r == 0, "the check did not run as uid %u: %s", (unsigned)svc.uid,
                  reason ? reason : "");
    /* Without a service user, as the caller. */
    ctx.service_exec = NULL;
    r = warden_probe_run(p, &ctx, warden_deadline_in(5 * SEC), &reason);
    ck_assert_int_ne(r, 0);
    free(reason);
    warden_probe_free(p);
    warden__exec_done(&svc);
}
END_TEST

int main(void)
{
    check_cleanup_hook = cleanup;
    Suite *s = suite_create("proc");
    add_tcase(s, test_argv_split, 10);
    add_tcase(s, test_argv_split_rejects, 10);
    add_tcase(s, test_find_executable, 10);
    add_tcase(s, test_exec_environment, 10);
    add_tcase(s, test_exec_set_user, 10);
    add_tcase(s, test_pidref, 10);
    add_tcase(s, test_pidref_signal, 10);
    add_tcase(s, test_proc_stat, 10);
    add_tcase(s, test_tree_spawn_kill_session, 15);
    add_tcase(s, test_tree_spawn_kill_cgroup, 15);
    add_tcase(s, test_tree_kill_cgroup_removed_under_it, 30);
    add_tcase(s, test_tree_escape_session, 15);
    add_tcase(s, test_tree_escape_cgroup, 15);
    add_tcase(s, test_tree_service_exits, 15);
    add_tcase(s, test_tree_spawn_failures, 15);
    add_tcase(s, test_tree_spawn_as_user, 15);
    add_tcase(s, test_tree_spawn_placed, 15);
    add_tcase(s, test_spawn_detached, 15);
    add_tcase(s, test_run_status, 15);
    add_tcase(s, test_run_timeout, 15);
    add_tcase(s, test_run_timeout_other_process_group, 15);
    add_tcase(s, test_tree_recycled_holder_pid, 15);
    add_tcase(s, test_tree_dead_holder_leftovers, 15);
    add_tcase(s, test_service_half_there_session, 15);
    add_tcase(s, test_service_half_there_cgroup, 15);
    add_tcase(s, test_service_abandon_loads_state, 15);
    add_tcase(s, test_service_pidfile_not_regular, 15);
    add_tcase(s, test_run_no_inherited_fds, 15);
    add_tcase(s, test_run_workdir_as_user, 15);
    add_tcase(s, test_exec_check_as_user, 15);
    return check_run("check_proc", s);
}
