#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job: build and install warden, then show it at work in a throwaway
# Pacemaker cluster on this machine, left running afterwards.
#
#   scripts/demo.sh              one node (corosync on 127.0.0.1): an
#                                ocf:warden:daemon primitive, its service
#                                killed, Pacemaker recovering it
#   scripts/demo.sh --nodes 3 [--release bookworm|trixie]
#                                three Debian nodes booted with systemd,
#                                fencing on, warden from its packages
#                                (test/lab/plab.sh; bookworm by default): an
#                                EXRES virtual server (IPaddr2 + ocf:warden:smtp
#                                + ocf:warden:imap, a real Postfix and Dovecot on
#                                the virtual address), the node running it
#                                crashed (its power cut), fenced by the cluster
#                                (stonith_admin --history), the group on a
#                                survivor, the fenced node back
#   scripts/demo.sh --stop       stop whichever demo cluster runs (by PID)
set -euo pipefail
cd "$(dirname "$0")/.."

# The 3-node demo's lab: a directory, cgroup, namespaces and network of its
# own (test/lab/plab.sh), apart from the tests' labs.
export PLAB_DIR=/run/warden-plab-demo PLAB_PREFIX=wpdemo PLAB_NET=10.213.14

nodes=1 release=bookworm
case ${1:-} in
    "") ;;
    --stop)
        . test/lab/plab.sh
        plab_down
        left=$(plab_leftovers)
        [ -z "$left" ] || { echo "demo.sh: the 3-node demo's lab left: $left" >&2; exit 1; }
        . test/cluster/lab.sh
        if [ -e "$LAB_STATE" ]; then lab_down; fi
        exit 0 ;;
    --nodes)
        case ${2:-} in
            1|3) nodes=$2 ;;
            *) echo "demo.sh: --nodes takes 1 or 3, not '${2:-}'" >&2; exit 2 ;;
        esac
        case ${3:-} in
            "") ;;
            --release)
                case ${4:-} in
                    bookworm|trixie)
                        if [ "$nodes" != 3 ]; then echo "demo.sh: --release goes with --nodes 3" >&2; exit 2; fi
                        release=$4 ;;
                    *) echo "demo.sh: --release takes bookworm or trixie, not '${4:-}'" >&2; exit 2 ;;
                esac ;;
            *) echo "usage: $0 [--nodes 1 | --nodes 3 [--release bookworm|trixie]] | --stop" >&2; exit 2 ;;
        esac ;;
    *) echo "usage: $0 [--nodes 1 | --nodes 3 [--release bookworm|trixie]] | --stop" >&2; exit 2 ;;
esac

scripts/deps.sh

bye() {
    cat <<MSG

The cluster keeps running. Look around with:  $1
Stop it (corosync and Pacemaker, by PID) with:  scripts/demo.sh --stop
MSG
}

