#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-keeper.sh - the warden keeper in a real cluster. One lab,
# six scenarios in a row, each with a primitive of its own (created, driven,
# stopped, deleted, and checked to have left no process behind):
#
#  1 crash    kill -9 of the service's main process: the keeper learns of it
#             at once (pidfd) and pushes the failure to the controller; the
#             service runs again within 2 s although the monitor interval is
#             60 s; fail count exactly 1 (warden-push corrects Pacemaker
#             2.1.5's double count); the failed action is the "asyncmon"
#             "Simulated failure" of crm_resource --fail.
#  2 hang     a TCP responder answering "ready", checked by an exec: probe
#             every 2 s under a 1 s timeout; SIGSTOP it: the failure must be
#             reported within check_interval + check_timeout + 1 s (+1 s
#             slack) of the SIGSTOP, and the resource restarted (the stopped
#             process ends by stop's SIGKILL).
#  3 term     kill -TERM of the main process (a clean exit: "an administrator
#             should not stop a service from the command line"): restarted,
#             fail count 1.
#  4 keeper   kill -9 of the keeper: the next monitor (3 s) starts a new one;
#             the service is untouched; no failure.
#  5 depends  depends_on=PIDFILE of a process this test owns; "restart" that
#             process: the resource is restarted, fail count 1, and the log
#             says "dependency restarted".
#  6 reload   crm_resource --set-parameter check_interval 3s on a running
#             resource: Pacemaker runs reload-agent (OCF 1.1), the keeper logs
#             "reloaded: check ... every 3s", the service is not restarted.
#
# Every scenario runs even when an earlier one failed (each in a subshell; a
# failed one is cleaned up best-effort); the result is the AND of all. A
# timing line per scenario is printed at the end.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, cluster programs missing,
# or the agent is not installed at /usr/lib/ocf/resource.d/warden/daemon).
#
# Knobs (environment): KEEPER_ONLY="1 keeper" runs only those scenarios (by
# number or name); KEEP_WORK=1 keeps the scratch directory (/tmp/warden-test-
# keeper.*); plus the LAB_* settings of lab.sh (LAB_DC_DEADTIME defaults to 2s
# here). Takes about 65 s on 2 cores (lab up ~5 s, the hang scenario ~23 s).
set -euo pipefail

# A shorter dc-deadtime brings the one-node lab up ~4 s sooner; it must be set
# before lab.sh is sourced.
LAB_DC_DEADTIME=${LAB_DC_DEADTIME:-2s}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"

AGENT=ocf:warden:daemon
AGENT_PATH=/usr/lib/ocf/resource.d/warden/daemon
STATE_ROOT=/run/warden
PCMK_LOG=$LAB_LOG/pacemaker.log
START_TIMEOUT=30
PY=/usr/bin/python3              # not a pyenv shim: the service runs with a clean PATH

# The agent's state: read_state, remember, main_pid, keeper_pid, new_main_runs.
. "$here/warden-state.sh"
# The scenario frame: create, remove, nothing_left, run_scenario, ...
. "$here/scenarios.sh"

# ---------------------------------------------------------------- the log
# log_mark: the current end of Pacemaker's log; log_since MARK: what came after.
log_mark() { stat -c %s "$PCMK_LOG" 2>/dev/null || echo 0; }
log_since() { tail -c +"$(( $1 + 1 ))" "$PCMK_LOG" 2>/dev/null || true; }
# log_has MARK ERE: a line after MARK matches ERE.
log_has() { log_since "$1" | grep -Eq -- "$2"; }
# keeper_lines MARK RSC: the keeper's lines about RSC after MARK.
keeper_lines() { log_since "$1" | grep -F "warden-daemon($2)" | grep -F 'keeper:' || true; }

