#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/lab/plab.sh - the production-like lab (issue 15): Debian nodes booted
# with systemd-nspawn, systemd as PID 1, corosync and pacemaker started by
# systemd, warden installed from its packages, fencing on.
#
# As a command:   test/lab/plab.sh up RELEASE [N]   (bookworm|trixie, N = 2..3)
#                 test/lab/plab.sh down
#                 test/lab/plab.sh exec NODE CMD...
#                 test/lab/plab.sh switch REQUEST   (list, status|on|off|pid NODE)
# As a library:   . test/lab/plab.sh
#                 trap plab_down_if_started EXIT
#                 plab_up trixie 2
#                 plab_exec trixie1 crm_mon -1
#
# Nodes are RELEASE1..RELEASEN (the host names, and the cluster's node
# names), with addresses 10.213.8.11, .12, .13/24 in network namespaces of
# the lab's own (PLAB_PREFIX-1..N) on a bridge in a hub namespace
# (PLAB_PREFIX-hub): nothing is added to the root namespace, nothing leaves
# the hub.
#
# What plab_up does:
#  * test/lab/plab-image.sh RELEASE: the cached image (debootstrap, systemd,
#    corosync, pacemaker, crmsh) with warden's packages built from this
#    checkout for RELEASE and the fence agent fence_warden_lab;
#  * per node an overlay root over the image (upper directory under
#    $PLAB_DIR/NODE, kept across the node's reboots, removed by plab_down),
#    with its /etc/hostname, /etc/hosts (every node), /etc/corosync/
#    corosync.conf (knet, crypto with one authkey for the lab, votequorum,
#    two_node for 2 nodes) and a CIB seed (dc-deadtime 5s, stonith-enabled
#    true, a fence device fence-lab of fence_warden_lab for all nodes,
#    resource-stickiness 100), built with the node's own cibadmin;
#  * the power switch (test/lab/plab-switch.py), which boots every node
#    with systemd-nspawn --boot --register=no --keep-unit in a cgroup of
#    its own (<cgroup2>/PLAB_PREFIX/NODE; the nodes get cgroup v2 only),
#    powers nodes off (SIGKILL of the node's PID 1 and of its cgroup) and
#    on for the fence agent, and keeps them as its children; systemd inside
#    starts corosync and pacemaker (enabled by their packages); the
#    switch's socket is bind-mounted into every node at
#    /run/warden-lab-switch/switch.sock;
#  * waits until every node is online with a DC.
# plab_down asks the switch to power every node off and quit (it is the
# only process the lab starts on the host, recorded with its PID and start
# time), kills whatever is left in the lab's cgroup (a switch that was
# killed leaves its nodes running), unmounts the roots, deletes the
# namespaces, the cgroups and $PLAB_DIR. It is idempotent and works after
# a half-finished plab_up; plab_leftovers lists what is left (nothing after
# plab_down); plab_up refuses while anything is.
#
# Nodes run on the host's kernel: their processes show in the host's /proc
# (corosync, pacemakerd, ...), so test/cluster/lab.sh, which refuses to
# start while such daemons run, cannot start while this lab is up.
#
# Requires: root, systemd-nspawn (systemd-container), debootstrap, iproute2,
# util-linux (nsenter), python3.

PLAB_DIR=${PLAB_DIR:-/run/warden-plab}
PLAB_PREFIX=${PLAB_PREFIX:-wplab}
PLAB_NET=${PLAB_NET:-10.213.8}
PLAB_UP_TIMEOUT=${PLAB_UP_TIMEOUT:-180}
_PLAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

