/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sd_notify protocol (lib/notify.c, the sender checks of
 * lib/service.c): the message parser and its bounds, the socket and what it
 * refuses, the sender's credentials, MAINPID= re-verified. */
#include "check_common.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "notify-int.h"
#include "proc-int.h"
#include "service-int.h"
#include "util-int.h"

static int parse(const char *text, struct warden_notify_msg *m)
{
    return warden__notify_parse(text, strlen(text), m);
}

START_TEST(test_parse_keys)
{
    struct warden_notify_msg m;
    ck_assert_int_eq(parse("READY=1\nSTATUS=Processing requests...\nMAINPID=4242\n"
                           "EXTEND_TIMEOUT_USEC=5000000\nWATCHDOG=1\nSTOPPING=1",
                           &m),
                     0);
    ck_assert(m.ready && m.stopping && m.watchdog && !m.watchdog_trigger);
    ck_assert(m.has_status);
    ck_assert_str_eq(m.status, "Processing requests...");
    ck_assert_int_eq(m.mainpid, 4242);
    ck_assert(m.has_extend);
    ck_assert_uint_eq(m.extend_usec, 5000000);

    /* Only exact values count; unknown keys and bad values are ignored,
     * the rest of the message still holds. */
    ck_assert_int_eq(parse("READY=0\nREADY=1x\nWATCHDOG=2\nSTOPPING=yes\nFDSTORE=1\nERRNO=5\n"
                           "X\n=\n\n\nMAINPID=abc\nEXTEND_TIMEOUT_USEC=-1\nSTATUS=ok",
                           &m),
                     0);
    ck_assert(!m.ready && !m.watchdog && !m.stopping && !m.has_extend);
    ck_assert_int_eq(m.mainpid, 0);
    ck_assert_str_eq(m.status, "ok");
    ck_assert_int_eq(parse("WATCHDOG=trigger", &m), 0);
    ck_assert(m.watchdog_trigger && !m.watchdog);
    /* A key is the whole name: READY_X=1 is not READY=1. */
    ck_assert_int_eq(parse("XREADY=1\nready=1\nREADY_X=1", &m), 0);
    ck_assert(!m.ready);

    /* MAINPID: no pid 0 or 1 (init), no sign, no overflow. */
    static const char *const bad_pids[] = {"MAINPID=0",          "MAINPID=1",
                                           "MAINPID=-5",         "MAINPID=+5",
                                           "MAINPID=2147483648", "MAINPID= 5",
                                           "MAINPID=5 ",         "MAINPID=",
                                           "MAINPID=0x10",       "MAINPID=99999999999999999999999"};
    for (size_t i = 0; i < ELEMENTSOF(bad_pids); i++) {
        ck_assert_int_eq(parse(bad_pids[i], &m), 0);
        ck_assert_msg(m.mainpid == 0, "'%s' gave pid %d", bad_pids[i], (int)m.mainpid);
    }
    ck_assert_int_eq(parse("MAINPID=2147483647", &m), 0);
    ck_assert_int_eq(m.mainpid, 2147483647);
    ck_assert_int_eq(parse("EXTEND_TIMEOUT_USEC=18446744073709551616", &m), 0);
    ck_assert(!m.has_extend);
    ck_assert_int_eq(parse("EXTEND_TIMEOUT_USEC=18446744073709551615", &m), 0);
    ck_assert(m.has_extend && m.extend_usec == UINT64_MAX);
    /* The last STATUS= of a message wins; an empty one clears. */
    ck_assert_int_eq(parse("STATUS=a\nSTATUS=", &m), 0);
    ck_assert(m.has_status && m.status[0] == '\0');
    ck_assert_int_eq(parse("", &m), 0);
    ck_assert(!m.ready && !m.has_status);
}
END_TEST

START_TEST(test_parse_bounds)
{
    struct warden_notify_msg m;
    /* An embedded NUL would make the message mean two things. */
    static const char nul[] = "STATUS=fine\0READY=1";
    ck_assert_int_eq(warden__notify_parse(nul, sizeof(nul) - 1, &m), -EBADMSG);
    /* Larger than a datagram warden reads: refused whole. */
    char *big = malloc(WARDEN_NOTIFY_MAX + 2);
    memset(big, 'A', WARDEN_NOTIFY_MAX + 1);
    memcpy(big, "READY=1\nX=", 10);
    ck_assert_int_eq(warden__notify_parse(big, WARDEN_NOTIFY_MAX + 1, &m), -EBADMSG);
    ck_assert_int_eq(warden__notify_parse(big, WARDEN_NOTIFY_MAX, &m), 0);
    ck_assert(m.ready);
    free(big);
    /* STATUS= is cut, and shown as printable ASCII only. */
    char status[400] = "STATUS=";
    memset(status + 7, 'x', 300);
    status[307] = '\0';
    ck_assert_int_eq(parse(status, &m), 0);
    ck_assert_uint_eq(strlen(m.status), WARDEN_NOTIFY_STATUS_MAX + 3);
    ck_assert(strcmp(m.status + WARDEN_NOTIFY_STATUS_MAX, "...") == 0);
    ck_assert_int_eq(parse("STATUS=a\tb\x1b[31mc\xc3\xa9", &m), 0);
    ck_assert_str_eq(m.status, "a?b?[31mc??");
    /* A line ends at \n; \r is part of the value, shown as '?'. */
    ck_assert_int_eq(parse("STATUS=x\r\nREADY=1", &m), 0);
    ck_assert_str_eq(m.status, "x?");
    ck_assert(m.ready);
}
END_TEST

