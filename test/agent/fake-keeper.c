/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fake-keeper INSTANCE VICTIM_PID HEALTH LOG: any local user serving a keeper's
 * IPC name (warden__keeper_ipc_name: an abstract socket name, first come first served), answering
 * every request with a forged verdict that names VICTIM_PID as the keeper
 * and HEALTH as the service's health, and appending every request body it
 * receives to LOG. The security review's reproducer of H1, for the trust
 * tests; never part of warden. */
#include <qb/qbipcs.h>
#include <qb/qbloop.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "keeper-int.h"

static int victim, health;
static const char *log_path;
static qb_loop_t *loop;

static int32_t accept_all(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
    return 0;
}

static int32_t answer(qb_ipcs_connection_t *c, void *data, size_t size)
{
    const struct qb_ipc_request_header *req = data;
    struct warden_ipc_response resp = {0};
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    resp.hdr.id = req->id;
    resp.hdr.size = sizeof(resp);
    resp.verdict.health = health;
    resp.verdict.at_usec = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
    resp.verdict.check_interval_usec = 10000000;
    resp.verdict.check_timeout_usec = 5000000;
    resp.verdict.keeper_pid = victim;
    FILE *f = fopen(log_path, "ae");
    if (f) {
        fprintf(f, "request %d: %.*s\n", (int)req->id, (int)(size - sizeof(*req)),
                (const char *)data + sizeof(*req));
        fclose(f);
    }
    qb_ipcs_response_send(c, &resp, sizeof(resp));
    return 0;
}

static int32_t job_add(enum qb_loop_priority p, void *d, qb_loop_job_dispatch_fn fn)
{
    return qb_loop_job_add(loop, p, d, fn);
}

static int32_t poll_add(enum qb_loop_priority p, int32_t fd, int32_t ev, void *d,
                        qb_ipcs_dispatch_fn_t fn)
{
    return qb_loop_poll_add(loop, p, fd, ev, d, fn);
}

static int32_t poll_mod(enum qb_loop_priority p, int32_t fd, int32_t ev, void *d,
                        qb_ipcs_dispatch_fn_t fn)
{
    return qb_loop_poll_mod(loop, p, fd, ev, d, fn);
}

static int32_t poll_del(int32_t fd)
{
    return qb_loop_poll_del(loop, fd);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s INSTANCE VICTIM_PID HEALTH LOG\n", argv[0]);
        return 2;
    }
    victim = atoi(argv[2]);
    health = atoi(argv[3]);
    log_path = argv[4];
    loop = qb_loop_create();
    static struct qb_ipcs_service_handlers handlers = {.connection_accept = accept_all,
                                                       .msg_process = answer};
    static struct qb_ipcs_poll_handlers poll = {.job_add = job_add,
                                                .dispatch_add = poll_add,
                                                .dispatch_mod = poll_mod,
                                                .dispatch_del = poll_del};
    char *name = NULL;
    if (warden__keeper_ipc_name(argv[1], &name) < 0) {
        return 1;
    }
    qb_ipcs_service_t *s = qb_ipcs_create(name, 0, QB_IPC_SOCKET, &handlers);
    qb_ipcs_poll_handlers_set(s, &poll);
    if (qb_ipcs_run(s) < 0) {
        return 1;
    }
    qb_loop_run(loop);
    return 0;
}
