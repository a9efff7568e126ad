/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Monotonic time, deadlines and OCF time values (lib/time.c). */
#include "check_common.h"

#include "warden/time.h"

#define MS  WARDEN_USEC_PER_MSEC
#define SEC WARDEN_USEC_PER_SEC

START_TEST(test_parse_accepts)
{
    /* Every unit Pacemaker writes, a bare number as seconds, and the blanks
     * an administrator may leave around a value. */
    static const struct {
        const char *text;
        warden_usec_t usec;
    } cases[] = {
        {"500ms", 500 * MS},
        {"10s", 10 * SEC},
        {"2min", 120 * SEC},
        {"1h", 3600 * SEC},
        {"30", 30 * SEC},
        {" 5s ", 5 * SEC},
        {"0", 0},
        {"250us", 250},
        {"3m", 180 * SEC},
        {"7sec", 7 * SEC},
        {"2hr", 7200 * SEC},
        {"15msec", 15 * MS},
        {"\t20s\n", 20 * SEC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        warden_usec_t v = 42;
        int r = warden_time_parse(cases[i].text, &v);
        ck_assert_msg(r == 0, "'%s': %s", cases[i].text, strerror(-r));
        ck_assert_msg(v == cases[i].usec, "'%s' parsed as %llu, want %llu", cases[i].text,
                      (unsigned long long)v, (unsigned long long)cases[i].usec);
    }
}
END_TEST

START_TEST(test_parse_rejects)
{
    /* A unit alone, an unknown unit, a sign, a fraction, and trailing
     * garbage are errors, and the output is left alone on failure. */
    static const char *const bad[] = {
        "", "   ", "s", "10x", "-1", "+1", "1.5s", "10 s x", "10s5", "ms10", "1e3", "0x10",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        warden_usec_t v = 42;
        int r = warden_time_parse(bad[i], &v);
        ck_assert_msg(r == -EINVAL, "'%s' gave %d, want -EINVAL", bad[i], r);
        ck_assert_msg(v == 42, "'%s' wrote the output on failure", bad[i]);
    }
    warden_usec_t v = 42;
    ck_assert_int_eq(warden_time_parse(NULL, &v), -EINVAL);
    ck_assert_uint_eq(v, 42);
}
END_TEST

START_TEST(test_parse_overflow)
{
    /* The number itself overflows, or the number times its unit does; the
     * largest value that fits is still accepted. */
    static const char *const big[] = {
        "18446744073709551616",      /* 2^64 */
        "99999999999999999999999ms", /* digits alone overflow */
        "18446744073710s",           /* fits, but not in microseconds */
        "5124095576031h",
    };
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        warden_usec_t v = 42;
        int r = warden_time_parse(big[i], &v);
        ck_assert_msg(r == -ERANGE, "'%s' gave %d, want -ERANGE", big[i], r);
        ck_assert_uint_eq(v, 42);
    }
    warden_usec_t v = 0;
    ck_assert_int_eq(warden_time_parse("18446744073709s", &v), 0);
    ck_assert_uint_eq(v, 18446744073709ULL * SEC);
}
END_TEST

START_TEST(test_format)
{
    static const struct {
        warden_usec_t usec;
        const char *text;
    } cases[] = {
        {0, "0ms"},
        {200 * MS, "200ms"},
        {999 * MS, "999ms"},
        {1 * SEC, "1s"},
        {1500 * MS, "1.5s"},
        {10 * SEC, "10s"},
        {90 * SEC, "90s"},
        {120 * SEC, "2min"},
        {3600 * SEC, "60min"},
        {WARDEN_USEC_INFINITY, "infinity"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        ck_assert_ptr_eq(warden_time_format(cases[i].usec, buf, sizeof(buf)), buf);
        ck_assert_str_eq(buf, cases[i].text);
    }
    /* A short buffer is truncated, never overrun, and stays terminated. */
    char small[5] = "XXXX";
    warden_time_format(120 * SEC, small, 4);
    ck_assert_str_eq(small, "2mi");
}
END_TEST

START_TEST(test_format_parse_round_trip)
{
    /* What format prints in whole units, parse reads back unchanged: a
     * message and a configuration value can be the same text. */
    static const warden_usec_t values[] = {200 * MS, 10 * SEC, 90 * SEC, 2 * 60 * SEC};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char buf[32];
        warden_usec_t back = 0;
        warden_time_format(values[i], buf, sizeof(buf));
        ck_assert_int_eq(warden_time_parse(buf, &back), 0);
        ck_assert_uint_eq(back, values[i]);
    }
}
END_TEST

START_TEST(test_now_and_deadline)
{
    /* The monotonic clock never goes back, and a deadline is "now + n",
     * saturating at infinity instead of wrapping to the past. */
    warden_usec_t a = warden_now();
    warden_usec_t d = warden_deadline_in(10 * SEC);
    warden_usec_t b = warden_now();
    ck_assert_uint_ge(b, a);
    ck_assert_uint_ge(d, a + 10 * SEC);
    ck_assert_uint_le(d, b + 10 * SEC);
    ck_assert_uint_eq(warden_deadline_in(WARDEN_USEC_INFINITY), WARDEN_USEC_INFINITY);
    ck_assert_uint_eq(warden_deadline_in(WARDEN_USEC_INFINITY - 1), WARDEN_USEC_INFINITY);
    warden_usec_t z = warden_deadline_in(0);
    ck_assert_uint_ge(z, b);
    ck_assert_uint_le(z, warden_now());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("time");
    add_tcase(s, test_parse_accepts, 10);
    add_tcase(s, test_parse_rejects, 10);
    add_tcase(s, test_parse_overflow, 10);
    add_tcase(s, test_format, 10);
    add_tcase(s, test_format_parse_round_trip, 10);
    add_tcase(s, test_now_and_deadline, 10);
    return check_run("check_time", s);
}