# ================================================================ scenarios
# 1. kill -9 of the main process: pushed at once, restarted within 2 s.
scenario_crash() {
    local rsc=k-crash old new t0 t_main t_started fc failed
    local -a svc=(/bin/sleep 100101)
    our_argv "${svc[@]}"
    create "$rsc" params command="${svc[*]}" op monitor interval=60s timeout=20s
    old=$(main_pid "$rsc")
    mark=$(log_mark)

    step "kill -9 the main process $old (monitor interval 60 s: only a push can be this fast)"
    kill -KILL "$old"
    t0=$(lab_now)
    lab_wait_for -q -t 10 -i 0.02 new_main_runs "$rsc" "$old" ||
        fail "no new main process within 10 s of the kill (state: $(lab_rsc_state "$rsc"))"
    t_main=$(ms_since "$t0")
    new=$(main_pid "$rsc")
    lab_wait_for -q -t 10 -i 0.05 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started again within 10 s (state: $(lab_rsc_state "$rsc"))"
    t_started=$(ms_since "$t0")
    timing "crash: new main process $(fmt_ms "$t_main") s, Started $(fmt_ms "$t_started") s after kill -9 (limit 2 s; monitor interval 60 s)"
    keeper_lines "$mark" "$rsc" | sed 's/^/    log: /' >&2
    (( t_started <= 2000 )) || fail "$rsc took $(fmt_ms "$t_started") s to run again (limit 2 s)"
    ! lab_proc_alive "$old" || fail "the killed main process $old is alive"
    lab_proc_alive "$new" || fail "the new main process $new is not alive"

    failcount_settles "$rsc" 1
    failed=$(failed_of "$rsc")
    note "failed actions: ${failed//$'\n'/; }"
    grep -q "^${rsc}_asyncmon" <<< "$failed" || fail "no asyncmon failed action for $rsc (got: ${failed:-none})"
    grep -q "Simulated failure" <<< "$failed" || fail "the failed action of $rsc is not 'Simulated failure' (got: $failed)"
    log_has "$mark" "warden-daemon\\($rsc\\).* keeper: ([a-z]+: )?failure: service process $old exited" ||
        fail "no keeper line 'failure: service process $old exited' for $rsc in $PCMK_LOG"
    # The keeper logs "failure pushed to the cluster" when warden-push exits;
    # Pacemaker usually stands the keeper down before that (warden-push waits
    # for the fail count to settle), so that line is only informative.
    log_has "$mark" "warden-daemon\\($rsc\\).* keeper: ([a-z]+: )?failure pushed to the cluster" ||
        note "(no 'failure pushed to the cluster' line: the keeper was stood down before warden-push exited)"
    remove "$rsc" "${svc[@]}"
}

