/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* exec-time: run a command N times (fork + exec + wait, environment as
 * given) and print the median and p99 wall time in microseconds.
 *   exec-time N COMMAND [ARGS...]
 * Output: "median_us p99_us failures" on one line. A run that exits non-zero
 * counts as a failure (the time is still recorded). */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s N COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]);
    long long *t = calloc((size_t)n, sizeof(*t));
    int failures = 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1 /* O_WRONLY */, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    for (int i = 0; i < n; i++) {
        long long start = now_us();
        pid_t pid;
        int status = 0;
        if (posix_spawn(&pid, argv[2], &fa, NULL, argv + 2, environ) != 0) {
            perror("posix_spawn");
            return 1;
        }
        waitpid(pid, &status, 0);
        t[i] = now_us() - start;
        failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    qsort(t, (size_t)n, sizeof(*t), cmp);
    printf("%lld %lld %d\n", t[n / 2], t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], failures);
    return 0;
}
