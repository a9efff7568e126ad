/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource instance names in paths, cgroups, IPC names and log formats
 * (lib/instance.c): short safe names kept, long ones shortened with a hash
 * of the whole name, no '/', no leading '.', no clash with the kernel's
 * cgroup interface files, no two names on one path. */
#include <sys/stat.h>

#include "cgroup-int.h"
#include "check_common.h"
#include "instance-int.h"
#include "util-int.h"

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(ul * times + tl + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < times; i++) {
        memcpy(s + i * ul, unit, ul);
    }
    memcpy(s + ul * times, tail, tl + 1);
    return s;
}

/* Ends in '~' and 16 lowercase hex digits. */
static bool has_hash_suffix(const char *s)
{
    size_t n = strlen(s);
    if (n < 17 || s[n - 17] != '~') {
        return false;
    }
    return strspn(s + n - 16, "0123456789abcdef") == 16;
}

/* Well-formed UTF-8: no character cut in two. */
static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int more = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : 3;
        if ((*p & 0xc0) == 0x80 || *p >= 0xf8) {
            return false;
        }
        p++;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80) {
                return false;
            }
        }
    }
    return true;
}

START_TEST(test_hash_is_fnv1a_64)
{
    /* The published FNV-1a 64-bit test vectors. */
    ck_assert_uint_eq(warden__instance_hash(""), UINT64_C(0xcbf29ce484222325));
    ck_assert_uint_eq(warden__instance_hash("a"), UINT64_C(0xaf63dc4c8601ec8c));
    ck_assert_uint_eq(warden__instance_hash("foobar"), UINT64_C(0x85944171f73967e8));
}
END_TEST

START_TEST(test_short_safe_names_kept)
{
    /* What operators and the cluster tests expect to find by hand:
     * /run/warden/<name>, <cgroup2>/warden/<name>, warden-<name>. */
    char *hundred = repeat("x", 100, "");
    const char *const kept[] = {
        "web", "t-daemon",     "d-stacks", "web:0",    "web:12",  "a.b",       "web.1", "-lead",
        "x%y", "wébserveur-ü", "服务",     "cpuweb.x", "web.cpu", "cgroups.x", hundred,
    };
    for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
        char file[WARDEN_INSTANCE_FILE_SIZE], cg[WARDEN_INSTANCE_CGROUP_SIZE];
        ck_assert_int_eq(warden__instance_file_name(kept[i], file), 0);
        ck_assert_str_eq(file, kept[i]);
        ck_assert_int_eq(warden__instance_cgroup_name(kept[i], cg), 0);
        ck_assert_str_eq(cg, kept[i]);
    }
    char ipc[WARDEN_INSTANCE_IPC_SIZE];
    ck_assert_int_eq(warden__instance_ipc_name("web:0", ipc), 0);
    ck_assert_str_eq(ipc, "warden-web:0");
    char *eighty = repeat("y", 80, "");
    ck_assert_int_eq(warden__instance_ipc_name(eighty, ipc), 0);
    ck_assert_str_eq(ipc + strlen("warden-"), eighty);
    free(eighty);
    free(hundred);
}
END_TEST

START_TEST(test_empty_refused)
{
    char file[WARDEN_INSTANCE_FILE_SIZE] = "untouched";
    char cg[WARDEN_INSTANCE_CGROUP_SIZE];
    char ipc[WARDEN_INSTANCE_IPC_SIZE];
    ck_assert_int_eq(warden__instance_file_name(NULL, file), -EINVAL);
    ck_assert_int_eq(warden__instance_file_name("", file), -EINVAL);
    ck_assert_str_eq(file, "untouched");
    ck_assert_int_eq(warden__instance_cgroup_name("", cg), -EINVAL);
    ck_assert_int_eq(warden__instance_ipc_name(NULL, ipc), -EINVAL);
}
END_TEST

