/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dumps: file naming and modes, retention (dump_keep), the size cap on
 * cores, refusing an unsafe directory, and a full filesystem that must not
 * block. */
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "check_common.h"
#include "instance-int.h"
#include "util-int.h"
#include "proc-int.h"
#include "warden/dump.h"

static char tmp[64];
static pid_t sleeper;

static void make_tmp(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/check-dump.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void cleanup(void)
{
    if (sleeper > 0) {
        kill(sleeper, SIGKILL);
        waitpid(sleeper, NULL, 0);
        sleeper = 0;
    }
    if (tmp[0]) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "umount -l %s/full 2>/dev/null; rm -rf %s", tmp, tmp);
        (void)!system(cmd);
        tmp[0] = '\0';
    }
}

static pid_t spawn_sleeper(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "60", (char *)NULL);
        _exit(127);
    }
    /* Wait for the exec, so the dump sees sleep, not a fork of us. */
    for (int i = 0; i < 200; i++) {
        char path[64], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        FILE *f = fopen(path, "re");
        if (f) {
            (void)!fgets(comm, sizeof(comm), f);
            fclose(f);
        }
        if (strncmp(comm, "sleep", 5) == 0) {
            break;
        }
        usleep(5000);
    }
    return pid;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    }
    closedir(d);
    return n;
}

static void touch(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

START_TEST(test_naming_and_modes)
{
    make_tmp();
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/dumps", tmp);
    sleeper = spawn_sleeper();
    struct warden_dump_options o = {.dir = dir, .keep = 5, .max_bytes = 1 << 30};
    char *path = NULL;
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(10 * WARDEN_USEC_PER_SEC), &path),
                     0);
    /* <instance>-<UTC time>-<reason>.stacks */
    regex_t re;
    ck_assert_int_eq(
        regcomp(&re, "/web-[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z-hung\\.stacks$", REG_EXTENDED | REG_NOSUB),
        0);
    ck_assert_msg(regexec(&re, path, 0, NULL, 0) == 0, "name: %s", path);
    regfree(&re);
    struct stat st;
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0700);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    char want[64];
    snprintf(want, sizeof(want), "== process %d (sleep)", (int)sleeper);
    const char *text = slurp(path);
    ck_assert_msg(strstr(text, want), "no '%s' in:\n%s", want, text);
    ck_assert_ptr_nonnull(strstr(text, "-- thread"));
    /* The process was dumped, not harmed. */
    ck_assert_int_eq(kill(sleeper, 0), 0);
    free(path);
    cleanup();
}
END_TEST

START_TEST(test_retention)
{
    make_tmp();
    sleeper = spawn_sleeper();
    /* Six older dumps of "web" (one with a core), and files that are not
     * web's: another instance whose name starts with "web-", and a stranger. */
    touch(tmp, "web-20200101T000001.000Z-hung.stacks");
    touch(tmp, "web-20200101T000001.000Z-hung.core.17");
    touch(tmp, "web-20200101T000002.000Z-hung.stacks");
    touch(tmp, "web-20200101T000003.000Z-check-failed.stacks");
    touch(tmp, "web-20200101T000004.000Z-stop-kill.stacks");
    touch(tmp, "web-20200101T000005.000Z-hung.stacks");
    touch(tmp, "web-20200101T000006.000Z-hung.stacks");
    touch(tmp, "web-2-20200101T000001.000Z-hung.stacks");
    touch(tmp, "notes.txt");
    chmod(tmp, 0700);
    struct warden_dump_options o = {.dir = tmp, .keep = 3, .max_bytes = 1 << 30};
    char *path = NULL;
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(10 * WARDEN_USEC_PER_SEC), &path),
                     0);
    /* The new one and the two newest old ones. */
    ck_assert_int_eq(count_files(tmp, "web-2020"), 2);
    char p[256];
    snprintf(p, sizeof(p), "%s/web-20200101T000006.000Z-hung.stacks", tmp);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/web-20200101T000005.000Z-hung.stacks", tmp);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/web-20200101T000001.000Z-hung.core.17", tmp);
    ck_assert_int_ne(access(p, F_OK), 0);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* Not web's: untouched. */
    ck_assert_int_eq(count_files(tmp, "web-2-"), 1);
    ck_assert_int_eq(count_files(tmp, "notes.txt"), 1);
    free(path);
    cleanup();
}
END_TEST