plab_log() { printf '[plab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# plab_nodes: the node names, one a line.
plab_nodes() { cat "$PLAB_DIR/names" 2>/dev/null; }

# plab_switch REQUEST: the switch's answer to REQUEST (admin socket);
# non-zero unless it answers "ok ...". The answer without "ok " on stdout.
plab_switch() {
    local out
    out=$(/usr/bin/python3 - "$PLAB_DIR/admin.sock" "$*" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
try:
    s.connect(sys.argv[1])
    s.sendall((sys.argv[2] + "\n").encode())
    data = b""
    while b"\n" not in data and len(data) < 4096:
        c = s.recv(4096)
        if not c:
            break
        data += c
except OSError as e:
    print(f"err {e}")
    sys.exit(0)
print(data.split(b"\n", 1)[0].decode("ascii", "replace"))
EOF
    ) || return 2
    [[ $out == ok* ]] || { echo "$out" >&2; return 1; }
    out=${out#ok}
    echo "${out# }"
}

# plab_pid1 NODE: the node's PID 1 as the host sees it.
plab_pid1() { plab_switch pid "$1"; }

# plab_exec NODE CMD...: run CMD inside NODE (all its namespaces), with a
# clean environment.
plab_exec() {
    local node=$1 pid
    shift
    pid=$(plab_pid1 "$node") || { plab_log "$node is off"; return 125; }
    nsenter -t "$pid" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
        TERM=dumb "$@"
}

# plab_wait_for [-t SECS] CMD...: run CMD until it succeeds (0.5 s apart);
# non-zero after SECS (default 60).
plab_wait_for() {
    local t=60
    if [[ ${1:-} == -t ]]; then t=$2; shift 2; fi
    local end=$((SECONDS + t))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || return 1
        sleep 0.5
    done
}

# plab_online_count NODE: how many nodes NODE sees online, if it sees a DC.
plab_online_count() {
    local xml
    xml=$(plab_exec "$1" crm_mon -1 --output-as=xml 2>/dev/null) || return 1
    grep -q '<current_dc [^>]*present="true"' <<<"$xml" || return 1
    grep -c '<node name="[^"]*" [^>]*online="true"' <<<"$xml"
}

# plab_all_online NODE N: true when NODE sees N nodes online and a DC.
plab_all_online() { [[ $(plab_online_count "$1") == "$2" ]]; }

_plab_corosync_conf() { # N RELEASE
    local n=$1 rel=$2 i
    cat <<EOF
# written by warden's test/lab/plab.sh
totem {
    version: 2
    cluster_name: warden-plab
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
    token: 1000
}
nodelist {
EOF
    for ((i = 1; i <= n; i++)); do
        printf '    node {\n        name: %s%d\n        nodeid: %d\n        ring0_addr: %s.%d\n    }\n' \
            "$rel" "$i" "$i" "$PLAB_NET" $((10 + i))
    done
    cat <<EOF
}
quorum {
    provider: corosync_votequorum
$( ((n == 2)) && echo "    two_node: 1")
}
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: yes
    timestamp: on
}
EOF
}

# _plab_seed_cib ROOT NODES: a CIB for the nodes, made by the node's own
# cibadmin (so the feature set is the node's Pacemaker's), in ROOT.
_plab_seed_cib() {
    local root=$1 nodes=$2
    # shellcheck disable=SC2016 # expanded by the node's shell
    chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
        CIB_file=/var/lib/pacemaker/cib/cib.xml NODES="$nodes" sh -ec '
        mkdir -p /var/lib/pacemaker/cib
        cibadmin --empty > "$CIB_file"
        crm_attribute -t crm_config -n dc-deadtime -v 5s
        crm_attribute -t crm_config -n stonith-enabled -v true
        crm_attribute -t crm_config -n cluster-recheck-interval -v 1min
        cibadmin -C -o configuration -X "<rsc_defaults><meta_attributes id=\"rsc-options\"><nvpair id=\"rsc-options-stickiness\" name=\"resource-stickiness\" value=\"100\"/></meta_attributes></rsc_defaults>"
        cibadmin -C -o resources -X "<primitive id=\"fence-lab\" class=\"stonith\" type=\"fence_warden_lab\"><instance_attributes id=\"fence-lab-ia\"><nvpair id=\"fence-lab-hosts\" name=\"pcmk_host_list\" value=\"$NODES\"/></instance_attributes><operations><op id=\"fence-lab-monitor\" name=\"monitor\" interval=\"60s\"/></operations></primitive>"
        chown -R hacluster:haclient /var/lib/pacemaker/cib
        chmod 0600 "$CIB_file"'
}

# plab_up RELEASE [N]: the lab, up, every node online with a DC.
plab_up() {
    local rel=${1:-} n=${2:-2} lower i node ns root hub t0=$SECONDS
    case $rel in bookworm|trixie) ;; *) plab_log "plab_up: RELEASE must be bookworm or trixie"; return 2 ;; esac
    [[ $n =~ ^[23]$ ]] || { plab_log "plab_up: N must be 2 or 3"; return 2; }
    if [[ -e $PLAB_DIR ]]; then
        plab_log "plab_up: $PLAB_DIR exists (an earlier lab?): test/lab/plab.sh down"
        return 1
    fi
    local left
    left=$(plab_leftovers)
    if [[ -n $left ]]; then
        plab_log "plab_up: an earlier lab left: ${left//$'\n'/; } (test/lab/plab.sh down)"
        return 1
    fi
    _PLAB_STARTED=1
    lower=$("$_PLAB_HERE/plab-image.sh" "$rel") || return 1
    mkdir -p "$PLAB_DIR/switch" && chmod 0700 "$PLAB_DIR" "$PLAB_DIR/switch"
    echo "$rel" >"$PLAB_DIR/release"
    : >"$PLAB_DIR/names"
    : >"$PLAB_DIR/nodes"
    : >"$PLAB_DIR/netns"
    : >"$PLAB_DIR/mounts"
    # The network: a bridge in a hub namespace, a veth per node.
    hub=$PLAB_PREFIX-hub
    ip netns add "$hub" && echo "$hub" >>"$PLAB_DIR/netns" || return 1
    ip -n "$hub" link set lo up
    ip -n "$hub" link add br0 type bridge && ip -n "$hub" link set br0 up || return 1
    head -c 256 /dev/urandom >"$PLAB_DIR/authkey"
    local names=() hosts="127.0.0.1 localhost"
    for ((i = 1; i <= n; i++)); do
        names+=("$rel$i")
        hosts+=$'\n'"$PLAB_NET.$((10 + i)) $rel$i"
    done
    printf '%s\n' "${names[@]}" >"$PLAB_DIR/names"
    for ((i = 1; i <= n; i++)); do
        node=$rel$i ns=$PLAB_PREFIX-$i
        ip netns add "$ns" && echo "$ns" >>"$PLAB_DIR/netns" || return 1
        ip -n "$ns" link set lo up
        ip -n "$hub" link add "veth$i" type veth peer name eth0 netns "$ns" || return 1
        ip -n "$hub" link set "veth$i" master br0 up || return 1
        ip -n "$ns" addr add "$PLAB_NET.$((10 + i))/24" dev eth0 && ip -n "$ns" link set eth0 up || return 1
        root=$PLAB_DIR/$node/root
        mkdir -p "$PLAB_DIR/$node/upper" "$PLAB_DIR/$node/work" "$root"
        mount -t overlay overlay \
            -o "lowerdir=$lower,upperdir=$PLAB_DIR/$node/upper,workdir=$PLAB_DIR/$node/work" "$root" ||
            return 1
        echo "$root" >>"$PLAB_DIR/mounts"
        echo "$node" >"$root/etc/hostname"
        echo "$hosts" >"$root/etc/hosts"
        _plab_corosync_conf "$n" "$rel" >"$root/etc/corosync/corosync.conf"
        install -m 0400 "$PLAB_DIR/authkey" "$root/etc/corosync/authkey"
        # The CIB seed: made in the first node (Pacemaker writes the digest
        # of the live CIB itself), copied to the others.
        if ((i == 1)); then
            _plab_seed_cib "$root" "${names[*]}" || { plab_log "cannot seed the CIB"; return 1; }
        else
            cp -a "$PLAB_DIR/${names[0]}/root/var/lib/pacemaker/cib/." "$root/var/lib/pacemaker/cib/"
        fi
        echo "$node $root /run/netns/$ns" >>"$PLAB_DIR/nodes"
    done
    # The switch: the lab's one process on the host; it boots the nodes.
    setsid /usr/bin/python3 "$_PLAB_HERE/plab-switch.py" "$PLAB_DIR" "$PLAB_PREFIX" \
        </dev/null >>"$PLAB_DIR/switch.log" 2>&1 &
    echo "$! $(awk '{print $22}' "/proc/$!/stat" 2>/dev/null)" >"$PLAB_DIR/switch.pid"
    plab_wait_for -t 10 test -S "$PLAB_DIR/admin.sock" || { plab_log "the switch did not start"; return 1; }
    for node in "${names[@]}"; do
        plab_switch on "$node" >/dev/null || { plab_log "cannot boot $node"; return 1; }
    done
    plab_log "$n $rel nodes booting ($((SECONDS - t0)) s so far)"
    if ! plab_wait_for -t "$PLAB_UP_TIMEOUT" plab_all_online "${names[0]}" "$n"; then
        plab_log "the cluster did not form in $PLAB_UP_TIMEOUT s"
        return 1
    fi
    plab_log "$n $rel nodes online with a DC ($((SECONDS - t0)) s)"
}

