#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-lab3-smoke.sh - proves the 3-node lab (lab3.sh) works end
# to end and measures it:
#   1. bring up 3 nodes (n1 n2 n3), time until all are online with one DC;
#   2. create an ocf:pacemaker:Dummy (monitor 5 s), find its node;
#   3. "crm node standby" that node: the Dummy moves (timed), then back online;
#   4. crash the node running it (SIGKILL of the node's PID 1): the Dummy runs
#      on a survivor (timed), the survivors see 2 nodes online;
#   5. reboot the crashed node: it rejoins (timed), the Dummy runs exactly once;
#   6. ocf:heartbeat:IPaddr2 with a virtual address in the lab's network: it
#      is on exactly one node's eth0 (never in the root namespace), other nodes
#      reach it, and it follows a standby to another node;
#   7. tear down; nothing of the lab may be left (processes, namespaces).
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, programs or kernel features
# missing; with WARDEN_NO_SKIP=1 these fail instead). Teardown runs from an
# EXIT trap, so a failing or interrupted test leaves nothing behind.
#
# Knobs (environment): SMOKE3_TIMEOUT (s, for each move, default 30),
# SMOKE3_FAIL_AT=up|dummy|standby|crash|reboot|vip (fail on purpose right
# after that step, to prove the teardown), plus the LAB3_* settings of lab3.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab3.sh
. "$here/lab3.sh"

N=3
RSC=smoke3-dummy
VIP_RSC=smoke3-vip
MONITOR_INTERVAL=5
TIMEOUT=${SMOKE3_TIMEOUT:-30}

skip() { lab_skip "$@"; }
fail() { lab3_fail "$@"; }
step() { lab_step "$@"; }
timing() { echo "timing: $*" >&2; }

# checkpoint NAME: fail here if SMOKE3_FAIL_AT=NAME (proves the teardown).
checkpoint() {
    if [[ ${SMOKE3_FAIL_AT:-} == "$1" ]]; then
        fail "deliberate failure after step '$1' (SMOKE3_FAIL_AT=$1)"
    fi
}

finish() {
    local rc=$?
    trap - EXIT
    lab3_test_exit "$rc"
}

# on_single_node_other_than RSC NODE...: RSC runs on exactly one node, not
# one of NODE...; sets $where.
on_single_node_other_than() {
    local rsc=$1 w x
    shift
    w=$(lab3_rsc_node "$rsc") || return 1
    [[ -n $w && $w != *$'\n'* ]] || return 1
    for x in "$@"; do [[ $w == "$x" ]] && return 1; done
    where=$w
}

# node_attr NODE ATTR: an attribute of NODE in crm_mon's <nodes> (e.g. standby).
node_attr() {
    local xml
    xml=$(lab3_mon_xml) || return 1
    _lab3_xpath "string(//nodes/node[@name='$1']/@$2)" "$xml"
}

# other_live_node NODE...: a live node that is none of NODE...
other_live_node() {
    local n x
    for n in $(lab3_live_nodes); do
        for x in "$@"; do [[ $n == "$x" ]] && continue 2; done
        echo "$n"
        return 0
    done
    return 1
}

why=$(lab3_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
command -v ping >/dev/null 2>&1 || skip "ping (iputils-ping) is not installed"
[[ -x /usr/lib/ocf/resource.d/pacemaker/Dummy ]] || skip "ocf:pacemaker:Dummy is missing (package pacemaker-resource-agents)"
[[ -x /usr/lib/ocf/resource.d/heartbeat/IPaddr2 ]] || skip "ocf:heartbeat:IPaddr2 is missing (package resource-agents)"

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. up --
step "lab3 up: $N nodes"
t0=$(lab_now)
rc=0
lab3_up "$N" || rc=$?
case $rc in
    0) ;;
    2) skip "a $N-node lab cannot run here (see above)" ;;
    3) fail "an earlier lab3 was not torn down (see above; test/cluster/lab3.sh down clears it)" ;;
    *) fail "lab3_up failed (see above)" ;;
