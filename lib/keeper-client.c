/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keeper seen from the agent (the keeper's room: keeper-int.h): the
 * record the keeper writes in the state directory and the only thing the
 * agent trusts about it; a request over IPC to the recorded keeper (the
 * monitor's verdict, reload-agent's new values); launching a keeper after a
 * start and standing it down before a stop. Runs in the agent's process,
 * under the operation's deadline. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <qb/qbipcc.h>
#include <qb/qblog.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "instance-int.h"
#include "keeper-int.h"
#include "proc-int.h"
#include "util-int.h"

int warden__keeper_ipc_name(const char *instance, char **ret)
{
    char name[WARDEN_INSTANCE_IPC_SIZE];
    int r = warden__instance_ipc_name(instance, name);
    if (r < 0) {
        return r;
    }
    *ret = strdup(name);
    return *ret ? 0 : -ENOMEM;
}

/* The keeper a state directory records, as the keeper itself wrote it: its
 * pid and start time. The directory is root's (0700), so the record is
 * believed; the process it names is re-verified by start time. */
int warden__keeper_record(const char *state_dir, pid_t *ret_pid, uint64_t *ret_start)
{
    _cleanup_free_ char *path = warden__strdup_printf("%s/keeper", state_dir);
    _cleanup_free_ char *text = NULL;
    int pid = 0;
    unsigned long long start = 0;
    if (!path) {
        return -ENOMEM;
    }
    if (warden__read_file(path, 64, &text) < 0 || sscanf(text, "%d %llu", &pid, &start) != 2 ||
        pid <= 1 || start == 0) {
        return -ENOENT;
    }
    *ret_pid = pid;
    *ret_start = start;
    return 0;
}

/* Connect to the instance's IPC name and prove that the server is the
 * keeper the state records (CVE-2018-16877 is the same check in Pacemaker's
 * clients): an abstract socket name belongs to whoever binds it first, any
 * local user included. Nothing is sent before the proof but libqb's
 * connection set-up. Bounded by deadline. */
static int connect_keeper(const char *state_dir, const char *instance, warden_usec_t deadline,
                          qb_ipcc_connection_t **ret)
{
    pid_t want_pid;
    uint64_t want_start;
    if (warden__keeper_record(state_dir, &want_pid, &want_start) < 0) {
        return -ENOTCONN; /* no keeper runs, or none we could believe */
    }
    struct warden_pidref keeper = WARDEN_PIDREF_NULL;
    if (warden__pidref_open(want_pid, want_start, &keeper) < 0) {
        return -ENOTCONN; /* the recorded keeper is gone */
    }
    warden__pidref_done(&keeper);
    _cleanup_free_ char *name = NULL;
    int r = warden__keeper_ipc_name(instance, &name);
    if (r < 0) {
        return r;
    }
    int fd = -1;
    qb_ipcc_connection_t *c = qb_ipcc_connect_async(name, WARDEN_IPC_MAX_MSG, &fd);
    if (!c) {
        return errno == EACCES || errno == EPERM ? -EACCES : -ENOTCONN;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
    r = n > 0 ? qb_ipcc_connect_continue(c) : n == 0 ? -ETIMEDOUT : negative_errno();
    if (r < 0) {
        /* connect_continue frees the connection when it fails. */
        if (n <= 0) {
            qb_ipcc_disconnect(c);
        }
        return r == -EACCES || r == -EPERM ? -EACCES : r == -ETIMEDOUT ? r : -ENOTCONN;
    }
    pid_t pid = 0;
    uid_t uid = (uid_t)-1;
    gid_t gid;
    if (qb_ipcc_auth_get(c, &pid, &uid, &gid) < 0 || uid != 0 || pid != want_pid) {
        qb_log(LOG_ERR,
               "%s is served by pid %d uid %d, not by the keeper (pid %d): not talking to it", name,
               (int)pid, (int)uid, (int)want_pid);
        qb_ipcc_disconnect(c);
        return -EADDRINUSE;
    }
    *ret = c;
    return 0;
}

static int request(const char *state_dir, const char *instance, int32_t id, const char *body,
                   warden_usec_t deadline, struct warden_verdict *ret)
{
    qb_ipcc_connection_t *c = NULL;
    int r = connect_keeper(state_dir, instance, deadline, &c);
    if (r < 0) {
        return r;
    }
    size_t blen = body ? strlen(body) + 1 : 0;
    if (sizeof(struct qb_ipc_request_header) + blen > WARDEN_IPC_MAX_MSG) {
        qb_ipcc_disconnect(c);
        return -E2BIG;
    }
    struct qb_ipc_request_header hdr = {.id = id, .size = (int32_t)(sizeof(hdr) + blen)};
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)body, blen}};
    struct warden_ipc_response resp = {0};
    int ms = warden__poll_timeout_ms(deadline);
    ssize_t n = qb_ipcc_sendv_recv(c, iov, body ? 2 : 1, &resp, sizeof(resp), ms > 0 ? ms : 1);
    qb_ipcc_disconnect(c);
    if (n < 0) {
        return n == -EAGAIN ? -ETIMEDOUT : (int)n;
    }
    /* A keeper of 0.1 (still running through an upgrade) answers the
     * shorter verdict of then: the fields after it stay zero. */
    if ((size_t)n < offsetof(struct warden_ipc_response, verdict) + WARDEN_VERDICT_SIZE_0_1 ||
        (size_t)n > sizeof(resp)) {
        return -EBADMSG;
    }
    if (resp.hdr.error < 0) {
        return resp.hdr.error;
    }
    if (ret) {
        *ret = resp.verdict;
        ret->reason[sizeof(ret->reason) - 1] = '\0';
        ret->last_failure_reason[sizeof(ret->last_failure_reason) - 1] = '\0';
    }
    return 0;
}

