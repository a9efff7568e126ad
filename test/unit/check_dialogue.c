/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dialogue engine (lib/dialogue.c) through its public face,
 * warden_dialogue_run() (warden/dialogue.h), against scripted fake servers
 * (fake-server.h): multi-line answers, failure patterns, data lines, the one
 * deadline, floods, closed connections, and the tables an agent may get
 * wrong. The shipped protocol probes, tables of the same engine, are tested
 * in check_probe.c. */
#include <sys/resource.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

#include "check_common.h"
#include "fake-server.h"

#include "warden/dialogue.h"
#include "warden/probe.h"

#define MS          WARDEN_USEC_PER_MSEC
#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* How late a dialogue may answer after its deadline (a loaded machine,
 * valgrind). */
#define SLACK_MS 200

/* memcached's `stats`: STAT lines, then END; an error fails at once. */
static const struct warden_dialogue_step stats_steps[] = {
    {.send = "stats", .more = "^STAT ", .expect = "^END$", .fail = "^(SERVER_|CLIENT_)?ERROR"},
    {NULL},
};
static const struct warden_dialogue stats = {.name = "memcached", .steps = stats_steps};

/* Redis' PING, then a goodbye. */
static const struct warden_dialogue_step ping_steps[] = {
    {.send = "PING", .expect = "^\\+PONG$"},
    {.send = "QUIT", .expect = "^\\+OK", .flags = WARDEN_DIALOGUE_BYE},
    {NULL},
};
static const struct warden_dialogue ping = {.name = "redis", .steps = ping_steps};

/* Any lines up to END ("^" matches every line), but an error line fails:
 * `fail` goes first. */
static const struct warden_dialogue_step info_steps[] = {
    {.send = "info", .more = "^", .expect = "^END$", .fail = "^-ERR"},
    {NULL},
};
static const struct warden_dialogue info = {.name = "info", .steps = info_steps};

/* A greeting with continuation lines, a named step with {host} and {me},
 * and data lines up to a lone ".". */
static const struct warden_dialogue_step chat_steps[] = {
    {.more = "^100-", .expect = "^100 "},
    {.send = "x1 HELLO {me} at {host}", .name = "HELLO", .more = "^\\* ", .expect = "^x1 OK"},
    {.send = "LIST", .expect = "^\\+OK", .until = "^\\.$"},
    {NULL},
};
static const struct warden_dialogue chat = {.name = "chat", .steps = chat_steps};

/* A reason ends up as Pacemaker's exit reason: one line of printable text,
 * of which 128 bytes are kept. */
static void assert_clean_reason(const char *reason)
{
    ck_assert_uint_le(strlen(reason), 128);
    for (const char *c = reason; *c; c++) {
        ck_assert_msg(*c >= 0x20 && *c < 0x7f, "reason '%s' has byte 0x%02x", reason,
                      (unsigned char)*c);
    }
}

struct outcome {
    int r;
    char reason[256];
    long long ms;
    double cpu_ms; /* of this thread, while the dialogue ran */
    struct fake_server srv;
};