esac
timing "$N nodes online with a DC $(lab_elapsed "$t0") s after lab3_up was called"
[[ -n $(lab3_dc) ]] || fail "no DC"
[[ $(node_attr n3 online) == true ]] || fail "n3 not online"
checkpoint up

# ------------------------------------------------------------- 2. Dummy --
step "create $RSC (ocf:pacemaker:Dummy, monitor every ${MONITOR_INTERVAL}s)"
t0=$(lab_now)
lab3_crm n1 configure primitive "$RSC" ocf:pacemaker:Dummy \
    op monitor interval="${MONITOR_INTERVAL}s" timeout=20s \
    meta resource-stickiness=1 ||
    fail "could not create $RSC"
where=
lab_wait_for -t "$TIMEOUT" on_single_node_other_than "$RSC" ||
    fail "$RSC not Started on exactly one node (state: $(lab3_rsc_state "$RSC"))"
timing "$RSC Started on $where $(lab_elapsed "$t0") s after crm configure"
first=$where
lab3_exec "$first" test -e "/run/Dummy-$RSC.state" ||
    fail "the Dummy's state file is not in $first's private /run"
for n in $(lab3_nodes); do
    [[ $n == "$first" ]] && continue
    ! lab3_exec "$n" test -e "/run/Dummy-$RSC.state" ||
        fail "$n sees the Dummy's state file: /run is not private per node"
done
checkpoint dummy

# ----------------------------------------------------------- 3. standby --
other=$(other_live_node "$first") || fail "no second live node"
step "crm node standby $first (from $other): $RSC must move"
t0=$(lab_now)
lab3_crm "$other" node standby "$first" || fail "crm node standby $first failed"
t_crm=$(lab_elapsed "$t0")
lab_wait_for -t "$TIMEOUT" -i 0.05 on_single_node_other_than "$RSC" "$first" ||
    fail "$RSC did not move off $first (state: $(lab3_rsc_state "$RSC"))"
timing "$RSC moved $first -> $where $(lab_elapsed "$t0") s after crm node standby (crm itself returned after $t_crm s)"
[[ $(node_attr "$first" standby) == true ]] || fail "$first is not shown in standby"
second=$where
lab3_crm "$other" node online "$first" || fail "crm node online $first failed"
# shellcheck disable=SC2016 # evaluated by lab_wait_for, on every attempt
lab_wait_for -t "$TIMEOUT" '[[ $(node_attr "$first" standby) == false ]]' ||
    fail "$first did not leave standby"
sleep 1   # let the scheduler run once more: the Dummy must stay (stickiness)
if ! on_single_node_other_than "$RSC" "$first" || [[ $where != "$second" ]]; then
    fail "$RSC did not stay on $second after $first came back (state: $(lab3_rsc_state "$RSC"))"
fi
checkpoint standby

# ------------------------------------------------------------- 4. crash --
victim=$second
step "crash $victim (SIGKILL of its PID 1): $RSC must run on a survivor"
t0=$(lab_now)
lab3_crash "$victim" || fail "lab3_crash $victim failed"
t_killed=$(lab_elapsed "$t0")
survivor=$(other_live_node "$victim") || fail "no survivor"
lab_wait_for -t "$TIMEOUT" -i 0.05 on_single_node_other_than "$RSC" "$victim" ||
    fail "$RSC not recovered on a survivor (state seen from $survivor: $(lab3_rsc_state "$RSC"))"
timing "$RSC running on $where $(lab_elapsed "$t0") s after the crash of $victim (node dead after $t_killed s; corosync token $LAB3_TOKEN ms)"
lab3_wait_online 2 "$TIMEOUT" || fail "the survivors do not agree on 2 nodes online"
[[ $(node_attr "$victim" online) == false ]] || fail "$victim is not shown offline"
checkpoint crash

# ------------------------------------------------------------ 5. reboot --
step "reboot $victim: it must rejoin"
t0=$(lab_now)
lab3_reboot "$victim" || fail "lab3_reboot $victim failed"
lab3_wait_online "$N" "$TIMEOUT" || fail "$victim did not rejoin"
timing "$victim rejoined (all $N online, one DC) $(lab_elapsed "$t0") s after lab3_reboot"
# the rebooted node's probe must find the Dummy not running there: it runs once
# shellcheck disable=SC2016 # evaluated by lab_wait_for, on every attempt
lab_wait_for -t 10 '[[ $(lab3_rsc_node "$RSC" "$victim") == "$where" ]]' ||
    fail "$RSC not seen on exactly $where from $victim (state: $(lab3_rsc_state "$RSC" "$victim"))"
