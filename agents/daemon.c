/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ocf:warden:daemon - any long-running program, kept alive the EXRES way. */
#include <warden/warden.h>

static const struct warden_param params[] = {
    {NULL},
};

static const struct warden_agent agent = {
    .name = "daemon",
    .version = "0.1",
    .shortdesc = "Runs and watches a long-running program (warden)",
    .longdesc =
        "Runs a program as a cluster service in the manner of Exchange's EXRES: start and stop "
        "run under a deadline (pending_timeout) so the agent always answers before Pacemaker "
        "would kill it; stop ends the service's whole process tree (its cgroup, or its session "
        "and every descendant) and succeeds only when nothing of it is left; monitor runs the "
        "health probe given by check.",
    .params = params,
};

int main(int argc, char **argv)
{
    return warden_agent_main(&agent, argc, argv);
}
