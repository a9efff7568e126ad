/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service's environment and output (lib/environ.c, lib/environ-child.c,
 * lib/output.c): the parsers of every parameter, what the child applies,
 * the tail of a failed start's output, the relay's syslog and journal
 * streams, file:PATH's refusals, and the cgroup settings against a fake
 * cgroup tree. */
#include "check_common.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "cgroup-int.h"
#include "environ-int.h"
#include "output-int.h"
#include "proc-int.h"
#include "util-int.h"

START_TEST(test_limit_parse)
{
    struct rlimit l;
    ck_assert_int_eq(warden__limit_parse("1024", false, &l), 0);
    ck_assert_uint_eq(l.rlim_cur, 1024);
    ck_assert_uint_eq(l.rlim_max, 1024);
    ck_assert_int_eq(warden__limit_parse("1024:65536", false, &l), 0);
    ck_assert_uint_eq(l.rlim_cur, 1024);
    ck_assert_uint_eq(l.rlim_max, 65536);
    ck_assert_int_eq(warden__limit_parse("infinity", false, &l), 0);
    ck_assert(l.rlim_cur == RLIM_INFINITY && l.rlim_max == RLIM_INFINITY);
    ck_assert_int_eq(warden__limit_parse("0:infinity", false, &l), 0);
    ck_assert(l.rlim_cur == 0 && l.rlim_max == RLIM_INFINITY);
    ck_assert_int_eq(warden__limit_parse("1G", true, &l), 0);
    ck_assert_uint_eq(l.rlim_max, 1ULL << 30);
    static const char *const bad[] = {
        "",   "abc", "-1", "10:5", "1:2:3", "1G",  ":5",
        "5:", "1e3", " 5", "5 ",   "0x10",  "inf", "18446744073709551615"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        ck_assert_msg(warden__limit_parse(bad[i], false, &l) == -EINVAL, "'%s' accepted", bad[i]);
    }
    ck_assert_int_eq(warden__limit_parse("infinity:5", false, &l), -EINVAL);
    ck_assert_int_eq(warden__limit_parse("1Q", true, &l), -EINVAL);
}
END_TEST

START_TEST(test_small_parsers)
{
    mode_t m;
    ck_assert_int_eq(warden__umask_parse("022", &m), 0);
    ck_assert_uint_eq(m, 022);
    ck_assert_int_eq(warden__umask_parse("0027", &m), 0);
    ck_assert_uint_eq(m, 027);
    ck_assert_int_eq(warden__umask_parse("0", &m), 0);
    ck_assert_int_eq(warden__umask_parse("777", &m), 0);
    ck_assert_int_eq(warden__umask_parse("0800", &m), -EINVAL);
    ck_assert_int_eq(warden__umask_parse("1777", &m), -EINVAL);
    ck_assert_int_eq(warden__umask_parse("22a", &m), -EINVAL);
    ck_assert_int_eq(warden__umask_parse("", &m), -EINVAL);
    ck_assert_int_eq(warden__umask_parse("00022", &m), -EINVAL);

    int n;
    ck_assert_int_eq(warden__int_parse_within("-20", -20, 19, &n), 0);
    ck_assert_int_eq(n, -20);
    ck_assert_int_eq(warden__int_parse_within("+19", -20, 19, &n), 0);
    ck_assert_int_eq(n, 19);
    ck_assert_int_eq(warden__int_parse_within("20", -20, 19, &n), -EINVAL);
    ck_assert_int_eq(warden__int_parse_within("-21", -20, 19, &n), -EINVAL);
    ck_assert_int_eq(warden__int_parse_within("5x", -20, 19, &n), -EINVAL);
    ck_assert_int_eq(warden__int_parse_within("-", -20, 19, &n), -EINVAL);
    ck_assert_int_eq(warden__int_parse_within("99999999999999999999", 0, 10, &n), -EINVAL);

    char mem[32];
    ck_assert_int_eq(warden__memory_max_parse("512M", mem), 0);
    ck_assert_str_eq(mem, "536870912");
    ck_assert_int_eq(warden__memory_max_parse("infinity", mem), 0);
    ck_assert_str_eq(mem, "max");
    ck_assert_int_eq(warden__memory_max_parse("4096", mem), 0);
    ck_assert_str_eq(mem, "4096");
    ck_assert_int_eq(warden__memory_max_parse("lots", mem), -EINVAL);
    ck_assert_int_eq(warden__memory_max_parse("-1", mem), -EINVAL);
}
END_TEST

