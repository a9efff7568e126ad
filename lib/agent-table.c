/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's table as the library completes it (the agent's room:
 * agent-int.h): the parameters every agent inherits and how each value is
 * checked (a bad one gets a reason and exit 6 before any action runs), the
 * `check` of an agent with a probe of its own, the normalisation of an
 * agent's table built against another libwarden, and the meta-data and
 * usage that describe the result. */
#include <stdio.h>

#include "agent-int.h"
#include "param-int.h"
#include "util-int.h"
#include "warden/agent.h"
#include "warden/dump.h"
#include "warden/probe.h"

static int check_probe_spec(const char *value)
{
    return warden_probe_check_spec(value);
}

static int check_positive(const char *value)
{
    return strtoll(value, NULL, 10) >= 1 ? 0 : -EINVAL;
}

static int check_size(const char *value)
{
    uint64_t size;
    return warden_size_parse(value, &size);
}

static int check_not_negative(const char *value)
{
    return strtoll(value, NULL, 10) >= 0 ? 0 : -EINVAL;
}

/* Every time is bounded here, where a bad value gets a reason and exit 6:
 * so nothing downstream can wrap (interval + timeout + margin in a verdict,
 * the microseconds to nanoseconds of libqb's timers, timeout + grace) or
 * spin (an interval of 1us), and no saturating arithmetic is needed. */
#define TIME_MAX (24 * 3600 * WARDEN_USEC_PER_SEC)
#define TIME_FORMS                                                                                 \
    "e.g. 500ms, 10s, 2min (a whole number with unit ms, s, min or h; a bare number is seconds)"

static int time_within(const char *value, warden_usec_t min, warden_usec_t max)
{
    warden_usec_t usec = 0;
    return warden_time_parse(value, &usec) == 0 && usec >= min && usec <= max ? 0 : -EINVAL;
}

/* 0 turns it off. */
static int check_slow_threshold(const char *value)
{
    warden_usec_t usec = 0;
    return warden_time_parse(value, &usec) == 0 && usec == 0
               ? 0
               : time_within(value, WARDEN_USEC_PER_MSEC, TIME_MAX);
}

static int check_interval(const char *value)
{
    return time_within(value, 100 * WARDEN_USEC_PER_MSEC, TIME_MAX);
}

static int check_timeout(const char *value)
{
    return time_within(value, 10 * WARDEN_USEC_PER_MSEC, TIME_MAX);
}

/* The path of a file: absolute, naming something below / (not a directory:
 * no trailing slash, not "." or ".."), within PATH_MAX, and without control
 * characters (it appears in reasons and logs). */
static bool printable_path(const char *value)
{
    if (value[0] != '/' || strlen(value) >= 4096) {
        return false;
    }
    for (const char *c = value; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return false;
        }
    }
    return true;
}

static int check_dir_path(const char *value)
{
    return printable_path(value) ? 0 : -EINVAL;
}

static int check_file_path(const char *value)
{
    const char *last = strrchr(value, '/');
    return printable_path(value) && last[1] && !streq(last, "/.") && !streq(last, "/..") ? 0
                                                                                         : -EINVAL;
}

static int check_warn_days(const char *value)
{
    size_t n = strspn(value, "0123456789");
    return n > 0 && n <= 4 && !value[n] && strtol(value, NULL, 10) <= 3650 ? 0 : -EINVAL;
}

static const char *const dump_types[] = {"stacks", "core", NULL};
static const char *const ready_forms[] = {"check", "notify", NULL};
static const char *const notify_access_forms[] = {"main", "all", NULL};

