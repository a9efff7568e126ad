#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-dump.sh - dump on failure (EXRES DumpProcessOnIsAliveFailure,
# issue 4) in a real cluster. One lab, the scenarios below in a row, each with
# a primitive of its own (created, driven, stopped, deleted, and checked to
# have left no process behind) and a dump directory of its own under this
# test's scratch directory (/tmp/warden-test-dump.*, removed at the end):
#
#  1 stacks    a TCP responder checked by an exec: probe every 2 s under a 1 s
#              timeout, dump_on_failure=true; SIGSTOP it: a
#              <rsc>-<UTC stamp>-hung.stacks dump appears (file 0600, the
#              directory the agent created 0700) with "== process <the frozen
#              pid> (...), state T", its "-- thread" lines and the eu-stack
#              section; it was written BEFORE the failure was pushed (in
#              Pacemaker's log: the helper's "dumped ...", the keeper's "dump
#              written to", its "pushing the failure", then attrd setting the
#              asyncmon fail count); recovered (new pid, fail count 1).
#  2 core      the same with dump_type=core: <base>.core.<pid> (0600) appears
#              beside the .stacks file, and gdb loads it with the frozen
#              process's binary and prints a backtrace ("#0").
#  3 stop-kill a service that ignores SIGTERM, op stop timeout=6s (so
#              pending_timeout 4.8 s): "crm resource stop" succeeds (no failed
#              stop, nothing about fencing), after a <rsc>-...-stop-kill.stacks
#              dump of the stubborn processes written before the SIGKILL.
#  4 reload    a running resource without dump_* parameters; crm_resource
#              --set-parameter dump_on_failure true, then dump_dir: reload-agent
#              both times, no restart (main pid and keeper unchanged); then
#              freeze it: a dump appears in that dump_dir.
#  5 keep      dump_keep=2, three freezes in a row: only the two newest dumps of
#              the resource remain (fail count 3).
#  6 start     a start that runs over pending_timeout (its check never passes,
#              op start timeout=6s): a <rsc>-...-start-timeout.stacks dump
#              is written before what the start launched is killed, the start
#              fails, and its exit reason says "dump in ...".
#  7 checkfail a check that answers "unhealthy" (exit 1, not a hang): a
#              <rsc>-...-check-failed.stacks dump, written before the push.
#  8 nopush    notify_cluster=false, monitor every 3 s: Pacemaker learns of
#              the hang from a monitor, not a push; the dump must be written
#              all the same, and the failed monitor's exit reason (the
#              keeper's verdict) says "...; dump in ...".
#  9 monitor   a 41-process service (so the dump takes a second or more),
#              monitor every 1 s: no monitor may report the failure, and
#              Pacemaker may not stop the service, before the dump is written.
#
# Every scenario runs even when an earlier one failed (each in a subshell; a
# failed one is cleaned up best-effort); the result is the AND of all. A
# timing line per scenario is printed at the end (timings are reported, not
# asserted).
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, cluster programs missing,
# or the agent is not installed at /usr/lib/ocf/resource.d/warden/daemon).
# eu-stack (elfutils) and gcore/gdb (gdb) are needed for the user-space stacks
# and the core scenario: without them those checks are skipped with a note
# (a failure under WARDEN_NO_SKIP=1, as in CI).
#
# Knobs (environment): DUMP_ONLY="1 reload" runs only those scenarios (by
# number or name); KEEP_WORK=1 keeps the scratch directory (dumps included);
# plus the LAB_* settings of lab.sh (LAB_DC_DEADTIME defaults to 2s here).
# Takes about 2 min on 2 cores (lab up ~5 s, the retention scenario ~25 s).
set -euo pipefail

LAB_DC_DEADTIME=${LAB_DC_DEADTIME:-2s}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"

AGENT=ocf:warden:daemon
AGENT_PATH=/usr/lib/ocf/resource.d/warden/daemon
STATE_ROOT=/run/warden
START_TIMEOUT=30
PY=/usr/bin/python3              # not a pyenv shim: the service runs with a clean PATH
CHECK_INTERVAL=2 CHECK_TIMEOUT=1 # the frozen-service scenarios

# tool_missing TOOL...: a tool a check needs is not installed: skip that
# check with a note, or (WARDEN_NO_SKIP=1, CI) fail.
tool_missing() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 && continue
        [[ ${WARDEN_NO_SKIP:-} == 1 ]] && fail "$t is not installed (WARDEN_NO_SKIP=1 forbids skipping the check)"
        note "($t is not installed: the checks that need it are skipped)"
        return 0
    done
    return 1
}

# The agent's state: read_state, remember, main_pid, keeper_pid, new_main_runs.
. "$here/warden-state.sh"
# The scenario frame: create, remove, nothing_left, run_scenario, ...
. "$here/scenarios.sh"

# wlines MARK RSC: warden's log lines about RSC after MARK.
wlines() { lab_log_since "$1" | grep -F "warden-daemon($2)" || true; }

