#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Failover benchmark, run by hand (not part of the test suite): the EXRES
# virtual server group (IPaddr2 + SMTP + IMAP on the virtual address, a
# Postfix and a Dovecot of its own) in the production-like lab
# (test/lab/plab.sh: three Debian nodes booted with systemd, fencing on,
# warden from its packages), built twice:
#   warden:    ocf:warden:smtp + ocf:warden:imap
#   heartbeat: ocf:heartbeat:postfix + ocf:heartbeat:dovecot
# with the same servers, the same monitor interval (10s) and timeouts
# (test/lab/plab-vserver.sh), and migration-threshold=1. For each release
# and each kind, RUNS times (default 5):
#   service crash: kill -9 of Postfix's master on the node running the group,
#                  at a random point of the monitor interval; no fencing;
#   node crash:    the node running the group loses its power (the lab's
#                  switch kills its PID 1); the cluster fences it
#                  (fence_warden_lab), which the fence history shows,
#                  before the group runs on a survivor;
# timed from the kill until the whole group runs on another node and
# Postfix and Dovecot greet on the virtual address, seen from the third
# node. After a service crash its failure is cleaned up; a crashed node
# boots again (the fencing's reboot) and rejoins before the next run.
#
#   test/bench/failover.sh [--runs N] [--release bookworm|trixie|both]
#
# Needs root and what test/lab/plab.sh needs; builds the images when they
# are missing (test/lab/plab-image.sh; WARDEN_DEB_CACHE and
# WARDEN_LAYER_CACHE put this checkout's packages elsewhere). The lab has
# a directory, cgroup, namespaces and network of its own (PLAB_DIR,
# PLAB_PREFIX, PLAB_NET below) and is torn down at exit.
# shellcheck disable=SC2016 # scripts for bash -c and the nodes' shells
set -u        # no pipefail: the lab's functions are written without it
cd "$(dirname "$0")/../.." || exit 1
export PLAB_DIR=${PLAB_DIR:-/run/warden-plab-bench} PLAB_PREFIX=${PLAB_PREFIX:-wpbch}
export PLAB_NET=${PLAB_NET:-10.213.12}
. test/lab/plab.sh
. test/lab/plab-vserver.sh

usage() { echo "usage: $0 [--runs N] [--release bookworm|trixie|both]" >&2; exit 2; }
runs=5 releases="bookworm trixie"
while (($#)); do
    case $1 in
        --runs)
            runs=${2:-}
            [[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "--runs: a number, 1 or more, not '$runs'" >&2; exit 2; }
            shift 2 ;;
        --release)
            case ${2:-} in
                bookworm|trixie) releases=$2 ;;
                both) releases="bookworm trixie" ;;
                *) echo "--release: bookworm, trixie or both, not '${2:-}'" >&2; exit 2 ;;
            esac
            shift 2 ;;
        *) usage ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "failover.sh: needs root (the lab)" >&2; exit 1; }
trap 'plab_down_if_started' EXIT

say() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# others NODE...: the lab's nodes but NODE..., one a line.
others() { plab_nodes | grep -vxF -f <(printf '%s\n' "$@"); }

# moved_from HOME: the whole group runs on a node other than HOME and greets
# a client on the third node; the node in MOVED.
MOVED=
moved_from() {
    local w
    w=$(vs_where) && [ -n "$w" ] && [ "$w" != "$1" ] || return 1
    vs_greets "$(others "$1" "$w" | head -n 1)" || return 1
    MOVED=$w
}

# wait_moved HOME SECS: moved_from, tried every 0.1 s.
wait_moved() {
    local end=$((SECONDS + $2))
    until moved_from "$1"; do
        ((SECONDS < end)) || return 1
        sleep 0.1
    done
}

status() { plab_exec "$ASK" crm_mon -1 -r -f 2>&1 | sed 's/^/    /' >&2; }

# service_crash HOME: one run; the seconds in TOOK.
service_crash() {
    local home=$1 pid t0
    ASK=$(others "$home" | head -n 1)
    # nothing pending: on Debian 13, the cleanup after the last run was seen
    # to have Pacemaker restart heartbeat:postfix (no master to kill then)
    plab_exec "$ASK" crm_resource --wait --timeout 120s >/dev/null 2>&1
    if ! wait_moved none 30 || [ "$MOVED" != "$home" ]; then
        say "the group is not settled on $home"
        return 1
    fi
    # at a random point of the monitor interval: heartbeat's agents only see
    # the crash at their next monitor
    sleep "$((RANDOM % ${VS_MONITOR%s})).$((RANDOM % 10))"
    pid=$(plab_exec "$home" pgrep -x master)
    [[ $pid =~ ^[0-9]+$ ]] || { say "no single Postfix master on $home: '$pid'"; return 1; }
    t0=$(now)
    plab_exec "$home" kill -KILL "$pid"
    wait_moved "$home" 120 || { say "no failover from $home"; return 1; }
    TOOK=$(since "$t0")
    if new_fence "$home"; then
        say "a service crash fenced $home"
        return 1
    fi
    plab_exec "$ASK" crm_resource --cleanup -r vs >/dev/null 2>&1
    plab_wait_for -t 30 bash -c '[ -z "$(failures)" ]' || { say "failed actions left: $(failures)"; return 1; }
    sleep 2
    FENCED=
}

