#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A seeded chaos test on the production-like lab (issue 15, test/lab/plab.sh):
# random faults, some overlapping, against a realistic mix of resources on
# CHAOS_NODES (2) Debian nodes booted with systemd, fencing on; after every
# fault, once the cluster has settled, and at the end, the invariants.
#
#   CHAOS_SEED     the seed (default: random); printed first, so a failure
#                  replays with the same CHAOS_SEED, CHAOS_FAULTS and release
#                  (the same faults, the same targets, wherever they run)
#   CHAOS_FAULTS   how many faults (default 50)
#   PLAB_RELEASES  bookworm (default) and/or trixie
#   CHAOS_JOURNALS a directory: the nodes' journals are saved there at the
#                  end (NODE.journal), before the lab goes down
#   CHAOS_UNTIL    a time (date -d: "18:10", "+2 hours"): no fault is
#                  thrown after it, the run ends with its checks as if
#                  CHAOS_FAULTS had been reached, and says how many were
#                  thrown (a long run by hand that must end in time)
#
# The resources: a group grp of IPaddr2 (vip) and an HTTP server on that
# address checked by http: with dump_on_failure (web); a server checked by
# tcp: (tcpd); a sleeper checked by exec: (execd); a shell whose service
# forks children (forker, process check); an anonymous clone (anon-clone of
# anon). All ocf:warden:daemon but vip.
# The faults (kinds): kill -9 of a service's main process (kill_main), of a
# child (kill_child), of a keeper (kill_keeper), of a holder (kill_holder);
# SIGSTOP of a service (stop_service) or of a keeper (stop_keeper) for a
# random span, then SIGCONT; a node's power cut through the switch
# (node_crash: the cluster fences it, it boots again); systemctl reboot
# (node_reboot); standby then online; move then clear; crm_resource
# --restart; a reload of a check parameter (--set-parameter check_interval:
# reload-agent, the service keeps its main process); a full dump directory
# (a full tmpfs on the dump directory, then web frozen: dumped into nothing,
# restarted anyway). A quarter of the faults get a second, lighter one on
# another resource 0-2 s later (overlap).
# The invariants, after each fault once the cluster is idle (S_IDLE, every
# resource started; bounded by CHAOS_SETTLE seconds): no failed stop; the
# fence history exactly the node crashes' (one reboot of that node each);
# no "Timed Out" failed action, no failed action on a resource the fault
# did not touch; fail count deltas exactly as caused (1 for a killed main
# process or a frozen web over a full dump directory, 0 for a killed child
# or keeper, a frozen keeper, a move, a restart, a reload, a standby, a
# reboot; at most 1 where it depends on timing or a reload may clear it);
# never two copies of a primitive; nothing of a resource (process, keeper,
# cgroup, address) on a node where it does not run; exactly one keeper per
# running warden primitive per node, its RSS within CHAOS_KEEPER_RSS_GROWTH
# kB of the smallest seen; no core dump, segfault or sanitizer report in
# the nodes' journals. Failures are cleaned up (crm_resource --cleanup)
# after a fault that caused some, so each fault's deltas start from zero.
# At the end a table of recovery times (fault to settled) per kind.
# Skips (exit 77) when it cannot run here (see test-plab-fencing.sh);
# WARDEN_NO_SKIP=1 makes a skip a failure. Its lab has a directory, cgroup,
# namespaces and network of its own (PLAB_DIR, PLAB_PREFIX, PLAB_NET).
# shellcheck disable=SC2016 # scripts for bash -c and the nodes' shells
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
export PLAB_DIR=${PLAB_DIR:-/run/warden-plab-chaos} PLAB_PREFIX=${PLAB_PREFIX:-wpchs}
export PLAB_NET=${PLAB_NET:-10.213.23}
. "$src/test/agent/lib.sh"
. "$src/test/lab/plab.sh"
. "$src/test/lab/plab-checks.sh"

# The harness asks the nodes many times a second, and with two labs side
# by side its own processes were most of the machine's load: what it asks
# often is answered here without starting a process where it can be.

