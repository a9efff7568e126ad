/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent front end (lib/agent.c, lib/agent-table.c): the one -errno -> OCF exit code table,
 * and the actions that need no service (meta-data, usage). Actions that run
 * a service are covered by the agent tests under test/agent. */
#include <fcntl.h>
#include <sys/wait.h>

#include "check_common.h"

#include "util-int.h"
#include "warden/agent.h"

START_TEST(test_ocf_rc_from_errno)
{
    /* The table the README documents; Pacemaker acts on these codes (7
     * means "cleanly stopped", 5 and 6 ban the resource from the node or
     * the cluster), so a change here changes recovery. */
    static const struct {
        int r;
        enum warden_ocf_rc rc;
    } table[] = {
        {0, WARDEN_OCF_SUCCESS},
        {-ESRCH, WARDEN_OCF_NOT_RUNNING},
        {-EINVAL, WARDEN_OCF_ERR_CONFIGURED},
        {-ENOPKG, WARDEN_OCF_ERR_INSTALLED},
        {-ENXIO, WARDEN_OCF_ERR_ARGS},
        {-EACCES, WARDEN_OCF_ERR_PERM},
        {-EPERM, WARDEN_OCF_ERR_PERM},
        {-EOPNOTSUPP, WARDEN_OCF_ERR_UNIMPLEMENTED},
        {-ETIMEDOUT, WARDEN_OCF_ERR_GENERIC},
        {-EIO, WARDEN_OCF_ERR_GENERIC},
        {-ENOMEM, WARDEN_OCF_ERR_GENERIC},
        {-ENOENT, WARDEN_OCF_ERR_GENERIC},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        ck_assert_msg(warden_ocf_rc_from_errno(table[i].r) == table[i].rc, "%d (%s) -> %d, want %d",
                      table[i].r, strerror(-table[i].r), warden_ocf_rc_from_errno(table[i].r),
                      table[i].rc);
    }
    /* The numbers themselves are the OCF standard's, not ours to choose. */
    ck_assert_int_eq(warden_ocf_rc_from_errno(-ESRCH), 7);
    ck_assert_int_eq(warden_ocf_rc_from_errno(-EINVAL), 6);
    ck_assert_int_eq(warden_ocf_rc_from_errno(-ENOPKG), 5);
    ck_assert_int_eq(warden_ocf_rc_from_errno(-ENXIO), 2);
    ck_assert_int_eq(warden_ocf_rc_from_errno(-EACCES), 4);
    ck_assert_int_eq(warden_ocf_rc_from_errno(-EOPNOTSUPP), 3);
    ck_assert_int_eq(warden_ocf_rc_from_errno(-ETIMEDOUT), 1);
}
END_TEST

/* ---- warden_agent_main without a service ---------------------------------- */

static int test_mode(const char *value)
{
    return strcmp(value, "on") == 0 || strcmp(value, "off") == 0 ? 0 : -EINVAL;
}

static const struct warden_param test_params[] = {
    {"config", WARDEN_PARAM_STRING, WARDEN_PARAM_REQUIRED | WARDEN_PARAM_UNIQUE, NULL,
     "Configuration <file>", NULL, "an absolute path", NULL},
    /* Redeclares a common parameter: replaces it, in place of the common one. */
    {"check", WARDEN_PARAM_STRING, 0, "tcp:127.0.0.1:8080", "Health probe", NULL, NULL, NULL},
    {"mode", WARDEN_PARAM_STRING, 0, "on", "Mode", NULL, "on or off", test_mode},
    {NULL},
};

static const struct warden_agent test_agent = {
    .name = "checkagent",
    .version = "9.9",
    .shortdesc = "A test agent",
    .longdesc = "Tests the agent front end & its meta-data.",
    .params = test_params,
};

