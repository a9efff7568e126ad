/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dialogue engine (dialogue.h) as the library's own probes use it. */
#pragma once

#include <stdbool.h>

#include "warden/dialogue.h"

/* A step flag only the library's own tables may set (http:): the final line
 * is an HTTP/1.x status line, 2xx or 3xx (a redirect is an answer too);
 * interim answers (1xx) and their headers before it are skipped, and a
 * wrong status reads "status 500 Oops". Regular expressions cannot say the
 * headers of an interim answer apart from a wrong final line, nor make that
 * reason. */
#define WARDEN__DIALOGUE_HTTP_STATUS (1u << 31)

/* Where a dialogue goes, and what its sent lines may name. */
struct warden__dialogue_target {
    const char *host; /* as warden__host_ok() takes it */
    const char *port; /* digits, as warden__port_parse() leaves them */
    const char *path; /* "{path}" in a sent line (http:); NULL: not expanded */
};

/* warden_dialogue_run_sized() for a host and port already checked; with
 * builtin, the steps may set WARDEN__DIALOGUE_HTTP_STATUS. */
int warden__dialogue_run(const struct warden_dialogue *dialogue, size_t dialogue_size,
                         size_t step_size, const struct warden__dialogue_target *target,
                         bool builtin, warden_usec_t deadline, char **ret_reason);
