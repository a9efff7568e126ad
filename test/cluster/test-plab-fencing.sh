#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fencing in the production-like lab (issue 15, test/lab/plab.sh), on
# Debian 12 (Pacemaker 2.1.5) and Debian 13 (Pacemaker 3.0) nodes booted
# with systemd-nspawn. Output is TAP. For each release (PLAB_RELEASES,
# default "bookworm trixie"):
#  1. two nodes boot, systemd is their PID 1 and has started corosync and
#     pacemaker, warden's packages built from this checkout are installed,
#     the cluster forms with stonith-enabled=true and the lab's fence device
#     fence-lab (fence_warden_lab) started;
#  2. an ocf:warden:daemon resource runs on one node;
#  3. stonith_admin --reboot of that node, asked on the other: it succeeds,
#     stonith_admin --history shows the reboot, the fencer says fence-lab
#     did it, and the power switch on the host was asked off and on for that
#     node by a node;
#  4. the resource runs on the survivor, nothing of it on the fenced node;
#     the fenced node boots again and rejoins, and the resource stays;
#  5. corosync killed (SIGKILL) on the node that now runs the resource:
#     the cluster fences it by itself (the history names the controller as
#     the client, the fencer names fence-lab), the resource moves back, the
#     node reboots and rejoins; the history holds exactly the two reboots,
#     no failed action;
#  6. the lab torn down: no nspawn, no namespace, no mount left.
# Skips (exit 77) with the reason when it cannot run here: not root,
# systemd-nspawn or debootstrap missing, the images cannot be built (no
# network); WARDEN_NO_SKIP=1 makes a skip a failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/test/agent/lib.sh"
. "$src/test/lab/plab.sh"

skip() { tap_skip "$@"; }
lab_node_prereqs "systemd-nspawn, namespaces, mounts" ip:iproute2 /usr/bin/python3:python3

releases=${PLAB_RELEASES:-bookworm trixie}
trap 'plab_down_if_started' EXIT

# Build every image first: a build that cannot run (no network) is a skip,
# not a failure of the lab.
for rel in $releases; do
    t=$SECONDS
    if ! "$src/test/lab/plab-image.sh" "$rel" >/dev/null 2>"/tmp/plab-image-$rel.log"; then
        if grep -q 'dpkg-buildpackage failed\|dpkg -i of warden' "/tmp/plab-image-$rel.log"; then
            not_ok "the $rel image with warden's packages builds"
            sed 's/^/# /' "/tmp/plab-image-$rel.log" | tail -n 40
            finish
            exit 1
        fi
        sed 's/^/# /' "/tmp/plab-image-$rel.log" | tail -n 20
        skip "cannot build the $rel image (debootstrap from the mirror: network?)"
    fi
    sed 's/^/# /' "/tmp/plab-image-$rel.log"
    rm -f "/tmp/plab-image-$rel.log"
    echo "# the $rel image: $((SECONDS - t)) s"
done

# Another lab beside this one is not this one's leftover: a mount under a
# directory whose name merely begins with PLAB_DIR (a chaos run in
# /run/warden-plab-chaos3 kept the one in /run/warden-plab-chaos from
# starting).
sibling=${PLAB_DIR}3
if mkdir -p "$sibling" && mount -t tmpfs -o size=1m warden-plab-test "$sibling"; then
    left=$(plab_leftovers)
    umount "$sibling" && rmdir "$sibling"
    check "a mount under $sibling is not a leftover of the lab in $PLAB_DIR${left:+: $left}" test -z "$left"
else
    not_ok "a tmpfs mounted on $sibling (to check that it is not the lab's leftover)"
fi

# rsc_node NODE RSC: the node RSC runs on, as NODE's cluster sees it.
rsc_node() {
    plab_exec "$1" crm_resource --locate -r "$2" 2>/dev/null |
        sed -n 's/.*is running on: *\([^ ]*\).*/\1/p' | head -n 1
}
rsc_on() { [ "$(rsc_node "$1" "$2")" = "$3" ]; }
# svc_procs NODE: PIDs of the service's process (sleep 4242) on NODE.
svc_procs() { plab_exec "$1" pgrep -x -f '/bin/sleep 4242' 2>/dev/null; }