/* Run warden_agent_main with stdout and stderr captured in one buffer each. */
static int run_main(const char *action, char **ret_out, char **ret_err)
{
    char *argv[] = {(char *)"checkagent", (char *)action, NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(err);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    ck_assert_int_ge(saved_out, 0);
    ck_assert_int_ge(saved_err, 0);
    ck_assert_int_ge(dup2(fileno(out), STDOUT_FILENO), 0);
    ck_assert_int_ge(dup2(fileno(err), STDERR_FILENO), 0);
    int rc = warden_agent_main(&test_agent, action ? 2 : 1, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);

    FILE *f[2] = {out, err};
    char **ret[2] = {ret_out, ret_err};
    for (int i = 0; i < 2; i++) {
        long size = ftell(f[i]);
        ck_assert_int_ge(size, 0);
        char *buf = calloc(1, (size_t)size + 1);
        ck_assert_ptr_nonnull(buf);
        rewind(f[i]);
        ck_assert_uint_eq(fread(buf, 1, (size_t)size, f[i]), (size_t)size);
        fclose(f[i]);
        *ret[i] = buf;
    }
    return rc;
}

static void clear_ocf_env(void)
{
    unsetenv("OCF_RA_VERSION_MAJOR");
    unsetenv("OCF_RA_VERSION_MINOR");
}

START_TEST(test_metadata_ocf10)
{
    /* Without OCF 1.1 in the environment the caller may be ocf-tester,
     * which validates against ra-api-1.dtd: a DOCTYPE, no reloadable. */
    clear_ocf_env();
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(run_main("meta-data", &out, &err), WARDEN_OCF_SUCCESS);
    ck_assert_ptr_nonnull(strstr(out, "<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
    ck_assert_ptr_nonnull(strstr(out, "<resource-agent name=\"checkagent\" version=\"9.9\">"));
    ck_assert_ptr_nonnull(strstr(out, "<version>1.0</version>"));
    ck_assert_ptr_null(strstr(out, "reloadable="));
    ck_assert_ptr_null(strstr(out, "reload-agent"));
    /* Agent text is escaped like parameter text. */
    ck_assert_ptr_nonnull(strstr(out, "the agent front end &amp; its meta-data"));
    ck_assert_ptr_nonnull(strstr(out, "Configuration &lt;file&gt;"));
    /* The agent's parameters first, then the common ones; the agent's
     * "check" replaced the common one, which appears nowhere. */
    const char *config = strstr(out, "<parameter name=\"config\"");
    const char *check = strstr(out, "<parameter name=\"check\"");
    const char *command = strstr(out, "<parameter name=\"command\"");
    ck_assert_ptr_nonnull(config);
    ck_assert_ptr_nonnull(check);
    ck_assert_ptr_nonnull(command);
    ck_assert(config < check);
    ck_assert(check < command);
    ck_assert_ptr_null(strstr(check + 1, "<parameter name=\"check\""));
    ck_assert_ptr_nonnull(strstr(out, "default=\"tcp:127.0.0.1:8080\""));
    ck_assert_ptr_nonnull(strstr(out, "</resource-agent>\n"));
    ck_assert_str_eq(err, "");
    free(out);
    free(err);
}
END_TEST

START_TEST(test_metadata_ocf11)
{
    /* Pacemaker 2.1 announces OCF 1.1: reloadable flags and reload-agent. */
    setenv("OCF_RA_VERSION_MAJOR", "1", 1);
    setenv("OCF_RA_VERSION_MINOR", "1", 1);
    char *out = NULL, *err = NULL;
    int rc = run_main("meta-data", &out, &err);
    clear_ocf_env();
    ck_assert_int_eq(rc, WARDEN_OCF_SUCCESS);
    ck_assert_ptr_null(strstr(out, "<!DOCTYPE"));
    ck_assert_ptr_nonnull(strstr(out, "<version>1.1</version>"));
    ck_assert_ptr_nonnull(strstr(out, "<action name=\"reload-agent\""));
    /* The redeclared "check" dropped the common one's reloadable flag. */
    ck_assert_ptr_nonnull(strstr(out, "<parameter name=\"check\" required=\"0\" unique=\"0\" "
                                      "reloadable=\"0\">"));
    ck_assert_ptr_nonnull(strstr(out, "<parameter name=\"config\" required=\"1\" unique=\"1\" "
                                      "reloadable=\"0\">"));
    ck_assert_ptr_nonnull(strstr(out, "<parameter name=\"check_timeout\" required=\"0\" "
                                      "unique=\"0\" reloadable=\"1\">"));
    free(out);
    free(err);
}
END_TEST

/* ---- validate-all: what start would refuse, refused with exit 6 ----------- */

/* Run validate-all in a child (the agent opens and closes libqb's log, which
 * this process's log guard uses) with OCF_RESKEY_<k>=<v> for each pair over a
 * good configuration; its stderr in ret_err. */
static int validate_sized(const struct warden_agent *agent, size_t agent_size, size_t param_size,
                          const char *const *pairs, char **ret_err)
{
    FILE *err = tmpfile();
    ck_assert_ptr_nonnull(err);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static const char *const unset[] = {"HA_logfile",       "PCMK_logfile", "HA_LOGFACILITY",
                                            "PCMK_logfacility", "HA_debug",     "PCMK_debug"};
        for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++) {
            unsetenv(unset[i]);
        }
        setenv("OCF_RESOURCE_INSTANCE", "values-unit", 1);
        setenv("OCF_RESKEY_command", "/bin/true", 1);
        setenv("OCF_RESKEY_config", "/etc/x.conf", 1);
        for (const char *const *kv = pairs; kv[0]; kv += 2) {
            char key[64];
            snprintf(key, sizeof(key), "OCF_RESKEY_%s", kv[0]);
            setenv(key, kv[1], 1);
        }
        /* The agent sets up libqb's log anew: the test's own goes first, or
         * valgrind sees its state lost. */
        qb_log_fini();
        dup2(fileno(err), STDERR_FILENO);
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        dup2(devnull, STDOUT_FILENO);
        char *argv[] = {(char *)"checkagent", (char *)"validate-all", NULL};
        _exit(warden_agent_main_sized(agent, agent_size, param_size, 2, argv));
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    long size = ftell(err);
    ck_assert_int_ge(size, 0);
    char *buf = calloc(1, (size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    rewind(err);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, err), (size_t)size);
    fclose(err);
    *ret_err = buf;
    return WEXITSTATUS(status);
}

static int validate(const char *const *pairs, char **ret_err)
{
    return validate_sized(&test_agent, sizeof(test_agent), sizeof(struct warden_param), pairs,
                          ret_err);
}

/* The one ocf-exit-reason of stderr (asserted to be one), without its
 * prefix and newline, or NULL. */
static char *exit_reason(const char *err)
{
    char *found = NULL;
    for (const char *line = err; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (strncmp(line, "ocf-exit-reason:", 16) == 0) {
            ck_assert_msg(!found, "a second ocf-exit-reason line in '%s'", err);
            found = strndup(line + 16, len - 16);
        }
        line = end ? end + 1 : NULL;
    }
    return found;
}

/* validate-all of name=value exits with rc; for 6 the reason names the
 * parameter and contains want. */
static void expect_validate(const char *name, const char *value, int rc, const char *want)
{
    const char *const pairs[] = {name, value, NULL};
    char *err = NULL;
    int got = validate(pairs, &err);
    char *reason = exit_reason(err);
    ck_assert_msg(got == rc, "%s='%s': rc %d, want %d (%s)", name, value, got, rc,
                  reason ? reason : "no reason");
    if (rc == WARDEN_OCF_ERR_CONFIGURED) {
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "parameter '%s'", name);
        ck_assert_msg(reason && strstr(reason, quoted) && strstr(reason, want),
                      "%s='%s': reason '%s' lacks \"%s\" or \"%s\"", name, value, reason, quoted,
                      want);
    }
    free(reason);
    free(err);
}

START_TEST(test_validate_times)
{
    /* Times are bounded where they are given, so that nothing downstream
     * wraps (18446744073709552us is within the parser's range, and wrapped to
     * a 384 ns keeper tick in libqb's nanoseconds) or spins (1us). */
    static const char *const interval_bad[] = {
        "0", "1us", "99ms", "18446744073709552us", "24h1s", "25h", "99999999999999h"};
    for (size_t i = 0; i < sizeof(interval_bad) / sizeof(interval_bad[0]); i++) {
        expect_validate("check_interval", interval_bad[i], WARDEN_OCF_ERR_CONFIGURED,
                        "from 100ms to 24h");
    }
    expect_validate("check_interval", "100ms", 0, NULL);
    expect_validate("check_interval", "24h", 0, NULL);
    expect_validate("check_interval", "1440min", 0, NULL);
    static const char *const timeout_bad[] = {"0",   "0ms",    "1us",
                                              "9ms", "86401s", "18446744073709552us"};
    for (size_t i = 0; i < sizeof(timeout_bad) / sizeof(timeout_bad[0]); i++) {
        expect_validate("check_timeout", timeout_bad[i], WARDEN_OCF_ERR_CONFIGURED,
                        "from 10ms to 24h");
        expect_validate("pending_timeout", timeout_bad[i], WARDEN_OCF_ERR_CONFIGURED,
                        "from 10ms to 24h");
    }
    expect_validate("check_timeout", "10ms", 0, NULL);
    expect_validate("check_timeout", "24h", 0, NULL);
    expect_validate("pending_timeout", "10ms", 0, NULL);
    expect_validate("pending_timeout", "30s", 0, NULL);
    /* The form still says how to write a time. */
    expect_validate("check_timeout", "soon", WARDEN_OCF_ERR_CONFIGURED, "ms, s, min or h");
}
END_TEST

START_TEST(test_validate_paths)
{
    /* pidfile and depends_on name a file, dump_dir a directory: absolute,
     * and nothing that could not be shown on one line. */
    static const char *const file_bad[] = {"relative/app.pid", "app.pid",     "/",
                                           "/run/app/",        "/run/app/.",  "/run/..",
                                           "/run/a\npid",      "/run/a\rpid", "./x"};
    static const char *const file_params[] = {"pidfile", "depends_on"};
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof(file_bad) / sizeof(file_bad[0]); i++) {
            expect_validate(file_params[p], file_bad[i], WARDEN_OCF_ERR_CONFIGURED,
                            "the absolute path of a file");
        }
        expect_validate(file_params[p], "/run/app/app.pid", 0, NULL);
        expect_validate(file_params[p], "/run/app/.app.pid", 0, NULL);
    }
    expect_validate("dump_dir", "dumps", WARDEN_OCF_ERR_CONFIGURED, "an absolute path");
    expect_validate("dump_dir", "/var/x\ny", WARDEN_OCF_ERR_CONFIGURED, "an absolute path");
    expect_validate("dump_dir", "/var/tmp/warden-dumps", 0, NULL);
    /* An enumeration takes its values only. */
    expect_validate("dump_type", "Core", WARDEN_OCF_ERR_CONFIGURED, "stacks or core");
    expect_validate("dump_type", "core", 0, NULL);
}
END_TEST

