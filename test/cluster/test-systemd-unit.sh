#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Services in systemd units (issue 13, "systemd hosts"), on Debian nodes
# booted with systemd as PID 1 under systemd-nspawn. Output is TAP. For each
# release (UNITS_RELEASES, default "bookworm"; "bookworm trixie" for both),
# one node of this test's own (not test/lab/plab.sh's lab: no cluster is
# needed, and that lab may be in use), booted over the lab's image
# (test/lab/plab-image.sh: warden's packages built from this checkout),
# with corosync and pacemaker masked. The agent runs there as Pacemaker's
# executor runs it: from a service of the node's own systemd (systemd-run),
# with its OCF_ variables. It asserts:
#  1. start: the service runs in warden-<escaped name>.scope in warden.slice,
#     which `systemctl status` shows active with every process of the
#     service, systemd-cgls shows too, ordered before pacemaker.service,
#     described with the resource's name; no <cgroup2>/warden exists;
#  2. systemctl daemon-reload and daemon-reexec do not disturb it: the same
#     processes in the same active unit, monitor still 0;
#  3. stop: no process of the service (one double-forked into a session of
#     its own included), no unit, no cgroup left;
#  4. a start whose state was lost cleans up the unit the earlier start left
#     (found through its cgroup) and starts again;
#  5. a name past systemd's 255 bytes escaped gets a hashed unit name, starts
#     and stops;
#  6. memory_max and cpu_weight are the unit's MemoryMax= and CPUWeight=
#     (set at start, changed by reload-agent, kept over daemon-reload), the
#     service's output is in the journal under the resource's name, and a
#     service that outgrows memory_max is OOM-killed: monitor says 7 (where
#     the node has the v2 memory and cpu controllers; this machine binds
#     them to cgroup v1, so there the properties are checked past the
#     refusal, with WARDEN_UNCHECKED_CONTROLLERS=1, and their effect is not);
#  7. the node is powered off and everything of the test is gone.
# Skips (exit 77) with the reason when it cannot run here (not root,
# systemd-nspawn, debootstrap or dpkg-buildpackage missing, no image: no
# network); WARDEN_NO_SKIP=1 makes a skip a failure.
#
# Where the image's packages go: plab-image.sh's caches, or, with
# WARDEN_DEB_CACHE and WARDEN_LAYER_CACHE set, elsewhere (a checkout other
# than the one a running lab was built from must not replace its layer).
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/test/agent/lib.sh"

UNITS_DIR=${UNITS_DIR:-/run/warden-units-lab}
UNITS_CGROUP=${UNITS_CGROUP:-wunits}
releases=${UNITS_RELEASES:-bookworm}
AGENT_PATH=/usr/lib/ocf/resource.d/warden/daemon

skip() { tap_skip "$@"; }
say() { echo "# $*"; }
lab_node_prereqs "systemd-nspawn, mounts, cgroups"

# The host's cgroup v2 mount and name=systemd mount (nspawn --keep-unit
# roots the node's cgroup namespace in the cgroup it starts in, on both).
cgroup_mounts() {
    awk -F' - ' '{ split($1, a, " "); split($2, b, " ")
                   if (b[1] == "cgroup2") print 0, a[5]
                   else if (b[1] == "cgroup" && b[3] ~ /name=systemd/) print 1, a[5] }' \
        /proc/self/mountinfo | sort -n | cut -d' ' -f2-
}

nspawn_pid=
pid1=

# node_exec CMD...: CMD in the node (all its namespaces), clean environment.
node_exec() {
    nsenter -t "$pid1" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
        TERM=dumb SYSTEMD_PAGER= "$@" </dev/null
}

# node_pid1: the child of our nspawn that is PID 1 of a namespace of its own.
node_pid1() {
    local c
    # shellcheck disable=SC2013 # the children file is one line of pids
    for c in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
        awk '/^NSpid:/ { exit !(NF > 2 && $NF == 1) }' "/proc/$c/status" 2>/dev/null && { echo "$c"; return 0; }
    done
    return 1
}

