/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Processes: references by pidfd, the holder that owns a service's process
 * tree, the tree itself, and short-lived commands. Private to the library.
 *
 * The room, one header for all of it (cgroup.c, cgroup-int.h underneath):
 *   proc.c       one process: /proc/PID/stat, references by pidfd + start
 *                time (pidrefs), signals and waits through them
 *   proc-exec.c  starting processes: what to run (warden_exec: argv, PATH,
 *                environment, user), the code between fork and exec, the
 *                holder (warden__tree_spawn), short-lived commands
 *                (warden__run), detached helpers (warden__spawn_detached)
 *   proc-tree.c  a service's process tree once started: which processes
 *                are in it, signal, wait for, kill
 * All three are libc-only: the front (libwarden-front.a) links them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "warden/time.h"

/* A process by pid, pidfd and start time (clock ticks since boot, from
 * /proc/PID/stat): the pair pid + start time names one process for the life
 * of the system, so a stored reference is never fooled by pid reuse. */
struct warden_pidref {
    pid_t pid;
    int fd;
    uint64_t starttime;
};
#define WARDEN_PIDREF_NULL ((struct warden_pidref){.pid = 0, .fd = -EBADF})

/* The few fields of /proc/PID/stat we use. */
struct warden_proc_stat {
    pid_t ppid;
    pid_t pgrp;
    pid_t sid;
    char state; /* 'Z' for a zombie: dead, only waiting to be reaped */
    uint64_t starttime;
};

int warden__proc_stat(pid_t pid, struct warden_proc_stat *ret);

/* Open a reference to a live process. With starttime != 0 the process must
 * also have that start time. -ESRCH when it is gone, a zombie, or another
 * process under the same pid. */
int warden__pidref_open(pid_t pid, uint64_t starttime, struct warden_pidref *ret);
void warden__pidref_done(struct warden_pidref *p);
bool warden__pidref_is_set(const struct warden_pidref *p);

/* Alive means: not exited (pidfd not readable) and not a zombie. */
bool warden__pidref_alive(const struct warden_pidref *p);
int warden__pidref_signal(const struct warden_pidref *p, int sig);

/* 0 once the process has exited, -ETIMEDOUT at the deadline. */
int warden__pidref_wait_exit(const struct warden_pidref *p, warden_usec_t deadline);

/* What to run and how. argv[0] is an absolute path (see
 * warden__find_executable); envp is complete. */
struct warden_exec {
    char **argv;
    char **envp;
    const char *workdir; /* NULL: /; entered as the user, after the switch */
    bool set_user;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    int n_groups;
    int stdout_fd;        /* > 0 sends stdout and stderr there (the service's output) */
    uint64_t fsize_limit; /* warden__run: RLIMIT_FSIZE of the command; 0: none */
    /* Limits, umask, nice, OOM score applied before exec (environ-int.h). */
    const struct warden_environ *environ;
};

/* Run as the user of `from` (uid, gid, groups; borrowed, not copied) when it
 * has one: commands warden runs for a service (checks) get no more rights
 * than the service. */
void warden__exec_copy_user(struct warden_exec *e, const struct warden_exec *from);

/* Resolve a user name into uid/gid/groups for warden_exec. -ENXIO when the
 * user does not exist on this node. */
int warden__exec_set_user(struct warden_exec *e, const char *user);
void warden__exec_done(struct warden_exec *e);

/* Split a command line into words: blanks separate, '...' and "..." quote,
 * backslash escapes. No expansion of any kind. -EINVAL for an unterminated
 * quote or an empty command. */
int warden__argv_split(const char *command, char ***ret_argv);
void warden__strv_free(char **v);

/* Find an executable as execvp would (PATH search unless it holds a '/').
 * -ENOENT when there is none, -EACCES when it is not executable. */
int warden__find_executable(const char *name, char **ret_path);

/* The environment for children: ours, minus the agent's own OCF_RESKEY_*
 * and __OCF_* variables. */
int warden__exec_environment(char ***ret_envp);
/* With keep_params, the agent's OCF_RESKEY_* stay (for the agent's own
 * helpers); extra "NAME=value" entries replace or add variables. */
