/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file dump.h
 * Dumps of a stuck service for diagnosis, before it is recovered: EXRES's
 * DumpProcessOnIsAliveFailure and ProcessDumpDirPath.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "warden/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Where and what to dump. Initialise it with a designated initializer;
 *  the fields after `size` only ever grow at the end (agent.h,
 *  "Extensibility"). */
struct warden_dump_options {
    /** sizeof(struct warden_dump_options), or 0 for the fields of 1.0 (dir,
     *  core, keep, max_bytes): the library reads only what is within it. */
    size_t size;
    const char *dir;    /**< created 0700 if missing; never followed as a symlink */
    bool core;          /**< also a core of each process (gcore), if time and size allow */
    unsigned keep;      /**< keep the newest N dumps of the instance; 0 keeps all */
    uint64_t max_bytes; /**< cores that would pass this (all of one dump) are not written */
};

/**
 * Dump processes without stopping them for long: one text file with, per
 * thread, the kernel stack, wchan and syscall, and the user-space backtrace
 * from eu-stack (elfutils) when installed; then, with @p o->core, a core of
 * each process by gcore (gdb) when installed, while time remains. Files are
 * named `<instance>-<UTC time>-<reason>.stacks` and `....core.<PID>`, mode
 * 0600, created with O_EXCL|O_NOFOLLOW; an instance name of more than 100
 * bytes (or one with '/' or a leading '.') is shortened to a prefix, '~' and
 * a hash of the whole name, so that every name fits NAME_MAX. Never runs
 * past @p deadline.
 * @param reason a short tag for the file name, e.g. "hung": no '/' or '.'.
 * @param ret_path the stacks file's path (free it); set when it was written.
 * @return 0, or -errno when not even the stacks file could be written (a
 *         full disk, a read-only or unsafe directory; -EINVAL for an empty
 *         instance or a bad reason, -ENAMETOOLONG for a reason too long,
 *         -E2BIG when @p o sets fields this library does not know).
 */
int warden_dump_processes(const struct warden_dump_options *o, const char *instance,
                          const char *reason, const pid_t *pids, size_t n_pids,
                          warden_usec_t deadline, char **ret_path);

/**
 * Parse a size: bytes, or a number with K, M, G (or KiB, MiB, GiB; powers of
 * 1024). @return 0 or -EINVAL.
 */
int warden_size_parse(const char *text, uint64_t *ret);

#ifdef __cplusplus
}
#endif