/* Parameters every agent has; an agent may redeclare one to change it. */
const struct warden_param warden__agent_common_params[] = {
    {"command", WARDEN_PARAM_STRING, WARDEN_PARAM_REQUIRED, NULL, "Command to run the service",
     "The service's command line, run in the foreground without a shell: words split on blanks, "
     "'...' and \"...\" quote, no expansion. Set shell=true to run it through /bin/sh -c.",
     "a program and its arguments, e.g. /usr/sbin/mydaemon -f", NULL},
    {"shell", WARDEN_PARAM_BOOLEAN, 0, "false", "Run command through /bin/sh -c",
     "Run command through /bin/sh -c, for pipelines, redirections and variables.", NULL, NULL},
    {"pidfile", WARDEN_PARAM_STRING, WARDEN_PARAM_UNIQUE, NULL, "Pidfile of a daemonizing service",
     "For a service that forks into the background: the file in which it writes its pid. The "
     "process it names (it must belong to the service) is then the main process.",
     "the absolute path of a file, e.g. /run/mydaemon/mydaemon.pid", check_file_path},
    {"user", WARDEN_PARAM_STRING, 0, NULL, "Run the service as this user",
     "Run the service, stop_command and exec: checks as this user, with its groups.", "a user name",
     NULL},
    {"workdir", WARDEN_PARAM_STRING, 0, NULL, "Working directory",
     "The service's working directory (default /).", "an existing directory", NULL},
    {"stop_command", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, NULL,
     "Command for a graceful stop",
     "Run through /bin/sh -c instead of sending SIGTERM, for a graceful stop. Whatever is left "
     "of the service when pending_timeout nears is killed with SIGKILL.",
     "a shell command", NULL},
    {"pending_timeout", WARDEN_PARAM_TIME, WARDEN_PARAM_RELOADABLE, NULL,
     "Deadline of start and stop (EXRES PendingTimeOut)",
     "How long start and stop may take before warden gives up on them: a start that runs over "
     "is undone and fails; a stop kills the service's whole process tree before it. Default: "
     "80% of the operation's timeout, or 16s when none is given; a value past the operation's "
     "timeout is lowered to that default, so warden always answers before Pacemaker would kill "
     "it.",
     "a time from 10ms to 24h, " TIME_FORMS, check_timeout},
    {"check", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "process",
     "Health probe (EXRES IsAlive)",
     "How to tell the service is healthy: 'process' (its main process runs), 'tcp:HOST:PORT' (a "
     "connection is accepted), 'exec:COMMAND' (the command exits 0), or a dialogue in the "
     "service's protocol: 'smtp:HOST:PORT' (greeting, EHLO, NOOP, QUIT), 'imap:HOST:PORT' "
     "(greeting, CAPABILITY, NOOP, LOGOUT), 'pop3:HOST:PORT' (greeting, CAPA, QUIT), "
     "'http:HOST:PORT/PATH' (GET, a 2xx or 3xx status), or the same over TLS: "
     "'smtps:HOST:PORT', 'imaps:HOST:PORT', 'pop3s:HOST:PORT', 'https:HOST:PORT/PATH' (the "
     "certificate as tls_verify and tls_warn_days say). A server that accepts a connection "
     "but does not answer fails a protocol check: it is hung.",
     WARDEN_PROBE_FORMS, check_probe_spec},
    {"tls_verify", WARDEN_PARAM_BOOLEAN, WARDEN_PARAM_RELOADABLE, "false",
     "Verify the certificate of a TLS check",
     "For a check over TLS (smtps:, imaps:, pop3s:, https:, or STARTTLS with check_tls): verify "
     "the server's certificate chain against the system's CAs (or tls_ca_file) and that it "
     "names HOST; a certificate that fails fails the check. With false, any certificate is "
     "taken, but an expired one still fails the check.",
     NULL, NULL},
    {"tls_ca_file", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE | WARDEN_PARAM_NODE_PATH, NULL,
     "CA certificates for tls_verify",
     "A PEM file of the CA certificates that tls_verify trusts, instead of the system's. Read "
     "by root: a regular file of at most 4 MiB, reached without any symlink on its path.",
     "the absolute path of a file, e.g. /etc/warden/mail-ca.pem", check_file_path},
    {"tls_warn_days", WARDEN_PARAM_INTEGER, WARDEN_PARAM_RELOADABLE, "14",
     "Days before a certificate's expiry that monitor warns",
     "For a check over TLS: a server certificate that expires within this many days makes "
     "monitor answer degraded (OCF 1.1 rc 190) with a reason naming the date, without any "
     "recovery; 0 never warns. An expired certificate fails the check.",
     "a whole number of days, 0-3650", check_warn_days},
    {"check_timeout", WARDEN_PARAM_TIME, WARDEN_PARAM_RELOADABLE, "5s",
     "Timeout of one health probe",
     "A probe that has not answered within this time counts as failed: the service is hung.",
     "a time from 10ms to 24h, " TIME_FORMS, check_timeout},
    {"check_interval", WARDEN_PARAM_TIME, WARDEN_PARAM_RELOADABLE, "10s",
     "How often the keeper probes (EXRES: every 10 s)",
     "The keeper, a small process started with the service, runs the check this often and "
     "caches the verdict; a monitor at depth 0 answers from that cache at once. A crash of the "
     "main process is known at once, whatever the interval.",
     "a time from 100ms to 24h, " TIME_FORMS, check_interval},
    {"slow_threshold", WARDEN_PARAM_TIME, WARDEN_PARAM_RELOADABLE, "0",
     "Median check latency that makes the service degraded",
     "When the median latency of the keeper's last 20 checks (once 5 are in) passes this, "
     "monitor answers OCF's degraded (190) with a reason such as 'imap: median check 850ms "
     "over the last 20, threshold 500ms': Pacemaker shows it, and neither recovers nor counts "
     "it. Monitor answers 0 again once the median is back at or below it. Failed and hung "
     "checks count with the time they took. 0 (the default) turns it off.",
     "0 (off), or a time from 1ms to 24h, " TIME_FORMS, check_slow_threshold},
    {"failure_threshold", WARDEN_PARAM_INTEGER, WARDEN_PARAM_RELOADABLE, "1",
     "Failed checks in a row that make a failure",
     "How many consecutive failed or hung checks make the resource failed.",
     "a whole number, 1 or more", check_positive},
    {"notify_cluster", WARDEN_PARAM_BOOLEAN, WARDEN_PARAM_RELOADABLE, "true",
     "Push failures to Pacemaker at once",
     "When the keeper sees a failure it tells the local Pacemaker controller at once (as "
     "crm_resource --fail does), so recovery does not wait for the next monitor. With false, "
     "Pacemaker learns of it at the next monitor.",
     NULL, NULL},
    {"depends_on", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, NULL,
     "Pidfile of a process this service depends on",
     "When the process this pidfile names restarts under the service (its pid and start time "
     "change), the resource fails with 'dependency restarted', so that Pacemaker restarts it "
     "and it renews what it held of the dependency.",
     "the absolute path of a file, e.g. /run/mydep/mydep.pid", check_file_path},
    {"dump_on_failure", WARDEN_PARAM_BOOLEAN, WARDEN_PARAM_RELOADABLE, "false",
     "Dump the service before recovering it (EXRES DumpProcessOnIsAliveFailure)",
     "Before a failure is reported, dump the service's processes for diagnosis, without "
     "killing them: on a failed or hung check (before the keeper pushes the failure; within "
     "one check_interval), on a start that runs over pending_timeout (before it is undone), on "
     "a stop that must escalate to SIGKILL (before the kill). Never for a crash: nothing is "
     "left to dump. The exit reason and the log say where the dump is.",
     NULL, NULL},
    {"dump_dir", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "/var/lib/warden/dumps",
     "Where dumps go (EXRES ProcessDumpDirPath)",
     "Created with mode 0700 if missing; files are written 0600 and never through a symlink "
     "(dumps hold what the service had in memory). Named "
     "<instance>-<UTC time>-<reason>.stacks and .core.<PID>.",
     "an absolute path, e.g. /var/lib/warden/dumps", check_dir_path},
    {"dump_type", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "stacks", "What a dump holds",
     "'stacks': one text file with, per thread of every process of the service, the kernel "
     "stack, wchan and syscall, and the user-space backtrace from eu-stack (elfutils) when "
     "installed. 'core': that, and a core of each process from gcore (gdb) when installed; "
     "gcore stops the process while it writes (about 3.5 s per GiB), so a core is only begun "
     "when it fits the time left.",
     "stacks or core", NULL, dump_types},
    {"dump_keep", WARDEN_PARAM_INTEGER, WARDEN_PARAM_RELOADABLE, "5", "Dumps kept per resource",
     "The newest N dumps of this resource are kept, older ones removed; 0 keeps all.",
     "a whole number, 0 or more", check_not_negative},
    {"dump_max_bytes", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, "2G",
     "Largest total size of the cores of one dump",
     "A core that would take the dump past this is not written.",
     "a size in bytes, or with K, M or G, e.g. 512M", check_size},
    {"ready", WARDEN_PARAM_STRING, 0, "check", "When a start is complete",
     "'check': when the check passes. 'notify': when the service says READY=1 on its "
     "NOTIFY_SOCKET (the sd_notify protocol, as systemd's Type=notify), whatever the check "
     "says meanwhile; one that does not within pending_timeout fails, with its last STATUS= in "
     "the reason, and is undone. EXTEND_TIMEOUT_USEC= may extend that wait, but never into the "
     "last fifth of the operation's timeout, which the undo needs.",
     "check or notify", NULL, ready_forms},
    {"watchdog", WARDEN_PARAM_TIME, 0, NULL, "The service's watchdog (sd_notify WATCHDOG=1)",
     "The service gets WATCHDOG_USEC and WATCHDOG_PID (as from systemd's WatchdogSec=) and a "
     "NOTIFY_SOCKET, and must send WATCHDOG=1 at least this often once started: a service "
     "that does not is hung, a failure the keeper finds without any probe (dumped when "
     "dump_on_failure is set, and pushed as any failure). WATCHDOG=trigger is a hang at once.",
     "a time from 100ms to 24h, " TIME_FORMS, check_interval},
    {"notify_access", WARDEN_PARAM_STRING, 0, "main", "Who may speak on NOTIFY_SOCKET",
     "As systemd's NotifyAccess=: 'main', only the service's main process is heard; 'all', "
     "any process of the service's tree. Messages from any other process are dropped. Set, it "
     "also gives the service a NOTIFY_SOCKET with ready=check (for STATUS= and MAINPID=).",
     "main or all", NULL, notify_access_forms},
    {NULL},
};