int warden__exec_environment_with(bool keep_params, char *const extra[], char ***ret_envp);

/* A service's process tree. The holder is a small process, forked from the
 * agent, that leads a new session, is a child subreaper, and is the parent of
 * the service: every process the service ever forks stays either in the
 * holder's session or below the holder, even one that double-forks into a new
 * session. With a cgroup, the cgroup is the tree.
 *
 * Without a cgroup, the holder and main references are all the tree has, and
 * a bare pid is never trusted: holder.pid is the session id (the kernel does
 * not reuse a pid while it is a session or process group id) and
 * holder.starttime the holder's start time (a live process under that pid
 * with another start time means the id was freed and reused: the session is
 * someone else's). Parent links count only below a holder or main process
 * whose pidfd (fd >= 0) shows it alive for the whole scan. The references
 * are borrowed. */
struct warden_tree {
    struct warden_pidref holder; /* pid: the session id; fd < 0: not verified alive */
    struct warden_pidref main;   /* the recorded main process; fd < 0: unknown */
    const char *cgroup;          /* NULL: session + subreaper descendants */
};

/* Start a service: fork the holder (joins the cgroup if given, setsid,
 * subreaper, stdio to /dev/null) and let it fork+exec the service. Returns
 * when exec succeeded or failed (-errno of exec, -ENXIO for the user switch,
 * -ENOENT for the working directory). */
int warden__tree_spawn(const struct warden_exec *e, const char *cgroup, warden_usec_t deadline,
                       struct warden_pidref *ret_holder, struct warden_pidref *ret_main);

/* Puts a new holder where its tree belongs (a systemd unit: unit-int.h)
 * before it forks anything; the holder waits until this returns 0, and is
 * killed when it fails. */
typedef int (*warden_place_fn)(pid_t holder, void *userdata, warden_usec_t deadline);

/* warden__tree_spawn, with the holder placed by place (cgroup NULL). */
int warden__tree_spawn_placed(const struct warden_exec *e, const char *cgroup,
                              warden_place_fn place, void *userdata, warden_usec_t deadline,
                              struct warden_pidref *ret_holder, struct warden_pidref *ret_main);

/* The live (non-zombie) processes of a tree. */
int warden__tree_pids(const struct warden_tree *t, pid_t **ret, size_t *ret_n);

/* Whether a pid belongs to the tree. */
bool warden__tree_contains(const struct warden_tree *t, pid_t pid);

/* Send sig to every process of the tree but the holder, each through a pidfd
 * opened on the very process the enumeration found; returns the count. */
int warden__tree_signal(const struct warden_tree *t, int sig);

/* Wait until no process of the tree but the holder is left (the holder exits
 * by itself once it has no child). -ETIMEDOUT at the deadline. */
int warden__tree_wait_empty(const struct warden_tree *t, bool include_holder,
                            warden_usec_t deadline);

/* SIGKILL the whole tree, the holder included (through its pidfd only), and
 * wait until it is gone. -ETIMEDOUT when a process survives to the deadline
 * (one in D state). */
int warden__tree_kill(const struct warden_tree *t, warden_usec_t deadline);

/* Run a short-lived command in its own session with stdio on /dev/null; at
 * the deadline its whole session is killed (-ETIMEDOUT). ret_status gets the
 * wait status. */
int warden__run(const struct warden_exec *e, warden_usec_t deadline, int *ret_status);

/* Start a detached process (own session, stdio on /dev/null, no inherited
 * fds). With ready_fd >= 0 it is one of the agent's own helpers: it gets
 * ready_fd as fd 3 (WARDEN_REPORT_FD=3 says so) and the agent's parameters;
 * extra_env entries replace or add variables. Does not wait. Returns its
 * pid. */
pid_t warden__spawn_detached(const char *path, char *const argv[], int ready_fd,
                             char *const extra_env[]);
/* The same, with pass_fd (>= 0, and only with ready_fd) as its fd 4. */
pid_t warden__spawn_detached_pass(const char *path, char *const argv[], int ready_fd, int pass_fd,
                                  char *const extra_env[]);