# stat_start PID: PID's start time (field 22 of /proc/PID/stat) in ST.
stat_start() {
    local line
    ST=
    read -r line <"/proc/$1/stat" 2>/dev/null || return 1
    # shellcheck disable=SC2086 # the fields after the command name
    set -- ${line##*) }
    ST=${20:-}
    [ -n "$ST" ]
}

# plab_pid1, cached: the switch (a python process) takes a second or more
# to answer on a loaded machine, and every plab_exec asks it. The cache is
# a file per node (plab_exec asks from command substitutions), trusted
# while that PID has the same start time (a node powered off or rebooted
# has a new PID 1).
plab_pid1() {
    local f=$PLAB_DIR/chaos-pid1.$1 p st ST
    if read -r p st <"$f" 2>/dev/null && stat_start "$p" && [ "$ST" = "$st" ]; then
        echo "$p"
        return
    fi
    p=$(plab_switch pid "$1") || return
    ! stat_start "$p" || echo "$p $ST" >"$f"
    echo "$p"
}

# plab_nodes from CHAOS_NODE_NAMES once the lab is up (they do not change)
plab_nodes() {
    if [ -n "${CHAOS_NODE_NAMES:-}" ]; then
        printf '%s\n' $CHAOS_NODE_NAMES
    else
        cat "$PLAB_DIR/names" 2>/dev/null
    fi
}

skip() { tap_skip "$@"; }
lab_node_prereqs "systemd-nspawn, namespaces, mounts" ip:iproute2 /usr/bin/python3:python3

CHAOS_SEED=${CHAOS_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
CHAOS_FAULTS=${CHAOS_FAULTS:-50}
CHAOS_NODES=${CHAOS_NODES:-2}
CHAOS_SETTLE=${CHAOS_SETTLE:-240}
CHAOS_KEEPER_RSS_GROWTH=${CHAOS_KEEPER_RSS_GROWTH:-4096}
until_s=
if [ -n "${CHAOS_UNTIL:-}" ]; then
    until_s=$(date -d "$CHAOS_UNTIL" +%s 2>/dev/null) ||
        { echo "CHAOS_UNTIL: a time date -d understands (18:10, +2 hours), not '$CHAOS_UNTIL'" >&2; exit 2; }
fi
releases=${PLAB_RELEASES:-bookworm}
echo "# CHAOS_SEED=$CHAOS_SEED CHAOS_FAULTS=$CHAOS_FAULTS PLAB_RELEASES='$releases' (set them to replay)"
# Every choice comes from RANDOM, seeded here, and only in this shell (a
# subshell reseeds it: see pick): a run replays the same faults, as long
# as the cluster places the resources as it did.
RANDOM=$CHAOS_SEED

# the SIGCONTs sent later (contlater), the only jobs but the lab's switch
CONT_PIDS=()
trap '((${#CONT_PIDS[@]} == 0)) || kill "${CONT_PIDS[@]}" 2>/dev/null; plab_down_if_started' EXIT

for rel in $releases; do
    t=$SECONDS
    if ! "$src/test/lab/plab-image.sh" "$rel" >/dev/null 2>"/tmp/plab-chaos-image-$rel.log"; then
        if grep -q 'dpkg-buildpackage failed\|dpkg -i of warden' "/tmp/plab-chaos-image-$rel.log"; then
            not_ok "the $rel image with warden's packages builds"
            sed 's/^/# /' "/tmp/plab-chaos-image-$rel.log" | tail -n 40
            finish
            exit 1
        fi
        sed 's/^/# /' "/tmp/plab-chaos-image-$rel.log" | tail -n 20
        skip "cannot build the $rel image (debootstrap from the mirror: network?)"
    fi
    rm -f "/tmp/plab-chaos-image-$rel.log"
    echo "# the $rel image: $((SECONDS - t)) s"
done

# ---- the resources ----------------------------------------------------------

VIP=$PLAB_NET.100
# the warden primitives, the clone's primitive last
PRIMS="web tcpd execd forker anon"
declare -A PAT=(
    [web]="http.server 8080"
    [tcpd]="http.server 8081"
    [execd]="^/bin/sleep 4401\$"
    [forker]="sleep 4402"
    [anon]="^/bin/sleep 4403\$"
)

# prim ID COMMAND NAME=VALUE...: an ocf:warden:daemon primitive's XML
prim() {
    local id=$1 cmd=$2 nv='' kv k v
    shift 2
    for kv in command="$cmd" check_interval=2s "$@"; do
        k=${kv%%=*} v=${kv#*=}
        v=${v//&/&amp;} v=${v//\"/&quot;} v=${v//</&lt;} v=${v//>/&gt;}
        nv+="<nvpair id=\"$id-$k\" name=\"$k\" value=\"$v\"/>"
    done
    echo "<primitive id=\"$id\" class=\"ocf\" provider=\"warden\" type=\"daemon\"><instance_attributes id=\"$id-ia\">$nv</instance_attributes><operations><op id=\"$id-monitor\" name=\"monitor\" interval=\"10s\" timeout=\"30s\"/><op id=\"$id-start\" name=\"start\" interval=\"0\" timeout=\"40s\"/><op id=\"$id-stop\" name=\"stop\" interval=\"0\" timeout=\"40s\"/></operations></primitive>"
}

configure() {
    local x
    x="<group id=\"grp\"><primitive id=\"vip\" class=\"ocf\" provider=\"heartbeat\" type=\"IPaddr2\"><instance_attributes id=\"vip-ia\"><nvpair id=\"vip-ip\" name=\"ip\" value=\"$VIP\"/><nvpair id=\"vip-mask\" name=\"cidr_netmask\" value=\"24\"/><nvpair id=\"vip-nic\" name=\"nic\" value=\"eth0\"/></instance_attributes><operations><op id=\"vip-monitor\" name=\"monitor\" interval=\"10s\" timeout=\"30s\"/><op id=\"vip-start\" name=\"start\" interval=\"0\" timeout=\"40s\"/><op id=\"vip-stop\" name=\"stop\" interval=\"0\" timeout=\"40s\"/></operations></primitive>"
    x+=$(prim web "/usr/bin/python3 -m http.server 8080 --bind $VIP --directory /srv" \
        check="http:$VIP:8080/" check_timeout=2s dump_on_failure=true dump_keep=3)
    x+="</group>"
    plab_exec "$ASK" cibadmin -C -o resources -X "$x" || return 1
    plab_exec "$ASK" cibadmin -C -o resources -X "$(prim tcpd \
        "/usr/bin/python3 -m http.server 8081 --bind 127.0.0.1 --directory /srv" \
        check=tcp:127.0.0.1:8081 check_timeout=2s)" || return 1
    plab_exec "$ASK" cibadmin -C -o resources -X "$(prim execd "/bin/sleep 4401" \
        check="exec:/usr/bin/test -d /proc/self" check_timeout=5s)" || return 1
    plab_exec "$ASK" cibadmin -C -o resources -X "$(prim forker \
        "while :; do /bin/sleep 4402 & /bin/sleep 4402 & wait; done" shell=true)" || return 1
    plab_exec "$ASK" cibadmin -C -o resources -X "<clone id=\"anon-clone\">$(prim anon "/bin/sleep 4403")</clone>"
}

# ---- the cluster's state, in one look ----------------------------------------

# snapshot: in one visit of ASK, crm_mon's XML, the status section's fail
# counts and the DC's state, as lines in SNAP:
#   dc NAME | dcstate S_... | node NAME ONLINE STANDBY | rsc ID ROLE NODE,NODE
#   fail OPKEY NODE STATUS EXITREASON | fc RSC NODE N
# and indexed (no process per question): DC, DCSTATE, WHERE[RSC] (the
# nodes it is started on), FCS[RSC@NODE], ONLINE and ACTIVE (online, not
# in standby) node lists.
SNAP=
snapshot() {
    local raw
    # shellcheck disable=SC2016 # for the node's shell
    raw=$(plab_exec "$ASK" sh -c '
        mon=$(crm_mon -1 --output-as=xml 2>/dev/null) || exit 3
        cib=$(cibadmin -Q --scope status 2>/dev/null) || exit 4
        printf "%s\n<!--chaos-->\n%s\n<!--chaos-->\n" "$mon" "$cib"
        dc=$(printf "%s\n" "$mon" | sed -n "s/.*<current_dc [^>]*present=\"true\"[^>]* name=\"\([^\"]*\)\".*/\1/p")
        [ -z "$dc" ] || crmadmin -q -S "$dc" 2>&1') && SNAP=$(python3 -c '
import sys, re, xml.etree.ElementTree as ET, collections
parts = sys.stdin.read().split("<!--chaos-->")
mon = ET.fromstring(parts[0])
dc = mon.find("summary/current_dc")
print("dc", dc.get("name") if dc is not None and dc.get("present") == "true" else "none")
st = re.search(r"S_[A-Z_]+", parts[2] if len(parts) > 2 else "")
print("dcstate", st.group(0) if st else "none")
for n in mon.iter("node"):
    if n.get("online") is not None:
        print("node", n.get("name"), n.get("online"), n.get("standby"))
for r in mon.iter("resource"):
    nodes = ",".join(x.get("name") for x in r.findall("node")) or "-"
    print("rsc", r.get("id"), r.get("role"), nodes)
for f in mon.iter("failure"):
    print("fail", f.get("op_key"), f.get("node"), (f.get("status") or "").replace(" ", "_"),
          (f.get("exitreason") or "").replace("\n", " "))
cib = ET.fromstring(parts[1])
fc = collections.Counter()
for ns in cib.iter("node_state"):
    for nv in ns.iter("nvpair"):
        name = nv.get("name", "")
        if name.startswith("fail-count-"):
            v = nv.get("value")
            fc[(name[11:].split("#")[0], ns.get("uname"))] += 1000000 if v == "INFINITY" else int(v)
for (r, n), v in sorted(fc.items()):
    print("fc", r, n, v)
' <<<"$raw") || SNAP=
    snap_index
    [ -n "$SNAP" ]
}

declare -A WHERE=() FCS=()
DC=none DCSTATE=none ONLINE='' ACTIVE=''
snap_index() {
    local kind a b c
    WHERE=() FCS=() DC=none DCSTATE=none ONLINE='' ACTIVE=''
    while read -r kind a b c _; do
        case $kind in
            dc) DC=$a ;;
            dcstate) DCSTATE=$a ;;
            node)
                if [ "$b" = true ]; then
                    ONLINE+="$a "
                    if [ "$c" = false ]; then ACTIVE+="$a "; fi
                fi ;;
            rsc) if [ "$b" = Started ]; then WHERE[$a]+="${c//,/ } "; fi ;;
            fc) FCS[$a@$b]=$c ;;
        esac
    done <<<"$SNAP"
}