/* The common `check` of an agent that has a probe of its own: that probe
 * is its default. */
static const struct warden_param agent_check_param = {
    "check",
    WARDEN_PARAM_STRING,
    WARDEN_PARAM_RELOADABLE,
    "agent",
    "Health probe (EXRES IsAlive)",
    "How to tell the service is healthy: 'agent' (the default: this agent's own probe of the "
    "service), 'process' (its main process runs), 'tcp:HOST:PORT' (a connection is accepted), "
    "'exec:COMMAND' (the command exits 0), or a dialogue in a protocol warden speaks: "
    "'smtp:HOST:PORT', 'imap:HOST:PORT', 'pop3:HOST:PORT', 'http:HOST:PORT/PATH', or over TLS "
    "'smtps:', 'imaps:', 'pop3s:', 'https:'. A server that accepts a connection but does not "
    "answer fails a protocol check: it is hung.",
    "agent, " WARDEN_PROBE_FORMS,
    check_probe_spec};

/* The agent's tables as this library knows them (agent.h, "Extensibility"):
 * the fields within the sizes the agent was compiled with, zero-extended;
 * unknown fields of a newer agent must be unset (-E2BIG). Parameters are
 * copied one by one, at the agent's stride. An agent with a probe of its
 * own and no `check` of its own gets agent_check_param. */
