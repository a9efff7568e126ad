#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An agent's own probe and hooks (issue 14), with test/agent/hook-agent.c:
# each hook runs, in order, with the service's main pid where there is one,
# under its operation's deadline; one that fails or overruns makes the
# operation answer in time, its reason in the exit reason; the probe runs in
# the keeper and in a depth-10 monitor with the built-in probes' conventions.
# Output is TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

AGENT=${AGENT:?set AGENT to the hooktest agent binary}
if [ "$(id -u)" != 0 ]; then
    [ "${WARDEN_NO_SKIP:-}" = 1 ] && { echo "Bail out! needs root, and WARDEN_NO_SKIP=1"; exit 1; }
    echo "1..0 # SKIP needs root (cgroups, /run)"; exit 77
fi

export WARDEN_STATE_DIR=$(mktemp -d /tmp/warden-hooks-state.XXXXXX)
export OCF_RESOURCE_INSTANCE=hooks-test-$$
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_CHECK_LEVEL OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY HA_logfile
dir=$(mktemp -d /tmp/warden-hooks.XXXXXX)
marker=$((100000 + RANDOM))
cmd="/bin/sleep $marker"
export OCF_RESKEY_hook_dir=$dir OCF_RESKEY_command=$cmd OCF_RESKEY_check_interval=500ms \
    OCF_RESKEY_notify_cluster=false

cleanup() {
    rm -f "$dir"/hang-* "$dir"/fail-*
    agent stop >/dev/null 2>&1
    for p in $(pids_with_cmdline /bin/sleep $marker); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WARDEN_STATE_DIR" "$dir"
}
trap cleanup EXIT

