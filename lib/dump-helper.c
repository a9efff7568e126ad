/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dump helper (the dump's room: dump-int.h): starting it, waiting for
 * its report, and the helper process itself, which finds the instance's
 * processes and hands them to warden_dump_processes (dump.c). */
#include <fcntl.h>
#include <poll.h>
#include <qb/qblog.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "dump-int.h"
#include "proc-int.h"
#include "util-int.h"
#include "warden/dump.h"

static const char *const dump_params[] = {"dump_on_failure", "dump_dir", "dump_type", "dump_keep",
                                          "dump_max_bytes"};

bool warden__dump_enabled(const warden_params *p)
{
    return warden_params_boolean(p, "dump_on_failure");
}

char **warden__dump_env(const warden_params *p)
{
    char **env = calloc(ELEMENTSOF(dump_params) + 1, sizeof(char *));
    for (size_t i = 0; env && i < ELEMENTSOF(dump_params); i++) {
        const char *v = warden_params_string(p, dump_params[i]);
        env[i] = warden__strdup_printf("OCF_RESKEY_%s=%s", dump_params[i], v ? v : "");
        if (!env[i]) {
            warden__strv_free(env);
            return NULL;
        }
    }
    return env;
}

pid_t warden__dump_spawn(const warden_params *p, const char *instance, const char *reason,
                         warden_usec_t deadline, int *ret_report_fd)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
        return negative_errno();
    }
    self[n] = '\0';
    char when[32];
    snprintf(when, sizeof(when), "%llu", (unsigned long long)deadline);
    char *argv[] = {"warden-dump", WARDEN_DUMP_ACTION, (char *)instance, (char *)reason, when,
                    NULL};
    char **dump_env = warden__dump_env(p);
    if (!dump_env) {
        return -ENOMEM;
    }
    /* The report fd is fd 3 in the helper; add it to what it is told. */
    size_t k = 0;
    while (dump_env[k]) {
        k++;
    }
    char **env = realloc(dump_env, (k + 2) * sizeof(char *));
    if (!env) {
        warden__strv_free(dump_env);
        return -ENOMEM;
    }
    env[k] = strdup("WARDEN_REPORT_FD=3");
    env[k + 1] = NULL;
    int report[2];
    if (!env[k] || pipe2(report, O_CLOEXEC) < 0) {
        warden__strv_free(env);
        return -ENOMEM;
    }
    pid_t pid = warden__spawn_detached(self, argv, report[1], env);
    close(report[1]);
    warden__strv_free(env);
    if (pid < 0) {
        close(report[0]);
        return pid;
    }
    *ret_report_fd = report[0];
    return pid;
}

char *warden__dump_read_report(int fd)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0) {
        return NULL;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] ? strdup(buf) : NULL;
}

int warden__dump_run(const warden_params *p, const char *instance, const char *reason,
                     warden_usec_t deadline, char **ret_path)
{
    int fd = -EBADF;
    pid_t pid = warden__dump_spawn(p, instance, reason, deadline, &fd);
    if (pid < 0) {
        return pid;
    }
    /* The report comes when the dump is written; EOF when the helper ends
     * without one. Either way, never past the deadline. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
    char *path = r > 0 ? warden__dump_read_report(fd) : NULL;
    close(fd);
    waitpid(pid, NULL, WNOHANG); /* ours until we exit: reap it if done */
    if (!path) {
        return r == 0 ? -ETIMEDOUT : -EIO;
    }
    *ret_path = path;
    return 0;
}

int warden__dump_main(const warden_params *p, const char *instance, int argc, char **argv)
{
    if (argc < 5) {
        return 2;
    }
    const char *reason = argv[3];
    warden_usec_t deadline = strtoull(argv[4], NULL, 10);
    struct warden_service *s = NULL;
    _cleanup_free_ char *why = NULL;
    uint64_t max_bytes = 0;
    warden_size_parse(warden_params_string(p, "dump_max_bytes"), &max_bytes);
    struct warden_dump_options o = {
        .dir = warden_params_string(p, "dump_dir"),
        .core = streq(warden_params_string(p, "dump_type"), "core"),
        .keep = (unsigned)warden_params_integer(p, "dump_keep"),
        .max_bytes = max_bytes,
    };
    if (warden__service_new(p, instance, false, &s, &why) < 0 ||
        warden__service_status(s, NULL) < 0) {
        qb_log(LOG_NOTICE, "dump: no process of %s to dump", instance);
        warden__service_free(s);
        return 1;
    }
    pid_t *pids = NULL;
    size_t n = 0;
    struct warden_tree t = {.holder = s->holder, .main = s->main, .cgroup = s->cgroup};
    int r = warden__tree_pids(&t, &pids, &n);
    size_t k = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (pids[i] != t.holder.pid) {
            pids[k++] = pids[i];
        }
    }
    char *path = NULL;
    if (r == 0) {
        r = warden_dump_processes(&o, instance, reason, pids, k, deadline, &path);
    }
    free(pids);
    warden__service_free(s);
    if (r < 0) {
        /* A full disk or a read-only directory: logged, and recovery goes on. */
        qb_log(LOG_ERR, "dump of %s into %s failed: %s", instance, o.dir, strerror(-r));
        return 1;
    }
    qb_log(LOG_NOTICE, "dumped %zu process(es) of %s (%s) to %s", k, instance, reason, path);
    const char *fd = getenv("WARDEN_REPORT_FD");
    if (!isempty(fd)) {
        dprintf(atoi(fd), "%s\n", path);
    }
    free(path);
    return 0;
}