# node_up REL: boot a node over REL's image; sets nspawn_pid, pid1.
node_up() {
    local rel=$1 lower dir root m node=units-$1
    lower=$("$src/test/lab/plab-image.sh" "$rel" 2>"$UNITS_DIR.image.log") || {
        sed 's/^/# /' "$UNITS_DIR.image.log" | tail -n 20
        return 2
    }
    dir=$UNITS_DIR/$rel root=$UNITS_DIR/$rel/root
    mkdir -p "$dir/upper" "$dir/work" "$root"
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$root" || return 1
    echo "$root" >>"$UNITS_DIR/mounts"
    echo "$node" >"$root/etc/hostname"
    # Not a cluster: no corosync on the host's kernel that another lab's
    # checks would see, no Pacemaker.
    ln -sf /dev/null "$root/etc/systemd/system/corosync.service"
    ln -sf /dev/null "$root/etc/systemd/system/pacemaker.service"
    local cgs=()
    while read -r m; do
        mkdir -p "$m/$UNITS_CGROUP/$node" && cgs+=("$m/$UNITS_CGROUP/$node")
    done < <(cgroup_mounts)
    (
        for m in "${cgs[@]}"; do echo "$BASHPID" >"$m/cgroup.procs"; done
        exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 \
            systemd-nspawn --quiet --directory "$root" --boot --register=no --keep-unit \
            --machine "$node" --hostname "$node" --private-network --console=pipe \
            --link-journal=no --resolv-conf=off --timezone=off
    ) </dev/null >"$dir/console" 2>&1 &
    nspawn_pid=$!
    echo "$nspawn_pid" >"$UNITS_DIR/nspawn.pid"
    wait_until 10 node_pid1 >/dev/null || { say "no PID 1 for $node"; return 1; }
    pid1=$(node_pid1)
    wait_until 120 node_booted || { say "$node: system $(node_exec systemctl is-system-running 2>&1)"; return 1; }
    say "$node booted: PID 1 is $pid1 on the host"
}

# node_booted: the boot is over (running, or degraded: a container lacks
# a few things). Asked again and again: systemctl is-system-running --wait
# fails at once while PID 1's socket is not there yet.
node_booted() {
    local state
    state=$(node_exec systemctl is-system-running 2>/dev/null)
    [ "$state" = running ] || [ "$state" = degraded ]
}

# node_down: power the node off (systemd's own shutdown first), wait for
# nspawn, then anything left in our cgroup is killed; unmount, remove.
node_down() {
    local m cg end
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        pid1=$(node_pid1) && kill -s RTMIN+4 "$pid1" 2>/dev/null
        end=$((SECONDS + 30))
        while kill -0 "$nspawn_pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.2; done
        if kill -0 "$nspawn_pid" 2>/dev/null; then
            say "the node did not power off in 30 s: SIGKILL"
            pid1=$(node_pid1) && kill -KILL "$pid1" 2>/dev/null
            kill -KILL "$nspawn_pid" 2>/dev/null
        fi
        wait "$nspawn_pid" 2>/dev/null
    fi
    nspawn_pid="" pid1=""
    while read -r cg; do
        cg=$cg/$UNITS_CGROUP
        [ -d "$cg" ] || continue
        if [ -e "$cg/cgroup.kill" ] && grep -qx 'populated 1' "$cg/cgroup.events"; then
            echo 1 >"$cg/cgroup.kill"
            end=$((SECONDS + 10))
            while grep -qx 'populated 1' "$cg/cgroup.events" && ((SECONDS < end)); do sleep 0.1; done
        fi
        end=$((SECONDS + 5))
        until find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null; do
            ((SECONDS < end)) || { say "cannot remove $cg"; break; }
            sleep 0.1
        done
    done < <(cgroup_mounts)
    if [ -f "$UNITS_DIR/mounts" ]; then
        while read -r m; do
            grep -qs " $m " /proc/self/mountinfo && { umount -R "$m" || umount -R -l "$m"; }
        done < <(tac "$UNITS_DIR/mounts")
    fi
    grep -qs " $UNITS_DIR/" /proc/self/mountinfo || rm -rf "$UNITS_DIR"
    rm -f "$UNITS_DIR.image.log"
}

