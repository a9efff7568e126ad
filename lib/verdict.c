/* Verdicts: the answer, the published file, the keeper's liveness. Linked
 * into the agent's front too, so: libc only. */
#include <fcntl.h>
#include <stdio.h>

#include "util-int.h"
#include "verdict-int.h"

#define VERDICT_MAGIC 0x77617264u /* "ward" */

struct verdict_file {
    uint32_t magic;
    uint32_t size; /* sizeof(struct verdict_file): a different build reads nothing */
    struct warden_verdict verdict;
};

int warden__verdict_answer(const struct warden_verdict *v, warden_usec_t now, char **ret_reason)
{
    warden_usec_t limit = v->check_interval_usec + v->check_timeout_usec + WARDEN_VERDICT_MARGIN;
    if (now > v->at_usec && now - v->at_usec > limit) {
        char age[32];
        *ret_reason = warden__strdup_printf("health monitor stalled: newest verdict is %s old",
                                            warden_time_format(now - v->at_usec, age, sizeof(age)));
        return -ETIMEDOUT;
    }
    switch (v->health) {
    case WARDEN_HEALTH_RUNNING:
        return 0;
    case WARDEN_HEALTH_STOPPED:
        *ret_reason = strdup(v->reason);
        return -ESRCH;
    default:
        *ret_reason = strdup(v->reason);
        return -EIO;
    }
}

int warden__verdict_write(const char *state_dir, const struct warden_verdict *v)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof(tmp), "%s/verdict.tmp", state_dir);
    snprintf(path, sizeof(path), "%s/verdict", state_dir);
    struct verdict_file f = {.magic = VERDICT_MAGIC, .size = sizeof(f), .verdict = *v};
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return negative_errno();
    }
    if (write(fd, &f, sizeof(f)) != (ssize_t)sizeof(f)) {
        return -EIO;
    }
    return RET_NERRNO(rename(tmp, path));
}

int warden__verdict_read(const char *state_dir, struct warden_verdict *ret)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/verdict", state_dir);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return negative_errno();
    }
    struct verdict_file f;
    if (read(fd, &f, sizeof(f)) != (ssize_t)sizeof(f) || f.magic != VERDICT_MAGIC ||
        f.size != sizeof(f)) {
        return -EBADMSG;
    }
    f.verdict.reason[sizeof(f.verdict.reason) - 1] = '\0';
    *ret = f.verdict;
    return 0;
}

int warden__verdict_keeper_alive(const struct warden_verdict *v)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)v->keeper_pid);
    _cleanup_close_ int fd = v->keeper_pid > 1 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
        return -ESRCH;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0) {
        return -ESRCH;
    }
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    char state = 0;
    unsigned long long start = 0;
    if (!p || sscanf(p + 2,
                     "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                     "%*s %*s %*s %llu",
                     &state, &start) != 2) {
        return -EIO;
    }
    return state != 'Z' && start == v->keeper_start ? 0 : -ESRCH;
}