START_TEST(test_long_names_shortened)
{
    /* 101 bytes up to the 300 the issue saw and far past NAME_MAX. */
    static const size_t lengths[] = {101, 200, 228, 255, 256, 300, 5000};
    for (size_t i = 0; i < ELEMENTSOF(lengths); i++) {
        char *name = repeat("r", lengths[i], "");
        char file[WARDEN_INSTANCE_FILE_SIZE], cg[WARDEN_INSTANCE_CGROUP_SIZE];
        char ipc[WARDEN_INSTANCE_IPC_SIZE], log[WARDEN_INSTANCE_LOG_SIZE];
        ck_assert_int_eq(warden__instance_file_name(name, file), 0);
        ck_assert_uint_le(strlen(file), WARDEN_INSTANCE_FILE_MAX);
        ck_assert_msg(has_hash_suffix(file), "%s", file);
        /* A readable prefix of the name itself. */
        ck_assert_int_eq(strncmp(file, name, strlen(file) - 17), 0);
        ck_assert_uint_ge(strlen(file) - 17, 60);
        ck_assert_int_eq(warden__instance_cgroup_name(name, cg), 0);
        ck_assert_str_eq(cg, file);
        ck_assert_int_eq(warden__instance_ipc_name(name, ipc), 0);
        ck_assert_uint_le(strlen(ipc), 100);
        ck_assert_msg(startswith(ipc, "warden-rrrr") && has_hash_suffix(ipc), "%s", ipc);
        warden__instance_log_name(name, log);
        ck_assert_uint_le(strlen(log), WARDEN_INSTANCE_LOG_MAX);
        ck_assert_msg(has_hash_suffix(log), "%s", log);
        /* The same name, the same answer: every process finds it. */
        char again[WARDEN_INSTANCE_FILE_SIZE];
        warden__instance_file_name(name, again);
        ck_assert_str_eq(again, file);
        free(name);
    }
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether any two of n strings are equal. */
static bool any_equal(char **v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i - 1], v[i]) == 0) {
            return true;
        }
    }
    return false;
}

START_TEST(test_no_collisions)
{
    /* Long names that share a prefix far longer than what is kept of it,
     * and differ only at the end or in one byte in the middle. */
    enum { N = 3000 };
    static char *names[N];
    for (size_t i = 0; i < N; i++) {
        char tail[32];
        snprintf(tail, sizeof(tail), "%zu", i % 1000);
        names[i] = repeat("shared-prefix-", 20, tail);
        if (i >= 1000) {
            names[i][50 + i % 1000 % 100] = i < 2000 ? 'A' : 'B';
        }
    }
    /* Short tricky ones, and the shortened forms of others spelled out as
     * names of their own: none may land on another's path. */
    const char *const tricky[] = {
        "a/b",          "a_b",           ".",     "..",     "_",    "__",    ".x",
        "_x",           "__x",           "x",     "a~b",    "a\nb", "a_b~0", "cgroup.kill",
        "_cgroup.kill", "__cgroup.kill", "tasks", "_tasks",
    };
    size_t n = N;
    static char *all[N + ELEMENTSOF(tricky) + 4];
    memcpy(all, names, sizeof(names));
    for (size_t i = 0; i < ELEMENTSOF(tricky); i++) {
        all[n++] = strdup(tricky[i]);
    }
    char f[WARDEN_INSTANCE_FILE_SIZE];
    warden__instance_file_name("a/b", f);
    all[n++] = strdup(f);
    warden__instance_file_name(".x", f);
    all[n++] = strdup(f);
    warden__instance_file_name(names[0], f);
    all[n++] = strdup(f);
    static char *fv[ELEMENTSOF(all)], *cv[ELEMENTSOF(all)], *iv[ELEMENTSOF(all)];
    static char *uv[ELEMENTSOF(all)];
    for (size_t i = 0; i < n; i++) {
        char file[WARDEN_INSTANCE_FILE_SIZE], cg[WARDEN_INSTANCE_CGROUP_SIZE];
        char ipc[WARDEN_INSTANCE_IPC_SIZE];
        ck_assert_int_eq(warden__instance_file_name(all[i], file), 0);
        ck_assert_int_eq(warden__instance_cgroup_name(all[i], cg), 0);
        ck_assert_int_eq(warden__instance_ipc_name(all[i], ipc), 0);
        char unit[WARDEN_INSTANCE_UNIT_SIZE];
        ck_assert_int_eq(warden__instance_unit_name(all[i], unit), 0);
        uv[i] = strdup(unit);
        fv[i] = strdup(file);
        cv[i] = strdup(cg);
        iv[i] = strdup(ipc);
    }
    ck_assert_msg(!any_equal(fv, n), "two names share a state directory");
    ck_assert_msg(!any_equal(cv, n), "two names share a cgroup");
    ck_assert_msg(!any_equal(iv, n), "two names share an IPC name");
    ck_assert_msg(!any_equal(uv, n), "two names share a systemd unit");
    for (size_t i = 0; i < n; i++) {
        free(uv[i]);
        free(all[i]);
        free(fv[i]);
        free(cv[i]);
        free(iv[i]);
    }
}
END_TEST

