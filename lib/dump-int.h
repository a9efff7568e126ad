/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dump's room: dumps of a failed or stuck service, for diagnosis, taken
 * before it is recovered.
 *   dump.c         the dump itself, public (warden/dump.h): stacks and
 *                  cores of a list of processes into a safe directory,
 *                  within a budget, with retention
 *   dump-helper.c  the dump helper (this header, private): a detached
 *                  process (this binary, in an internal mode) that dumps an
 *                  instance's processes and reports where the dump went. Run
 *                  by the keeper before it pushes a failed or hung check, by
 *                  a start that ran over before it kills, by a stop before
 *                  its SIGKILL. A detached process of its own: the keeper's
 *                  loop goes on while a dump is taken (it watches the
 *                  helper's exit and report from the loop), and whoever runs
 *                  it bounds it by a deadline, however long eu-stack or
 *                  gcore take. Private. */
#pragma once

#include <sys/types.h>

#include "param-int.h"
#include "service-int.h"

#define WARDEN_DUMP_ACTION "__warden_dump"

/* Whether dumps are on for these parameters. */
bool warden__dump_enabled(const warden_params *p);

/* The "NAME=value" environment that hands the dump_* parameters of p to the
 * helper (the keeper's may have been reloaded since it started). NULL-
 * terminated; free with warden__strv_free. */
char **warden__dump_env(const warden_params *p);

/* Start the helper; it stops at the deadline. ret_report_fd reads the path
 * of the dump (one line) once it is written. */
pid_t warden__dump_spawn(const warden_params *p, const char *instance, const char *reason,
                         warden_usec_t deadline, int *ret_report_fd);

/* Start the helper and wait for it until the deadline. ret_path: where the
 * dump is, when one was written. */
int warden__dump_run(const warden_params *p, const char *instance, const char *reason,
                     warden_usec_t deadline, char **ret_path);

/* Read the helper's report: the dump's path, or NULL. */
char *warden__dump_read_report(int fd);

/* The helper process. Exit status for main(). */
int warden__dump_main(const warden_params *p, const char *instance, int argc, char **argv);
