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
    /* A reload hands new values as "name=value" lines: they replace the
     * given ones in a copy, an empty value returns a parameter to its
     * default, and the original stays as it was (so a refused reload
     * changes nothing). */
    static const char *const env[] = {"command", "c",    "config", "/a.conf", "port",
                                      "81",      "mode", "slow",   NULL};
    warden_params *p = load(env);
    warden_params *c = (warden_params *)&env; /* a sentinel for failures */
    ck_assert_int_eq(warden__params_copy_with(p,
                                              "port=8080\nmode=\nno equals sign\n"
                                              "check_timeout=250ms",
                                              &c),
                     0);
    ck_assert_ptr_ne(c, (warden_params *)&env);
    char *reason = NULL;
    ck_assert_int_eq(warden__params_validate(c, &reason), 0);
    ck_assert_int_eq(warden_params_integer(c, "port"), 8080);
    ck_assert(warden_params_is_set(c, "port"));
    ck_assert_str_eq(warden_params_string(c, "mode"), "fast");
    ck_assert(!warden_params_is_set(c, "mode"));
    ck_assert_uint_eq(warden_params_time(c, "check_timeout"), 250 * WARDEN_USEC_PER_MSEC);
    /* Untouched by the text: given values stay given, defaults stay. */
    ck_assert_str_eq(warden_params_string(c, "config"), "/a.conf");
    ck_assert(warden_params_is_set(c, "config"));
    ck_assert_str_eq(warden_params_string(c, "check"), "tcp:127.0.0.1:80");
    warden__params_free(c);

    ck_assert_str_eq(warden_params_string(p, "port"), "81");
    ck_assert_str_eq(warden_params_string(p, "mode"), "slow");
    ck_assert_str_eq(warden_params_string(p, "check_timeout"), "5s");

    /* No text: a plain copy of what was given. */
    ck_assert_int_eq(warden__params_copy_with(p, NULL, &c), 0);
    ck_assert_str_eq(warden_params_string(c, "port"), "81");
    ck_assert(warden_params_is_set(c, "mode"));
    warden__params_free(c);

    /* A name the agent does not declare refuses the whole text. */
    c = (warden_params *)&env;
    ck_assert_int_eq(warden__params_copy_with(p, "port=1\nnosuch=2", &c), -ENOENT);
    ck_assert_ptr_eq(c, (warden_params *)&env);
    /* Values are not validated here; the caller does. */
    ck_assert_int_eq(warden__params_copy_with(p, "port=eighty", &c), 0);
    ck_assert_int_eq(warden__params_validate(c, &reason), -EINVAL);
    ck_assert_ptr_nonnull(strstr(reason, "'port'"));
    free(reason);
    warden__params_free(c);
    warden__params_free(p);
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
    add_tcase(s, test_metadata, 10);
    add_tcase(s, test_metadata_escaping, 10);
    add_tcase(s, test_param_form, 10);
    return check_run("check_param", s);
}
