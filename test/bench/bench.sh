#!/usr/bin/env bash
# warden's benchmark, run by hand (not part of the test suite). Prints, in
# one run, side by side with ocf:heartbeat:anything managing the same service:
#   1. wall time of a monitor, direct invocation, 200 runs: median and p99,
#      against the floor (exec of an empty C program, measured in the same run)
#   2. crash to running again, in a single-node cluster, monitor interval 10s,
#      5 runs each
#   3. the keeper's RSS and CPU over 60 s at the default check interval
# Needs root and the installed agents (meson install); brings up its own lab.
#   test/bench/bench.sh [--quick]     (--quick: 10 s of keeper sampling)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=test/bench
. test/cluster/lab.sh

runs=200
crash_runs=5
keeper_seconds=60
[ "${1:-}" = --quick ] && keeper_seconds=10

agents=/usr/lib/ocf/resource.d
[ -x $agents/warden/daemon ] || { echo "install warden first: meson install -C build" >&2; exit 1; }
tmp=$(mktemp -d /tmp/warden-bench.XXXXXX)
cc -O2 -o "$tmp/exec-time" $here/exec-time.c
cc -O2 -o "$tmp/empty" $here/empty.c
export OCF_ROOT=/usr/lib/ocf

svc_pids=()
cleanup() {
    OCF_RESOURCE_INSTANCE=bench-w OCF_RESKEY_command=/bin/true "$agents/warden/daemon" stop >/dev/null 2>&1 || true
    OCF_RESOURCE_INSTANCE=bench-a OCF_RESKEY_binfile=/bin/sleep OCF_RESKEY_pidfile="$tmp/a.pid" \
        "$agents/heartbeat/anything" stop >/dev/null 2>&1 || true
    lab_down_if_started >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# ---- 1. monitor wall time -------------------------------------------------------
echo "== monitor wall time, $runs runs each (direct invocation)"
OCF_RESOURCE_INSTANCE=bench-w OCF_RESKEY_command="/bin/sleep 1000001" \
    "$agents/warden/daemon" start 2>/dev/null
OCF_RESOURCE_INSTANCE=bench-a OCF_RESKEY_binfile=/bin/sleep OCF_RESKEY_cmdline_options=1000002 \
    OCF_RESKEY_pidfile="$tmp/a.pid" "$agents/heartbeat/anything" start 2>/dev/null
read -r e_med e_p99 _ < <("$tmp/exec-time" $runs "$tmp/empty")
read -r w_med w_p99 w_fail < <(OCF_RESOURCE_INSTANCE=bench-w OCF_RESKEY_command="/bin/sleep 1000001" \
    OCF_RESKEY_CRM_meta_interval=10000 "$tmp/exec-time" $runs "$agents/warden/daemon" monitor)
read -r d_med d_p99 d_fail < <(OCF_RESOURCE_INSTANCE=bench-w OCF_RESKEY_command="/bin/sleep 1000001" \
    OCF_RESKEY_CRM_meta_interval=10000 OCF_CHECK_LEVEL=10 "$tmp/exec-time" $runs "$agents/warden/daemon" monitor)
read -r a_med a_p99 a_fail < <(OCF_RESOURCE_INSTANCE=bench-a OCF_RESKEY_binfile=/bin/sleep \
    OCF_RESKEY_cmdline_options=1000002 OCF_RESKEY_pidfile="$tmp/a.pid" \
    OCF_RESKEY_CRM_meta_interval=10000 "$tmp/exec-time" $runs "$agents/heartbeat/anything" monitor)
printf '%-34s %9s %9s %s\n' "" "median" "p99" ""
printf '%-34s %7s ms %6s ms\n' "empty C program (the floor)" "$(ms "$e_med")" "$(ms "$e_p99")"
printf '%-34s %7s ms %6s ms  %sx the floor, %sx faster than anything%s\n' \
    "warden:daemon monitor, depth 0" "$(ms "$w_med")" "$(ms "$w_p99")" "$(ratio "$w_med" "$e_med")" \
    "$(ratio "$a_med" "$w_med")" "$([ "$w_fail" = 0 ] || echo " ($w_fail FAILED)")"
printf '%-34s %7s ms %6s ms  %sx the floor%s\n' \
    "warden:daemon monitor, depth 10" "$(ms "$d_med")" "$(ms "$d_p99")" "$(ratio "$d_med" "$e_med")" \
    "$([ "$d_fail" = 0 ] || echo " ($d_fail FAILED)")"
printf '%-34s %7s ms %6s ms%s\n' "heartbeat:anything monitor" "$(ms "$a_med")" "$(ms "$a_p99")" \
    "$([ "$a_fail" = 0 ] || echo " ($a_fail FAILED)")"

# ---- 3. the keeper at rest --------------------------------------------------------
echo
echo "== the keeper over ${keeper_seconds} s, default check_interval (10s), check=process"
kp=$(cut -d' ' -f1 /run/warden/bench-w/keeper)
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
c0=$(cpu "$kp"); t0=$(lab_now)
sleep "$keeper_seconds"
c1=$(cpu "$kp"); t1=$(lab_now)
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$kp/status")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$kp/status")
pss=$(awk '/^Pss:/ { print $2 }' "/proc/$kp/smaps_rollup" 2>/dev/null || echo "?")
printf 'keeper pid %s: RSS %s KiB (peak %s KiB, PSS %s KiB), CPU %s%% of a core\n' "$kp" "$rss" "$hwm" "$pss" \
    "$(awk -v c=$((c1 - c0)) -v hz="$ticks" -v ms=$((t1 - t0)) 'BEGIN { printf "%.3f", 100 * c / hz / (ms / 1000) }')"
