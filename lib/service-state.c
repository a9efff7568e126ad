/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service's record (service-int.h): its state file (holder, main
 * process, cgroup), the tree it makes, and its cgroup or systemd unit,
 * found again and dropped. Apart from service.c, which starts, watches and
 * stops the service, because every action reads and writes this record. */
#include <stdio.h>
#include <unistd.h>

#include "cgroup-int.h"
#include "log-int.h"
#include "service-int.h"
#include "unit-int.h"
#include "util-int.h"

static char *state_file(const struct warden_service *s)
{
    return warden__strdup_printf("%s/service", s->state_dir);
}

int warden__service_state_write(const struct warden_service *s)
{
    _cleanup_free_ char *path = state_file(s);
    _cleanup_free_ char *tmp = warden__strdup_printf("%s/service.tmp", s->state_dir);
    if (!path || !tmp) {
        return -ENOMEM;
    }
    FILE *f = fopen(tmp, "we");
    if (!f) {
        return negative_errno();
    }
    fprintf(f, "holder %d %llu\nmain %d %llu\n", (int)s->holder.pid,
            (unsigned long long)s->holder.starttime, (int)s->main.pid,
            (unsigned long long)s->main.starttime);
    if (s->cgroup) {
        fprintf(f, "cgroup %s\n", s->cgroup);
    }
    if (fclose(f) != 0) {
        return negative_errno();
    }
    return RET_NERRNO(rename(tmp, path));
}

/* A reference to a recorded process: open when it still lives, else just its
 * pid and start time, never used to signal (a dead holder's pid is still its
 * session's id, for as long as the session has a process). */
static void ref_recorded(struct warden_pidref *ref, int pid, unsigned long long start)
{
    warden__pidref_done(ref);
    if (warden__pidref_open(pid, start, ref) < 0) {
        *ref = (struct warden_pidref){.pid = pid, .fd = -EBADF, .starttime = start};
    }
}

/* 0 when a state file was read, -ENOENT when there is none. */
int warden__service_state_load(struct warden_service *s)
{
    _cleanup_free_ char *path = state_file(s);
    _cleanup_free_ char *text = NULL;
    if (!path) {
        return -ENOMEM;
    }
    int r = warden__read_file(path, 8192, &text);
    if (r < 0) {
        return r;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int pid;
        unsigned long long start;
        if (sscanf(line, "holder %d %llu", &pid, &start) == 2) {
            ref_recorded(&s->holder, pid, start);
        } else if (sscanf(line, "main %d %llu", &pid, &start) == 2) {
            ref_recorded(&s->main, pid, start);
        } else if (startswith(line, "cgroup ")) {
            free(s->cgroup);
            s->cgroup = strdup(line + strlen("cgroup "));
        }
    }
    return 0;
}

/* Called once the keeper has been stood down (or never ran). */
void warden__service_state_remove(struct warden_service *s)
{
    static const char *const files[] = {"service",     "keeper",      "keeper.lock",
                                        "verdict",     "verdict.tmp", "history",
                                        "history.tmp", "output.tail", "notify.status"};
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        _cleanup_free_ char *path = warden__strdup_printf("%s/%s", s->state_dir, files[i]);
        if (path) {
            unlink(path);
        }
    }
    rmdir(s->state_dir);
    if (s->notify_path) {
        unlink(s->notify_path); /* the service's NOTIFY_SOCKET, in <root>/.notify */
    }
}

/* The service's tree: its cgroup, or the holder's session (by the holder's
 * recorded pid and start time, never by a bare pid) plus whatever lives
 * below the holder or the main process while their pidfds show them
 * alive. */
struct warden_tree warden__service_tree(const struct warden_service *s)
{
    return (struct warden_tree){.holder = s->holder, .main = s->main, .cgroup = s->cgroup};
}

/* The cgroup a service of this instance would have, whether or not a state
 * file says so: a start whose state was lost can still be cleaned up. */
void warden__service_guess_cgroup(struct warden_service *s)
{
    if (!s->cgroup && warden__unit_enabled() > 0) {
        warden__unit_cgroup_find(s->instance, &s->cgroup);
    }
    if (!s->cgroup) {
        warden__cgroup_find(s->instance, &s->cgroup);
    }
}

/* The service's cgroup, once nothing of the service is left in it. A
 * unit's is systemd's: the unit is stopped and goes, with its cgroup. Any
 * other (<cgroup2>/warden/<name>, from before systemd, or on a host without
 * it) is ours to remove. On a systemd host the unit goes even when no
 * cgroup was recorded: a stale one would refuse the next start. */
void warden__service_drop_cgroup(const struct warden_service *s, const char *cgroup,
                                 warden_usec_t deadline)
{
    if (cgroup && !warden__unit_owns_cgroup(cgroup)) {
        warden__cgroup_remove(cgroup);
    }
    if (warden__unit_owns_cgroup(cgroup) || warden__unit_enabled() > 0) {
        int r = warden__unit_stop(s->instance, deadline);
        if (r < 0) {
            qb_log(LOG_WARNING, "the service's systemd unit may be left: %s", strerror(-r));
        }
    }
}
