# SPDX-License-Identifier: LGPL-2.1-or-later
# test/lab/plab-checks.sh - what the production-like lab's cluster says,
# for the invariants the lab's tests assert (test-plab-scenarios.sh,
# test-plab-chaos.sh, test/lab/plab-vserver.sh): where a resource runs, its fail counts, the failed
# actions, the fence history every node's fencer knows, what of a resource
# runs on a node (its processes, its keeper, its cgroup), the journal.
# Sourced after test/lab/plab.sh; ASK is the node asked (one that is up).
# shellcheck shell=bash disable=SC2016 # scripts for the nodes' shells

indent() { sed 's/^/#   /'; }

# ---- what the cluster says ------------------------------------------------

# ASK: the node the test asks (one that is up).
ASK=

# rsc_node RSC: the node RSC runs on, as ASK sees it (empty if none).
rsc_node() {
    plab_exec "$ASK" crm_resource --locate -r "$1" 2>/dev/null |
        sed -n 's/.*is running on: *\([^ ]*\).*/\1/p' | paste -sd' '
}
rsc_on() { [ "$(rsc_node "$1")" = "$2" ]; }
rsc_stopped() { [ -z "$(rsc_node "$1")" ]; }

# failcount RSC NODE: RSC's fail count on NODE (all operations summed).
failcount() {
    plab_exec "$ASK" crm_failcount --query -r "$1" -N "$2" 2>/dev/null | sed -n 's/.*value=\([^ ]*\).*/\1/p'
}

