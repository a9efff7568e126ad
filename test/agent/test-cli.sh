#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# warden(8) against real instances of ocf:warden:daemon run by hand (issue
# 12): healthy (an http: check, traced step by step), degraded by
# slow_threshold and cleared by a reload, failed, hung (and dumped), stopped
# (its service killed), a keeper gone; --json parsed and its fields checked;
# the history bounded at 100 after more checks; a name that JSON must
# escape; the exit codes. Output is TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

AGENT=${AGENT:?set AGENT to the daemon agent binary}
WARDEN=${WARDEN_CLI:?set WARDEN_CLI to the warden command}
if [ "$(id -u)" != 0 ]; then
    [ "${WARDEN_NO_SKIP:-}" = 1 ] && { echo "Bail out! needs root, and WARDEN_NO_SKIP=1"; exit 1; }
    echo "1..0 # SKIP needs root (cgroups, /run)"; exit 77
fi

export WARDEN_STATE_DIR=$(mktemp -d /tmp/warden-cli-test.XXXXXX)
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY
tmp=$(mktemp -d /tmp/warden-cli-tmp.XXXXXX)
export HA_logfile=$tmp/agent.log
marker=$((100000 + RANDOM))
port=$((20000 + RANDOM % 20000))
p=cli-$$
ok_r=$p-ok slow_r=$p-slow fail_r=$p-fail hung_r=$p-hung stop_r=$p-stop gone_r=$p-gone
# A name JSON must escape: a quote, a backslash, and UTF-8.
odd_r="$p-q\"\\é"
started=()

# ag INSTANCE ACTION [k=v ...]: the agent for one instance (sets rc, out, err).
ag() {
    local inst=$1
    shift
    OCF_RESOURCE_INSTANCE=$inst agent "$@"
}
# mon INSTANCE: a recurring depth-0 monitor, as Pacemaker runs it.
mon() { OCF_RESKEY_CRM_meta_interval=10000 ag "$@"; }

cleanup() {
    local n
    for n in ${started[@]+"${started[@]}"}; do
        ag "$n" stop command=/bin/true >/dev/null 2>&1
    done
    for q in $(pids_with_cmdline /bin/sleep $marker); do kill -9 "$q" 2>/dev/null; done
    rm -rf "$WARDEN_STATE_DIR" "$tmp"
}
trap cleanup EXIT