int warden__agent_normalize(const struct warden_agent *in, size_t agent_size, size_t param_size,
                            struct warden_agent *out, struct warden_param **ret_params)
{
    if (!in || agent_size < sizeof(in->name) || (param_size && param_size < sizeof(char *))) {
        return -EINVAL;
    }
    int r = warden__struct_copy(out, sizeof(*out), in, agent_size);
    if (r < 0 || !out->name) {
        return r < 0 ? r : -EINVAL;
    }
    size_t n = 0;
    bool has_check = false;
    const unsigned char *at = (const unsigned char *)out->params;
    for (; at && *(const char *const *)(at + n * param_size); n++) {
        has_check = has_check || streq(*(const char *const *)(at + n * param_size), "check");
    }
    bool add_check = out->probe && !has_check;
    struct warden_param *params = calloc(n + 2, sizeof(*params));
    if (!params) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        r = warden__struct_copy(&params[i], sizeof(params[i]), at + i * param_size, param_size);
        if (r < 0) {
            free(params);
            return r;
        }
    }
    if (add_check) {
        params[n] = agent_check_param;
    }
    out->params = params;
    *ret_params = params;
    return 0;
}

/* ---- meta-data ----------------------------------------------------------- */

static bool caller_speaks_ocf11(void)
{
    const char *major = getenv("OCF_RA_VERSION_MAJOR");
    const char *minor = getenv("OCF_RA_VERSION_MINOR");
    if (isempty(major) || isempty(minor)) {
        return false;
    }
    int ma = atoi(major), mi = atoi(minor);
    return ma > 1 || (ma == 1 && mi >= 1);
}