int warden__monitor_ask(const char *state_dir, const char *instance, warden_usec_t deadline,
                        struct warden_verdict *ret)
{
    return request(state_dir, instance, WARDEN_IPC_VERDICT, NULL, deadline, ret);
}

int warden__monitor_reload(const char *state_dir, const char *instance, const char *text,
                           warden_usec_t deadline)
{
    return request(state_dir, instance, WARDEN_IPC_RELOAD, text, deadline, NULL);
}

/* ---- launch and stand down ----------------------------------------------- */

char *warden__keeper_file(const struct warden_service *s, const char *name)
{
    return warden__strdup_printf("%s/%s", s->state_dir, name);
}

int warden__keeper_launch(struct warden_service *s, warden_usec_t deadline)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
        return negative_errno();
    }
    self[n] = '\0';
    char *argv[] = {"warden-keeper", WARDEN_KEEPER_ACTION, s->instance, NULL};
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        return negative_errno();
    }
    /* The start's NOTIFY_SOCKET goes to the keeper as its fd 4: the same
     * socket, so nothing the service sent in between is lost. */
    bool pass = s->notify_fd >= 0;
    char *env[] = {"WARDEN_REPORT_FD=3", pass ? "WARDEN_NOTIFY_FD=4" : NULL, NULL};
    pid_t pid =
        warden__spawn_detached_pass(self, argv, ready[1], pass ? s->notify_fd : -EBADF, env);
    close(ready[1]);
    if (pid < 0) {
        close(ready[0]);
        return pid;
    }
    /* The keeper is our child until we exit; reap it if it dies early. */
    struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
    int r = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
    char c = 0;
    ssize_t got = r > 0 ? read(ready[0], &c, 1) : 0;
    close(ready[0]);
    if (got == 1 && c == '1') {
        return 0;
    }
    if (got == 1 && c == '2') {
        return -EADDRINUSE; /* keeping, but without IPC: the caller warns */
    }
    waitpid(pid, NULL, WNOHANG);
    return r == 0 ? -ETIMEDOUT : -ECHILD;
}

static void closedirp(DIR **d)
{
    if (*d) {
        closedir(*d);
    }
}

/* Whether pid is root's and runs as this instance's keeper (its command
 * line is the one warden__keeper_launch gives it). */
static bool is_keeper_of(pid_t pid, const char *instance)
{
    char path[64], buf[8192];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    struct stat st;
    if (n <= 0 || fstat(fd, &st) < 0 || st.st_uid != 0) {
        return false; /* /proc/PID is owned by the process's effective uid */
    }
    buf[n] = '\0';
    const char *argv0 = buf;
    const char *action = argv0 + strlen(argv0) + 1;
    if (action >= buf + n || !streq(argv0, "warden-keeper") ||
        !streq(action, WARDEN_KEEPER_ACTION)) {
        return false;
    }
    const char *name = action + strlen(action) + 1;
    /* The instance may be longer than buf holds: then it is not this one
     * unless it matches to the end of what was read. */
    return name < buf + n && streq(name, instance) && name + strlen(name) < buf + n;
}

/* A keeper of this instance that no record names (its state was lost):
 * found in /proc, never by asking whoever serves the IPC name. A keeper is
 * root's, named warden-keeper, and its command line names the instance. */
static int find_stray_keeper(const char *instance, struct warden_pidref *ret)
{
    _cleanup_(closedirp) DIR *d = opendir("/proc");
    if (!d) {
        return negative_errno();
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 1 || pid == getpid()) {
            continue;
        }
        struct warden_proc_stat st;
        if (warden__proc_stat((pid_t)pid, &st) < 0 || st.state == 'Z' ||
            !is_keeper_of((pid_t)pid, instance)) {
            continue;
        }
        /* Verified again by start time when opened: the pid may have been
         * reused since we looked. */
        if (warden__pidref_open((pid_t)pid, st.starttime, ret) == 0) {
            return 0;
        }
    }
    return -ESRCH;
}

int warden__keeper_stand_down(struct warden_service *s, warden_usec_t deadline)
{
    _cleanup_free_ char *path = warden__keeper_file(s, "keeper");
    if (!path) {
        return -ENOMEM;
    }
    pid_t pid;
    uint64_t start;
    struct warden_pidref ref = WARDEN_PIDREF_NULL;
    int r = warden__keeper_record(s->state_dir, &pid, &start) == 0
                ? warden__pidref_open(pid, start, &ref)
                : find_stray_keeper(s->instance, &ref);
    /* Unrecorded before it is signalled: a keeper that was frozen and
     * resumes now, its service's failure in hand, finds that it is no
     * longer the instance's keeper and pushes nothing (the stop, or the
     * monitor replacing it, is already acting on that failure). */
    unlink(path);
    if (r < 0) {
        return 0;
    }
    warden__pidref_signal(&ref, SIGTERM);
    r = warden__pidref_wait_exit(&ref, deadline);
    if (r == -ETIMEDOUT) {
        qb_log(LOG_WARNING, "keeper %d did not stand down: killing it", (int)ref.pid);
        warden__pidref_signal(&ref, SIGKILL);
        r = warden__pidref_wait_exit(&ref, warden_deadline_in(WARDEN_USEC_PER_SEC));
    }
    warden__pidref_done(&ref);
    return r;
}
