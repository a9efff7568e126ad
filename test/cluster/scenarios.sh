# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/scenarios.sh - the frame of the warden cluster tests that run
# several scenarios in one lab (test-keeper.sh, test-dump.sh): each scenario in
# a subshell, its own primitive created and removed, and a check that nothing
# of it is left. Sourced after lab.sh and warden-state.sh; uses the sourcing
# script's WORK, SCEN and SCEN_SINCE.
# shellcheck shell=bash

# Inside a scenario (a subshell), fail ends that scenario only.
fail() {
    echo "FAIL: ${SCEN:+[$SCEN] }$*" >&2
    exit 1
}

# ---------------------------------------------------------------- pacemaker
# failed_of RSC: RSC's failed actions (lines of lab_failed_actions).
failed_of() { lab_failed_actions --list | grep "^${1}_" || true; }

fmt_ms() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }

# ms_since START_MS: milliseconds since START_MS (lab_now).
ms_since() { echo $(( $(lab_now) - $1 )); }

note() { echo "    $*" >&2; }

# our_argv ARGV...: a command line this test runs (as a service or a
# dependency); finish kills any such process still alive at the end.
our_argv() { echo "$*" >> "$WORK/argvs"; }

# write_responder: $WORK/responder.py, a tiny TCP service that answers
# "ready" to every connection (python3 responder.py PORT), and
# $WORK/probe.sh PORT, healthy when it does. A SIGSTOPped responder still has
# its connections accepted by the kernel, but never answers: the probe hangs.
write_responder() {
    cat > "$WORK/responder.py" <<'EOF'
# A tiny service that must answer: "ready\n" to every connection.
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"ready\n")
    except OSError:
        pass
    c.close()
EOF
    cat > "$WORK/probe.sh" <<'EOF'
#!/bin/bash
# Healthy when the responder on 127.0.0.1:$1 says "ready".
exec 3<>"/dev/tcp/127.0.0.1/$1" && read -r -t 5 line <&3 && [ "$line" = ready ]
EOF
    chmod 0755 "$WORK/probe.sh"
}

# run_scenario N NAME: run scenario_NAME in a subshell (so that fail ends
# only it); on failure, show diagnostics and remove its resource best-effort.
run_scenario() {
    local n=$1 name=$2 rc=0 t0 rsc=${RESOURCE[$2]}
    t0=$(lab_now)
    echo "=== scenario $n: $name" >&2
    set +e
    (
        set -e
        SCEN=$n-$name
        SCEN_SINCE=$(lab_ticks_now)
        "scenario_$name"
    )
    rc=$?
    set -e
    if (( rc == 0 )); then
        echo "=== scenario $n: $name: PASS ($(lab_elapsed "$t0") s)" >&2
        RESULTS+=("PASS $n-$name ($(lab_elapsed "$t0") s)")
        return 0
    fi
    echo "=== scenario $n: $name: FAIL ($(lab_elapsed "$t0") s)" >&2
    RESULTS+=("FAIL $n-$name")
    FAILED=1
    lab_diag
    # Best effort: leave the cluster clean for the next scenario.
    if ! lab_rsc_is "$rsc" Absent; then
        env -u CIB_file crm resource stop "$rsc" >/dev/null 2>&1 || true
        lab_wait_for -q -t 30 lab_rsc_is "$rsc" Stopped || true
        lab_rsc_cleanup "$rsc" 2>/dev/null || true
        env -u CIB_file crm configure delete --force "$rsc" >/dev/null 2>&1 || true
    fi
}

skip() { lab_skip "$@"; }

step() { echo "--- ${SCEN:+[$SCEN] }$*" >&2; }

# timing LINE: print now, and keep it for the summary at the end.
timing() {
    echo "timing: [$SCEN] $*" >&2
    echo "[$SCEN] $*" >> "$WORK/timings"
}

# create RSC ARG...: crm configure primitive RSC ocf:warden:daemon ARG...,
# wait until Started, print how long that took.
create() {
    local rsc=$1 t0
    shift
    step "create $rsc: $*"
    t0=$(lab_now)
    lab_crm configure primitive "$rsc" "$AGENT" "$@" || fail "could not create $rsc"
    lab_wait_for -t "$START_TIMEOUT" lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started (state: $(lab_rsc_state "$rsc"))"
    lab_wait_for -q -t 5 -i 0.1 main_pid "$rsc" >/dev/null ||
        fail "$rsc Started but no live main process in $STATE_ROOT/$rsc/service"
    lab_wait_for -q -t 5 -i 0.1 keeper_pid "$rsc" >/dev/null ||
        fail "$rsc Started but no live keeper in $STATE_ROOT/$rsc/keeper"
    note "$rsc Started in $(lab_elapsed "$t0") s: main pid $(main_pid "$rsc"), keeper pid $(keeper_pid "$rsc"), cgroup ${st_cgroup:-none}"
    [[ $(lab_failcount "$rsc") == 0 ]] || fail "fail count of $rsc is not 0 after its start"
}

