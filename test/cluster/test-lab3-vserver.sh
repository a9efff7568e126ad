#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-lab3-vserver.sh - an "EXRES virtual server" failing over
# between three real nodes (lab3.sh): a group "vs" of ocf:heartbeat:IPaddr2
# (LAB3_VIP), ocf:warden:smtp (Postfix) and ocf:warden:imap (Dovecot), both
# listening on and probing the virtual address, migration-threshold=3,
# dump_on_failure=true (see vserver.sh). Scenarios, in one lab:
#   1 crash-smtp   kill -9 Postfix's master three times: restarted in place
#                  twice (fail count 1, 2), the third time the group fails
#                  over to another node (fail count 3 where it failed) and
#                  answers on the virtual address there;
#   2 node-crash   crash the node running the group: it runs on a survivor;
#                  the node reboots and rejoins, and the group stays put;
#   3 freeze       SIGSTOP Dovecot: the keeper's IMAP probe finds it hung, the
#                  dump is written on that node (and no other), Dovecot is
#                  recovered in place (fail count 1), nothing frozen survives;
#   4 stubborn     a fourth member that ignores SIGTERM: "crm node standby"
#                  moves the group; its stop escalates to SIGKILL and succeeds:
#                  no failed action, no fencing;
#   5 keeper-kill  kill -9 a keeper: the next monitor starts a new one; the
#                  service is not restarted, nothing fails.
# After each: no process of the group's instances on a node where they are
# not running (cgroups, warden's state, Postfix/Dovecot processes), fail
# counts exactly as the scenario made them, no failed action it did not
# cause; then the failures are cleaned up. Timings are logged, not asserted.
#
# Exit status: 0 pass, 1 fail, 77 skip (WARDEN_NO_SKIP=1 turns a skip into a
# failure). The lab is torn down from an EXIT trap whatever happens.
# Knobs: VSERVER_KEEP_WORK=1 (keep the mail servers' directory), LAB3_*.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab3.sh
. "$here/lab3.sh"
# shellcheck source=../agent/mail/mail-lib.sh
. "$here/../agent/mail/mail-lib.sh"
# shellcheck source=vserver.sh
. "$here/vserver.sh"

AGENTS=/usr/lib/ocf/resource.d
STUBBORN=vs-stubborn
STUBBORN_ARGV=(sleep 1000001)
MEMBERS=("${VS_MEMBERS[@]}")      # the group's members now
TIMINGS=()

skip() { lab_skip "$@"; }
fail() { lab3_fail "[$SCEN] $*"; }
step() { lab_step "[$SCEN] $*"; }
note() { echo "    $*" >&2; }
timing() { echo "timing: [$SCEN] $*" >&2; TIMINGS+=("[$SCEN] $*"); }
SCEN=setup