START_TEST(test_validate_tls)
{
    /* The TLS parameters every agent has: refused naming the parameter and
     * the accepted form. */
    static const char *const days_bad[] = {"-1", "3651", "14d", "", "1e3", "99999", " 7"};
    for (size_t i = 0; i < sizeof(days_bad) / sizeof(days_bad[0]); i++) {
        if (days_bad[i][0]) {
            expect_validate("tls_warn_days", days_bad[i], WARDEN_OCF_ERR_CONFIGURED,
                            "a whole number of days, 0-3650");
        }
    }
    expect_validate("tls_warn_days", "0", 0, NULL);
    expect_validate("tls_warn_days", "3650", 0, NULL);
    expect_validate("tls_verify", "maybe", WARDEN_OCF_ERR_CONFIGURED, "tls_verify");
    expect_validate("tls_verify", "true", 0, NULL);
    expect_validate("tls_ca_file", "ca.pem", WARDEN_OCF_ERR_CONFIGURED,
                    "the absolute path of a file");
    expect_validate("tls_ca_file", "/etc/ssl/", WARDEN_OCF_ERR_CONFIGURED,
                    "the absolute path of a file");
    expect_validate("tls_ca_file", "/etc/x\ny.pem", WARDEN_OCF_ERR_CONFIGURED,
                    "the absolute path of a file");
    /* Missing on this node: exit 2 (WARDEN_PARAM_NODE_PATH). */
    expect_validate("tls_ca_file", "/nonexistent/warden-ca.pem", WARDEN_OCF_ERR_ARGS,
                    "tls_ca_file");
    expect_validate("tls_ca_file", "/etc/hostname", 0, NULL);
    expect_validate("check", "imaps:127.0.0.1:993", 0, NULL);
    expect_validate("check", "https:[::1]:443/health", 0, NULL);
    expect_validate("check", "imaps:127.0.0.1", WARDEN_OCF_ERR_CONFIGURED, "imaps:");
}
END_TEST

