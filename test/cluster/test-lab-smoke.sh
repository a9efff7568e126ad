#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-lab-smoke.sh - proves the cluster lab works end to end:
# bring up a one-node cluster, run an ocf:pacemaker:Dummy with a 5 s monitor,
# make its monitor fail (delete the Dummy's state file: its monitor then
# returns 7, "not running"), check that Pacemaker recovers it (Started again,
# fail count 1), stop it, tear the cluster down.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, or cluster programs missing).
# Teardown runs from an EXIT trap, so a failing or interrupted test leaves no
# daemons behind.
#
# Knobs (environment): SMOKE_START_TIMEOUT, SMOKE_RECOVER_TIMEOUT (seconds),
# plus the LAB_* settings of lab.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"

RSC=smoke-dummy
MONITOR_INTERVAL=5
START_TIMEOUT=${SMOKE_START_TIMEOUT:-30}
# A monitor failure is seen at the next monitor, up to one interval later;
# the restart itself takes well under a second.
RECOVER_TIMEOUT=${SMOKE_RECOVER_TIMEOUT:-$(( MONITOR_INTERVAL * 3 + 10 ))}

skip() { lab_skip "$@"; }
fail() { lab_fail "$@"; }
step() { lab_step "$@"; }

finish() {
    local rc=$?
    trap - EXIT
    lab_test_exit "$rc"
}

why=$(lab_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
[[ -x /usr/lib/ocf/resource.d/pacemaker/Dummy ]] || skip "ocf:pacemaker:Dummy is missing (package pacemaker-resource-agents)"

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "lab_proc_find: the same program in another PID namespace is not ours"
# As a node of the systemd lab (test/lab/plab.sh) runs Pacemaker's daemons:
# this lab's tests must not take them for their own.
unshare --pid --fork --kill-child sleep 47474 &
other=$!
sleep 47474 &
mine=$!
sleeps() {
    local d n=0
    for d in /proc/[0-9]*; do
        [[ $(tr '\0' ' ' 2>/dev/null <"$d/cmdline") == 'sleep 47474 ' ]] && n=$((n + 1))
    done
    echo "$n"
}
lab_wait_for -t 5 '[[ $(sleeps) == 2 ]]' || fail "the two sleeps did not start"
found=$(lab_proc_find sleep 47474)
# SIGKILL: unshare ignores SIGTERM while it waits; --kill-child ends its child.
kill -KILL "$other" "$mine"
wait "$other" "$mine" 2>/dev/null || true
[[ $found == "$mine" ]] || fail "lab_proc_find sleep 47474 found '${found//$'\n'/ }', want only $mine"

step "cluster up"
lab_up || fail "lab_up failed (see above)"

state_file=$LAB_DIR/$RSC.state
step "create $RSC (ocf:pacemaker:Dummy, monitor every ${MONITOR_INTERVAL}s)"
t0=$(lab_now)
lab_crm configure primitive "$RSC" ocf:pacemaker:Dummy \
    params state="$state_file" \
    op monitor interval="${MONITOR_INTERVAL}s" timeout=20s ||
    fail "could not create $RSC"
lab_wait_for -t "$START_TIMEOUT" lab_rsc_is "$RSC" Started "$LAB_NODE" ||
    fail "$RSC not Started on $LAB_NODE (state: $(lab_rsc_state "$RSC"))"
echo "timing: $RSC Started $(lab_elapsed "$t0") s after crm configure" >&2
[[ -f $state_file ]] || fail "Dummy's state file $state_file does not exist while Started"
fc=$(lab_failcount "$RSC")
[[ $fc == 0 ]] || fail "fail count of $RSC is $fc before any failure"

step "break $RSC: delete its state file, wait for Pacemaker to recover it"
rm -f "$state_file"
t0=$(lab_now)
# shellcheck disable=SC2016 # evaluated by lab_wait_for, on every attempt
lab_wait_for -t "$RECOVER_TIMEOUT" \
    '[[ $(lab_failcount "$RSC") != 0 ]] && lab_rsc_is "$RSC" Started "$LAB_NODE"' ||
    fail "$RSC not recovered in ${RECOVER_TIMEOUT}s (state: $(lab_rsc_state "$RSC"), fail count $(lab_failcount "$RSC"))"
echo "timing: $RSC recovered $(lab_elapsed "$t0") s after its failure (monitor interval ${MONITOR_INTERVAL}s)" >&2
fc=$(lab_failcount "$RSC")
[[ $fc == 1 ]] || fail "fail count of $RSC is $fc, expected 1"
[[ -f $state_file ]] || fail "$RSC is Started again but its state file was not recreated"
failed=$(lab_failed_actions --list)
echo "failed actions: $failed" >&2
[[ $failed == "${RSC}_monitor_$(( MONITOR_INTERVAL * 1000 )) node=$LAB_NODE rc=7 "* ]] ||
    fail "expected one failed monitor with rc=7, got: $failed"

step "stop $RSC"
t0=$(lab_now)
lab_crm resource stop "$RSC" || fail "crm resource stop $RSC failed"
lab_wait_for -t "$START_TIMEOUT" lab_rsc_is "$RSC" Stopped ||
    fail "$RSC not Stopped (state: $(lab_rsc_state "$RSC"))"
echo "timing: $RSC Stopped $(lab_elapsed "$t0") s after crm resource stop" >&2
[[ ! -e $state_file ]] || fail "$RSC is Stopped but its state file is still there"

step "cluster down"
lab_down || fail "the cluster did not go down cleanly"