finish() {
    local rc=$? n
    trap - EXIT
    set +e
    if lab3_started_here; then
        # thaw whatever a failed scenario left frozen, so the stop is quick
        for n in $(lab3_live_nodes); do vs_in "$n" signal CONT "$VS_IMAP" >/dev/null 2>&1; done
    fi
    if ! lab3_down_if_started; then
        echo "FAIL: lab3 teardown left something behind" >&2
        rc=1
    fi
    vs_release
    if [[ -n ${WORK:-} && -z ${VSERVER_KEEP_WORK:-} ]]; then rm -rf "$WORK"; fi
    if (( ${#TIMINGS[@]} )); then
        echo "===== timings" >&2
        printf '  %s\n' "${TIMINGS[@]}" >&2
    fi
    case $rc in 0|77) ;; *) rc=1 ;; esac
    (( rc == 0 )) && echo "PASS: $(basename "$0")" >&2
    exit "$rc"
}

why=$(lab3_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
[[ -x $AGENTS/heartbeat/IPaddr2 ]] || skip "ocf:heartbeat:IPaddr2 is missing (package resource-agents)"
for a in smtp imap daemon; do
    [[ -x $AGENTS/warden/$a ]] || skip "ocf:warden:$a is not installed: meson install first"
done
if ! mail_have_servers; then
    "$here/../../scripts/deps.sh" >&2 || true
    mail_have_servers || skip "Postfix and Dovecot (postfix, dovecot-imapd) cannot be installed"
fi

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers --
# others NODE...: the live nodes that are none of NODE...
others() {
    local n x
    for n in $(lab3_live_nodes); do
        for x in "$@"; do [[ $n == "$x" ]] && continue 2; done
        echo "$n"
    done
}

# main_on NODE RSC: RSC's live main process on NODE.
main_on() { vs_in "$1" main "$2"; }

# restarted_on NODE RSC OLD: RSC runs on NODE with a main process other than
# OLD, and the group answers on the virtual address.
# shellcheck disable=SC2119 # _vs_running without nodes to avoid
restarted_on() {
    local m
    m=$(main_on "$1" "$2") && [[ $m != "$3" ]] && _vs_running && [[ $VS_NODE == "$1" ]]
}

# wait_failcount RSC NODE N: RSC's fail count on NODE reaches N (bounded).
wait_failcount() {
    lab_wait_for -q -t 20 -i 0.1 "[[ \$(lab3_failcount $1 $2) == $3 ]]" ||
        fail "fail count of $1 on $2 is $(lab3_failcount "$1" "$2"), expected $3"
}

# check_after [RSC@NODE=N...]: the checks after every scenario. Fail counts:
# N for each RSC@NODE given, 0 for every other member on every node; failed
# actions: only monitor failures of the RSC@NODE given; nothing of a member
# left on a node where it is not running. Then clean the failures up.
check_after() {
    local -A want=()
    local e n r fc line where leftovers addrs
    for e in "$@"; do want[${e%=*}]=${e#*=}; done
    for r in "${MEMBERS[@]}"; do
        for n in $(lab3_live_nodes); do
            fc=$(lab3_failcount "$r" "$n") || fail "crm_mon does not answer"
            [[ $fc == "${want[$r@$n]:-0}" ]] ||
                fail "fail count of $r on $n is $fc, expected ${want[$r@$n]:-0}"
        done
    done
    while read -r line; do
        [[ -n $line ]] || continue
        local ok=0
        for e in "${!want[@]}"; do
            [[ $line == "${e%@*}_"*" node=${e#*@} "* ]] && ok=1
        done
        (( ok )) || fail "a failed action this scenario did not cause: $line"
        note "failed action (expected): $line"
    done < <(lab3_failed_actions --list)
    where=$(vs_where) || fail "the group does not run on one node: $(lab3_rsc_state "$VS_IP")"
    for n in $(lab3_live_nodes); do
        [[ $n == "$where" ]] && continue
        for r in "${MEMBERS[@]}"; do
            [[ $r == "$VS_IP" ]] && continue
            # shellcheck disable=SC2046 # the marks are words
            if ! leftovers=$(vs_in "$n" leftovers "$r" $(vs_marks)); then
                fail "$r runs on $where, but on $n there is left: $(paste -sd';' <<< "$leftovers")"
            fi
        done
        if [[ -n $(vs_in "$n" find "${STUBBORN_ARGV[@]}") ]]; then
            fail "the stubborn service's '${STUBBORN_ARGV[*]}' is left on $n"
        fi
        addrs=$(lab3_exec "$n" ip -o -4 addr show dev eth0) || fail "no eth0 on $n"
        [[ $addrs != *" $LAB3_VIP/"* ]] || fail "$LAB3_VIP is on $n too"
    done
    note "checked: fail counts, failed actions, nothing left on $(others "$where" | paste -sd' ')"
    lab3_exec "$where" env -u CIB_file crm_resource --cleanup --resource "$VS_GROUP" >/dev/null 2>&1 ||
        fail "crm_resource --cleanup failed"
    lab_wait_for -q -t 15 -i 0.2 "[[ \$(lab3_failed_actions --count) == 0 ]]" ||
        fail "failed actions left after the cleanup: $(lab3_failed_actions --list)"
}

# ------------------------------------------------------------------ setup --
step "lab3 up: 3 nodes"
rc=0
lab3_up 3 || rc=$?
case $rc in
    0) ;;
    2) skip "a 3-node lab cannot run here (see above)" ;;
    3) fail "an earlier lab3 was not torn down (see above; test/cluster/lab3.sh down clears it)" ;;
    *) fail "lab3_up failed (see above)" ;;