# where RSC: the nodes RSC runs on (from SNAP), space-separated
where() { local w=${WHERE[$1]:-}; echo "${w% }"; }
# fc RSC NODE: RSC's fail count on NODE (from SNAP)
fc() { echo "${FCS[$1@$2]:-0}"; }
online_nodes() { printf '%s\n' $ONLINE; }
active_nodes() { printf '%s\n' $ACTIVE; }
# nwords TEXT: how many words in NW
nwords() { local -a w; read -ra w <<<"$1"; NW=${#w[@]}; }

# settled_now: the cluster is idle with everything started, every node
# online; NOTSETTLED says what is not
NOTSETTLED=
settled_now() {
    local r w want
    snapshot || { NOTSETTLED="no answer from $ASK"; return 1; }
    [ "$DC" != none ] || { NOTSETTLED="no DC"; return 1; }
    nwords "$ONLINE"
    [ "$NW" = "$CHAOS_NODES" ] || { NOTSETTLED="$NW nodes online"; return 1; }
    [ "$DCSTATE" = S_IDLE ] || { NOTSETTLED="DC $DC: $DCSTATE"; return 1; }
    for r in fence-lab vip web tcpd execd forker; do
        w=${WHERE[$r]:-} w=${w% }
        [ -n "$w" ] && [[ $w != *' '* ]] || { NOTSETTLED="$r on '${w}'"; return 1; }
    done
    nwords "$ACTIVE"
    want=$NW w=${WHERE[anon]:-}
    nwords "$w"
    [ "$NW" = "$want" ] || { NOTSETTLED="anon on '${w% }' (want $want)"; return 1; }
    NOTSETTLED=
}

# settle: wait (CHAOS_SETTLE s) until settled_now, looking every second;
# another node is asked when ASK does not answer or sees no DC
settle() {
    local end=$((SECONDS + CHAOS_SETTLE))
    until settled_now; do
        ((SECONDS < end)) || return 1
        case $NOTSETTLED in "no answer"* | "no DC") pick_ask ;; esac
        sleep 1
    done
}

# pick_ask: ASK is a node that is up and sees a DC
pick_ask() {
    local n
    plab_exec "$ASK" crm_mon -1 --output-as=xml 2>/dev/null | grep -q '<current_dc [^>]*present="true"' && return
    for n in $(plab_nodes); do
        plab_exec "$n" crm_mon -1 --output-as=xml 2>/dev/null | grep -q '<current_dc [^>]*present="true"' &&
            { ASK=$n; return; }
    done
}

# ---- the invariants ---------------------------------------------------------

FENCES=''              # the reboots caused, "reboot NODE pacemaker-controld" lines
declare -A FC0=()      # fail counts before the fault, RSC@NODE
declare -A EXP_MIN=() EXP_MAX=()   # failures the fault causes, per RSC
declare -A RSS_MIN=() RSS_MAX=()   # keepers' RSS (kB), per RSC
JSINCE=$(date +%s)
VIOL=''

viol() { VIOL+="${VIOL:+; }$*"; }

# look NODE RSC...: in one visit of NODE (its processes listed once,
# matched here: a pgrep per pattern in the node took seconds a fault on a
# loaded machine), lines
#   orphan RSC PID:ARGV...   what of RSC (not running on NODE) is there:
#                            processes matching PAT[RSC], its keeper
#                            ("warden-keeper __warden_keeper RSC"), its
#                            output forwarder ("warden-output RSC"), what
#                            is in its scope's cgroup (as procs in
#                            plab-checks.sh; the ids in PRIMS need no
#                            systemd-escape)
#   warden-keeper|warden-output RSC PID RSS   warden's per-resource
#                            processes, RSS in kB
#   vip                      the virtual address is on eth0
# A process without a command line (a zombie, a kernel thread) is none.
look() {
    local node=$1 r pats='' raw
    shift
    for r in "$@"; do pats+="$r"$'\t'"${PAT[$r]}"$'\n'; done
    raw=$(plab_exec "$node" sh -c '
        ps -e -ww -o pid=,rss=,args= | sed "s/^/ps /"
        for r; do
            sed "s/^/cg $r /" "/sys/fs/cgroup/warden.slice/warden-$r.scope/cgroup.procs" 2>/dev/null
        done
        ip -4 -o addr show dev eth0 | grep -q " $0/" && echo vip
        true' "$VIP" "$@" 2>/dev/null) || return 1
    awk -v pats="$pats" '
        BEGIN {
            n = split(pats, l, "\n")
            for (i = 1; i <= n; i++)
                if (split(l[i], f, "\t") == 2) { nr++; rs[nr] = f[1]; pat[nr] = f[2] }
        }
        $1 == "ps" {
            a = $0; sub(/^ps +[0-9]+ +[0-9]+ /, "", a)
            if (a ~ /^\[.*\]( <defunct>)?$/) next
            args[$2] = a
            if (a ~ /^warden-(keeper __warden_keeper|output) /) {
                split(a, w, " ")
                print w[1], (w[1] == "warden-keeper" ? w[3] : w[2]), $2, $3
            }
            for (i = 1; i <= nr; i++)
                if (a ~ pat[i] || a ~ ("__warden_keeper " rs[i] "$") || a == "warden-output " rs[i])
                    hit[i, $2] = 1
            next
        }
        $1 == "cg" { for (i = 1; i <= nr; i++) if (rs[i] == $2) hit[i, $3] = 1; next }
        $1 == "vip" { print "vip" }
        END {
            for (i = 1; i <= nr; i++) {
                o = ""
                for (k in hit) {
                    split(k, ip, SUBSEP)
                    if (ip[1] == i && (ip[2] in args)) o = o ip[2] ":" args[ip[2]] " "
                }
                if (o != "") print "orphan", rs[i], o
            }
        }' <<<"$raw"
}

invariants() {
    local r n w k got want opkey fnode status reason p rss kind
    local -A cnt=()
    VIOL='' DELTAS=''
    # the fence history: exactly the node crashes'
    collect_fences
    want=$(grep . <<<"$FENCES" | sort | paste -sd';')
    got=$(fences_seen)
    if [ "$got" != "$want" ]; then
        viol "fence history '${got:-nothing}', want '${want:-nothing}'"
        # said once: the faults after this one are judged against it
        FENCES=$(tr ';' '\n' <<<"$got")
    fi
    # the failed actions: no stop, no timeout, only on resources the fault touched
    while read -r _ opkey fnode status reason; do
        [ -n "$opkey" ] || continue
        [[ $opkey == *_stop_* ]] && viol "FAILED STOP $opkey on $fnode ($status: $reason)"
        [[ $status == Timed_Out ]] && viol "Timed Out: $opkey on $fnode ($reason)"
        r=${opkey%%_*}
        [ "${EXP_MAX[$r]:-0}" -gt 0 ] || viol "unexpected failed action $opkey on $fnode ($status: $reason)"
    done < <(grep '^fail ' <<<"$SNAP")
    # fail counts: each failure counted once. attrd writes them to the CIB
    # after the fact, and warden-push lowers a count by one until its push
    # lands (lib/cluster.c): a count out of range is looked at again for
    # up to 20 s before it is one
    local bad end=$((SECONDS + 20))
    while :; do
        bad='' DELTAS=''
        for r in $PRIMS vip; do
            got=0
            for n in $(plab_nodes); do got=$((got + ${FCS[$r@$n]:-0} - ${FC0[$r@$n]:-0})); done
            ((got == 0)) || DELTAS+=" $r+$got"
            if ((got < ${EXP_MIN[$r]:-0} || got > ${EXP_MAX[$r]:-0})); then
                bad+="${bad:+; }fail count delta of $r $got, want ${EXP_MIN[$r]:-0}..${EXP_MAX[$r]:-0}"
            fi
        done
        [ -n "$bad" ] && ((SECONDS < end)) || break
        sleep 2
        snapshot
    done
    [ -z "$bad" ] || viol "$bad"
    # never two copies of a primitive
    for r in vip web tcpd execd forker; do
        w=$(where "$r")
        [[ $w != *' '* ]] || viol "TWO COPIES of $r: $w"
    done
    grep -q '^rsc [^ ]* [^ ]* [^ ]*,' <<<"$SNAP" && viol "a resource active on two nodes: $(grep '^rsc [^ ]* [^ ]* [^ ]*,' <<<"$SNAP" | paste -sd' ')"
    # nothing of a resource where it does not run; one keeper where it
    # does (a killed keeper is started again by the next monitor, every
    # 10 s: a wrong count is looked at again for up to 30 s)
    local nv end=$((SECONDS + 30))
    nviol() { nv+="${nv:+; }$*"; }
    while :; do
        nv=''
        for n in $(plab_nodes); do
            local absent=() out
            for r in $PRIMS; do
                w=" $(where "$r") "
                [[ $w == *" $n "* ]] || absent+=("$r")
            done
            out=$(look "$n" "${absent[@]}") || { nviol "cannot look into $n"; continue; }
            while read -r k r p; do nviol "ORPHAN of $r on $n: $p"; done < <(grep '^orphan ' <<<"$out")
            w=$(where vip)
            [ "$w" = "$n" ] || ! grep -qx vip <<<"$out" || nviol "the address $VIP on $n (vip runs on $w)"
            cnt=()
            while read -r kind k p rss; do
                cnt[$kind/$k]=$((${cnt[$kind/$k]:-0} + 1))
                [ "$kind" = warden-keeper ] || continue
                [ -z "${RSS_MIN[$k]:-}" ] || ((rss < RSS_MIN[$k])) && RSS_MIN[$k]=$rss
                [ -z "${RSS_MAX[$k]:-}" ] || ((rss > RSS_MAX[$k])) && RSS_MAX[$k]=$rss
                ((rss <= RSS_MIN[$k] + CHAOS_KEEPER_RSS_GROWTH)) ||
                    nviol "keeper of $k on $n (pid $p) grew to $rss kB (smallest seen ${RSS_MIN[$k]})"
            done < <(grep '^warden-' <<<"$out")
            for r in $PRIMS; do
                w=" $(where "$r") " want=0
                [[ $w == *" $n "* ]] && want=1
                [ "${cnt[warden-keeper/$r]:-0}" = "$want" ] || nviol "${cnt[warden-keeper/$r]:-0} keepers of $r on $n, want $want"
                ((${cnt[warden-output/$r]:-0} <= want)) || nviol "${cnt[warden-output/$r]} output forwarders of $r on $n, want at most $want"
            done
        done
        [ -n "$nv" ] && ((SECONDS < end)) || break
        sleep 3
        snapshot
    done
    [ -z "$nv" ] || viol "$nv"
    # no crash of a warden binary (nor of anything else) in the journals
    local now
    now=$(date +%s)
    for n in $(plab_nodes); do
        got=$(plab_exec "$n" journalctl -q --no-pager -o short-precise --since "@$((JSINCE - 2))" 2>/dev/null |
            grep -Ei 'segfault|dumped core|AddressSanitizer|LeakSanitizer|runtime error:|stack smashing|double free|corrupted|malloc\(\)' |
            head -n 5)
        [ -z "$got" ] || viol "a crash in $n's journal: $got"
    done
    JSINCE=$now
}

# cleanup_if_needed: crm_resource --cleanup when there are fail counts or
# failed actions (each fault's deltas start from zero), then settle; FC0
cleanup_if_needed() {
    local r n
    if grep -q '^fail \|^fc ' <<<"$SNAP"; then
        # Pacemaker (seen on 2.1.5, any agent: ocf:heartbeat:Dummy too)
        # records the probe after the cleanup of a failed running resource
        # as its last failure (rc 0), and a parameter change after that is
        # a restart "due to resource definition change", not a reload
        for r in $(awk '$1 == "fc" { print $2 }' <<<"$SNAP"); do CLEANED[$r]=1; done
        plab_exec "$ASK" crm_resource --cleanup >/dev/null 2>&1
        sleep 2
        settle || echo "# cleanup: the cluster did not settle again: $NOTSETTLED"
    fi
    FC0=()
    for r in $PRIMS vip; do for n in $(plab_nodes); do FC0[$r@$n]=${FCS[$r@$n]:-0}; done; done
}

# ---- the faults -------------------------------------------------------------

# pick WORD...: one of them in PICK (never in a $(...): a subshell reseeds
# RANDOM, and the run would not replay)
pick() { local a=("$@"); PICK=${a[RANDOM % ${#a[@]}]}; }
# node_of RSC: a node RSC runs on (random among several: the clone) in NODE
node_of() { local w; w=$(where "$1"); [ -n "$w" ] || return 1; pick $w; NODE=$PICK; }
svc_pid() { plab_exec "$1" sed -n "s/^$3 \\([0-9]*\\) .*/\\1/p" "/run/warden/$2/service" 2>/dev/null; }
expect() { EXP_MIN[$1]=$((${EXP_MIN[$1]:-0} + $2)); EXP_MAX[$1]=$((${EXP_MAX[$1]:-0} + $3)); }

# contlater NODE PID SECS: SIGCONT PID on NODE after SECS (in the background)
contlater() { ( sleep "$3"; plab_exec "$1" kill -CONT "$2" 2>/dev/null ) & CONT_PIDS+=($!); }

# each fault: DESC says what was done; it calls expect for the failures it
# causes; RELOAD_CHECK "RSC NODE MAIN" when the main process must stay;
# RELOADED the resource whose parameters it changed
DESC='' RELOAD_CHECK='' RELOADED=''
fault_kill_main() {
    local r n p
    pick $PRIMS; r=$PICK; node_of "$r" || return 1; n=$NODE
    p=$(svc_pid "$n" "$r" main); [ -n "$p" ] || return 1
    plab_exec "$n" kill -KILL "$p"; DESC="kill -9 main $p of $r@$n"; expect "$r" 1 1
}
fault_kill_child() {
    local n p
    node_of forker || return 1; n=$NODE
    p=$(plab_exec "$n" pgrep -P "$(svc_pid "$n" forker main)" -x sleep | head -n 1)
    [ -n "$p" ] || return 1
    plab_exec "$n" kill -KILL "$p"; DESC="kill -9 child $p of forker@$n"; expect forker 0 0
}
fault_kill_keeper() {
    local r n p
    pick $PRIMS; r=$PICK; node_of "$r" || return 1; n=$NODE
    p=$(keeper_of "$n" "$r"); [ -n "$p" ] || return 1
    plab_exec "$n" kill -KILL "$p"; DESC="kill -9 keeper $p of $r@$n"; expect "$r" 0 0
}
fault_kill_holder() {
    local r n p
    pick $PRIMS; r=$PICK; node_of "$r" || return 1; n=$NODE
    p=$(svc_pid "$n" "$r" holder); [ -n "$p" ] || return 1
    plab_exec "$n" kill -KILL "$p"; DESC="kill -9 holder $p of $r@$n"; expect "$r" 0 1
}
fault_stop_service() {
    local r n p s=$((1 + RANDOM % 8))
    pick $PRIMS; r=$PICK; node_of "$r" || return 1; n=$NODE
    p=$(svc_pid "$n" "$r" main); [ -n "$p" ] || return 1
    plab_exec "$n" kill -STOP "$p"; contlater "$n" "$p" "$s"
    DESC="SIGSTOP main $p of $r@$n for $s s"
    case $r in web|tcpd) expect "$r" 0 1 ;; *) expect "$r" 0 0 ;; esac
}
fault_stop_keeper() {
    local r n p s=$((1 + RANDOM % 12))
    pick $PRIMS; r=$PICK; node_of "$r" || return 1; n=$NODE
    p=$(keeper_of "$n" "$r"); [ -n "$p" ] || return 1
    plab_exec "$n" kill -STOP "$p"; contlater "$n" "$p" "$s"
    # a monitor whose keeper does not answer in 2 s probes the service
    # itself: a frozen keeper counts nothing (121 were frozen in the runs
    # of 2026-12-02; the 2 counts seen came from a fault of the same
    # resource just before)
    DESC="SIGSTOP keeper $p of $r@$n for $s s"; expect "$r" 0 0
}
fault_node_crash() {
    local n o
    pick $(plab_nodes); n=$PICK o=$(other_than "$PICK")
    ASK=$o
    plab_switch off "$n" >/dev/null || return 1
    FENCES+=$'\n'"reboot $n pacemaker-controld"
    DESC="power cut of $n"
    plab_wait_for -t 120 new_fence "$n" || viol "$n not fenced within 120 s"
    collect_fences
    plab_wait_for -t 180 plab_all_online "$n" "$CHAOS_NODES" || viol "$n did not boot again and rejoin in 180 s"
}
fault_node_reboot() {
    local n pid1
    pick $(plab_nodes); n=$PICK; ASK=$(other_than "$n")
    pid1=$(plab_pid1 "$n")
    plab_exec "$n" systemctl reboot || return 1
    DESC="systemctl reboot of $n"
    plab_wait_for -t 180 bash -c "p=\$(plab_pid1 $n) && [ \"\$p\" != $pid1 ]" || viol "$n did not reboot in 180 s"
    plab_wait_for -t 180 plab_all_online "$n" "$CHAOS_NODES" || viol "$n did not rejoin in 180 s"
}
fault_standby() {
    local n
    pick $(plab_nodes); n=$PICK
    plab_exec "$ASK" crm_attribute -N "$n" -n standby -v on || return 1
    DESC="standby then online of $n"
    local end=$((SECONDS + CHAOS_SETTLE))
    sleep 3
    # until nothing runs on it (the clone's instance stopped, the rest moved)
    until snapshot && ! awk -v n="$n" '$1 == "rsc" && $3 == "Started" && index(","$4",", ","n",")' <<<"$SNAP" | grep -q .; do
        ((SECONDS < end)) || { viol "still on $n in standby: $(awk -v n="$n" '$1 == "rsc" && index($4, n) { print $2 }' <<<"$SNAP" | paste -sd' ')"; break; }
        sleep 1
    done
    plab_exec "$ASK" crm_attribute -N "$n" -n standby -v off
}
fault_move() {
    local r n o
    pick grp tcpd execd forker; r=$PICK
    node_of "${r/grp/vip}" || return 1; n=$NODE
    o=$(other_than "$n")
    plab_exec "$ASK" crm_resource -r "$r" --move -N "$o" >/dev/null 2>&1 || return 1
    DESC="move $r $n -> $o, then clear"
    settle || viol "not settled after the move: $NOTSETTLED"
    [ "$(where "${r/grp/web}")" = "$o" ] || viol "$r not moved to $o ($(where "${r/grp/web}"))"
    plab_exec "$ASK" crm_resource -r "$r" --clear >/dev/null 2>&1
}
fault_restart() {
    local r
    pick grp tcpd execd forker anon-clone; r=$PICK
    DESC="crm_resource --restart $r"
    plab_exec "$ASK" timeout 300 crm_resource -r "$r" --restart >/dev/null 2>&1 || viol "crm_resource --restart $r failed"
}
declare -A CI=()   # the check_interval set, per resource (2s at first)
declare -A CLEANED=()   # resources whose failures were cleaned up (see cleanup_if_needed)
fault_reload() {
    local r n v m
    pick $PRIMS; r=$PICK; node_of "$r" || return 1; n=$NODE
    # a value it does not have (the same value would not reload)
    local vs=()
    for v in 2s 3s 4s; do [ "$v" = "${CI[$r]:-2s}" ] || vs+=("$v"); done
    pick "${vs[@]}"; v=$PICK CI[$r]=$PICK
    m=$(svc_pid "$n" "$r" main)
    plab_exec "$ASK" crm_resource -r "$r" --set-parameter check_interval --parameter-value "$v" >/dev/null 2>&1 || return 1
    DESC="reload $r@$n check_interval=$v"
    RELOAD_CHECK="$r $n $m" RELOADED=$r
}
fault_fulldump() {
    local n p
    node_of web || return 1; n=$NODE
    p=$(svc_pid "$n" web main); [ -n "$p" ] || return 1
    plab_exec "$n" sh -c 'mkdir -p /var/lib/warden/dumps && mount -t tmpfs -o size=64k,mode=0700 chaos-full /var/lib/warden/dumps &&
        dd if=/dev/zero of=/var/lib/warden/dumps/filler bs=4k 2>/dev/null; chmod 0600 /var/lib/warden/dumps/filler; df -k /var/lib/warden/dumps | tail -n 1' |
        grep -q ' 100% ' || { plab_exec "$n" umount /var/lib/warden/dumps 2>/dev/null; return 1; }
    plab_exec "$n" kill -STOP "$p"
    DESC="a full dump directory on $n, web ($p) frozen"
    expect web 1 1
    plab_wait_for -t 60 bash -c "m=\$(plab_exec $n sed -n 's/^main \\([0-9]*\\) .*/\\1/p' /run/warden/web/service); [ -n \"\$m\" ] && [ \"\$m\" != $p ]" ||
        viol "web not restarted within 60 s of the freeze over a full dump directory"
    plab_exec "$n" kill -CONT "$p" 2>/dev/null
    plab_exec "$n" umount /var/lib/warden/dumps
}

# the kinds, weighted; LIGHT: the ones that may overlap another
KINDS=(kill_main kill_main kill_main kill_main kill_main kill_main kill_child kill_child
       kill_keeper kill_keeper kill_keeper kill_holder kill_holder kill_holder
       stop_service stop_service stop_service stop_keeper stop_keeper stop_keeper
       node_crash node_crash node_reboot standby standby move move move restart restart
       reload reload reload fulldump fulldump)
LIGHT=(kill_main kill_child kill_keeper kill_holder stop_service stop_keeper reload)

declare -A REC=()    # recovery times per kind, "T T ..."

run_release() {
    local rel=$1 i k k2 d t tstart out m2 r n m rec nfail=0
    ASK=${rel}1 FENCES='' EVENTS=''
    CHAOS_NODE_NAMES=
    echo "# ---- $rel ----"
    t=$SECONDS
    if ! plab_up "$rel" "$CHAOS_NODES"; then
        not_ok "$rel: $CHAOS_NODES nodes boot and form a cluster"
        sed 's/^/# switch: /' "$PLAB_DIR/switch.log" 2>/dev/null | tail -n 20
        plab_down_if_started
        return
    fi
    CHAOS_NODE_NAMES=$(plab_nodes | xargs)
    export CHAOS_NODE_NAMES
    ok "$rel: $CHAOS_NODES nodes boot and form a cluster ($((SECONDS - t)) s); $(plab_exec "$ASK" pacemakerd --version | head -n 1)"
    t=$SECONDS
    configure || { not_ok "$rel: the resources are configured"; return; }
    if settle; then
        ok "$rel: the resources run ($((SECONDS - t)) s): $(grep '^rsc' <<<"$SNAP" | awk '{print $2 "@" $4}' | paste -sd' ')"
    else
        not_ok "$rel: the resources run: $NOTSETTLED"
        plab_exec "$ASK" crm_mon -1 -r | indent
        return
    fi
    EXP_MIN=() EXP_MAX=()
    invariants
    check "$rel: invariants at the start${VIOL:+: $VIOL}" test -z "$VIOL"
    cleanup_if_needed
    JSINCE=$(date +%s)
    for ((i = 1; i <= CHAOS_FAULTS; i++)); do
        if [ -n "$until_s" ] && (($(date +%s) >= until_s)); then
            echo "# CHAOS_UNTIL ($CHAOS_UNTIL) reached: $((i - 1)) of $CHAOS_FAULTS faults thrown"
            break
        fi
        EXP_MIN=() EXP_MAX=() DESC='' RELOAD_CHECK='' RELOADED='' VIOL=''
        snapshot
        pick "${KINDS[@]}"; k=$PICK
        t=$SECONDS tstart=$(date -d @$(($(date +%s) - 5)) '+%Y-%m-%d %H:%M:%S')
        local pre=''
        "fault_$k" || { echo "# fault $i: $k: nothing to do ($DESC)"; continue; }
        pre=$VIOL d=$DESC k2=''
        if ((RANDOM % 4 == 0)); then
            pick "${LIGHT[@]}"; k2=$PICK
            sleep "$((RANDOM % 3))"
            snapshot
            # a second fault on a resource the first touched: its count may vary
            DESC=''
            if "fault_$k2"; then
                d+=" + $DESC"
                case $k in node_*|standby|move|restart) for r in $PRIMS; do EXP_MIN[$r]=0; done ;; esac
                # Pacemaker clears a resource's failures when its
                # parameters change: one the other fault caused may be
                # counted or cleared (seen: a kill -9 of execd's main
                # process, then a reload of execd, counted 0)
                [ -z "$RELOADED" ] || EXP_MIN[$RELOADED]=0
            else
                k2=''
            fi
            pre+=$VIOL
        fi
        ((${#CONT_PIDS[@]} == 0)) || wait "${CONT_PIDS[@]}"
        CONT_PIDS=()
        rec=$((SECONDS - t))
        if settle; then
            rec=$((SECONDS - t))
            REC[$k]+="$rec "
        else
            pre+="${pre:+; }not settled in $CHAOS_SETTLE s: $NOTSETTLED"
        fi
        invariants
        VIOL="$pre${pre:+${VIOL:+; }}$VIOL"
        if [ -n "$RELOAD_CHECK" ] && [ -z "$k2" ]; then
            read -r r n m <<<"$RELOAD_CHECK"
            m2=$(svc_pid "$n" "$r" main)
            if [ "$m2" != "$m" ] && [ -n "${CLEANED[$r]:-}" ]; then
                echo "# the reload restarted $r@$n (main $m -> ${m2:-none}): Pacemaker's restart after a cleaned-up failure"
                unset "CLEANED[$r]"
            elif [ "$m2" != "$m" ]; then
                viol "the reload restarted $r@$n (main $m -> ${m2:-none})"
            fi
        fi
        if [ -z "$VIOL" ]; then
            ok "$rel: fault $i/$CHAOS_FAULTS $k${k2:+ + $k2}: $d; settled in $rec s, fail counts:${DELTAS:- none}; invariants hold (checked in $((SECONDS - t - rec)) s)"
        else
            not_ok "$rel: fault $i/$CHAOS_FAULTS $k${k2:+ + $k2}: $d: $VIOL"
            nfail=$((nfail + 1))
            plab_exec "$ASK" crm_mon -1 -r 2>&1 | head -n 40 | indent
            for n in $(plab_nodes); do
                journal "$n" "$tstart" |
                    grep -vE 'fence-lab|_monitor_0|pacemaker-based' | tail -n 25 | sed "s/^/# $n: /"
            done
            ((nfail < 5)) || { echo "# five faults failed: stopping here"; break; }
        fi
        cleanup_if_needed
    done
    # at the end: the whole run's invariants again, after a quiet minute
    sleep 20
    EXP_MIN=() EXP_MAX=()
    if settle; then invariants; else VIOL="not settled: $NOTSETTLED"; fi
    check "$rel: invariants at the end${VIOL:+: $VIOL}" test -z "$VIOL"
    out=''
    for r in $PRIMS; do out+="$r ${RSS_MIN[$r]:-?}..${RSS_MAX[$r]:-?} "; done
    echo "# $rel: keepers' RSS (kB, smallest..largest): $out"
    echo "# $rel: recovery (fault to settled, s), kind count median max:"
    for k in $(printf '%s\n' "${!REC[@]}" | sort); do
        tr ' ' '\n' <<<"${REC[$k]}" | grep . | sort -n |
            awk -v k="$k" '{ a[NR] = $1 } END { printf "#   %-13s %3d %5s %5s\n", k, NR, a[int((NR + 1) / 2)], a[NR] }'
    done
    if [ -n "${CHAOS_JOURNALS:-}" ]; then
        mkdir -p "$CHAOS_JOURNALS"
        for n in $(plab_nodes); do
            plab_exec "$n" journalctl -o short-precise --no-pager >"$CHAOS_JOURNALS/$n.journal" 2>&1
        done
        echo "# $rel: the nodes' journals are in $CHAOS_JOURNALS"
    fi
    local pid
    pid=$(awk '{print $1}' "$PLAB_DIR/switch.pid")
    plab_down_if_started
    CHAOS_NODE_NAMES=
    out=$(! kill -0 "$pid" 2>/dev/null || echo "the switch $pid runs"; plab_leftovers)
    check "$rel: torn down, nothing left${out:+: $out}" test -z "$out"
    REC=()
}

export -f plab_nodes plab_exec plab_switch plab_pid1 stat_start plab_log plab_all_online plab_online_count \
    rsc_node main_of keeper_of new_fence fence_events indent
export ASK EVENTS
t_all=$SECONDS
for rel in $releases; do
    run_release "$rel"
done
echo "# CHAOS_SEED=$CHAOS_SEED; the whole test: $((SECONDS - t_all)) s"
finish
