/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The probe's step trace (trace-int.h). */
#include <stdatomic.h>
#include <stddef.h>

#include "trace-int.h"

static _Atomic(warden__trace_fn) trace_fn;
static void *_Atomic trace_userdata;

void warden__trace_set(warden__trace_fn fn, void *userdata)
{
    atomic_store(&trace_userdata, userdata);
    atomic_store(&trace_fn, fn);
}

void warden__trace_step(const char *step, warden_usec_t took, int result)
{
    warden__trace_fn fn = atomic_load_explicit(&trace_fn, memory_order_acquire);
    if (fn) {
        fn(atomic_load(&trace_userdata), step, took, result);
    }
}
