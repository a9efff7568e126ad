#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-daemon-recovery.sh - the warden daemon agent in a real
# cluster: Pacemaker runs "/bin/sleep 100000" through ocf:warden:daemon; we
# SIGKILL that service process and check that Pacemaker notices (the agent's
# monitor returns 7, "not running"), restarts it (a new process, Started, fail
# count 1), and that "crm resource stop" leaves no service process behind.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, cluster programs missing,
# or the agent is not installed at /usr/lib/ocf/resource.d/warden/daemon).
# Teardown runs from an EXIT trap, so a failing or interrupted test leaves no
# daemons behind.
#
# Knobs (environment):
#   DAEMON_EXPECT_FAILCOUNT  fail count expected after one kill (default 1).
#   DAEMON_RECOVER_TIMEOUT   seconds to wait for the recovery (default 30).
#   DAEMON_TEST_SELFTEST=anything  run the same flow with ocf:heartbeat:anything
#       instead of ocf:warden:daemon: only to check this script and the lab
#       when the warden agent is not built yet; it proves nothing about warden.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"

RSC="t-daemon"
SERVICE=(/bin/sleep 100000)          # the service the agent runs
MONITOR_INTERVAL=2
EXPECT_FAILCOUNT=${DAEMON_EXPECT_FAILCOUNT:-1}
START_TIMEOUT=30
RECOVER_TIMEOUT=${DAEMON_RECOVER_TIMEOUT:-30}
# The agent's run-time state for this resource: its "service" file has a line
# "main <pid> <starttime>" naming the service's main process. Used when it is
# there and names a live service process; the /proc walk works without it.
STATE_FILE=/run/warden/$RSC/service

if [[ ${DAEMON_TEST_SELFTEST:-} == anything ]]; then
    AGENT=ocf:heartbeat:anything
    AGENT_PATH=/usr/lib/ocf/resource.d/heartbeat/anything
    AGENT_PARAMS=(binfile="${SERVICE[0]}" cmdline_options="${SERVICE[*]:1}")
else
    AGENT=ocf:warden:daemon
    AGENT_PATH=/usr/lib/ocf/resource.d/warden/daemon
    AGENT_PARAMS=(command="${SERVICE[*]}")
fi

skip() { lab_skip "$@"; }
fail() { lab_fail "$@"; }
step() { lab_step "$@"; }

finish() {
    local rc=$?
    trap - EXIT
    # Never leave a service process of ours behind, even after a failure
    # (only those started after we created the resource: ours).
    local pid
    if [[ -n ${since:-} ]]; then
        for pid in $(service_pids); do
            echo "killing leftover service process $pid: $(lab_proc_cmdline "$pid")" >&2
            kill -KILL "$pid" 2>/dev/null || true
            rc=1
        done
    fi
    lab_test_exit "$rc"
}