hooks_in_order() { grep -v '^probe ' "$dir/log" 2>/dev/null | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//'; }
field() { awk -v h="$1" -v n="$2" '$1 == h { v = $n } END { print v }' "$dir/log"; }
service_pid() { pids_with_cmdline /bin/sleep $marker | head -1; }
keeper_pid() { pids_with_cmdline warden-keeper __warden_keeper "$OCF_RESOURCE_INSTANCE" | head -1; }
timed() { local t0; t0=$(now_ms); agent "$@"; ms=$(($(now_ms) - t0)); }

# ---- every hook, in order -----------------------------------------------------
agent validate-all
expect_rc 0 "validate-all accepts the default check=agent"
timed start pending_timeout=4s
expect_rc 0 "start"
pid=$(service_pid)
check "the service runs" test -n "$pid"
check "before_start, then ready ran ($(hooks_in_order))" test "$(hooks_in_order)" = "before_start ready"
check "before_start saw no main process yet" test "$(field before_start 2)" = 0
check "ready saw the main process" test "$(field ready 2)" = "$pid"
left=$(field before_start 3)
check "before_start had the start's deadline ($left ms of pending_timeout 4s left)" \
    test "$left" -gt 3000 -a "$left" -le 4000
first_probe=$(grep -n '^probe ' "$dir/log" | head -1 | cut -d: -f1)
ready_line=$(grep -n '^ready ' "$dir/log" | cut -d: -f1)
check "start waited for the agent's probe before ready" test -n "$first_probe" -a "${first_probe:-99}" -lt "${ready_line:-0}"
kp=$(keeper_pid)
wait_until 5 grep -q "^probe $pid [0-9]* ${kp:-none}\$" "$dir/log"
check "the keeper (pid $kp) runs the agent's probe" grep -q "^probe $pid [0-9]* ${kp:-none}\$" "$dir/log"
check_left=$(awk -v k="$kp" '$1 == "probe" && $4 == k { v = $3 } END { print v }' "$dir/log")
check "the keeper's probe has check_timeout's deadline ($check_left ms of 5s)" \
    test "${check_left:-0}" -gt 4000 -a "${check_left:-0}" -le 5000

OCF_RESKEY_CRM_meta_interval=10000 agent monitor
expect_rc 0 "monitor at depth 0"
OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 agent monitor
expect_rc 0 "monitor at depth 10"

# ---- the probe's warning: degraded (190), no failure ---------------------------------
touch "$dir/degraded-probe"
OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 agent monitor
expect_rc 190 "depth 10: the agent's probe answers degraded"
expect_reason "^certificate expires in 3 days$" "with the probe's reason"
wait_until 3 bash -c "OCF_RESKEY_CRM_meta_interval=10000 '$AGENT' monitor >/dev/null 2>&1; [ \$? = 190 ]"
OCF_RESKEY_CRM_meta_interval=10000 agent monitor
expect_rc 190 "depth 0: the keeper's verdict is degraded"
expect_reason "^certificate expires in 3 days$" "with the probe's reason"
rm -f "$dir/degraded-probe"
wait_until 3 bash -c "OCF_RESKEY_CRM_meta_interval=10000 '$AGENT' monitor >/dev/null 2>&1; [ \$? = 0 ]"
OCF_RESKEY_CRM_meta_interval=10000 agent monitor
expect_rc 0 "depth 0: 0 again once the probe is clean"

# ---- the probe's failures ----------------------------------------------------------
touch "$dir/fail-probe"
OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 agent monitor
expect_rc 1 "depth 10: the agent's probe fails"
expect_reason "^probe refused\? by the test$" "its reason is the exit reason, made printable"
wait_until 3 bash -c "OCF_RESKEY_CRM_meta_interval=10000 '$AGENT' monitor >/dev/null 2>&1; [ \$? = 1 ]"
OCF_RESKEY_CRM_meta_interval=10000 agent monitor
expect_rc 1 "depth 0: the keeper's verdict is the probe's failure"
expect_reason "probe refused\? by the test" "with the probe's reason"
rm -f "$dir/fail-probe"
touch "$dir/hang-probe"
OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 timed monitor check_timeout=1s
expect_rc 1 "depth 10: a probe that blocks is hung"
expect_reason "agent probe did not return within [0-9.]+m?s" "the reason says so (the time it had)"
check "answered in time ($ms ms, check_timeout 1s)" test "$ms" -lt 2500
rm -f "$dir/hang-probe"

# ---- stop: before_stop, after_stop -------------------------------------------------
: >"$dir/log"
agent stop
expect_rc 0 "stop"
check "before_stop, then after_stop ran ($(hooks_in_order))" test "$(hooks_in_order)" = "before_stop after_stop"
check "before_stop saw the main process" test "$(field before_stop 2)" = "$pid"
check "after_stop saw none" test "$(field after_stop 2)" = 0
check "nothing of the service is left" test -z "$(service_pid)"

# ---- a hook that fails ---------------------------------------------------------------
: >"$dir/log"
touch "$dir/fail-before_start"
agent start
expect_rc 1 "start fails when before_start fails"
expect_reason "^before_start: before_start refused\? by the test$" "with before_start's reason"
check "the service's command was not run" test -z "$(service_pid)"
rm -f "$dir/fail-before_start"
touch "$dir/fail-ready"
agent start
expect_rc 1 "start fails when ready fails"
expect_reason "^ready: ready refused\? by the test$" "with ready's reason"
check "and the service was ended" test -z "$(service_pid)"
rm -f "$dir/fail-ready"
agent start
expect_rc 0 "start"
touch "$dir/fail-before_stop"
agent stop
expect_rc 0 "a failed before_stop does not fail the stop: a stop must stop"
check "nothing of the service is left" test -z "$(service_pid)"
rm -f "$dir/fail-before_stop"
touch "$dir/fail-after_stop"
agent stop
expect_rc 1 "stop fails when after_stop fails"
expect_reason "^after_stop: after_stop refused\? by the test$" "with after_stop's reason"
rm -f "$dir/fail-after_stop"
agent stop
expect_rc 0 "stop, once after_stop succeeds"

# ---- a hook that overruns: the operation answers in time -----------------------
touch "$dir/hang-before_start"
timed start pending_timeout=2s
expect_rc 1 "start fails when before_start blocks"
expect_reason "before_start did not return within [0-9.]+s" "the reason names the hook"
check "at pending_timeout ($ms ms, pending_timeout 2s)" test "$ms" -ge 1900 -a "$ms" -lt 3000
check "the service's command was not run" test -z "$(service_pid)"
rm -f "$dir/hang-before_start"
touch "$dir/hang-ready"
timed start pending_timeout=2s
expect_rc 1 "start fails when ready blocks"
expect_reason "ready did not return within" "the reason names the hook"
check "at pending_timeout ($ms ms)" test "$ms" -lt 3000
check "and the service was ended" test -z "$(service_pid)"
rm -f "$dir/hang-ready"
agent start
expect_rc 0 "start"
touch "$dir/hang-before_stop"
timed stop pending_timeout=2s
expect_rc 0 "a before_stop that blocks is abandoned and the stop goes on"
check "in time ($ms ms, pending_timeout 2s)" test "$ms" -lt 2500
check "nothing of the service is left" test -z "$(service_pid)"
rm -f "$dir/hang-before_stop"
touch "$dir/hang-after_stop"
timed stop pending_timeout=2s
expect_rc 1 "stop fails when after_stop blocks"
expect_reason "after_stop did not return within" "the reason names the hook"
check "in time ($ms ms)" test "$ms" -lt 2500
rm -f "$dir/hang-after_stop"
finish