START_TEST(test_unsafe_bytes)
{
    /* '/', a leading '.', control bytes and '~' never reach a path. */
    const char *const unsafe[] = {"a/b",     "/",    "../etc", ".",     "..",
                                  ".hidden", "a\nb", "a\tb",   "a\x7f", "a~b"};
    for (size_t i = 0; i < ELEMENTSOF(unsafe); i++) {
        char file[WARDEN_INSTANCE_FILE_SIZE], cg[WARDEN_INSTANCE_CGROUP_SIZE];
        char ipc[WARDEN_INSTANCE_IPC_SIZE];
        ck_assert_int_eq(warden__instance_file_name(unsafe[i], file), 0);
        ck_assert_int_eq(warden__instance_cgroup_name(unsafe[i], cg), 0);
        ck_assert_int_eq(warden__instance_ipc_name(unsafe[i], ipc), 0);
        const char *const forms[] = {file, cg, ipc};
        for (size_t k = 0; k < ELEMENTSOF(forms); k++) {
            ck_assert_msg(!strchr(forms[k], '/'), "'/' in %s", forms[k]);
            ck_assert_msg(forms[k][0] != '.', "leading '.' in %s", forms[k]);
            for (const char *c = forms[k]; *c; c++) {
                ck_assert_msg((unsigned char)*c >= 0x20 && *c != 0x7f, "control byte in %s",
                              forms[k]);
            }
            ck_assert_msg(has_hash_suffix(forms[k]), "%s", forms[k]);
        }
    }
    char file[WARDEN_INSTANCE_FILE_SIZE];
    warden__instance_file_name(".hidden", file);
    ck_assert_msg(startswith(file, "_hidden~"), "%s", file);
}
END_TEST

START_TEST(test_utf8_cut_at_characters)
{
    /* Two-, three- and four-byte characters, at every offset against the
     * cut, stay whole in the kept prefix. */
    const char *const units[] = {"é", "服", "😀"};
    for (size_t u = 0; u < ELEMENTSOF(units); u++) {
        for (size_t lead = 0; lead < 4; lead++) {
            char *pad = repeat("p", lead, "");
            char *name = repeat(units[u], 120, "");
            char *full = malloc(strlen(pad) + strlen(name) + 1);
            ck_assert_ptr_nonnull(full);
            strcpy(full, pad);
            strcat(full, name);
            char file[WARDEN_INSTANCE_FILE_SIZE], log[WARDEN_INSTANCE_LOG_SIZE];
            ck_assert_int_eq(warden__instance_file_name(full, file), 0);
            ck_assert_msg(valid_utf8(file), "cut inside a character: %s", file);
            ck_assert_uint_le(strlen(file), WARDEN_INSTANCE_FILE_MAX);
            ck_assert_uint_ge(strlen(file), WARDEN_INSTANCE_FILE_MAX - 3);
            warden__instance_log_name(full, log);
            ck_assert_msg(valid_utf8(log), "cut inside a character: %s", log);
            free(full);
            free(name);
            free(pad);
        }
    }
}
END_TEST

START_TEST(test_cgroup_interface_files_escaped)
{
    /* Valid Pacemaker ids that name files of every cgroup directory. */
    static const struct {
        const char *name, *cgroup;
    } cases[] = {
        {"cgroup.kill", "_cgroup.kill"},
        {"cgroup.procs", "_cgroup.procs"},
        {"cgroup.freeze", "_cgroup.freeze"},
        {"cgroup.type", "_cgroup.type"},
        {"cpu.pressure", "_cpu.pressure"},
        {"io.pressure", "_io.pressure"},
        {"memory.pressure", "_memory.pressure"},
        {"memory.max", "_memory.max"},
        {"pids.max", "_pids.max"},
        {"irq.pressure", "_irq.pressure"},
        {"cpuset.cpus", "_cpuset.cpus"},
        {"tasks", "_tasks"},
        {"notify_on_release", "_notify_on_release"},
        {"release_agent", "_release_agent"},
        {"_web", "__web"},
        {"__web", "___web"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        char cg[WARDEN_INSTANCE_CGROUP_SIZE], file[WARDEN_INSTANCE_FILE_SIZE];
        ck_assert_int_eq(warden__instance_cgroup_name(cases[i].name, cg), 0);
        ck_assert_str_eq(cg, cases[i].cgroup);
        /* Only the cgroup needs it: the state directory keeps the name. */
        ck_assert_int_eq(warden__instance_file_name(cases[i].name, file), 0);
        ck_assert_str_eq(file, cases[i].name);
    }
}
END_TEST

/* Every name in a cgroup directory of this machine maps elsewhere. */
static void assert_dir_escaped(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type == DT_DIR) {
            continue;
        }
        char cg[WARDEN_INSTANCE_CGROUP_SIZE];
        ck_assert_int_eq(warden__instance_cgroup_name(de->d_name, cg), 0);
        ck_assert_msg(!streq(cg, de->d_name), "a resource named %s would be %s/%s", de->d_name, dir,
                      de->d_name);
    }
    closedir(d);
}