# node_crash HOME: one run; the seconds in TOOK, the fencing as the
# survivors' fencers report it in FENCED.
node_crash() {
    local home=$1 t0 c ev hist
    ASK=$(others "$home" | head -n 1)
    t0=$(now)
    plab_switch off "$home" >/dev/null || { say "the switch did not power $home off"; return 1; }
    wait_moved "$home" 120 || { say "no failover from the crashed $home"; return 1; }
    TOOK=$(since "$t0")
    # Pacemaker starts the group elsewhere only after the fencing of home
    # succeeded: its fencers say so already.
    ev=$(others "$home" | while read -r n; do fence_events "$n"; done | sort -u |
        grep "^reboot $home pacemaker-controld" | grep -vxF -e "$(grep . <<<"$EVENTS" || echo -)" | tail -n 1)
    [ -n "$ev" ] || { say "the group runs on $MOVED, but no fencing of $home is known"; return 1; }
    # "reboot TARGET CLIENT DATE TIME ZONE": when it completed, after the crash
    c=$(date -d "$(cut -d' ' -f4- <<<"$ev")" +%s.%N 2>/dev/null) || c=
    FENCED="fenced ${c:+$(awk -v a="$t0" -v b="$c" 'BEGIN { printf "%.2f", b - a }') s after the crash}"
    # stonith_admin's own words for it (--verbose: every event, not only
    # the last of each kind), the line of this reboot (its completion time)
    c=$(awk '{ print $5 }' <<<"$ev")
    c=${c%Z}
    hist=$(plab_exec "$ASK" stonith_admin --history "$home" --verbose 2>/dev/null | grep "reboot of $home")
    if grep -qF "${c:-?}" <<<"$hist"; then
        grep -F "$c" <<<"$hist" | sed 's/^ */    stonith_admin --history: /' >&2
    else
        say "    (no line of stonith_admin --history $home has $c: the fencer's event is '$ev'; it shows:)"
        printf '    %s\n' "$hist" >&2
    fi
    if ! plab_wait_for -t 180 plab_all_online "$home" 3 || ! plab_wait_for -t 30 plab_all_online "$ASK" 3; then
        say "$home does not rejoin"
        return 1
    fi
    collect_fences
    sleep 3       # the rejoined node's probes
    plab_wait_for -t 30 moved_from "$home" || { say "the group stopped greeting after $home rejoined"; return 1; }
}

declare -A result version
FENCED=
for rel in $releases; do
    say "== $rel: the lab"
    plab_up "$rel" 3 || { say "$rel: the lab did not come up"; exit 1; }
    read -r n1 n2 n3 < <(plab_nodes | paste -sd' ')
    ASK=$n1 EVENTS=''
    collect_fences
    version[$rel]=$(plab_exec "$n1" sh -c 'pacemakerd --version | head -n 1; corosync -v | head -n 1 | sed "s/.*version .//; s/.$//"; dpkg-query -W -f "\${Version}" resource-agents' | paste -sd'|')
    say "$rel: ${version[$rel]}"
    plab_wait_for -t 60 bash -c '[ -n "$(rsc_node fence-lab)" ]' || { say "fence-lab does not start"; exit 1; }
    for n in "$n1" "$n2" "$n3"; do
        vs_prepare "$n" >/dev/null || { say "vs_prepare $n failed"; exit 1; }
    done
    for kind in warden heartbeat; do
        ASK=$n1
        vs_configure "$kind" migration-threshold=1 resource-stickiness=100 || exit 1
        plab_wait_for -t 90 moved_from none || { say "the $kind group does not start"; status; exit 1; }
        sleep 3
        for what in service_crash node_crash; do
            vals=()
            for ((i = 1; i <= runs; i++)); do
                from=$MOVED
                "$what" "$from" || { status; exit 1; }
                vals+=("$TOOK")
                say "$rel $kind $what $i: $from -> $MOVED in $TOOK s${FENCED:+ ($FENCED)}"
            done
            result[$rel.$kind.$what]="$(printf '%s\n' "${vals[@]}" | median) ${vals[*]}"
        done
        vs_delete || { say "the $kind group does not stop"; status; exit 1; }
        sleep 2
    done
    plab_down_if_started || { say "plab_down failed"; exit 1; }
done

echo
echo "== failover of the EXRES virtual server group (IPaddr2 + SMTP + IMAP), plab: 3 nodes, fencing on, $runs runs each, $(date -u +%Y-%m-%d)"
echo "   monitor interval $VS_MONITOR for both; warden's keeper checks every $VS_CHECK_INTERVAL; migration-threshold=1"
for rel in $releases; do
    echo
    echo "$rel: ${version[$rel]//|/, }"
    echo "| | median | runs (s) |"
    echo "|---|---|---|"
    for what in service_crash node_crash; do
        for kind in warden heartbeat; do
            read -r med all <<<"${result[$rel.$kind.$what]}"
            label="${what/_/ }, $([ "$kind" = warden ] && echo '`ocf:warden:smtp` + `imap`' || echo '`ocf:heartbeat:postfix` + `dovecot`')"
            printf '| %s | %s s | %s |\n' "$label" "$med" "$all"
        done
    done
done
