/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wrapper and its worker. The result travels back through a slot guarded
 * by a mutex, with an eventfd to wake the waiting thread. The slot is shared
 * by reference count, so a worker abandoned at the deadline can still finish
 * and write into it after the wrapper has gone. Only one lock: slot->lock. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#include "util-int.h"
#include "warden/op.h"

struct slot {
    atomic_int refs;
    pthread_mutex_t lock;
    bool done;
    int result;
    int efd;
    warden_op_fn fn;
    void *userdata;
    warden_usec_t deadline;
};

static void slot_unref(struct slot *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    pthread_mutex_destroy(&s->lock);
    close(s->efd);
    free(s);
}

static void *worker(void *arg)
{
    struct slot *s = arg;
    int result = s->fn(s->userdata, s->deadline);
    pthread_mutex_lock(&s->lock);
    s->result = result;
    s->done = true;
    pthread_mutex_unlock(&s->lock);
    uint64_t one = 1;
    (void)!write(s->efd, &one, sizeof(one));
    slot_unref(s);
    return NULL;
}

int warden_op_run(warden_op_fn fn, void *userdata, warden_usec_t deadline, int *ret_result)
{
    struct slot *s = calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    s->efd = eventfd(0, EFD_CLOEXEC);
    if (s->efd < 0) {
        int r = negative_errno();
        free(s);
        return r;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->refs, 2);
    s->fn = fn;
    s->userdata = userdata;
    s->deadline = deadline;

    /* Joinable: a worker that finishes in time is joined, so nothing of it
     * outlives this call; only one that overruns is detached. */
    pthread_t tid;
    int r = -pthread_create(&tid, NULL, worker, s);
    if (r < 0) {
        atomic_store(&s->refs, 1);
        slot_unref(s);
        return r;
    }

    for (;;) {
        struct pollfd pfd = {.fd = s->efd, .events = POLLIN};
        int n = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        pthread_mutex_lock(&s->lock);
        bool done = s->done;
        int result = s->result;
        pthread_mutex_unlock(&s->lock);
        if (done) {
            pthread_join(tid, NULL);
            *ret_result = result;
            slot_unref(s);
            return 0;
        }
        if (n == 0) {
            pthread_detach(tid);
            slot_unref(s);
            return -ETIMEDOUT;
        }
    }
}
