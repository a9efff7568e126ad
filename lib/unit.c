/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd hosts: a transient scope unit per service (see unit-int.h).
 *
 * The connection is PID 1's own socket, /run/systemd/private, as systemctl
 * uses it as root: it needs no D-Bus broker (a node may have none, or the
 * broker may be what hangs), and only root can open it. The system bus is
 * the fallback. sd-bus waits with timeouts of its own (25 s) in places, so
 * nothing here blocks in sd-bus without a bound: the connection is driven
 * until ready with sd_bus_process/sd_bus_wait under the deadline, each call
 * gets what is left of it, and so does each wait for a signal.
 *
 * The scope is ordered Before=pacemaker.service (and pacemaker_remote's),
 * as Pacemaker orders the systemd units it runs itself: at shutdown,
 * systemd stops the scope only after Pacemaker has stopped, so Pacemaker
 * stops the service first, not systemd behind its back. */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "cgroup-int.h"
#include "instance-int.h"
#include "unit-int.h"
#include "util-int.h"

#define SLICE        "warden.slice"
#define SYSTEMD      "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define MANAGER      "org.freedesktop.systemd1.Manager"
#define NO_SUCH_UNIT "org.freedesktop.systemd1.NoSuchUnit"
#define UNIT_EXISTS  "org.freedesktop.systemd1.UnitExists"
#define PRIVATE_BUS  "unix:path=/run/systemd/private"
/* How long a stop waits for systemd to unload the unit once its stop job is
 * done: a unit something else holds on to would otherwise take the whole
 * stop timeout. */
#define UNLOAD_WAIT (3 * WARDEN_USEC_PER_SEC)

/* What the host offers, once: it does not change while we run. */
static int host_mode;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void probe_host(void)
{
    if (sd_booted() <= 0) {
        host_mode = 0;
        return;
    }
    /* PID 1's own cgroup, init.scope, exists on every systemd host with a
     * cgroup v2 hierarchy (unified or hybrid); cgroup.kill in it says the
     * kernel has it (5.14+). */
    _cleanup_free_ char *root = NULL;
    _cleanup_free_ char *kill_file = NULL;
    if (warden__cgroup_root(&root) < 0 ||
        !(kill_file = warden__strdup_printf("%s/init.scope/cgroup.kill", root)) ||
        access(kill_file, F_OK) < 0) {
        host_mode = -EOPNOTSUPP;
        return;
    }
    host_mode = 1;
}

int warden__unit_enabled(void)
{
    const char *force = getenv("WARDEN_SYSTEMD");
    const char *cgroup = getenv("WARDEN_CGROUP");
    if ((force && streq(force, "off")) || (cgroup && streq(cgroup, "off"))) {
        return 0;
    }
    pthread_once(&host_once, probe_host);
    return host_mode;
}

static int remaining(warden_usec_t deadline, uint64_t *ret)
{
    warden_usec_t now = warden_now();
    if (now >= deadline) {
        return -ETIMEDOUT;
    }
    *ret = deadline - now;
    return 0;
}

/* One step of the connection: process one message, or, with none there,
 * wait for more until the deadline. */
static int bus_step(sd_bus *bus, warden_usec_t deadline)
{
    int r = sd_bus_process(bus, NULL);
    if (r != 0) {
        return r < 0 ? r : 0;
    }
    uint64_t left;
    r = remaining(deadline, &left);
    if (r < 0) {
        return r;
    }
    r = sd_bus_wait(bus, left);
    return r < 0 && r != -EINTR ? r : 0;
}

/* Process what came in, and wait for more, until *done or the deadline. */
static int bus_wait(sd_bus *bus, const bool *done, warden_usec_t deadline)
{
    while (!*done) {
        int r = bus_step(bus, deadline);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* The connection, authenticated (and, on the system bus, with its name)
 * before the deadline. */
static int bus_ready(sd_bus *bus, warden_usec_t deadline)
{
    for (;;) {
        int r = sd_bus_is_ready(bus);
        if (r != 0) {
            return r < 0 ? r : 0;
        }
        r = bus_step(bus, deadline);
        if (r < 0) {
            return r;
        }
    }
}

static int bus_open(warden_usec_t deadline, sd_bus **ret)
{
    sd_bus *bus = NULL;
    int r = sd_bus_new(&bus);
    if (r < 0) {
        return r;
    }
    r = sd_bus_set_address(bus, PRIVATE_BUS);
    if (r >= 0) {
        r = sd_bus_start(bus);
    }
    if (r >= 0) {
        r = bus_ready(bus, deadline);
    }
    if (r < 0 && r != -ETIMEDOUT) {
        sd_bus_close_unref(bus);
        bus = NULL;
        r = sd_bus_open_system(&bus);
        if (r >= 0) {
            r = bus_ready(bus, deadline);
        }
    }
    if (r < 0) {
        sd_bus_close_unref(bus);
        return r;
    }
    *ret = bus;
    return 0;
}

static int call(sd_bus *bus, sd_bus_message *m, warden_usec_t deadline, sd_bus_error *error,
                sd_bus_message **ret_reply)
{
    uint64_t left;
    int r = remaining(deadline, &left);
    return r < 0 ? r : sd_bus_call(bus, m, left, error, ret_reply);
}

/* What systemd tells about our unit: the end of a job, its unloading. */
struct watch {
    const char *unit;
    char *job;        /* the job we wait for, once the call returned it */
    char *job_result; /* "done", "failed", ... once it ended */
    bool job_done;
    bool removed;
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    struct watch *w = userdata;
    uint32_t id;
    const char *path, *unit, *result;
    if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) {
        return 0;
    }
    if (w->job && streq(path, w->job) && streq(unit, w->unit) && !w->job_done) {
        w->job_result = strdup(result);
        w->job_done = true;
    }
    return 0;
}

static int on_unit_removed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    struct watch *w = userdata;
    const char *unit, *path;
    if (sd_bus_message_read(m, "so", &unit, &path) >= 0 && streq(unit, w->unit)) {
        w->removed = true;
    }
    return 0;
}

/* Listen for JobRemoved and UnitRemoved, and ask systemd to send them. On
 * the system bus the match names systemd as the sender (anyone may send a
 * signal there); a direct connection has only PID 1 at the other end, and
 * its messages carry no sender. Subscribe is answered after the broker has
 * the match rules (it handles one client's messages in order). */
static int watch_begin(sd_bus *bus, struct watch *w, sd_bus_slot **ret_jobs,
                       sd_bus_slot **ret_units, warden_usec_t deadline)
{
    const char *sender = sd_bus_is_bus_client(bus) > 0 ? SYSTEMD : NULL;
    int r = sd_bus_match_signal_async(bus, ret_jobs, sender, SYSTEMD_PATH, MANAGER, "JobRemoved",
                                      on_job_removed, NULL, w);
    if (r >= 0) {
        r = sd_bus_match_signal_async(bus, ret_units, sender, SYSTEMD_PATH, MANAGER, "UnitRemoved",
                                      on_unit_removed, NULL, w);
    }
    if (r < 0) {
        return r;
    }
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    r = sd_bus_message_new_method_call(bus, &m, SYSTEMD, SYSTEMD_PATH, MANAGER, "Subscribe");
    return r < 0 ? r : call(bus, m, deadline, NULL, NULL);
}

static void watch_done(struct watch *w)
{
    free(w->job);
    free(w->job_result);
}

/* Wait for the end of the job a call returned (reply: "o"). -EIO unless it
 * ended "done". */
static int wait_job(sd_bus *bus, struct watch *w, sd_bus_message *reply, warden_usec_t deadline,
                    char **ret_reason)
{
    const char *job;
    int r = sd_bus_message_read(reply, "o", &job);
    if (r < 0) {
        return r;
    }
    if (!(w->job = strdup(job))) {
        return -ENOMEM;
    }
    r = bus_wait(bus, &w->job_done, deadline);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "no end of systemd job %s for %s in time", job,
                                  w->unit);
    }
    if (!w->job_result || !streq(w->job_result, "done")) {
        return warden__set_reason(ret_reason, -EIO, "systemd job for %s ended '%s'", w->unit,
                                  w->job_result ? w->job_result : "?");
    }
    return 0;
}