START_TEST(test_retention_is_exact)
{
    /* Pacemaker accepts "web-20200101T000001.000Z-hung" as a resource name:
     * its dumps begin with web's stem, a time and a reason, but are not
     * web's, and keep=1 for web must leave them be. */
    make_tmp();
    chmod(tmp, 0700);
    sleeper = spawn_sleeper();
    const char *other = "web-20200101T000001.000Z-hung-20200101T000009.000Z-hung.stacks";
    touch(tmp, other);
    touch(tmp, "web-20200101T000001.000Z-hung.stacks");
    struct warden_dump_options o = {.dir = tmp, .keep = 1, .max_bytes = 1 << 30};
    char *path = NULL;
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(10 * WARDEN_USEC_PER_SEC), &path),
                     0);
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmp, other);
    ck_assert_msg(access(p, F_OK) == 0, "another instance's dump was removed");
    snprintf(p, sizeof(p), "%s/web-20200101T000001.000Z-hung.stacks", tmp);
    ck_assert_int_ne(access(p, F_OK), 0);
    ck_assert_int_eq(access(path, F_OK), 0);
    free(path);
    cleanup();
}
END_TEST

static char *repeat_char(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

START_TEST(test_long_instance_names)
{
    /* Names of any length Pacemaker accepts: each file fits NAME_MAX, is
     * named by the instance's file name (instance-int.h), and retention
     * finds a long name's dumps by that same name, and only its own. */
    make_tmp();
    chmod(tmp, 0700);
    sleeper = spawn_sleeper();
    char *name = repeat_char('r', 300);
    char *sibling = repeat_char('r', 300);
    sibling[299] = 's'; /* the same first 299 bytes */
    char stem[WARDEN_INSTANCE_FILE_SIZE], sibling_stem[WARDEN_INSTANCE_FILE_SIZE];
    ck_assert_int_eq(warden__instance_file_name(name, stem), 0);
    ck_assert_int_eq(warden__instance_file_name(sibling, sibling_stem), 0);
    ck_assert_str_ne(stem, sibling_stem);
    char old[512];
    snprintf(old, sizeof(old), "%s-20200101T000001.000Z-hung.stacks", stem);
    touch(tmp, old);
    snprintf(old, sizeof(old), "%s-20200101T000001.000Z-hung.stacks", sibling_stem);
    touch(tmp, old);

    struct warden_dump_options o = {.dir = tmp, .keep = 1, .max_bytes = 1 << 30};
    char *path = NULL;
    ck_assert_int_eq(warden_dump_processes(&o, name, "start-timeout", &sleeper, 1,
                                           warden_deadline_in(10 * WARDEN_USEC_PER_SEC), &path),
                     0);
    const char *base = strrchr(path, '/') + 1;
    ck_assert_uint_le(strlen(base), NAME_MAX);
    ck_assert_msg(startswith(base, stem) && base[strlen(stem)] == '-', "%s", base);
    /* The file says whose dump it is, in full. */
    ck_assert_ptr_nonnull(strstr(slurp(path), name));
    /* keep=1: the older dump of this name went, the sibling's stayed. */
    ck_assert_int_eq(count_files(tmp, stem), 1);
    ck_assert_int_eq(count_files(tmp, sibling_stem), 1);
    free(path);

    /* A leading '.' makes no hidden file; no '/' reaches a path. */
    ck_assert_int_eq(warden_dump_processes(&o, ".hidden/x", "hung", &sleeper, 1,
                                           warden_deadline_in(10 * WARDEN_USEC_PER_SEC), &path),
                     0);
    base = strrchr(path, '/') + 1;
    ck_assert_msg(base[0] != '.' && strlen(path) == strlen(tmp) + 1 + strlen(base), "%s", path);
    free(path);
    /* No instance, or a reason that is no file-name tag: refused. */
    ck_assert_int_eq(warden_dump_processes(&o, "", "hung", &sleeper, 1,
                                           warden_deadline_in(10 * WARDEN_USEC_PER_SEC), &path),
                     -EINVAL);
    ck_assert_int_eq(warden_dump_processes(&o, "web", "../x", &sleeper, 1,
                                           warden_deadline_in(10 * WARDEN_USEC_PER_SEC), &path),
                     -EINVAL);
    free(name);
    free(sibling);
    cleanup();
}
END_TEST

START_TEST(test_core_size_cap)
{
    char *gcore = NULL;
    if (warden__find_executable("gcore", &gcore) < 0) {
        check_skip(__func__, "gcore (gdb) is not installed");
        return;
    }
    free(gcore);
    make_tmp();
    chmod(tmp, 0700);
    sleeper = spawn_sleeper();
    /* A cap below any core: none is written, and the stacks say why. */
    struct warden_dump_options o = {.dir = tmp, .core = true, .keep = 0, .max_bytes = 4096};
    char *path = NULL;
    ck_assert_int_eq(warden_dump_processes(&o, "cap", "hung", &sleeper, 1,
                                           warden_deadline_in(20 * WARDEN_USEC_PER_SEC), &path),
                     0);
    ck_assert_int_eq(count_files(tmp, "cap-"), 1);
    ck_assert_ptr_nonnull(strstr(slurp(path), "would pass dump_max_bytes"));
    free(path);

    /* With room, a core of the process, 0600, next to its stacks. */
    o.max_bytes = 1ULL << 30;
    ck_assert_int_eq(warden_dump_processes(&o, "room", "hung", &sleeper, 1,
                                           warden_deadline_in(20 * WARDEN_USEC_PER_SEC), &path),
                     0);
    ck_assert_int_eq(count_files(tmp, "room-"), 2);
    char core[512];
    snprintf(core, sizeof(core), "%.*s.core.%d", (int)(strlen(path) - strlen(".stacks")), path,
             (int)sleeper);
    struct stat st;
    ck_assert_msg(stat(core, &st) == 0, "no %s", core);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_gt(st.st_size, 0);
    /* No temporary directory left behind. */
    ck_assert_int_eq(count_files(tmp, ".room-"), 0);
    free(path);
    cleanup();
}
END_TEST

START_TEST(test_unsafe_dir_refused)
{
    make_tmp();
    sleeper = spawn_sleeper();
    char target[128], link[128];
    snprintf(target, sizeof(target), "%s/target", tmp);
    snprintf(link, sizeof(link), "%s/link", tmp);
    ck_assert_int_eq(mkdir(target, 0700), 0);
    ck_assert_int_eq(symlink(target, link), 0);
    struct warden_dump_options o = {.dir = link, .keep = 5, .max_bytes = 1 << 30};
    char *path = NULL;
    /* dump_dir a symlink: refused, nothing written where it points. */
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(5 * WARDEN_USEC_PER_SEC), &path),
                     -ELOOP);
    ck_assert_int_eq(count_files(target, "web-"), 0);
    /* A directory others may read: refused. */
    ck_assert_int_eq(chmod(target, 0755), 0);
    o.dir = target;
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(5 * WARDEN_USEC_PER_SEC), &path),
                     -EPERM);
    ck_assert_int_eq(count_files(target, "web-"), 0);
    ck_assert_ptr_null(path);
    cleanup();
}
END_TEST

