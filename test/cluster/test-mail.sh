#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-mail.sh - ocf:warden:smtp, imap and pop3 in a real
# single-node cluster, each running a throwaway server of this test (Postfix,
# and two Dovecot instances side by side; 127.0.0.1, unprivileged ports,
# every file in a scratch directory: see test/agent/mail/mail-lib.sh):
#
#  1 the three primitives (monitor interval=10s; the keeper checks every 2 s
#    under a 1 s timeout) are Started, their servers listen, and
#    crm_resource --force-check answers 0 at depth 0 and at depth 10;
#  2 for each (or those in MAIL_FREEZE), in turn: SIGSTOP of every process of
#    its cgroup (the server hangs: its socket accepts, nothing answers). The
#    keeper must report it within check_interval + check_timeout + 1 s (+1 s
#    slack), and Pacemaker recover it: fail count exactly 1, a new main
#    process, Started, answering; none of the frozen processes left; the two
#    other resources untouched (same main process, fail count 0);
#  3 crm resource stop of all three: Stopped, no process of any server left,
#    the ports free; then deleted.
#
# If another test's cluster runs on this machine, this test waits for it to
# end (up to MAIL_LAB_WAIT seconds, default 900) and never touches it.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, cluster programs missing,
# agents not installed, Postfix/Dovecot impossible to install).
# Knobs: MAIL_FREEZE="smtp imap pop3" (which to freeze), KEEP_WORK=1, LAB_*.
set -euo pipefail

LAB_DC_DEADTIME=${LAB_DC_DEADTIME:-2s}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"
# shellcheck source=../agent/mail/mail-lib.sh
. "$here/../agent/mail/mail-lib.sh"

AGENTS=/usr/lib/ocf/resource.d/warden
STATE_ROOT=/run/warden
START_TIMEOUT=30
CHECK_INTERVAL=2 CHECK_TIMEOUT=1
FREEZE=${MAIL_FREEZE:-smtp imap pop3}
LAB_WAIT=${MAIL_LAB_WAIT:-900}

skip() { lab_skip "$@"; }
fail() { lab_fail "$@"; }
step() { lab_step "$@"; }
note() { echo "    $*" >&2; }
timing() { echo "timing: $*" >&2; TIMINGS+=("$*"); }
TIMINGS=()

why=$(lab_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
for a in smtp imap pop3; do
    [[ -x $AGENTS/$a ]] || skip "ocf:warden:$a is not installed ($AGENTS/$a missing): meson install first"
done
if ! mail_have_servers; then
    step "Postfix or Dovecot missing: installing them (scripts/deps.sh)"
    "$here/../../scripts/deps.sh" >&2 || true
    mail_have_servers || skip "Postfix and Dovecot (postfix, dovecot-imapd, dovecot-pop3d) cannot be installed"
fi

declare -A rsc=([smtp]=m-smtp [imap]=m-imap [pop3]=m-pop3)
declare -A port conf marks
seen_pids=()

finish() {
    local rc=$? n p
    trap - EXIT
    set +e
    if lab_started_here; then
        for n in smtp imap pop3; do mail_thaw "${rsc[$n]}"; done
    fi
    if ! lab_down_if_started; then
        echo "FAIL: lab teardown left processes running" >&2
        rc=1
    fi
    # Never leave a server of ours behind, even after a failure.
    if [[ -n ${WORK:-} ]]; then
        for n in smtp imap pop3; do
            [[ -n ${marks[$n]:-} ]] || continue
            # shellcheck disable=SC2086
            for p in $(mail_instance_pids ${marks[$n]}); do
                echo "killing leftover $n process $p: $(lab_proc_cmdline "$p")" >&2
                kill -KILL "$p" 2>/dev/null
                rc=1
            done
        done
        mail_postfix_disallow "$WORK/postfix/etc"
        [[ -n ${KEEP_WORK:-} ]] || rm -rf "$WORK"
    fi
    if (( ${#TIMINGS[@]} )); then
        echo "===== timings" >&2
        printf '  %s\n' "${TIMINGS[@]}" >&2
    fi
    case $rc in 0|77) ;; *) rc=1 ;; esac
    (( rc == 0 )) && echo "PASS: $(basename "$0")" >&2
    exit $rc
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
# main_of NAME: the live main process of NAME's resource (from warden's state).
main_of() {
    local p st
    read -r _ p st < <(grep '^main ' "$STATE_ROOT/${rsc[$1]}/service" 2>/dev/null) || return 1
    lab_proc_alive "$p" "$st" || return 1
    echo "$p"
}
new_main_runs() { local p; p=$(main_of "$1") && [[ $p != "$2" ]]; }
listens() { ! mail_port_free "$1"; }
# left NAME: processes of NAME's server still alive (cgroup, and a /proc walk).
left() {
    { mail_cgroup_procs "${rsc[$1]}"
      # shellcheck disable=SC2086
      mail_instance_pids ${marks[$1]}; } | sort -un
}
# force_check NAME [LEVEL]: crm_resource --force-check; prints its exit code.
force_check() {
    local rc=0
    env -u CIB_file crm_resource --resource "${rsc[$1]}" --force-check${2:+=$2} >/dev/null 2>&1 || rc=$?
    echo "$rc"
}
# greets NAME: the server on NAME's port sends its greeting.
greets() {
    local line
    { exec 3<>"/dev/tcp/127.0.0.1/${port[$1]}"; } 2>/dev/null || return 1
    read -r -t 3 line <&3 || { exec 3>&-; return 1; }
    exec 3>&-
    case $1 in smtp) [[ $line == 220* ]] ;; imap) [[ $line == "* OK"* ]] ;; pop3) [[ $line == "+OK"* ]] ;; esac
}