/* The cgroup pid is in, from /proc/PID/cgroup's v2 line "0::/PATH": the
 * kernel's word, not systemd's. */
static int pid_cgroup(pid_t pid, char **ret)
{
    _cleanup_free_ char *path = warden__strdup_printf("/proc/%d/cgroup", (int)pid);
    _cleanup_free_ char *text = NULL;
    if (!path) {
        return -ENOMEM;
    }
    int r = warden__read_file(path, 1 << 16, &text);
    if (r < 0) {
        return r;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (startswith(line, "0::/")) {
            *ret = strdup(line + 3);
            return *ret ? 0 : -ENOMEM;
        }
    }
    return -ENOMEDIUM;
}

/* A description for systemctl: the resource's name when it is plain
 * printable ASCII (D-Bus takes nothing but UTF-8, and a unit's description
 * has no business with control bytes), else the unit name's escaped form. */
static char *describe(const char *instance, const char *unit)
{
    bool plain = strlen(instance) <= 200;
    for (const unsigned char *c = (const unsigned char *)instance; plain && *c; c++) {
        plain = *c >= 0x20 && *c < 0x7f;
    }
    return warden__strdup_printf("warden: service of cluster resource %s", plain ? instance : unit);
}

/* MemoryMax= and CPUWeight=, each when set, or every one (reset): systemd
 * takes UINT64_MAX for "infinity" and for "the default weight". */
