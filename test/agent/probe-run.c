/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe-run SPEC TIMEOUT_MS: run one probe of libwarden's public API
 * (warden_probe_new(), warden_probe_run()) and print what it returned and
 * why: "rc REASON". For the agent tests, to look at a probe's own answer
 * (WARDEN_PROBE_DEGRADED, say) where the agent's exit code is its mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <warden/probe.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: probe-run SPEC TIMEOUT_MS\n");
        return 2;
    }
    warden_probe *p = NULL;
    int r = warden_probe_new(argv[1], &p);
    if (r < 0) {
        printf("%d bad spec\n", r);
        return 1;
    }
    struct warden_probe_context ctx = {.size = sizeof(ctx)};
    char *reason = NULL;
    warden_usec_t deadline =
        warden_now() + (warden_usec_t)strtoul(argv[2], NULL, 10) * WARDEN_USEC_PER_MSEC;
    r = warden_probe_run(p, &ctx, deadline, &reason);
    printf("%d %s\n", r, reason ? reason : "");
    free(reason);
    warden_probe_free(p);
    return 0;
}