esac
WORK=$(mktemp -d /tmp/warden-vserver.XXXXXX)
vs_prepare "$WORK"
step "the group: $VS_IP ($LAB3_VIP), $VS_SMTP (:$VS_SMTP_PORT), $VS_IMAP (:$VS_IMAP_PORT)"
t0=$(lab_now)
vs_configure warden migration-threshold=3 resource-stickiness=100 || fail "could not configure the group"
vs_wait_running -t 60 || fail "the group does not run on one node and answer (state: $(lab3_rsc_state "$VS_SMTP"))"
timing "group Started on $VS_NODE, answering on $LAB3_VIP, $(lab_elapsed "$t0") s after crm configure"
check_after

# ------------------------------------------------------- 1. crash SMTP x3 --
SCEN=1-crash-smtp
home=$VS_NODE
for i in 1 2 3; do
    old=$(main_on "$home" "$VS_SMTP") || fail "no main process of $VS_SMTP on $home"
    sleep 1    # a moment of calm between two crashes
    step "crash $i: kill -9 Postfix's master on $home"
    t0=$(lab_now)
    vs_in "$home" signal KILL "$VS_SMTP" master >/dev/null || fail "no Postfix master in $VS_SMTP's cgroup"
    wait_failcount "$VS_SMTP" "$home" "$i"
    t_fail=$(lab_elapsed "$t0")
    if (( i < 3 )); then
        lab_wait_for -q -t 40 -i 0.1 restarted_on "$home" "$VS_SMTP" "$old" ||
            fail "$VS_SMTP not restarted on $home (state: $(lab3_rsc_state "$VS_SMTP"))"
        timing "crash $i: fail count $i after $t_fail s, restarted on $home and answering after $(lab_elapsed "$t0") s"
    else
        vs_wait_running -t 60 "$home" ||
            fail "the group did not fail over from $home (state: $(lab3_rsc_state "$VS_SMTP"))"
        timing "crash 3: fail count 3 after $t_fail s, group failed over $home -> $VS_NODE and answering after $(lab_elapsed "$t0") s"
    fi
done
for r in "$VS_SMTP" "$VS_IMAP"; do
    # a monitor at depth 10 runs the agent's protocol probe now, on the node
    lab3_exec "$VS_NODE" env -u CIB_file crm_resource --resource "$r" --force-check=10 >/dev/null 2>&1 ||
        fail "the probe of $r does not pass on $VS_NODE (crm_resource --force-check=10)"
done
note "the probes of $VS_SMTP and $VS_IMAP pass on $VS_NODE, on $LAB3_VIP"
check_after "$VS_SMTP@$home=3"

# -------------------------------------------------------- 2. node crash --
SCEN=2-node-crash
victim=$VS_NODE
step "crash $victim, which runs the group"
t0=$(lab_now)
lab3_crash "$victim" || fail "lab3_crash $victim failed"
vs_wait_running -t 60 "$victim" || fail "the group does not run on a survivor (state: $(lab3_rsc_state "$VS_SMTP"))"
timing "group running on $VS_NODE, answering on $LAB3_VIP, $(lab_elapsed "$t0") s after $victim crashed"
survivor=$VS_NODE
step "reboot $victim"
t0=$(lab_now)
lab3_reboot "$victim" || fail "lab3_reboot $victim failed"
lab3_wait_online 3 60 || fail "$victim did not rejoin"
timing "$victim rejoined $(lab_elapsed "$t0") s after its reboot"
sleep 2   # its probes have run: the group must not have moved
vs_wait_running -t 10 || fail "the group does not run after $victim rejoined"
[[ $VS_NODE == "$survivor" ]] || fail "the group moved from $survivor to $VS_NODE when $victim rejoined"
check_after