# leftovers: what of this test is left on the host; nothing after node_down.
leftovers() {
    local d cg
    for d in /proc/[0-9]*; do
        [ "$(cat "$d/comm" 2>/dev/null)" = systemd-nspawn ] || continue
        tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q -- "$UNITS_DIR/" && echo "nspawn ${d#/proc/}"
    done
    while read -r cg; do [ -d "$cg/$UNITS_CGROUP" ] && echo "cgroup $cg/$UNITS_CGROUP"; done < <(cgroup_mounts)
    grep -qs " $UNITS_DIR/" /proc/self/mountinfo && echo "mounts under $UNITS_DIR"
    [ -e "$UNITS_DIR" ] && echo "$UNITS_DIR"
    return 0
}

# "test-systemd-unit.sh down": tear down what an interrupted run left.
if [ "${1:-}" = down ]; then
    nspawn_pid=$(cat "$UNITS_DIR/nspawn.pid" 2>/dev/null)
    [ "$(cat "/proc/$nspawn_pid/comm" 2>/dev/null)" = systemd-nspawn ] || nspawn_pid=""
    node_down
    left=$(leftovers)
    [ -z "$left" ] || { echo "left: $left" >&2; exit 1; }
    exit 0
fi
if [ -n "$(leftovers)" ]; then
    skip "an earlier run left: $(leftovers | paste -sd' ') (UNITS_DIR=$UNITS_DIR, cgroup $UNITS_CGROUP)"
fi
trap 'node_down' EXIT

# node_agent ACTION INSTANCE [k=v ...]: the agent, run as Pacemaker's
# executor runs it: in a service of the node's systemd (so from a cgroup
# the node's systemd manages), with KillMode=process as pacemaker.service
# has it in effect (the keeper it starts outlives the action). Sets rc, out.
node_agent() {
    local action=$1 inst=$2 kv
    shift 2
    local -a env=(--setenv=OCF_ROOT=/usr/lib/ocf "--setenv=OCF_RESOURCE_INSTANCE=$inst"
                  --setenv=OCF_RESOURCE_TYPE=daemon "--setenv=OCF_RESKEY_CRM_meta_timeout=${AGENT_TIMEOUT:-20000}"
                  --setenv=OCF_RESKEY_notify_cluster=false)
    for kv in "$@"; do env+=("--setenv=OCF_RESKEY_$kv"); done
    # UNITS_AGENT_ENV: more variables for the agent (WARDEN_SYSTEMD=off shows
    # this test failing on the cgroup tree of hosts without systemd).
    for kv in ${UNITS_AGENT_ENV:-}; do env+=("--setenv=$kv"); done
    out=$(node_exec systemd-run --quiet --wait --pipe --collect --service-type=exec \
        -p KillMode=process "${env[@]}" "$AGENT_PATH" "$action" 2>&1)
    rc=$?
}
expect() { # expect WANT "description"
    if [ "$rc" -eq "$1" ]; then ok "$2 (rc=$rc)"; else
        not_ok "$2: want rc=$1, got rc=$rc"
        printf '%s\n' "$out" | tail -n 5 | sed 's/^/#   /'
    fi
}
# svc_pids: the node's processes of the test service, as the host sees them
# inside the node's PID namespace.
svc_pids() { node_exec pgrep -f '^sleep (4242|4343|4444)$' | sort -n | paste -sd' '; }
three_running() { [ "$(svc_pids | wc -w)" = 3 ]; }
unit_of() { node_exec systemd-escape "$1"; }
unit_state() { node_exec systemctl show -P ActiveState "$1"; }
unit_load() { node_exec systemctl show -P LoadState "$1"; }
unit_gone() { [ "$(unit_load "$1")" = not-found ]; }