START_TEST(test_unsafe_ancestor_refused)
{
    /* dump_dir inside a directory another user may write: that user could
     * swap dump_dir for a symlink or a directory of theirs between the check
     * and the writes, so it is refused, whatever dump_dir itself looks like.
     * (Regression test: only the last component was once checked, and later
     * steps of a core dump re-walked the path by name.) */
    make_tmp();
    sleeper = spawn_sleeper();
    char open_dir[128], dir[160];
    snprintf(open_dir, sizeof(open_dir), "%s/users", tmp);
    snprintf(dir, sizeof(dir), "%s/dumps", open_dir);
    ck_assert_int_eq(chmod(tmp, 0755), 0);
    ck_assert_int_eq(mkdir(open_dir, 0777), 0);
    ck_assert_int_eq(chmod(open_dir, 0777), 0);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    struct warden_dump_options o = {.dir = dir, .keep = 5, .max_bytes = 1 << 30};
    char *path = NULL;
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(5 * WARDEN_USEC_PER_SEC), &path),
                     -EPERM);
    ck_assert_ptr_null(path);
    ck_assert_int_eq(count_files(dir, "web-"), 0);
    /* The same directory, once only root can change the way to it. */
    ck_assert_int_eq(chmod(open_dir, 0755), 0);
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(5 * WARDEN_USEC_PER_SEC), &path),
                     0);
    ck_assert_int_eq(count_files(dir, "web-"), 1);
    free(path);
    /* A symlink on the way, in a directory only root can change, is
     * followed; a relative dump_dir is refused. */
    char link[128], via[200];
    snprintf(link, sizeof(link), "%s/link", tmp);
    snprintf(via, sizeof(via), "%s/dumps", link);
    ck_assert_int_eq(symlink("users", link), 0);
    o.dir = via;
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(5 * WARDEN_USEC_PER_SEC), &path),
                     0);
    ck_assert_int_eq(count_files(dir, "web-"), 2);
    free(path);
    path = NULL;
    o.dir = "relative/dumps";
    ck_assert_int_eq(warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                           warden_deadline_in(5 * WARDEN_USEC_PER_SEC), &path),
                     -EINVAL);
    cleanup();
}
END_TEST