START_TEST(test_environment_parse)
{
    char **v = NULL;
    ck_assert_int_eq(warden__environment_parse("A=1 _B='two words' C9=\"x=y\" EMPTY=", &v), 0);
    ck_assert_str_eq(v[0], "A=1");
    ck_assert_str_eq(v[1], "_B=two words");
    ck_assert_str_eq(v[2], "C9=x=y");
    ck_assert_str_eq(v[3], "EMPTY=");
    ck_assert_ptr_null(v[4]);
    warden__strv_free(v);
    static const char *const bad[] = {"1A=b",    "A-B=c", "=x",    "NOEQUALS",
                                      "A='open", "",      "A=1 B", "Ä=1"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        ck_assert_msg(warden__environment_parse(bad[i], NULL) == -EINVAL, "'%s' accepted", bad[i]);
    }
}
END_TEST

START_TEST(test_output_parse)
{
    enum warden_output_kind k;
    const char *path = NULL;
    ck_assert_int_eq(warden__output_parse("syslog", &k, &path), 0);
    ck_assert_int_eq(k, WARDEN_OUTPUT_SYSLOG);
    ck_assert_int_eq(warden__output_parse("journal", &k, &path), 0);
    ck_assert_int_eq(k, WARDEN_OUTPUT_JOURNAL);
    ck_assert_int_eq(warden__output_parse("null", &k, &path), 0);
    ck_assert_int_eq(k, WARDEN_OUTPUT_NULL);
    ck_assert_int_eq(warden__output_parse("file:/var/log/x.log", &k, &path), 0);
    ck_assert_int_eq(k, WARDEN_OUTPUT_FILE);
    ck_assert_str_eq(path, "/var/log/x.log");
    static const char *const bad[] = {"file:",    "file:relative", "file:/var/log/",
                                      "file:/..", "file:/a/.",     "file:/a\nb",
                                      "Syslog",   "stdout",        ""};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        ck_assert_msg(warden__output_check(bad[i]) == -EINVAL, "'%s' accepted", bad[i]);
    }
}
END_TEST

START_TEST(test_last_lines)
{
    const char *out = "starting\n\nloading config\r\nrefusing to run as root\n";
    _cleanup_free_ char *t = warden__output_last_lines(out, strlen(out), false, 3, 200);
    ck_assert_str_eq(t, "starting | loading config | refusing to run as root");
    _cleanup_free_ char *two = warden__output_last_lines(out, strlen(out), false, 2, 200);
    ck_assert_str_eq(two, "loading config | refusing to run as root");
    /* No trailing newline, control bytes shown as '?'. */
    const char *raw = "a\x1b[31mred\x07";
    _cleanup_free_ char *r = warden__output_last_lines(raw, strlen(raw), false, 3, 200);
    ck_assert_str_eq(r, "a?[31mred?");
    /* A tail that starts mid-line drops that fragment, unless it is all. */
    const char *mid = "ment\nwhole line\n";
    _cleanup_free_ char *m = warden__output_last_lines(mid, strlen(mid), true, 3, 200);
    ck_assert_str_eq(m, "whole line");
    _cleanup_free_ char *only = warden__output_last_lines("ment", 4, true, 3, 200);
    ck_assert_str_eq(only, "ment");
    /* Bounded, keeping the newest bytes. */
    char big[600];
    memset(big, 'x', sizeof(big));
    memcpy(big + sizeof(big) - 4, "END\n", 4);
    _cleanup_free_ char *b = warden__output_last_lines(big, sizeof(big), false, 3, 200);
    ck_assert_uint_eq(strlen(b), 200);
    ck_assert(strncmp(b, "...", 3) == 0);
    ck_assert_str_eq(b + 197, "END");
    ck_assert_ptr_null(warden__output_last_lines("\n\n  \n", 5, false, 3, 200));
    ck_assert_ptr_null(warden__output_last_lines("", 0, false, 3, 200));
}
END_TEST

/* A child applies the environment; what the kernel then says is checked
 * there and reported as the exit status. */
