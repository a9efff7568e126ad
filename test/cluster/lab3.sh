#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/lab3.sh - a throwaway Pacemaker + Corosync cluster of 1 to 3
# nodes on one machine, each node in its own network, PID, mount and UTS
# namespace, for tests that need failover between real nodes.
#
# As a command:   test/cluster/lab3.sh up [N]          (N = 1..3, default 3)
#                 test/cluster/lab3.sh down
#                 test/cluster/lab3.sh status
#                 test/cluster/lab3.sh exec NODE CMD...  (run CMD inside NODE)
#                 test/cluster/lab3.sh crash NODE        (link down, kill the node's PID 1)
#                 test/cluster/lab3.sh reboot NODE       (boot a crashed node)
# As a library:   . test/cluster/lab3.sh
#                 trap 'lab3_test_exit $?' EXIT   # tears down even on failure
#                 lab3_up 3
#                 lab3_crm n1 configure primitive d1 ocf:pacemaker:Dummy
#                 lab3_wait_for -t 30 '[[ -n $(lab3_rsc_node d1) ]]'
#                 (see test-lab3-smoke.sh for a complete test)
#
# Nodes are named n1, n2, n3 (LAB3_NODE_PREFIX), with addresses
# 10.213.0.11, .12, .13/24 (LAB3_NET); 10.213.0.100 (LAB3_VIP) is free for a
# virtual address (ocf:heartbeat:IPaddr2 works inside the nodes).
#
# Helpers: lab3_exec NODE CMD..., lab3_crm NODE ARG..., lab3_mon_xml [NODE],
# lab3_wait_online N [SECS], lab3_rsc_node RSC, lab3_rsc_state RSC,
# lab3_failcount RSC [NODE], lab3_failed_actions [--list|--count],
# lab3_crash NODE, lab3_reboot NODE, lab3_nodes, lab3_live_nodes,
# lab3_node_addr NODE, lab3_node_alive NODE, lab3_dc, lab3_diag,
# lab3_test_exit RC; and from lab.sh (sourced): lab_now, lab_elapsed,
# lab_wait_for (also as lab3_wait_for), lab_skip, lab_step, lab_proc_alive.
#
# What it builds (background: /work/shared/CLUSTER-LAB.md, "Three nodes on one
# machine"):
#  * a "hub" network namespace holding a bridge, and per node a network
#    namespace with a veth pair to that bridge and an address from LAB3_NET,
#    assigned only inside the namespaces: nothing is added to the root
#    namespace, there is no default route, traffic never leaves the hub;
#  * per node, a PID namespace whose PID 1 is a small reaper (a bash loop
#    around "sleep 1 & wait") started with
#      nsenter --net=/run/netns/NS unshare --pid --fork --kill-child \
#              --mount --mount-proc --uts --propagation private
#    and, in that node's private mount namespace, tmpfs on /run and /dev/shm,
#    and per-node directories (under $LAB3_DIR/nodes/NODE) bind-mounted over
#    /var/lib/pacemaker, /var/lib/corosync, /var/log/pacemaker,
#    /var/log/corosync, /var/lib/warden, /srv, /etc/corosync and /etc/hosts
#    (every node resolvable by name). /sys is remounted so that /sys/class/net shows the node's own
#    interfaces (the cgroup mounts under /sys/fs/cgroup are kept). Everything
#    else (/usr, /tmp, /var/lib/heartbeat, the OCF agents) is the machine's;
#  * per node, a cgroup v2 subtree <cgroup2>/warden-lab3/NODE that holds all
#    of the node's processes, and a cgroup namespace rooted there, with cgroup2
#    mounted afresh inside the node: warden's service cgroups
#    (<cgroup2>/warden/RSC) of different nodes, and of a single-node lab in
#    the root namespace, never meet. (LAB3_CGROUP=0: no cgroup isolation.)
#    A crashed node's leftover cgroups are removed when it reboots;
#  * corosync.conf: knet, no crypto, token LAB3_TOKEN ms (1000), votequorum
#    (two_node for N=2); a CIB seeded from "cibadmin --empty" with
#    stonith-enabled=false, dc-deadtime, no-quorum-policy, identical on every
#    node; corosync -f and pacemakerd started detached (setsid -f) inside each
#    node with a clean environment (nsenter -t PID1 -n -u -m -p [-C], after
#    joining the node's cgroup);
#  * every process it starts from the root namespace (unshare, the node's
#    PID 1, corosync, pacemakerd) is recorded with its start time in
#    $LAB3_STATE/pids, the namespaces it made in $LAB3_STATE/netns. lab3_down
#    stops pacemakerd gracefully (bounded), then SIGKILLs each node's PID 1
#    (the kernel then kills everything in that PID namespace, and the node's
#    mount namespace with its mounts goes away with its last process), deletes
#    the namespaces and the cgroups, and, if the lab created the /run/netns
#    mount point and it is empty, removes that too. It only ever signals recorded PIDs (checked
#    against their start time) and is idempotent.
#
# Coexistence: a single-node lab (lab.sh, root namespace) may run at the same
# time; lab3 never touches it and does not refuse because of it. (lab.sh's
# lab_up, however, refuses while lab3's daemons are visible: keep lab3 up only
# while testing.) lab3_up refuses only if an earlier lab3 left records or
# namespaces behind; "test/cluster/lab3.sh down" clears them.
#
# Requires: root, bash >= 5, iproute2 (ip netns, bridge, veth), util-linux
# (unshare, nsenter, setsid), corosync, pacemaker, xmllint. Tests also use
# crmsh (crm). Safe to source under "set -euo pipefail": functions return
# non-zero instead of exiting.

_lab3_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$_lab3_here/lab.sh"

# ---------------------------------------------------------------- settings --
LAB3_DIR=${LAB3_DIR:-/run/warden-lab3}           # everything lab3 writes
LAB3_STATE=${LAB3_STATE:-$LAB3_DIR/state}        # records; removed by lab3_down
LAB3_NODES_DIR=${LAB3_NODES_DIR:-$LAB3_DIR/nodes} # per-node files and logs; kept after down, wiped by up
LAB3_NETNS_PREFIX=${LAB3_NETNS_PREFIX:-warden-lab3-}
LAB3_NODE_PREFIX=${LAB3_NODE_PREFIX:-n}
LAB3_NET=${LAB3_NET:-10.213.0}                   # a /24; node i gets .(10+i)
LAB3_VIP=${LAB3_VIP:-$LAB3_NET.100}              # free for tests (IPaddr2)
LAB3_CLUSTER_NAME=${LAB3_CLUSTER_NAME:-warden-lab3}
LAB3_TOKEN=${LAB3_TOKEN:-1000}                   # corosync token, ms
LAB3_DC_DEADTIME=${LAB3_DC_DEADTIME:-5s}
LAB3_NO_QUORUM_POLICY=${LAB3_NO_QUORUM_POLICY:-stop}
LAB3_RECHECK_INTERVAL=${LAB3_RECHECK_INTERVAL:-1min}
LAB3_UP_TIMEOUT=${LAB3_UP_TIMEOUT:-90}           # s until all nodes online + DC
LAB3_STOP_TIMEOUT=${LAB3_STOP_TIMEOUT:-20}       # s for the graceful pacemakerd stop in down
LAB3_KILL_TIMEOUT=${LAB3_KILL_TIMEOUT:-15}       # s for a node to die after SIGKILL of its PID 1
LAB3_REAP_TIMEOUT=${LAB3_REAP_TIMEOUT:-5}        # s to let PID 1 reap dead unshare processes
LAB3_CGROUP_TIMEOUT=${LAB3_CGROUP_TIMEOUT:-10}   # s for a dead node's cgroup to empty
LAB3_DAEMON_PATH=${LAB3_DAEMON_PATH:-/usr/sbin:/usr/bin:/sbin:/bin}
LAB3_MAX_NODES=3