# wait_for_free_machine: no cluster daemon runs and no lab is recorded here.
machine_free() { [[ -z $(lab_running_daemons) && ! -s $LAB_STATE/pids ]]; }

# ---------------------------------------------------------------- the lab
WORK=$(mktemp -d /tmp/warden-test-mail.XXXXXX)
chmod 0755 "$WORK"
if ! machine_free; then
    step "another cluster runs on this machine: waiting for it to end (up to ${LAB_WAIT}s)"
fi
t0=$(lab_now)
while :; do
    lab_wait_for -q -t "$LAB_WAIT" -i 2 machine_free || fail "the machine is still busy with another cluster after ${LAB_WAIT}s"
    rc=0
    lab_up || rc=$?
    (( rc == 0 )) && break
    (( rc == 2 )) || fail "lab_up failed (see above)"
    (( $(lab_now) - t0 < LAB_WAIT * 1000 )) || fail "the machine is still busy after ${LAB_WAIT}s"
    note "another cluster came first: waiting again"
done

# ---------------------------------------------------------------- servers
# Ports picked once the lab is ours, right before use: the usual test ports
# plus one (the agent test takes 2525, 10143, 10110), else the kernel's pick.
port[smtp]=$(mail_port 2526)
port[imap]=$(mail_port 10144)
port[pop3]=$(mail_port 10111)
mail_postfix_config "$WORK/postfix" "${port[smtp]}"
mail_dovecot_config "$WORK/imap" imap "${port[imap]}"
mail_dovecot_config "$WORK/pop3" pop3 "${port[pop3]}"
conf[smtp]="config_dir=$WORK/postfix/etc"
conf[imap]="config=$WORK/imap/dovecot.conf"
conf[pop3]="config=$WORK/pop3/dovecot.conf"
marks[smtp]="$WORK/postfix/etc"
marks[imap]="$WORK/imap/dovecot.conf $(mail_dovecot_name "$WORK/imap" imap)"
marks[pop3]="$WORK/pop3/dovecot.conf $(mail_dovecot_name "$WORK/pop3" pop3)"
mail_postfix_allow "$WORK/postfix/etc"
note "servers: smtp ${port[smtp]}, imap ${port[imap]}, pop3 ${port[pop3]}; files in $WORK"

