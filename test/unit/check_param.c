/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parameters (lib/param.c): merged declaration tables, values from
 * OCF_RESKEY_*, validation messages, typed getters, derived defaults and the
 * meta-data block. */
#include "check_common.h"

#include "param-int.h"

static int check_mode(const char *value)
{
    return strcmp(value, "fast") == 0 || strcmp(value, "slow") == 0 ? 0 : -EINVAL;
}

/* Stands for the library's common parameters. */
static const struct warden_param common[] = {
    {"command", WARDEN_PARAM_STRING, WARDEN_PARAM_REQUIRED, NULL, "Command", NULL,
     "a program and its arguments", NULL},
    {"check", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "process", "Common check", NULL, NULL,
     NULL},
    {"check_timeout", WARDEN_PARAM_TIME, WARDEN_PARAM_RELOADABLE, "5s", "Check timeout", NULL, NULL,
     NULL},
    {NULL},
};

/* Stands for an agent's own: "check" overrides the common one. */
static const struct warden_param agent[] = {
    {"config", WARDEN_PARAM_STRING, WARDEN_PARAM_REQUIRED | WARDEN_PARAM_UNIQUE, NULL, "Config",
     NULL, NULL, NULL},
    {"check", WARDEN_PARAM_STRING, 0, "tcp:127.0.0.1:80", "Agent check", NULL, NULL, NULL},
    {"port", WARDEN_PARAM_INTEGER, 0, "80", "Port", NULL, NULL, NULL},
    {"verbose", WARDEN_PARAM_BOOLEAN, 0, "false", "Verbose", NULL, NULL, NULL},
    {"mode", WARDEN_PARAM_STRING, 0, "fast", "Mode", NULL, "fast or slow", check_mode},
    {NULL},
};

static const char *const all_names[] = {"command", "check",   "check_timeout", "config",
                                        "port",    "verbose", "mode"};

/* No OCF_RESKEY_ of ours survives a test, even a failed one. */
static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(all_names) / sizeof(all_names[0]); i++) {
        char key[64];
        snprintf(key, sizeof(key), "OCF_RESKEY_%s", all_names[i]);
        unsetenv(key);
    }
}

/* Set OCF_RESKEY_<name>=<value> for each NULL-terminated pair, then load the
 * merged table. */
static warden_params *load(const char *const *pairs)
{
    clear_env();
    for (const char *const *kv = pairs; kv && kv[0]; kv += 2) {
        char key[64];
        snprintf(key, sizeof(key), "OCF_RESKEY_%s", kv[0]);
        setenv(key, kv[1], 1);
    }
    const struct warden_param **table = NULL;
    size_t n = 0;
    ck_assert_int_eq(warden__param_table_merge(agent, common, &table, &n), 0);
    warden_params *p = NULL;
    ck_assert_int_eq(warden__params_load(table, n, &p), 0);
    /* The values keep pointers to the declarations, not to the table. */
    free(table);
    clear_env();
    return p;
}

/* Validate and expect failure: the reason names the parameter and shows the
 * accepted form, so the administrator can fix it from the message alone. */
static void expect_invalid(const char *const *pairs, const char *name, const char *form)
{
    warden_params *p = load(pairs);
    char *reason = NULL;
    ck_assert_int_eq(warden__params_validate(p, &reason), -EINVAL);
    ck_assert_ptr_nonnull(reason);
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "'%s'", name);
    ck_assert_msg(strstr(reason, quoted), "reason '%s' does not name %s", reason, quoted);
    ck_assert_msg(strstr(reason, form), "reason '%s' does not show the form '%s'", reason, form);
    free(reason);
    warden__params_free(p);
}