# ----------------------------------------------------------- 3. freeze --
SCEN=3-freeze
home=$VS_NODE
old=$(main_on "$home" "$VS_IMAP") || fail "no main process of $VS_IMAP on $home"
sleep 3   # a passing check first
step "SIGSTOP every process of $VS_IMAP on $home"
t0=$(lab_now)
frozen=$(vs_in "$home" signal STOP "$VS_IMAP") || fail "no process in $VS_IMAP's cgroup on $home"
wait_failcount "$VS_IMAP" "$home" 1
timing "frozen Dovecot reported $(lab_elapsed "$t0") s after SIGSTOP (check_interval $VS_CHECK_INTERVAL, check_timeout $VS_CHECK_TIMEOUT)"
lab_wait_for -q -t 60 -i 0.1 restarted_on "$home" "$VS_IMAP" "$old" ||
    fail "$VS_IMAP not recovered on $home (state: $(lab3_rsc_state "$VS_IMAP"))"
timing "Dovecot recovered on $home, answering, $(lab_elapsed "$t0") s after SIGSTOP"
dumps=$(vs_in "$home" dumps "$VS_IMAP")
[[ -n $dumps ]] || fail "no dump of $VS_IMAP in /var/lib/warden/dumps on $home"
note "dump on $home: $dumps"
# shellcheck disable=SC2086 # one word a dump
lab3_exec "$home" grep -q dovecot $dumps || fail "the dump does not show Dovecot's processes"
for n in $(others "$home"); do
    [[ -z $(vs_in "$n" dumps "$VS_IMAP") ]] || fail "a dump of $VS_IMAP is on $n, which did not fail"
done
# shellcheck disable=SC2086 # pids
still=$(vs_in "$home" frozen $frozen)
[[ -z $still ]] || fail "frozen processes of $VS_IMAP survived the recovery: $still"
check_after "$VS_IMAP@$home=1"

# --------------------------------------------------- 4. stubborn member --
SCEN=4-stubborn
home=$VS_NODE
step "add $STUBBORN (ignores SIGTERM; pending_timeout=3s) to the group"
vs_load "primitive $STUBBORN ocf:warden:daemon params command=\"trap '' TERM; exec ${STUBBORN_ARGV[*]}\" shell=true pending_timeout=3s dump_on_failure=true op monitor interval=10s timeout=20s op stop timeout=30s meta target-role=Stopped" ||
    fail "could not configure $STUBBORN"
lab3_crm "$home" configure modgroup "$VS_GROUP" add "$STUBBORN" || fail "could not add $STUBBORN to the group"
MEMBERS+=("$STUBBORN")
lab3_crm "$home" resource start "$STUBBORN" || fail "crm resource start $STUBBORN failed"
lab_wait_for -q -t 30 -i 0.1 "[[ \$(lab3_rsc_node $STUBBORN) == $home ]]" ||
    fail "$STUBBORN not Started on $home (state: $(lab3_rsc_state "$STUBBORN"))"
[[ -n $(vs_in "$home" find "${STUBBORN_ARGV[@]}") ]] || fail "'${STUBBORN_ARGV[*]}' does not run on $home"
declare -A logmark=()
for n in $(lab3_live_nodes); do
    logmark[$n]=$(wc -l < "$LAB3_NODES_DIR/$n/var-log-pacemaker/pacemaker.log")
done
log_since() { tail -n "+$(( ${logmark[$1]} + 1 ))" "$LAB3_NODES_DIR/$1/var-log-pacemaker/pacemaker.log"; }
# (not "others | head -n 1": under pipefail, head quitting early can kill
# the producer with SIGPIPE, and set -e end the test without a word)
by=$(others "$home")
by=${by%%$'\n'*}
step "crm node standby $home (from $by)"
t0=$(lab_now)
lab3_crm "$by" node standby "$home" || fail "crm node standby $home failed"
lab_wait_for -q -t 60 -i 0.1 "_vs_running $home && [[ \$(lab3_rsc_node $STUBBORN) == \$VS_NODE ]]" ||
    fail "the group did not move off $home (state: $(lab3_rsc_state "$STUBBORN"))"
