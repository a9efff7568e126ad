/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service's environment: the parameters that shape the process the
 * service runs in (variables, limits, umask, nice, OOM score), its cgroup
 * (memory.max, cpu.weight) and its output. Parsed and checked here, so that
 * validate-all refuses what start would refuse, with the same reason. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cgroup-int.h"
#include "environ-int.h"
#include "output-int.h"
#include "param-int.h"
#include "proc-int.h"
#include "unit-int.h"
#include "util-int.h"
#include "warden/dump.h"

#define LIMIT_FORM "N (soft and hard), SOFT:HARD, or infinity for either, e.g. 65536 or 1024:65536"
#define SIZE_LIMIT_FORM                                                                            \
    "a size in bytes or with K, M, G or T (soft and hard), SOFT:HARD, or infinity for either, "    \
    "e.g. 0, 1G or 0:infinity"

static int parse_u64(const char *text, bool sizes, uint64_t *ret)
{
    if (streq(text, "infinity")) {
        *ret = RLIM_INFINITY;
        return 0;
    }
    if (!isdigit((unsigned char)*text)) {
        return -EINVAL;
    }
    if (sizes) {
        return warden_size_parse(text, ret);
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v >= RLIM_INFINITY) {
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

int warden__limit_parse(const char *text, bool sizes, struct rlimit *ret)
{
    if (isempty(text) || strlen(text) > 64) {
        return -EINVAL;
    }
    char buf[65];
    snprintf(buf, sizeof(buf), "%s", text);
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
    }
    uint64_t soft, hard;
    if (parse_u64(buf, sizes, &soft) < 0 || parse_u64(colon ? colon + 1 : buf, sizes, &hard) < 0 ||
        soft > hard) {
        return -EINVAL;
    }
    ret->rlim_cur = (rlim_t)soft;
    ret->rlim_max = (rlim_t)hard;
    return 0;
}

int warden__umask_parse(const char *text, mode_t *ret)
{
    if (isempty(text) || strlen(text) > 4 || strspn(text, "01234567") != strlen(text)) {
        return -EINVAL;
    }
    *ret = (mode_t)strtoul(text, NULL, 8);
    return *ret <= 0777 ? 0 : -EINVAL;
}

int warden__int_parse_within(const char *text, int min, int max, int *ret)
{
    if (isempty(text)) {
        return -EINVAL;
    }
    const char *digits = *text == '-' || *text == '+' ? text + 1 : text;
    if (!isdigit((unsigned char)*digits)) {
        return -EINVAL;
    }
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < min || v > max) {
        return -EINVAL;
    }
    *ret = (int)v;
    return 0;
}

static bool valid_name(const char *word, size_t len)
{
    if (len == 0 || !(isalpha((unsigned char)word[0]) || word[0] == '_')) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (!(isalnum((unsigned char)word[i]) || word[i] == '_')) {
            return false;
        }
    }
    return true;
}

int warden__environment_parse(const char *text, char ***ret)
{
    char **words = NULL;
    if (isempty(text) || warden__argv_split(text, &words) < 0) {
        return -EINVAL;
    }
    for (char **w = words; *w; w++) {
        const char *eq = strchr(*w, '=');
        if (!eq || !valid_name(*w, (size_t)(eq - *w))) {
            warden__strv_free(words);
            return -EINVAL;
        }
    }
    if (ret) {
        *ret = words;
    } else {
        warden__strv_free(words);
    }
    return 0;
}

int warden__memory_max_parse(const char *text, char ret[static 32])
{
    if (streq(text, "infinity")) {
        strcpy(ret, "max");
        return 0;
    }
    uint64_t bytes;
    if (warden_size_parse(text, &bytes) < 0) {
        return -EINVAL;
    }
    snprintf(ret, 32, "%" PRIu64, bytes);
    return 0;
}

/* ---- the table's checks ---------------------------------------------------- */

static int check_environment(const char *v)
{
    return warden__environment_parse(v, NULL);
}

static int check_limit(const char *v)
{
    struct rlimit l;
    return warden__limit_parse(v, false, &l);
}

static int check_size_limit(const char *v)
{
    struct rlimit l;
    return warden__limit_parse(v, true, &l);
}

static int check_umask(const char *v)
{
    mode_t m;
    return warden__umask_parse(v, &m);
}

static int check_nice(const char *v)
{
    int n;
    return warden__int_parse_within(v, -20, 19, &n);
}

