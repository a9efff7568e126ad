#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Failover benchmark, run by hand (not part of the test suite): the EXRES
# virtual server group of test/cluster/vserver.sh (IPaddr2 + SMTP + IMAP on
# the virtual address) in the 3-node lab, built twice:
#   warden:    ocf:warden:smtp + ocf:warden:imap
#   heartbeat: ocf:heartbeat:postfix + ocf:heartbeat:dovecot
# with the same servers, the same monitor interval (10s) and timeouts, and
# migration-threshold=1. For each, RUNS times (default 5):
#   service crash: kill -9 of Postfix's master on the node running the group,
#                  at a random point of the monitor interval;
#   node crash:    the node running the group crashed (lab3_crash);
# timed from the kill until the whole group runs on another node and
# Postfix and Dovecot greet on the virtual address (seen from a third node).
# After a service crash its failure is cleaned up; a crashed node is
# rebooted and rejoins before the next run.
#   test/bench/failover.sh [--runs N]
# Needs root and the installed agents (meson install); brings up its own lab.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/cluster/lab3.sh
. test/agent/mail/mail-lib.sh
. test/cluster/vserver.sh

runs=5
case ${1:-} in
    "") ;;
    --runs) runs=${2:?--runs N}; [[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "--runs: a number, 1 or more" >&2; exit 2; } ;;
    *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
esac
[ -x /usr/lib/ocf/resource.d/warden/smtp ] || { echo "install warden first: meson install -C build" >&2; exit 1; }
mail_have_servers || { echo "Postfix/Dovecot missing: scripts/deps.sh" >&2; exit 1; }

tmp=$(mktemp -d /tmp/warden-failover.XXXXXX)
cleanup() {
    lab3_down_if_started >/dev/null 2>&1 || lab3_down || true
    vs_release
    rm -rf "$tmp"
}
trap cleanup EXIT

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

rc=0
lab3_up 3 || rc=$?
(( rc == 0 )) || { echo "lab3 up failed" >&2; exit 1; }
vs_prepare "$tmp/mail"

# service_crash: one run; the seconds in $took (not printed: VS_NODE must
# change in this shell, not in a command substitution's).
service_crash() {
    local home=$VS_NODE t0 dt
    # at a random point of the monitor interval: heartbeat's agents only see
    # the crash at their next monitor
    sleep "$(( RANDOM % ${VS_MONITOR%s} )).$(( RANDOM % 10 ))"
    # shellcheck disable=SC2046 # the marks are words
    vs_in "$home" mail-signal KILL master $(vs_marks) >/dev/null || { echo "no Postfix master on $home" >&2; return 1; }
    t0=$(lab_now)
    vs_wait_running -t 120 "$home" || { echo "no failover from $home" >&2; return 1; }
    dt=$(lab_elapsed "$t0")
    lab3_exec "$VS_NODE" env -u CIB_file crm_resource --cleanup --resource "$VS_GROUP" >/dev/null 2>&1
    lab_wait_for -q -t 30 "[[ \$(lab3_failed_actions --count) == 0 ]]"
    sleep 2
    took=$dt
}

# node_crash: one run; the seconds in $took.
node_crash() {
    local home=$VS_NODE t0 dt
    t0=$(lab_now)
    lab3_crash "$home" 2>/dev/null || return 1
    vs_wait_running -t 120 "$home" || { echo "no failover from the crashed $home" >&2; return 1; }
    dt=$(lab_elapsed "$t0")
    lab3_reboot "$home" 2>/dev/null && lab3_wait_online 3 90 || return 1
    sleep 3       # the rejoined node's probes
    vs_wait_running -t 30 || return 1
    took=$dt
}

declare -A result
for kind in warden heartbeat; do
    vs_configure "$kind" migration-threshold=1 resource-stickiness=100
    vs_wait_running -t 90 || { echo "the $kind group does not start" >&2; lab3_status; exit 1; }
    sleep 3
    for what in service_crash node_crash; do
        vals=()
        for (( i = 1; i <= runs; i++ )); do
            from=$VS_NODE
            "$what" || { lab3_status; exit 1; }
            vals+=("$took")
            echo "$kind $what $i: $from -> $VS_NODE in $took s" >&2
        done
        result[$kind.$what]="$(printf '%s\n' "${vals[@]}" | median) ${vals[*]}"
    done
    vs_delete
    sleep 2
done

echo
echo "== failover of the EXRES virtual server group (IPaddr2 + SMTP + IMAP), 3 nodes, $runs runs each"
echo "   monitor interval $VS_MONITOR for both; warden's keeper checks every $VS_CHECK_INTERVAL; migration-threshold=1"
printf '%-44s %9s   %s\n' "" "median" "runs (s)"
for what in service_crash node_crash; do
    for kind in warden heartbeat; do
        read -r med all <<< "${result[$kind.$what]}"
        label="${what/_/ }, $( [ "$kind" = warden ] && echo 'warden smtp + imap' || echo 'heartbeat postfix + dovecot')"
        printf '%-44s %7s s   %s\n' "$label" "$med" "$all"
    done
done