START_TEST(test_validate_reason_is_one_short_line)
{
    /* A value is shown escaped and cut: it cannot forge a second
     * ocf-exit-reason line (exit_reason asserts there is one), and 131000
     * bytes give a short reason. */
    static const char *const forged[] = {"check_timeout", "\r\nocf-exit-reason:forged", NULL};
    char *err = NULL;
    ck_assert_int_eq(validate(forged, &err), WARDEN_OCF_ERR_CONFIGURED);
    char *reason = exit_reason(err);
    ck_assert_ptr_nonnull(reason);
    ck_assert_ptr_nonnull(strstr(reason, "'\\r\\nocf-exit-reason:forged'"));
    ck_assert_ptr_null(strchr(reason, '\r'));
    ck_assert_ptr_null(strstr(err, "\nocf-exit-reason:forged"));
    ck_assert_ptr_null(strchr(err, '\r'));
    free(reason);
    free(err);

    char *huge = malloc(131001);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'x', 131000);
    huge[131000] = '\0';
    static const char *names[] = {"check_timeout", "pidfile", "check", "user", "workdir"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        huge[0] = names[i][0] == 'c' ? 'x' : '/';
        const char *const big[] = {names[i], huge, NULL};
        int rc = validate(big, &err);
        ck_assert_msg(rc == WARDEN_OCF_ERR_CONFIGURED || rc == WARDEN_OCF_ERR_ARGS, "%s: rc %d",
                      names[i], rc);
        ck_assert_msg(strlen(err) < 1000, "%s: %zu bytes on stderr", names[i], strlen(err));
        reason = exit_reason(err);
        ck_assert_ptr_nonnull(reason);
        ck_assert_ptr_nonnull(strstr(reason, "xxx...'"));
        free(reason);
        free(err);
    }
    /* The reasons of lib/service.c too. */
    const char *const user[] = {"user", "x\nocf-exit-reason:forged", NULL};
    ck_assert_int_eq(validate(user, &err), WARDEN_OCF_ERR_ARGS);
    reason = exit_reason(err);
    ck_assert_ptr_nonnull(strstr(reason, "user 'x\\nocf-exit-reason:forged' does not exist"));
    free(reason);
    free(err);
    huge[0] = '/';
    const char *const command[] = {"command", huge, NULL};
    ck_assert_int_eq(validate(command, &err), WARDEN_OCF_ERR_INSTALLED);
    ck_assert_msg(strlen(err) < 1000, "%zu bytes on stderr", strlen(err));
    free(err);
    memcpy(huge, "/x '", 4);
    const char *const unterminated[] = {"command", huge, NULL};
    ck_assert_int_eq(validate(unterminated, &err), WARDEN_OCF_ERR_CONFIGURED);
    ck_assert_msg(strlen(err) < 1000, "%zu bytes on stderr", strlen(err));
    free(err);
    free(huge);
}
END_TEST

