/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a service's stdout and stderr go (parameter `output`), and the last
 * lines it printed, for the reason of a start that failed. Private. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "proc-int.h"
#include "warden/time.h"

enum warden_output_kind {
    WARDEN_OUTPUT_NULL,
    WARDEN_OUTPUT_SYSLOG,
    WARDEN_OUTPUT_JOURNAL,
    WARDEN_OUTPUT_FILE,
};

#define WARDEN_OUTPUT_FORMS "syslog, journal, file:PATH (an absolute path) or null"

/* The relay's identifier: the instance, cut and cleaned for a syslog tag. */
#define WARDEN_OUTPUT_IDENT_MAX 48

/* What a start opened for the service's output. */
struct warden_output {
    enum warden_output_kind kind;
    int service_fd;  /* the service's stdout and stderr; -EBADF: /dev/null */
    int tail_fd;     /* read back after a failed start; -EBADF: nothing to read */
    off_t tail_from; /* file: its size when opened, where this start's output begins */
    struct warden_pidref relay;
};
#define WARDEN_OUTPUT_INIT                                                                         \
    ((struct warden_output){.service_fd = -EBADF, .tail_fd = -EBADF, .relay = WARDEN_PIDREF_NULL})

/* Parse a value of `output`: 0, -EINVAL. ret_path (may be NULL) points into
 * text for file:PATH. An unset value is the default (warden__output_default). */
int warden__output_parse(const char *text, enum warden_output_kind *ret_kind,
                         const char **ret_path);
int warden__output_check(const char *text);

/* journal on a host booted with systemd, else syslog. */
const char *warden__output_default(void);

/* What only this node can say: journal needs a running systemd-journald;
 * file:PATH needs its directory, reached without a symlink, not writable by
 * the service's user (user: the service's exec, which may have none), and
 * an existing file there must be root's own regular file. -EINVAL (or
 * -ENXIO: the directory is missing) and a reason naming the parameter. */
int warden__output_check_node(const char *text, const struct warden_exec *user, char **ret_reason);

/* Open the output of a start: the file (created 0640, root's, appended), or
 * a pipe read by a relay process that writes each line to syslog or to
 * journald with the instance as identifier, and keeps the last output in
 * <state_dir>/output.tail. The relay lives outside the service's cgroup and
 * session, until the last writer of the pipe is gone. */
int warden__output_open(struct warden_output *o, const char *text, const char *instance,
                        const char *state_dir, const struct warden_exec *user, char **ret_reason);

/* The service has its copy: close the agent's write end, so that the relay
 * sees the end of the output when the service's tree is gone. */
void warden__output_spawned(struct warden_output *o);

/* The last lines the service printed since this start (see
 * warden__output_last_lines), after the relay has written them (it is
 * waited for until the deadline, at most 300 ms). NULL when there are
 * none. */
char *warden__output_tail(struct warden_output *o, warden_usec_t deadline);

/* Close what the agent holds; the relay keeps running. */
void warden__output_done(struct warden_output *o);

/* The last max_lines non-empty lines of len bytes of output, joined with
 * " | ", every byte outside printable ASCII shown as '?', cut to the last
 * max_bytes (then "..." in front). partial: the text may begin in the
 * middle of a line, which is then left out unless it is the only one.
 * NULL when there is no such line (or no memory). */
char *warden__output_last_lines(const char *text, size_t len, bool partial, size_t max_lines,
                                size_t max_bytes);

/* The relay's own loop (tests drive it with their own sockets): read fd in
 * until EOF, send each line to the syslog socket path (kind syslog) or the
 * bytes to the journal stream socket path (kind journal), keep the last
 * output in tail_fd (may be -1). Async-signal-safe: it runs in a child
 * forked from a multi-threaded process. */
void warden__output_relay(int in, int tail_fd, enum warden_output_kind kind, const char *ident,
                          const char *socket_path);