# failcount_settles RSC N: RSC's fail count is N, and still N a moment later
# (warden-push on 2.1.5 lowers, then lets two increments land; a late second
# increment would show up as N+1). Notes how long it took and the values seen
# on the way (e.g. a transient 2 corrected to 1).
failcount_settles() {
    local fc t0 seen='' deadline
    t0=$(lab_now)
    deadline=$(( t0 + 8000 ))
    while :; do
        fc=$(lab_failcount "$1") || fc='?'
        [[ " $seen " == *" $fc "* ]] || seen+="${seen:+ }$fc"
        [[ $fc == "$2" ]] && break
        if (( $(lab_now) >= deadline )); then
            fail "fail count of $1 is $fc, expected $2 (seen: $seen)$( [[ $fc == $(( $2 * 2 )) ]] &&
                echo ' (Pacemaker 2.1.5 counts a pushed failure twice; warden-push should correct that)')"
        fi
        sleep 0.1
    done
    note "fail count $2 after $(lab_elapsed "$t0") s more (values seen: $seen)"
    sleep 1.5
    fc=$(lab_failcount "$1")
    [[ $fc == "$2" ]] || fail "fail count of $1 was $2, then became $fc"
}

# remove RSC [ARGV...]: stop RSC, wait for Stopped, clean up its history,
# delete it; then check that nothing of it is left (see nothing_left).
remove() {
    local rsc=$1 t0 left
    shift
    step "stop and delete $rsc"
    t0=$(lab_now)
    lab_crm resource stop "$rsc" || fail "crm resource stop $rsc failed"
    lab_wait_for -t "$START_TIMEOUT" lab_rsc_is "$rsc" Stopped ||
        fail "$rsc not Stopped (state: $(lab_rsc_state "$rsc"))"
    note "$rsc Stopped in $(lab_elapsed "$t0") s"
    lab_rsc_cleanup "$rsc" || true
    lab_crm configure delete "$rsc" || fail "crm configure delete $rsc failed"
    lab_wait_for -t 15 lab_rsc_is "$rsc" Absent || fail "$rsc still configured after delete"
    # A process killed a moment ago may still be exiting: allow a short wait.
    if ! lab_wait_for -q -t 3 -i 0.1 nothing_left "$rsc" "$@" >/dev/null; then
        left=$(nothing_left "$rsc" "$@") || true
        fail "$rsc is stopped and deleted but processes of it are left: $left"
    fi
    note "nothing of $rsc left (checked: ${#seen_procs[@]} processes, ${#seen_cgroups[@]} cgroup(s)${1:+, argv '$*'})"
    [[ ! -e $STATE_ROOT/$rsc/service ]] || fail "$STATE_ROOT/$rsc/service still exists after the stop"
}

# nothing_left RSC [ARGV...]: no process remembered for RSC is alive, its
# cgroup holds nothing, no process with ARGV started since the scenario began
# runs, and no dump helper of RSC does.
nothing_left() {
    local rsc=$1 p cg left=()
    shift
    for p in "${seen_procs[@]}"; do
        lab_proc_alive "${p%%:*}" "${p#*:}" && left+=("${p%%:*}($(lab_proc_cmdline "${p%%:*}" || echo '?'))")
    done
    for cg in "${seen_cgroups[@]}"; do
        if [[ -r $cg/cgroup.procs ]]; then
            while read -r p; do
                [[ -n $p ]] && lab_proc_alive "$p" && left+=("$p(in $cg)")
            done < "$cg/cgroup.procs"
        fi
    done
    if (( $# )); then
        for p in $(lab_proc_find --since "$SCEN_SINCE" "$@"); do
            [[ " ${left[*]} " == *" $p("* ]] || left+=("$p($*)")
        done
    fi
    # the dump helper (argv: warden-dump __warden_dump RSC REASON DEADLINE)
    for p in $(lab_proc_find_prefix --since "$SCEN_SINCE" warden-dump __warden_dump "$rsc"); do
        left+=("$p(dump helper: $(lab_proc_cmdline "$p" || echo '?'))")
    done
    (( ${#left[@]} == 0 )) || { echo "${left[*]}"; return 1; }
}