START_TEST(test_usage)
{
    /* No action at all is a usage error (2) with the usage on stderr; an
     * explicit "usage" succeeds and prints it on stdout. */
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(run_main(NULL, &out, &err), WARDEN_OCF_ERR_ARGS);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(strstr(err, "usage: checkagent {start|stop|monitor|meta-data"));
    free(out);
    free(err);
    ck_assert_int_eq(run_main("usage", &out, &err), WARDEN_OCF_SUCCESS);
    ck_assert_ptr_nonnull(strstr(out, "usage: checkagent"));
    ck_assert_str_eq(err, "");
    free(out);
    free(err);
}
END_TEST

/* ---- the agent's table across versions (agent.h, "Extensibility") -------- */

static const struct warden_param mode_params[] = {
    {"mode", WARDEN_PARAM_STRING, 0, "on", "Mode", NULL, "on or off", test_mode},
    {NULL},
};

START_TEST(test_table_older_agent)
{
    /* An agent built when the table ended after `params`: whatever lies
     * beyond its size is not its, and must not be read (were prepare or a
     * hook taken from these bytes, the agent would jump to 0xa5a5...). */
    struct warden_agent old;
    memset(&old, 0xa5, sizeof(old));
    old.name = "old";
    old.version = "1";
    old.shortdesc = "An old agent";
    old.longdesc = NULL;
    old.params = mode_params;
    size_t old_size = offsetof(struct warden_agent, params) + sizeof(old.params);
    static const char *const none[] = {NULL};
    char *err = NULL;
    ck_assert_int_eq(validate_sized(&old, old_size, sizeof(struct warden_param), none, &err), 0);
    free(err);
    static const char *const bad[] = {"mode", "sideways", NULL};
    ck_assert_int_eq(validate_sized(&old, old_size, sizeof(struct warden_param), bad, &err),
                     WARDEN_OCF_ERR_CONFIGURED);
    ck_assert_ptr_nonnull(strstr(err, "on or off"));
    free(err);
}
END_TEST

