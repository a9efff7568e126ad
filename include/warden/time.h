/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file time.h
 * One time type for all of warden: microseconds on CLOCK_MONOTONIC.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Microseconds. Deadlines are absolute CLOCK_MONOTONIC points. */
typedef uint64_t warden_usec_t;

#define WARDEN_USEC_INFINITY ((warden_usec_t)UINT64_MAX)
#define WARDEN_USEC_PER_MSEC ((warden_usec_t)1000)
#define WARDEN_USEC_PER_SEC  ((warden_usec_t)1000000)

/** @return the current CLOCK_MONOTONIC time in microseconds. */
warden_usec_t warden_now(void);

/**
 * Deadline @p usec from now, saturating at WARDEN_USEC_INFINITY.
 * @return the absolute monotonic deadline.
 */
warden_usec_t warden_deadline_in(warden_usec_t usec);

/**
 * Parse an OCF time value: a whole number with an optional unit
 * (`ms`, `s`, `min`, `h`); a bare number is seconds, as Pacemaker reads it.
 * @param text the value, e.g. "500ms", "10s", "2min", "30".
 * @param ret_usec where the result goes; untouched on failure.
 * @return 0, or -EINVAL for a malformed value, -ERANGE when it overflows.
 */
int warden_time_parse(const char *text, warden_usec_t *ret_usec);

/**
 * Format a duration for people: "1.5s", "200ms", "2min".
 * @return @p buf.
 */
char *warden_time_format(warden_usec_t usec, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