START_TEST(test_cgroup_files_of_this_machine)
{
    /* What the kernel here puts in a cgroup directory: the cgroup2 root and
     * warden's own (whose controllers may differ), and cgroup v1's
     * hierarchies on a hybrid host for good measure. */
    char *root = NULL;
    if (warden__cgroup_root(&root) < 0) {
        check_skip(__func__, "no cgroup2 hierarchy mounted here");
        return;
    }
    char path[4200];
    assert_dir_escaped(root);
    snprintf(path, sizeof(path), "%s/warden", root);
    assert_dir_escaped(path);
    DIR *d = opendir("/sys/fs/cgroup");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_type == DT_DIR && de->d_name[0] != '.') {
            snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", de->d_name);
            assert_dir_escaped(path);
        }
    }
    if (d) {
        closedir(d);
    }
    free(root);
}
END_TEST

START_TEST(test_log_names)
{
    char log[WARDEN_INSTANCE_LOG_SIZE];
    warden__instance_log_name("web:0", log);
    ck_assert_str_eq(log, "web:0");
    warden__instance_log_name(NULL, log);
    ck_assert_str_eq(log, "-");
    warden__instance_log_name("", log);
    ck_assert_str_eq(log, "-");
    /* '%' would be a libqb format directive. */
    warden__instance_log_name("web%s%n", log);
    ck_assert_msg(!strchr(log, '%') && has_hash_suffix(log), "%s", log);
    ck_assert_msg(startswith(log, "web_s_n~"), "%s", log);
    char *sixtyfour = repeat("z", 64, "");
    warden__instance_log_name(sixtyfour, log);
    ck_assert_str_eq(log, sixtyfour);
    free(sixtyfour);
}
END_TEST

/* What systemd's unit_name_is_valid() takes for a plain (non-template)
 * name: at most 255 bytes, only its valid characters. */
static void assert_valid_unit(const char *unit)
{
    size_t n = strlen(unit);
    ck_assert_msg(n <= 255, "unit name of %zu bytes", n);
    ck_assert_msg(strncmp(unit, "warden-", 7) == 0, "%s", unit);
    ck_assert_msg(n > 13 && strcmp(unit + n - 6, ".scope") == 0, "%s", unit);
    const char *valid = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:-_.\\";
    ck_assert_msg(strspn(unit, valid) == n, "invalid byte in unit name %s", unit);
}

