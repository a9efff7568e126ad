#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-counts.sh - one failure, one count (issue 10), in a real
# single-node cluster with the installed ocf:warden:daemon:
#  1. three resources monitored every 1 s, 2 s and 10 s; their service
#     processes are killed (SIGKILL) COUNTS_CRASHES times each (default 10),
#     one at a time. After each kill: the resource runs again (a new
#     process) and its fail count, once settled, is exactly one more;
#  2. migration-threshold=3: after the first and second kill the resource
#     runs again, after the third it is stopped (one node: nowhere to go),
#     never earlier;
#  3. the reason reaches the operator: after a push, the node attribute
#     warden-failure-<rsc> holds the keeper's reason (what crm_mon -A shows);
#  4. attrd stalled (corosync stopped 2.5 s) at several points of a push:
#     still one count;
#  5. a storm: COUNTS_STORM (default 50) resources, every service killed at
#     once; all run again, each counted exactly once, the controller is
#     never respawned (same pid, no "Evicting" in the log).
# The kill is pushed by the keeper (warden-push); a recurring monitor that
# runs meanwhile must leave the count to the push (it waits until the
# recovery cancels it), and on Pacemaker 2.1.5 warden-push settles the
# double count of the push itself (lib/cluster.c).
#
# Exit status: 0 pass, 1 fail, 77 skip. Teardown from an EXIT trap.
# Knobs: COUNTS_CRASHES, COUNTS_STORM, COUNTS_PHASES (default "intervals
# threshold stall storm"; meson runs "storm" as a test of its own).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"

AGENT_PATH=/usr/lib/ocf/resource.d/warden/daemon
CRASHES=${COUNTS_CRASHES:-10}
STORM=${COUNTS_STORM:-50}
PHASES=${COUNTS_PHASES:-intervals threshold stall storm}
RECOVER_TIMEOUT=30
# A double count shows within a second or two of the recovery (the second
# increment, or a monitor that reported too): the count must hold this long.
SETTLE=2

skip() { lab_skip "$@"; }
fail() { lab_fail "$@"; }
step() { lab_step "$@"; }

trap 'lab_test_exit $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