# _plab_cgroup_mounts: the host's cgroup v2 mount and name=systemd mount.
# The v2 one first: plab_down kills through its cgroup.kill, which empties
# the v1 one too.
_plab_cgroup_mounts() {
    awk -F' - ' '{ split($1, a, " "); split($2, b, " ")
                   if (b[1] == "cgroup2") print 0, a[5]
                   else if (b[1] == "cgroup" && b[3] ~ /name=systemd/) print 1, a[5] }' \
        /proc/self/mountinfo | sort -n | cut -d' ' -f2-
}

# plab_leftovers: what of a lab is left on the host, one line each; nothing
# after a complete plab_down.
plab_leftovers() {
    local d cg
    for d in /proc/[0-9]*; do
        [[ $(cat "$d/comm" 2>/dev/null) == systemd-nspawn ]] || continue
        tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q -- "$PLAB_DIR/" && echo "nspawn ${d#/proc/} runs"
    done
    while read -r cg; do
        [[ -d $cg/$PLAB_PREFIX ]] && echo "cgroup $cg/$PLAB_PREFIX ($(find "$cg/$PLAB_PREFIX" -name cgroup.procs -exec cat {} + | wc -l) processes)"
    done < <(_plab_cgroup_mounts)
    # PLAB_DIR itself or below it, not a sibling that shares its prefix
    # (another lab's /run/warden-plab-chaos3 beside /run/warden-plab-chaos)
    awk -v d="$PLAB_DIR" '$5 == d || index($5, d "/") == 1 { f = 1 } END { exit !f }' \
        /proc/self/mountinfo && echo "mounts under $PLAB_DIR"
    ip netns list 2>/dev/null | grep -q "^$PLAB_PREFIX-" &&
        echo "namespaces: $(ip netns list | grep "^$PLAB_PREFIX-" | cut -d' ' -f1 | paste -sd' ')"
    [[ -e $PLAB_DIR ]] && echo "$PLAB_DIR exists"
    return 0
}