# 2. A hung service (SIGSTOP): found by the exec: probe's timeout.
HANG_INTERVAL=2 HANG_TIMEOUT=1
scenario_hang() {
    local rsc=k-hang port old new t0 t_failed t_gone t_rec limit_ms left
    port=$(lab_free_port) || fail "could not find a free port"
    write_responder
    local -a svc=("$PY" "$WORK/responder.py" "$port")
    our_argv "${svc[@]}"
    our_argv bash "$WORK/probe.sh" "$port"
    create "$rsc" params command="${svc[*]}" check="exec:$WORK/probe.sh $port" \
        check_interval="${HANG_INTERVAL}s" check_timeout="${HANG_TIMEOUT}s" \
        op monitor interval=60s timeout=20s op stop timeout=20s
    old=$(main_pid "$rsc")
    "$WORK/probe.sh" "$port" || fail "the responder on port $port does not answer the probe"
    # let the keeper's own probe pass at least once first
    sleep $(( HANG_INTERVAL + 1 ))
    [[ $(lab_failcount "$rsc") == 0 ]] || fail "$rsc failed before it was hung"
    mark=$(log_mark)

    step "SIGSTOP the responder $old (check every ${HANG_INTERVAL}s, timeout ${HANG_TIMEOUT}s, monitor 60 s)"
    kill -STOP "$old"
    t0=$(lab_now)
    limit_ms=$(( (HANG_INTERVAL + HANG_TIMEOUT + 1 + 1) * 1000 ))
    lab_wait_for -q -t 20 -i 0.05 "[[ \$(lab_failcount $rsc) != 0 ]]" ||
        fail "no failure of the hung $rsc reported within 20 s"
    t_failed=$(ms_since "$t0")
    timing "hang: failure reported (fail count > 0) $(fmt_ms "$t_failed") s after SIGSTOP (limit $(fmt_ms "$limit_ms") s = interval ${HANG_INTERVAL} + timeout ${HANG_TIMEOUT} + 1 + 1 slack)"
    # Pacemaker now stops the hung instance: SIGTERM stays pending on a
    # stopped process, so it ends only by SIGKILL (at the stop's deadline,
    # unless the agent sends SIGCONT).
    lab_wait_for -q -t 40 -i 0.05 "! lab_proc_alive $old" ||
        fail "the SIGSTOPped responder $old still alive 40 s after the SIGSTOP"
    t_gone=$(ms_since "$t0")
    lab_wait_for -q -t 20 -i 0.1 new_main_runs "$rsc" "$old" ||
        fail "no new responder within 40 s of the SIGSTOP (state: $(lab_rsc_state "$rsc"))"
    lab_wait_for -q -t 10 -i 0.1 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started again (state: $(lab_rsc_state "$rsc"))"
    t_rec=$(ms_since "$t0")
    new=$(main_pid "$rsc")
    timing "hang: hung process $old gone $(fmt_ms "$t_gone") s, restarted (new pid $new, Started) $(fmt_ms "$t_rec") s after SIGSTOP"
    keeper_lines "$mark" "$rsc" | sed 's/^/    log: /' >&2
    log_since "$mark" | grep -F "warden-daemon($rsc)" | grep -E ' stop: ' | sed 's/^/    log: /' >&2 || true
    (( t_failed <= limit_ms )) ||
        fail "the hang was reported $(fmt_ms "$t_failed") s after SIGSTOP, over the limit of $(fmt_ms "$limit_ms") s"
    lab_wait_for -q -t 5 -i 0.2 "$WORK/probe.sh" "$port" ||
        fail "the new responder $new does not answer the probe"
    failcount_settles "$rsc" 1
    note "failed actions: $(failed_of "$rsc" | paste -sd';')"
    log_has "$mark" "warden-daemon\\($rsc\\).* keeper: ([a-z]+: )?failure: .*hung" ||
        fail "no keeper line 'failure: ... hung' for $rsc"
    remove "$rsc" "${svc[@]}"
    left=$(lab_proc_find --since "$SCEN_SINCE" bash "$WORK/probe.sh" "$port")
    [[ -z $left ]] || fail "probe processes left: $left"
}

# 3. A clean exit of the main process outside the cluster.
scenario_term() {
    local rsc=k-term old t0 t_rec
    local -a svc=(/bin/sleep 100301)
    our_argv "${svc[@]}"
    create "$rsc" params command="${svc[*]}" op monitor interval=60s timeout=20s
    old=$(main_pid "$rsc")
    mark=$(log_mark)
    step "kill -TERM the main process $old (a clean exit, as from the command line)"
    kill -TERM "$old"
    t0=$(lab_now)
    lab_wait_for -q -t 15 -i 0.05 new_main_runs "$rsc" "$old" ||
        fail "$rsc not restarted within 15 s of the SIGTERM (state: $(lab_rsc_state "$rsc"), fail count $(lab_failcount "$rsc"))"
    lab_wait_for -q -t 10 -i 0.05 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started again (state: $(lab_rsc_state "$rsc"))"
    t_rec=$(ms_since "$t0")
    timing "term: restarted (new pid $(main_pid "$rsc"), Started) $(fmt_ms "$t_rec") s after kill -TERM"
    keeper_lines "$mark" "$rsc" | sed 's/^/    log: /' >&2
    failcount_settles "$rsc" 1
    note "failed actions: $(failed_of "$rsc" | paste -sd';')"
    remove "$rsc" "${svc[@]}"
}

