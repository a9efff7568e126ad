/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The front of every agent: the code Pacemaker runs on every monitor.
 *
 * Each monitor is a fresh exec of the agent, so what the agent loads is paid
 * every time. Loading libqb (with libsystemd, libgcrypt and five more it
 * pulls in) costs more than the whole exec of an empty program here. So the
 * agent binary links only this file and libc: a depth-0 recurring monitor is
 * answered from the verdict the keeper publishes in its state directory,
 * and everything else (every other action, and any doubt: no verdict, a
 * keeper that is gone) loads the full library and runs there, where the
 * keeper is asked over IPC, replaced, and so on. */
#include <dlfcn.h>
#include <stdio.h>

#include "agent-int.h"
#include "instance-int.h"
#include "util-int.h"
#include "verdict-int.h"
#include "warden/probe.h"

#ifndef WARDEN_STATE_DIR_DEFAULT
#define WARDEN_STATE_DIR_DEFAULT "/run/warden"
#endif
#ifndef WARDEN_LIBRARY
#define WARDEN_LIBRARY "libwarden.so.0"
#endif

typedef int (*full_main_fn)(const struct warden_agent *, size_t, size_t, int, char **);

/* Resolved where the full library is linked into the same binary. */
extern __typeof__(warden__agent_main_full) warden__agent_main_full __attribute__((weak));

/* A recurring monitor at depth 0 with a live keeper: answered here. Returns
 * false when the full agent must answer. */
static bool fast_monitor(int argc, char **argv, int *ret_rc)
{
    if (argc < 2 || !streq(argv[1], "monitor")) {
        return false;
    }
    const char *interval = getenv("OCF_RESKEY_CRM_meta_interval");
    const char *level = getenv("OCF_CHECK_LEVEL");
    const char *instance = getenv("OCF_RESOURCE_INSTANCE");
    if (isempty(interval) || strtoull(interval, NULL, 10) == 0 ||
        (!isempty(level) && atoi(level) >= 10)) {
        return false;
    }
    /* The directory the library's service.c uses: the same mapping. */
    char name[WARDEN_INSTANCE_FILE_SIZE];
    if (warden__instance_file_name(instance, name) < 0) {
        return false;
    }
    const char *root = getenv("WARDEN_STATE_DIR");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", !isempty(root) ? root : WARDEN_STATE_DIR_DEFAULT, name);
    struct warden_verdict v;
    if (warden__verdict_read(dir, &v) < 0 || warden__verdict_keeper_alive(&v) < 0) {
        return false;
    }
    /* A failure the keeper pushes is counted by the push; the recovery
     * cancels this monitor (no second count) unless it answers first. */
    int w = warden__verdict_await(
        dir, &v, warden__verdict_await_deadline(getenv("OCF_RESKEY_CRM_meta_timeout")));
    char *reason = NULL;
    int r = warden__verdict_answer(&v, warden_now(), &reason);
    if (r == -ETIMEDOUT) {
        /* A stale verdict: the keeper is stuck, which says nothing about
         * the service. The full agent replaces it and checks now. */
        free(reason);
        return false;
    }
    if (w <= 0 && r != 0 && warden__verdict_pushing(&v)) {
        /* execd logs the agent's stderr */
        fprintf(stderr,
                "warden: reporting a failure the keeper pushed (%s): Pacemaker may count "
                "it twice\n",
                w == -ETIMEDOUT ? "no recovery before this monitor's timeout" : strerror(-w));
    }
    *ret_rc = r == 0                       ? WARDEN_OCF_SUCCESS
              : r == WARDEN_PROBE_DEGRADED ? WARDEN_OCF_DEGRADED
              : r == -ESRCH                ? WARDEN_OCF_NOT_RUNNING
                                           : WARDEN_OCF_ERR_GENERIC;
    if (reason && r != 0) {
        fprintf(stderr, "ocf-exit-reason:%s\n", reason);
    }
    free(reason);
    return true;
}

int warden_agent_main_sized(const struct warden_agent *agent, size_t agent_size, size_t param_size,
                            int argc, char **argv)
{
    int rc;
    if (fast_monitor(argc, argv, &rc)) {
        return rc;
    }
    if (warden__agent_main_full) {
        return warden__agent_main_full(agent, agent_size, param_size, argc, argv);
    }
    /* WARDEN_LIBRARY in the environment: tests run the build tree's (or an
     * installed copy's under a DESTDIR); otherwise the path of the library
     * this front was built with, the installed one. */
    const char *lib = getenv("WARDEN_LIBRARY");
    void *h = dlopen(!isempty(lib) ? lib : WARDEN_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    full_main_fn full = h ? (full_main_fn)dlsym(h, "warden__agent_main_full") : NULL;
    if (!full) {
        fprintf(stderr, "ocf-exit-reason:cannot load libwarden: %s\n", dlerror());
        /* A probe must still say "not running" on a node without it. */
        return argc > 1 && streq(argv[1], "monitor") ? WARDEN_OCF_NOT_RUNNING
                                                     : WARDEN_OCF_ERR_INSTALLED;
    }
    return full(agent, agent_size, param_size, argc, argv);
}