static int append_resources(sd_bus_message *m, const struct warden_unit_resources *res, bool reset)
{
    int r = 0;
    if (reset || res->memory_max != WARDEN_UNIT_UNSET) {
        r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t", res->memory_max);
    }
    if (r >= 0 && (reset || res->cpu_weight != WARDEN_UNIT_UNSET)) {
        r = sd_bus_message_append(m, "(sv)", "CPUWeight", "t", res->cpu_weight);
    }
    return r;
}

static int append_properties(sd_bus_message *m, const char *description, pid_t pid,
                             const struct warden_unit_resources *res)
{
    int r = sd_bus_message_open_container(m, 'a', "(sv)");
    if (r >= 0) {
        r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)(sv)", "Description", "s", description,
                                  "Slice", "s", SLICE, "PIDs", "au", 1, (uint32_t)pid, "Delegate",
                                  "b", 1, "CollectMode", "s", "inactive-or-failed", "Before", "as",
                                  2, "pacemaker.service", "pacemaker_remote.service");
    }
    if (r >= 0 && res) {
        r = append_resources(m, res, false);
    }
    if (r >= 0) {
        r = sd_bus_message_close_container(m);
    }
    if (r >= 0) {
        /* No auxiliary units. */
        r = sd_bus_message_append(m, "a(sa(sv))", 0);
    }
    return r;
}

int warden__unit_start(const char *instance, pid_t pid, const struct warden_unit_resources *res,
                       warden_usec_t deadline, char **ret_cgroup, char **ret_reason)
{
    char unit[WARDEN_INSTANCE_UNIT_SIZE];
    int r = warden__instance_unit_name(instance, unit);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *root = NULL;
    r = warden__cgroup_root(&root);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "no cgroup v2 hierarchy for unit %s", unit);
    }
    _cleanup_free_ char *description = describe(instance, unit);
    if (!description) {
        return -ENOMEM;
    }
    _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
    r = bus_open(deadline, &bus);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "cannot reach systemd over D-Bus: %s",
                                  strerror(-r));
    }
    struct watch w = {.unit = unit};
    _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *jobs = NULL;
    _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *units = NULL;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
    r = watch_begin(bus, &w, &jobs, &units, deadline);
    if (r >= 0) {
        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD, SYSTEMD_PATH, MANAGER,
                                           "StartTransientUnit");
    }
    if (r >= 0) {
        r = sd_bus_message_append(m, "ss", unit, "fail");
    }
    if (r >= 0) {
        r = append_properties(m, description, pid, res);
    }
    if (r >= 0) {
        r = call(bus, m, deadline, &error, &reply);
        if (r < 0 && sd_bus_error_is_set(&error)) {
            r = warden__set_reason(ret_reason,
                                   sd_bus_error_has_name(&error, UNIT_EXISTS) ? -EEXIST : -EIO,
                                   "systemd did not create unit %s: %s", unit, error.message);
            watch_done(&w);
            return r;
        }
    }
    if (r < 0) {
        watch_done(&w);
        return warden__set_reason(ret_reason, r, "cannot create unit %s: %s", unit, strerror(-r));
    }
    r = wait_job(bus, &w, reply, deadline, ret_reason);
    watch_done(&w);
    if (r < 0) {
        return r;
    }
    /* The job is done once systemd has moved the pid; the kernel says
     * where it is. */
    _cleanup_free_ char *cgroup = NULL;
    r = pid_cgroup(pid, &cgroup);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "cannot read the cgroup of process %d: %s",
                                  (int)pid, strerror(-r));
    }
    const char *base = strrchr(cgroup, '/');
    if (!base || !streq(base + 1, unit)) {
        return warden__set_reason(ret_reason, -EIO, "process %d is in %s, not in unit %s", (int)pid,
                                  cgroup, unit);
    }
    char *path = warden__strdup_printf("%s%s", root, cgroup);
    if (!path) {
        return -ENOMEM;
    }
    *ret_cgroup = path;
    return 0;
}