# plab_down_if_started: plab_down, if this shell's plab_up got past its
# check for an earlier lab (for traps: never tear down someone else's lab).
plab_down_if_started() {
    [[ -n ${_PLAB_STARTED:-} ]] || return 0
    plab_down && _PLAB_STARTED=
}

# plab_down: everything of the lab gone (idempotent).
plab_down() {
    [[ -d $PLAB_DIR ]] || return 0
    local pid start ns m
    if [[ -S $PLAB_DIR/admin.sock ]]; then
        plab_switch quit >/dev/null 2>&1 || true
    fi
    if read -r pid start <"$PLAB_DIR/switch.pid" 2>/dev/null; then
        local end=$((SECONDS + 30))
        while [[ $(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null) == "$start" ]] &&
                ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
            if ((SECONDS >= end)); then kill -KILL "$pid" 2>/dev/null; break; fi
            sleep 0.2
        done
        wait "$pid" 2>/dev/null || true
    fi
    if [[ -f $PLAB_DIR/mounts ]]; then
        while read -r m; do
            [[ -n $m ]] || continue
            grep -qs " $m " /proc/self/mountinfo || continue
            umount -R "$m" 2>/dev/null || {
                plab_log "plab_down: $m is busy (a node's process left?): lazy unmount"
                umount -R -l "$m" 2>/dev/null
            }
        done < <(tac "$PLAB_DIR/mounts")
    fi
    # The nodes' cgroups: the switch empties and removes them, but not if
    # it was killed. Every process in them is a node's (the cgroup is the
    # lab's own): SIGKILL through cgroup.kill, then the directories go.
    local cg end
    while read -r cg; do
        [[ -d $cg/$PLAB_PREFIX ]] || continue
        if [[ -e $cg/$PLAB_PREFIX/cgroup.kill ]] && grep -qx 'populated 1' "$cg/$PLAB_PREFIX/cgroup.events"; then
            plab_log "plab_down: processes left in the lab's cgroup: killing them"
            echo 1 >"$cg/$PLAB_PREFIX/cgroup.kill"
            end=$((SECONDS + 10))
            while grep -qx 'populated 1' "$cg/$PLAB_PREFIX/cgroup.events" && ((SECONDS < end)); do
                sleep 0.1
            done
        fi
        end=$((SECONDS + 5))
        until find "$cg/$PLAB_PREFIX" -depth -type d -exec rmdir {} + 2>/dev/null; do
            ((SECONDS < end)) || { plab_log "plab_down: cannot remove $cg/$PLAB_PREFIX"; break; }
            sleep 0.1
        done
    done < <(_plab_cgroup_mounts)
    if [[ -f $PLAB_DIR/netns ]]; then
        while read -r ns; do
            [[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
        done < <(tac "$PLAB_DIR/netns")
    fi
    if [[ -n ${PLAB_KEEP_LOGS:-} ]]; then
        mkdir -p "$PLAB_KEEP_LOGS"
        cp "$PLAB_DIR"/*.console "$PLAB_DIR"/switch.log "$PLAB_KEEP_LOGS/" 2>/dev/null
    fi
    if grep -qs " $PLAB_DIR/" /proc/self/mountinfo; then
        plab_log "plab_down: mounts left under $PLAB_DIR; not removing it"
        return 1
    fi
    rm -rf "$PLAB_DIR"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -u
    case ${1:-} in
        up) shift; plab_up "$@" ;;
        down) plab_down; left=$(plab_leftovers); [[ -z $left ]] || { echo "left: $left" >&2; exit 1; } ;;
        exec) shift; plab_exec "$@" ;;
        switch) shift; plab_switch "$@" ;;
        *) echo "usage: $0 up RELEASE [N] | down | exec NODE CMD... | switch REQUEST" >&2; exit 2 ;;
    esac
fi