START_TEST(test_table_merge)
{
    const struct warden_param **table = NULL;
    size_t n = 0;
    ck_assert_int_eq(warden__param_table_merge(agent, common, &table, &n), 0);
    /* Agent entries first, in their order, then the common ones that the
     * agent did not redeclare; "check" is the agent's. */
    static const char *const want[] = {"config", "check",   "port",         "verbose",
                                       "mode",   "command", "check_timeout"};
    ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(table[i]->name, want[i]);
    }
    ck_assert_ptr_eq(table[1], &agent[1]);
    ck_assert_ptr_eq(table[5], &common[0]);
    ck_assert_ptr_null(table[n]);
    free(table);

    /* Either side may be empty. */
    ck_assert_int_eq(warden__param_table_merge(NULL, common, &table, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_eq(table[0], &common[0]);
    free(table);
    ck_assert_int_eq(warden__param_table_merge(agent, NULL, &table, &n), 0);
    ck_assert_uint_eq(n, 5);
    free(table);
}
END_TEST

START_TEST(test_load_values_and_defaults)
{
    /* Given values win over defaults; "" counts as unset (Pacemaker passes
     * an emptied parameter as ""), so the default applies. */
    static const char *const env[] = {"command",       "/bin/true", "port", "",
                                      "check_timeout", "2s",        NULL};
    warden_params *p = load(env);
    ck_assert_str_eq(warden_params_string(p, "command"), "/bin/true");
    ck_assert(warden_params_is_set(p, "command"));
    ck_assert_str_eq(warden_params_string(p, "port"), "80");
    ck_assert(!warden_params_is_set(p, "port"));
    ck_assert_str_eq(warden_params_string(p, "check_timeout"), "2s");
    /* The agent's default for "check", not the common one. */
    ck_assert_str_eq(warden_params_string(p, "check"), "tcp:127.0.0.1:80");
    /* Neither given nor defaulted. */
    ck_assert_ptr_null(warden_params_string(p, "config"));
    ck_assert(!warden_params_is_set(p, "config"));
    /* Not declared at all. */
    ck_assert_ptr_null(warden_params_string(p, "nosuch"));
    ck_assert(!warden_params_is_set(p, "nosuch"));
    warden__params_free(p);
    ck_assert_ptr_null(warden__params_free(NULL));
}
END_TEST

START_TEST(test_validate_ok_and_getters)
{
    static const char *const env[] = {"command",       "/bin/true", "config", "/etc/x.conf", "port",
                                      "-8080",         "verbose",   "YES",    "mode",        "slow",
                                      "check_timeout", "1500ms",    NULL};
    warden_params *p = load(env);
    char *reason = NULL;
    ck_assert_int_eq(warden__params_validate(p, &reason), 0);
    ck_assert_ptr_null(reason);
    ck_assert_int_eq(warden_params_integer(p, "port"), -8080);
    ck_assert(warden_params_boolean(p, "verbose"));
    ck_assert_uint_eq(warden_params_time(p, "check_timeout"), 1500 * WARDEN_USEC_PER_MSEC);
    ck_assert_str_eq(warden_params_string(p, "mode"), "slow");
    /* A getter of the wrong type, or for an unknown name, reads as unset. */
    ck_assert_int_eq(warden_params_integer(p, "verbose"), 0);
    ck_assert(!warden_params_boolean(p, "port"));
    ck_assert_uint_eq(warden_params_time(p, "port"), 0);
    ck_assert_int_eq(warden_params_integer(p, "nosuch"), 0);
    ck_assert(!warden_params_boolean(p, "nosuch"));
    ck_assert_uint_eq(warden_params_time(p, "nosuch"), 0);
    warden__params_free(p);

    /* Defaults are parsed too: port 80, verbose false, check_timeout 5s. */
    static const char *const minimal[] = {"command", "x", "config", "y", NULL};
    p = load(minimal);
    ck_assert_int_eq(warden__params_validate(p, &reason), 0);
    ck_assert_int_eq(warden_params_integer(p, "port"), 80);
    ck_assert(!warden_params_boolean(p, "verbose"));
    ck_assert_uint_eq(warden_params_time(p, "check_timeout"), 5 * WARDEN_USEC_PER_SEC);
    warden__params_free(p);
}
END_TEST

START_TEST(test_validate_required_missing)
{
    static const char *const env[] = {"command", "/bin/true", NULL};
    expect_invalid(env, "config", "required");
    expect_invalid(env, "config", "a non-empty string");
    /* An empty value is no value. */
    static const char *const empty[] = {"command", "", "config", "/x", NULL};
    expect_invalid(empty, "command", "a program and its arguments");
}
END_TEST

START_TEST(test_validate_bad_values)
{
    static const char *const port_word[] = {"command", "c", "config", "x", "port", "eighty", NULL};
    expect_invalid(port_word, "port", "a whole number");
    expect_invalid(port_word, "port", "'eighty'");
    static const char *const port_tail[] = {"command", "c", "config", "x", "port", "80x", NULL};
    expect_invalid(port_tail, "port", "a whole number");
    static const char *const port_big[] = {
        "command", "c", "config", "x", "port", "99999999999999999999", NULL};
    expect_invalid(port_big, "port", "a whole number");
    static const char *const verbose[] = {"command", "c", "config", "x", "verbose", "maybe", NULL};
    expect_invalid(verbose, "verbose", "true or false");
    static const char *const timeout[] = {"command",       "c",         "config", "x",
                                          "check_timeout", "5 parsecs", NULL};
    expect_invalid(timeout, "check_timeout", "500ms");
    static const char *const frac[] = {"command",       "c",    "config", "x",
                                       "check_timeout", "1.5s", NULL};
    expect_invalid(frac, "check_timeout", "a whole number with unit");
}
END_TEST

START_TEST(test_validate_custom_check)
{
    /* The type (string) is fine, the check callback says no: the message
     * shows the declaration's own form. */
    static const char *const env[] = {"command", "c", "config", "x", "mode", "medium", NULL};
    expect_invalid(env, "mode", "fast or slow");
    expect_invalid(env, "mode", "'medium'");
}
END_TEST

START_TEST(test_parse_boolean)
{
    static const char *const yes[] = {"true", "TRUE", "yes", "Yes", "on", "1", "y", "Y"};
    static const char *const no[] = {"false", "False", "no", "NO", "off", "0", "n", "N"};
    static const char *const bad[] = {"", "2", "yess", "t", "nope", " yes"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        bool b = false;
        ck_assert_msg(warden__parse_boolean(yes[i], &b) == 0 && b, "'%s'", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        bool b = true;
        ck_assert_msg(warden__parse_boolean(no[i], &b) == 0 && !b, "'%s'", no[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool b = true;
        ck_assert_msg(warden__parse_boolean(bad[i], &b) == -EINVAL && b, "'%s'", bad[i]);
    }
}
END_TEST

START_TEST(test_set_default)
{
    /* A default derived by the agent fills an unset parameter (and is then
     * validated like any value) ... */
    static const char *const env[] = {"command", "c", NULL};
    warden_params *p = load(env);
    ck_assert_int_eq(warden_params_set_default(p, "config", "/etc/derived.conf"), 0);
    ck_assert_str_eq(warden_params_string(p, "config"), "/etc/derived.conf");
    ck_assert(!warden_params_is_set(p, "config"));
    ck_assert_int_eq(warden_params_set_default(p, "check_timeout", "250ms"), 0);
    ck_assert_int_eq(warden_params_set_default(p, "check_timeout", "750ms"), 0);
    char *reason = NULL;
    ck_assert_int_eq(warden__params_validate(p, &reason), 0);
    ck_assert_uint_eq(warden_params_time(p, "check_timeout"), 750 * WARDEN_USEC_PER_MSEC);
    /* ... an undeclared name is an error ... */
    ck_assert_int_eq(warden_params_set_default(p, "nosuch", "x"), -ENOENT);
    /* ... and NULL takes the default away again. */
    ck_assert_int_eq(warden_params_set_default(p, "config", NULL), 0);
    ck_assert_ptr_null(warden_params_string(p, "config"));
    ck_assert_int_eq(warden__params_validate(p, &reason), -EINVAL);
    ck_assert_ptr_nonnull(strstr(reason, "'config'"));
    free(reason);
    warden__params_free(p);

    /* What the administrator gave wins over a derived default. */
    static const char *const given[] = {"command", "c", "config", "/etc/admin.conf", NULL};
    p = load(given);
    ck_assert_int_eq(warden_params_set_default(p, "config", "/etc/derived.conf"), 0);
    ck_assert_str_eq(warden_params_string(p, "config"), "/etc/admin.conf");
    ck_assert(warden_params_is_set(p, "config"));
    warden__params_free(p);
}
END_TEST

START_TEST(test_copy_with)
{
    /* A reload hands new values as "name=<length>:value\n" records: they
     * replace the given ones in a copy, an empty value returns a parameter
     * to its default, and the original stays as it was (so a refused reload
     * changes nothing). */
    static const char *const env[] = {"command", "c", "config", "/a.conf", "port", "81", NULL};
    warden_params *p = load(env);
    warden_params *c = (warden_params *)&env; /* a sentinel for failures */
    char *reason = NULL;
    ck_assert_int_eq(warden__params_copy_with(p, "check_timeout=5:250ms\n", &c, &reason), 0);
    ck_assert_ptr_ne(c, (warden_params *)&env);
    ck_assert_ptr_null(reason);
    ck_assert_int_eq(warden__params_validate(c, &reason), 0);
    ck_assert_uint_eq(warden_params_time(c, "check_timeout"), 250 * WARDEN_USEC_PER_MSEC);
    ck_assert(warden_params_is_set(c, "check_timeout"));
    /* Untouched by the text: given values stay given, defaults stay. */
    ck_assert_str_eq(warden_params_string(c, "config"), "/a.conf");
    ck_assert(warden_params_is_set(c, "config"));
    ck_assert_str_eq(warden_params_string(c, "port"), "81");
    warden__params_free(c);

    /* An empty value: back to the default. */
    ck_assert_int_eq(warden__params_copy_with(c = p, "check_timeout=0:\n", &c, NULL), 0);
    ck_assert_str_eq(warden_params_string(c, "check_timeout"), "5s");
    ck_assert(!warden_params_is_set(c, "check_timeout"));
    warden__params_free(c);
    ck_assert_str_eq(warden_params_string(p, "check_timeout"), "5s");

    /* No text: a plain copy of what was given. */
    ck_assert_int_eq(warden__params_copy_with(p, NULL, &c, NULL), 0);
    ck_assert_str_eq(warden_params_string(c, "port"), "81");
    ck_assert(warden_params_is_set(c, "config"));
    warden__params_free(c);

    /* Values are not validated here; the caller does. */
    ck_assert_int_eq(warden__params_copy_with(p, "check_timeout=4:soon\n", &c, NULL), 0);
    ck_assert_int_eq(warden__params_validate(c, &reason), -EINVAL);
    ck_assert_ptr_nonnull(strstr(reason, "'check_timeout'"));
    free(reason);
    warden__params_free(c);
    warden__params_free(p);
}
END_TEST

/* Expect the reload text refused with r, the whole of it, and a reason
 * that contains want. */
static void expect_refused(const warden_params *p, const char *text, int r, const char *want)
{
    warden_params *c = (warden_params *)p; /* a sentinel: never written on failure */
    char *reason = NULL;
    ck_assert_msg(warden__params_copy_with(p, text, &c, &reason) == r, "'%s' not refused with %d",
                  text, r);
    ck_assert_ptr_eq(c, p);
    ck_assert_msg(reason && strstr(reason, want), "reason '%s' lacks '%s'", reason, want);
    free(reason);
    /* The reason is optional. */
    ck_assert_int_eq(warden__params_copy_with(p, text, &c, NULL), r);
}

START_TEST(test_copy_with_refuses_non_reloadable)
{
    /* The keeper applies a reload as root: a name the table does not mark
     * reloadable (command, config, or an agent's redeclared check) must not
     * slip in beside reloadable ones. */
    static const char *const env[] = {"command", "c", "config", "/a.conf", NULL};
    warden_params *p = load(env);
    expect_refused(p, "check_timeout=2:1s\ncommand=9:/bin/evil\n", -EPERM,
                   "parameter 'command' is not reloadable");
    expect_refused(p, "port=1:1\n", -EPERM, "'port' is not reloadable");
    /* the agent's "check" overrides the common one and is not reloadable */
    expect_refused(p, "check=15:exec:/bin/false\n", -EPERM, "'check' is not reloadable");
    expect_refused(p, "check_timeout=2:1s\nnosuch=1:2\n", -ENOENT, "no parameter 'nosuch'");
    warden__params_free(p);
}
END_TEST

START_TEST(test_copy_with_strict_framing)
{
    /* A value is counted, not ended by a newline: a newline inside it is
     * part of it, and cannot start another record. */
    static const struct warden_param reloadable[] = {
        {"check", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "process", "Check", NULL, NULL,
         NULL},
        {"command", WARDEN_PARAM_STRING, 0, "/bin/true", "Command", NULL, NULL, NULL},
        {NULL},
    };
    const struct warden_param *table[] = {&reloadable[0], &reloadable[1]};
    setenv("OCF_RESKEY_check", "exec:/bin/a\ncommand=/bin/evil", 1);
    warden_params *p = NULL;
    ck_assert_int_eq(warden__params_load(table, 2, &p), 0);
    unsetenv("OCF_RESKEY_check");
    char *text = warden__params_reload_text(p);
    ck_assert_str_eq(text, "check=29:exec:/bin/a\ncommand=/bin/evil\n");
    warden_params *c = NULL;
    ck_assert_int_eq(warden__params_copy_with(p, text, &c, NULL), 0);
    ck_assert_str_eq(warden_params_string(c, "check"), "exec:/bin/a\ncommand=/bin/evil");
    ck_assert_str_eq(warden_params_string(c, "command"), "/bin/true");
    ck_assert(!warden_params_is_set(c, "command"));
    warden__params_free(c);
    free(text);
    /* What follows a value is the next record, whatever the value holds. */
    ck_assert_int_eq(warden__params_copy_with(p, "check=12:tcp:[::1]:80\n", &c, NULL), 0);
    ck_assert_str_eq(warden_params_string(c, "check"), "tcp:[::1]:80");
    warden__params_free(c);

    /* Not what the builder writes: refused whole, with where. */
    static const char *const bad[] = {
        "check=exec:/bin/true\n",        /* the old, newline-framed form */
        "check=3:abc",                   /* no closing newline */
        "check=4:abc\n",                 /* shorter than it says */
        "check=2:abc\n",                 /* longer than it says */
        "check=03:abc\n",                /* a leading zero */
        "check=-1:\n",                   /* a sign */
        "check=9999999:x\n",             /* a length past the bound */
        "check=99999999999999999999:\n", /* and past any integer */
        "check=:abc\n",                  /* no length */
        "=3:abc\n",                      /* no name */
        "Check=3:abc\n",                 /* not a name's characters */
        "check 3:abc\n",                 /* no '=' */
        "\n",                            /* a stray newline */
        "check",                         /* a name, and the end of the text */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refused(p, bad[i], -EBADMSG, "reload record at byte 0");
    }
    expect_refused(p, "check=3:abc\ncheck=3:def\n", -EBADMSG, "'check' given twice");
    expect_refused(p, "check=3:abc\nx", -EBADMSG, "at byte 12");
    warden__params_free(p);
}
END_TEST

START_TEST(test_reload_text)
{
    /* One record per reloadable parameter, given values only (a default
     * goes as empty: the keeper then applies its own default). */
    static const char *const env[] = {"command", "/bin/x", "check_timeout", "2s", NULL};
    warden_params *p = load(env);
    char *text = warden__params_reload_text(p);
    ck_assert_str_eq(text, "check_timeout=2:2s\n");
    warden_params *c = NULL;
    ck_assert_int_eq(warden__params_copy_with(p, text, &c, NULL), 0);
    ck_assert_str_eq(warden_params_string(c, "check_timeout"), "2s");
    warden__params_free(c);
    free(text);
    warden__params_free(p);
}
END_TEST

START_TEST(test_shown)
{
    /* What a reason or a log line shows of a value: one line of printable
     * ASCII, at most 64 bytes of the value. */
    char buf[WARDEN_SHOWN_SIZE];
    ck_assert_str_eq(warden__shown("plain 10s", buf), "plain 10s");
    ck_assert_str_eq(warden__shown("\r\nocf-exit-reason:forged", buf),
                     "\\r\\nocf-exit-reason:forged");
    ck_assert_str_eq(warden__shown("a'b\\c\td\x01\x7f\xc3\xa9", buf),
                     "a\\'b\\\\c\\td\\x01\\x7f\\xc3\\xa9");
    ck_assert_str_eq(warden__shown("", buf), "");
    ck_assert_str_eq(warden__shown(NULL, buf), "");
    char big[131001];
    memset(big, '\n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    warden__shown(big, buf);
    ck_assert_uint_eq(strlen(buf), 64 * 2 + 3);
    ck_assert_str_eq(buf + 128, "...");
    /* Every byte at its widest still fits. */
    memset(big, 0xff, sizeof(big) - 1);
    warden__shown(big, buf);
    ck_assert_uint_eq(strlen(buf), 64 * 4 + 3);
    /* 64 bytes exactly are not cut. */
    big[64] = '\0';
    memset(big, 'x', 64);
    ck_assert_str_eq(warden__shown(big, buf), big);
}
END_TEST

START_TEST(test_validate_reason_shown)
{
    /* A value with a newline cannot add a line to the reason, and a huge one
     * gives a short reason. */
    static const char *const nl[] = {
        "command", "c", "config", "x", "check_timeout", "\r\nocf-exit-reason:forged", NULL};
    warden_params *p = load(nl);
    char *reason = NULL;
    ck_assert_int_eq(warden__params_validate(p, &reason), -EINVAL);
    ck_assert_ptr_null(strchr(reason, '\n'));
    ck_assert_ptr_null(strchr(reason, '\r'));
    ck_assert_ptr_nonnull(strstr(reason, "'\\r\\nocf-exit-reason:forged'"));
    free(reason);
    warden__params_free(p);

    char *huge = malloc(131001);
    memset(huge, '9', 131000);
    huge[131000] = '\0';
    huge[5] = 'x';
    const char *big[] = {"command", "c", "config", "x", "check_timeout", huge, NULL};
    p = load(big);
    ck_assert_int_eq(warden__params_validate(p, &reason), -EINVAL);
    ck_assert_msg(strlen(reason) < 400, "reason of %zu bytes", strlen(reason));
    ck_assert_ptr_nonnull(strstr(reason, "'check_timeout'"));
    ck_assert_ptr_nonnull(strstr(reason, "...'"));
    free(reason);
    warden__params_free(p);
    free(huge);
}
END_TEST

START_TEST(test_validate_options)
{
    /* A declaration with options takes exactly one of them. */
    static const char *const kinds[] = {"stacks", "core", NULL};
    static const struct warden_param decl[] = {
        {"kind", WARDEN_PARAM_STRING, 0, "stacks", "Kind", NULL, "stacks or core", NULL, kinds},
        {NULL},
    };
    const struct warden_param *table[] = {&decl[0]};
    static const char *const good[] = {"stacks", "core"};
    static const char *const bad[] = {"Core", "cores", "stack", " core", "core\n", "x"};
    for (size_t i = 0; i < 8; i++) {
        bool ok = i < 2;
        setenv("OCF_RESKEY_kind", ok ? good[i] : bad[i - 2], 1);
        warden_params *p = NULL;
        ck_assert_int_eq(warden__params_load(table, 1, &p), 0);
        char *reason = NULL;
        ck_assert_int_eq(warden__params_validate(p, &reason), ok ? 0 : -EINVAL);
        ck_assert(ok || strstr(reason, "'kind' has invalid value"));
        ck_assert(ok || strstr(reason, "stacks or core"));
        free(reason);
        warden__params_free(p);
    }
    unsetenv("OCF_RESKEY_kind");
}
END_TEST

START_TEST(test_check_node)
{
    /* A path that must exist on the node that starts the service: -ENXIO
     * (exit 2) naming the parameter when it does not; unset passes. */
    static const struct warden_param decl[] = {
        {"conf", WARDEN_PARAM_STRING, WARDEN_PARAM_NODE_PATH, NULL, "Conf", NULL, NULL, NULL},
        {"other", WARDEN_PARAM_STRING, 0, NULL, "Other", NULL, NULL, NULL},
        {NULL},
    };
    const struct warden_param *table[] = {&decl[0], &decl[1]};
    warden_params *p = NULL;
    char *reason = NULL;
    setenv("OCF_RESKEY_other", "/nonexistent/warden-x", 1);
    ck_assert_int_eq(warden__params_load(table, 2, &p), 0);
    ck_assert_int_eq(warden__params_check_node(p, &reason), 0);
    warden__params_free(p);
    setenv("OCF_RESKEY_conf", "/", 1);
    ck_assert_int_eq(warden__params_load(table, 2, &p), 0);
    ck_assert_int_eq(warden__params_check_node(p, &reason), 0);
    warden__params_free(p);
    setenv("OCF_RESKEY_conf", "/nonexistent/warden-\nx", 1);
    ck_assert_int_eq(warden__params_load(table, 2, &p), 0);
    ck_assert_int_eq(warden__params_check_node(p, &reason), -ENXIO);
    ck_assert_ptr_nonnull(strstr(reason, "parameter 'conf'"));
    ck_assert_ptr_nonnull(strstr(reason, "'/nonexistent/warden-\\nx' is missing on this node"));
    free(reason);
    warden__params_free(p);
    unsetenv("OCF_RESKEY_conf");
    unsetenv("OCF_RESKEY_other");
}
END_TEST

/* Print the meta-data of a table into a string. */
static char *metadata(const struct warden_param *const *table, size_t n, bool ocf11)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    ck_assert_ptr_nonnull(f);
    warden__params_print_metadata(table, n, ocf11, f);
    ck_assert_int_eq(fclose(f), 0);
    return buf;
}

START_TEST(test_metadata)
{
    const struct warden_param **table = NULL;
    size_t n = 0;
    ck_assert_int_eq(warden__param_table_merge(agent, common, &table, &n), 0);

    char *ocf10 = metadata(table, n, false);
    ck_assert_ptr_eq(strstr(ocf10, "<parameters>\n"), ocf10);
    ck_assert_ptr_nonnull(strstr(ocf10, "</parameters>\n"));
    ck_assert_ptr_null(strstr(ocf10, "reloadable"));
    ck_assert_ptr_nonnull(strstr(ocf10, "<parameter name=\"config\" required=\"1\" unique=\"1\">"));
    ck_assert_ptr_nonnull(strstr(ocf10, "<content type=\"integer\" default=\"80\"/>"));
    ck_assert_ptr_nonnull(strstr(ocf10, "<content type=\"boolean\" default=\"false\"/>"));
    ck_assert_ptr_nonnull(strstr(ocf10, "<content type=\"time\" default=\"5s\"/>"));
    /* No default, no default attribute. */
    ck_assert_ptr_nonnull(strstr(ocf10, "<content type=\"string\"/>"));
    /* The merged table's order is the meta-data's order. */
    const char *prev = ocf10;
    for (size_t i = 0; i < n; i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "<parameter name=\"%s\"", table[i]->name);
        const char *at = strstr(ocf10, needle);
        ck_assert_msg(at && at > prev, "%s missing or out of order", table[i]->name);
        prev = at;
    }

    /* OCF 1.1 adds reloadable="0|1"; the redeclared check is not
     * reloadable, the inherited check_timeout is. */
    char *ocf11 = metadata(table, n, true);
    ck_assert_ptr_nonnull(
        strstr(ocf11, "<parameter name=\"check\" required=\"0\" unique=\"0\" reloadable=\"0\">"));
    ck_assert_ptr_nonnull(strstr(
        ocf11, "<parameter name=\"check_timeout\" required=\"0\" unique=\"0\" reloadable=\"1\">"));
    free(ocf10);
    free(ocf11);
    free(table);
}
END_TEST

START_TEST(test_metadata_escaping)
{
    /* Descriptions and defaults are text inside XML: <, >, & and " must not
     * end an element or an attribute early. */
    static const struct warden_param odd[] = {
        {"expr", WARDEN_PARAM_STRING, 0, "a<b && \"c\">d", "Short <b>",
         "Long: x > 1 & y < 2, say \"hi\"", NULL, NULL},
        {"nolong", WARDEN_PARAM_STRING, 0, NULL, "only & short", NULL, NULL, NULL},
        {NULL},
    };
    const struct warden_param *table[] = {&odd[0], &odd[1]};
    char *xml = metadata(table, 2, true);
    ck_assert_ptr_nonnull(strstr(xml, "default=\"a&lt;b &amp;&amp; &quot;c&quot;&gt;d\""));
    ck_assert_ptr_nonnull(strstr(xml, "<shortdesc lang=\"en\">Short &lt;b&gt;</shortdesc>"));
    ck_assert_ptr_nonnull(strstr(
        xml, "<longdesc lang=\"en\">Long: x &gt; 1 &amp; y &lt; 2, say &quot;hi&quot;</longdesc>"));
    /* Without a longdesc the shortdesc stands in. */
    ck_assert_ptr_nonnull(strstr(xml, "<longdesc lang=\"en\">only &amp; short</longdesc>"));
    ck_assert_ptr_null(strstr(xml, "<b>"));
    ck_assert_ptr_null(strstr(xml, "&& "));
    free(xml);

    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    warden__xml_escape(f, "<&>\"'x");
    warden__xml_escape(f, NULL);
    fclose(f);
    ck_assert_str_eq(buf, "&lt;&amp;&gt;&quot;'x");
    free(buf);
}
END_TEST

START_TEST(test_metadata_types)
{
    /* OCF 1.1's schema (ra/1.1/ra-api.rng) knows boolean, string, integer
     * and select with <option value=...>; no "time". ra-api-1.dtd of 1.0
     * knows string, integer, boolean and time, and no options. Each form
     * gets what its caller validates against. */
    static const char *const kinds[] = {"stacks", "core", NULL};
    static const struct warden_param decl[] = {
        {"every", WARDEN_PARAM_TIME, 0, "10s", "Every", "How often.", "a time, e.g. 10s", NULL},
        {"kind", WARDEN_PARAM_STRING, 0, "stacks", "Kind", "What & how.", "stacks or core", NULL,
         kinds},
        {NULL},
    };
    const struct warden_param *table[] = {&decl[0], &decl[1]};
    char *ocf11 = metadata(table, 2, true);
    ck_assert_ptr_null(strstr(ocf11, "\"time\""));
    ck_assert_ptr_nonnull(strstr(ocf11, "<content type=\"string\" default=\"10s\"/>"));
    /* the type no longer says it is a time: the description does */
    ck_assert_ptr_nonnull(
        strstr(ocf11, "<longdesc lang=\"en\">How often. Takes a time, e.g. 10s.</longdesc>"));
    ck_assert_ptr_nonnull(strstr(ocf11, "<content type=\"select\" default=\"stacks\">\n"
                                        "<option value=\"stacks\"/>\n"
                                        "<option value=\"core\"/>\n"
                                        "</content>\n</parameter>\n"));
    char *ocf10 = metadata(table, 2, false);
    ck_assert_ptr_nonnull(strstr(ocf10, "<content type=\"time\" default=\"10s\"/>"));
    ck_assert_ptr_nonnull(strstr(ocf10, "<content type=\"string\" default=\"stacks\"/>"));
    ck_assert_ptr_null(strstr(ocf10, "<option"));
    ck_assert_ptr_null(strstr(ocf10, "select"));
    free(ocf11);
    free(ocf10);
}
END_TEST

START_TEST(test_param_form)
{
    /* The declared form wins; otherwise the type's. */
    ck_assert_str_eq(warden__param_form(&agent[4]), "fast or slow");
    ck_assert_ptr_nonnull(strstr(warden__param_form(&agent[2]), "whole number"));
    ck_assert_ptr_nonnull(strstr(warden__param_form(&agent[3]), "true or false"));
    ck_assert_ptr_nonnull(strstr(warden__param_form(&common[2]), "10s"));
}
END_TEST

int main(void)
{
    check_cleanup_hook = clear_env;
    Suite *s = suite_create("param");
    add_tcase(s, test_table_merge, 10);
    add_tcase(s, test_load_values_and_defaults, 10);
    add_tcase(s, test_validate_ok_and_getters, 10);
    add_tcase(s, test_validate_required_missing, 10);
    add_tcase(s, test_validate_bad_values, 10);
    add_tcase(s, test_validate_custom_check, 10);
    add_tcase(s, test_parse_boolean, 10);
    add_tcase(s, test_set_default, 10);
    add_tcase(s, test_copy_with, 10);
    add_tcase(s, test_copy_with_refuses_non_reloadable, 10);
    add_tcase(s, test_copy_with_strict_framing, 10);
    add_tcase(s, test_reload_text, 10);
    add_tcase(s, test_shown, 10);
    add_tcase(s, test_validate_reason_shown, 10);
    add_tcase(s, test_validate_options, 10);
    add_tcase(s, test_check_node, 10);
    add_tcase(s, test_metadata, 10);
    add_tcase(s, test_metadata_escaping, 10);
    add_tcase(s, test_metadata_types, 10);
    add_tcase(s, test_param_form, 10);
    return check_run("check_param", s);
}