timing "group of 4 moved $home -> $VS_NODE, answering, $(lab_elapsed "$t0") s after crm node standby"
line=$(log_since "$home" | grep -F "warden-daemon($STUBBORN)" | grep -m 1 -F 'SIGKILL') ||
    fail "no escalation to SIGKILL in $home's log for $STUBBORN"
note "$home: ${line#*]}"
(( $(lab3_failed_actions --count) == 0 )) || fail "failed actions: $(lab3_failed_actions --list)"
for n in $(lab3_live_nodes); do
    hist=$(lab3_exec "$n" env -u CIB_file stonith_admin --history='*' 2>&1) || true
    [[ $hist == *"0 events"* ]] || fail "fencing history on $n: $hist"
    if log_since "$n" | grep -E 'will be fenced|for fencing|Requesting fencing|is unclean'; then
        fail "$n's log shows a fencing request (above)"
    fi
done
note "no failed stop, no fencing request, empty fencing history on every node"
lab3_crm "$by" node online "$home" || fail "crm node online $home failed"
check_after
step "remove $STUBBORN from the group"
lab3_crm "$by" resource stop "$STUBBORN" || fail "crm resource stop $STUBBORN failed"
lab_wait_for -q -t 30 -i 0.2 "[[ \$(lab3_rsc_state $STUBBORN) == Stopped ]]" || fail "$STUBBORN not Stopped"
lab3_crm "$by" configure delete "$STUBBORN" || fail "could not delete $STUBBORN"
unset 'MEMBERS[3]'
for n in $(lab3_live_nodes); do
    [[ -z $(vs_in "$n" find "${STUBBORN_ARGV[@]}") ]] || fail "'${STUBBORN_ARGV[*]}' left on $n"
done
check_after

# ------------------------------------------------------ 5. keeper killed --
SCEN=5-keeper-kill
home=$VS_NODE
k=$(vs_in "$home" keeper "$VS_SMTP") || fail "no keeper of $VS_SMTP on $home"
m=$(main_on "$home" "$VS_SMTP") || fail "no main process of $VS_SMTP on $home"
ki=$(vs_in "$home" keeper "$VS_IMAP") || fail "no keeper of $VS_IMAP on $home"
step "kill -9 the keeper of $VS_SMTP ($k) on $home"
t0=$(lab_now)
lab3_exec "$home" kill -KILL "$k" || fail "could not kill the keeper"
lab_wait_for -q -t 30 -i 0.1 "k2=\$(vs_in $home keeper $VS_SMTP) && [[ \$k2 != $k ]]" ||
    fail "no new keeper of $VS_SMTP on $home within 30 s (monitor interval $VS_MONITOR)"
timing "new keeper $(vs_in "$home" keeper "$VS_SMTP") $(lab_elapsed "$t0") s after the kill (monitor interval $VS_MONITOR)"
[[ $(main_on "$home" "$VS_SMTP") == "$m" ]] || fail "$VS_SMTP was restarted (main $m -> $(main_on "$home" "$VS_SMTP"))"
[[ $(vs_in "$home" keeper "$VS_IMAP") == "$ki" ]] || fail "the keeper of $VS_IMAP changed too"
vs_wait_running -t 10 || fail "the group does not answer"
[[ $VS_NODE == "$home" ]] || fail "the group moved to $VS_NODE"
check_after

# ------------------------------------------------------------- the end --
SCEN=end
step "stop and delete the group"
vs_delete || fail "could not stop and delete the group"
for n in $(lab3_live_nodes); do
    for r in "$VS_SMTP" "$VS_IMAP"; do
        # shellcheck disable=SC2046
        left=$(vs_in "$n" leftovers "$r" $(vs_marks)) || fail "left of $r on $n: $left"
    done
done
note "nothing of the group left on any node"