# The service: a main process, a child, and a grandchild that double-forks
# into a session of its own (orphaned to the holder) and ignores SIGTERM:
# only the kill of the unit's whole cgroup ends it.
SERVICE=(command="sleep 4343 & (setsid sh -c 'trap \"\" TERM; exec sleep 4444' &); exec sleep 4242"
         shell=true)

run_release() {
    local rel=$1 inst=units-web unit pids cg
    unit=warden-$(unit_of "$inst").scope
    check "$rel: systemd is the node's PID 1" [ "$(node_exec cat /proc/1/comm)" = systemd ]

    # ---- 1. start: in its unit -------------------------------------------
    node_agent start "$inst" "${SERVICE[@]}"
    expect 0 "$rel: start"
    wait_until 5 three_running
    pids=$(svc_pids)
    check "$rel: the service's three processes run ($pids)" test "$(wc -w <<<"$pids")" = 3
    check "$rel: $unit is active" test "$(unit_state "$unit")" = active
    local status
    status=$(node_exec systemctl status --no-pager --lines=0 -- "$unit" 2>&1)
    local p missing=
    for p in $pids; do grep -q -- "[^0-9]$p sleep 4" <<<"$status" || missing+=" $p"; done
    if [ -z "$missing" ]; then ok "$rel: systemctl status $unit lists every process of the service"; else
        not_ok "$rel: systemctl status $unit lacks$missing"
        sed 's/^/#   /' <<<"$status"
    fi
    cg=/sys/fs/cgroup/warden.slice/$unit
    local procs
    procs=$(node_exec cat "$cg/cgroup.procs" | sort -n | paste -sd' ')
    check "$rel: the unit's cgroup holds the service and its holder ($procs)" \
        test "$(wc -w <<<"$procs")" = 4
    check "$rel: in warden.slice" test "$(node_exec systemctl show -P Slice "$unit")" = warden.slice
    check "$rel: ordered before pacemaker.service" \
        grep -qw pacemaker.service <<<"$(node_exec systemctl show -P Before "$unit")"
    check "$rel: described with the resource's name" \
        grep -q "resource $inst\$" <<<"$(node_exec systemctl show -P Description "$unit")"
    check "$rel: systemd-cgls shows it" \
        grep -qF -- "$unit" <<<"$(node_exec systemd-cgls --no-pager 2>&1)"
    check "$rel: no cgroup named warden outside a unit" node_exec test ! -e /sys/fs/cgroup/warden
    check "$rel: the state file records the unit's cgroup" \
        grep -qxF "cgroup $cg" <<<"$(node_exec cat "/run/warden/$inst/service")"
    node_agent monitor "$inst" "${SERVICE[@]}"
    expect 0 "$rel: monitor"

    # ---- 2. daemon-reload, daemon-reexec ------------------------------------
    local what
    for what in daemon-reload daemon-reexec; do
        node_exec systemctl "$what"
        wait_until 10 node_exec systemctl is-system-running --quiet
        check "$rel: after $what the unit is active" test "$(unit_state "$unit")" = active
        check "$rel: after $what the same processes run" test "$(svc_pids)" = "$pids"
        node_agent monitor "$inst" "${SERVICE[@]}"
        expect 0 "$rel: monitor after $what"
    done

    # ---- 3. stop: nothing left -----------------------------------------------
    # 5 s: SIGKILL 1 s before the deadline (service.c's kill_reserve).
    local t0=$SECONDS
    AGENT_TIMEOUT=5000 node_agent stop "$inst"
    expect 0 "$rel: stop ($((SECONDS - t0)) s, the TERM-ignoring process killed with the unit's cgroup)"
    check "$rel: no process of the service is left (the double-forked one included)" test -z "$(svc_pids)"
    check "$rel: the unit is gone" unit_gone "$unit"
    check "$rel: its cgroup is gone" node_exec test ! -e "$cg"
    node_agent monitor "$inst" "${SERVICE[@]}"
    expect 7 "$rel: monitor after stop"

    # ---- 4. a start whose state was lost ------------------------------------
    node_agent start "$inst" "${SERVICE[@]}"
    expect 0 "$rel: start again"
    local old
    old=$(svc_pids)
    node_exec rm -rf "/run/warden/$inst"
    node_agent start "$inst" "${SERVICE[@]}"
    expect 0 "$rel: start with its state lost"
    wait_until 5 three_running
    local now_pids
    now_pids=$(svc_pids)
    check "$rel: the earlier processes were killed, three new ones run" \
        test "$(wc -w <<<"$now_pids")" = 3 -a -z "$(comm -12 <(tr ' ' '\n' <<<"$old") <(tr ' ' '\n' <<<"$now_pids"))"
    check "$rel: its unit is active" test "$(unit_state "$unit")" = active
    node_agent stop "$inst"
    expect 0 "$rel: stop"
    check "$rel: nothing left" test -z "$(svc_pids)"
    check "$rel: the unit is gone" unit_gone "$unit"

    # ---- 5. a name past 255 bytes escaped -------------------------------------
    local long
    long=units-$(printf 'a-%.0s' $(seq 1 80))
    node_agent start "$long" command="sleep 4224"
    expect 0 "$rel: start of a resource whose name escapes to more than 255 bytes"
    local units
    units=$(node_exec systemctl list-units --no-legend --plain --type=scope 'warden-*' | awk '{print $1}')
    check "$rel: it runs in one hashed unit ($units)" \
        grep -qx 'warden-units\\x2da\\x2d.*\\x7e[0-9a-f]\{16\}\.scope' <<<"$units"
    node_agent stop "$long"
    expect 0 "$rel: stop of it"
    check "$rel: no warden unit is left" \
        test -z "$(node_exec systemctl list-units --all --no-legend --plain --type=scope 'warden-*')"
    check "$rel: no sleep of it is left" test -z "$(node_exec pgrep -f '^sleep 4224')"

    run_resources "$rel"
}