/* A table as an agent built against newer headers has it: one field more. */
struct newer_agent {
    struct warden_agent a;
    void *future;
};
struct newer_param {
    struct warden_param p;
    void *future;
};

START_TEST(test_table_newer_agent)
{
    static const char *const bad[] = {"mode", "sideways", NULL};
    static const char *const none[] = {NULL};
    struct newer_param params[] = {
        {{"config", WARDEN_PARAM_STRING, 0, NULL, "Config", NULL, NULL, NULL}, NULL},
        {{"mode", WARDEN_PARAM_STRING, 0, "on", "Mode", NULL, "on or off", test_mode}, NULL},
        {{NULL}, NULL},
    };
    struct newer_agent newer = {{.name = "newer", .shortdesc = "A newer agent"}, NULL};
    newer.a.params = &params[0].p;
    char *err = NULL;
    /* Its parameters at its stride: the second one is found and checked. */
    ck_assert_int_eq(
        validate_sized(&newer.a, sizeof(newer), sizeof(struct newer_param), none, &err), 0);
    free(err);
    ck_assert_int_eq(validate_sized(&newer.a, sizeof(newer), sizeof(struct newer_param), bad, &err),
                     WARDEN_OCF_ERR_CONFIGURED);
    ck_assert_ptr_nonnull(strstr(err, "parameter 'mode'"));
    free(err);
    /* A field this library does not know, set: refused, not ignored. */
    newer.future = &newer;
    ck_assert_int_eq(
        validate_sized(&newer.a, sizeof(newer), sizeof(struct newer_param), none, &err),
        WARDEN_OCF_ERR_INSTALLED);
    char *reason = exit_reason(err);
    ck_assert_ptr_nonnull(reason);
    ck_assert_ptr_nonnull(strstr(reason, "newer libwarden"));
    free(reason);
    free(err);
    newer.future = NULL;
    params[1].future = &newer;
    ck_assert_int_eq(
        validate_sized(&newer.a, sizeof(newer), sizeof(struct newer_param), none, &err),
        WARDEN_OCF_ERR_INSTALLED);
    free(err);
}
END_TEST

START_TEST(test_struct_copy)
{
    unsigned char src[8] = {1, 2, 3, 4, 0, 0, 0, 0}, dst[6];
    memset(dst, 0xff, sizeof(dst));
    ck_assert_int_eq(warden__struct_copy(dst, sizeof(dst), src, 4), 0);
    ck_assert_int_eq(dst[3], 4);
    ck_assert_int_eq(dst[4], 0); /* zero-extended */
    ck_assert_int_eq(dst[5], 0);
    ck_assert_int_eq(warden__struct_copy(dst, sizeof(dst), src, sizeof(src)), 0);
    src[7] = 9;
    ck_assert_int_eq(warden__struct_copy(dst, sizeof(dst), src, sizeof(src)), -E2BIG);
}
END_TEST

/* ---- prepare's reason -------------------------------------------------------- */

static int prepare_refuses(warden_params *p, char **ret_reason)
{
    if (strcmp(warden_params_string(p, "mode"), "off") == 0) {
        return -EIO; /* no reason given */
    }
    *ret_reason = strdup("config /etc/x.conf has no 'listen' line\n\x01 (see its manual)");
    return -EINVAL;
}

static const struct warden_agent prepare_agent = {
    .name = "prep",
    .shortdesc = "An agent whose prepare refuses",
    .params = mode_params,
    .prepare = prepare_refuses,
};

START_TEST(test_prepare_reason)
{
    static const char *const none[] = {NULL};
    char *err = NULL;
    ck_assert_int_eq(validate_sized(&prepare_agent, sizeof(prepare_agent),
                                    sizeof(struct warden_param), none, &err),
                     WARDEN_OCF_ERR_CONFIGURED);
    char *reason = exit_reason(err);
    ck_assert_ptr_nonnull(reason);
    /* Its own words, made one printable line. */
    ck_assert_str_eq(reason, "config /etc/x.conf has no 'listen' line?? (see its manual)");
    free(reason);
    free(err);
    static const char *const off[] = {"mode", "off", NULL};
    ck_assert_int_eq(validate_sized(&prepare_agent, sizeof(prepare_agent),
                                    sizeof(struct warden_param), off, &err),
                     WARDEN_OCF_ERR_GENERIC);
    reason = exit_reason(err);
    ck_assert_ptr_nonnull(reason);
    ck_assert_str_eq(reason, "cannot derive defaults: Input/output error");
    free(reason);
    free(err);
}
END_TEST