[[ $(lab3_rsc_state "$RSC") == "Started $where" ]] ||
    fail "$RSC state is '$(lab3_rsc_state "$RSC")', expected 'Started $where'"
checkpoint reboot

# ---------------------------------------------------------- 6. IPaddr2 --
step "ocf:heartbeat:IPaddr2 $LAB3_VIP/24 inside the lab"
has_vip() {   # has_vip NODE: NODE's eth0 holds the virtual address
    local out
    out=$(lab3_exec "$1" ip -o -4 addr show dev eth0) || return 1
    [[ $out == *" $LAB3_VIP/24 "* ]]
}
vip_on_exactly() {   # vip_on_exactly NODE: only NODE holds it
    local n
    for n in $(lab3_live_nodes); do
        if [[ $n == "$1" ]]; then has_vip "$n" || return 1
        else ! has_vip "$n" || return 1; fi
    done
}
t0=$(lab_now)
lab3_crm n1 configure primitive "$VIP_RSC" ocf:heartbeat:IPaddr2 \
    params ip="$LAB3_VIP" cidr_netmask=24 nic=eth0 \
    op monitor interval="${MONITOR_INTERVAL}s" timeout=20s ||
    fail "could not create $VIP_RSC"
where=
lab_wait_for -t "$TIMEOUT" on_single_node_other_than "$VIP_RSC" ||
    fail "$VIP_RSC not Started on exactly one node (state: $(lab3_rsc_state "$VIP_RSC"))"
vnode=$where
timing "$VIP_RSC Started on $vnode $(lab_elapsed "$t0") s after crm configure"
vip_on_exactly "$vnode" || fail "$LAB3_VIP is not on $vnode's eth0 alone"
if ip -o addr show | grep -q -- "${LAB3_NET}\."; then
    fail "an address of $LAB3_NET.0/24 appeared in the root namespace"
fi
pinger=$(other_live_node "$vnode") || fail "no second live node"
lab3_exec "$pinger" ping -c 1 -W 2 "$LAB3_VIP" >/dev/null || fail "$pinger cannot ping $LAB3_VIP on $vnode"
t0=$(lab_now)
lab3_crm "$pinger" node standby "$vnode" || fail "crm node standby $vnode failed"
lab_wait_for -t "$TIMEOUT" -i 0.05 on_single_node_other_than "$VIP_RSC" "$vnode" ||
    fail "$VIP_RSC did not move off $vnode (state: $(lab3_rsc_state "$VIP_RSC"))"
timing "$VIP_RSC moved $vnode -> $where $(lab_elapsed "$t0") s after crm node standby"
lab_wait_for -t 10 vip_on_exactly "$where" || fail "$LAB3_VIP did not follow to $where alone"
lab3_exec "$vnode" ping -c 1 -W 2 "$LAB3_VIP" >/dev/null || fail "$vnode cannot ping $LAB3_VIP, now on $where"
lab3_crm "$pinger" node online "$vnode" || fail "crm node online $vnode failed"
checkpoint vip

# -------------------------------------------------------------- 7. down --
step "lab3 down"
failed=$(lab3_exec n1 env -u CIB_file timeout 15 crm_mon -1 --output-as=xml |
         xmllint --xpath 'count(//failures/failure)' - 2>/dev/null) || failed='?'
[[ $failed == 0 ]] || fail "the cluster shows failed actions ($failed)"
t0=$(lab_now)
lab3_down || fail "lab3 did not go down cleanly"
timing "lab3 down in $(lab_elapsed "$t0") s"
if compgen -G "/run/netns/${LAB3_NETNS_PREFIX}*" >/dev/null; then
    fail "network namespaces left after lab3_down"
fi
[[ ! -e $LAB3_STATE ]] || fail "$LAB3_STATE left after lab3_down"
