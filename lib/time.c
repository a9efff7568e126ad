/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Monotonic time and OCF time values. */
#include <ctype.h>
#include <stdio.h>
#include <time.h>

#include "util-int.h"

warden_usec_t warden_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (warden_usec_t)ts.tv_sec * WARDEN_USEC_PER_SEC + (warden_usec_t)ts.tv_nsec / 1000;
}

warden_usec_t warden_deadline_in(warden_usec_t usec)
{
    warden_usec_t now = warden_now();
    return usec >= WARDEN_USEC_INFINITY - now ? WARDEN_USEC_INFINITY : now + usec;
}

static const struct {
    const char *suffix;
    warden_usec_t factor;
} time_units[] = {
    /* Matched on the whole unit, so "m", "ms" and "min" never shadow each other. */
    {"ms", WARDEN_USEC_PER_MSEC},
    {"msec", WARDEN_USEC_PER_MSEC},
    {"us", 1},
    {"usec", 1},
    {"s", WARDEN_USEC_PER_SEC},
    {"sec", WARDEN_USEC_PER_SEC},
    {"m", 60 * WARDEN_USEC_PER_SEC},
    {"min", 60 * WARDEN_USEC_PER_SEC},
    {"h", 3600 * WARDEN_USEC_PER_SEC},
    {"hr", 3600 * WARDEN_USEC_PER_SEC},
    {"", WARDEN_USEC_PER_SEC}, /* a bare number is seconds, as in Pacemaker */
};

int warden_time_parse(const char *text, warden_usec_t *ret_usec)
{
    if (!text) {
        return -EINVAL;
    }
    const char *p = text;
    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return -EINVAL;
    }
    warden_usec_t value = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (value > (UINT64_MAX - 9) / 10) {
            return -ERANGE;
        }
        value = value * 10 + (warden_usec_t)(*p - '0');
    }
    const char *unit = p;
    size_t len = 0;
    while (isalpha((unsigned char)unit[len])) {
        len++;
    }
    for (const char *rest = unit + len; *rest; rest++) {
        if (!isspace((unsigned char)*rest)) {
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < ELEMENTSOF(time_units); i++) {
        if (strlen(time_units[i].suffix) == len &&
            strncasecmp(unit, time_units[i].suffix, len) == 0) {
            if (value > (WARDEN_USEC_INFINITY - 1) / time_units[i].factor) {
                return -ERANGE;
            }
            *ret_usec = value * time_units[i].factor;
            return 0;
        }
    }
    return -EINVAL;
}

char *warden_time_format(warden_usec_t usec, char *buf, size_t size)
{
    if (usec == WARDEN_USEC_INFINITY) {
        snprintf(buf, size, "infinity");
    } else if (usec % (60 * WARDEN_USEC_PER_SEC) == 0 && usec > 0) {
        snprintf(buf, size, "%llumin", (unsigned long long)(usec / (60 * WARDEN_USEC_PER_SEC)));
    } else if (usec >= WARDEN_USEC_PER_SEC) {
        if (usec % WARDEN_USEC_PER_SEC == 0) {
            snprintf(buf, size, "%llus", (unsigned long long)(usec / WARDEN_USEC_PER_SEC));
        } else {
            snprintf(buf, size, "%.1fs", (double)usec / (double)WARDEN_USEC_PER_SEC);
        }
    } else {
        snprintf(buf, size, "%llums", (unsigned long long)(usec / WARDEN_USEC_PER_MSEC));
    }
    return buf;
}