# 4. The keeper killed: the next monitor replaces it; nothing else happens.
KEEPER_MONITOR=3
scenario_keeper() {
    local rsc=k-keeper main oldk newk t0 t_new failed
    local -a svc=(/bin/sleep 100401)
    our_argv "${svc[@]}"
    create "$rsc" params command="${svc[*]}" op monitor interval="${KEEPER_MONITOR}s" timeout=20s
    main=$(main_pid "$rsc")
    oldk=$(keeper_pid "$rsc")
    mark=$(log_mark)
    step "kill -9 the keeper $oldk (monitor every ${KEEPER_MONITOR}s)"
    kill -KILL "$oldk"
    t0=$(lab_now)
    lab_wait_for -q -t $(( KEEPER_MONITOR * 2 + 5 )) -i 0.05 \
        "k=\$(keeper_pid $rsc) && [[ \$k != $oldk ]]" ||
        fail "no new keeper within $(( KEEPER_MONITOR * 2 + 5 )) s of the kill (keeper file: $(cat "$STATE_ROOT/$rsc/keeper" 2>/dev/null || echo missing))"
    t_new=$(ms_since "$t0")
    newk=$(keeper_pid "$rsc")
    timing "keeper: new keeper $newk $(fmt_ms "$t_new") s after kill -9 of keeper $oldk (monitor interval ${KEEPER_MONITOR}s)"
    ! lab_proc_alive "$oldk" || fail "the killed keeper $oldk is alive"
    # One more monitor: it must answer from the new keeper and find no fault.
    sleep $(( KEEPER_MONITOR + 1 ))
    log_since "$mark" | grep -F "warden-daemon($rsc)" | grep -Ei 'keeper' | sed 's/^/    log: /' >&2 || true
    log_has "$mark" "warden-daemon\\($rsc\\).* monitor: warning: the keeper of pid [0-9]+ is gone" ||
        fail "no monitor warning about the lost keeper of $rsc in $PCMK_LOG"
    [[ $(main_pid "$rsc") == "$main" ]] || fail "the main process changed from $main to $(main_pid "$rsc" || echo none)"
    [[ $(keeper_pid "$rsc") == "$newk" ]] || fail "the keeper changed again, from $newk to $(keeper_pid "$rsc" || echo none)"
    lab_rsc_is "$rsc" Started "$LAB_NODE" || fail "$rsc is not Started (state: $(lab_rsc_state "$rsc"))"
    [[ $(lab_failcount "$rsc") == 0 ]] || fail "fail count of $rsc is $(lab_failcount "$rsc"), expected 0"
    failed=$(failed_of "$rsc")
    [[ -z $failed ]] || fail "failed actions of $rsc: $failed"
    remove "$rsc" "${svc[@]}"
}