static int check_oom(const char *v)
{
    int n;
    return warden__int_parse_within(v, -1000, 1000, &n);
}

static int check_memory_max(const char *v)
{
    char buf[32];
    return warden__memory_max_parse(v, buf);
}

static int check_cpu_weight(const char *v)
{
    int n;
    return warden__int_parse_within(v, 1, 10000, &n);
}

const struct warden_param warden__environ_params[] = {
    {"output", WARDEN_PARAM_STRING, 0, NULL, "Where the service's stdout and stderr go",
     "'syslog': each line to syslog (/dev/log, facility daemon, priority info) with the "
     "resource's name as identifier; 'journal': to systemd-journald, the same way (only where "
     "journald runs); 'file:PATH': appended to PATH (absolute; created 0640 and root's, never "
     "through a symlink, in a directory the service's user cannot write; safe to rotate with "
     "copytruncate); 'null': discarded. Default: journal on hosts booted with systemd, else "
     "syslog. The last lines a service printed before a failed start are in the start's "
     "reason.",
     WARDEN_OUTPUT_FORMS, warden__output_check},
    {"environment", WARDEN_PARAM_STRING, 0, NULL, "Environment variables of the service",
     "NAME=VALUE words, split and quoted as command is (e.g. LANG=C.UTF-8 'GREETING=hello "
     "world'), added to the service's environment (and to stop_command's); a name given here "
     "replaces the variable warden would pass.",
     "NAME=VALUE words, NAME of letters, digits and _ not starting with a digit, quoted with "
     "'...' or \"...\", e.g. LANG=C 'MOTD=hello world'",
     check_environment},
    {"limit_nofile", WARDEN_PARAM_STRING, 0, NULL, "Open files limit (RLIMIT_NOFILE)",
     "The service's limit of open files, set before it starts: N for both soft and hard, "
     "SOFT:HARD, or infinity (this node's fs.nr_open, the most the kernel allows).",
     LIMIT_FORM, check_limit},
    {"limit_core", WARDEN_PARAM_STRING, 0, NULL, "Core file size limit (RLIMIT_CORE)",
     "The largest core file the service may leave: a size for both soft and hard, SOFT:HARD, "
     "or infinity; 0 leaves none.",
     SIZE_LIMIT_FORM, check_size_limit},
    {"limit_nproc", WARDEN_PARAM_STRING, 0, NULL, "Process limit (RLIMIT_NPROC)",
     "How many processes the service's user may have: N for both soft and hard, SOFT:HARD, or "
     "infinity.",
     LIMIT_FORM, check_limit},
    {"umask", WARDEN_PARAM_STRING, 0, NULL, "The service's umask",
     "The file mode creation mask of the service, in octal (default: the agent's, 022 under "
     "Pacemaker).",
     "an octal mask from 0 to 0777, e.g. 027", check_umask},
    {"nice", WARDEN_PARAM_INTEGER, 0, NULL, "The service's nice value",
     "The service's scheduling priority, from -20 (most favoured) to 19.",
     "a whole number from -20 to 19", check_nice},
    {"oom_score_adjust", WARDEN_PARAM_INTEGER, 0, NULL, "The service's OOM score adjustment",
     "Written to the service's /proc/PID/oom_score_adj before it starts: -1000 keeps the OOM "
     "killer away from it, 1000 makes it the first choice.",
     "a whole number from -1000 to 1000", check_oom},
    {"memory_max", WARDEN_PARAM_STRING, WARDEN_PARAM_RELOADABLE, NULL,
     "Memory limit of the service's cgroup (memory.max)",
     "The most memory the service's whole process tree may use (cgroup v2 memory.max of its "
     "cgroup): past it the kernel reclaims, then OOM-kills in the service, which is a crash. "
     "infinity for no limit. On a systemd host, the MemoryMax= of the service's unit. Needs "
     "the memory controller (exit 5 where it is not available); a reload applies a new value "
     "to the running service.",
     "a size in bytes or with K, M, G or T, or infinity, e.g. 512M", check_memory_max},
    {"cpu_weight", WARDEN_PARAM_INTEGER, WARDEN_PARAM_RELOADABLE, NULL,
     "CPU weight of the service's cgroup (cpu.weight)",
     "The service's share of CPU time against other cgroups under contention, from 1 to 10000 "
     "(the kernel's default is 100). On a systemd host, the CPUWeight= of the service's unit. "
     "Needs the cpu controller (exit 5 where it is not available); a reload applies a new "
     "value to the running service.",
     "a whole number from 1 to 10000", check_cpu_weight},
    {NULL},
};

