#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-degraded.sh - degraded (OCF 1.1 rc 190, issue 12) in the
# one-node cluster, with the installed ocf:warden:daemon and warden(8):
#   - a service whose check takes 300 ms, slow_threshold=100ms: once 5
#     checks are in, the recurring monitor answers 190; crm_mon shows it
#     among the failed actions (rc 190, "degraded") with the keeper's reason
#     ("exec: median check 300ms over the last N, threshold 100ms"), and
#     warden status says degraded;
#   - no recovery: the same main process runs through several monitor
#     intervals, and the fail count stays 0;
#   - slow_threshold raised to 10s (crm_resource --set-parameter: a reload,
#     not a restart): the monitor answers 0 again (its op in the CIB has
#     rc-code 0), warden status says running, the same main process runs,
#     the fail count is still 0.
# Exit status: 0 pass, 1 fail, 77 skip (see lab_check_prereqs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"
. "$here/warden-state.sh"

RSC=slowsvc
MONITOR_INTERVAL=2
marker=$((100000 + RANDOM))

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
[[ -x /usr/lib/ocf/resource.d/warden/daemon ]] ||
    skip "ocf:warden:daemon is not installed (scripts/install.sh installs it)"
command -v warden >/dev/null 2>&1 || skip "warden(8) is not installed (scripts/install.sh installs it)"
command -v python3 >/dev/null 2>&1 || skip "python3 is missing (it reads warden --json)"

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# warden_state: what warden(8) says of the resource.
warden_state() {
    warden --json status "$RSC" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null
}

# degraded_action: the failed action of the monitor, rc 190, with our reason.
degraded_action() {
    lab_failed_actions --list | grep -E "^${RSC}_monitor_${MONITOR_INTERVAL}000 .*rc=190 .*median check"
}

# monitor_rc: the rc-code of the recurring monitor's last run, from the CIB.
monitor_rc() {
    env -u CIB_file cibadmin -Q --xpath \
        "//lrm_resource[@id='$RSC']/lrm_rsc_op[@operation='monitor' and @interval='${MONITOR_INTERVAL}000']" \
        2>/dev/null | sed -n 's/.* rc-code="\([0-9]*\)".*/\1/p' | head -1
}

step "cluster up"
lab_up || fail "lab_up failed (see above)"

step "$RSC: a check of 300 ms, slow_threshold=100ms, monitor every ${MONITOR_INTERVAL}s"
lab_crm configure primitive "$RSC" ocf:warden:daemon \
    params command="/bin/sleep $marker" check="exec:/bin/sleep 0.3" check_interval=1s \
    slow_threshold=100ms \
    op monitor interval="${MONITOR_INTERVAL}s" timeout=20s || fail "could not create $RSC"
lab_wait_for -t 30 lab_rsc_is "$RSC" Started "$LAB_NODE" ||
    fail "$RSC not Started (state: $(lab_rsc_state "$RSC"); failed: $(lab_failed_actions --list))"
lab_wait_for -t 5 main_pid "$RSC" >/dev/null || fail "no live main process in /run/warden/$RSC/service"
pid=$(main_pid "$RSC")

step "$RSC: degraded once the median is in"
t0=$(lab_now)
lab_wait_for -t 30 degraded_action >/dev/null ||
    fail "no failed action with rc 190 (failed: $(lab_failed_actions --list); warden: $(warden_state))"
echo "timing: degraded shown $(lab_elapsed "$t0") s after the start" >&2
echo "failed action: $(degraded_action)" >&2
mon=$(env -u CIB_file crm_mon -1 2>/dev/null) || fail "crm_mon failed"
grep -q "OCF_DEGRADED" <<< "$mon" || fail "crm_mon does not say degraded: $mon"
printf '%s\n' "$mon" | grep -i -A1 "failed" | sed 's/^/crm_mon: /' >&2 || true
[[ $(warden_state) == degraded ]] || fail "warden status says '$(warden_state)', not degraded"

step "$RSC: no recovery, no count, through 3 monitor intervals"
sleep $((3 * MONITOR_INTERVAL))
[[ $(main_pid "$RSC") == "$pid" ]] || fail "the service was restarted (main process $pid, now $(main_pid "$RSC" || echo none))"
[[ $(lab_failcount "$RSC") == 0 ]] || fail "fail count is $(lab_failcount "$RSC"), not 0"
lab_rsc_is "$RSC" Started "$LAB_NODE" || fail "$RSC is not Started: $(lab_rsc_state "$RSC")"

step "$RSC: slow_threshold=10s (a reload): back to 0"
env -u CIB_file crm_resource --resource "$RSC" --set-parameter slow_threshold \
    --parameter-value 10s >/dev/null || fail "crm_resource --set-parameter failed"
t0=$(lab_now)
lab_wait_for -t 30 '[[ $(monitor_rc) == 0 ]]' ||
    fail "the monitor does not answer 0 again (rc-code $(monitor_rc); warden: $(warden_state))"
echo "timing: monitor 0 again $(lab_elapsed "$t0") s after the change" >&2
[[ $(warden_state) == running ]] || fail "warden status says '$(warden_state)', not running"
[[ $(main_pid "$RSC") == "$pid" ]] || fail "the change restarted the service (main process $pid, now $(main_pid "$RSC" || echo none))"
[[ $(lab_failcount "$RSC") == 0 ]] || fail "fail count is $(lab_failcount "$RSC"), not 0"
echo "failed actions after clearing (Pacemaker may keep the 190 until a cleanup): $(lab_failed_actions --list)" >&2

step "$RSC: stop"
lab_crm resource stop "$RSC" || fail "crm resource stop $RSC failed"
lab_wait_for -t 30 lab_rsc_is "$RSC" Stopped || fail "$RSC not Stopped (state: $(lab_rsc_state "$RSC"))"
! lab_proc_alive "$pid" || fail "$RSC is Stopped but its service $pid runs"
lab_crm configure delete "$RSC" || fail "could not delete $RSC"

step "cluster down"
lab_down || fail "the cluster did not go down cleanly"