START_TEST(test_child_apply)
{
    struct warden_environ env = {
        .set_limit = {[WARDEN_LIMIT_NOFILE] = true, [WARDEN_LIMIT_CORE] = true},
        .limit = {[WARDEN_LIMIT_CORE] = {0, 0}},
        .set_umask = true,
        .umask = 027,
        .set_nice = true,
        .nice = 7,
        .set_oom_score_adjust = true,
        .oom_score_adjust = 123,
    };
    /* The hard limit of open files stays: valgrind refuses to change it
     * (it keeps fds of its own above the soft one). */
    struct rlimit nofile;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &nofile), 0);
    env.limit[WARDEN_LIMIT_NOFILE] = (struct rlimit){100, nofile.rlim_max};
    ck_assert_int_eq(warden__environ_child_apply(NULL), 0);
    /* The child reports over a pipe, not by its exit status: under
     * valgrind a child that _exits without exec gets valgrind's own leak
     * check of the test's heap, and its status. */
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char step = 0;
        struct rlimit l;
        char buf[16] = "";
        int fd;
        if (warden__environ_child_apply(&env) < 0) {
            step = 10;
        } else if (getrlimit(RLIMIT_NOFILE, &l) < 0 || l.rlim_cur != 100 ||
                   l.rlim_max != nofile.rlim_max) {
            step = 11;
        } else if (getrlimit(RLIMIT_CORE, &l) < 0 || l.rlim_cur != 0 || l.rlim_max != 0) {
            step = 12;
        } else if (umask(0) != 027) {
            step = 13;
        } else if (getpriority(PRIO_PROCESS, 0) < 7) { /* at least: the test may run niced */
            step = 14;
        } else if ((fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC)) < 0 ||
                   read(fd, buf, sizeof(buf) - 1) <= 0 || atoi(buf) != 123) {
            step = 15;
        } else {
            step = 1;
        }
        (void)!write(p[1], &step, 1);
        _exit(0);
    }
    close(p[1]);
    char step = 0;
    ck_assert_int_eq(read(p[0], &step, 1), 1);
    close(p[0]);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    ck_assert_msg(step == 1, "child step %d failed", step);
}
END_TEST

