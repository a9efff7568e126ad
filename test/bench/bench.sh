#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# warden's benchmark, run by hand (not part of the test suite). Prints, in
# one run, side by side with ocf:heartbeat:anything managing the same service:
#   1. wall time of a monitor, direct invocation, 200 runs: median and p99,
#      against the floor (exec of an empty C program, measured in the same run)
#   2. crash to running again, in a single-node cluster, monitor interval 10s,
#      5 runs each
#   3. the keeper's RSS and CPU over 60 s at the default check interval
#   4. protocol agents: monitor wall time at depth 0 and 10, 200 runs, of
#      warden:smtp, imap and pop3 beside heartbeat:postfix and
#      heartbeat:dovecot watching the same throwaway servers (a Postfix and
#      two Dovecots on 127.0.0.1, see test/agent/mail/mail-lib.sh)
#   5. the actions that load libwarden: meta-data and validate-all of
#      warden:daemon, 200 runs (no service, no lab); what the library and
#      what it links cost every start, stop and deep monitor too
# Needs root and the installed agents (meson install); brings up its own lab.
#   test/bench/bench.sh [--quick] [--only protocol|load]
#     --quick: 10 s of keeper sampling; --only protocol: section 4 alone;
#     --only load: section 5 alone (WARDEN_LIBRARY=build/lib/libwarden.so.0
#     times a build's library behind the installed agents)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=test/bench
. test/cluster/lab.sh
. test/agent/mail/mail-lib.sh

runs=200
crash_runs=5
keeper_seconds=60
only=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) keeper_seconds=10 ;;
    --only)
        only=${2:-}
        case $only in protocol | load) ;; *) echo "--only: 'protocol' or 'load'" >&2; exit 2 ;; esac
        shift ;;
    *) echo "usage: $0 [--quick] [--only protocol|load]" >&2; exit 2 ;;
    esac
    shift
done

agents=/usr/lib/ocf/resource.d
[ -x $agents/warden/daemon ] || { echo "install warden first: meson install -C build" >&2; exit 1; }
tmp=$(mktemp -d /tmp/warden-bench.XXXXXX)
cc -O2 -o "$tmp/exec-time" $here/exec-time.c
cc -O2 -o "$tmp/empty" $here/empty.c
export OCF_ROOT=/usr/lib/ocf