# ---------------------------------------------------------------- the dumps
# stacks_of DIR RSC [REASON]: the .stacks dumps of RSC in DIR (full paths,
# oldest first: the UTC stamp follows the instance name, so names sort by
# time). Not those of another instance whose name starts with RSC-.
stacks_of() {
    local f re="^$2-[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z-${3:-[a-z-]+}\\.stacks\$"
    for f in "$1/$2"-*.stacks; do
        [[ -f $f && ${f##*/} =~ $re ]] && echo "$f"
    done | sort
    return 0
}

# dir_list DIR: the names in DIR (dot files too), on one line.
dir_list() {
    local f out=()
    for f in "$1"/* "$1"/.[!.]*; do
        [[ -e $f || -L $f ]] && out+=("${f##*/}")
    done
    echo "${out[*]}"
}

# new_stacks DIR RSC REASON BEFORE: the first dump of RSC for REASON that is
# not in the list BEFORE (newline-separated); fails if there is none yet.
new_stacks() {
    local f
    while read -r f; do
        [[ -n $f ]] || continue
        grep -qxF -- "$f" <<< "$4" || { echo "$f"; return 0; }
    done < <(stacks_of "$1" "$2" "$3")
    return 1
}

# check_dump_file PATH RSC REASON: the dump's name, stamp, mode and header.
check_dump_file() {
    local path=$1 rsc=$2 reason=$3 name stamp t now mode dir
    name=${path##*/} dir=${path%/*}
    [[ $name =~ ^$rsc-([0-9]{8})T([0-9]{2})([0-9]{2})([0-9]{2})\.([0-9]{3})Z-$reason\.stacks$ ]] ||
        fail "dump name $name is not <instance>-<YYYYMMDDTHHMMSS.mmmZ>-$reason.stacks"
    stamp="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}:${BASH_REMATCH[3]}:${BASH_REMATCH[4]}"
    t=$(date -u -d "$stamp" +%s) || fail "the stamp of $name is not a date"
    now=$(date +%s)
    (( t <= now + 1 && t >= now - 120 )) ||
        fail "the stamp of $name ($stamp UTC) is not the time of the dump (now $(date -u '+%F %T') UTC)"
    [[ ! -L $path ]] || fail "$path is a symlink"
    mode=$(lab_file_mode "$path")
    [[ $mode == 600 ]] || fail "$path has mode $mode, expected 600"
    mode=$(lab_file_mode "$dir")
    [[ $mode == 700 ]] || fail "the dump directory $dir has mode $mode, expected 700"
    [[ $(stat -c %u "$path") == 0 ]] || fail "$path is not owned by root"
    head -n 1 "$path" | grep -Eq "^# warden dump of $rsc \\($reason\\) at .*: [0-9]+ process\\(es\\)" ||
        fail "the first line of $path is not a warden dump header: $(head -n 1 "$path")"
}

# process_section PATH PID: the part of a stacks dump about process PID (from
# its "== process PID" line to the next process or core section).
process_section() {
    awk -v pid="$2" '
        /^== process / { on = ($3 == pid) }
        /^# core of /  { on = 0 }
        on' "$1"
}

# check_process_dumped PATH PID STATE COMM: the dump has PID, in STATE, with
# a kernel stack per thread and (eu-stack installed) a user-space backtrace.
check_process_dumped() {
    local path=$1 pid=$2 state=$3 comm=$4 sec head threads
    sec=$(process_section "$path" "$pid")
    [[ -n $sec ]] || fail "no '== process $pid' in $path (processes in it: $(grep '^== process' "$path" | paste -sd';'))"
    head=$(head -n 1 <<< "$sec")
    [[ $head =~ ^==\ process\ $pid\ \(([^\)]*)\),\ state\ ([A-Za-z]),\ cmdline:\ (.*)$ ]] ||
        fail "bad process line in $path: $head"
    [[ ${BASH_REMATCH[1]} == "$comm" ]] || fail "process $pid is named '${BASH_REMATCH[1]}' in $path, expected '$comm'"
    [[ ${BASH_REMATCH[2]} == "$state" ]] || fail "process $pid is in state ${BASH_REMATCH[2]} in $path, expected $state: $head"
    threads=$(grep -c '^-- thread [0-9]* (' <<< "$sec" || true)
    (( threads >= 1 )) || fail "no '-- thread' line for process $pid in $path"
    grep -q '^-- thread '"$pid"' (' <<< "$sec" || fail "no '-- thread $pid' (the main thread) in $path"
    grep -qx -- '-- user space (eu-stack):' <<< "$sec" || fail "no '-- user space (eu-stack):' for $pid in $path"
    if ! tool_missing eu-stack; then
        # eu-stack -p prints "TID <tid>:" and "#0 ..." frames
        grep -Eq '^#0 ' <<< "$(sed -n '/^-- user space (eu-stack):$/,$p' <<< "$sec")" ||
            fail "no eu-stack frame '#0' for process $pid in $path: $(sed -n '/^-- user space/,$p' <<< "$sec" | head -n 5 | paste -sd'|')"
    fi
    note "dump of $pid: $head; $threads thread(s), $(wc -l <<< "$sec") lines"
}

# log_order MARK RSC DUMP REASON: in Pacemaker's log after MARK, the dump
# helper's "dumped N process(es) of RSC (REASON) to DUMP", the keeper's "dump
# written to DUMP", its "pushing the failure to the cluster", and attrd's
# first change of RSC's asyncmon fail count come in that order.
log_order() {
    local mark=$1 rsc=$2 dump=$3 reason=$4 n_dumped n_written n_push n_attr
    n_dumped=$(lab_log_first "$mark" "warden-daemon($rsc)" " dump: " "of $rsc ($reason) to $dump") ||
        fail "no dump helper line 'dumped N process(es) of $rsc ($reason) to $dump'"
    n_written=$(lab_log_first "$mark" "warden-daemon($rsc)" " keeper: " "dump written to $dump") ||
        fail "no keeper line 'dump written to $dump'"
    n_push=$(lab_log_first "$mark" "warden-daemon($rsc)" " keeper: " "pushing the failure to the cluster") ||
        fail "no keeper line 'pushing the failure to the cluster'"
    # Pacemaker's side of the push: the first change of the resource's
    # asyncmon fail count (warden-push, or crm_resource --fail, sets it).
    n_attr=$(lab_log_first "$mark" "pacemaker-attrd" "Setting fail-count-$rsc#asyncmon_0") ||
        fail "pacemaker-attrd never set fail-count-$rsc#asyncmon_0"
    (( n_dumped < n_written && n_written < n_push && n_push < n_attr )) ||
        fail "the log order is wrong: dump helper line $n_dumped, 'dump written' line $n_written, 'pushing the failure' line $n_push, attrd's fail count line $n_attr (after the mark)"
    note "log order: dumped (line $n_dumped) < dump written ($n_written) < pushing the failure ($n_push) < attrd sets the fail count ($n_attr)"
}

# ------------------------------------------------------- the frozen service
# The responder and its probe (scenarios.sh), and a service that only
# SIGKILL ends.
write_service_files() {
    write_responder
    # A service that ignores SIGTERM (and so does its sleep: an ignored
    # signal stays ignored across exec): only SIGKILL ends it.
    cat > "$WORK/stubborn.sh" <<'EOF'
trap '' TERM
while :; do sleep 100301; done
EOF
}

# responder_params PORT: sets svc (the argv) and rparams (crm params for a
# responder on PORT checked every CHECK_INTERVAL under CHECK_TIMEOUT).
responder_params() {
    svc=("$PY" "$WORK/responder.py" "$1")
    our_argv "${svc[@]}"
    our_argv bash "$WORK/probe.sh" "$1"
    rparams=(command="${svc[*]}" check="exec:$WORK/probe.sh $1"
             check_interval="${CHECK_INTERVAL}s" check_timeout="${CHECK_TIMEOUT}s")
}

# healthy_once RSC PORT [FAILCOUNT]: the responder answers, and the keeper
# has had the time for at least one passing check of its own; RSC's fail
# count is still FAILCOUNT (default 0).
healthy_once() {
    lab_wait_for -q -t 5 -i 0.2 "$WORK/probe.sh" "$2" ||
        fail "the responder on port $2 does not answer the probe"
    sleep $(( CHECK_INTERVAL + 1 ))
    [[ $(lab_failcount "$1") == "${3:-0}" ]] ||
        fail "$1 failed before it was frozen (fail count $(lab_failcount "$1"), expected ${3:-0})"
}

# freeze RSC DIR FAILCOUNT: SIGSTOP RSC's main process; wait for its "hung"
# dump in DIR, the push (fail count FAILCOUNT), and the recovery. Checks the
# dump's file and that it was written before the push. Sets: frozen (the
# pid), frozen_exe, dump (the .stacks path), mark (log mark before the
# SIGSTOP), t_dump/t_failed/t_rec (ms after the SIGSTOP).
freeze() {
    local rsc=$1 dir=$2 fc=$3 before t0
    frozen=$(main_pid "$rsc")
    frozen_exe=$(readlink "/proc/$frozen/exe") || fail "cannot read /proc/$frozen/exe"
    before=$(stacks_of "$dir" "$rsc")
    mark=$(lab_log_mark)
    step "SIGSTOP $rsc's main process $frozen (check every ${CHECK_INTERVAL}s, timeout ${CHECK_TIMEOUT}s; monitor 60 s)"
    kill -STOP "$frozen"
    t0=$(lab_now)
    lab_wait_for -q -t 20 -i 0.02 new_stacks "$dir" "$rsc" hung "$before" >/dev/null ||
        fail "no new $rsc-*-hung.stacks in $dir within 20 s of the SIGSTOP (there: $(dir_list "$dir"))"
    t_dump=$(ms_since "$t0")
    dump=$(new_stacks "$dir" "$rsc" hung "$before")
    lab_wait_for -q -t 20 -i 0.05 "[[ \$(lab_failcount $rsc) != $(( fc - 1 )) ]]" ||
        fail "no failure of the frozen $rsc reported within 20 s"
    t_failed=$(ms_since "$t0")
    lab_wait_for -q -t 30 -i 0.05 "! lab_proc_alive $frozen" ||
        fail "the frozen process $frozen still alive 30 s after the SIGSTOP"
    lab_wait_for -q -t 20 -i 0.1 new_main_runs "$rsc" "$frozen" ||
        fail "no new main process of $rsc (state: $(lab_rsc_state "$rsc"))"
    lab_wait_for -q -t 10 -i 0.1 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started again (state: $(lab_rsc_state "$rsc"))"
    t_rec=$(ms_since "$t0")
    wlines "$mark" "$rsc" | grep -E ' (keeper|dump|stop): ' | sed 's/^/    log: /' >&2 || true
    note "dump: $dump"
    failcount_settles "$rsc" "$fc"
    check_dump_file "$dump" "$rsc" hung
    log_order "$mark" "$rsc" "$dump" hung
}

# ================================================================ scenarios
# 1. A frozen service: a stacks dump before the push.
scenario_stacks() {
    local rsc=d-stacks dir=$WORK/dumps-stacks port new
    port=$(lab_free_port) || fail "could not find a free port"
    responder_params "$port"
    create "$rsc" params "${rparams[@]}" dump_on_failure=true dump_dir="$dir" \
        op monitor interval=60s timeout=20s op stop timeout=20s
    healthy_once "$rsc" "$port"
    [[ ! -e $dir ]] || fail "$dir exists before any dump"
    freeze "$rsc" "$dir" 1
    new=$(main_pid "$rsc")
    timing "stacks: dump file $(fmt_ms "$t_dump") s, failure pushed (fail count 1) $(fmt_ms "$t_failed") s, recovered (new pid $new) $(fmt_ms "$t_rec") s after SIGSTOP"
    check_process_dumped "$dump" "$frozen" T python3
    grep -q "cmdline: ${svc[*]}\$" <<< "$(process_section "$dump" "$frozen" | head -n 1)" ||
        fail "the cmdline of $frozen in $dump is not '${svc[*]}'"
    [[ $(dir_list "$dir") =~ ^([^ ]+\.stacks ?)+$ ]] ||
        fail "more than .stacks files in $dir with dump_type=stacks: $(dir_list "$dir")"
    lab_wait_for -q -t 5 -i 0.2 "$WORK/probe.sh" "$port" || fail "the new responder $new does not answer"
    remove "$rsc" "${svc[@]}"
}

# 2. The same with dump_type=core: a core gdb can load.
scenario_core() {
    local rsc=d-core dir=$WORK/dumps-core port core bt t0 t_core leftovers
    tool_missing gcore gdb && return 0
    port=$(lab_free_port) || fail "could not find a free port"
    responder_params "$port"
    create "$rsc" params "${rparams[@]}" dump_on_failure=true dump_dir="$dir" dump_type=core \
        op monitor interval=60s timeout=20s op stop timeout=20s
    healthy_once "$rsc" "$port"
    freeze "$rsc" "$dir" 1
    timing "core: dump file $(fmt_ms "$t_dump") s, failure pushed (fail count 1) $(fmt_ms "$t_failed") s, recovered $(fmt_ms "$t_rec") s after SIGSTOP"
    check_process_dumped "$dump" "$frozen" T python3
    core=${dump%.stacks}.core.$frozen
    if [[ ! -f $core ]]; then
        note "the stacks dump says: $(grep '^# core' "$dump" | paste -sd'|')"
        fail "no core $core (in $dir: $(dir_list "$dir"))"
    fi
    grep -q "^# core of $frozen (gcore):" "$dump" || fail "$dump does not record the core of $frozen"
    [[ $(lab_file_mode "$core") == 600 ]] || fail "$core has mode $(lab_file_mode "$core"), expected 600"
    leftovers=$(dir_list "$dir" | tr ' ' '\n' | grep '^\.' || true)
    [[ -z $leftovers ]] || fail "gcore's temporary files left in $dir: $leftovers"
    note "core: $core, $(stat -c %s "$core") bytes; binary $frozen_exe"
    t0=$(lab_now)
    bt=$(timeout 60 gdb -nx -batch -ex bt "$frozen_exe" "$core" 2>&1) || true
    t_core=$(ms_since "$t0")
    grep -E '^#0 ' <<< "$bt" | head -n 3 | sed 's/^/    gdb: /' >&2 || true
    grep -Eq '^#0 ' <<< "$bt" ||
        fail "gdb -batch -ex bt $frozen_exe $core printed no frame #0: $(tail -n 5 <<< "$bt" | paste -sd'|')"
    timing "core: gdb loaded the core and printed a backtrace in $(fmt_ms "$t_core") s"
    remove "$rsc" "${svc[@]}"
}

# 3. A stop that must escalate to SIGKILL: dumped before the kill.
scenario_stopkill() {
    local rsc=d-stopkill dir=$WORK/dumps-stopkill main t0 t_stop dumpf failed n_dump n_kill
    local -a sv=(/bin/bash "$WORK/stubborn.sh")
    our_argv "${sv[@]}"
    our_argv sleep 100301
    create "$rsc" params command="${sv[*]}" dump_on_failure=true dump_dir="$dir" \
        op monitor interval=60s timeout=20s op stop timeout=6s
    main=$(main_pid "$rsc")
    lab_wait_for -q -t 5 -i 0.1 "[[ -n \$(lab_proc_find --since $SCEN_SINCE sleep 100301) ]]" ||
        fail "the stubborn service did not start its sleep"
    mark=$(lab_log_mark)
    step "crm resource stop $rsc (the service ignores SIGTERM; op stop timeout 6s, pending_timeout 4.8s)"
    t0=$(lab_now)
    lab_crm resource stop "$rsc" || fail "crm resource stop $rsc failed"
    lab_wait_for -t 20 -i 0.05 lab_rsc_is "$rsc" Stopped || fail "$rsc not Stopped (state: $(lab_rsc_state "$rsc"))"
    t_stop=$(ms_since "$t0")
    wlines "$mark" "$rsc" | grep -E ' (stop|dump): ' | sed 's/^/    log: /' >&2 || true
    timing "stop-kill: Stopped $(fmt_ms "$t_stop") s after crm resource stop (op stop timeout 6s)"
    failed=$(failed_of "$rsc")
    [[ -z $failed ]] || fail "failed actions of $rsc: $failed"
    [[ $(lab_failcount "$rsc") == 0 ]] || fail "fail count of $rsc is $(lab_failcount "$rsc")"
    lab_log_has "$mark" "Result of stop operation for $rsc on .*: ok" ||
        fail "no successful stop operation of $rsc in the log"
    # A failed stop makes the scheduler fence the node (or, with stonith
    # disabled, block the resource): neither may show.
    if lab_log_since "$mark" | grep -Ei 'will be fenced|requesting fencing|cannot fence|fencing (of|request)|unclean|blocked' >&2; then
        fail "the stop of $rsc led the cluster to fencing or blocking (lines above)"
    fi
    ! lab_proc_alive "$main" || fail "the stubborn main process $main survived the stop"
    dumpf=$(stacks_of "$dir" "$rsc" stop-kill | tail -n 1)
    [[ -n $dumpf ]] || fail "no $rsc-*-stop-kill.stacks in $dir (there: $(dir_list "$dir"))"
    note "dump: $dumpf"
    check_dump_file "$dumpf" "$rsc" stop-kill
    check_process_dumped "$dumpf" "$main" S bash
    grep -q '^== process [0-9]* (sleep), state S, cmdline: sleep 100301$' "$dumpf" ||
        fail "the stubborn service's sleep is not in $dumpf"
    # The dump comes before the SIGKILL.
    n_dump=$(lab_log_first "$mark" "warden-daemon($rsc)" " stop: " "dump written to $dumpf") ||
        fail "no stop line 'dump written to $dumpf'"
    n_kill=$(lab_log_first "$mark" "warden-daemon($rsc)" " stop: " "SIGKILL") ||
        fail "no stop line about the SIGKILL"
    (( n_dump < n_kill )) || fail "the dump (log line $n_dump) came after the SIGKILL (line $n_kill)"
    note "log order: dump written (line $n_dump) < SIGKILL (line $n_kill)"
    remove "$rsc" "${sv[@]}"
    [[ -z $(lab_proc_find --since "$SCEN_SINCE" sleep 100301) ]] || fail "the stubborn service's sleep survived"
}

# 4. dump_on_failure and dump_dir switched on by reload-agent.
scenario_reload() {
    local rsc=d-reload dir=$WORK/dumps-reload port main keeper t0 t_rel p v n
    port=$(lab_free_port) || fail "could not find a free port"
    responder_params "$port"
    create "$rsc" params "${rparams[@]}" op monitor interval=60s timeout=20s op stop timeout=20s
    main=$(main_pid "$rsc")
    keeper=$(keeper_pid "$rsc")
    healthy_once "$rsc" "$port"
    mark=$(lab_log_mark)
    t0=$(lab_now)
    n=0
    for p in dump_on_failure dump_dir; do
        [[ $p == dump_dir ]] && v=$dir || v=true
        step "crm_resource --set-parameter $p $v on the running $rsc"
        env -u CIB_file crm_resource --resource "$rsc" --set-parameter "$p" \
            --parameter-value "$v" >/dev/null || fail "crm_resource --set-parameter $p failed"
        n=$(( n + 1 ))
        if ! lab_wait_for -q -t 15 -i 0.1 \
                "(( \$(lab_log_since $mark | grep -cE 'Result of reload-agent operation for $rsc on .*: ok') >= $n ))"; then
            lab_log_since "$mark" | grep -F "$rsc" | tail -n 20 | sed 's/^/    log: /' >&2
            fail "no reload-agent operation #$n of $rsc within 15 s"
        fi
    done
    t_rel=$(ms_since "$t0")
    lab_wait_for -q -t 5 -i 0.1 \
        "(( \$(wlines $mark $rsc | grep -c ' keeper: .*reloaded: ') >= 2 ))" ||
        fail "the keeper did not log 'reloaded:' twice"
    wlines "$mark" "$rsc" | sed 's/^/    log: /' >&2
    timing "reload: two reload-agent operations done $(fmt_ms "$t_rel") s after the first crm_resource --set-parameter"
    ! lab_log_has "$mark" "stop operation (for )?${rsc}[ _]" ||
        fail "Pacemaker stopped $rsc for the change instead of reloading it"
    [[ $(main_pid "$rsc") == "$main" ]] || fail "the main process changed from $main: restarted, not reloaded"
    [[ $(keeper_pid "$rsc") == "$keeper" ]] || fail "the keeper changed from $keeper: restarted, not reloaded"
    [[ ! -e $dir ]] || fail "$dir exists before any dump"
    freeze "$rsc" "$dir" 1
    timing "reload: dump file $(fmt_ms "$t_dump") s, failure pushed $(fmt_ms "$t_failed") s, recovered $(fmt_ms "$t_rec") s after SIGSTOP"
    [[ $frozen == "$main" ]] || fail "the frozen process $frozen is not the one from before the reload ($main)"
    check_process_dumped "$dump" "$frozen" T python3
    remove "$rsc" "${svc[@]}"
}

# 5. Retention: dump_keep=2 keeps the two newest dumps of the resource.
scenario_keep() {
    local rsc=d-keep dir=$WORK/dumps-keep port i all left t0
    local -a dumps=()
    port=$(lab_free_port) || fail "could not find a free port"
    responder_params "$port"
    # Someone else's dump in the same directory, with a name that starts
    # like ours: never counted as ours, never removed.
    mkdir -m 0700 "$dir"
    touch "$dir/$rsc-2-20200101T000000.000Z-hung.stacks"
    chmod 0600 "$dir/$rsc-2-20200101T000000.000Z-hung.stacks"
    create "$rsc" params "${rparams[@]}" dump_on_failure=true dump_dir="$dir" dump_keep=2 \
        op monitor interval=60s timeout=20s op stop timeout=20s
    t0=$(lab_now)
    for i in 1 2 3; do
        healthy_once "$rsc" "$port" $(( i - 1 ))
        freeze "$rsc" "$dir" "$i"
        dumps+=("$dump")
        note "dumps of $rsc now: $(stacks_of "$dir" "$rsc" | sed 's|.*/||' | paste -sd' ')"
        sleep 0.01
    done
    timing "keep: three freezes, dumps and recoveries in $(lab_elapsed "$t0") s"
    all=$(stacks_of "$dir" "$rsc")
    [[ $(grep -c . <<< "$all") == 2 ]] || fail "$(grep -c . <<< "$all") dumps of $rsc in $dir, expected 2: $all"
    [[ $all == "$(printf '%s\n' "${dumps[1]}" "${dumps[2]}")" ]] ||
        fail "the dumps kept are not the two newest ($(printf '%s ' "${dumps[@]:1}")): $all"
    [[ ! -e ${dumps[0]} ]] || fail "the oldest dump ${dumps[0]} is still there"
    [[ -e "$dir/$rsc-2-20200101T000000.000Z-hung.stacks" ]] ||
        fail "retention of $rsc removed a dump of another instance ($rsc-2)"
    left=$(dir_list "$dir")
    note "in $dir: $left"
    remove "$rsc" "${svc[@]}"
}

# 6. A start that runs over pending_timeout: dumped before it is undone.
scenario_start() {
    local rsc=d-start dir=$WORK/dumps-start t0 t_fail failed dumpf
    local -a sv=(/bin/sleep 100601)
    our_argv "${sv[@]}"
    mark=$(lab_log_mark)
    step "create $rsc whose check never passes (op start timeout 6s: pending_timeout 4.8s)"
    t0=$(lab_now)
    lab_crm configure primitive "$rsc" "$AGENT" params command="${sv[*]}" check="exec:/bin/false" \
        dump_on_failure=true dump_dir="$dir" \
        op start timeout=6s op monitor interval=60s timeout=20s op stop timeout=20s ||
        fail "could not create $rsc"
    lab_wait_for -q -t 30 -i 0.1 "[[ -n \$(failed_of $rsc) ]]" ||
        fail "no failed start of $rsc within 30 s (state: $(lab_rsc_state "$rsc"))"
    t_fail=$(ms_since "$t0")
    lab_wait_for -q -t 20 -i 0.1 lab_rsc_is "$rsc" Stopped ||
        fail "$rsc not Stopped after its failed start (state: $(lab_rsc_state "$rsc"))"
    failed=$(failed_of "$rsc")
    wlines "$mark" "$rsc" | grep -E ' (start|stop|dump): ' | sed 's/^/    log: /' >&2 || true
    note "failed actions: ${failed//$'\n'/; }"
    timing "start: the start failed $(fmt_ms "$t_fail") s after the primitive was created (op start timeout 6s)"
    grep -q "^${rsc}_start_0 .* rc=1 " <<< "$failed" || fail "no failed start (rc 1) of $rsc: $failed"
    dumpf=$(stacks_of "$dir" "$rsc" start-timeout | tail -n 1)
    [[ -n $dumpf ]] || fail "no $rsc-*-start-timeout.stacks in $dir (there: $(dir_list "$dir"))"
    note "dump: $dumpf"
    check_dump_file "$dumpf" "$rsc" start-timeout
    grep -q '^== process [0-9]* (sleep), state S' "$dumpf" || fail "the service's sleep is not in $dumpf"
    grep -q "reason=start ran over pending_timeout .*; dump in " <<< "$failed" ||
        fail "the failed start's exit reason does not say where the dump is: $failed"
    # The whole path, when Pacemaker kept it (it keeps 128 characters).
    if grep -qF "dump in $dumpf" <<< "$failed"; then
        note "the exit reason names the dump: $dumpf"
    else
        note "the exit reason has 'dump in' but not the whole path (Pacemaker cut it): $failed"
    fi
    local n_dump n_kill
    n_dump=$(lab_log_first "$mark" "warden-daemon($rsc)" " start: " "dump written to $dumpf") ||
        fail "no start line 'dump written to $dumpf'"
    note "the start logged 'dump written to' at line $n_dump after the mark"
    remove "$rsc" "${sv[@]}"
}

# 7. A check that answers "not healthy" (not a hang): a check-failed dump.
scenario_checkfail() {
    local rsc=d-checkfail dir=$WORK/dumps-checkfail flag=$WORK/checkfail.flag main t0 t_dump t_rec dumpf
    local -a sv=(/bin/sleep 100901)
    our_argv "${sv[@]}"
    rm -f "$flag"
    create "$rsc" params command="${sv[*]}" check="exec:/bin/sh -c '! test -e $flag'" \
        check_interval=1s check_timeout=1s dump_on_failure=true dump_dir="$dir" \
        op monitor interval=60s timeout=20s op stop timeout=20s
    main=$(main_pid "$rsc")
    sleep 2
    [[ $(lab_failcount "$rsc") == 0 ]] || fail "$rsc failed before its check was made to fail"
    mark=$(lab_log_mark)
    step "make $rsc's check fail (create $flag; check every 1s)"
    touch "$flag"
    t0=$(lab_now)
    lab_wait_for -q -t 10 -i 0.02 new_stacks "$dir" "$rsc" check-failed "" >/dev/null ||
        fail "no $rsc-*-check-failed.stacks in $dir within 10 s (there: $(dir_list "$dir"))"
    t_dump=$(ms_since "$t0")
    rm -f "$flag"                # so that the restarted instance is healthy
    dumpf=$(new_stacks "$dir" "$rsc" check-failed "")
    lab_wait_for -q -t 20 -i 0.1 new_main_runs "$rsc" "$main" ||
        fail "no new main process of $rsc (state: $(lab_rsc_state "$rsc"))"
    lab_wait_for -q -t 10 -i 0.1 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started again (state: $(lab_rsc_state "$rsc"))"
    t_rec=$(ms_since "$t0")
    wlines "$mark" "$rsc" | grep -E ' (keeper|dump|stop): ' | sed 's/^/    log: /' >&2 || true
    timing "checkfail: dump file $(fmt_ms "$t_dump") s, recovered $(fmt_ms "$t_rec") s after the check began to fail"
    note "dump: $dumpf"
    failcount_settles "$rsc" 1
    check_dump_file "$dumpf" "$rsc" check-failed
    check_process_dumped "$dumpf" "$main" S sleep
    log_order "$mark" "$rsc" "$dumpf" check-failed
    remove "$rsc" "${sv[@]}"
}

# 8. notify_cluster=false: Pacemaker learns of the hang from its next
# monitor, not from a push; the dump must still be written, and the
# monitor's exit reason (the keeper's verdict) must say where it is.
scenario_nopush() {
    local rsc=d-nopush dir=$WORK/dumps-nopush port t0 t_failed t_rec failed dumpf frozen
    port=$(lab_free_port) || fail "could not find a free port"
    responder_params "$port"
    create "$rsc" params "${rparams[@]}" notify_cluster=false dump_on_failure=true dump_dir="$dir" \
        op monitor interval=3s timeout=20s op stop timeout=20s
    healthy_once "$rsc" "$port"
    frozen=$(main_pid "$rsc")
    mark=$(lab_log_mark)
    step "SIGSTOP $rsc's main process $frozen (notify_cluster=false; monitor every 3 s)"
    kill -STOP "$frozen"
    t0=$(lab_now)
    lab_wait_for -q -t 20 -i 0.05 "[[ \$(lab_failcount $rsc) != 0 ]]" ||
        fail "no failure of the frozen $rsc found within 20 s"
    t_failed=$(ms_since "$t0")
    lab_wait_for -q -t 20 -i 0.1 new_main_runs "$rsc" "$frozen" ||
        fail "no new main process of $rsc (state: $(lab_rsc_state "$rsc"))"
    lab_wait_for -q -t 10 -i 0.1 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started again (state: $(lab_rsc_state "$rsc"))"
    t_rec=$(ms_since "$t0")
    failed=$(failed_of "$rsc")
    wlines "$mark" "$rsc" | grep -E ' (keeper|dump|monitor|stop): ' | sed 's/^/    log: /' >&2 || true
    note "failed actions: ${failed//$'\n'/; }"
    timing "nopush: failure found by a monitor $(fmt_ms "$t_failed") s, recovered $(fmt_ms "$t_rec") s after SIGSTOP"
    grep -q "^${rsc}_monitor_3000 .* rc=1 " <<< "$failed" || fail "no failed monitor (rc 1) of $rsc: $failed"
    dumpf=$(stacks_of "$dir" "$rsc" hung | tail -n 1)
    [[ -n $dumpf ]] ||
        fail "no $rsc-*-hung.stacks in $dir: with notify_cluster=false the hang was reported by a monitor without a dump (there: $(dir_list "$dir"))"
    note "dump: $dumpf"
    check_dump_file "$dumpf" "$rsc" hung
    check_process_dumped "$dumpf" "$frozen" T python3
    grep -q "reason=dump in .*; hung: " <<< "$failed" ||
        fail "the failed monitor's exit reason does not say where the dump is: $failed"
    if grep -qF "dump in $dumpf" <<< "$failed"; then
        note "the exit reason names the dump: $dumpf"
    else
        note "the exit reason has 'dump in' but not the whole path (Pacemaker keeps 128 characters)"
    fi
    remove "$rsc" "${svc[@]}"
}

# 9. A monitor during the dump: the keeper must not let Pacemaker learn of
# the failure (and stop the service) before the dump is written. A service
# of 40 processes makes the dump take a second or two; a monitor runs every
# second, so one surely comes while the dump is being written.
scenario_monitor() {
    local rsc=d-monitor dir=$WORK/dumps-monitor port t0 frozen failed dumpf n_written n_error n_stop left
    port=$(lab_free_port) || fail "could not find a free port"
    svc=("$PY" "$WORK/responder.py" "$port")
    our_argv "${svc[@]}"
    our_argv sleep 100801
    # shellcheck disable=SC2016 # for the service's shell
    create "$rsc" params shell=true \
        command='for i in $(seq 40); do sleep 100801 & done; exec '"${svc[*]}" \
        check="exec:$WORK/probe.sh $port" check_interval=3s check_timeout=1s \
        dump_on_failure=true dump_dir="$dir" \
        op monitor interval=1s timeout=20s op stop timeout=20s
    healthy_once "$rsc" "$port"
    frozen=$(main_pid "$rsc")
    mark=$(lab_log_mark)
    step "SIGSTOP $rsc's main process $frozen (40 more processes to dump; monitor every 1 s)"
    kill -STOP "$frozen"
    t0=$(lab_now)
    lab_wait_for -q -t 20 -i 0.05 "[[ \$(lab_failcount $rsc) != 0 ]]" ||
        fail "no failure of the frozen $rsc found within 20 s"
    lab_wait_for -q -t 20 -i 0.1 new_main_runs "$rsc" "$frozen" ||
        fail "no new main process of $rsc (state: $(lab_rsc_state "$rsc"))"
    lab_wait_for -q -t 10 -i 0.1 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started again (state: $(lab_rsc_state "$rsc"))"
    timing "monitor: recovered $(fmt_ms "$(ms_since "$t0")") s after SIGSTOP"
    sleep 1
    failed=$(failed_of "$rsc")
    lab_log_since "$mark" | grep -E "warden-daemon\\($rsc\\)\\[[0-9]+\\] (keeper|dump|stop): |(Result of|Initiating) (monitor|stop) operation (for )?$rsc" |
        grep -v 'monitor operation for .*: ok' | cut -c1-220 | sed 's/^/    log: /' >&2 || true
    note "failed actions: ${failed//$'\n'/; }"
    dumpf=$(stacks_of "$dir" "$rsc" hung | tail -n 1)
    [[ -n $dumpf ]] || fail "no $rsc-*-hung.stacks in $dir (there: $(dir_list "$dir"))"
    note "dump: $dumpf ($(grep -c '^== process .*, state ' "$dumpf") processes in it)"
    n_written=$(lab_log_first "$mark" "warden-daemon($rsc)" " dump: " "of $rsc (hung) to $dumpf") ||
        fail "no dump helper line 'dumped N process(es) of $rsc (hung) to $dumpf'"
    n_error=$(lab_log_first "$mark" "Result of monitor operation for $rsc on " ": error") || n_error=
    n_stop=$(lab_log_first "$mark" "Initiating stop operation ${rsc}_stop_0") ||
        fail "no stop of $rsc in the log"
    [[ -z $n_error ]] || (( n_written < n_error )) ||
        fail "a monitor reported the failure (log line $n_error) before the dump was written (line $n_written): the keeper published its failed verdict before the dump"
    (( n_written < n_stop )) ||
        fail "Pacemaker stopped $rsc (log line $n_stop) before the dump was written (line $n_written)"
    if [[ -n $n_error ]]; then
        # The monitor's result as the controller logged it: crm_mon keeps one
        # last failure per resource, and the keeper's push (asyncmon) may
        # land just after the monitor and take its place there.
        local result
        result=$(lab_log_since "$mark" | grep -F "Result of monitor operation for $rsc on " |
                 grep -F ': error' | head -n 1)
        [[ $result == *"(dump in "* ]] ||
            fail "the failed monitor's exit reason does not say where the dump is: $result (failed actions: $failed)"
    fi
    remove "$rsc" "${svc[@]}"
    left=$(lab_proc_find --since "$SCEN_SINCE" sleep 100801)
    [[ -z $left ]] || fail "sleep processes of $rsc left: $left"
}

# ================================================================ driver
SCENARIOS=(stacks core stopkill reload keep start checkfail nopush monitor)
declare -A RESOURCE=([stacks]=d-stacks [core]=d-core [stopkill]=d-stopkill
                     [reload]=d-reload [keep]=d-keep [start]=d-start [nopush]=d-nopush
                     [monitor]=d-monitor [checkfail]=d-checkfail)

finish() {
    local rc=$? pid
    trap - EXIT
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
    if (( ${#RESULTS[@]} )); then
        echo "===== summary" >&2
        printf '  %s\n' "${RESULTS[@]}" >&2
        [[ -r ${WORK:-/nonexistent}/timings ]] && sed 's/^/  timing: /' "$WORK/timings" >&2
    fi
    if [[ -n ${WORK:-} && -d $WORK ]]; then
        if [[ -n ${KEEP_WORK:-} ]]; then
            echo "scratch directory kept: $WORK" >&2
        else
            rm -rf "$WORK"
        fi
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

WORK=$(mktemp -d /tmp/warden-test-dump.XXXXXX)
chmod 0755 "$WORK"
: > "$WORK/timings"
write_service_files
SINCE_ALL=$(lab_ticks_now)

echo "=== cluster up" >&2
t_all=$(lab_now)
lab_up || { lab_diag; echo "FAIL: lab_up failed (see above)" >&2; exit 1; }

n=0
for name in "${SCENARIOS[@]}"; do
    n=$(( n + 1 ))
    if [[ -n ${DUMP_ONLY:-} && " $DUMP_ONLY " != *" $n "* && " $DUMP_ONLY " != *" $name "* ]]; then
        continue
    fi
    run_scenario "$n" "$name"
done

echo "=== cluster down" >&2
lab_down || { echo "FAIL: the cluster did not go down cleanly" >&2; exit 1; }
echo "timing: whole test $(lab_elapsed "$t_all") s (cluster up to down)" >&2
echo "[all] whole test $(lab_elapsed "$t_all") s" >> "$WORK/timings"
(( FAILED == 0 )) || exit 1