why=$(lab_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
[[ -x $AGENT_PATH ]] || skip "ocf:warden:daemon is not installed ($AGENT_PATH)"

# main_pid RSC: the service's main process, from the agent's state.
main_pid() {
    local key p st
    [[ -r /run/warden/$1/service ]] || return 1
    while read -r key p st _; do
        if [[ $key == main ]] && lab_proc_alive "$p" "$st"; then
            echo "$p"
            return 0
        fi
    done < "/run/warden/$1/service"
    return 1
}

# running_anew RSC OLD_PID: a new main process runs and Pacemaker says Started.
running_anew() {
    local p
    p=$(main_pid "$1") || return 1
    [[ $p != "$2" ]] && lab_rsc_is "$1" Started "$LAB_NODE"
}

# counts_of RSC: RSC's fail counts per operation, for messages.
counts_of() {
    env -u CIB_file cibadmin -Q -o status 2>/dev/null |
        grep -o "name=\"fail-count-$1#[^\"]*\" value=\"[^\"]*\"" | xargs || true
}

count_is() { [[ $(lab_failcount "$1") == "$2" ]]; }

# settled RSC WANT: the fail count is WANT now and still WANT SETTLE s later.
settled() {
    local fc
    lab_wait_for -q -t 15 count_is "$1" "$2" || return 1
    sleep "$SETTLE"
    fc=$(lab_failcount "$1")
    [[ $fc == "$2" ]]
}

# crash RSC N: kill RSC's service, wait for it to run again with fail count N.
crash() {
    local rsc=$1 want=$2 old t0 fc
    old=$(main_pid "$rsc") || fail "$rsc: no main process before kill $want"
    t0=$(lab_now)
    kill -KILL "$old"
    lab_wait_for -q -t "$RECOVER_TIMEOUT" running_anew "$rsc" "$old" ||
        fail "$rsc: not running again ${RECOVER_TIMEOUT}s after kill $want (state: $(lab_rsc_state "$rsc"))"
    local took
    took=$(lab_elapsed "$t0")
    if ! settled "$rsc" "$want"; then
        fail "$rsc: fail count $(lab_failcount "$rsc") after kill $want, want exactly $want ($(counts_of "$rsc"))"
    fi
    echo "$rsc kill $want: running again after ${took}s, fail count $want" >&2
}

step "cluster up"
lab_up || fail "lab_up failed (see above)"
ctl_pid=$(lab_proc_find pacemaker-controld | head -n1)
mark=$(lab_log_mark)

if [[ " $PHASES " == *" intervals "* ]]; then
    step "fail counts at monitor intervals 1s, 2s, 10s: $CRASHES kills each"
    for iv in 1 2 10; do
        lab_crm configure primitive "counts-i$iv" ocf:warden:daemon \
            params command="/bin/sleep 1000$iv" \
            op monitor interval="${iv}s" timeout=20s ||
            fail "could not create counts-i$iv"
    done
    for iv in 1 2 10; do
        lab_wait_for -t 30 lab_rsc_is "counts-i$iv" Started "$LAB_NODE" ||
            fail "counts-i$iv not Started"
    done
    for (( k = 1; k <= CRASHES; k++ )); do
        for iv in 1 2 10; do
            crash "counts-i$iv" "$k"
        done
    done
    # The monitors of the failures never counted: every count is asyncmon's.
    for iv in 1 2 10; do
        monitor_counts=$(env -u CIB_file cibadmin -Q -o status |
            grep -o "name=\"fail-count-counts-i$iv#monitor_[^\"]*\" value=\"[^\"]*\"" || true)
        [[ -z $monitor_counts ]] ||
            echo "note: counts-i$iv has monitor counts: $monitor_counts (a monitor reported a failure)" >&2
    done
    for iv in 1 2 10; do
        lab_crm resource stop "counts-i$iv" || true
    done
fi

if [[ " $PHASES " == *" threshold "* ]]; then
    step "migration-threshold=3: stopped on the third failure, never earlier"
    lab_crm configure primitive counts-thr ocf:warden:daemon \
        params command="/bin/sleep 10003" \
        op monitor interval=2s timeout=20s meta migration-threshold=3 ||
        fail "could not create counts-thr"
    lab_wait_for -t 30 lab_rsc_is counts-thr Started "$LAB_NODE" || fail "counts-thr not Started"
    crash counts-thr 1
    crash counts-thr 2
    lab_rsc_is counts-thr Started "$LAB_NODE" || fail "counts-thr not Started after 2 failures"
    old=$(main_pid counts-thr)
    kill -KILL "$old"
    lab_wait_for -t "$RECOVER_TIMEOUT" lab_rsc_is counts-thr Stopped ||
        fail "counts-thr not stopped after its third failure (state: $(lab_rsc_state counts-thr), fail count $(lab_failcount counts-thr))"
    settled counts-thr 3 ||
        fail "counts-thr: fail count $(lab_failcount counts-thr) after 3 failures ($(counts_of counts-thr))"
    echo "counts-thr: Stopped after the third failure, fail count 3" >&2

    step "the reason reaches the operator (crm_mon -A)"
    # written to the CIB 5 s after the push (warden-push's NOTE_DELAY)
    lab_wait_for -t 15 '[[ $(env -u CIB_file crm_mon -1 -A 2>&1) == *warden-failure-counts-thr* ]]' || true
    attrs=$(env -u CIB_file crm_mon -1 -A 2>&1)
    line=$(grep -F "warden-failure-counts-thr" <<< "$attrs" || true)
    echo "crm_mon -A: ${line# }" >&2
    [[ $line == *"service process "*" exited at "* ]] ||
        fail "crm_mon -A does not show warden's reason for counts-thr: $attrs"
    step "the note goes when the failures are cleaned up and it starts again"
    lab_rsc_cleanup counts-thr
    lab_wait_for -t 30 lab_rsc_is counts-thr Started "$LAB_NODE" || fail "counts-thr not Started after cleanup"
    lab_wait_for -t 15 '! env -u CIB_file crm_mon -1 -A | grep -qF warden-failure-counts-thr' ||
        fail "warden-failure-counts-thr still shown after cleanup and a clean start"
    lab_crm resource stop counts-thr || true
fi

if [[ " $PHASES " == *" stall "* ]]; then
    # attrd delivering nothing for a while (corosync stopped: as during a
    # membership change), at several points of the push: still one count.
    step "a stalled attrd: corosync stopped for 2.5 s at points of the push"
    coro=$(lab_proc_find_prefix corosync -f | head -n1)
    [[ -n $coro ]] || fail "no corosync pid"
    lab_crm configure primitive counts-stall ocf:warden:daemon \
        params command="/bin/sleep 10004" op monitor interval=2s timeout=20s ||
        fail "could not create counts-stall"
    lab_wait_for -t 30 lab_rsc_is counts-stall Started "$LAB_NODE" || fail "counts-stall not Started"
    k=0
    for delay in 0 0.02 0.05 0.1 0.2 0.4; do
        k=$(( k + 1 ))
        old=$(main_pid counts-stall) || fail "counts-stall: no main process"
        kill -KILL "$old"
        sleep "$delay"
        kill -STOP "$coro"
        sleep 2.5
        kill -CONT "$coro"
        lab_wait_for -q -t "$RECOVER_TIMEOUT" running_anew counts-stall "$old" ||
            fail "counts-stall: not running again after kill $k"
        settled counts-stall "$k" ||
            fail "counts-stall: fail count $(lab_failcount counts-stall) after kill $k (stall $delay s after it), want $k ($(counts_of counts-stall))"
        echo "counts-stall kill $k (stall ${delay}s after): fail count $k" >&2
    done
    lab_crm resource stop counts-stall || true
fi

if [[ " $PHASES " == *" storm "* ]]; then
    step "storm: $STORM resources, every service killed at once"
    cfg=$(mktemp)
    for (( i = 1; i <= STORM; i++ )); do
        printf 'primitive counts-s%02d ocf:warden:daemon params command="/bin/sleep 2%04d" op monitor interval=10s timeout=20s\n' "$i" "$i"
    done > "$cfg"
    env -u CIB_file crm configure load update "$cfg" >/dev/null 2>&1 || { rm -f "$cfg"; fail "could not load $STORM resources"; }
    rm -f "$cfg"
    all_started() {
        local xml n
        xml=$(lab_mon_xml) || return 1
        n=$(_lab_xpath "count(//resources/resource[starts-with(@id,'counts-s') and @role='Started'])" "$xml")
        [[ $n == "$STORM" ]]
    }
    lab_wait_for -t 120 all_started || fail "the $STORM storm resources did not all start"
    declare -A before=()
    pids=()
    for (( i = 1; i <= STORM; i++ )); do
        r=$(printf 'counts-s%02d' "$i")
        before[$r]=$(main_pid "$r") || fail "$r: no main process"
        pids+=("${before[$r]}")
    done
    t0=$(lab_now)
    kill -KILL "${pids[@]}"
    all_anew() {
        local r
        for r in "${!before[@]}"; do
            p=$(main_pid "$r") || return 1
            [[ $p != "${before[$r]}" ]] || return 1
        done
        all_started
    }
    lab_wait_for -t 120 -i 0.5 all_anew || fail "not all $STORM storm resources run again after 120 s"
    echo "storm: all $STORM running again $(lab_elapsed "$t0") s after the kill" >&2
    all_one() {
        local xml r
        xml=$(lab_mon_xml) || return 1
        for r in "${!before[@]}"; do
            [[ $(lab_failcount_in "$xml" "$r") == 1 ]] || return 1
        done
    }
    lab_wait_for -t 60 -i 1 all_one || {
        xml=$(lab_mon_xml)
        bad=""
        for r in "${!before[@]}"; do
            fc=$(lab_failcount_in "$xml" "$r")
            [[ $fc == 1 ]] || bad+=" $r=$fc"
        done
        fail "storm: fail counts not all 1:$bad"
    }
    sleep "$SETTLE"
    all_one || fail "storm: a fail count changed after settling"
    echo "storm: every fail count is 1" >&2
fi

now_ctl=$(lab_proc_find pacemaker-controld | head -n1)
[[ $now_ctl == "$ctl_pid" ]] || fail "pacemaker-controld was respawned ($ctl_pid -> $now_ctl)"
! lab_log_has "$mark" 'Evicting' || fail "the CIB manager evicted a client: $(lab_log_since "$mark" | grep Evicting | head -n3)"
step "cluster down"
lab_down || fail "the cluster did not go down cleanly"