# ---------------------------------------------------------------- 1. start
step "create m-smtp, m-imap, m-pop3 (monitor interval 10s; check every ${CHECK_INTERVAL}s, timeout ${CHECK_TIMEOUT}s)"
t0=$(lab_now)
for n in smtp imap pop3; do
    lab_crm configure primitive "${rsc[$n]}" "ocf:warden:$n" \
        params "${conf[$n]}" port="${port[$n]}" \
        check_interval="${CHECK_INTERVAL}s" check_timeout="${CHECK_TIMEOUT}s" \
        op start timeout=30s op stop timeout=30s op monitor interval=10s timeout=20s ||
        fail "could not create ${rsc[$n]}"
done
for n in smtp imap pop3; do
    lab_wait_for -t "$START_TIMEOUT" lab_rsc_is "${rsc[$n]}" Started "$LAB_NODE" ||
        fail "${rsc[$n]} not Started (state: $(lab_rsc_state "${rsc[$n]}"))"
done
timing "all three Started $(lab_elapsed "$t0") s after crm configure"
for n in smtp imap pop3; do
    lab_wait_for -q -t 5 -i 0.1 main_of "$n" >/dev/null || fail "${rsc[$n]} Started but no live main process"
    listens "${port[$n]}" || fail "nothing listens on ${port[$n]} for ${rsc[$n]}"
    greets "$n" || fail "the $n server on ${port[$n]} does not greet"
    [[ $(force_check "$n") == 0 ]] || fail "crm_resource --force-check of ${rsc[$n]} is $(force_check "$n"), expected 0"
    [[ $(force_check "$n" 10) == 0 ]] || fail "crm_resource --force-check=10 of ${rsc[$n]} is not 0"
    [[ $(lab_failcount "${rsc[$n]}") == 0 ]] || fail "fail count of ${rsc[$n]} is not 0 after its start"
    note "${rsc[$n]}: main pid $(main_of "$n"), $(mail_cgroup_procs "${rsc[$n]}" | wc -l) processes in $(mail_cgroup "${rsc[$n]}"), force-check 0 at depth 0 and 10"
done

