/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file op.h
 * The wrapper: run an operation in a worker thread and wait for it against an
 * absolute deadline, as EXRES's OnlineWrapperThread watches the online thread
 * against PendingTimeOut.
 */
#pragma once

#include "warden/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * An operation. It gets the deadline too, and should itself return by then;
 * the wrapper is the guard for the one that does not.
 * @return 0 or -errno.
 */
typedef int (*warden_op_fn)(void *userdata, warden_usec_t deadline);

/**
 * Run @p fn(@p userdata, @p deadline) in a worker thread and wait until it
 * returns or the deadline passes. A worker that overruns is abandoned, not
 * cancelled: it keeps running until it returns, and must not touch anything
 * the caller frees after -ETIMEDOUT (pass it data it owns, or data that
 * lives until process exit).
 * @param ret_result the operation's return value; set only on success.
 * @return 0 when the operation finished in time, -ETIMEDOUT when it did not,
 *         -errno when the thread could not be started.
 */
int warden_op_run(warden_op_fn fn, void *userdata, warden_usec_t deadline, int *ret_result);

#ifdef __cplusplus
}
#endif