if [ "$nodes" = 3 ]; then
    . test/lab/plab.sh
    . test/lab/plab-vserver.sh
    if [ -e "$PLAB_DIR" ]; then
        echo "a 3-node demo seems to run already ($PLAB_DIR exists): scripts/demo.sh --stop first" >&2
        exit 1
    fi
    # torn down if the demo fails; left running when it succeeds. The lab's
    # functions test and fail as they go: no errexit or pipefail here, each
    # step checked.
    set +e +o pipefail
    trap 'plab_down_if_started' EXIT
    plab_up "$release" 3 || exit 1
    read -r n1 n2 n3 < <(plab_nodes | paste -sd' ')
    echo "nodes: $n1 $n2 $n3 ($(plab_exec "$n1" pacemakerd --version | head -n 1)), warden from its packages," \
         "fencing by fence_warden_lab (the lab's power switch)"
    for n in "$n1" "$n2" "$n3"; do vs_prepare "$n" >/dev/null || exit 1; done
    ASK=$n1
    vs_configure warden migration-threshold=3 resource-stickiness=100 || exit 1
    # shellcheck disable=SC2016 # for bash -c
    plab_wait_for -t 90 bash -c '[ -n "$(vs_where)" ]' || { plab_exec "$ASK" crm_mon -1 -r; exit 1; }
    home=$(vs_where)
    mapfile -t survivors < <(plab_nodes | grep -vx "$home")
    ASK=${survivors[0]}
    plab_wait_for -t 30 vs_greets "$ASK" || { plab_exec "$ASK" crm_mon -1 -r; exit 1; }
    echo
    echo "\$ crm configure show vs      # on $ASK: an EXRES virtual server, the group vs"
    plab_exec "$ASK" crm configure show vs vs-ip vs-smtp vs-imap | sed 's/^/    /'
    echo
    echo "\$ crm_mon -1      # on $ASK"
    plab_exec "$ASK" crm_mon -1
    collect_fences
    echo
    echo "\$ test/lab/plab.sh switch off $home     # its power cut: the lab's switch kills its PID 1"
    t0=$(date +%s.%N)
    plab_switch off "$home" >/dev/null
    secs() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
    if ! plab_wait_for -t 120 new_fence "$home"; then
        echo "no fencing of $home seen in 120 s; the fencers know:" >&2
        for n in "${survivors[@]}"; do fence_events "$n"; done >&2
        tail -n 20 "$PLAB_DIR/switch.log" >&2
        plab_exec "$ASK" crm_mon -1 -r
        exit 1
    fi
    fenced=$(secs)
    group_seen=$(vs_where || true)
    echo "The cluster fenced $home $fenced s after the crash (the group ran on: ${group_seen:-no node yet}):"
    echo
    echo "\$ stonith_admin --history $home      # on $ASK"
    plab_exec "$ASK" stonith_admin --history "$home"
    # shellcheck disable=SC2016 # for bash -c
    plab_wait_for -t 60 bash -c 'w=$(vs_where) && [ -n "$w" ] && [ "$w" != "$1" ] && vs_greets "$2"' \
        sh "$home" "$ASK" || { plab_exec "$ASK" crm_mon -1 -r; exit 1; }
    echo
    echo "The group runs on $(vs_where): Postfix and Dovecot greet on $VS_IP again $(secs) s after $home crashed" \
         "(fenced after $fenced s; Pacemaker starts nothing of the group elsewhere before the fencing succeeds)."
    echo
    echo "\$ crm_mon -1      # on $ASK"
    plab_exec "$ASK" crm_mon -1
    if plab_wait_for -t 120 plab_all_online "$home" 3; then
        echo
        echo "$home, rebooted by the fencing, rejoined $(secs) s after the crash; the group stays on $(vs_where)."
    fi
    _PLAB_STARTED=    # left running
    look="PLAB_DIR=$PLAB_DIR PLAB_PREFIX=$PLAB_PREFIX test/lab/plab.sh"
    bye "$look exec $ASK crm_mon -1
  $look exec $ASK stonith_admin --history '*'
  $look switch off NODE      (another power cut)"
    exit 0
fi

scripts/install.sh build
echo "installed: $(ls /usr/lib/ocf/resource.d/warden/ | paste -sd" ")  ->  /usr/lib/ocf/resource.d/warden/"

. test/cluster/lab.sh
if ! lab_up; then
    lab_down || true
    exit 1
fi

rsc=demo-daemon
echo
echo "\$ crm configure primitive $rsc ocf:warden:daemon params command=\"/bin/sleep infinity\" op monitor interval=5s timeout=20s"
lab_crm configure primitive $rsc ocf:warden:daemon \
    params command="/bin/sleep infinity" \
    op monitor interval=5s timeout=20s
lab_wait_for -t 60 lab_rsc_is $rsc Started
echo
echo "\$ crm_mon -1"
crm_mon -1

main_pid() { awk '/^main /{print $2}' /run/warden/$rsc/service 2>/dev/null; }
old=$(main_pid)
echo
echo "\$ kill -9 $old          # the service, behind Pacemaker's back"
kill -9 "$old"
t0=$(lab_now)
lab_wait_for -t 60 '[ -n "$(main_pid)" ] && [ "$(main_pid)" != "'"$old"'" ] && lab_rsc_is '$rsc' Started'
echo "Pacemaker recovered it: new pid $(main_pid), $(lab_elapsed "$t0") s after the kill" \
     "(its keeper told Pacemaker at once; the monitor interval is 5s)."
echo
echo "\$ crm_mon -1 --include=failcounts"
crm_mon -1 --include=failcounts 2>/dev/null || crm_mon -1f
bye "crm_mon -1   crm configure show"