# jq-less JSON checks: python3 parses; an expression over `d` must be true.
json_ok() { # json_ok "description" JSON PYTHON-EXPR
    local what=$1 text=$2 expr=$3
    if python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$text" "$expr" 2>"$tmp/py.err"; then ok "$what"; else
        not_ok "$what"
        printf '# %s\n' "$expr" "$(head -c 600 <<<"$text")" "$(tail -2 "$tmp/py.err")"
    fi
}
state_of() { "$WARDEN" --json status "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
state_is() { [ "$(state_of "$1")" = "$2" ]; }
main_of() { sed -n 's/^main \([0-9]*\) .*/\1/p' "$WARDEN_STATE_DIR/$1/service"; }
keeper_of() { cut -d' ' -f1 "$WARDEN_STATE_DIR/$1/keeper" 2>/dev/null; }

# ---- usage and nothing there ------------------------------------------------------
"$WARDEN" --json status >"$tmp/o"; rc=$?
expect_rc 0 "status with no instances"
json_ok "--json status with no instances is an empty array" "$(cat "$tmp/o")" 'd == []'
"$WARDEN" frobnicate >/dev/null 2>&1; rc=$?
expect_rc 2 "an unknown command is a usage error"
"$WARDEN" --bogus status >/dev/null 2>&1; rc=$?
expect_rc 2 "an unknown option is a usage error"
"$WARDEN" check >/dev/null 2>&1; rc=$?
expect_rc 2 "check without a resource is a usage error"
"$WARDEN" status no-such-$p >/dev/null 2>&1; rc=$?
expect_rc 3 "status of a resource that is not here"
"$WARDEN" check no-such-$p >/dev/null 2>&1; rc=$?
expect_rc 3 "check of a resource that is not here"

# ---- slow_threshold's values ----------------------------------------------------------
ag "$ok_r" validate-all command="/bin/sleep $marker" slow_threshold=fast
expect_rc 6 "validate-all refuses slow_threshold=fast"
expect_reason "slow_threshold.*0 \\(off\\), or a time from 1ms to 24h" "the reason names the parameter and the range"
ag "$ok_r" validate-all command="/bin/sleep $marker" slow_threshold=25h
expect_rc 6 "validate-all refuses slow_threshold=25h"
ag "$ok_r" validate-all command="/bin/sleep $marker" slow_threshold=500ms
expect_rc 0 "validate-all takes slow_threshold=500ms"
ag "$ok_r" validate-all command="/bin/sleep $marker" slow_threshold=0
expect_rc 0 "validate-all takes slow_threshold=0 (off)"
md=$(OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 "$AGENT" meta-data)
check "meta-data: slow_threshold is reloadable" grep -q 'name="slow_threshold".*reloadable="1"' <<<"$md"

# ---- healthy: an http: check, step by step --------------------------------------------
started+=("$ok_r")
ag "$ok_r" start command="/usr/bin/python3 -m http.server $port --bind 127.0.0.1" \
    workdir="$tmp" check="http:127.0.0.1:$port/" check_interval=100ms
expect_rc 0 "start a healthy instance (http: check)"
wait_until 5 state_is "$ok_r" running
"$WARDEN" status >"$tmp/o"; rc=$?
expect_rc 0 "status"
check "status lists it running" grep -Eq "^$ok_r +warden:daemon +running +[0-9]+ +http:127.0.0.1:$port/ +ok" "$tmp/o"
"$WARDEN" check "$ok_r" >"$tmp/o"; rc=$?
expect_rc 0 "check of a healthy instance"
check "check prints each step with its time" \
    grep -Eq "^$ok_r: http:127.0.0.1:$port/: ok in [0-9.]+ ms: connect [0-9.]+ ms, GET [0-9.]+ ms$" "$tmp/o" ||
    printf '# %s\n' "$(cat "$tmp/o")"
j=$("$WARDEN" --json check "$ok_r")
json_ok "check --json: result, total and steps" "$j" \
    'd["result"] == "ok" and d["total_ms"] > 0 and [s["step"] for s in d["steps"]] == ["connect", "GET"] and all(s["ok"] for s in d["steps"])'

# ---- degraded by slow_threshold, cleared by a reload -------------------------------------
started+=("$slow_r")
ag "$slow_r" start command="/bin/sleep $marker" check="exec:/bin/sleep 0.05" \
    check_interval=100ms slow_threshold=20ms
expect_rc 0 "start an instance whose checks take 50ms, slow_threshold=20ms"
wait_until 10 state_is "$slow_r" degraded
mon "$slow_r" monitor command="/bin/sleep $marker"
expect_rc 190 "monitor answers degraded (190)"
expect_reason "^exec: median check [0-9]+ms over the last [0-9]+, threshold 20ms$" "with the median, the window and the threshold"
slow_main=$(main_of "$slow_r")
j=$("$WARDEN" --json status "$slow_r")
json_ok "status --json: degraded, the check's latencies, nothing failed" "$j" \
    'd["state"] == "degraded" and d["last_check_ms"] >= 40 and d["check_p50_ms"] >= 40 and d["check_p99_ms"] >= d["check_p50_ms"] and d["failures_last_hour"] == 0 and d["last_failure_at"] is None and d["slow_threshold_ms"] == 20'
"$WARDEN" status >"$tmp/o"
check "status says why it is degraded" grep -Eq "^    now: exec: median check [0-9]+ms" "$tmp/o"
ag "$slow_r" reload-agent command="/bin/sleep $marker" check="exec:/bin/sleep 0.05" \
    check_interval=100ms slow_threshold=1s
expect_rc 0 "reload-agent slow_threshold=1s"
wait_until 5 state_is "$slow_r" running
mon "$slow_r" monitor command="/bin/sleep $marker"
expect_rc 0 "monitor answers 0 again once the median is under the threshold"
check "the service was not restarted" test "$(main_of "$slow_r")" = "$slow_main"

# ---- failed ------------------------------------------------------------------------------
started+=("$fail_r")
ag "$fail_r" start command="/bin/sleep $marker" check="exec:/usr/bin/test ! -e $tmp/fail" \
    check_interval=100ms notify_cluster=false
expect_rc 0 "start an instance that will fail its check"
touch "$tmp/fail"
wait_until 5 state_is "$fail_r" failed
j=$("$WARDEN" --json status "$fail_r")
json_ok "status --json: failed, the failure counted and dated, a keeper" "$j" \
    'd["state"] == "failed" and d["last_result"] == "failed" and d["failures_last_hour"] >= 1 and "exec" in d["last_failure_reason"] and d["last_failure_at"].endswith("Z") and d["keeper_pid"] > 1 and d["main_pid"] > 1'
"$WARDEN" check "$fail_r" >"$tmp/o"; rc=$?
expect_rc 1 "check of a failing instance exits 1"
check "and says it failed" grep -q "^$fail_r: exec:/usr/bin/test ! -e $tmp/fail: failed in" "$tmp/o"

# ---- hung, dumped --------------------------------------------------------------------------
started+=("$hung_r")
printf '#!/bin/sh\n[ -e %s/hang ] && exec /bin/sleep 30\nexit 0\n' "$tmp" >"$tmp/hang.sh"
chmod +x "$tmp/hang.sh"
ag "$hung_r" start command="/bin/sleep $marker" check="exec:$tmp/hang.sh" check_timeout=300ms \
    check_interval=200ms notify_cluster=false dump_on_failure=true dump_dir="$tmp/dumps"
expect_rc 0 "start an instance that will hang"
touch "$tmp/hang"
wait_until 10 state_is "$hung_r" hung
j=$("$WARDEN" --json status "$hung_r")
json_ok "status --json: hung, the hung check in the history" "$j" \
    'd["state"] == "hung" and d["last_result"] == "hung" and d["history"][-1]["result"] == "hung" and d["history"][-1]["latency_ms"] >= 250'
wait_until 10 test -n "$(ls "$tmp/dumps" 2>/dev/null)"
j=$("$WARDEN" --json dumps "$hung_r")
json_ok "dumps --json: its dump, reason hung" "$j" \
    'len(d) >= 1 and d[0]["reason"] == "hung" and d[0]["instance"] == "'"$hung_r"'" and d[0]["path"].startswith("'"$tmp/dumps/"'") and d[0]["bytes"] > 0'
"$WARDEN" dumps >"$tmp/o"
check "dumps lists it, newest first" grep -Eq "^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z  hung +$hung_r " "$tmp/o"
j=$("$WARDEN" --json status "$hung_r")
json_ok "status --json: the newest dump" "$j" 'd["newest_dump"] is not None and "-hung.stacks" in d["newest_dump"]'

# ---- stopped: the service killed -------------------------------------------------------------
started+=("$stop_r")
ag "$stop_r" start command="/bin/sleep $marker" notify_cluster=false check_interval=200ms
expect_rc 0 "start an instance whose service will be killed"
kill -9 "$(main_of "$stop_r")"
wait_until 5 state_is "$stop_r" stopped
j=$("$WARDEN" --json status "$stop_r")
json_ok "status --json: stopped, the crash is the last failure" "$j" \
    'd["state"] == "stopped" and "exited" in d["last_failure_reason"] and d["failures_last_hour"] == 1'

# ---- the keeper gone ---------------------------------------------------------------------------
started+=("$gone_r")
ag "$gone_r" start command="/bin/sleep $marker" check_interval=200ms
expect_rc 0 "start an instance whose keeper will be killed"
kp=$(keeper_of "$gone_r")
kill -9 "$kp"
wait_until 5 dead "$kp"
wait_until 5 state_is "$gone_r" "keeper gone"
j=$("$WARDEN" --json status "$gone_r")
json_ok "status --json: keeper gone, no keeper pid, the main pid" "$j" \
    'd["state"] == "keeper gone" and d["keeper_pid"] is None and d["main_pid"] > 1'
"$WARDEN" check "$gone_r" >/dev/null 2>"$tmp/e"; rc=$?
expect_rc 1 "check without a keeper exits 1"
check "and says why" grep -q "no keeper runs" "$tmp/e"

# ---- a name JSON must escape -------------------------------------------------------------------
started+=("$odd_r")
ag "$odd_r" start command="/bin/sleep $marker" check_interval=200ms
expect_rc 0 "start an instance with a quote, a backslash and UTF-8 in its name"
j=$("$WARDEN" --json status)
python3 -c 'import json,sys; names=[x["resource"] for x in json.loads(sys.argv[1])]; sys.exit(0 if sys.argv[2] in names else 1)' "$j" "$odd_r"
rc=$?
expect_rc 0 "the odd name is listed exactly"
j=$("$WARDEN" --json status "$odd_r")
json_ok "status --json of the odd name" "$j" 'd["state"] == "running"'
json_ok "every field the issue names is there" "$("$WARDEN" --json status "$ok_r")" \
    'all(k in d for k in ["resource", "agent", "state", "main_pid", "keeper_pid", "last_check_ms", "check_p50_ms", "check_p99_ms", "verdict_age_ms", "failures_last_hour", "last_failure_reason", "last_failure_at"])'

# ---- the history: bounded at 100 -----------------------------------------------------------------
# The http: instance checks every 100ms; it has been up for a while.
hist_full() {
    "$WARDEN" --json status "$ok_r" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["checks"] > 110 else 1)'
}
wait_until 30 hist_full
j=$("$WARDEN" --json status "$ok_r")
json_ok "after more than 110 checks the history holds 100, oldest first" "$j" \
    'd["checks"] > 110 and len(d["history"]) == 100 and [h["at"] for h in d["history"]] == sorted(h["at"] for h in d["history"])'
size=$(stat -c %s "$WARDEN_STATE_DIR/$ok_r/history")
check "the history file keeps its one size ($size bytes)" test "$size" -lt 32768
mode=$(stat -c %a "$WARDEN_STATE_DIR/$ok_r/history")
check "the history file is root's alone ($mode)" test "$mode" = 600
"$WARDEN" status "$ok_r" >"$tmp/o"
check "status RESOURCE shows the last 20 checks" test "$(grep -Ec '^    [0-9-]{10}T[0-9:.]+Z  ok ' "$tmp/o")" = 20

# ---- stop: the state goes ---------------------------------------------------------------------------
ag "$ok_r" stop command=/bin/true
expect_rc 0 "stop"
"$WARDEN" status "$ok_r" >/dev/null 2>&1; rc=$?
expect_rc 3 "a stopped instance's state directory is gone whole (history included)"

finish