void warden__agent_print_metadata(const struct warden_agent *a,
                                  const struct warden_param *const *table, size_t n_params,
                                  FILE *out)
{
    bool ocf11 = caller_speaks_ocf11();
    fputs("<?xml version=\"1.0\"?>\n", out);
    if (!ocf11) {
        /* Old callers (ocf-tester) validate against ra-api-1.dtd. */
        fputs("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n", out);
    }
    fprintf(out, "<resource-agent name=\"%s\" version=\"%s\">\n<version>%s</version>\n", a->name,
            a->version ? a->version : "1.0", ocf11 ? "1.1" : "1.0");
    fputs("<longdesc lang=\"en\">", out);
    warden__xml_escape(out, a->longdesc ? a->longdesc : a->shortdesc);
    fputs("</longdesc>\n<shortdesc lang=\"en\">", out);
    warden__xml_escape(out, a->shortdesc);
    fputs("</shortdesc>\n", out);
    warden__params_print_metadata(table, n_params, ocf11, out);
    fputs("<actions>\n"
          "<action name=\"start\" timeout=\"20s\"/>\n"
          "<action name=\"stop\" timeout=\"20s\"/>\n"
          "<action name=\"monitor\" timeout=\"20s\" interval=\"10s\" depth=\"0\"/>\n"
          "<action name=\"monitor\" timeout=\"20s\" interval=\"60s\" depth=\"10\"/>\n"
          "<action name=\"meta-data\" timeout=\"5s\"/>\n"
          "<action name=\"validate-all\" timeout=\"20s\"/>\n",
          out);
    if (ocf11) {
        fputs("<action name=\"reload-agent\" timeout=\"20s\"/>\n", out);
    }
    fputs("</actions>\n</resource-agent>\n", out);
}

void warden__agent_usage(const struct warden_agent *a, FILE *out)
{
    fprintf(out,
            "usage: %s {start|stop|monitor|meta-data|validate-all|reload-agent}\n"
            "ocf:warden:%s, an OCF resource agent (see its meta-data). Parameters come from\n"
            "OCF_RESKEY_<name> in the environment, as Pacemaker sets them.\n",
            a->name, a->name);
}
