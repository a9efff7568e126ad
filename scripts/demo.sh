#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job: build and install warden, then show it at work in a throwaway
# Pacemaker cluster on this machine, left running afterwards.
#
#   scripts/demo.sh              one node (corosync on 127.0.0.1): an
#                                ocf:warden:daemon primitive, its service
#                                killed, Pacemaker recovering it
#   scripts/demo.sh --nodes 3    three nodes in namespaces (test/cluster/lab3.sh):
#                                an EXRES virtual server (IPaddr2 + ocf:warden:smtp
#                                + ocf:warden:imap, a real Postfix and Dovecot on
#                                the virtual address), the node running it
#                                crashed, the group on a survivor
#   scripts/demo.sh --stop       stop whichever demo cluster runs (by PID)
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO3_DIR=/var/tmp/warden-demo3      # the mail servers' files, while the 3-node demo runs

nodes=1
case ${1:-} in
    "") ;;
    --stop)
        . test/cluster/lab3.sh
        . test/agent/mail/mail-lib.sh
        if [ -e "$LAB3_STATE" ] || compgen -G "/run/netns/${LAB3_NETNS_PREFIX}*" >/dev/null; then
            lab3_down
        fi
        if [ -d "$DEMO3_DIR" ]; then
            mail_postfix_disallow "$DEMO3_DIR/postfix/etc"
            rm -rf "$DEMO3_DIR"
        fi
        if [ -e "$LAB_STATE" ]; then lab_down; fi
        exit 0 ;;
    --nodes)
        case ${2:-} in
            1|3) nodes=$2 ;;
            *) echo "demo.sh: --nodes takes 1 or 3, not '${2:-}'" >&2; exit 2 ;;
        esac ;;
    *) echo "usage: $0 [--nodes 1|3] | --stop" >&2; exit 2 ;;
esac

scripts/deps.sh
scripts/install.sh build
echo "installed: $(ls /usr/lib/ocf/resource.d/warden/ | paste -sd" ")  ->  /usr/lib/ocf/resource.d/warden/"

bye() {
    cat <<MSG

The cluster keeps running. Look around with:  $1
Stop it (corosync and Pacemaker, by PID) with:  scripts/demo.sh --stop
MSG
}

if [ "$nodes" = 3 ]; then
    . test/cluster/lab3.sh
    . test/agent/mail/mail-lib.sh
    . test/cluster/vserver.sh
    if [ -d "$DEMO3_DIR" ]; then
        echo "a 3-node demo seems to run already ($DEMO3_DIR exists): scripts/demo.sh --stop first" >&2
        exit 1
    fi
    if ! lab3_up 3; then
        lab3_down || true
        exit 1
    fi
    vs_prepare "$DEMO3_DIR"
    echo
    echo "\$ crm configure    # an EXRES virtual server: the group vs"
    _vs_crm_text warden migration-threshold=3 resource-stickiness=100 | sed 's/^/    /'
    vs_configure warden migration-threshold=3 resource-stickiness=100
    vs_wait_running -t 60 || { lab3_status; exit 1; }
    home=$VS_NODE
    echo
    echo "\$ crm_mon -1      # on $home"
    lab3_exec "$home" crm_mon -1
    echo
    echo "\$ test/cluster/lab3.sh crash $home     # power cut: its link down, all its processes killed"
    t0=$(lab_now)
    lab3_crash "$home" 2>/dev/null
    vs_wait_running -t 60 "$home" || { lab3_status; exit 1; }
    echo "The group runs on $VS_NODE: Postfix and Dovecot greet on $LAB3_VIP again" \
         "$(lab_elapsed "$t0") s after $home crashed."
    echo
    echo "\$ crm_mon -1      # on $VS_NODE"
    lab3_exec "$VS_NODE" crm_mon -1
    bye "test/cluster/lab3.sh status   test/cluster/lab3.sh exec $VS_NODE crm_mon -1
Bring $home back with:  test/cluster/lab3.sh reboot $home"
    exit 0
fi

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