START_TEST(test_full_filesystem_does_not_block)
{
    if (geteuid() != 0) {
        check_skip(__func__, "needs root to mount a tmpfs");
        return;
    }
    make_tmp();
    sleeper = spawn_sleeper();
    /* A tiny tmpfs in a private mount namespace, filled to the last block.
     * (Check runs each test in a child: the namespace dies with it.) */
    char full[128];
    snprintf(full, sizeof(full), "%s/full", tmp);
    ck_assert_int_eq(mkdir(full, 0700), 0);
    ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
    /* The type is ignored for a propagation change; valgrind wants one. */
    ck_assert_int_eq(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
    ck_assert_int_eq(mount("tmpfs", full, "tmpfs", 0, "size=16k,mode=0700"), 0);
    char filler[160];
    snprintf(filler, sizeof(filler), "%s/filler", full);
    int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    char block[4096] = {0};
    while (write(fd, block, sizeof(block)) > 0) {
    }
    close(fd);
    struct warden_dump_options o = {.dir = full, .keep = 5, .max_bytes = 1 << 30};
    char *path = NULL;
    warden_usec_t start = warden_now();
    int r = warden_dump_processes(&o, "web", "hung", &sleeper, 1,
                                  warden_deadline_in(10 * WARDEN_USEC_PER_SEC), &path);
    ck_assert_msg(r == -ENOSPC, "r = %d", r);
    ck_assert_int_lt(check_ms_since(start), 2000);
    /* No partial dump left. */
    ck_assert_int_eq(count_files(full, "web-"), 0);
    ck_assert_ptr_null(path);
    umount(full);
    cleanup();
}
END_TEST

/* A stack tool that takes all the time there is (eu-stack on a machine
 * under load) must not keep the other processes out of the dump: every
 * process's /proc part comes first, the user-space stacks after. */
START_TEST(test_slow_stack_tool_keeps_others)
{
    make_tmp();
    char dir[128], bin[128], tool[160];
    snprintf(dir, sizeof(dir), "%s/dumps", tmp);
    snprintf(bin, sizeof(bin), "%s/bin", tmp);
    ck_assert_int_eq(mkdir(bin, 0700), 0);
    snprintf(tool, sizeof(tool), "%s/eu-stack", bin);
    FILE *f = fopen(tool, "we");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\nexec /bin/sleep 30\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(tool, 0700), 0);
    char *old_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char path_env[512];
    snprintf(path_env, sizeof(path_env), "%s:%s", bin, old_path);
    setenv("PATH", path_env, 1);
    sleeper = spawn_sleeper();
    pid_t second = spawn_sleeper();
    pid_t pids[] = {sleeper, second};
    struct warden_dump_options o = {.dir = dir, .keep = 5, .max_bytes = 0};
    char *path = NULL;
    warden_usec_t t0 = warden_now();
    int r = warden_dump_processes(&o, "slow", "hung", pids, 2,
                                  warden_deadline_in(WARDEN_USEC_PER_SEC), &path);
    warden_usec_t took = warden_now() - t0;
    setenv("PATH", old_path, 1);
    free(old_path);
    kill(second, SIGKILL);
    waitpid(second, NULL, 0);
    ck_assert_int_eq(r, 0);
    const char *text = slurp(path);
    char want[64];
    snprintf(want, sizeof(want), "== process %d ", (int)sleeper);
    ck_assert_msg(strstr(text, want), "first process missing:\n%s", text);
    snprintf(want, sizeof(want), "== process %d ", (int)second);
    ck_assert_msg(strstr(text, want), "second process missing:\n%s", text);
    ck_assert_msg(took < 3 * WARDEN_USEC_PER_SEC, "the dump took %llu us",
                  (unsigned long long)took);
    free(path);
}
END_TEST

START_TEST(test_size_parse)
{
    uint64_t v = 0;
    ck_assert_int_eq(warden_size_parse("2G", &v), 0);
    ck_assert_uint_eq(v, 2ULL << 30);
    ck_assert_int_eq(warden_size_parse("512MiB", &v), 0);
    ck_assert_uint_eq(v, 512ULL << 20);
    ck_assert_int_eq(warden_size_parse("4096", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(warden_size_parse("1k", &v), 0);
    ck_assert_uint_eq(v, 1024);
    ck_assert_int_eq(warden_size_parse("", &v), -EINVAL);
    ck_assert_int_eq(warden_size_parse("G", &v), -EINVAL);
    ck_assert_int_eq(warden_size_parse("2 GB", &v), -EINVAL);
    ck_assert_int_eq(warden_size_parse("-1", &v), -EINVAL);
    ck_assert_int_eq(warden_size_parse("99999999999T", &v), -EINVAL);
}
END_TEST

int main(void)
{
    check_cleanup_hook = cleanup;
    Suite *s = suite_create("dump");
    add_tcase(s, test_naming_and_modes, 30);
    add_tcase(s, test_retention, 30);
    add_tcase(s, test_retention_is_exact, 30);
    add_tcase(s, test_long_instance_names, 30);
    add_tcase(s, test_core_size_cap, 60);
    add_tcase(s, test_unsafe_ancestor_refused, 30);
    add_tcase(s, test_unsafe_dir_refused, 30);
    add_tcase(s, test_full_filesystem_does_not_block, 30);
    add_tcase(s, test_slow_stack_tool_keeps_others, 30);
    add_tcase(s, test_size_parse, 10);
    return check_run("check_dump", s);
}