/* ---- from parameters -------------------------------------------------------- */

static const char *const limit_names[WARDEN_LIMIT_N] = {
    [WARDEN_LIMIT_NOFILE] = "limit_nofile",
    [WARDEN_LIMIT_CORE] = "limit_core",
    [WARDEN_LIMIT_NPROC] = "limit_nproc",
};

static int bad_value(char **ret_reason, const char *name, const char *value, const char *form)
{
    char shown[WARDEN_SHOWN_SIZE];
    return warden__set_reason(ret_reason, -EINVAL,
                              "parameter '%s' has invalid value '%s': expected %s", name,
                              warden__shown(value, shown), form);
}

int warden__environ_from_params(const warden_params *p, struct warden_environ *ret,
                                char ***ret_extra, char **ret_reason)
{
    struct warden_environ env = {0};
    char **extra = NULL;
    const char *v;
    for (int i = 0; i < WARDEN_LIMIT_N; i++) {
        v = warden_params_string(p, limit_names[i]);
        if (isempty(v)) {
            continue;
        }
        bool sizes = i == WARDEN_LIMIT_CORE;
        if (warden__limit_parse(v, sizes, &env.limit[i]) < 0) {
            return bad_value(ret_reason, limit_names[i], v, sizes ? SIZE_LIMIT_FORM : LIMIT_FORM);
        }
        env.set_limit[i] = true;
    }
    v = warden_params_string(p, "umask");
    if (!isempty(v)) {
        if (warden__umask_parse(v, &env.umask) < 0) {
            return bad_value(ret_reason, "umask", v, "an octal mask from 0 to 0777, e.g. 027");
        }
        env.set_umask = true;
    }
    v = warden_params_string(p, "nice");
    if (!isempty(v)) {
        if (warden__int_parse_within(v, -20, 19, &env.nice) < 0) {
            return bad_value(ret_reason, "nice", v, "a whole number from -20 to 19");
        }
        env.set_nice = true;
    }
    v = warden_params_string(p, "oom_score_adjust");
    if (!isempty(v)) {
        if (warden__int_parse_within(v, -1000, 1000, &env.oom_score_adjust) < 0) {
            return bad_value(ret_reason, "oom_score_adjust", v,
                             "a whole number from -1000 to 1000");
        }
        env.set_oom_score_adjust = true;
    }
    v = warden_params_string(p, "environment");
    if (!isempty(v) && warden__environment_parse(v, &extra) < 0) {
        return bad_value(ret_reason, "environment", v,
                         "NAME=VALUE words, NAME of letters, digits and _ not starting with a "
                         "digit, quoted with '...' or \"...\"");
    }
    *ret = env;
    *ret_extra = extra;
    return 0;
}

int warden__environ_check_node(struct warden_environ *env, char **ret_reason)
{
    if (!env->set_limit[WARDEN_LIMIT_NOFILE]) {
        return 0;
    }
    /* setrlimit refuses more open files than fs.nr_open, in the child,
     * where no reason can be given. */
    _cleanup_free_ char *text = NULL;
    if (warden__read_file("/proc/sys/fs/nr_open", 64, &text) < 0) {
        return 0;
    }
    unsigned long long nr_open = strtoull(text, NULL, 10);
    struct rlimit *l = &env->limit[WARDEN_LIMIT_NOFILE];
    /* infinity is the most the kernel allows, as systemd has it. */
    if (l->rlim_cur == RLIM_INFINITY) {
        l->rlim_cur = (rlim_t)nr_open;
    }
    if (l->rlim_max == RLIM_INFINITY) {
        l->rlim_max = (rlim_t)nr_open;
    }
    if (l->rlim_max != RLIM_INFINITY && (unsigned long long)l->rlim_max > nr_open) {
        return warden__set_reason(ret_reason, -EINVAL,
                                  "parameter 'limit_nofile': %llu is more than this node's "
                                  "fs.nr_open (%llu): expected %s, at most %llu",
                                  (unsigned long long)l->rlim_max, nr_open, LIMIT_FORM, nr_open);
    }
    return 0;
}

/* ---- the cgroup ----------------------------------------------------------- */

struct cgroup_setting {
    const char *param;
    const char *controller;
    const char *file;
    const char *reset; /* the kernel's default */
};

static const struct cgroup_setting cgroup_settings[] = {
    {"memory_max", "memory", "memory.max", "max"},
    {"cpu_weight", "cpu", "cpu.weight", "100"},
};

