#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ocf:warden:smtp, imap and pop3 against real servers: a throwaway Postfix
# instance and two throwaway Dovecot instances (imap, pop3) of this test,
# bound to 127.0.0.1 on unprivileged ports, all their files in a temp dir
# (see mail/mail-lib.sh). For each agent: meta-data, ocf-tester, bad
# parameters, start, monitor at depth 0 (recurring: the keeper's verdict)
# and at depth 10 (the protocol probe now), a frozen server (SIGSTOP of every
# process of its cgroup) found by the keeper within check_interval +
# check_timeout + 1 s with a reason naming the protocol step, stop with
# nothing left (no process, the port free), start again. Both Dovecot
# instances run side by side throughout. Output is TAP.
#
# Env: AGENT_DIR (the built agents: smtp, imap, pop3), WARDEN_LIBRARY.
# Needs root; Postfix and Dovecot are installed (scripts/deps.sh) if missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/mail/mail-lib.sh"

AGENT_DIR=${AGENT_DIR:?set AGENT_DIR to the directory of the built smtp, imap and pop3 agents}
bail() { # bail REASON: skip (77), or with WARDEN_NO_SKIP=1 fail
    if [ "${WARDEN_NO_SKIP:-}" = 1 ]; then echo "Bail out! $1, and WARDEN_NO_SKIP=1"; exit 1; fi
    echo "1..0 # SKIP $1"; exit 77
}
[ "$(id -u)" = 0 ] || bail "needs root (cgroups, /run, Postfix's main.cf)"
command -v ocf-tester >/dev/null || { echo "Bail out! ocf-tester missing: apt-get install resource-agents"; exit 1; }
for a in smtp imap pop3; do
    [ -x "$AGENT_DIR/$a" ] || { echo "Bail out! $AGENT_DIR/$a missing"; exit 1; }
done
if ! mail_have_servers; then
    echo "# Postfix or Dovecot missing: installing them (scripts/deps.sh)"
    "$here/../../scripts/deps.sh" 2>&1 | sed 's/^/# /'
    mail_have_servers || bail "Postfix and Dovecot (postfix, dovecot-imapd, dovecot-pop3d) cannot be installed"
fi

export WARDEN_STATE_DIR=$(mktemp -d /tmp/warden-agent-test.XXXXXX)
MAIL_STATE_DIR=$WARDEN_STATE_DIR
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_CHECK_LEVEL OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY
tmp=$(mktemp -d /tmp/warden-mail-test.XXXXXX)
chmod 0755 "$tmp" # Postfix and Dovecot drop privileges and must reach their files
export HA_logfile=$tmp/agent.log # the keepers log here too
# No cluster here (and if another test's lab runs, it is not ours to tell).
export OCF_RESKEY_notify_cluster=false

# The three servers. Ports: the usual test ports when free, else the kernel's pick.
smtp_port=$(mail_port 2525)
imap_port=$(mail_port 10143)
pop3_port=$(mail_port 10110)
mail_postfix_config "$tmp/postfix" "$smtp_port"
mail_dovecot_config "$tmp/imap" imap "$imap_port"
mail_dovecot_config "$tmp/pop3" pop3 "$pop3_port"
declare -A port=([smtp]=$smtp_port [imap]=$imap_port [pop3]=$pop3_port)
declare -A conf=([smtp]="config_dir=$tmp/postfix/etc" [imap]="config=$tmp/imap/dovecot.conf"
    [pop3]="config=$tmp/pop3/dovecot.conf")
# What identifies each instance's processes (see mail_instance_pids).
declare -A marks=([smtp]="$tmp/postfix/etc"
    [imap]="$tmp/imap/dovecot.conf $(mail_dovecot_name "$tmp/imap" imap)"
    [pop3]="$tmp/pop3/dovecot.conf $(mail_dovecot_name "$tmp/pop3" pop3)")
declare -A inst=([smtp]=mail-test-$$-smtp [imap]=mail-test-$$-imap [pop3]=mail-test-$$-pop3)