# 5. depends_on: the dependency restarts, so the dependent resource restarts.
DEP_ARGV=(/bin/sleep 100502)
# start_dep: start a dependency process (ours: killed by PID at the end), name
# it in $WORK/dep.pid (written atomically); its PID in dep_pid.
start_dep() {
    "${DEP_ARGV[@]}" < /dev/null > /dev/null 2>&1 &
    dep_pid=$!
    our_argv "${DEP_ARGV[@]}"
    echo "$dep_pid $(lab_proc_starttime "$dep_pid")" >> "$WORK/dep.owned"
    echo "$dep_pid" > "$WORK/dep.pid.tmp"
    mv -f "$WORK/dep.pid.tmp" "$WORK/dep.pid"
}
scenario_depends() {
    local rsc=k-depends dep1 dep2 old t0 t_rec failed
    local -a svc=(/bin/sleep 100501)
    our_argv "${svc[@]}"
    start_dep
    dep1=$dep_pid
    note "dependency: pid $dep1 in $WORK/dep.pid"
    create "$rsc" params command="${svc[*]}" depends_on="$WORK/dep.pid" check_interval=1s \
        op monitor interval=60s timeout=20s
    old=$(main_pid "$rsc")
    sleep 1.5                        # a check or two with the first dependency
    [[ $(main_pid "$rsc") == "$old" ]] || fail "$rsc restarted before its dependency did"
    mark=$(log_mark)
    step "restart the dependency: kill $dep1, start a new one, rewrite the pidfile"
    kill -TERM "$dep1"
    wait "$dep1" 2>/dev/null || true
    start_dep
    dep2=$dep_pid
    t0=$(lab_now)
    note "dependency now: pid $dep2"
    lab_wait_for -q -t 10 -i 0.05 new_main_runs "$rsc" "$old" ||
        fail "$rsc not restarted within 10 s of its dependency's restart (state: $(lab_rsc_state "$rsc"), fail count $(lab_failcount "$rsc"))"
    lab_wait_for -q -t 10 -i 0.05 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started again (state: $(lab_rsc_state "$rsc"))"
    t_rec=$(ms_since "$t0")
    timing "depends: restarted (new pid $(main_pid "$rsc"), Started) $(fmt_ms "$t_rec") s after the dependency's pidfile changed (check_interval 1s)"
    keeper_lines "$mark" "$rsc" | sed 's/^/    log: /' >&2
    failcount_settles "$rsc" 1
    failed=$(failed_of "$rsc")
    note "failed actions: ${failed//$'\n'/; }"
    if ! grep -q "dependency restarted" <<< "$failed"; then
        log_has "$mark" "warden-daemon\\($rsc\\).*dependency restarted" ||
            fail "neither the failed action nor the log of $rsc mentions 'dependency restarted'"
        note "'dependency restarted' is in the log (the failed action says: ${failed:-nothing})"
    fi
    # The new instance must not fail again over the same dependency.
    sleep 2
    [[ $(lab_failcount "$rsc") == 1 ]] || fail "fail count of $rsc rose to $(lab_failcount "$rsc") after the restart"
    remove "$rsc" "${svc[@]}"
    kill -TERM "$dep2" 2>/dev/null || true
    wait "$dep2" 2>/dev/null || true
}

# 6. reload-agent: a reloadable parameter changes, the service stays.
scenario_reload() {
    local rsc=k-reload main keeper t0 t_rel
    local -a svc=(/bin/sleep 100601)
    our_argv "${svc[@]}"
    create "$rsc" params command="${svc[*]}" op monitor interval=60s timeout=20s
    main=$(main_pid "$rsc")
    keeper=$(keeper_pid "$rsc")
    mark=$(log_mark)
    step "crm_resource --set-parameter check_interval 3s on the running $rsc"
    t0=$(lab_now)
    env -u CIB_file crm_resource --resource "$rsc" --set-parameter check_interval \
        --parameter-value 3s >/dev/null || fail "crm_resource --set-parameter failed"
    if ! lab_wait_for -q -t 15 -i 0.1 log_has "$mark" \
            "warden-daemon\\($rsc\\).* keeper: ([a-z]+: )?reloaded: check .* every 3s"; then
        note "Pacemaker's lines about $rsc since the change:"
        log_since "$mark" | grep -F "$rsc" | tail -n 30 | sed 's/^/    log: /' >&2
        fail "no keeper line 'reloaded: check ... every 3s' within 15 s"
    fi
    t_rel=$(ms_since "$t0")
    lab_wait_for -q -t 10 -i 0.1 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started after the change (state: $(lab_rsc_state "$rsc"))"
    sleep 1                              # a restart would show by now
    log_since "$mark" | grep -E "warden-daemon\\($rsc\\)|(Initiating|Result of) [a-z-]+ operation (for )?$rsc" |
        sed 's/^/    log: /' >&2 || true
    timing "reload: keeper reloaded $(fmt_ms "$t_rel") s after crm_resource --set-parameter"
    if log_has "$mark" "stop operation (for )?${rsc}[ _]"; then
        fail "Pacemaker stopped $rsc for the change instead of reloading it (see the log lines above)"
    fi
    log_has "$mark" "reload-agent operation for $rsc" ||
        fail "no reload-agent operation for $rsc in $PCMK_LOG"
    [[ $(main_pid "$rsc") == "$main" ]] || fail "the main process changed from $main to $(main_pid "$rsc" || echo none): restarted, not reloaded"
    [[ $(keeper_pid "$rsc") == "$keeper" ]] || fail "the keeper changed from $keeper to $(keeper_pid "$rsc" || echo none)"
    [[ $(lab_failcount "$rsc") == 0 ]] || fail "fail count of $rsc is $(lab_failcount "$rsc")"
    [[ -z $(failed_of "$rsc") ]] || fail "failed actions of $rsc: $(failed_of "$rsc")"
    remove "$rsc" "${svc[@]}"
}