START_TEST(test_params)
{
    enum warden_ready r;
    enum warden_notify_access a;
    ck_assert_int_eq(warden__ready_parse("notify", &r), 0);
    ck_assert_int_eq(r, WARDEN_READY_NOTIFY);
    ck_assert_int_eq(warden__ready_parse(NULL, &r), 0);
    ck_assert_int_eq(r, WARDEN_READY_CHECK);
    ck_assert_int_eq(warden__ready_parse("Notify", &r), -EINVAL);
    ck_assert_int_eq(warden__notify_access_parse("all", &a), 0);
    ck_assert_int_eq(a, WARDEN_NOTIFY_ALL);
    ck_assert_int_eq(warden__notify_access_parse("main", &a), 0);
    ck_assert_int_eq(a, WARDEN_NOTIFY_MAIN);
    ck_assert_int_eq(warden__notify_access_parse("exec", &a), -EINVAL);
}
END_TEST

/* A state root of the test's own. */
static char root[] = "/tmp/check-notify-XXXXXX";

static void make_root(void)
{
    ck_assert_ptr_nonnull(mkdtemp(root));
    setenv("WARDEN_STATE_DIR", root, 1);
}

static void remove_root(const char *path)
{
    char dir[256];
    if (path) {
        unlink(path);
    }
    snprintf(dir, sizeof(dir), "%s/.notify", root);
    rmdir(dir);
    rmdir(root);
    unsetenv("WARDEN_STATE_DIR");
    strcpy(root, "/tmp/check-notify-XXXXXX");
}

static int send_to(const char *path, const void *buf, size_t len, int pass_fd)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr mh = {
        .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
    if (pass_fd >= 0) {
        mh.msg_control = &control;
        mh.msg_controllen = sizeof(control);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    int e = errno;
    close(fd);
    return n < 0 ? -e : 0;
}

START_TEST(test_socket)
{
    make_root();
    _cleanup_free_ char *path = NULL;
    ck_assert_int_eq(warden__notify_path("notify-r1", &path), 0);
    char want[256];
    snprintf(want, sizeof(want), "%s/.notify/notify-r1", root);
    ck_assert_str_eq(path, want);

    int fd = warden__notify_listen(path, getuid(), getgid(), false);
    ck_assert_int_ge(fd, 0);
    ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    ck_assert(warden__notify_is_bound_at(fd, path));
    ck_assert(!warden__notify_is_bound_at(fd, "/tmp/elsewhere"));
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    snprintf(want, sizeof(want), "%s/.notify", root);
    ck_assert_int_eq(lstat(want, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0755);

    struct warden_notify_msg m;
    struct ucred cred;
    ck_assert_int_eq(warden__notify_receive(fd, &m, &cred), -EAGAIN);
    ck_assert_int_eq(send_to(path, "READY=1\nSTATUS=up", 17, -1), 0);
    ck_assert_int_eq(warden__notify_receive(fd, &m, &cred), 0);
    ck_assert(m.ready);
    ck_assert_str_eq(m.status, "up");
    ck_assert_int_eq(cred.pid, getpid());
    ck_assert_int_eq(cred.uid, getuid());

    /* Too large: dropped whole, not read in part. */
    char *big = malloc(WARDEN_NOTIFY_MAX + 100);
    memset(big, 'x', WARDEN_NOTIFY_MAX + 100);
    memcpy(big, "READY=1\n", 8);
    ck_assert_int_eq(send_to(path, big, WARDEN_NOTIFY_MAX + 100, -1), 0);
    ck_assert_int_eq(warden__notify_receive(fd, &m, &cred), -EBADMSG);
    free(big);
    ck_assert_int_eq(warden__notify_receive(fd, &m, &cred), -EAGAIN);

    /* A descriptor passed along is closed at once (the teardown counts
     * ours: none may be left). */
    int passed = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(send_to(path, "FDSTORE=1\nWATCHDOG=1", 20, passed), 0);
    close(passed);
    int before = check_count_fds();
    ck_assert_int_eq(warden__notify_receive(fd, &m, &cred), 0);
    ck_assert(m.watchdog);
    ck_assert_int_eq(check_count_fds(), before);

    /* A second listen replaces the stale socket at the path: what is
     * there is warden's, in warden's directory. */
    int fd2 = warden__notify_listen(path, getuid(), getgid(), true);
    ck_assert_int_ge(fd2, 0);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0660);
    ck_assert_int_eq(send_to(path, "READY=1", 7, -1), 0);
    ck_assert_int_eq(warden__notify_receive(fd, &m, &cred), -EAGAIN);
    ck_assert_int_eq(warden__notify_receive(fd2, &m, &cred), 0);
    close(fd);
    close(fd2);
    remove_root(path);
}
END_TEST

/* The socket's directory must be warden's alone: one a user could write
 * (or a symlink to one) is refused, nothing is bound there. */
START_TEST(test_socket_dir_refused)
{
    make_root();
    char dir[256], target[256];
    snprintf(dir, sizeof(dir), "%s/.notify", root);
    snprintf(target, sizeof(target), "%s/elsewhere", root);
    ck_assert_int_eq(mkdir(target, 0755), 0);
    ck_assert_int_eq(symlink(target, dir), 0);
    _cleanup_free_ char *path = NULL;
    ck_assert_int_eq(warden__notify_path("notify-r2", &path), 0);
    ck_assert_int_eq(warden__notify_listen(path, getuid(), getgid(), false), -EPERM);
    unlink(dir);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    chmod(dir, 0777);
    ck_assert_int_eq(warden__notify_listen(path, getuid(), getgid(), false), -EPERM);
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), -1);
    rmdir(target);
    remove_root(NULL);
}
END_TEST