static double thread_cpu_ms(void)
{
    struct rusage ru;
    ck_assert_int_eq(getrusage(RUSAGE_THREAD, &ru), 0);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Serve script on a fresh fake server, run d against it under timeout, stop
 * the server (left for the caller to look at). */
static struct outcome *run(const struct warden_dialogue *d, const struct fake_step *script,
                           warden_usec_t timeout)
{
    static struct outcome o;
    o = (struct outcome){0};
    ck_assert_int_eq(fake_server_start(&o.srv, AF_INET, script), 0);
    char *reason = NULL;
    double cpu = thread_cpu_ms();
    warden_usec_t start = warden_now();
    o.r = warden_dialogue_run(d, "127.0.0.1", o.srv.port, start + timeout, &reason);
    o.ms = check_ms_since(start);
    o.cpu_ms = thread_cpu_ms() - cpu;
    fake_server_stop(&o.srv);
    if (reason) {
        assert_clean_reason(reason);
        snprintf(o.reason, sizeof(o.reason), "%s", reason);
        free(reason);
    }
    ck_assert_msg(o.r == 0 || reason, "failed (%d) without a reason", o.r);
    return &o;
}

static void expect_ok(const struct warden_dialogue *d, const struct fake_step *script)
{
    struct outcome *o = run(d, script, 5 * WARDEN_USEC_PER_SEC);
    ck_assert_msg(o->r == 0, "%s (%d), reason '%s', server: %s", strerror(-o->r), o->r, o->reason,
                  o->srv.error);
    ck_assert_msg(o->srv.completed && !o->srv.error[0], "the server's script: %s", o->srv.error);
}

static struct outcome *expect_fail(const struct warden_dialogue *d, const struct fake_step *script,
                                   warden_usec_t timeout, int want, const char *want_reason)
{
    struct outcome *o = run(d, script, timeout);
    ck_assert_msg(o->r == want, "%s (%d) instead of %s, reason '%s'", strerror(-o->r), o->r,
                  strerror(-want), o->reason);
    ck_assert_msg(strstr(o->reason, want_reason), "reason '%s', expected '%s'", o->reason,
                  want_reason);
    return o;
}

START_TEST(test_multi_line_answers)
{
    /* Continuation lines, an answer in pieces and several in one segment. */
    static const struct fake_step stats_good[] = {
        HEAR("stats"),
        SAY("STAT pid 42\r\nSTAT uptime 7\r\nSTAT ver"),
        PAUSE(20),
        SAY("sion 1.6.18\r\n"),
        SAY("STAT threads 4\r\nEND\r\n"),
        END(),
    };
    expect_ok(&stats, stats_good);
    /* No STAT line at all: END is the answer. */
    static const struct fake_step stats_empty[] = {HEAR("stats"), SAY("END\r\n"), END()};
    expect_ok(&stats, stats_empty);
    static const struct fake_step info_good[] = {
        HEAR("info"), SAY("# Server\r\nversion:7\r\n\r\nERR:0\r\nEND\r\n"), END()};
    expect_ok(&info, info_good);

    static const struct fake_step chat_good[] = {
        SAY("100-welcome\r\n100-to the\r\n100 chat\r\n"),
        HEAR("x1 HELLO *"),
        SAY("* one\n* two\r\nx1 OK\r\n"),
        HEAR("LIST"),
        SAY("+OK list follows\r\nERROR is data here\r\n..not the end\r\n\r\n.\r\n"),
        END(),
    };
    expect_ok(&chat, chat_good);

    /* What was sent: "\r\n" after each line, {me} this host's name (or
     * "warden"), {host} HOST:PORT. */
    struct outcome *o = run(&chat, chat_good, 5 * WARDEN_USEC_PER_SEC);
    ck_assert_int_eq(o->r, 0);
    char host[256] = "", want[600], want_warden[600];
    gethostname(host, sizeof(host) - 1);
    snprintf(want, sizeof(want), "x1 HELLO %s at 127.0.0.1:%d\nLIST\n", host, o->srv.port);
    snprintf(want_warden, sizeof(want_warden), "x1 HELLO warden at 127.0.0.1:%d\nLIST\n",
             o->srv.port);
    ck_assert_msg(strcmp(o->srv.heard, want) == 0 || strcmp(o->srv.heard, want_warden) == 0,
                  "heard '%s'", o->srv.heard);

    /* The goodbye: answered, or the connection closed instead. */
    static const struct fake_step ping_good[] = {HEAR("PING"), SAY("+PONG\r\n"), HEAR("QUIT"),
                                                 SAY("+OK\r\n"), END()};
    static const struct fake_step ping_closed[] = {HEAR("PING"), SAY("+PONG\r\n"), HEAR("QUIT"),
                                                   END()};
    static const struct fake_step ping_reset[] = {HEAR("PING"), SAY("+PONG\r\n"), HEAR("QUIT"),
                                                  RESET()};
    expect_ok(&ping, ping_good);
    expect_ok(&ping, ping_closed);
    expect_ok(&ping, ping_reset);
}
END_TEST

START_TEST(test_wrong_answers)
{
    /* Each names the dialogue, the step and what came back, at once. */
    static const struct {
        const struct warden_dialogue *d;
        struct fake_step script[8];
        const char *reason;
    } cases[] = {
        {&ping,
         {HEAR("PING"), SAY("-ERR unknown command\r\n"), END()},
         "redis: PING answered -ERR unknown command"},
        {&ping,
         {HEAR("PING"), SAY("+PONG\r\n"), HEAR("QUIT"), SAY("-ERR no\r\n"), END()},
         "redis: QUIT answered -ERR no"},
        {&chat, {SAY("554 go away\r\n"), END()}, "chat: greeting was 554 go away"},
        {&chat,
         {SAY("100 hi\r\n"), HEAR("x1 *"), SAY("* one\r\nx1 NO\r\n"), END()},
         "chat: HELLO answered x1 NO"},
        /* The failure pattern wins over `more`, in the middle of an answer. */
        {&stats,
         {HEAR("stats"), SAY("STAT pid 1\r\nSERVER_ERROR out of memory\r\n"), HOLD(), END()},
         "memcached: stats answered SERVER_ERROR out of memory"},
        {&info,
         {HEAR("info"), SAY("# Server\r\nversion:7\r\n-ERR loading\r\n"), HOLD(), END()},
         "info: info answered -ERR loading"},
        {&stats,
         {HEAR("stats"), SAY("ERROR\r\n"), HOLD(), END()},
         "memcached: stats answered ERROR"},
        /* Neither `more` nor `expect`. */
        {&stats,
         {HEAR("stats"), SAY("STAT a 1\r\nOOPS\r\n"), HOLD(), END()},
         "memcached: stats answered OOPS"},
        {&stats,
         {HEAR("stats"), SAY("\r\n"), HOLD(), END()},
         "memcached: stats answered an empty line"},
        /* Bytes not ours are shown as printable ASCII. */
        {&stats,
         {HEAR("stats"), SAY("\x01\xff\x1b[31m\r\n"), HOLD(), END()},
         "memcached: stats answered ???[31m"},
    };
    for (size_t i = 0; i < ELEMENTS(cases); i++) {
        struct outcome *o = expect_fail(cases[i].d, cases[i].script, 5 * WARDEN_USEC_PER_SEC,
                                        -EPROTO, cases[i].reason);
        ck_assert_msg(o->ms < 1000, "case %zu took %lld ms", i, o->ms);
    }
}
END_TEST

START_TEST(test_closed)
{
    static const struct fake_step gone[] = {HEAR("stats"), END()};
    expect_fail(&stats, gone, 5 * WARDEN_USEC_PER_SEC, -ECONNRESET,
                "memcached: connection closed before the answer to stats");
    /* Midway through a multi-line answer, or through the data lines. */
    static const struct fake_step cut[] = {HEAR("stats"), SAY("STAT pid 1\r\n"), END()};
    expect_fail(&stats, cut, 5 * WARDEN_USEC_PER_SEC, -ECONNRESET,
                "memcached: connection closed before the answer to stats");
    static const struct fake_step cut_data[] = {SAY("100 hi\r\n"),   HEAR("x1 *"),
                                                SAY("x1 OK\r\n"),    HEAR("LIST"),
                                                SAY("+OK\r\na\r\n"), END()};
    expect_fail(&chat, cut_data, 5 * WARDEN_USEC_PER_SEC, -ECONNRESET,
                "chat: connection closed before the answer to LIST");
    /* Before the greeting. */
    static const struct fake_step none[] = {END()};
    expect_fail(&chat, none, 5 * WARDEN_USEC_PER_SEC, -ECONNRESET,
                "chat: connection closed before the greeting");
    /* Nothing listens. */
    struct fake_server srv;
    ck_assert_int_eq(fake_server_start(&srv, AF_INET, none), 0);
    int port = srv.port;
    fake_server_stop(&srv);
    char *reason = NULL, want[64];
    ck_assert_int_eq(warden_dialogue_run(&stats, "127.0.0.1", port,
                                         warden_deadline_in(5 * WARDEN_USEC_PER_SEC), &reason),
                     -ECONNREFUSED);
    snprintf(want, sizeof(want), "memcached 127.0.0.1:%d: ", port);
    ck_assert_msg(reason && strstr(reason, want), "reason '%s'", reason);
    free(reason);
}
END_TEST

START_TEST(test_slow)
{
    /* A silent server fails at the deadline, not before, not much after. */
    static const struct fake_step silent[] = {HEAR("stats"), HOLD(), END()};
    struct outcome *o = expect_fail(&stats, silent, 300 * MS, -ETIMEDOUT,
                                    "memcached: no answer to stats within 300ms");
    ck_assert_int_ge(o->ms, 300);
    ck_assert_int_lt(o->ms, 300 + SLACK_MS);

    /* All steps share the one deadline: each answer 150ms late passes
     * alone, the three together do not fit in 400ms. */
    static const struct fake_step late[] = {
        PAUSE(150),   SAY("100 hi\r\n"), HEAR("x1 *"),        PAUSE(150), SAY("x1 OK\r\n"),
        HEAR("LIST"), PAUSE(150),        SAY("+OK\r\n.\r\n"), END(),
    };
    o = expect_fail(&chat, late, 400 * MS, -ETIMEDOUT, "chat: no answer to LIST within 400ms");
    ck_assert_int_ge(o->ms, 400);
    ck_assert_int_lt(o->ms, 400 + SLACK_MS);
    o = run(&chat, late, 1000 * MS);
    ck_assert_msg(o->r == 0, "reason '%s'", o->reason);

    /* A line that dribbles in, a byte at a time, never ending. */
    static const struct fake_step dribble[] = {
        HEAR("stats"), SAY("S"),   PAUSE(100), SAY("T"),   PAUSE(100), SAY("A"), PAUSE(100),
        SAY("T"),      PAUSE(100), SAY(" "),   PAUSE(100), HOLD(),     END(),
    };
    o = expect_fail(&stats, dribble, 300 * MS, -ETIMEDOUT, "memcached: no answer to stats within");
    ck_assert_int_lt(o->ms, 300 + SLACK_MS);
    ck_assert_msg(o->cpu_ms < 100, "%.1f ms of CPU waiting", o->cpu_ms);
}
END_TEST

START_TEST(test_flood)
{
    /* A server that floods: lines that continue the answer without end, or
     * one line without end. The dialogue stops at the first bound it meets
     * (1000 lines, 1 KiB, the deadline), names the step, and spends little
     * CPU on it: it does not read for as long as the server writes (3s). */
    static const struct {
        const struct warden_dialogue *d;
        struct fake_step script[8];
        const char *reason;
    } cases[] = {
        {&stats,
         {HEAR("stats"), FLOOD("STAT x 1\r\n", 3000), END()},
         "memcached: no answer to stats "},
        {&chat, {FLOOD("100-x\r\n", 3000), END()}, "chat: no greeting "},
        {&chat,
         {SAY("100 hi\r\n"), HEAR("x1 *"), SAY("x1 OK\r\n"), HEAR("LIST"), SAY("+OK\r\n"),
          FLOOD("data\r\n", 3000), END()},
         "chat: no answer to LIST "},
        {&stats,
         {HEAR("stats"), FLOOD("STAT", 3000), END()},
         "memcached: line too long in the answer to stats"},
    };
    double cpu_limit = 50;
#ifdef RUNNING_ON_VALGRIND
    cpu_limit = RUNNING_ON_VALGRIND ? 400 : cpu_limit;
#endif
    for (size_t i = 0; i < ELEMENTS(cases); i++) {
        struct outcome *o = run(cases[i].d, cases[i].script, 500 * MS);
        ck_assert_msg(o->r == -EPROTO || o->r == -ETIMEDOUT, "case %zu: %d, '%s'", i, o->r,
                      o->reason);
        ck_assert_msg(o->ms < 500 + SLACK_MS, "case %zu: %lld ms", i, o->ms);
        ck_assert_msg(strstr(o->reason, cases[i].reason), "case %zu: '%s'", i, o->reason);
        ck_assert_msg(strstr(o->reason, "line too long") ||
                          strstr(o->reason, "(endless continuation)"),
                      "case %zu: '%s'", i, o->reason);
        /* Under 1ms here; some 150ms when only the deadline stops a flood
         * of lines. */
        ck_assert_msg(o->cpu_ms < cpu_limit, "case %zu: %.1f ms of CPU", i, o->cpu_ms);
    }
}
END_TEST

START_TEST(test_tls)
{
    static const struct fake_step hello[] = {SAY("\x16\x03\x03\x01\x7a\x02\x01"), HOLD(), END()};
    expect_fail(&chat, hello, 5 * WARDEN_USEC_PER_SEC, -EPROTO,
                "chat: server speaks TLS on this port");
}
END_TEST

/* A table of the 1.1 layout, with room behind it, for what a newer agent
 * would pass. */
struct step_newer {
    struct warden_dialogue_step s;
    const char *newer_field;
};

START_TEST(test_bad_tables)
{
    static const struct fake_step none[] = {END()};
    char *reason = NULL;
    warden_usec_t deadline = warden_deadline_in(5 * WARDEN_USEC_PER_SEC);
    static const struct {
        struct warden_dialogue_step steps[3];
        int want;
        const char *reason;
    } cases[] = {
        {{{.send = "x", .expect = "^(OK"}, {NULL}}, -EINVAL, "t: step 1: bad pattern '^(OK': "},
        {{{.send = "x"}, {.expect = "^OK", .until = "["}, {NULL}},
         -EINVAL,
         "t: step 2: bad pattern '[': "},
        {{{NULL}}, -EINVAL, "t: no steps"},
        {{{.send = "x", .flags = 1u << 7}, {NULL}},
         -E2BIG,
         "t: step 1 sets flags this libwarden does not know"},
        /* The library's own flag (http's status line) is not an agent's. */
        {{{.send = "x", .flags = 1u << 31}, {NULL}}, -E2BIG, "t: step 1 sets flags"},
    };
    for (size_t i = 0; i < ELEMENTS(cases); i++) {
        struct warden_dialogue d = {.name = "t", .steps = cases[i].steps};
        /* A bad table is refused before anything is connected. */
        int r = warden_dialogue_run(&d, "127.0.0.1", 9, deadline, &reason);
        ck_assert_msg(r == cases[i].want && reason && strstr(reason, cases[i].reason),
                      "case %zu: %d '%s'", i, r, reason);
        free(reason);
        reason = NULL;
    }
    struct warden_dialogue d = {.name = "t", .steps = stats_steps};
    ck_assert_int_eq(warden_dialogue_run(&d, "127.0.0.1", 0, deadline, &reason), -EINVAL);
    ck_assert_msg(strstr(reason, "t: port 0 is not 1-65535"), "'%s'", reason);
    free(reason);
    ck_assert_int_eq(warden_dialogue_run(&d, "bad host\r\n", 11211, deadline, &reason), -EINVAL);
    ck_assert_msg(strstr(reason, "t: host 'bad host?"
                                 "?' is not a host name or IP address"),
                  "'%s'", reason);
    free(reason);
    ck_assert_int_eq(warden_dialogue_run(&d, NULL, 11211, deadline, NULL), -EINVAL);
    d.name = NULL;
    ck_assert_int_eq(warden_dialogue_run(&d, "127.0.0.1", 11211, deadline, &reason), -EINVAL);
    free(reason);

    /* A caller built against newer headers: fields this library does not
     * know, set, are refused; unset, the table runs. */
    static const struct fake_step pong[] = {HEAR("PING"), SAY("+PONG\r\n"), END()};
    struct fake_server srv;
    struct step_newer newer[] = {{{.send = "PING", .expect = "^\\+PONG"}, NULL}, {{NULL}, NULL}};
    struct {
        struct warden_dialogue d;
        const char *newer_field;
    } dn = {{.name = "n", .steps = &newer[0].s}, NULL};
    ck_assert_int_eq(fake_server_start(&srv, AF_INET, pong), 0);
    int r = warden_dialogue_run_sized(&dn.d, sizeof(dn), sizeof(newer[0]), "127.0.0.1", srv.port,
                                      deadline, &reason);
    fake_server_stop(&srv);
    ck_assert_msg(r == 0, "%d '%s'", r, reason);
    newer[0].newer_field = "tls";
    r = warden_dialogue_run_sized(&dn.d, sizeof(dn), sizeof(newer[0]), "127.0.0.1", 9, deadline,
                                  &reason);
    ck_assert_msg(r == -E2BIG && strstr(reason, "n: step 1 sets fields this libwarden does not "
                                                "know (built against a newer one)"),
                  "%d '%s'", r, reason);
    free(reason);
    newer[0].newer_field = NULL;
    dn.newer_field = "tls";
    r = warden_dialogue_run_sized(&dn.d, sizeof(dn), sizeof(newer[0]), "127.0.0.1", 9, deadline,
                                  &reason);
    ck_assert_msg(r == -E2BIG && strstr(reason, "n: the dialogue sets fields"), "%d '%s'", r,
                  reason);
    free(reason);
    /* Smaller than the first layout: not a table. */
    r = warden_dialogue_run_sized(&d, sizeof(d), sizeof(char *), "127.0.0.1", 9, deadline, NULL);
    ck_assert_int_eq(r, -EINVAL);
    (void)none;
}
END_TEST

START_TEST(test_names)
{
    /* A name, tried address by address (localhost: ::1 first on Debian,
     * where nothing listens on this port). */
    static const struct fake_step pong[] = {HEAR("PING"), SAY("+PONG\r\n"), HEAR("QUIT"), END()};
    struct fake_server srv;
    ck_assert_int_eq(fake_server_start(&srv, AF_INET, pong), 0);
    char *reason = NULL;
    int r = warden_dialogue_run(&ping, "localhost", srv.port,
                                warden_deadline_in(5 * WARDEN_USEC_PER_SEC), &reason);
    fake_server_stop(&srv);
    ck_assert_msg(r == 0, "%d '%s'", r, reason);
    ck_assert_msg(srv.completed, "server: %s", srv.error);
}
END_TEST

/* A name is resolved in a thread of its own, which the dialogue joins;
 * pthread_join() returns a moment before the thread leaves
 * /proc/self/task, where the teardown counts threads. */
static void settle_threads(void)
{
    warden_usec_t limit = warden_deadline_in(2 * WARDEN_USEC_PER_SEC);
    while (check_count_threads() > check_base_threads && warden_now() < limit) {
        poll(NULL, 0, 1);
    }
}

int main(void)
{
    check_cleanup_hook = settle_threads;
    Suite *s = suite_create("dialogue");
    add_tcase(s, test_multi_line_answers, 10);
    add_tcase(s, test_wrong_answers, 10);
    add_tcase(s, test_closed, 10);
    add_tcase(s, test_slow, 10);
    add_tcase(s, test_flood, 20);
    add_tcase(s, test_tls, 10);
    add_tcase(s, test_bad_tables, 10);
    add_tcase(s, test_names, 10);
    return check_run("check_dialogue", s);
}
