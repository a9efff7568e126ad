#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-watchdog.sh - a missed sd_notify watchdog recovered in a
# real (one-node) cluster (issue 13). Pacemaker runs a small sd_notify
# service (test/agent/notify-service.py, mode watchdog-until) through
# ocf:warden:daemon with ready=notify and watchdog=2s, its check a plain
# 'process' every 60 s and its monitor every 30 s, so that nothing but the
# watchdog can find the hang in time. The service pings WATCHDOG=1 until the
# test tells it to stop (a file), then stays alive and silent: the keeper
# must call it hung, push the failure, and Pacemaker must run a new main
# process, within watchdog + 2 s of the last ping, with fail count 1, the
# failure's reason (warden-failure-<rsc>, crm_mon -A) naming the watchdog
# and the service's last STATUS=. Then stop leaves no process of it.
#
# Exit status: 0 pass, 1 fail, 77 skip (see lab_check_prereqs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"
. "$here/warden-state.sh"

RSC=t-watchdog
WATCHDOG=2 # seconds
MARGIN=2   # seconds, for the push and the restart (the issue's "+ 2 s")
AGENT_PATH=/usr/lib/ocf/resource.d/warden/daemon

skip() { lab_skip "$@"; }
fail() { lab_fail "$@"; }
step() { lab_step "$@"; }

tmp=
finish() {
    local rc=$?
    trap - EXIT
    local p
    if [[ -n $tmp ]]; then
        for p in $(pgrep -f "$tmp/notify-service.py" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        rm -rf "$tmp"
    fi
    lab_test_exit "$rc"
}

why=$(lab_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
[[ -x $AGENT_PATH ]] || skip "ocf:warden:daemon is not installed ($AGENT_PATH): scripts/install.sh installs it"
[[ -x /usr/bin/python3 ]] || fail "/usr/bin/python3 is missing (the test's service)"
# Not "meta-data | grep -q": under pipefail, grep's early exit is the
# agent's SIGPIPE, a failed pipeline.
md=$("$AGENT_PATH" meta-data 2>/dev/null) || true
grep -q 'parameter name="watchdog"' <<<"$md" ||
    fail "the installed ocf:warden:daemon has no watchdog parameter: install this tree's (scripts/install.sh)"

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tmp=$(mktemp -d /tmp/warden-watchdog.XXXXXX)
chmod 0755 "$tmp"
cp "$src/test/agent/notify-service.py" "$tmp/"
chmod 0755 "$tmp/notify-service.py"
silence=$tmp/stop-pinging

# running_again OLD_PID: a new main process runs and the resource is
# Started. (The fail count is checked apart: on Pacemaker before 2.1.6
# warden-push settles it after the recovery, see the README.)
running_again() {
    local p
    p=$(main_pid "$RSC") || return 1
    [[ $p != "$1" ]] && lab_rsc_is "$RSC" Started "$LAB_NODE"
}

failure_reason() {
    env -u CIB_file crm_mon -1 -A 2>/dev/null | sed -n "s/^[[:space:]]*\* warden-failure-$RSC[[:space:]]*: //p"
}

step "cluster up"
lab_up || fail "lab_up failed (see above)"

step "$RSC: ocf:warden:daemon, ready=notify, watchdog=${WATCHDOG}s, check every 60s, monitor every 30s"
lab_crm configure primitive "$RSC" ocf:warden:daemon \
    params command="$tmp/notify-service.py $tmp watchdog-until $silence" ready=notify \
    watchdog="${WATCHDOG}s" check=process check_interval=60s output=null \
    op start timeout=20s op stop timeout=20s op monitor interval=30s timeout=20s ||
    fail "could not create $RSC"
lab_wait_for -t 30 lab_rsc_is "$RSC" Started "$LAB_NODE" ||
    fail "$RSC not Started (state: $(lab_rsc_state "$RSC"); failed: $(lab_failed_actions --list))"
lab_wait_for -t 5 main_pid "$RSC" >/dev/null || fail "$RSC: no live main process in /run/warden/$RSC/service"
pid=$(main_pid "$RSC")
grep -qx "WATCHDOG_USEC=$((WATCHDOG * 1000000))" "$tmp/env" ||
    fail "$RSC: the service did not get WATCHDOG_USEC ($(cat "$tmp/env"))"
[[ $(lab_failcount "$RSC") == 0 ]] || fail "$RSC: fail count $(lab_failcount "$RSC") before the test"

step "$RSC: pinging for $((WATCHDOG * 2)) s is healthy"
sleep $((WATCHDOG * 2))
[[ $(main_pid "$RSC") == "$pid" && $(lab_failcount "$RSC") == 0 ]] ||
    fail "$RSC: a service that pings its watchdog was recovered (main $(main_pid "$RSC"), count $(lab_failcount "$RSC"))"

step "$RSC: the service ($pid) stops pinging, alive and silent"
touch "$silence"
t0=$(lab_now)
lab_wait_for -t 30 -i 0.1 running_again "$pid" ||
    fail "$RSC not recovered (state: $(lab_rsc_state "$RSC"), count $(lab_failcount "$RSC"), main $(main_pid "$RSC" || echo none))"
took=$(lab_elapsed "$t0")
echo "timing: $RSC running again $took s after its last ping (watchdog ${WATCHDOG}s)" >&2
awk -v t="$took" -v max="$((WATCHDOG + MARGIN))" 'BEGIN { exit !(t <= max) }' ||
    fail "$RSC: recovered after $took s, not within watchdog + ${MARGIN} s ($((WATCHDOG + MARGIN)) s)"
! lab_proc_alive "$pid" || fail "$RSC: the silent service $pid survived the recovery"
lab_wait_for -t 15 '[[ $(lab_failcount "$RSC") == 1 ]]' ||
    fail "$RSC: fail count $(lab_failcount "$RSC") after one missed watchdog, not 1"
sleep 6 # a count that would go on to 2 (counted twice) does so by now
[[ $(lab_failcount "$RSC") == 1 ]] || fail "$RSC: fail count $(lab_failcount "$RSC") after one missed watchdog, not 1"
lab_wait_for -t 15 '[[ $(failure_reason) == *"no WATCHDOG=1 within ${WATCHDOG}s"* ]]' ||
    fail "$RSC: warden-failure-$RSC (crm_mon -A) does not name the watchdog: '$(failure_reason)'"
[[ $(failure_reason) == *"status: 'silent since"* ]] ||
    fail "$RSC: warden-failure-$RSC does not carry the service's last STATUS=: '$(failure_reason)'"
echo "$RSC: warden-failure-$RSC: $(failure_reason)" >&2

step "$RSC: the new service pings again and stays"
pid=$(main_pid "$RSC")
sleep $((WATCHDOG * 2))
[[ $(main_pid "$RSC") == "$pid" && $(lab_failcount "$RSC") == 1 ]] ||
    fail "$RSC: the recovered service did not stay (main $(main_pid "$RSC" || echo none), count $(lab_failcount "$RSC"))"

step "$RSC: stop"
lab_crm resource stop "$RSC" || fail "crm resource stop $RSC failed"
lab_wait_for -t 30 lab_rsc_is "$RSC" Stopped || fail "$RSC not Stopped (state: $(lab_rsc_state "$RSC"))"
! lab_proc_alive "$pid" || fail "$RSC is Stopped but its service $pid runs"
[[ ! -e /run/warden/.notify/$RSC ]] || fail "$RSC: its NOTIFY_SOCKET is left after the stop"
lab_crm configure delete "$RSC" || fail "could not delete $RSC"

step "cluster down"
lab_down || fail "the cluster did not go down cleanly"