START_TEST(test_unit_names)
{
    static const struct {
        const char *instance, *unit;
    } cases[] = {
        {"web", "warden-web.scope"},
        {"my-svc", "warden-my\\x2dsvc.scope"},
        {"svc:0", "warden-svc:0.scope"},
        {"a_b.c", "warden-a_b.c.scope"},
        {"a b", "warden-a\\x20b.scope"},
        {"a\\b", "warden-a\\x5cb.scope"},
        {"a@b", "warden-a\\x40b.scope"},
        {"\xc3\xa9t\xc3\xa9", "warden-\\xc3\\xa9t\\xc3\\xa9.scope"},
    };
    char unit[WARDEN_INSTANCE_UNIT_SIZE];
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        ck_assert_int_eq(warden__instance_unit_name(cases[i].instance, unit), 0);
        ck_assert_str_eq(unit, cases[i].unit);
        assert_valid_unit(unit);
    }
    ck_assert_int_eq(warden__instance_unit_name("", unit), -EINVAL);
    ck_assert_int_eq(warden__instance_unit_name(NULL, unit), -EINVAL);

    /* Names the file name already shortens ('/', '~', a leading '.', over
     * 100 bytes) keep its form: the hash, its '~' escaped. */
    const char *const hashed[] = {"a/b", "a~b", ".x", "a\nb"};
    for (size_t i = 0; i < ELEMENTSOF(hashed); i++) {
        ck_assert_int_eq(warden__instance_unit_name(hashed[i], unit), 0);
        assert_valid_unit(unit);
        ck_assert_msg(strstr(unit, "\\x7e"), "%s: %s has no hash", hashed[i], unit);
    }
    /* Names whose escaped form would pass 255 bytes: 100 bytes each escaped
     * to 4, 61 multi-byte characters, and far longer ones. */
    char *dashes = repeat("-", 100, "");
    char *accents = repeat("\xc3\xa9", 61, "");
    char *longer = repeat("\xe2\x82\xac-", 500, "x");
    char *letters = repeat("abcdefghij", 25, "k");
    const char *const big[] = {dashes, accents, longer, letters};
    char seen[ELEMENTSOF(big)][WARDEN_INSTANCE_UNIT_SIZE];
    for (size_t i = 0; i < ELEMENTSOF(big); i++) {
        ck_assert_int_eq(warden__instance_unit_name(big[i], seen[i]), 0);
        assert_valid_unit(seen[i]);
        ck_assert_msg(strstr(seen[i], "\\x7e"), "%s has no hash", seen[i]);
        for (size_t j = 0; j < i; j++) {
            ck_assert_str_ne(seen[i], seen[j]);
        }
    }
    /* One byte less than the limit: 242 escaped bytes stay whole. */
    char *fits = repeat("-", 60, "ab");
    ck_assert_int_eq(warden__instance_unit_name(fits, unit), 0);
    ck_assert_uint_eq(strlen(unit), 7 + 60 * 4 + 2 + 6);
    ck_assert_ptr_null(strstr(unit, "\\x7e"));
    free(fits);
    free(dashes);
    free(accents);
    free(longer);
    free(letters);
}
END_TEST

/* The escaping is systemd-escape's, byte for byte, where the tool is here. */
START_TEST(test_unit_names_match_systemd_escape)
{
    if (access("/usr/bin/systemd-escape", X_OK) != 0) {
        return; /* no systemd here: the table above still holds */
    }
    const char *const names[] = {"web",
                                 "my-svc",
                                 "svc:0",
                                 "a b",
                                 "x.y",
                                 "\xc3\xa9t\xc3\xa9",
                                 "!\"#$%&'()*+,-.;<=>?@[]^`{|}",
                                 "A-Z_0-9"};
    for (size_t i = 0; i < ELEMENTSOF(names); i++) {
        char cmd[512], want[512] = "", unit[WARDEN_INSTANCE_UNIT_SIZE];
        /* The name as a single-quoted shell word. */
        size_t k = (size_t)snprintf(cmd, sizeof(cmd), "/usr/bin/systemd-escape -- '");
        for (const char *c = names[i]; *c; c++) {
            k += (size_t)snprintf(cmd + k, sizeof(cmd) - k, *c == '\'' ? "'\\''" : "%c", *c);
        }
        snprintf(cmd + k, sizeof(cmd) - k, "'");
        FILE *p = popen(cmd, "re");
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(fgets(want, sizeof(want), p));
        ck_assert_int_eq(pclose(p), 0);
        want[strcspn(want, "\n")] = '\0';
        ck_assert_int_eq(warden__instance_unit_name(names[i], unit), 0);
        char expect[600];
        snprintf(expect, sizeof(expect), "warden-%s.scope", want);
        ck_assert_str_eq(unit, expect);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("instance");
    add_tcase(s, test_hash_is_fnv1a_64, 10);
    add_tcase(s, test_short_safe_names_kept, 10);
    add_tcase(s, test_empty_refused, 10);
    add_tcase(s, test_long_names_shortened, 10);
    add_tcase(s, test_no_collisions, 30);
    add_tcase(s, test_unsafe_bytes, 10);
    add_tcase(s, test_utf8_cut_at_characters, 10);
    add_tcase(s, test_cgroup_interface_files_escaped, 10);
    add_tcase(s, test_cgroup_files_of_this_machine, 10);
    add_tcase(s, test_log_names, 10);
    add_tcase(s, test_unit_names, 10);
    add_tcase(s, test_unit_names_match_systemd_escape, 10);
    return check_run("check_instance", s);
}
