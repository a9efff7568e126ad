/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource instance names in paths, cgroups, IPC and logs (see
 * instance-int.h). libc only: the agent's front links this file. */
#include <inttypes.h>
#include <stdio.h>

#include "instance-int.h"
#include "util-int.h"

/* '~', the 16 hex digits of the hash. */
#define HASH_SUFFIX_LEN 17

uint64_t warden__instance_hash(const char *text)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        h = (h ^ *c) * UINT64_C(1099511628211);
    }
    return h;
}

static bool unsafe_byte(unsigned char c, const char *avoid)
{
    /* Control bytes: a newline would split the state file's "cgroup" line,
     * and the kernel refuses one in a cgroup name. '~' marks a shortened
     * name. */
    return c < 0x20 || c == 0x7f || c == '/' || c == '~' || (avoid && strchr(avoid, c));
}

bool warden__instance_shorten(const char *text, size_t max, const char *avoid, char *buf)
{
    size_t len = strlen(text);
    bool keep = len <= max && text[0] != '.';
    for (size_t i = 0; keep && i < len; i++) {
        keep = !unsafe_byte((unsigned char)text[i], avoid);
    }
    if (keep) {
        memcpy(buf, text, len + 1);
        return true;
    }
    size_t n = len < max - HASH_SUFFIX_LEN ? len : max - HASH_SUFFIX_LEN;
    /* Cut before a character, not inside one: back off over at most three
     * UTF-8 continuation bytes. */
    for (int back = 0; back < 3 && n > 0 && n < len && ((unsigned char)text[n] & 0xc0) == 0x80;
         back++) {
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        bool bad = unsafe_byte((unsigned char)text[i], avoid) || (i == 0 && text[0] == '.');
        buf[i] = bad ? '_' : text[i];
    }
    snprintf(buf + n, HASH_SUFFIX_LEN + 1, "~%016" PRIx64, warden__instance_hash(text));
    return false;
}

int warden__instance_file_name(const char *instance, char ret[static WARDEN_INSTANCE_FILE_SIZE])
{
    if (isempty(instance)) {
        return -EINVAL;
    }
    warden__instance_shorten(instance, WARDEN_INSTANCE_FILE_MAX, NULL, ret);
    return 0;
}

/* Whether a name would clash with what the kernel puts in every cgroup
 * directory, now or with a controller enabled later: "cgroup.*", "cpu.*",
 * "memory.*", ... and cgroup v1's few files without a dot. */
static bool cgroup_needs_escape(const char *name)
{
    static const char *const files[] = {"tasks", "notify_on_release", "release_agent"};
    static const char *const prefixes[] = {
        "cgroup",  "cpu",     "cpuacct", "cpuset",  "io",       "blkio",
        "memory",  "devices", "freezer", "net_cls", "net_prio", "perf_event",
        "hugetlb", "pids",    "rdma",    "misc",    "irq",      "dmem",
    };
    if (name[0] == '_' || name[0] == '.') {
        return true;
    }
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        if (streq(name, files[i])) {
            return true;
        }
    }
    const char *dot = strchr(name, '.');
    for (size_t i = 0; dot && i < ELEMENTSOF(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if ((size_t)(dot - name) == n && strncmp(name, prefixes[i], n) == 0) {
            return true;
        }
    }
    return false;
}

int warden__instance_cgroup_name(const char *instance, char ret[static WARDEN_INSTANCE_CGROUP_SIZE])
{
    char name[WARDEN_INSTANCE_FILE_SIZE];
    int r = warden__instance_file_name(instance, name);
    if (r < 0) {
        return r;
    }
    /* '_' in front, and so on every name that begins with one: two
     * instances never share a cgroup. */
    snprintf(ret, WARDEN_INSTANCE_CGROUP_SIZE, "%s%s", cgroup_needs_escape(name) ? "_" : "", name);
    return 0;
}

/* systemd-escape's escaping of a unit name part (unit_name_escape()); out
 * has room for 4 bytes per input byte. Returns the length written. */
static size_t unit_escape(const char *text, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        bool keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == ':' || *c == '_' ||
                    (*c == '.' && c != (const unsigned char *)text);
        if (keep) {
            out[n++] = (char)*c;
        } else {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[*c >> 4];
            out[n++] = hex[*c & 15];
        }
    }
    out[n] = '\0';
    return n;
}

/* The escaped part of a unit name: "warden-" and ".scope" around it. */
#define UNIT_PART_MAX (WARDEN_INSTANCE_UNIT_SIZE - 1 - sizeof("warden-.scope") + 1)
/* A name of this many bytes fits escaped whatever its bytes (4 each). */
#define UNIT_SHORT_MAX 60

int warden__instance_unit_name(const char *instance, char ret[static WARDEN_INSTANCE_UNIT_SIZE])
{
    char name[WARDEN_INSTANCE_FILE_SIZE];
    int r = warden__instance_file_name(instance, name);
    if (r < 0) {
        return r;
    }
    char escaped[4 * WARDEN_INSTANCE_FILE_MAX + 1];
    if (unit_escape(name, escaped) > UNIT_PART_MAX) {
        /* Shortened names end in '~' and the hash of the whole name, and a
         * kept name holds no '~': the two forms never meet. */
        char shorter[UNIT_SHORT_MAX + 1];
        warden__instance_shorten(instance, UNIT_SHORT_MAX, NULL, shorter);
        unit_escape(shorter, escaped);
    }
    snprintf(ret, WARDEN_INSTANCE_UNIT_SIZE, "warden-%.*s.scope", (int)UNIT_PART_MAX, escaped);
    return 0;
}

int warden__instance_ipc_name(const char *instance, char ret[static WARDEN_INSTANCE_IPC_SIZE])
{
    if (isempty(instance)) {
        return -EINVAL;
    }
    char name[WARDEN_INSTANCE_IPC_MAX + 1];
    warden__instance_shorten(instance, WARDEN_INSTANCE_IPC_MAX, NULL, name);
    snprintf(ret, WARDEN_INSTANCE_IPC_SIZE, "warden-%s", name);
    return 0;
}

void warden__instance_log_name(const char *text, char ret[static WARDEN_INSTANCE_LOG_SIZE])
{
    if (isempty(text)) {
        snprintf(ret, WARDEN_INSTANCE_LOG_SIZE, "-");
        return;
    }
    warden__instance_shorten(text, WARDEN_INSTANCE_LOG_MAX, "%", ret);
}