START_TEST(test_long_name)
{
    make_root();
    char name[300];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    _cleanup_free_ char *path = NULL;
    ck_assert_int_eq(warden__notify_path(name, &path), 0);
    struct sockaddr_un sa;
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    ck_assert_ptr_nonnull(strstr(path, "/.notify/~"));
    /* Another long name with the same beginning gets another socket. */
    _cleanup_free_ char *other = NULL;
    name[290] = 'm';
    ck_assert_int_eq(warden__notify_path(name, &other), 0);
    ck_assert_str_ne(path, other);
    remove_root(NULL);
}
END_TEST

/* Who may speak for the service: its main process, or with
 * notify_access=all a process of its tree; MAINPID= only for a process of
 * the tree. The test process plays the main process. */
START_TEST(test_senders)
{
    CHECK_REQUIRE_PIDFD();
    make_root();
    struct warden_service s = {
        .holder = WARDEN_PIDREF_NULL, .notify_fd = -EBADF, .notify_access = WARDEN_NOTIFY_MAIN};
    char state[256];
    snprintf(state, sizeof(state), "%s/svc", root);
    ck_assert_int_eq(mkdir(state, 0700), 0);
    s.state_dir = state;
    pthread_mutex_init(&s.lock, NULL);
    ck_assert_int_eq(warden__pidref_open(getpid(), 0, &s.main), 0);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    struct ucred self = {.pid = getpid()}, kid = {.pid = child}, parent = {.pid = getppid()},
                 init = {.pid = 1}, none = {.pid = 0};
    ck_assert(warden__service_notify_sender_ok(&s, &self));
    ck_assert(!warden__service_notify_sender_ok(&s, &kid));
    ck_assert(!warden__service_notify_sender_ok(&s, &parent));
    ck_assert(!warden__service_notify_sender_ok(&s, &none));
    s.notify_access = WARDEN_NOTIFY_ALL;
    ck_assert(warden__service_notify_sender_ok(&s, &kid));
    ck_assert(!warden__service_notify_sender_ok(&s, &parent));
    ck_assert(!warden__service_notify_sender_ok(&s, &init));

    char *why = NULL;
    ck_assert_int_eq(warden__service_adopt_main(&s, getppid(), &why), -EPERM);
    ck_assert_ptr_nonnull(strstr(why, "not a process of the service"));
    free(why);
    why = NULL;
    ck_assert_int_eq(warden__service_adopt_main(&s, 1, &why), -EPERM);
    free(why);
    ck_assert_int_eq(s.main.pid, getpid());
    ck_assert_int_eq(warden__service_adopt_main(&s, child, NULL), 0);
    ck_assert_int_eq(s.main.pid, child);
    ck_assert(warden__pidref_alive(&s.main));
    /* Recorded: the keeper and stop find the new main process. */
    char file[300];
    snprintf(file, sizeof(file), "%s/service", state);
    char *text = NULL;
    ck_assert_int_ge(warden__read_file(file, 4096, &text), 0);
    char line[64];
    snprintf(line, sizeof(line), "main %d ", (int)child);
    ck_assert_ptr_nonnull(strstr(text, line));
    free(text);

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    warden__pidref_done(&s.main);
    pthread_mutex_destroy(&s.lock);
    unlink(file);
    rmdir(state);
    remove_root(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("notify");
    add_tcase(s, test_parse_keys, 10);
    add_tcase(s, test_parse_bounds, 10);
    add_tcase(s, test_params, 10);
    add_tcase(s, test_socket, 10);
    add_tcase(s, test_socket_dir_refused, 10);
    add_tcase(s, test_long_name, 10);
    add_tcase(s, test_senders, 10);
    return check_run("check_notify", s);
}