# ---- 6. memory_max and cpu_weight as the unit's properties; the journal ----
# The scope's own cgroup files are systemd's (it rewrites them on every
# daemon-reload): the values go through MemoryMax= and CPUWeight=.
journal_has() { grep -qxF "$1" <<<"$(node_exec journalctl --no-pager -o cat -t "$2")"; }
oom_kills() { node_exec awk '/^oom_kill /{print $2}' "$1/memory.events"; }
oom_killed() { [ "$(oom_kills "$1")" -ge 1 ] 2>/dev/null; }
run_resources() {
    local rel=$1 inst=units-mem unit cg enforced=1
    unit=warden-$(unit_of "$inst").scope
    cg=/sys/fs/cgroup/warden.slice/$unit
    local -a svc=(command="echo hello-journal-$rel; exec sleep 4545" shell=true)
    local controllers
    controllers=$(node_exec cat /sys/fs/cgroup/cgroup.controllers)
    if ! grep -qw memory <<<"$controllers" || ! grep -qw cpu <<<"$controllers"; then
        # This host binds memory and cpu to cgroup v1: no node of it has
        # them in v2. warden refuses the parameters then; the properties
        # are still checked, past that refusal, and the limits' effect is not.
        enforced=0
        node_agent start "$inst" "${svc[@]}" memory_max=64M
        expect 5 "$rel: start with memory_max where the node has no v2 memory controller"
        check "$rel: the reason names the parameter and the controller" \
            grep -q "parameter 'memory_max' needs the cgroup v2 memory controller" <<<"$out"
        say "$rel: the node's cgroup v2 has no memory or cpu controller ($controllers):" \
            "MemoryMax= and CPUWeight= are checked as systemd keeps them, not enforced"
    fi
    local UNITS_AGENT_ENV=${UNITS_AGENT_ENV:-}
    ((enforced)) || UNITS_AGENT_ENV+=" WARDEN_UNCHECKED_CONTROLLERS=1"
    node_agent start "$inst" "${svc[@]}" memory_max=64M cpu_weight=200
    expect 0 "$rel: start with memory_max=64M cpu_weight=200"
    check "$rel: MemoryMax of $unit is 64M" \
        test "$(node_exec systemctl show -P MemoryMax "$unit")" = 67108864
    check "$rel: CPUWeight of $unit is 200" test "$(node_exec systemctl show -P CPUWeight "$unit")" = 200
    if ((enforced)); then
        check "$rel: memory.max of its cgroup is 64M" test "$(node_exec cat "$cg/memory.max")" = 67108864
        check "$rel: cpu.weight of its cgroup is 200" test "$(node_exec cat "$cg/cpu.weight")" = 200
    fi
    check "$rel: the service's output is in the journal under the resource's name" \
        wait_until 5 journal_has "hello-journal-$rel" "$inst"

    node_agent reload-agent "$inst" "${svc[@]}" memory_max=32M
    expect 0 "$rel: reload-agent with memory_max=32M and no cpu_weight"
    check "$rel: MemoryMax is 32M now" test "$(node_exec systemctl show -P MemoryMax "$unit")" = 33554432
    check "$rel: CPUWeight back to the default" \
        grep -qx '\[not set\]\|100' <<<"$(node_exec systemctl show -P CPUWeight "$unit")"
    node_exec systemctl daemon-reload
    wait_until 10 node_exec systemctl is-system-running --quiet
    check "$rel: after daemon-reload MemoryMax is still 32M" \
        test "$(node_exec systemctl show -P MemoryMax "$unit")" = 33554432
    if ((enforced)); then
        check "$rel: memory.max follows (32M)" test "$(node_exec cat "$cg/memory.max")" = 33554432
        check "$rel: cpu.weight back to 100" test "$(node_exec cat "$cg/cpu.weight")" = 100
    fi
    node_agent stop "$inst"
    expect 0 "$rel: stop"
    check "$rel: the unit is gone" unit_gone "$unit"
    ((enforced)) || return 0

    # Enforced: a service that outgrows memory_max is killed by the kernel,
    # and monitor says it is not running.
    local -a hog=(command="sleep 1; exec tail /dev/zero" shell=true memory_max=32M)
    node_agent start "$inst" "${hog[@]}"
    expect 0 "$rel: start of a service that grows past memory_max=32M"
    check "$rel: the kernel OOM-killed it in its unit" wait_until 15 oom_killed "$cg"
    node_agent monitor "$inst" "${hog[@]}"
    expect 7 "$rel: monitor after the OOM kill: not running ($out)"
    node_agent stop "$inst"
    expect 0 "$rel: stop after the OOM kill"
    check "$rel: its unit is gone" unit_gone "$unit"
}

for rel in $releases; do
    t=$SECONDS
    mkdir -p "$UNITS_DIR"
    node_up "$rel"
    case $? in
        0) ;;
        2) skip "cannot build the $rel image (see above)" ;;
        *) not_ok "$rel: the node boots"
           sed 's/^/#   /' "$UNITS_DIR/$rel/console" | tail -n 20
           node_down
           continue ;;
    esac
    ok "$rel: a node boots with systemd ($((SECONDS - t)) s)"
    run_release "$rel"
    node_down
    left=$(leftovers)
    check "$rel: the node is down, nothing of it left${left:+ ($left)}" test -z "$left"
done
finish