/* ---- check=agent --------------------------------------------------------------- */

static int probe_says_yes(const struct warden_agent_context *ctx, char **ret_reason)
{
    return 0;
}

static const struct warden_agent probing_agent = {
    .name = "prober",
    .shortdesc = "An agent with a probe of its own",
    .params = mode_params,
    .probe = probe_says_yes,
};

static const struct warden_agent plain_agent = {
    .name = "plain",
    .shortdesc = "An agent without a probe",
    .params = mode_params,
};

START_TEST(test_check_agent)
{
    static const char *const agent_check[] = {"check", "agent", NULL};
    static const char *const none[] = {NULL};
    char *err = NULL;
    /* Without a probe of its own, check=agent can never work: exit 6. */
    ck_assert_int_eq(validate_sized(&plain_agent, sizeof(plain_agent), sizeof(struct warden_param),
                                    agent_check, &err),
                     WARDEN_OCF_ERR_CONFIGURED);
    char *reason = exit_reason(err);
    ck_assert_ptr_nonnull(reason);
    ck_assert_ptr_nonnull(strstr(reason, "'check' is 'agent', but agent plain has no probe"));
    free(reason);
    free(err);
    /* With one, validate-all accepts it, given or as the default. */
    ck_assert_int_eq(validate_sized(&probing_agent, sizeof(probing_agent),
                                    sizeof(struct warden_param), agent_check, &err),
                     0);
    free(err);
    ck_assert_int_eq(validate_sized(&probing_agent, sizeof(probing_agent),
                                    sizeof(struct warden_param), none, &err),
                     0);
    free(err);
    static const char *const agentx[] = {"check", "agentx", NULL};
    ck_assert_int_eq(validate_sized(&probing_agent, sizeof(probing_agent),
                                    sizeof(struct warden_param), agentx, &err),
                     WARDEN_OCF_ERR_CONFIGURED);
    free(err);
}
END_TEST

START_TEST(test_check_agent_metadata)
{
    /* The agent's probe is its default check; an agent without one keeps
     * the common default. */
    clear_ocf_env();
    char *argv[] = {(char *)"prober", (char *)"meta-data", NULL};
    char *out = NULL, *err = NULL;
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fileno(f), STDOUT_FILENO);
    int rc = warden_agent_main(&probing_agent, 2, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    ck_assert_int_eq(rc, 0);
    long size = ftell(f);
    out = calloc(1, (size_t)size + 1);
    rewind(f);
    ck_assert_uint_eq(fread(out, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    const char *check = strstr(out, "<parameter name=\"check\"");
    ck_assert_ptr_nonnull(check);
    ck_assert_ptr_nonnull(strstr(check, "default=\"agent\""));
    ck_assert_ptr_null(strstr(check + 1, "<parameter name=\"check\""));
    free(out);
    free(err);
}
END_TEST

START_TEST(test_log_guard)
{
    /* The guard every test relies on sees an error logged from this
     * program's call sites (as the library's, linked in statically, are);
     * this test expects it, so the teardown lets it pass. */
    check_log_expect_errors();
    ck_assert_int_eq(check_log_error_count(), 0);
    qb_log(LOG_WARNING, "a warning is not counted");
    ck_assert_int_eq(check_log_error_count(), 0);
    qb_log(LOG_ERR, "an expected error");
    ck_assert_int_eq(check_log_error_count(), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("agent");
    add_tcase(s, test_ocf_rc_from_errno, 10);
    add_tcase(s, test_metadata_ocf10, 10);
    add_tcase(s, test_metadata_ocf11, 10);
    add_tcase(s, test_validate_times, 30);
    add_tcase(s, test_validate_paths, 30);
    add_tcase(s, test_validate_tls, 30);
    add_tcase(s, test_validate_reason_is_one_short_line, 30);
    add_tcase(s, test_usage, 10);
    add_tcase(s, test_table_older_agent, 30);
    add_tcase(s, test_table_newer_agent, 30);
    add_tcase(s, test_struct_copy, 10);
    add_tcase(s, test_prepare_reason, 30);
    add_tcase(s, test_check_agent, 30);
    add_tcase(s, test_check_agent_metadata, 10);
    add_tcase(s, test_log_guard, 10);
    return check_run("check_agent", s);
}