static int bind_socket(const char *path, int type)
{
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* The relay, in this process, with a pipe for the service and a socket of
 * the test's for syslog: one datagram per line, the tag, the priority, the
 * last line without its newline, and the tail file. */
START_TEST(test_relay_syslog)
{
    char dir[] = "/tmp/check-environ.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sock_path[128], tail_path[128];
    snprintf(sock_path, sizeof(sock_path), "%s/log", dir);
    snprintf(tail_path, sizeof(tail_path), "%s/tail", dir);
    int srv = bind_socket(sock_path, SOCK_DGRAM);
    int tail = open(tail_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    const char *text = "hello\nrefusing to run as root\nno newline";
    ck_assert_int_eq(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
    close(p[1]);
    warden__output_relay(p[0], tail, WARDEN_OUTPUT_SYSLOG, "web", sock_path);
    close(p[0]);
    static const char *const want[] = {"<30>web: hello", "<30>web: refusing to run as root",
                                       "<30>web: no newline"};
    for (size_t i = 0; i < ELEMENTSOF(want); i++) {
        char buf[256];
        ssize_t n = recv(srv, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        ck_assert_int_gt(n, 0);
        buf[n] = '\0';
        ck_assert_str_eq(buf, want[i]);
    }
    char buf[256];
    ck_assert_int_lt(recv(srv, buf, sizeof(buf), MSG_DONTWAIT), 0);
    ssize_t n = pread(tail, buf, sizeof(buf) - 1, 0);
    ck_assert_int_eq(n, (ssize_t)strlen(text));
    buf[n] = '\0';
    ck_assert_str_eq(buf, text);
    close(tail);
    close(srv);
    unlink(sock_path);
    unlink(tail_path);
    rmdir(dir);
}
END_TEST

/* journald's stream protocol: the header sd_journal_stream_fd sends, then
 * the bytes. */
START_TEST(test_relay_journal)
{
    char dir[] = "/tmp/check-environ.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sock_path[128];
    snprintf(sock_path, sizeof(sock_path), "%s/stdout", dir);
    int srv = bind_socket(sock_path, SOCK_STREAM);
    ck_assert_int_eq(listen(srv, 4), 0);
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    ck_assert_int_eq(write(p[1], "one\ntwo\n", 8), 8);
    close(p[1]);
    warden__output_relay(p[0], -1, WARDEN_OUTPUT_JOURNAL, "web", sock_path);
    close(p[0]);
    int c = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(c, 0);
    char buf[256];
    size_t got = 0;
    ssize_t n;
    while ((n = recv(c, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT)) > 0) {
        got += (size_t)n;
    }
    buf[got] = '\0';
    ck_assert_str_eq(buf, "web\n\n6\n1\n0\n0\n0\none\ntwo\n");
    close(c);
    close(srv);
    unlink(sock_path);
    rmdir(dir);
}
END_TEST

/* A relay whose socket is missing drops the lines, keeps the tail, and
 * ends at the end of its input. */
START_TEST(test_relay_no_receiver)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    ck_assert_int_eq(write(p[1], "x\n", 2), 2);
    close(p[1]);
    warden__output_relay(p[0], -1, WARDEN_OUTPUT_SYSLOG, "web", "/nonexistent/log");
    close(p[0]);
}
END_TEST

/* file:PATH: a symlink anywhere, a directory the service's user could
 * write, and a file that is not root's own are refused with a reason
 * that names the parameter; a good one is created 0640 and appended. */
START_TEST(test_output_file)
{
    if (geteuid() != 0) {
        check_skip(__func__, "needs root (files owned by root and by another user)");
        return;
    }
    char dir[] = "/tmp/check-environ.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0);
    char path[256], link[256], sub[256], inner[256];
    snprintf(path, sizeof(path), "file:%s/out.log", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    snprintf(sub, sizeof(sub), "%s/users", dir);
    snprintf(inner, sizeof(inner), "file:%s/users/out.log", dir);
    struct warden_exec user = {.set_user = true, .uid = 65534, .gid = 65534};
    char *reason = NULL;

    ck_assert_int_eq(warden__output_check_node(path, &user, &reason), 0);
    struct warden_output o = WARDEN_OUTPUT_INIT;
    ck_assert_int_eq(warden__output_open(&o, path, "web", dir, &user, &reason), 0);
    ck_assert_int_ge(o.service_fd, 0);
    ck_assert_int_eq(fcntl(o.service_fd, F_GETFL) & O_APPEND, O_APPEND);
    ck_assert_int_eq(write(o.service_fd, "fine\nrefusing to run\n", 21), 21);
    warden__output_spawned(&o);
    _cleanup_free_ char *tail = warden__output_tail(&o, warden_deadline_in(WARDEN_USEC_PER_SEC));
    ck_assert_str_eq(tail, "fine | refusing to run");
    warden__output_done(&o);
    struct stat st;
    ck_assert_int_eq(stat(path + 5, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0640);
    ck_assert_uint_eq(st.st_uid, 0);
    /* A second start reads only its own output back. */
    ck_assert_int_eq(warden__output_open(&o, path, "web", dir, &user, &reason), 0);
    ck_assert_int_eq(write(o.service_fd, "second\n", 7), 7);
    _cleanup_free_ char *tail2 = warden__output_tail(&o, warden_deadline_in(WARDEN_USEC_PER_SEC));
    ck_assert_str_eq(tail2, "second");
    warden__output_done(&o);

    /* A symlink as the file, and as a directory on the way. */
    ck_assert_int_eq(symlink(path + 5, link), 0);
    char via[300];
    snprintf(via, sizeof(via), "file:%s", link);
    ck_assert_int_eq(warden__output_check_node(via, &user, &reason), -EINVAL);
    ck_assert_ptr_nonnull(strstr(reason, "parameter 'output'"));
    ck_assert_ptr_nonnull(strstr(reason, "symlink"));
    ck_assert_int_eq(warden__output_open(&o, via, "web", dir, &user, &reason), -EINVAL);
    unlink(link);
    ck_assert_int_eq(symlink(dir, link), 0);
    snprintf(via, sizeof(via), "file:%s/out.log", link);
    ck_assert_int_eq(warden__output_check_node(via, &user, &reason), -EINVAL);
    ck_assert_ptr_nonnull(strstr(reason, "symlink"));
    unlink(link);

    /* A directory of the user's. */
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_int_eq(chown(sub, 65534, 65534), 0);
    ck_assert_int_eq(warden__output_check_node(inner, &user, &reason), -EINVAL);
    ck_assert_ptr_nonnull(strstr(reason, "writable by the service's user"));
    /* Root's, but open to the user's group. */
    ck_assert_int_eq(chown(sub, 0, 65534), 0);
    ck_assert_int_eq(chmod(sub, 0775), 0);
    ck_assert_int_eq(warden__output_check_node(inner, &user, &reason), -EINVAL);
    /* Closed again: fine; a service of root's does not care. */
    ck_assert_int_eq(chmod(sub, 0755), 0);
    ck_assert_int_eq(warden__output_check_node(inner, &user, &reason), 0);
    ck_assert_int_eq(chmod(sub, 0777), 0);
    ck_assert_int_eq(warden__output_check_node(inner, NULL, &reason), 0);
    ck_assert_int_eq(chmod(sub, 0755), 0);
    /* An existing file of someone else's. */
    char other[300];
    snprintf(other, sizeof(other), "%s/users/out.log", dir);
    int fd = open(other, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fchown(fd, 65534, 65534), 0);
    close(fd);
    ck_assert_int_eq(warden__output_check_node(inner, &user, &reason), -EINVAL);
    ck_assert_ptr_nonnull(strstr(reason, "not root's own regular file"));
    unlink(other);
    /* A missing directory is this node's problem (2), not the value's. */
    char missing[300];
    snprintf(missing, sizeof(missing), "file:%s/nope/out.log", dir);
    ck_assert_int_eq(warden__output_check_node(missing, &user, &reason), -ENXIO);
    rmdir(sub);
    unlink(path + 5);
    rmdir(dir);
    free(reason);
}
END_TEST

/* journal where no journald runs: 6, with the accepted forms. */
START_TEST(test_output_journal_missing)
{
    setenv("WARDEN_JOURNAL_SOCKET", "/nonexistent/stdout", 1);
    char *reason = NULL;
    ck_assert_int_eq(warden__output_check_node("journal", NULL, &reason), -EINVAL);
    ck_assert_ptr_nonnull(strstr(reason, "parameter 'output'"));
    ck_assert_ptr_nonnull(strstr(reason, "syslog, file:PATH or null"));
    free(reason);
    unsetenv("WARDEN_JOURNAL_SOCKET");
}
END_TEST

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void read_text(const char *dir, const char *name, char buf[static 64])
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, buf, 63);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    close(fd);
}

/* The settings written where the cgroup says, in a fake tree of plain
 * files: an instance cgroup that has the file gets the value; one whose
 * parent lacks the controller, which its own parent (the root) does not
 * offer, is refused with -ENOPKG. */
START_TEST(test_cgroup_set)
{
    char root[] = "/tmp/check-environ.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    char warden[128], inst[160], buf[64];
    snprintf(warden, sizeof(warden), "%s/warden", root);
    snprintf(inst, sizeof(inst), "%s/web", warden);
    ck_assert_int_eq(mkdir(warden, 0755), 0);
    ck_assert_int_eq(mkdir(inst, 0755), 0);
    write_text(root, "cgroup.controllers", "cpu io memory pids\n");
    write_text(warden, "cgroup.controllers", "cpu io memory pids\n");
    write_text(warden, "cgroup.subtree_control", "memory\n");
    write_text(inst, "memory.max", "max\n");
    ck_assert_int_eq(warden__cgroup_set(inst, "memory", "memory.max", "1048576"), 0);
    read_text(inst, "memory.max", buf);
    ck_assert_str_eq(buf, "1048576");
    ck_assert_int_eq(warden__cgroup_controller_available(root, "memory"), 0);
    ck_assert_int_eq(warden__cgroup_controller_available(root, "mem"), -ENOPKG);
    ck_assert_int_eq(warden__cgroup_controller_available(root, "hugetlb"), -ENOPKG);
    /* cpu: listed, not yet enabled below warden: enabling it is asked of
     * the parent (a plain file takes the write, no file appears). */
    ck_assert_int_eq(warden__cgroup_set(inst, "cpu", "cpu.weight", "200"), -ENOPKG);
    read_text(warden, "cgroup.subtree_control", buf);
    ck_assert(strncmp(buf, "+cpu", 4) == 0);

    char path[512];
    snprintf(path, sizeof(path), "%s/memory.max", inst);
    unlink(path);
    snprintf(path, sizeof(path), "%s/cgroup.controllers", warden);
    unlink(path);
    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", warden);
    unlink(path);
    snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
    unlink(path);
    rmdir(inst);
    rmdir(warden);
    rmdir(root);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("environ");
    add_tcase(s, test_limit_parse, 10);
    add_tcase(s, test_small_parsers, 10);
    add_tcase(s, test_environment_parse, 10);
    add_tcase(s, test_output_parse, 10);
    add_tcase(s, test_last_lines, 10);
    add_tcase(s, test_child_apply, 10);
    add_tcase(s, test_relay_syslog, 10);
    add_tcase(s, test_relay_journal, 10);
    add_tcase(s, test_relay_no_receiver, 10);
    add_tcase(s, test_output_file, 10);
    add_tcase(s, test_output_journal_missing, 10);
    add_tcase(s, test_cgroup_set, 10);
    return check_run("check_environ", s);
}
