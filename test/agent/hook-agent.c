/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ocf:warden:hooktest - an agent with a probe and every hook, for
 * test-hooks.sh. What each does is steered by files in hook_dir: every
 * call appends "<name> <main pid> <ms left before its deadline> <pid>" to
 * hook_dir/log; hook_dir/fail-<name> makes it fail with a reason,
 * hook_dir/hang-<name> makes it block far past its deadline,
 * hook_dir/degraded-probe makes the probe answer "alive, with a warning". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <warden/warden.h>

static const struct warden_param params[] = {
    {"hook_dir", WARDEN_PARAM_STRING, WARDEN_PARAM_REQUIRED, NULL, "Where the hooks log",
     "The test's directory: the log, and the files that make a hook fail or hang.",
     "an absolute path", NULL},
    {NULL},
};

static bool exists(const char *dir, const char *what, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s%s", dir, what, name);
    return access(path, F_OK) == 0;
}

static int hook(const char *name, const struct warden_agent_context *ctx, char **ret_reason)
{
    const char *dir = warden_params_string(ctx->params, "hook_dir");
    char path[4096];
    snprintf(path, sizeof(path), "%s/log", dir);
    FILE *f = fopen(path, "ae");
    if (f) {
        warden_usec_t now = warden_now();
        fprintf(f, "%s %d %lld %d\n", name, (int)ctx->main_pid,
                (long long)((ctx->deadline > now ? ctx->deadline - now : 0) / 1000), (int)getpid());
        fclose(f);
    }
    if (exists(dir, "hang-", name)) {
        sleep(1000);
    }
    if (exists(dir, "fail-", name)) {
        /* A control byte, which warden must not pass on to Pacemaker. */
        char *reason = NULL;
        if (asprintf(&reason, "%s refused\x01 by the test", name) > 0) {
            *ret_reason = reason;
        }
        return strcmp(name, "probe") == 0 ? -EPROTO : -EIO;
    }
    if (strcmp(name, "probe") == 0 && exists(dir, "degraded-", name)) {
        *ret_reason = strdup("certificate expires in 3 days");
        return WARDEN_PROBE_DEGRADED;
    }
    return 0;
}

static int probe(const struct warden_agent_context *ctx, char **ret_reason)
{
    return hook("probe", ctx, ret_reason);
}

static int before_start(const struct warden_agent_context *ctx, char **ret_reason)
{
    return hook("before_start", ctx, ret_reason);
}

static int ready(const struct warden_agent_context *ctx, char **ret_reason)
{
    return hook("ready", ctx, ret_reason);
}

static int before_stop(const struct warden_agent_context *ctx, char **ret_reason)
{
    return hook("before_stop", ctx, ret_reason);
}

static int after_stop(const struct warden_agent_context *ctx, char **ret_reason)
{
    return hook("after_stop", ctx, ret_reason);
}

static const struct warden_agent agent = {
    .name = "hooktest",
    .version = "0.1",
    .shortdesc = "Tests an agent's probe and hooks (warden)",
    .params = params,
    .probe = probe,
    .before_start = before_start,
    .ready = ready,
    .before_stop = before_stop,
    .after_stop = after_stop,
};

int main(int argc, char **argv)
{
    return warden_agent_main(&agent, argc, argv);
}