OCF_RESOURCE_INSTANCE=bench-w OCF_RESKEY_command=/bin/true "$agents/warden/daemon" stop 2>/dev/null
OCF_RESOURCE_INSTANCE=bench-a OCF_RESKEY_binfile=/bin/sleep OCF_RESKEY_pidfile="$tmp/a.pid" \
    "$agents/heartbeat/anything" stop 2>/dev/null

# ---- 2. crash to running again ------------------------------------------------------
echo
echo "== crash to running again, single-node cluster, monitor interval 10s, $crash_runs runs each"
LAB_DC_DEADTIME=${LAB_DC_DEADTIME:-2s} lab_up >/dev/null
lab_crm configure primitive bw ocf:warden:daemon params command="/bin/sleep 1000003" \
    op monitor interval=10s timeout=20s
lab_crm configure primitive ba ocf:heartbeat:anything params binfile=/bin/sleep \
    cmdline_options=1000004 pidfile=/run/bench-anything.pid op monitor interval=10s timeout=20s
lab_wait_for -t 60 'lab_rsc_is bw Started && lab_rsc_is ba Started'

# main_of RSC: the service's pid as each agent records it.
main_of() {
    case $1 in
    bw) awk '/^main /{print $2}' /run/warden/bw/service 2>/dev/null ;;
    ba) cat /run/bench-anything.pid 2>/dev/null ;;
    esac
}
crash_once() { # RSC -> seconds from kill -9 to a new live main process with the resource Started
    local rsc=$1 old t0
    old=$(main_of "$rsc")
    t0=$(lab_now)
    kill -9 "$old"
    lab_wait_for -q -t 40 -i 0.01 "n=\$(main_of $rsc); [ -n \"\$n\" ] && [ \"\$n\" != $old ] && lab_proc_alive \$n && lab_rsc_is $rsc Started" ||
        { echo "timeout"; return; }
    lab_elapsed "$t0"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for rsc in bw ba; do
    times=()
    for i in $(seq "$crash_runs"); do
        # Crash at a random point of the monitor interval, as in life.
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 1 + (r % 1000) / 100 }')"
        times+=("$(crash_once $rsc)")
    done
    name=$([ $rsc = bw ] && echo "warden:daemon (keeper push)" || echo "heartbeat:anything")
    printf '%-30s median %6s s   runs: %s   fail count now %s\n' "$name" \
        "$(printf '%s\n' "${times[@]}" | grep -v timeout | median)" "${times[*]}" "$(lab_failcount $rsc)"
done