/* The instance's unit name, and a connection to systemd. */
static int unit_bus(const char *instance, char unit[static WARDEN_INSTANCE_UNIT_SIZE],
                    warden_usec_t deadline, sd_bus **ret_bus)
{
    int r = warden__instance_unit_name(instance, unit);
    return r < 0 ? r : bus_open(deadline, ret_bus);
}

int warden__unit_set_resources(const char *instance, const struct warden_unit_resources *res,
                               warden_usec_t deadline, char **ret_reason)
{
    char unit[WARDEN_INSTANCE_UNIT_SIZE];
    _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
    int r = unit_bus(instance, unit, deadline, &bus);
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "cannot reach systemd over D-Bus: %s",
                                  strerror(-r));
    }
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
    r = sd_bus_message_new_method_call(bus, &m, SYSTEMD, SYSTEMD_PATH, MANAGER,
                                       "SetUnitProperties");
    /* runtime: the values live as long as the unit, as the unit itself. */
    if (r >= 0) {
        r = sd_bus_message_append(m, "sb", unit, 1);
    }
    if (r >= 0) {
        r = sd_bus_message_open_container(m, 'a', "(sv)");
    }
    if (r >= 0) {
        r = append_resources(m, res, true);
    }
    if (r >= 0) {
        r = sd_bus_message_close_container(m);
    }
    if (r >= 0) {
        r = call(bus, m, deadline, &error, NULL);
    }
    if (r < 0 && sd_bus_error_is_set(&error)) {
        return warden__set_reason(ret_reason, -EIO, "systemd did not set the limits of unit %s: %s",
                                  unit, error.message);
    }
    if (r < 0) {
        return warden__set_reason(ret_reason, r, "cannot set the limits of unit %s: %s", unit,
                                  strerror(-r));
    }
    return 0;
}

int warden__unit_stop(const char *instance, warden_usec_t deadline)
{
    char unit[WARDEN_INSTANCE_UNIT_SIZE];
    _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
    int r = unit_bus(instance, unit, deadline, &bus);
    if (r < 0) {
        return r;
    }
    struct watch w = {.unit = unit};
    _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *jobs = NULL;
    _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *units = NULL;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *get = NULL;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *stop = NULL;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
    r = watch_begin(bus, &w, &jobs, &units, deadline);
    /* Loaded at all? Asked after the match, so that an unloading between
     * the two is seen either way. */
    if (r >= 0) {
        r = sd_bus_message_new_method_call(bus, &get, SYSTEMD, SYSTEMD_PATH, MANAGER, "GetUnit");
    }
    if (r >= 0) {
        r = sd_bus_message_append(get, "s", unit);
    }
    if (r >= 0) {
        r = call(bus, get, deadline, &error, NULL);
    }
    if (r >= 0) {
        r = sd_bus_message_new_method_call(bus, &stop, SYSTEMD, SYSTEMD_PATH, MANAGER, "StopUnit");
        if (r >= 0) {
            r = sd_bus_message_append(stop, "ss", unit, "replace");
        }
        if (r >= 0) {
            r = call(bus, stop, deadline, &error, &reply);
        }
        if (r >= 0) {
            r = wait_job(bus, &w, reply, deadline, NULL);
        }
        if (r >= 0) {
            warden_usec_t unload = warden_deadline_in(UNLOAD_WAIT);
            r = bus_wait(bus, &w.removed, unload < deadline ? unload : deadline);
        }
    }
    if (r < 0 && sd_bus_error_has_name(&error, NO_SUCH_UNIT)) {
        r = 0;
    }
    watch_done(&w);
    return r;
}

int warden__unit_cgroup_find(const char *instance, char **ret_path)
{
    char unit[WARDEN_INSTANCE_UNIT_SIZE];
    int r = warden__instance_unit_name(instance, unit);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *root = NULL;
    r = warden__cgroup_root(&root);
    if (r < 0) {
        return r;
    }
    /* A top-level slice's cgroup is its name, and a unit's cgroup in it is
     * the unit's name (no cgroup escaping: unit names never need it). */
    _cleanup_free_ char *path = warden__strdup_printf("%s/" SLICE "/%s", root, unit);
    if (!path) {
        return -ENOMEM;
    }
    struct stat st;
    if (lstat(path, &st) < 0) {
        return negative_errno();
    }
    if (!S_ISDIR(st.st_mode)) {
        return -ENOTDIR;
    }
    *ret_path = TAKE_PTR(path);
    return 0;
}

bool warden__unit_owns_cgroup(const char *path)
{
    return path && strstr(path, "/" SLICE "/") != NULL;
}