# fence_events NODE...: the successful fencing events the nodes' fencers
# know, one "ACTION TARGET CLIENT.PID COMPLETED" line each, sorted, unique.
# Each fencer keeps its history in memory: a fenced node forgets what it
# knew, and Pacemaker does not always give it back when the node rejoins,
# so the test collects the events after each fencing (the union is the
# history).
fence_events() {
    local n target line a t c d
    for n in "$@"; do
        # per target: "--history '*'" was seen to leave out events that
        # "--history NODE" shows, on the same node at the same moment
        for target in $(plab_nodes); do
            plab_exec "$n" stonith_admin --history "$target" --output-as=xml 2>/dev/null |
                grep '<fence_event ' | grep 'status="success"'
        done
    done | while IFS= read -r line; do
        a=${line#*action=\"} t=${line#*target=\"} c=${line#*client=\"} d=${line#*completed=\"}
        echo "${a%%\"*} ${t%%\"*} ${c%%\"*} ${d%%\"*}"
    done | sort -u
}

# leftovers SWITCH_PID: what of the lab is left, if anything.
leftovers() {
    ! kill -0 "$1" 2>/dev/null || echo "the switch $1 runs"
    plab_leftovers
}

run_release() {
    local rel=$1 t0=$SECONDS t n1 n2 victim survivor out ver want
    echo "# ---- $rel ----"
    n1=${rel}1 n2=${rel}2
    t=$SECONDS
    if ! plab_up "$rel" 2; then
        not_ok "$rel: 2 nodes boot and form a cluster"
        for n in $n1 $n2; do
            echo "# $n: $(plab_switch status "$n" 2>&1), PID 1 $(plab_pid1 "$n" 2>&1)"
            plab_exec "$n" sh -c 'systemctl is-system-running; systemctl --failed --no-pager; crm_mon -1;
                journalctl -q --no-pager -n 30 -u corosync -u pacemaker' 2>&1 | sed 's/^/#   /'
        done
        sed 's/^/# switch: /' "$PLAB_DIR/switch.log" 2>/dev/null | tail -n 20
        plab_down_if_started
        return
    fi
    ok "$rel: 2 nodes boot and form a cluster with a DC ($((SECONDS - t)) s)"

    for n in $n1 $n2; do
        # shellcheck disable=SC2016 # for the node's shell
        out=$(plab_exec "$n" sh -c 'cat /proc/1/comm; systemctl is-active corosync pacemaker' | paste -sd' ')
        check "$rel: $n: systemd is PID 1 and has started corosync and pacemaker ($out)" \
            test "$out" = "systemd active active"
    done
    ver=$(plab_exec "$n1" pacemakerd --version | head -n 1)
    case $rel in bookworm) want="Pacemaker 2.1.5" ;; trixie) want="Pacemaker 3.0" ;; esac
    check "$rel: the nodes run $want ($ver)" grep -q "^$want" <<<"$ver"
    # shellcheck disable=SC2016 # dpkg-query's format
    out=$(plab_exec "$n1" dpkg-query -W -f='${Package} ${Version}\n' libwarden0 resource-agents-warden | paste -sd' ')
    check "$rel: warden installed from its packages ($out)" grep -q 'libwarden0 .* resource-agents-warden ' <<<"$out"
    out=$(plab_exec "$n1" crm_attribute -t crm_config -n stonith-enabled -G -q)
    check "$rel: stonith-enabled=$out" test "$out" = true
    check "$rel: the fence device fence-lab (fence_warden_lab) starts" \
        plab_wait_for -t 60 bash -c "[ -n \"\$(plab_exec $n1 crm_resource --locate -r fence-lab 2>/dev/null | grep 'is running on')\" ]"

    # 2. the service
    plab_exec "$n1" cibadmin -C -o resources -X '<primitive id="svc" class="ocf" provider="warden" type="daemon"><instance_attributes id="svc-ia"><nvpair id="svc-command" name="command" value="/bin/sleep 4242"/></instance_attributes><operations><op id="svc-monitor" name="monitor" interval="10s" timeout="20s"/></operations></primitive>'
    victim=
    if plab_wait_for -t 60 bash -c "plab_exec $n1 crm_resource --locate -r svc | grep -q 'is running on'"; then
        victim=$(rsc_node "$n1" svc)
    fi
    if [ -z "$victim" ]; then
        not_ok "$rel: ocf:warden:daemon svc starts"
        plab_exec "$n1" crm_mon -1 -r | sed 's/^/# /'
        plab_down_if_started
        return
    fi
    survivor=$n1
    [ "$victim" = "$n1" ] && survivor=$n2
    check "$rel: ocf:warden:daemon svc starts on $victim and its process runs there" \
        test -n "$(svc_procs "$victim")"

    # 3. fencing
    t=$SECONDS
    out=$(plab_exec "$survivor" stonith_admin --reboot "$victim" --timeout 120 2>&1)
    rc=$?
    check "$rel: stonith_admin --reboot $victim, asked on $survivor, succeeds ($((SECONDS - t)) s): rc $rc ${out//$'\n'/ }" \
        test $rc = 0
    out=$(plab_exec "$survivor" stonith_admin --history "$victim" 2>&1)
    echo "# history: ${out//$'\n'/ | }"
    check "$rel: stonith_admin --history shows the reboot of $victim successful" \
        grep -qi "reboot of $victim successful" <<<"$out"
    out=$(plab_exec "$survivor" sh -c 'cat /var/log/pacemaker/pacemaker.log 2>/dev/null; journalctl -q --no-pager -u pacemaker 2>/dev/null' |
        grep -i "targeting $victim using fence-lab returned 0" | tail -n 1)
    check "$rel: the fencer on $survivor fenced $victim with fence-lab: ${out:-(no such line)}" test -n "$out"
    check "$rel: the power switch cut $victim's power and turned it on, asked by a node" \
        sh -c "grep -q \"node request .*'off $victim' -> ok off\" '$PLAB_DIR/switch.log' &&
               grep -q \"node request .*'on $victim' -> ok on\" '$PLAB_DIR/switch.log'"

    local events
    events=$(fence_events "$n1" "$n2")

    # 4. the survivor runs the service
    t=$SECONDS
    if plab_wait_for -t 60 rsc_on "$survivor" svc "$survivor"; then
        ok "$rel: svc runs on the survivor $survivor ($((SECONDS - t)) s after the fencing)"
    else
        not_ok "$rel: svc runs on the survivor $survivor: $(rsc_node "$survivor" svc)"
        plab_exec "$survivor" crm_mon -1 -r | sed 's/^/# /'
    fi
    check "$rel: the service's process runs on $survivor" test -n "$(svc_procs "$survivor")"
    t=$SECONDS
    if plab_wait_for -t 120 plab_all_online "$victim" 2 &&
            plab_wait_for -t 30 plab_all_online "$survivor" 2; then
        ok "$rel: the fenced $victim boots again and rejoins ($((SECONDS - t)) s)"
        sleep 5 # time to move svc back, which it must not do
        check "$rel: svc stays on $survivor, nothing of it runs on $victim" \
            bash -c "[ \"\$(rsc_node $survivor svc)\" = $survivor ] && [ -z \"\$(svc_procs $victim)\" ]"
    else
        not_ok "$rel: the fenced $victim boots again and rejoins"
        tail -n 20 "$PLAB_DIR/$victim.console" | sed 's/^/# /'
    fi

    # 5. a node failure: corosync killed on the node that runs svc. The
    # cluster itself fences it (the controller asks), svc moves.
    local dead=$survivor other=$victim
    t=$SECONDS
    plab_exec "$dead" pkill -KILL -x corosync
    if plab_wait_for -t 60 bash -c "plab_exec $other stonith_admin --history $dead 2>/dev/null |
            grep -qi 'reboot of $dead successful.*client=pacemaker-controld'"; then
        ok "$rel: corosync killed on $dead: the cluster fences it, the controller on $other asked ($((SECONDS - t)) s)"
        events+=$'\n'$(fence_events "$other")
    else
        not_ok "$rel: corosync killed on $dead: the cluster fences it"
        plab_exec "$other" stonith_admin --history "$dead" 2>&1 | sed 's/^/# /'
    fi
    out=$(plab_exec "$other" sh -c 'cat /var/log/pacemaker/pacemaker.log 2>/dev/null; journalctl -q --no-pager -u pacemaker 2>/dev/null' |
        grep -i "targeting $dead using fence-lab returned 0" | tail -n 1)
    check "$rel: the fencer on $other fenced $dead with fence-lab: ${out:-(no such line)}" test -n "$out"
    if plab_wait_for -t 60 rsc_on "$other" svc "$other"; then
        ok "$rel: svc runs on $other ($((SECONDS - t)) s after the kill)"
    else
        not_ok "$rel: svc runs on $other: $(rsc_node "$other" svc)"
        plab_exec "$other" crm_mon -1 -r | sed 's/^/# /'
    fi
    check "$rel: the service's process runs on $other" test -n "$(svc_procs "$other")"
    if plab_wait_for -t 120 plab_all_online "$dead" 2; then
        ok "$rel: the fenced $dead boots again and rejoins ($((SECONDS - t)) s after the kill)"
    else
        not_ok "$rel: the fenced $dead boots again and rejoins"
    fi
    # the history: every event seen, "ACTION TARGET CLIENT" (no PID, no time)
    events+=$'\n'$(fence_events "$n1" "$n2")
    echo "# the fence events seen: $(grep . <<<"$events" | sort -u | paste -sd';')"
    out=$(grep . <<<"$events" | sort -u |
        awk '{ sub(/\.[0-9]+$/, "", $3); print $1, $2, $3 }' | sort | paste -sd';')
    check "$rel: the fence history holds exactly the 2 reboots: $out" \
        test "$out" = "$(printf 'reboot %s\n' "$dead pacemaker-controld" "$victim stonith_admin" | sort | paste -sd';')"
    out=$(plab_exec "$other" crm_mon -1 --output-as=xml 2>/dev/null | grep -c '<failure ')
    check "$rel: no failed action ($out)" test "$out" = 0

    # 6. teardown
    local pid
    pid=$(awk '{print $1}' "$PLAB_DIR/switch.pid")
    plab_down_if_started
    out=$(leftovers "$pid")
    check "$rel: torn down: no switch, no nspawn, no node process (cgroup), no namespace, no mount left${out:+: $out}" \
        test -z "$out"
    echo "# $rel: the scenario took $((SECONDS - t0)) s"
}

export -f plab_nodes plab_exec plab_switch plab_pid1 plab_log rsc_node rsc_on svc_procs plab_all_online plab_online_count
export PLAB_DIR PLAB_PREFIX
t_all=$SECONDS
for rel in $releases; do
    run_release "$rel"
done
echo "# the whole test: $((SECONDS - t_all)) s"
finish