svc_pids=()
mail_dir=
cleanup() {
    if [ -n "$mail_dir" ]; then
        OCF_RESOURCE_INSTANCE=bench-smtp "$agents/warden/smtp" stop >/dev/null 2>&1 || true
        OCF_RESOURCE_INSTANCE=bench-imap "$agents/warden/imap" stop >/dev/null 2>&1 || true
        OCF_RESOURCE_INSTANCE=bench-pop3 "$agents/warden/pop3" stop >/dev/null 2>&1 || true
        mail_postfix_disallow "$mail_dir/postfix/etc"
    fi
    OCF_RESOURCE_INSTANCE=bench-w OCF_RESKEY_command=/bin/true "$agents/warden/daemon" stop >/dev/null 2>&1 || true
    OCF_RESOURCE_INSTANCE=bench-a OCF_RESKEY_binfile=/bin/sleep OCF_RESKEY_pidfile="$tmp/a.pid" \
        "$agents/heartbeat/anything" stop >/dev/null 2>&1 || true
    lab_down_if_started >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

read -r e_med e_p99 _ < <("$tmp/exec-time" $runs "$tmp/empty")

if [ -z "$only" ]; then
# ---- 1. monitor wall time -------------------------------------------------------
echo "== monitor wall time, $runs runs each (direct invocation)"
OCF_RESOURCE_INSTANCE=bench-w OCF_RESKEY_command="/bin/sleep 1000001" \
    "$agents/warden/daemon" start 2>/dev/null
OCF_RESOURCE_INSTANCE=bench-a OCF_RESKEY_binfile=/bin/sleep OCF_RESKEY_cmdline_options=1000002 \
    OCF_RESKEY_pidfile="$tmp/a.pid" "$agents/heartbeat/anything" start 2>/dev/null
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
fi # sections 1-3

# ---- 4. protocol agents ---------------------------------------------------------------
# The same servers watched two ways: warden's agents speak the protocol at
# depth 10 (and answer from the keeper's verdict at depth 0); the heartbeat
# agents run "postfix status" / look at Dovecot's pidfile (at any depth).
protocol_bench() {
    local a
    for a in smtp imap pop3; do
        [ -x "$agents/warden/$a" ] || { echo "skipped: $agents/warden/$a missing (meson install)"; return 0; }
    done
    mail_have_servers || { echo "skipped: Postfix/Dovecot not installed (scripts/deps.sh)"; return 0; }
    mail_dir=$tmp/mail
    mkdir -p "$mail_dir"
    # ports of its own (the tests take 2525/2526, 10143/10144, 10110/10111)
    chmod 0755 "$tmp" "$mail_dir"
    local p_smtp p_imap p_pop3
    p_smtp=$(mail_port 2527)
    p_imap=$(mail_port 10145)
    p_pop3=$(mail_port 10112)
    mail_postfix_config "$mail_dir/postfix" "$p_smtp"
    mail_dovecot_config "$mail_dir/imap" imap "$p_imap"
    mail_dovecot_config "$mail_dir/pop3" pop3 "$p_pop3"
    mail_postfix_allow "$mail_dir/postfix/etc"
    local -a w_smtp=(OCF_RESOURCE_INSTANCE=bench-smtp OCF_RESKEY_config_dir="$mail_dir/postfix/etc"
        OCF_RESKEY_port="$p_smtp")
    local -a w_imap=(OCF_RESOURCE_INSTANCE=bench-imap OCF_RESKEY_config="$mail_dir/imap/dovecot.conf"
        OCF_RESKEY_port="$p_imap")
    local -a w_pop3=(OCF_RESOURCE_INSTANCE=bench-pop3 OCF_RESKEY_config="$mail_dir/pop3/dovecot.conf"
        OCF_RESKEY_port="$p_pop3")
    local -a h_postfix=(OCF_RESOURCE_INSTANCE=bench-hb-postfix OCF_RESKEY_config_dir="$mail_dir/postfix/etc")
    local -a h_imap=(OCF_RESOURCE_INSTANCE=bench-hb-imap OCF_RESKEY_config_file="$mail_dir/imap/dovecot.conf"
        OCF_RESKEY_pid_file="$mail_dir/imap/run/master.pid")
    local -a h_pop3=(OCF_RESOURCE_INSTANCE=bench-hb-pop3 OCF_RESKEY_config_file="$mail_dir/pop3/dovecot.conf"
        OCF_RESKEY_pid_file="$mail_dir/pop3/run/master.pid")
    # notify_cluster=false: no cluster here, and a lab of another test may run
    env "${w_smtp[@]}" OCF_RESKEY_notify_cluster=false "$agents/warden/smtp" start 2>/dev/null
    env "${w_imap[@]}" OCF_RESKEY_notify_cluster=false "$agents/warden/imap" start 2>/dev/null
    env "${w_pop3[@]}" OCF_RESKEY_notify_cluster=false "$agents/warden/pop3" start 2>/dev/null

    echo
    echo "== protocol agents: monitor wall time, $runs runs each (direct invocation, interval 10s)"
    echo "   servers: Postfix smtpd 127.0.0.1:$p_smtp, Dovecot imap :$p_imap, Dovecot pop3 :$p_pop3"
    printf '%-36s %9s %9s   %9s %9s\n' "" "depth 0" "" "depth 10" ""
    printf '%-36s %9s %9s   %9s %9s\n' "" "median" "p99" "median" "p99"
    printf '%-36s %6s ms %6s ms\n' "empty C program (the floor)" "$(ms "$e_med")" "$(ms "$e_p99")"
    # row LABEL AGENT ENV...: depth 0 and depth 10 of one agent
    row() {
        local label=$1 agent=$2 m0 p0 f0 m1 p1 f1
        shift 2
        read -r m0 p0 f0 < <(env "$@" OCF_RESKEY_CRM_meta_interval=10000 \
            "$tmp/exec-time" $runs "$agent" monitor)
        read -r m1 p1 f1 < <(env "$@" OCF_RESKEY_CRM_meta_interval=10000 OCF_CHECK_LEVEL=10 \
            "$tmp/exec-time" $runs "$agent" monitor)
        printf '%-36s %6s ms %6s ms   %6s ms %6s ms%s%s\n' "$label" "$(ms "$m0")" "$(ms "$p0")" \
            "$(ms "$m1")" "$(ms "$p1")" "$([ "$f0" = 0 ] || echo " (depth 0: $f0 FAILED)")" \
            "$([ "$f1" = 0 ] || echo " (depth 10: $f1 FAILED)")"
        eval "r_${label//[^a-z0-9]/_}=\"$m0 $m1\""
    }
    row "warden:smtp" "$agents/warden/smtp" "${w_smtp[@]}"
    row "heartbeat:postfix" "$agents/heartbeat/postfix" "${h_postfix[@]}"
    row "warden:imap" "$agents/warden/imap" "${w_imap[@]}"
    row "heartbeat:dovecot (imap instance)" "$agents/heartbeat/dovecot" "${h_imap[@]}"
    row "warden:pop3" "$agents/warden/pop3" "${w_pop3[@]}"
    row "heartbeat:dovecot (pop3 instance)" "$agents/heartbeat/dovecot" "${h_pop3[@]}"
    # compare WARDEN HEARTBEAT PROTOCOL: how many times faster warden is
    compare() {
        local w0 w10 h0 h10
        read -r w0 w10 <<<"$1"
        read -r h0 h10 <<<"$2"
        echo "   $3: warden is $(ratio "$h0" "$w0")x faster at depth 0 (the keeper's verdict)," \
            "$(ratio "$h10" "$w10")x at depth 10 (a whole $4 dialogue, against a status or pidfile check)"
    }
    compare "$r_warden_smtp" "$r_heartbeat_postfix" "smtp vs heartbeat:postfix" SMTP
    compare "$r_warden_imap" "$r_heartbeat_dovecot__imap_instance_" "imap vs heartbeat:dovecot" IMAP
    compare "$r_warden_pop3" "$r_heartbeat_dovecot__pop3_instance_" "pop3 vs heartbeat:dovecot" POP3

    env "${w_smtp[@]}" "$agents/warden/smtp" stop 2>/dev/null
    env "${w_imap[@]}" "$agents/warden/imap" stop 2>/dev/null
    env "${w_pop3[@]}" "$agents/warden/pop3" stop 2>/dev/null
    mail_postfix_disallow "$mail_dir/postfix/etc"
    mail_dir=
}
if [ -z "$only" ] || [ "$only" = protocol ]; then
    protocol_bench
fi

# ---- 5. actions that load libwarden ----------------------------------------------------
# A depth-0 monitor is the front's alone (libc); every other action loads
# libwarden.so.0 and what it needs. meta-data needs nothing else; validate-all
# reads and checks the parameters too.
load_bench() {
    local m_med m_p99 m_fail v_med v_p99 v_fail
    echo
    echo "== actions that load libwarden, $runs runs each (direct invocation, no service)"
    echo "   library: ${WARDEN_LIBRARY:-the installed one}," \
        "NEEDED: $(readelf -d "${WARDEN_LIBRARY:-/usr/lib/x86_64-linux-gnu/libwarden.so.0}" 2>/dev/null |
            sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
    read -r m_med m_p99 m_fail < <("$tmp/exec-time" $runs "$agents/warden/daemon" meta-data)
    read -r v_med v_p99 v_fail < <(OCF_RESOURCE_INSTANCE=bench-load OCF_RESKEY_command="/bin/sleep 1" \
        "$tmp/exec-time" $runs "$agents/warden/daemon" validate-all)
    printf '%-34s %9s %9s\n' "" "median" "p99"
    printf '%-34s %7s ms %6s ms\n' "empty C program (the floor)" "$(ms "$e_med")" "$(ms "$e_p99")"
    printf '%-34s %7s ms %6s ms  %sx the floor%s\n' "warden:daemon meta-data" "$(ms "$m_med")" \
        "$(ms "$m_p99")" "$(ratio "$m_med" "$e_med")" "$([ "$m_fail" = 0 ] || echo " ($m_fail FAILED)")"
    printf '%-34s %7s ms %6s ms  %sx the floor%s\n' "warden:daemon validate-all" "$(ms "$v_med")" \
        "$(ms "$v_p99")" "$(ratio "$v_med" "$e_med")" "$([ "$v_fail" = 0 ] || echo " ($v_fail FAILED)")"
}
if [ -z "$only" ] || [ "$only" = load ]; then
    load_bench
fi