_LAB3_PIDS=$LAB3_STATE/pids      # lines: "<node>-<role> <pid> <starttime>"
_LAB3_NETNS=$LAB3_STATE/netns    # lines: namespace names made by lab3_up
_LAB3_HUB=${LAB3_NETNS_PREFIX}hub

# ----------------------------------------------------------------- output --
lab3_log() {
    printf '[lab3 %(%H:%M:%S)T] %s\n' -1 "$*" >&2
}

# lab3_wait_for: lab_wait_for of lab.sh ([-t SECS] [-i SECS] [-q] CMD...).
lab3_wait_for() { lab_wait_for "$@"; }

# ------------------------------------------------------------------ nodes --
# lab3_node_name I: the name of node I (1-based).
lab3_node_name() { echo "$LAB3_NODE_PREFIX$1"; }

# _lab3_node_index NODE: I for a node name, fails for anything else.
_lab3_node_index() {
    local i=${1#"$LAB3_NODE_PREFIX"}
    [[ $1 == "$LAB3_NODE_PREFIX"* && $i =~ ^[1-9]$ ]] || return 1
    echo "$i"
}

# lab3_node_addr NODE: the node's address (no prefix length).
lab3_node_addr() {
    local i
    i=$(_lab3_node_index "$1") || return 1
    echo "$LAB3_NET.$(( 10 + i ))"
}

# lab3_node_count: N of the running lab (0 if none is recorded).
lab3_node_count() {
    local n=0
    [[ -s $LAB3_STATE/nodes ]] && n=$(< "$LAB3_STATE/nodes")
    echo "$n"
}

# lab3_nodes: the names of all nodes of the lab, one a line.
lab3_nodes() {
    local i n
    n=$(lab3_node_count)
    for (( i = 1; i <= n; i++ )); do lab3_node_name "$i"; done
}

# _lab3_check_node NODE: NODE is a node of the recorded lab.
_lab3_check_node() {
    local i
    if ! i=$(_lab3_node_index "${1:-}") || (( i > $(lab3_node_count) )); then
        lab3_log "no such node in the lab: '${1:-}' (nodes: $(lab3_nodes | tr '\n' ' '))"
        return 1
    fi
}

# ------------------------------------------------------------ records --
# _lab3_record ROLE PID: remember PID with its start time.
_lab3_record() {
    local st
    st=$(lab_proc_starttime "$2") || return 1
    echo "$1 $2 $st" >> "$_LAB3_PIDS"
}

_lab3_recorded() {
    [[ -s $_LAB3_PIDS ]] || return 0
    if [[ -n ${1:-} ]]; then
        grep -E "^$1 " "$_LAB3_PIDS" || true
    else
        cat "$_LAB3_PIDS"
    fi
}

# _lab3_alive ROLE: "pid starttime" of the newest live recorded ROLE process.
_lab3_alive() {
    local role pid st found=
    while read -r role pid st; do
        [[ -n $pid ]] && lab_proc_alive "$pid" "$st" && found="$pid $st"
    done < <(_lab3_recorded "$1")
    [[ -n $found ]] && echo "$found"
}

# _lab3_init_pid NODE: global PID of NODE's live PID 1 (the reaper).
_lab3_init_pid() {
    local a
    a=$(_lab3_alive "$1-init") || return 1
    echo "${a%% *}"
}

# lab3_node_alive NODE: NODE's PID 1 runs (the node has not crashed).
lab3_node_alive() { _lab3_init_pid "$1" >/dev/null; }

# lab3_live_nodes: the nodes that are up, one a line.
lab3_live_nodes() {
    local n
    for n in $(lab3_nodes); do
        lab3_node_alive "$n" && echo "$n"
    done
    return 0
}

# lab3_first_live_node: the first node that is up (fails if none is). No
# "lab3_live_nodes | head -n 1": under pipefail, head quitting early can kill
# the producer with SIGPIPE and fail the pipeline.
lab3_first_live_node() {
    local n
    for n in $(lab3_nodes); do
        lab3_node_alive "$n" && { echo "$n"; return 0; }
    done
    return 1
}

# _lab3_alive_recorded: print the recorded processes that still run.
_lab3_alive_recorded() {
    local role pid st
    while read -r role pid st; do
        [[ -n $pid ]] && lab_proc_alive "$pid" "$st" && echo "$role $pid $st"
    done < <(_lab3_recorded)
    return 0
}

# ------------------------------------------------------------ running --
# lab3_exec NODE CMD...: run CMD inside NODE (its net, UTS, mount, PID and
# cgroup namespaces, in its cgroup); returns CMD's status, 125 if the node is
# not running.
lab3_exec() {
    local node=${1:-} pid
    shift || true
    if ! pid=$(_lab3_init_pid "$node"); then
        lab3_log "node '$node' is not running"
        return 125
    fi
    _lab3_enter "$node" "$pid" "$@"
}

# _lab3_enter NODE INIT CMD...: run CMD in the namespaces of the node whose
# PID 1 is INIT; with per-node cgroups, first join the node's cgroup (nsenter
# enters a cgroup namespace but does not move the process into it: without
# this, daemons would sit in the root cgroup, outside the node's subtree).
_lab3_enter() {
    local node=$1 init=$2
    shift 2
    if [[ -s $LAB3_STATE/cgroup2 ]]; then
        # shellcheck disable=SC2016 # for the wrapper's shell
        /bin/bash -c 'echo $$ > "$1/cgroup.procs" || exit 125; shift; exec "$@"' \
            lab3-enter "$(_lab3_node_cgroup "$node")" \
            nsenter -t "$init" -n -u -m -p -C -- "$@"
    else
        nsenter -t "$init" -n -u -m -p -- "$@"
    fi
}

# lab3_mon_xml [NODE]: one crm_mon snapshot (XML, inactive resources
# included) taken inside NODE, or inside the first live node; bounded.
lab3_mon_xml() {
    local node=${1:-}
    if [[ -z $node ]]; then
        node=$(lab3_first_live_node) || return 1
    fi
    lab3_exec "$node" env -u CIB_file timeout 15 crm_mon -1 --inactive --output-as=xml 2>/dev/null
}

# _lab3_xpath XPATH XML: evaluate XPATH on XML; empty result is not an error.
_lab3_xpath() {
    xmllint --xpath "$1" - <<< "$2" 2>/dev/null || true
}

# _lab3_attr_values: 'name="a" name="b"' (xmllint's attribute output) -> "a b".
_lab3_attr_values() {
    sed -E 's/ ?[a-z_-]+="([^"]*)"/\1\n/g' | sed '/^$/d'
}

# lab3_online_view NODE: what NODE sees: "<dc> <online nodes...>" (dc is "-"
# if there is none); fails if crm_mon does not answer.
lab3_online_view() {
    local xml dc online
    xml=$(lab3_mon_xml "$1") || return 1
    [[ -n $xml ]] || return 1
    dc=-
    if [[ $(_lab3_xpath "string(//current_dc/@present)" "$xml") == true ]]; then
        dc=$(_lab3_xpath "string(//current_dc/@name)" "$xml")
    fi
    online=$(_lab3_xpath "//nodes/node[@online='true']/@name" "$xml" | _lab3_attr_values | sort | tr '\n' ' ')
    echo "$dc ${online% }"
}

# lab3_dc: the DC's name as the first live node sees it (empty if none).
lab3_dc() {
    local node view
    node=$(lab3_first_live_node) || return 1
    view=$(lab3_online_view "$node") || return 1
    [[ ${view%% *} != - ]] && echo "${view%% *}"
    return 0
}

# lab3_all_online N: every live node sees exactly N nodes online, all the
# live nodes among them, and the same DC.
lab3_all_online() {
    local want=$1 node view dc='' first=1 live n=0
    live=$(lab3_live_nodes)
    [[ -n $live ]] || return 1
    for node in $live; do
        view=$(lab3_online_view "$node") || return 1
        local vdc=${view%% *} vnodes
        vnodes=${view#* }
        [[ $vdc != - ]] || return 1
        if (( first )); then dc=$vdc; first=0; elif [[ $vdc != "$dc" ]]; then return 1; fi
        # shellcheck disable=SC2206 # a list of names
        local -a arr=($vnodes)
        (( ${#arr[@]} == want )) || return 1
        local l
        for l in $live; do [[ " $vnodes " == *" $l "* ]] || return 1; done
        n=$(( n + 1 ))
    done
    (( n > 0 ))
}

# lab3_wait_online N [SECS]: wait (at most SECS, default LAB3_UP_TIMEOUT)
# until lab3_all_online N; prints nothing, logs on timeout.
lab3_wait_online() {
    local want=${1:?lab3_wait_online N}
    local t=${2:-$LAB3_UP_TIMEOUT}
    if ! lab_wait_for -q -t "$t" -i 0.2 lab3_all_online "$want"; then
        local node
        lab3_log "not all of $want nodes online with one DC after ${t}s; views (DC online...):"
        for node in $(lab3_live_nodes); do
            lab3_log "  $node: $(lab3_online_view "$node" || echo 'crm_mon failed')"
        done
        return 1
    fi
}

# lab3_rsc_state RSC [NODE]: like lab_rsc_state, seen from NODE (default the
# first live node): one line per instance, "<role> [<node>...]"; "Absent" if
# RSC is not configured.
lab3_rsc_state() {
    local xml n i role nodes sel="//resources//resource[@id='$1']"
    xml=$(lab3_mon_xml "${2:-}") || { echo Unknown; return 1; }
    n=$(_lab3_xpath "count($sel)" "$xml")
    if [[ -z $n || $n == 0 ]]; then echo Absent; return 0; fi
    for (( i = 1; i <= n; i++ )); do
        role=$(_lab3_xpath "string(($sel)[$i]/@role)" "$xml")
        nodes=$(_lab3_xpath "($sel)[$i]/node/@name" "$xml" | _lab3_attr_values | tr '\n' ' ')
        nodes=${nodes% }
        echo "${role:-Unknown}${nodes:+ }$nodes"
    done
}

# lab3_rsc_node RSC [NODE]: the node(s) where RSC is active (Started or
# Promoted), one a line, as NODE (default the first live node) sees it;
# nothing if it runs nowhere. Fails only if crm_mon does not answer.
lab3_rsc_node() {
    local xml sel="//resources//resource[@id='$1'][@role='Started' or @role='Promoted' or @role='Master' or @role='Unpromoted' or @role='Slave']/node/@name"
    xml=$(lab3_mon_xml "${2:-}") || return 1
    [[ -n $xml ]] || return 1
    _lab3_xpath "$sel" "$xml" | _lab3_attr_values | sort -u
}

# lab3_failcount RSC [NODE]: RSC's fail count on NODE (all nodes if none),
# as the first live node sees it; see lab_failcount.
lab3_failcount() {
    local xml
    xml=$(lab3_mon_xml) || return 1
    lab_failcount_in "$xml" "$@"
}

# lab3_failed_actions [--list|--count]: the cluster's failed actions, as the
# first live node sees them; see lab_failed_actions.
lab3_failed_actions() {
    local xml
    xml=$(lab3_mon_xml) || return 1
    lab_failed_actions_in "$xml" "$@"
}

# lab3_crm NODE ARG...: crmsh inside NODE; its output is shown only if it
# fails (crmsh 4.4 says "Blind faith: not fencing unseen nodes" every time).
lab3_crm() {
    local node=${1:-} out rc=0
    shift || true
    out=$(lab3_exec "$node" env -u CIB_file crm "$@" 2>&1) || rc=$?
    if (( rc )); then
        lab3_log "crm $* (on $node) failed (exit $rc):"
        printf '%s\n' "$out" >&2
    fi
    return $rc
}

# ------------------------------------------------------------- checks --
# lab3_check_prereqs: prints why the lab cannot run here (returns 1), or nothing.
lab3_check_prereqs() {
    local b missing=()
    if (( EUID != 0 )); then
        echo "not root (the lab makes namespaces and starts corosync/pacemaker)"
        return 1
    fi
    if (( BASH_VERSINFO[0] < 5 )); then echo "bash >= 5 needed"; return 1; fi
    for b in ip unshare nsenter setsid mountpoint corosync corosync-cfgtool pacemakerd crm_mon cibadmin xmllint; do
        command -v "$b" >/dev/null 2>&1 || missing+=("$b")
    done
    if (( ${#missing[@]} )); then
        echo "missing programs: ${missing[*]} (apt-get install iproute2 util-linux corosync pacemaker resource-agents)"
        return 1
    fi
    if [[ ! -e /proc/self/ns/net || ! -e /proc/self/ns/pid || ! -e /proc/self/ns/mnt || ! -e /proc/self/ns/uts ]]; then
        echo "the kernel lacks network/PID/mount/UTS namespaces"
        return 1
    fi
}

# _lab3_leftovers: describe what an earlier lab3 left behind (nothing if clean).
_lab3_leftovers() {
    local role pid st f alive=0 gone=0
    if [[ -s $_LAB3_PIDS ]]; then
        while read -r role pid st; do
            if lab_proc_alive "$pid" "$st"; then alive=$(( alive + 1 )); else gone=$(( gone + 1 )); fi
        done < "$_LAB3_PIDS"
        echo "$_LAB3_PIDS records an earlier lab3 ($alive processes still running, $gone gone)"
    elif [[ -e $LAB3_STATE ]]; then
        echo "state directory $LAB3_STATE exists (an earlier lab3 was not torn down)"
    fi
    for f in /run/netns/"$LAB3_NETNS_PREFIX"*; do
        [[ -e $f ]] && echo "network namespace ${f#/run/netns/} exists"
    done
    if f=$(_lab3_cgroup2_mountpoint) && [[ -d $f/warden-lab3 ]]; then
        if _lab3_cgroup_populated "$f/warden-lab3"; then
            echo "cgroup $f/warden-lab3 still holds processes"
        else
            echo "cgroup $f/warden-lab3 exists"
        fi
    fi
    return 0
}

# ------------------------------------------------------------ spawning --
# _lab3_spawn_root ROLE LOG CMD...: start CMD detached (setsid -f, clean
# environment, stdin /dev/null, output to LOG, other fds closed) in the root
# namespaces and record its PID (exact: the wrapper writes $$, then execs).
# The fd-closing loop must not carry a "2>/dev/null": bash saves the
# redirected fd 2 on a high fd, the loop closes that copy, and stderr stays
# /dev/null afterwards (every error message of CMD would be lost). Closing an
# fd that is not open is silent in bash anyway.
_lab3_spawn_root() {
    local role=$1 log=$2 pidf=$LAB3_STATE/$1.spawn pid i
    shift 2
    rm -f "$pidf"
    # shellcheck disable=SC2016 # for the inner shell
    env -i PATH="$LAB3_DAEMON_PATH" LANG=C.UTF-8 \
        setsid -f /bin/bash -c '
            for f in /proc/$$/fd/*; do
                f=${f##*/}
                (( f > 2 )) && eval "exec $f>&-"
            done
            echo $$ > "$0"
            exec "$@"' "$pidf" "$@" \
        < /dev/null >> "$log" 2>&1
    for (( i = 0; i < 100; i++ )); do
        if [[ -s $pidf ]]; then
            pid=$(< "$pidf")
            rm -f "$pidf"
            _lab3_record "$role" "$pid" && { echo "$pid"; return 0; }
            lab3_log "$role (pid $pid) exited right away; see $log"
            return 1
        fi
        sleep 0.05
    done
    lab3_log "$role did not start; see $log"
    return 1
}

# _lab3_global_pid INIT NSPID: the root-namespace PID of the process that is
# NSPID inside the PID namespace whose PID 1 is INIT (root-namespace PID).
_lab3_global_pid() {
    local init=$1 want=$2 ns d k a b c
    ns=$(readlink "/proc/$init/ns/pid") || return 1
    for d in /proc/[0-9]*; do
        a='' b='' c=''
        while read -r k a b c; do
            [[ $k == NSpid: ]] && break
        done 2>/dev/null < "$d/status" || continue
        # a process one level down: "NSpid: <global> <inner>"
        [[ $b == "$want" && -z $c ]] || continue
        [[ $(readlink "$d/ns/pid" 2>/dev/null) == "$ns" ]] || continue
        echo "$a"
        return 0
    done
    return 1
}

# _lab3_spawn_in NODE ROLE LOG CMD...: start CMD detached inside NODE (its own
# session, clean environment, other fds closed) and record its root-namespace
# PID as "NODE-ROLE". Inside the node the wrapper writes its PID to
# /run/lab3/ROLE.pid, read here through /proc/<PID 1>/root.
_lab3_spawn_in() {
    local node=$1 role=$2 log=$3 init inner pid i pidf
    shift 3
    init=$(_lab3_init_pid "$node") || { lab3_log "node $node is not running"; return 1; }
    pidf=/run/lab3/$role.pid
    rm -f "/proc/$init/root$pidf"
    # shellcheck disable=SC2016 # for the inner shell
    _lab3_enter "$node" "$init" \
        env -i PATH="$LAB3_DAEMON_PATH" LANG=C.UTF-8 \
            PCMK_logfile=/var/log/pacemaker/pacemaker.log \
        setsid -f /bin/bash -c '
            for f in /proc/$$/fd/*; do
                f=${f##*/}
                (( f > 2 )) && eval "exec $f>&-"
            done
            echo $$ > "$0"
            umask 022
            exec "$@"' "$pidf" "$@" \
        < /dev/null >> "$log" 2>&1 || { lab3_log "could not start $role in $node"; return 1; }
    for (( i = 0; i < 100; i++ )); do
        if [[ -s /proc/$init/root$pidf ]]; then
            inner=$(< "/proc/$init/root$pidf")
            if pid=$(_lab3_global_pid "$init" "$inner") && _lab3_record "$node-$role" "$pid"; then
                return 0
            fi
            lab3_log "$role in $node (pid $inner inside) exited right away; see $log"
            return 1
        fi
        sleep 0.05
    done
    lab3_log "$role did not start in $node; see $log"
    return 1
}

# The node's PID 1: runs in the new PID/mount/UTS(/cgroup) namespaces (and
# the node's network namespace), sets up the node's private mounts, then
# becomes the reaper. "exec -a" names it, so that lab3 sees when the setup is
# done. Arguments: NODE NODEDIR [CGROUP2_MOUNTPOINT].
# shellcheck disable=SC2016 # for the node's shell
_LAB3_BOOT='
set -eu
node=$1 nd=$2 cg2=${3:-}
hostname "$node"
mount --bind "$nd/etc-hosts" /etc/hosts
mount --bind "$nd/etc-corosync" /etc/corosync
mount --bind "$nd/var-lib-pacemaker" /var/lib/pacemaker
mount --bind "$nd/var-lib-corosync" /var/lib/corosync
mount --bind "$nd/var-log-pacemaker" /var/log/pacemaker
mount --bind "$nd/var-log-corosync" /var/log/corosync
# local disks: for warden (dumps are looked for per node) and in /srv for
# the services data (what must not be shared between nodes, e.g. a queue)
mkdir -p -m 0755 /var/lib/warden /srv
mount --bind "$nd/var-lib-warden" /var/lib/warden
mount --bind "$nd/srv" /srv
# the copies of the /run/netns/* mounts of the root namespace would pin every
# network namespace of the machine for as long as the node lives
if mountpoint -q /run/netns; then umount -R -l /run/netns || true; fi
mount -t tmpfs -o mode=0755,nosuid,nodev lab3-run /run
mount -t tmpfs -o mode=1777,nosuid,nodev lab3-shm /dev/shm
mkdir -m 1777 /run/lock
mkdir -m 0755 /run/lab3 /run/user /run/log /run/resource-agents
mkdir -m 0750 /run/crm
chown hacluster:haclient /run/crm
ln -s /dev/shm /run/shm
# /sys/class/net should show this network namespace: a fresh sysfs, with the
# cgroup hierarchies moved over from the old one.
if mkdir /run/lab3/cgroup && mount --rbind /sys/fs/cgroup /run/lab3/cgroup; then
    if mount -t sysfs lab3-sys /sys; then
        mount --move /run/lab3/cgroup /sys/fs/cgroup
    else
        umount -l /run/lab3/cgroup
    fi
    rmdir /run/lab3/cgroup 2>/dev/null || true
fi
# cgroup v2 seen from this node: a fresh mount in its cgroup namespace,
# rooted at the cgroup of this node
if [ -n "$cg2" ]; then
    umount "$cg2" 2>/dev/null || true
    mount -t cgroup2 lab3-cgroup2 "$cg2"
fi
echo "node $node booted: $(date "+%F %T")"
exec -a "warden-lab3-init-$node" /bin/bash -c "while :; do sleep 1 & wait; done"
'

# _lab3_boot NODE: start NODE's namespaces and PID 1; record unshare and PID 1.
_lab3_boot() {
    local node=$1 nd=$LAB3_NODES_DIR/$1 upid init='' i cmd pid ppid sid state comm
    local cg2mp='' ncg=''
    local -a pre=() cgflag=()
    if [[ -s $LAB3_STATE/cgroup2 ]]; then
        # The wrapper joins the node's cgroup, then "unshare --cgroup" makes
        # it the root of the node's cgroup namespace.
        cg2mp=$(< "$LAB3_STATE/cgroup2")
        ncg=$(_lab3_node_cgroup "$node")
        _lab3_cgroup_clean "$ncg" || return 1
        mkdir -p "$ncg" || return 1
        # shellcheck disable=SC2016 # for the wrapper's shell
        pre=(/bin/bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' lab3-cgroup "$ncg")
        cgflag=(--cgroup)
    fi
    upid=$(_lab3_spawn_root "$node-unshare" "$nd/boot.log" "${pre[@]}" \
        nsenter --net="/run/netns/$LAB3_NETNS_PREFIX$node" -- \
        unshare --pid --fork --kill-child --mount --mount-proc --uts "${cgflag[@]}" \
            --propagation private -- \
        /bin/bash -c "$_LAB3_BOOT" lab3-boot "$node" "$nd" "$cg2mp") || return 1
    for (( i = 0; i < 200; i++ )); do
        if [[ -z $init ]]; then
            while read -r pid ppid sid state comm; do
                [[ $ppid == "$upid" ]] && { init=$pid; break; }
            done < <(lab_proc_list)
        fi
        if [[ -n $init ]]; then
            cmd=$(lab_proc_cmdline "$init" 2>/dev/null) || cmd=
            if [[ $cmd == "warden-lab3-init-$node "* ]]; then
                _lab3_record "$node-init" "$init" || return 1
                # unshare itself (root PID namespace) goes back to the cgroup
                # lab3 runs in: the node's cgroup holds only the node
                if [[ -n $ncg ]]; then
                    echo "$upid" > "$cg2mp$(_lab3_own_cgroup2)/cgroup.procs" 2>/dev/null ||
                        lab3_log "note: could not move unshare ($upid) out of $ncg"
                fi
                return 0
            fi
        fi
        if ! lab_proc_alive "$upid"; then
            lab3_log "node $node failed to boot; $nd/boot.log says:"
            sed 's/^/    /' "$nd/boot.log" >&2
            return 1
        fi
        sleep 0.05
    done
    lab3_log "node $node did not finish booting in 10 s; see $nd/boot.log"
    return 1
}

# ------------------------------------------------------------- cgroups --
# Each node gets its own cgroup v2 subtree, <cgroup2>/warden-lab3/NODE, and a
# cgroup namespace rooted there, with cgroup2 mounted afresh at the same
# place inside the node: a warden agent in n1 that makes
# "<cgroup2>/warden/RSC" makes it inside n1's subtree, so the nodes (and a
# single-node lab in the root namespace) never see each other's service
# cgroups. cgroup v1 hierarchies are left as they are. LAB3_CGROUP=0 turns
# this off.

# _lab3_cgroup2_mountpoint: where the machine mounts cgroup v2 (the first
# cgroup2 line of mountinfo, as warden itself looks it up).
_lab3_cgroup2_mountpoint() {
    local line id parent dev root mp rest
    while read -r line; do
        [[ $line == *" - cgroup2 "* ]] || continue
        # shellcheck disable=SC2034 # fields before the mount point
        read -r id parent dev root mp rest <<< "$line"
        echo "$mp"
        return 0
    done < /proc/self/mountinfo
    return 1
}

# _lab3_own_cgroup2: this shell's cgroup v2 path ("/" or "/a/b").
_lab3_own_cgroup2() {
    local line
    while read -r line; do
        [[ $line == 0::* ]] && { echo "${line#0::}"; return 0; }
    done < /proc/self/cgroup
    echo /
}

# _lab3_node_cgroup NODE: the node's cgroup directory (root namespace view).
_lab3_node_cgroup() {
    echo "$(< "$LAB3_STATE/cgroup2")/warden-lab3/$1"
}

# _lab3_cgroup_populated DIR: a process is in DIR or below.
_lab3_cgroup_populated() {
    local k v
    [[ -r $1/cgroup.events ]] || return 1
    while read -r k v; do
        # (a bare "return" would not do: in an EXIT trap, where lab3_down
        # often runs, it returns the status from before the trap)
        [[ $k == populated ]] && { [[ $v == 1 ]] && return 0; return 1; }
    done < "$1/cgroup.events"
    return 1
}

_lab3_cgroup_empty() { ! _lab3_cgroup_populated "$1"; }

# _lab3_cgroup_clean DIR: remove DIR's child cgroups (left by agents of a
# crashed node), deepest first; DIR itself stays. Fails if a process is
# still in there.
_lab3_cgroup_clean() {
    [[ -d $1 ]] || return 0
    # "populated" drops a moment after the last process of a killed node is
    # gone: wait for it (bounded)
    if ! lab_wait_for -q -t "$LAB3_CGROUP_TIMEOUT" -i 0.05 _lab3_cgroup_empty "$1"; then
        lab3_log "cgroup $1 still holds processes: $(find "$1" -name cgroup.procs -exec cat {} + | tr '\n' ' ')"
        return 1
    fi
    find "$1" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
    if [[ -n $(find "$1" -mindepth 1 -type d -print -quit 2>/dev/null) ]]; then
        lab3_log "could not remove the cgroups below $1"
        return 1
    fi
}

# _lab3_cgroup_remove: remove <cgroup2>/warden-lab3 entirely (all nodes down).
_lab3_cgroup_remove() {
    local top
    [[ -s $LAB3_STATE/cgroup2 ]] || return 0
    top=$(< "$LAB3_STATE/cgroup2")/warden-lab3
    [[ -d $top ]] || return 0
    _lab3_cgroup_clean "$top" || return 1
    rmdir "$top" 2>/dev/null || { lab3_log "could not remove cgroup $top"; return 1; }
}

# _lab3_corosync_ready NODE: corosync answers inside NODE.
_lab3_corosync_ready() {
    _lab3_alive "$1-corosync" >/dev/null || return 1
    lab3_exec "$1" corosync-cfgtool -s >/dev/null 2>&1
}

# _lab3_start_stack NODE...: corosync on each node, wait for them, then
# pacemakerd on each node.
_lab3_start_stack() {
    local node
    for node in "$@"; do
        _lab3_spawn_in "$node" corosync "$LAB3_NODES_DIR/$node/var-log-corosync/corosync.out" \
            corosync -f || return 1
    done
    for node in "$@"; do
        if ! lab_wait_for -q -t 20 -i 0.1 _lab3_corosync_ready "$node"; then
            lab3_log "corosync in $node not ready in 20 s; see $LAB3_NODES_DIR/$node/var-log-corosync/"
            return 1
        fi
    done
    for node in "$@"; do
        _lab3_spawn_in "$node" pacemakerd "$LAB3_NODES_DIR/$node/var-log-pacemaker/pacemakerd.out" \
            pacemakerd || return 1
    done
}

# ------------------------------------------------------------ node files --
# _lab3_mkdir_like DIR REFERENCE: make DIR with REFERENCE's owner and mode.
_lab3_mkdir_like() {
    mkdir -p "$1"
    if [[ -e $2 ]]; then
        chown --reference="$2" "$1" && chmod --reference="$2" "$1"
    fi
}

_lab3_write_node_files() {
    local node=$1 n=$2 nd=$LAB3_NODES_DIR/$1 d j
    mkdir -p "$nd"
    _lab3_mkdir_like "$nd/var-lib-pacemaker" /var/lib/pacemaker
    for d in cib pengine blackbox cores; do
        _lab3_mkdir_like "$nd/var-lib-pacemaker/$d" "/var/lib/pacemaker/$d"
    done
    _lab3_mkdir_like "$nd/var-lib-corosync" /var/lib/corosync
    _lab3_mkdir_like "$nd/var-log-pacemaker" /var/log/pacemaker
    _lab3_mkdir_like "$nd/var-log-corosync" /var/log/corosync
    mkdir -m 0755 "$nd/var-lib-warden" "$nd/srv"
    _lab3_mkdir_like "$nd/etc-corosync" /etc/corosync
    [[ -d /etc/corosync/uidgid.d ]] && cp -a /etc/corosync/uidgid.d "$nd/etc-corosync/"
    {
        echo "# written by test/cluster/lab3.sh for node $node"
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost ip6-loopback"
        for (( j = 1; j <= n; j++ )); do
            echo "$(lab3_node_addr "$(lab3_node_name "$j")") $(lab3_node_name "$j")"
        done
    } > "$nd/etc-hosts"
    chmod 0644 "$nd/etc-hosts"
    _lab3_write_corosync_conf "$n" > "$nd/etc-corosync/corosync.conf"
}

_lab3_write_corosync_conf() {
    local n=$1 j name
    cat <<EOF
# Written by test/cluster/lab3.sh: a throwaway $n-node cluster in namespaces.
totem {
    version: 2
    cluster_name: $LAB3_CLUSTER_NAME
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: $LAB3_TOKEN
}
logging {
    to_stderr: no
    to_syslog: no
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    timestamp: hires
    fileline: off
    debug: off
}
quorum {
    provider: corosync_votequorum
EOF
    (( n == 2 )) && echo "    two_node: 1"
    echo "}"
    echo "nodelist {"
    for (( j = 1; j <= n; j++ )); do
        name=$(lab3_node_name "$j")
        printf '    node {\n        name: %s\n        nodeid: %d\n        ring0_addr: %s\n    }\n' \
            "$name" "$j" "$(lab3_node_addr "$name")"
    done
    echo "}"
}

# _lab3_seed_cib N: a CIB from "cibadmin --empty" plus the lab's properties,
# identical on every node. It is written inside node 1 (booted, no daemons
# yet) at the live path /var/lib/pacemaker/cib/cib.xml: Pacemaker's file
# backend writes cib.xml.sig only for the live CIB (for any other CIB_file it
# writes no digest), so this way Pacemaker computes the digest itself.
# The two files are then copied to the other nodes.
_lab3_seed_cib() {
    local n=$1 first j cibdir src p=cib-bootstrap-options
    first=$(lab3_node_name 1)
    src=$LAB3_NODES_DIR/$first/var-lib-pacemaker/cib
    # shellcheck disable=SC2016 # for the node's shell
    lab3_exec "$first" env -i PATH="$LAB3_DAEMON_PATH" /bin/bash -c '
        set -e
        cib=/var/lib/pacemaker/cib/cib.xml
        cibadmin --empty > "$cib"
        chown hacluster:haclient "$cib"
        chmod 0600 "$cib"
        CIB_file=$cib cibadmin --create --scope crm_config --xml-text "$1"' _ "
      <cluster_property_set id=\"$p\">
        <nvpair id=\"$p-stonith-enabled\" name=\"stonith-enabled\" value=\"false\"/>
        <nvpair id=\"$p-dc-deadtime\" name=\"dc-deadtime\" value=\"$LAB3_DC_DEADTIME\"/>
        <nvpair id=\"$p-no-quorum-policy\" name=\"no-quorum-policy\" value=\"$LAB3_NO_QUORUM_POLICY\"/>
        <nvpair id=\"$p-cluster-recheck-interval\" name=\"cluster-recheck-interval\" value=\"$LAB3_RECHECK_INTERVAL\"/>
      </cluster_property_set>" || { lab3_log "seeding the CIB failed"; return 1; }
    if [[ ! -s $src/cib.xml.sig ]]; then
        lab3_log "Pacemaker did not write $src/cib.xml.sig; the seed would be discarded"
        return 1
    fi
    cp "$src/cib.xml" "$LAB3_NODES_DIR/cib-seed.xml"
    for (( j = 2; j <= n; j++ )); do
        cibdir=$LAB3_NODES_DIR/$(lab3_node_name "$j")/var-lib-pacemaker/cib
        cp -p "$src/cib.xml" "$src/cib.xml.sig" "$cibdir/"
    done
    # Pacemaker writes them as hacluster, mode 0600; make sure of it
    for (( j = 1; j <= n; j++ )); do
        cibdir=$LAB3_NODES_DIR/$(lab3_node_name "$j")/var-lib-pacemaker/cib
        chown hacluster:haclient "$cibdir/cib.xml" "$cibdir/cib.xml.sig"
        chmod 0600 "$cibdir/cib.xml" "$cibdir/cib.xml.sig"
    done
}

# ------------------------------------------------------------ network --
# _lab3_netns_add NAME: create a namespace (recorded first, so that lab3_down
# removes it even if what follows fails), with lo up.
_lab3_netns_add() {
    echo "$1" >> "$_LAB3_NETNS"
    if [[ ! -e $LAB3_STATE/netns-mount-created ]] && ! mountpoint -q /run/netns 2>/dev/null; then
        # "ip netns add" makes /run/netns a (shared) mount point the first
        # time; lab3_down undoes that if it is empty again.
        touch "$LAB3_STATE/netns-mount-created"
    fi
    ip netns add "$1" && ip -n "$1" link set lo up
}

_lab3_make_network() {
    local n=$1 j node ns
    _lab3_netns_add "$_LAB3_HUB" || return 2
    ip -n "$_LAB3_HUB" link add br0 type bridge || return 2
    ip -n "$_LAB3_HUB" link set br0 up || return 2
    for (( j = 1; j <= n; j++ )); do
        node=$(lab3_node_name "$j")
        ns=$LAB3_NETNS_PREFIX$node
        _lab3_netns_add "$ns" || return 1
        # created in the hub, the peer goes straight into the node: no
        # interface ever exists in the root namespace
        ip -n "$_LAB3_HUB" link add "veth-$node" type veth peer name eth0 netns "$ns" || return 2
        ip -n "$_LAB3_HUB" link set "veth-$node" master br0 up || return 1
        ip -n "$ns" addr add "$(lab3_node_addr "$node")/24" dev eth0 || return 1
        ip -n "$ns" link set eth0 up || return 1
    done
}

# ------------------------------------------------------------ up/down --
# lab3_up [N]: bring up an N-node cluster (default 3) and wait until all
# nodes are online with a DC. Returns 0; 2 if it cannot run here (not root,
# programs or kernel features missing; nothing is left behind); 3 if an
# earlier lab3 left something (nothing touched; "lab3.sh down" clears it);
# 1 on any other failure, leaving what it started recorded for lab3_down.
lab3_up() {
    local n=${1:-3} why left t0 t_net t_coro j node rc cg2
    if [[ ! $n =~ ^[0-9]+$ ]] || (( n < 1 || n > LAB3_MAX_NODES )); then
        lab3_log "lab3_up: N must be 1..$LAB3_MAX_NODES, not '$n'"
        return 1
    fi
    if ! why=$(lab3_check_prereqs); then
        lab3_log "cannot run a 3-node lab here: $why"
        return 2
    fi
    left=$(_lab3_leftovers)
    if [[ -n $left ]]; then
        lab3_log "refusing to start: an earlier lab3 left something behind:"
        while read -r why; do lab3_log "  $why"; done <<< "$left"
        lab3_log "  clear it with: test/cluster/lab3.sh down"
        return 3
    fi
    _LAB3_STARTED_HERE=1
    t0=$(lab_now)
    rm -rf "${LAB3_NODES_DIR:?}"
    mkdir -p "$LAB3_STATE" "$LAB3_NODES_DIR"
    chmod 0755 "$LAB3_DIR" "$LAB3_NODES_DIR"
    : > "$_LAB3_PIDS"
    : > "$_LAB3_NETNS"
    echo "$n" > "$LAB3_STATE/nodes"
    if [[ ${LAB3_CGROUP:-1} != 0 ]] && cg2=$(_lab3_cgroup2_mountpoint) &&
       [[ -w $cg2/cgroup.procs ]] && [[ -e /proc/self/ns/cgroup ]]; then
        echo "$cg2" > "$LAB3_STATE/cgroup2"
    fi

    rc=0
    _lab3_make_network "$n" || rc=$?
    if (( rc == 2 )); then
        lab3_log "cannot make network namespaces with a bridge and veth pairs here"
        lab3_down >/dev/null 2>&1 || true
        return 2
    elif (( rc )); then
        lab3_log "setting up the network failed"
        return 1
    fi
    for (( j = 1; j <= n; j++ )); do
        _lab3_write_node_files "$(lab3_node_name "$j")" "$n" || return 1
    done
    for node in $(lab3_nodes); do
        _lab3_boot "$node" || return 1
    done
    _lab3_seed_cib "$n" || return 1
    t_net=$(lab_elapsed "$t0")
    if (( n > 1 )) && command -v ping >/dev/null 2>&1; then
        node=$(lab3_node_name "$n")
        if ! lab3_exec "$(lab3_node_name 1)" ping -c 1 -W 2 "$node" >/dev/null; then
            lab3_log "$(lab3_node_name 1) cannot ping $node ($(lab3_node_addr "$node")): network broken"
            return 1
        fi
    fi

    # shellcheck disable=SC2046 # node names
    _lab3_start_stack $(lab3_nodes) || return 1
    t_coro=$(lab_elapsed "$t0")
    if ! lab3_wait_online "$n" "$LAB3_UP_TIMEOUT"; then
        lab3_log "cluster not up after ${LAB3_UP_TIMEOUT}s; logs in $LAB3_NODES_DIR/*/var-log-*"
        return 1
    fi
    LAB3_UP_SECONDS=$(lab_elapsed "$t0")
    lab3_log "$n node(s) online with DC $(lab3_dc) in $LAB3_UP_SECONDS s (namespaces booted after $t_net s, corosync up after $t_coro s); files and logs in $LAB3_NODES_DIR"
}

# lab3_crash NODE: take NODE's link down and kill its PID 1 (SIGKILL from the
# root namespace): the kernel kills every process of the node at once, like
# a power cut. Waits (bounded) until they are all gone.
lab3_crash() {
    local node=${1:-} a init st t0
    _lab3_check_node "$node" || return 1
    if ! a=$(_lab3_alive "$node-init"); then
        lab3_log "node $node is not running (already crashed?)"
        return 1
    fi
    read -r init st <<< "$a"
    t0=$(lab_now)
    # A power cut takes the node off the network too. Its network namespace
    # outlives it (named, for the reboot): without this its eth0 would keep
    # answering for the addresses it held, a virtual one included.
    ip -n "$LAB3_NETNS_PREFIX$node" link set eth0 down ||
        lab3_log "note: could not take $node's eth0 down"
    lab_proc_alive "$init" "$st" && kill -KILL "$init"
    if ! lab_wait_for -q -t "$LAB3_KILL_TIMEOUT" -i 0.05 _lab3_node_dead "$node"; then
        lab3_log "node $node: processes still alive ${LAB3_KILL_TIMEOUT}s after SIGKILL of its PID 1"
        return 1
    fi
    lab3_log "node $node crashed (its PID 1, $init, killed; all gone after $(lab_elapsed "$t0") s)"
}

# _lab3_node_link_up NODE: the node's eth0 as at boot: its own address
# only (what a crash left on it, e.g. a virtual address, is gone), up.
_lab3_node_link_up() {
    local ns=$LAB3_NETNS_PREFIX$1
    ip -n "$ns" addr flush dev eth0 &&
        ip -n "$ns" addr add "$(lab3_node_addr "$1")/24" dev eth0 &&
        ip -n "$ns" link set eth0 up ||
        { lab3_log "could not bring $1's eth0 up again"; return 1; }
}

# _lab3_node_dead NODE: no recorded process of NODE is alive.
_lab3_node_dead() {
    [[ -z $(_lab3_targets "$1-[a-z]+") ]]
}

# lab3_reboot NODE: boot a crashed NODE again (fresh /run and /dev/shm, the
# same network namespace, its /var/lib/pacemaker kept like a disk) and start
# corosync and pacemakerd; does not wait for it to join (lab3_wait_online).
lab3_reboot() {
    local node=${1:-}
    _lab3_check_node "$node" || return 1
    if ! _lab3_node_dead "$node"; then
        lab3_log "node $node is still running: crash it first (lab3_crash $node)"
        return 1
    fi
    _lab3_node_link_up "$node" || return 1
    _lab3_boot "$node" || return 1
    _lab3_start_stack "$node" || return 1
    lab3_log "node $node rebooted (corosync and pacemakerd started)"
}

# _lab3_stop_pids TIMEOUT SIG PID:ST...: signal the live ones, wait for all.
_lab3_stop_pids() {
    local timeout=$1 sig=$2 t
    shift 2
    (( $# )) || return 0
    for t in "$@"; do
        lab_proc_alive "${t%%:*}" "${t#*:}" && kill "-$sig" "${t%%:*}" 2>/dev/null
    done
    lab_wait_for -q -t "$timeout" -i 0.1 _lab_all_gone "$@"
}

# _lab3_targets ROLE_ERE: "pid:st" of live recorded processes whose role matches.
_lab3_targets() {
    local role pid st
    while read -r role pid st; do
        [[ -n $pid ]] && lab_proc_alive "$pid" "$st" && echo "$pid:$st"
    done < <(_lab3_recorded "$1")
    return 0
}

# lab3_down: tear down everything lab3_up (and lab3_reboot) made, by record:
# pacemakerd stopped gracefully (bounded, all nodes at once), then every
# node's PID 1 killed, the rest of the recorded processes killed, the
# namespaces deleted. Idempotent. Returns 1 (keeping its records) if
# something would not die.
lab3_down() {
    local t0 node ns left f
    local -a targets
    t0=$(lab_now)
    if [[ -s $_LAB3_PIDS ]]; then
        if node=$(lab3_first_live_node); then
            lab3_exec "$node" env -u CIB_file timeout 5 cibadmin -Q \
                > "$LAB3_NODES_DIR/cib-final.xml" 2>/dev/null || true
        fi
        mapfile -t targets < <(_lab3_targets '[^ ]+-pacemakerd')
        if (( ${#targets[@]} )) && ! _lab3_stop_pids "$LAB3_STOP_TIMEOUT" TERM "${targets[@]}"; then
            lab3_log "pacemakerd did not stop in ${LAB3_STOP_TIMEOUT}s everywhere; killing the nodes anyway"
        fi
        # killing a node's PID 1 kills its whole PID namespace
        mapfile -t targets < <(_lab3_targets '[^ ]+-init')
        _lab3_stop_pids "$LAB3_KILL_TIMEOUT" KILL "${targets[@]}" || true
        # whatever is left (unshare exits once its child is gone)
        mapfile -t targets < <(_lab3_targets '[^ ]+')
        if (( ${#targets[@]} )); then
            _lab3_stop_pids 5 TERM "${targets[@]}" || _lab3_stop_pids 5 KILL "${targets[@]}" || true
        fi
        left=$(_lab3_alive_recorded)
        if [[ -n $left ]]; then
            lab3_log "still running after lab3_down (kept recorded; run 'test/cluster/lab3.sh down' again):"
            lab3_log "$left"
            return 1
        fi
        # The unshare processes were orphans (setsid -f): this machine's PID 1
        # reaps them late, and until then they are zombies in ps. Wait a
        # little (bounded) so that the machine looks clean right after us.
        if ! lab_wait_for -q -t "$LAB3_REAP_TIMEOUT" -i 0.1 _lab_all_reaped _lab3_recorded; then
            lab3_log "note: zombies of lab3 processes not reaped by PID 1 yet (harmless)"
        fi
    fi
    # the namespaces: recorded ones, and any other with our prefix
    {
        [[ -s $_LAB3_NETNS ]] && cat "$_LAB3_NETNS"
        for f in /run/netns/"$LAB3_NETNS_PREFIX"*; do
            [[ -e $f ]] && echo "${f#/run/netns/}"
        done
        true   # (the loop's status must not fail the pipeline under pipefail)
    } | sort -u | while read -r ns; do
        [[ -n $ns && -e /run/netns/$ns ]] || continue
        ip netns del "$ns" || lab3_log "could not delete network namespace $ns"
    done
    if compgen -G "/run/netns/$LAB3_NETNS_PREFIX*" >/dev/null; then
        lab3_log "network namespaces left: $(cd /run/netns && echo "$LAB3_NETNS_PREFIX"*)"
        return 1
    fi
    if ! _lab3_cgroup_remove; then
        lab3_log "cgroups of lab3 left (kept recorded; run 'test/cluster/lab3.sh down' again)"
        return 1
    fi
    if [[ -e $LAB3_STATE/netns-mount-created ]] && mountpoint -q /run/netns 2>/dev/null &&
       [[ -z $(ls -A /run/netns 2>/dev/null) ]]; then
        if umount /run/netns 2>/dev/null; then rmdir /run/netns 2>/dev/null || true; fi
    fi
    rm -rf "${LAB3_STATE:?}"
    _LAB3_STARTED_HERE=
    lab3_log "lab3 down in $(lab_elapsed "$t0") s (node files and logs kept in $LAB3_NODES_DIR)"
}

lab3_started_here() { [[ -n ${_LAB3_STARTED_HERE:-} ]]; }

# lab3_down_if_started: lab3_down, only if this shell's lab3_up got past its
# checks (a refused test must not tear down somebody else's lab).
lab3_down_if_started() {
    lab3_started_here || return 0
    lab3_down
}

# lab3_diag: what helps to understand a failed test, on stderr.
lab3_diag() {
    local node
    {
        echo "----- lab3 diagnostics ($(date '+%F %T')) -----"
        echo "--- recorded processes ($_LAB3_PIDS):"
        _lab3_recorded
        for node in $(lab3_live_nodes); do
            echo "--- crm_mon in $node:"
            lab3_exec "$node" env -u CIB_file timeout 15 crm_mon -1 --inactive --show-detail --failcounts 2>&1 || true
            break
        done
        for node in $(lab3_nodes); do
            local log=$LAB3_NODES_DIR/$node/var-log-pacemaker/pacemaker.log
            if [[ -r $log ]]; then
                echo "--- $node: last errors/warnings/notices of pacemaker.log:"
                grep -E '[[:space:]](error|warning|crit): ' "$log" | tail -n 10 || true
            fi
        done
        echo "----- end of lab3 diagnostics (logs: $LAB3_NODES_DIR/NODE/var-log-*) -----"
    } >&2
}

# lab3_fail MSG...: end a test with diagnostics and exit 1 (its EXIT trap,
# lab3_test_exit, tears the lab down).
lab3_fail() {
    echo "FAIL: $*" >&2
    if lab3_started_here; then lab3_diag; fi
    exit 1
}

# lab3_test_exit RC: for a test's EXIT trap: tear down (a teardown that leaves
# anything behind fails the test), then exit 0, 77 or 1.
lab3_test_exit() {
    local rc=$1
    if ! lab3_down_if_started; then
        echo "FAIL: lab3 teardown left something behind" >&2
        rc=1
    fi
    case $rc in 0|77) ;; *) rc=1 ;; esac
    (( rc == 0 )) && echo "PASS: $(basename "$0")" >&2
    exit "$rc"
}

# lab3_status: records, namespaces, and crm_mon from a live node.
lab3_status() {
    local role pid st f node
    if [[ -s $_LAB3_PIDS ]]; then
        echo "lab3 of $(lab3_node_count) node(s), recorded in $_LAB3_PIDS:"
        while read -r role pid st; do
            if lab_proc_alive "$pid" "$st"; then
                printf '  %-16s %7s running\n' "$role" "$pid"
            else
                printf '  %-16s %7s gone\n' "$role" "$pid"
            fi
        done < "$_LAB3_PIDS"
    else
        echo "no lab3 recorded in $LAB3_STATE"
    fi
    for f in /run/netns/"$LAB3_NETNS_PREFIX"*; do
        [[ -e $f ]] && echo "network namespace: ${f#/run/netns/}"
    done
    if node=$(lab3_first_live_node); then
        echo "crm_mon (in $node):"
        lab3_exec "$node" env -u CIB_file timeout 15 crm_mon -1 --inactive 2>&1 | sed 's/^/  /' || true
    fi
    echo "node files and logs: $LAB3_NODES_DIR"
}

# ------------------------------------------------------------------- CLI --
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    case ${1:-} in
        up)     rc=0; lab3_up "${2:-3}" || rc=$?
                if (( rc == 1 )) && [[ -e $LAB3_STATE ]]; then
                    lab3_log "lab3 up failed; tear down what it started with: $0 down"
                fi
                exit $(( rc ? 1 : 0 )) ;;
        down)   lab3_down ;;
        status) lab3_status ;;
        exec)   (( $# >= 3 )) || { echo "usage: $0 exec NODE CMD..." >&2; exit 2; }
                shift; lab3_exec "$@" ;;
        crash)  lab3_crash "${2:-}" ;;
        reboot) lab3_reboot "${2:-}"
                lab3_wait_online "$(lab3_live_nodes | wc -l)" ;;
        *)      echo "usage: $0 up [N]|down|status|exec NODE CMD...|crash NODE|reboot NODE" >&2; exit 2 ;;
    esac
fi