# ---------------------------------------------------------------- 2. freeze
freeze() {
    local n=$1 r=${rsc[$1]} old pids t0 t_fail t_rec limit mark o fc
    local -A others_main=()
    for o in smtp imap pop3; do [[ $o == "$n" ]] || others_main[$o]=$(main_of "$o"); done
    old=$(main_of "$n") || fail "$r has no main process before the freeze"
    sleep $(( CHECK_INTERVAL + 1 ))          # a passing check of the keeper first
    [[ $(lab_failcount "$r") == 0 ]] || fail "$r failed before it was frozen"
    mark=$(lab_log_mark)
    step "freeze $r: SIGSTOP all of its cgroup"
    pids=$(mail_freeze "$r") || fail "no process in $r's cgroup"
    seen_pids+=($pids)
    t0=$(lab_now)
    note "frozen: $pids (main $old)"
    lab_wait_for -q -t 20 -i 0.05 "[[ \$(lab_failcount $r) != 0 ]]" || fail "no failure of the frozen $r within 20 s"
    t_fail=$(( $(lab_now) - t0 ))
    # The fail count is what is timed: on Pacemaker 2.1.5 warden-push first
    # proves attrd has delivered everything (a barrier) and settles the
    # count before and after the push, a few attrd round trips more.
    limit=$(( (CHECK_INTERVAL + CHECK_TIMEOUT + 1 + 2) * 1000 ))
    timing "[$n] failure reported $(( t_fail ))ms after SIGSTOP (limit ${limit}ms = interval + timeout + 1 s + 2 s slack)"
    (( t_fail <= limit )) || fail "the frozen $r was reported after ${t_fail}ms, over ${limit}ms"
    lab_wait_for -q -t 40 -i 0.1 new_main_runs "$n" "$old" || fail "$r: no new main process within 40 s"
    lab_wait_for -q -t 20 -i 0.1 lab_rsc_is "$r" Started "$LAB_NODE" || fail "$r not Started again"
    t_rec=$(( $(lab_now) - t0 ))
    timing "[$n] recovered (new main pid $(main_of "$n"), Started) $(( t_rec ))ms after SIGSTOP"
    lab_wait_for -q -t 5 -i 0.2 greets "$n" || fail "the new $n server does not greet"
    local p stale=''
    for p in $pids; do lab_proc_alive "$p" && stale+=" $p"; done
    [[ -z $stale ]] || fail "frozen processes of $r still alive:$stale"
    # fail count exactly 1, and still 1 a moment later
    lab_wait_for -q -t 8 -i 0.1 "[[ \$(lab_failcount $r) == 1 ]]" || fail "fail count of $r is $(lab_failcount "$r"), expected 1"
    sleep 1.5
    fc=$(lab_failcount "$r")
    [[ $fc == 1 ]] || fail "fail count of $r became $fc"
    [[ $(force_check "$n") == 0 ]] || fail "crm_resource --force-check of the recovered $r is not 0"
    note "failed actions: $(lab_failed_actions --list | grep "^${r}_" | paste -sd';')"
    local line
    line=$(lab_log_since "$mark" | grep -F "warden-$n($r)" | grep -F 'keeper:' | grep -F 'failure:' | head -1)
    [[ -n $line ]] || fail "no keeper failure line for $r in $LAB_LOG/pacemaker.log"
    note "keeper: ${line#*keeper: }"
    [[ $line == *"$n: no greeting within"* ]] ||
        note "(the keeper's reason does not name the $n protocol step: its hang timer fired before the probe's own deadline)"
    for o in "${!others_main[@]}"; do
        [[ $(main_of "$o") == "${others_main[$o]}" ]] || fail "${rsc[$o]} was restarted too (main ${others_main[$o]} -> $(main_of "$o"))"
        [[ $(lab_failcount "${rsc[$o]}") == 0 ]] || fail "${rsc[$o]} has fail count $(lab_failcount "${rsc[$o]}")"
    done
    note "the other resources were untouched"
    lab_rsc_cleanup "$r" || true
    lab_wait_for -q -t 10 -i 0.2 "[[ \$(lab_failcount $r) == 0 ]]" || fail "fail count of $r not cleared"
}
for n in $FREEZE; do
    [[ -n ${rsc[$n]:-} ]] || fail "MAIL_FREEZE: unknown agent '$n'"
    freeze "$n"
done

# ---------------------------------------------------------------- 3. stop, delete
step "stop all three"
t0=$(lab_now)
lab_crm resource stop m-smtp m-imap m-pop3 || fail "crm resource stop failed"
for n in smtp imap pop3; do
    lab_wait_for -t "$START_TIMEOUT" lab_rsc_is "${rsc[$n]}" Stopped || fail "${rsc[$n]} not Stopped"
done
timing "all three Stopped $(lab_elapsed "$t0") s after crm resource stop"
for n in smtp imap pop3; do
    lab_wait_for -q -t 3 -i 0.1 "[[ -z \$(left $n) ]]" || fail "${rsc[$n]} is Stopped but processes are left: $(left "$n" | paste -sd' ')"
    mail_port_free "${port[$n]}" || fail "port ${port[$n]} of ${rsc[$n]} is still in use"
    [[ ! -e $STATE_ROOT/${rsc[$n]}/service ]] || fail "$STATE_ROOT/${rsc[$n]}/service still exists"
done
stale=''
for p in "${seen_pids[@]}"; do lab_proc_alive "$p" && stale+=" $p"; done
[[ -z $stale ]] || fail "processes frozen earlier are alive:$stale"
note "nothing left: no process of the three servers, ports ${port[smtp]} ${port[imap]} ${port[pop3]} free"
step "delete"
for n in smtp imap pop3; do
    lab_rsc_cleanup "${rsc[$n]}" || true
    lab_crm configure delete "${rsc[$n]}" || fail "crm configure delete ${rsc[$n]} failed"
done
for n in smtp imap pop3; do
    lab_wait_for -t 15 lab_rsc_is "${rsc[$n]}" Absent || fail "${rsc[$n]} still configured"
done