# failures: the failed actions, "OPKEY@NODE" sorted, space-separated.
failures() {
    local line k n
    plab_exec "$ASK" crm_mon -1 --output-as=xml 2>/dev/null | grep '<failure ' |
        while IFS= read -r line; do
            k=${line#*op_key=\"} n=${line#* node=\"}
            echo "${k%%\"*}@${n%%\"*}"
        done | sort | paste -sd' '
}

# fence_events NODE...: the completed fencing events the nodes' fencers
# know, "ACTION TARGET CLIENT COMPLETED", a failed one's ACTION with
# "(failed)", sorted, unique. --verbose: without it, stonith_admin leaves
# out an event for which another success of the same action on the same
# target is known (seen: it showed the older of two reboots, not the
# newer); per target: "--history '*'" was seen to leave some out.
# A node cannot fence itself: when its own controller asks for its fencing
# (the DC after a failed stop of its own), its fencer relays the request
# to a peer, which records the client as its own fencer
# (pacemaker-fenced.PID: Pacemaker's STONITH_OP_RELAY). In this lab only a
# controller asks for its own node's fencing (stonith_admin is always run
# on another node), so a relayed event is said as the controller's:
# pacemaker-controld.PID, the PID the relaying fencer's.
fence_events() {
    local n line a t c d st
    for n in "$@"; do
        # shellcheck disable=SC2046 # the node names, one word each
        plab_exec "$n" sh -c 'for t; do stonith_admin --history "$t" --verbose --output-as=xml; done' \
            sh $(plab_nodes) 2>/dev/null | grep '<fence_event ' | grep -E 'status="(success|failed)"'
    done | while IFS= read -r line; do
        a=${line#*action=\"} t=${line#*target=\"} c=${line#*client=\"} d=${line#*completed=\"}
        st=${line#*status=\"} st=${st%%\"*}
        a=${a%%\"*}
        [ "$st" = success ] || a+="($st)"
        c=${c%%\"*}
        [[ $c != pacemaker-fenced.* ]] || c=pacemaker-controld.${c#pacemaker-fenced.}
        # the client with its PID, and the completion time: one event
        echo "$a ${t%%\"*} $c ${d%%\"*}"
    done | sort -u
}

# collect_fences: add what the live nodes' fencers know to EVENTS.
EVENTS=
collect_fences() {
    local n live=()
    for n in $(plab_nodes); do
        plab_pid1 "$n" >/dev/null 2>&1 && live+=("$n")
    done
    EVENTS=$(printf '%s\n%s\n' "$EVENTS" "$(fence_events "${live[@]}")" | grep . | sort -u)
}

# new_fence TARGET: the live nodes' fencers know a successful reboot of
# TARGET asked by a controller that EVENTS does not hold yet.
new_fence() {
    local n
    # not "| grep -q": under pipefail, the SIGPIPE of the grep before it
    # when grep -q has found its line would make the answer "no"
    [ -n "$(for n in $(plab_nodes); do
                plab_pid1 "$n" >/dev/null 2>&1 && fence_events "$n"
            done | grep "^reboot $1 pacemaker-controld" | grep -vxF -e "$(grep . <<<"$EVENTS" || echo -)")" ]
}

# switch_says NODE: what the power switch did to NODE (its log).
switch_says() {
    grep -E "'(off|on) $1'|$1.*(exit|boot)" "$PLAB_DIR/switch.log" 2>/dev/null | tail -n 6 | indent
}

# fences_seen: EVENTS as "ACTION TARGET CLIENT" (no PID, no time), sorted,
# ';'-separated.
fences_seen() {
    grep . <<<"$EVENTS" | awk '{ sub(/\.[0-9]+$/, "", $3); print $1, $2, $3 }' | sort | paste -sd';'
}

# procs NODE RSC PATTERN: what of RSC runs on NODE: processes whose command
# line matches PATTERN, its keeper, anything in its cgroup (warden's own,
# or on a systemd node its scope unit's) ("PID:ARGV"...).
procs() {
    local node=$1 rsc=$2 pat=$3
    # shellcheck disable=SC2016 # for the node's shell
    plab_exec "$node" sh -c '
        { pgrep -f -- "$1"; pgrep -f -- "__warden_keeper $2\$"
          cat "/sys/fs/cgroup/warden/$2/cgroup.procs" \
              "/sys/fs/cgroup/warden.slice/warden-$(systemd-escape "$2").scope/cgroup.procs" 2>/dev/null
        } | sort -un |
        while read -r p; do
            [ "$p" = $$ ] && continue
            a=$(tr "\0" " " <"/proc/$p/cmdline" 2>/dev/null) || continue
            case $a in *"pgrep -f"*) continue ;; esac
            printf "%s:%s " "$p" "${a% }"
        done' sh "$pat" "$rsc" 2>/dev/null
}

# main_of NODE RSC: the main PID warden records for RSC on NODE.
main_of() { plab_exec "$1" sed -n 's/^main \([0-9]*\) .*/\1/p' "/run/warden/$2/service" 2>/dev/null; }
keeper_of() { plab_exec "$1" sed -n '1s/^\([0-9]*\) .*/\1/p' "/run/warden/$2/keeper" 2>/dev/null; }

other_than() { local n; for n in $(plab_nodes); do [ "$n" != "$1" ] && { echo "$n"; return; }; done; }

# journal NODE SINCE: NODE's journal since SINCE (a date), warden's and
# Pacemaker's lines.
journal() {
    plab_exec "$1" journalctl -q --no-pager -o short-precise --since "$2" 2>/dev/null |
        grep -E 'warden|pacemaker|stonith|fence' | grep -v 'fence-lab_monitor'
}

# settles RSC NODE N: RSC's fail count on NODE becomes N within 10 s and is
# still N 3 s later (a late second increment); SEEN: the values seen.
SEEN=
settles() {
    local fc t=$SECONDS
    SEEN=
    while :; do
        fc=$(failcount "$1" "$2")
        [[ " $SEEN " == *" $fc "* ]] || SEEN+=" $fc"
        { [ "$fc" = "$3" ] || ((SECONDS - t > 10)); } && break
        sleep 0.3
    done
    sleep 3
    fc=$(failcount "$1" "$2")
    [[ " $SEEN " == *" $fc "* ]] || SEEN+=" $fc"
    [ "$fc" = "$3" ]
}