why=$(lab_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
[[ -x $AGENT_PATH ]] ||
    skip "$AGENT is not installed ($AGENT_PATH missing): install the warden agents first"

# service_pids: PIDs of live "/bin/sleep 100000" processes started since the
# resource was created (an unrelated older one on the machine is ignored).
service_pids() {
    lab_proc_find --since "$since" "${SERVICE[@]}"
}

# service_pid: the one service process; fails unless there is exactly one.
# Prefers the agent's own record (main process in $STATE_FILE, checked against
# its start time and the /proc walk), else the /proc walk. Sets pid_source.
service_pid() {
    local pids key p st
    pids=$(service_pids)
    if [[ -r $STATE_FILE ]]; then
        while read -r key p st _; do
            [[ $key == main && $p =~ ^[0-9]+$ ]] || continue
            if lab_proc_alive "$p" "$st" && grep -qx "$p" <<< "$pids"; then
                pid_source=$STATE_FILE
                echo "$p"
                return 0
            fi
        done < "$STATE_FILE"
    fi
    [[ -n $pids && $(wc -l <<< "$pids") == 1 ]] || return 1
    pid_source=/proc
    echo "$pids"
}

# recovered OLD_PID: a new service process runs, Pacemaker shows the resource
# Started and has counted the failure.
recovered() {
    local p
    p=$(service_pid) || return 1
    [[ $p != "$1" ]] || return 1
    lab_rsc_is "$RSC" Started "$LAB_NODE" || return 1
    [[ $(lab_failcount "$RSC") != 0 ]]
}

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "cluster up"
lab_up || fail "lab_up failed (see above)"

step "create $RSC ($AGENT ${AGENT_PARAMS[*]}, monitor every ${MONITOR_INTERVAL}s)"
since=$(lab_ticks_now)
t0=$(lab_now)
lab_crm configure primitive "$RSC" "$AGENT" params "${AGENT_PARAMS[@]}" \
    op monitor interval="${MONITOR_INTERVAL}s" timeout=20s ||
    fail "could not create $RSC"
lab_wait_for -t "$START_TIMEOUT" lab_rsc_is "$RSC" Started "$LAB_NODE" ||
    fail "$RSC not Started on $LAB_NODE (state: $(lab_rsc_state "$RSC"))"
echo "timing: $RSC Started $(lab_elapsed "$t0") s after crm configure" >&2
lab_wait_for -t 5 service_pid >/dev/null ||
    fail "no single '${SERVICE[*]}' process while $RSC is Started (found: $(service_pids | xargs))"
old=$(service_pid)
echo "service process: pid $old (found via ${pid_source:-?}): $(lab_proc_cmdline "$old")" >&2
fc=$(lab_failcount "$RSC")
[[ $fc == 0 ]] || fail "fail count of $RSC is $fc before any failure"

step "SIGKILL the service process $old, wait for Pacemaker to recover $RSC"
kill -KILL "$old"
t0=$(lab_now)
lab_wait_for -t "$RECOVER_TIMEOUT" recovered "$old" ||
    fail "$RSC not recovered in ${RECOVER_TIMEOUT}s (state: $(lab_rsc_state "$RSC"), fail count $(lab_failcount "$RSC"), service pids: $(service_pids | xargs))"
echo "timing: $RSC recovered $(lab_elapsed "$t0") s after the kill (monitor interval ${MONITOR_INTERVAL}s)" >&2
new=$(service_pid)
echo "new service process: pid $new (found via ${pid_source:-?})" >&2
! lab_proc_alive "$old" || fail "the killed service process $old is still alive"
fc=$(lab_failcount "$RSC")
failed=$(lab_failed_actions --list)
echo "fail count: $fc; failed actions: ${failed//$'\n'/; }" >&2
grep -q "^${RSC}_" <<< "$failed" || fail "no failed action of $RSC is listed"
if [[ $fc != "$EXPECT_FAILCOUNT" ]]; then
    hint=""
    [[ $fc == $(( 2 * EXPECT_FAILCOUNT )) ]] &&
        hint=" (Pacemaker 2.1.5 counts a failure reported through pcmk_controld_api_fail, i.e. crm_resource --fail, twice; fixed in 2.1.6)"
    fail "fail count of $RSC is $fc after one kill, expected $EXPECT_FAILCOUNT$hint"
fi

step "stop $RSC"
t0=$(lab_now)
lab_crm resource stop "$RSC" || fail "crm resource stop $RSC failed"
lab_wait_for -t "$START_TIMEOUT" lab_rsc_is "$RSC" Stopped ||
    fail "$RSC not Stopped (state: $(lab_rsc_state "$RSC"))"
echo "timing: $RSC Stopped $(lab_elapsed "$t0") s after crm resource stop" >&2
left=$(service_pids | xargs)
[[ -z $left ]] || fail "$RSC is Stopped but service processes are left: $left"

step "cluster down"
lab_down || fail "the cluster did not go down cleanly"
