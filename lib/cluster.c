/* warden-push: tell the local Pacemaker controller that a resource failed,
 * now, instead of waiting for its next monitor. What `crm_resource --fail`
 * does, through the same call (pcmk_controld_api_fail).
 *
 * The one file of warden that includes Pacemaker's headers. It is built as a
 * small executable of its own, run by the keeper when a failure begins, so
 * that neither the agent (exec'd for every monitor) nor the keeper (resident,
 * with a memory budget) ever loads libcrmcommon and its 33 shared objects.
 *
 *   warden-push NODE RESOURCE PROVIDER TYPE [REASON]
 *
 * Exit status: 0 pushed; 77 no controller to talk to (no cluster here);
 * 1 the controller refused or failed.
 *
 * Pacemaker before 2.1.6 counts one simulated failure twice: the op lands in
 * the CIB as both "_last_0" and "_last_failure_0", and each event increments
 * fail-count-RSC#asyncmon_0 (fixed upstream by "Don't double-increment
 * failcount for simulated failures"). With migration-threshold=3 that would
 * move the resource after the second failure instead of the third. There,
 * this program lowers that fail count by one before the push, so the two
 * increments land on exactly one more than before, and checks afterwards that
 * it did (adding the increment that did not come, if only one came). Values
 * in between are never above the right one, so the threshold is never
 * reached early (when attrd folds both increments into one, the count is one
 * short for about a second). It uses attrd_updater, Pacemaker's public tool, not its
 * internal attrd API. */
#include <crm/common/ipc.h>
#include <crm/common/ipc_controld.h>
#include <crm/common/results.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Pacemaker's standard return codes (pcmk_rc_*, or errno values) to ours. */
static int rc_to_errno(int rc)
{
    if (rc == pcmk_rc_ok) {
        return 0;
    }
    return rc > 0 ? -rc : -EIO;
}

static int push_failure(const char *node, const char *rsc, const char *provider, const char *type)
{
    pcmk_ipc_api_t *api = NULL;
    int r = rc_to_errno(pcmk_new_ipc_api(&api, pcmk_ipc_controld));
    if (r < 0) {
        return r;
    }
    r = rc_to_errno(pcmk_connect_ipc(api, pcmk_ipc_dispatch_sync));
    if (r < 0) {
        pcmk_free_ipc_api(api);
        return -ENOTCONN;
    }
    r = rc_to_errno(pcmk_controld_api_fail(api, node, NULL, rsc, rsc, "ocf", provider, type));
    pcmk_disconnect_ipc(api);
    pcmk_free_ipc_api(api);
    return r;
}

#if WARDEN_PCMK_DOUBLE_COUNTS
/* Run attrd_updater with args; its stdout into out. Returns its exit status
 * or -errno. */
static int attrd_updater(char *const args[], char *out, size_t size)
{
    int pipefd[2];
    if (pipe(pipefd) < 0) {
        return -errno;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    pid_t pid;
    int r = posix_spawnp(&pid, "attrd_updater", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    size_t len = 0;
    ssize_t n;
    while (r == 0 && len + 1 < size && (n = read(pipefd[0], out + len, size - len - 1)) > 0) {
        len += (size_t)n;
    }
    out[len] = '\0';
    close(pipefd[0]);
    if (r != 0) {
        return -r;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -EIO;
}

/* The node's value of an attribute; 0 when it has none. */
static long long attr_get(const char *node, const char *name)
{
    char out[512];
    char *args[] = {"attrd_updater", "-Q", "-n", (char *)name, "-N", (char *)node, NULL};
    if (attrd_updater(args, out, sizeof(out)) != 0) {
        return 0;
    }
    const char *v = strstr(out, "value=\"");
    return v ? strtoll(v + strlen("value=\""), NULL, 10) : 0;
}

static int attr_set(const char *node, const char *name, long long value)
{
    char text[32], out[64];
    snprintf(text, sizeof(text), "%lld", value);
    char *args[] = {"attrd_updater", "-U", text, "-n", (char *)name, "-N", (char *)node, NULL};
    return attrd_updater(args, out, sizeof(out)) == 0 ? 0 : -EIO;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int push_failure_counted_once(const char *node, const char *rsc, const char *provider,
                                     const char *type)
{
    char name[512];
    snprintf(name, sizeof(name), "fail-count-%s#asyncmon_0", rsc);
    long long before = attr_get(node, name);
    long long want = before + 1;
    attr_set(node, name, before - 1);
    int r = push_failure(node, rsc, provider, type);
    if (r < 0) {
        attr_set(node, name, before);
        return r;
    }
    /* attrd has no event to wait on from here: look, briefly, until the
     * increments have landed. Both come from one CIB change within
     * milliseconds, but attrd may expand both from the same old value, and
     * then only one lands: after a second, add the missing one. */
    long long now = before - 1;
    for (int i = 0; i < 20 && now < want; i++) {
        sleep_ms(50);
        now = attr_get(node, name);
    }
    if (now != want) {
        attr_set(node, name, want);
    }
    return 0;
}
#endif

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s NODE RESOURCE PROVIDER TYPE [REASON]\n", argv[0]);
        return 2;
    }
#if WARDEN_PCMK_DOUBLE_COUNTS
    int r = push_failure_counted_once(argv[1], argv[2], argv[3], argv[4]);
#else
    int r = push_failure(argv[1], argv[2], argv[3], argv[4]);
#endif
    if (r == -ENOTCONN) {
        fprintf(stderr, "warden-push: no Pacemaker controller to talk to\n");
        return 77;
    }
    if (r < 0) {
        fprintf(stderr, "warden-push: %s on %s: %s\n", argv[2], argv[1], strerror(-r));
        return 1;
    }
    return 0;
}