# ================================================================ driver
SCENARIOS=(crash hang term keeper depends reload)
declare -A RESOURCE=([crash]=k-crash [hang]=k-hang [term]=k-term [keeper]=k-keeper
                     [depends]=k-depends [reload]=k-reload)

finish() {
    local rc=$? pid st
    trap - EXIT
    # Our own dependency processes, by PID (and start time).
    if [[ -r ${WORK:-/nonexistent}/dep.owned ]]; then
        while read -r pid st; do
            if lab_proc_alive "$pid" "$st"; then
                kill -KILL "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
            fi
        done < "$WORK/dep.owned"
    fi
    if ! lab_down_if_started; then
        echo "FAIL: lab teardown left processes running" >&2
        rc=1
    fi
    # Never leave a service process of ours behind, even after a failure.
    if [[ -n ${SINCE_ALL:-} && -r ${WORK:-/nonexistent}/argvs ]]; then
        local -a argv
        while read -ra argv; do
            (( ${#argv[@]} )) || continue
            for pid in $(lab_proc_find --since "$SINCE_ALL" "${argv[@]}"); do
                echo "killing leftover process $pid: $(lab_proc_cmdline "$pid")" >&2
                kill -KILL "$pid" 2>/dev/null || true
                rc=1
            done
        done < "$WORK/argvs"
    fi
    if [[ -n ${WORK:-} && -d $WORK ]]; then
        [[ -n ${KEEP_WORK:-} ]] || rm -rf "$WORK"
    fi
    if (( ${#RESULTS[@]} )); then
        echo "===== summary" >&2
        printf '  %s\n' "${RESULTS[@]}" >&2
        [[ -r ${WORK:-/nonexistent}/timings ]] && sed 's/^/  timing: /' "$WORK/timings" >&2
    fi
    case $rc in 0|77) ;; *) rc=1 ;; esac
    (( rc == 0 )) && echo "PASS: $(basename "$0")" >&2
    exit $rc
}

why=$(lab_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
[[ -x $AGENT_PATH ]] ||
    skip "$AGENT is not installed ($AGENT_PATH missing): install the warden agents first"
[[ -x $PY ]] || skip "$PY is missing (crmsh needs it: is crmsh really installed?)"

RESULTS=()
FAILED=0
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d /tmp/warden-test-keeper.XXXXXX)
chmod 0755 "$WORK"
: > "$WORK/timings"
SINCE_ALL=$(lab_ticks_now)

echo "=== cluster up" >&2
t_all=$(lab_now)
lab_up || { lab_diag; echo "FAIL: lab_up failed (see above)" >&2; exit 1; }

n=0
for name in "${SCENARIOS[@]}"; do
    n=$(( n + 1 ))
    if [[ -n ${KEEPER_ONLY:-} && " $KEEPER_ONLY " != *" $n "* && " $KEEPER_ONLY " != *" $name "* ]]; then
        continue
    fi
    run_scenario "$n" "$name"
done

echo "=== cluster down" >&2
lab_down || { echo "FAIL: the cluster did not go down cleanly" >&2; exit 1; }
echo "timing: whole test $(lab_elapsed "$t_all") s (cluster up to down)" >&2
echo "[all] whole test $(lab_elapsed "$t_all") s" >> "$WORK/timings"
(( FAILED == 0 )) || exit 1