static int setting_value(const warden_params *p, const struct cgroup_setting *c, char buf[32])
{
    const char *v = warden_params_string(p, c->param);
    if (isempty(v)) {
        return 0;
    }
    if (streq(c->param, "memory_max")) {
        return warden__memory_max_parse(v, buf) < 0 ? -EINVAL : 1;
    }
    int n;
    if (warden__int_parse_within(v, 1, 10000, &n) < 0) {
        return -EINVAL;
    }
    snprintf(buf, 32, "%d", n);
    return 1;
}

static int unavailable(char **ret_reason, const struct cgroup_setting *c, const char *root,
                       const char *why)
{
    return warden__set_reason(ret_reason, -ENOPKG,
                              "parameter '%s' needs the cgroup v2 %s controller, which is not "
                              "available on this node: %s%s",
                              c->param, c->controller, why, root ? root : "");
}

/* The controller is in the cgroup v2 root's cgroup.controllers, so that
 * warden may enable it for its own subtree. */
static int check_controller(const struct cgroup_setting *c, char **ret_reason)
{
    /* Tests only, on a host whose memory and cpu controllers are bound to
     * cgroup v1 (no v2 controller to have): a unit takes the properties,
     * systemd keeps them, and nothing enforces them. */
    const char *unchecked = getenv("WARDEN_UNCHECKED_CONTROLLERS");
    if (unchecked && streq(unchecked, "1") && warden__unit_enabled() > 0) {
        return 0;
    }
    _cleanup_free_ char *root = NULL;
    if (warden__cgroup_root(&root) < 0) {
        return unavailable(ret_reason, c, NULL, "no cgroup v2 hierarchy");
    }
    int r = warden__cgroup_controller_available(root, c->controller);
    if (r < 0) {
        return unavailable(ret_reason, c, root, "not listed in cgroup.controllers of ");
    }
    return 0;
}

int warden__environ_check_cgroup(const warden_params *p, char **ret_reason)
{
    for (size_t i = 0; i < ELEMENTSOF(cgroup_settings); i++) {
        char value[32];
        int r = setting_value(p, &cgroup_settings[i], value);
        if (r < 0) {
            return r;
        }
        if (r > 0 && (r = check_controller(&cgroup_settings[i], ret_reason)) < 0) {
            return r;
        }
    }
    return 0;
}

int warden__environ_unit_resources(const warden_params *p, struct warden_unit_resources *ret)
{
    uint64_t value[ELEMENTSOF(cgroup_settings)];
    for (size_t i = 0; i < ELEMENTSOF(cgroup_settings); i++) {
        char text[32];
        int r = setting_value(p, &cgroup_settings[i], text);
        if (r < 0) {
            return r;
        }
        /* "max" (infinity) is systemd's UINT64_MAX, as unset. */
        value[i] = r > 0 && !streq(text, "max") ? strtoull(text, NULL, 10) : WARDEN_UNIT_UNSET;
    }
    *ret = (struct warden_unit_resources){.memory_max = value[0], .cpu_weight = value[1]};
    return 0;
}

int warden__environ_apply_cgroup(const warden_params *p, const char *cgroup, bool reset,
                                 char **ret_reason)
{
    for (size_t i = 0; i < ELEMENTSOF(cgroup_settings); i++) {
        const struct cgroup_setting *c = &cgroup_settings[i];
        char value[32];
        int r = setting_value(p, c, value);
        if (r < 0) {
            return r;
        }
        if (r == 0) {
            /* Unset: at start, the kernel's default is already there; a
             * reload puts it back where the controller is enabled. */
            if (reset && cgroup) {
                _cleanup_free_ char *file = warden__strdup_printf("%s/%s", cgroup, c->file);
                if (file && access(file, F_OK) == 0) {
                    warden__write_file(file, c->reset);
                }
            }
            continue;
        }
        if (!cgroup) {
            return unavailable(ret_reason, c, NULL, "the service has no cgroup v2 cgroup");
        }
        r = warden__cgroup_set(cgroup, c->controller, c->file, value);
        if (r < 0) {
            if (r == -ENOPKG) {
                return unavailable(ret_reason, c, cgroup,
                                   "it cannot be enabled for the parent of ");
            }
            return warden__set_reason(ret_reason, r, "cannot set %s of %s to %s: %s", c->file,
                                      cgroup, value, strerror(-r));
        }
    }
    return 0;
}