# on NAME: the following agent calls drive that agent and instance.
on() {
    AGENT=$AGENT_DIR/$1
    export OCF_RESOURCE_INSTANCE=${inst[$1]}
    cur=$1
}
ma() { # ma ACTION [k=v...]: agent ACTION with the instance's config and port
    local action=$1
    shift
    agent "$action" "${conf[$cur]}" port="${port[$cur]}" "$@"
}
recurring() { OCF_RESKEY_CRM_meta_interval=10000 ma monitor "$@"; }
deep() { OCF_RESKEY_CRM_meta_interval=10000 OCF_CHECK_LEVEL=10 ma monitor "$@"; }
leftovers() { # leftovers NAME: processes of that instance still alive
    # shellcheck disable=SC2086 # the marks are words
    mail_instance_pids ${marks[$1]}
}
listens() { ! mail_port_free "$1"; }
main_pid() { awk '/^main /{print $2}' "$WARDEN_STATE_DIR/${inst[$1]}/service" 2>/dev/null; }

cleanup() {
    local n
    for n in smtp imap pop3; do
        on "$n"
        mail_thaw "${inst[$n]}"
        ma stop >/dev/null 2>&1
    done
    for n in smtp imap pop3; do
        for p in $(leftovers "$n"); do kill -9 "$p" 2>/dev/null; done
    done
    mail_postfix_disallow "$tmp/postfix/etc"
    if [ -n "${KEEP_WORK:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
    rm -rf "$WARDEN_STATE_DIR"
}
trap cleanup EXIT
mail_postfix_allow "$tmp/postfix/etc"
check "Postfix accepts the test's config_dir (alternate_config_directories)" \
    bash -c 'postconf -h alternate_config_directories | grep -qF "$1"' _ "$tmp/postfix/etc"
echo "# ports: smtp ${port[smtp]}, imap ${port[imap]}, pop3 ${port[pop3]}; files in $tmp"

# ---- meta-data, validation, ocf-tester --------------------------------------------
for n in smtp imap pop3; do
    on "$n"
    agent meta-data
    expect_rc 0 "[$n] meta-data"
    check "[$n] meta-data is valid against ra-api-1.dtd" \
        bash -c 'cd /usr/share/resource-agents && xmllint --noout --valid - <<<"$1"' _ "$out"
    ma validate-all
    expect_rc 0 "[$n] its test configuration validates"
    ma validate-all port=0
    expect_rc 6 "[$n] port 0 is a configuration error"
    expect_reason "port" "[$n] the reason names the parameter"
    agent validate-all "${conf[$n]%%=*}=relative/path" port="${port[$n]}"
    expect_rc 6 "[$n] a relative ${conf[$n]%%=*} is a configuration error"
    # Whether it exists is the node's matter: 2, for start and validate-all;
    # a probe and a stop still answer from what runs.
    agent validate-all "${conf[$n]%%=*}=$tmp/missing" port="${port[$n]}"
    expect_rc 2 "[$n] a ${conf[$n]%%=*} missing on this node is bad for this node"
    expect_reason "parameter '${conf[$n]%%=*}'.*missing on this node" "[$n] the reason names it"
    agent start "${conf[$n]%%=*}=$tmp/missing" port="${port[$n]}"
    expect_rc 2 "[$n] and start refuses it alike"
    OCF_RESKEY_CRM_meta_interval=0 agent monitor "${conf[$n]%%=*}=$tmp/missing" port="${port[$n]}"
    expect_rc 7 "[$n] a probe with it answers not running"
    agent stop "${conf[$n]%%=*}=$tmp/missing" port="${port[$n]}"
    expect_rc 0 "[$n] a stop with it succeeds"
    for a in 'a b' $'10.0.0.1\nx' /etc/shadow 'tcp:[::1]:80' -bad.example 'x..y' '::1%' "'"; do
        ma validate-all address="$a"
        expect_rc 6 "[$n] address $(printf %q "$a") is a configuration error"
        expect_reason "parameter 'address'" "[$n] the reason names address, not check"
    done
    for a in 127.0.0.1 ::1 fe80::1%lo localhost mail.example.com.; do
        ma validate-all address="$a"
        expect_rc 0 "[$n] address $a validates"
    done
    ot=$(ocf-tester -n "ot-$$-$n" -o "${conf[$n]}" -o port="${port[$n]}" "$AGENT" 2>&1)
    if grep -q "passed all tests" <<<"$ot"; then
        ok "[$n] ocf-tester passes"
    else
        not_ok "[$n] ocf-tester passes"
        printf '# %s\n' "$ot" | tail -20
    fi
    check "[$n] ocf-tester left nothing running" test -z "$(leftovers "$n")"
    check "[$n] and the port ${port[$n]} free" mail_port_free "${port[$n]}"
done

# ---- start, monitor -------------------------------------------------------------
# A keeper that checks every second under a 1 s timeout: a frozen server is
# found within check_interval + check_timeout + 1 s.
fast=(check_interval=1s check_timeout=1s)
for n in smtp imap pop3; do
    on "$n"
    ma start "${fast[@]}"
    expect_rc 0 "[$n] start"
    check "[$n] the server listens on 127.0.0.1:${port[$n]}" listens "${port[$n]}"
    check "[$n] its processes are in the instance's cgroup" test -n "$(mail_cgroup_procs "${inst[$n]}")"
    check "[$n] and found by what looks for leftovers (self-check)" test -n "$(leftovers "$n")"
    OCF_RESKEY_CRM_meta_interval=0 ma monitor
    expect_rc 0 "[$n] probe (interval 0)"
    recurring
    expect_rc 0 "[$n] monitor at depth 0 (the keeper's verdict)"
    deep
    expect_rc 0 "[$n] monitor at depth 10 (the $n dialogue now)"
    ma start "${fast[@]}"
    expect_rc 0 "[$n] start of a running server is idempotent"
done
check "both Dovecot instances run side by side" \
    test -n "$(main_pid imap)" -a -n "$(main_pid pop3)" -a "$(main_pid imap)" != "$(main_pid pop3)"
check "[smtp] Postfix logged the probe's EHLO, NOOP and QUIT" grep -q "ehlo=1 noop=1 quit=1" "$tmp/postfix/maillog"

# A probe at depth 10 that looks at the wrong port says so.
on pop3
deep port="${port[imap]}"
expect_rc 1 "[pop3] a depth-10 monitor of an IMAP server fails"
expect_reason "^pop3: greeting was \\* OK" "[pop3] the reason shows the greeting it got"

# Postfix runs as "postfix-script start-fg" (the main process, a shell) with
# master as its child: a crash of master must be known at once all the same.
on smtp
old=$(main_pid smtp)
master=$(awk -v m="$old" '$4 == m { print FILENAME }' /proc/[0-9]*/stat 2>/dev/null |
    while read -r f; do
        d=${f%/stat}
        [ "$(cat "$d/comm" 2>/dev/null)" = master ] && echo "${d#/proc/}"
    done | head -1)
check "[smtp] Postfix's master runs as a child of the main process $old" test -n "$master"
kill -9 "$master"
t0=$(now_ms)
wait_until 3 bash -c '! OCF_RESKEY_CRM_meta_interval=10000 "$0" monitor >/dev/null 2>&1' "$AGENT"
t1=$(now_ms)
recurring
# Postfix's qmgr and pickup outlive their master by a moment: when they are
# still there as the main process exits, the service is half there, failed
# (1), not cleanly stopped (7); either is right, depending on that moment.
check "[smtp] after kill -9 of master: stopped (7), or failed with processes left (1): rc=$rc" \
    bash -c '[ "$1" = 7 ] || { [ "$1" = 1 ] && grep -q "other processes of the service remain" <<<"$2"; }' _ "$rc" "$err"
check "[smtp] known at once ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 900
expect_reason "service process $old exited" "[smtp] the reason names the main process"
check "[smtp] no Postfix process is left" wait_until 3 test -z "$(leftovers smtp)"
ma start "${fast[@]}"
expect_rc 0 "[smtp] start again after the crash"

# ---- reload-agent -----------------------------------------------------------------
# Pacemaker runs reload-agent when check_interval changes. The keeper's
# check is the agent's derived default (smtp:ADDRESS:PORT filled in): the
# reload must keep it.
for n in smtp imap pop3; do
    on "$n"
    ma reload-agent check_interval=2s check_timeout=1s
    expect_rc 0 "[$n] reload-agent with the derived default check"
    ma reload-agent "${fast[@]}" >/dev/null 2>&1
done

# ---- a frozen server --------------------------------------------------------------
# SIGSTOP of every process of the instance's cgroup: the listening socket
# still accepts (the kernel does that), but no greeting ever comes.
declare -A step=([smtp]="no greeting" [imap]="no greeting" [pop3]="no greeting")
limit_ms=3000 # check_interval + check_timeout + 1 s
frozen_check() { # frozen_check NAME: freeze it, expect the keeper to notice
    local n=$1 pids t0 t1 other
    on "$n"
    sleep 1.2 # a passing check of the keeper first
    recurring
    expect_rc 0 "[$n] healthy before the freeze"
    pids=$(mail_freeze "${inst[$n]}")
    t0=$(now_ms)
    echo "# [$n] froze $pids"
    wait_until 10 bash -c '! OCF_RESKEY_CRM_meta_interval=10000 "$0" monitor >/dev/null 2>&1' "$AGENT"
    t1=$(now_ms)
    recurring
    expect_rc 1 "[$n] the keeper's verdict: failed"
    check "[$n] found within check_interval + check_timeout + 1 s ($((t1 - t0)) ms, limit $limit_ms)" \
        test $((t1 - t0)) -le $limit_ms
    expect_reason "^hung: $n: ${step[$n]} within" "[$n] the keeper's reason names the protocol step"
    deep "${fast[@]}"
    expect_rc 1 "[$n] a depth-10 monitor fails too"
    expect_reason "^$n: ${step[$n]} within [0-9]" "[$n] its reason names the protocol step"
    for other in imap pop3; do
        [ "$other" = "$n" ] && continue
        on "$other"
        deep
        expect_rc 0 "[$n frozen] the other Dovecot instance ($other) still answers"
        on "$n"
    done
    # The stop: frozen processes get SIGCONT with the SIGTERM, and the
    # server ends gracefully, before the stop's SIGKILL (at pending_timeout,
    # 16 s here, less a reserve of 3 s).
    local mark
    mark=$(wc -l <"$HA_logfile")
    t0=$(now_ms)
    ma stop
    t1=$(now_ms)
    expect_rc 0 "[$n] stop of the frozen server ($((t1 - t0)) ms)"
    check "[$n] it ended by SIGTERM, not by the stop's SIGKILL" \
        bash -c '! tail -n +$(($1 + 1)) "$2" | grep -q "SIGKILL to all of it"' _ "$mark" "$HA_logfile"
    local p left=
    for p in $pids; do alive "$p" && left+=" $p"; done
    check "[$n] none of the frozen processes is left${left:+ (left:$left)}" test -z "$left"
    check "[$n] no process of the instance is left" test -z "$(leftovers "$n")"
    check "[$n] its cgroup is gone or empty" test -z "$(mail_cgroup_procs "${inst[$n]}")"
    check "[$n] the port ${port[$n]} is free" mail_port_free "${port[$n]}"
    recurring
    expect_rc 7 "[$n] monitor after the stop: not running"
    t0=$(now_ms)
    ma start "${fast[@]}"
    t1=$(now_ms)
    expect_rc 0 "[$n] start again right after ($((t1 - t0)) ms)"
    deep
    expect_rc 0 "[$n] and it answers (depth 10)"
}
frozen_check smtp
frozen_check imap
frozen_check pop3
check "[smtp] Postfix's log has no fatal error" bash -c '! grep -E "fatal|panic" "$1"' _ "$tmp/postfix/maillog"

# ---- stop all --------------------------------------------------------------------
for n in smtp imap pop3; do
    on "$n"
    ma stop
    expect_rc 0 "[$n] stop"
    check "[$n] nothing of it is left" test -z "$(leftovers "$n")"
    check "[$n] the port ${port[$n]} is free" mail_port_free "${port[$n]}"
    ma stop
    expect_rc 0 "[$n] stop again is idempotent"
done
if [ "$n_fail" -gt 0 ]; then
    echo "# the agents' log ($HA_logfile), last lines:"
    tail -n 40 "$HA_logfile" | sed 's/^/# /'
fi
finish
