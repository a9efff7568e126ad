#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sd_notify protocol (issue 13) through ocf:warden:daemon, with a small
# service of the test's own (notify-service.py, datagrams straight to
# NOTIFY_SOCKET) and a real Debian daemon that speaks it (Dovecot, built
# with libsystemd, through ocf:warden:imap): ready=notify completes a start
# at READY=1 and not before (a check that passes at once does not shortcut
# it), EXTEND_TIMEOUT_USEC= extends the wait, no READY=1 fails in
# pending_timeout with the last STATUS= in the reason and nothing left,
# MAINPID= of a forking service, a child's READY=1 refused with
# notify_access=main and heard with all, a stranger's never, the socket
# reachable by a service that runs as user=, WATCHDOG_USEC and WATCHDOG_PID,
# a missed watchdog found by the keeper within watchdog + a margin (hung,
# dumped, STATUS= in the reason). Output is TAP.
#
# Env: AGENT (the daemon agent), AGENT_DIR (imap too), WARDEN_LIBRARY.
# Needs root; run under /tmp/warden-system.lock.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/mail/mail-lib.sh"

AGENT=${AGENT:?set AGENT to the daemon agent binary}
AGENT_DIR=${AGENT_DIR:-$(dirname "$AGENT")}
bail() {
    if [ "${WARDEN_NO_SKIP:-}" = 1 ]; then echo "Bail out! $1, and WARDEN_NO_SKIP=1"; exit 1; fi
    echo "1..0 # SKIP $1"; exit 77
}
[ "$(id -u)" = 0 ] || bail "needs root (cgroups, users, /run)"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "Bail out! $PY missing (the test service)"; exit 1; }
SVC=$here/notify-service.py

export WARDEN_STATE_DIR=$(mktemp -d /tmp/warden-notify-test.XXXXXX)
chmod 0755 "$WARDEN_STATE_DIR" # as /run/warden: a service of user= reaches .notify/
export OCF_RESOURCE_INSTANCE=notify-test-$$
export OCF_RESKEY_CRM_meta_timeout=20000
export OCF_RESKEY_notify_cluster=false
unset OCF_RESKEY_CRM_meta_interval OCF_CHECK_LEVEL OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY
tmp=$(mktemp -d /tmp/warden-notify-tmp.XXXXXX)
chmod 0777 "$tmp" # the service writes its env here, as user= too
export HA_logfile=$tmp/agent.log
sock=$WARDEN_STATE_DIR/.notify/$OCF_RESOURCE_INSTANCE
state=$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE

cleanup() {
    agent stop command=/bin/true >/dev/null 2>&1
    OCF_RESOURCE_INSTANCE=notify-dovecot-$$ agent stop command=/bin/true >/dev/null 2>&1
    local p
    for p in $(pgrep -f "$SVC $tmp" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WARDEN_STATE_DIR" "$tmp"
}
trap cleanup EXIT

main_pid() { awk '/^main /{print $2}' "$state/service"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; } # seconds since a now()
ge() { [ "$(echo "$1 >= $2" | bc)" = 1 ]; }
le() { [ "$(echo "$1 <= $2" | bc)" = 1 ]; }
nothing_left() { ! pgrep -f "$SVC $tmp" >/dev/null && [ ! -e "$state/service" ] && [ ! -e "$sock" ]; }
# A depth-0 recurring monitor: the keeper's verdict.
monitor() { OCF_RESKEY_CRM_meta_interval=10000 agent monitor "$@"; }

# ---- meta-data and bad values --------------------------------------------------------
agent meta-data
for p in ready watchdog notify_access; do
    check "meta-data declares $p" grep -q "parameter name=\"$p\"" <<<"$out"
done
md11=$(OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 "$AGENT" meta-data)
check "OCF 1.1 meta-data gives ready's accepted forms" grep -q '<option value="notify"' <<<"$md11"
check "OCF 1.1 meta-data gives notify_access's accepted forms" grep -q '<option value="all"' <<<"$md11"
agent validate-all command=/bin/true ready=later
expect_rc 6 "ready=later refused"
expect_reason "parameter 'ready' .*check or notify" "the reason names ready and its forms"
agent validate-all command=/bin/true notify_access=exec
expect_rc 6 "notify_access=exec refused"
agent validate-all command=/bin/true watchdog=soon
expect_rc 6 "watchdog=soon refused"
expect_reason "parameter 'watchdog'" "the reason names watchdog"

# ---- ready=notify: at READY=1, not before ----------------------------------------------
t0=$(now)
# Pacemaker gives every action of a resource all its parameters.
ready_params=(command="$SVC $tmp ready 2" ready=notify output=null watchdog=3s)
agent start "${ready_params[@]}"
took=$(since "$t0")
expect_rc 0 "ready=notify: start at READY=1"
check "the start waited for READY=1 (2 s), though check=process passed at once: ${took}s" ge "$took" 2
check "the service got NOTIFY_SOCKET=$sock" grep -qx "NOTIFY_SOCKET=$sock" "$tmp/env"
check "the service got WATCHDOG_USEC=3000000" grep -qx "WATCHDOG_USEC=3000000" "$tmp/env"
pid=$(main_pid)
check "WATCHDOG_PID is the service's own pid ($pid)" grep -qx "WATCHDOG_PID=$pid" "$tmp/env"
check "the socket is the service user's (root), 0600" \
    test "$(stat -c '%U %a %F' "$sock")" = "root 600 socket"
check "the log says READY=1 came" grep -q "READY=1 after 2" "$HA_logfile"
sleep 4 # past the watchdog period: the service pings, the keeper hears it
monitor "${ready_params[@]}"
expect_rc 0 "a service that pings its watchdog stays healthy"
check "the keeper was handed the start's socket (not made anew)" \
    bash -c "! grep -q 'NOTIFY_SOCKET .* made anew' '$HA_logfile'"
# A keeper lost: the next monitor starts another, which binds the socket
# afresh at the same path; the service's pings reach it (else its watchdog
# would run out).
keeper=$(awk '{print $1}' "$state/keeper")
kill -9 "$keeper"
wait_until 5 dead "$keeper"
monitor "${ready_params[@]}"
expect_rc 0 "the monitor replaces the lost keeper"
check "the new keeper made the socket anew" grep -q "NOTIFY_SOCKET .* made anew" "$HA_logfile"
sleep 4
monitor "${ready_params[@]}"
expect_rc 0 "the new keeper hears the watchdog"
# STATUS=serving came with READY=1, read by the start: the keeper says it.
kill -9 "$(main_pid)"
sleep 0.5
monitor "${ready_params[@]}"
expect_rc 7 "the main process killed: stopped"
expect_reason "exited; status: 'serving'" "the keeper's reason carries the STATUS= sent with READY=1"
agent stop command="$SVC $tmp ready 2"
expect_rc 0 "stop"
check "stop leaves nothing: no process, no state, no socket" nothing_left

t0=$(now)
agent start command="$SVC $tmp ready 2" output=null
took=$(since "$t0")
expect_rc 0 "ready=check (the default): the check decides"
check "ready=check did not wait for READY=1: ${took}s" le "$took" 1.5
check "ready=check without watchdog gives no NOTIFY_SOCKET" grep -qx "NOTIFY_SOCKET=" "$tmp/env"
agent stop command=/bin/true

# ---- EXTEND_TIMEOUT_USEC= ----------------------------------------------------------------
t0=$(now)
agent start command="$SVC $tmp extend 3" ready=notify pending_timeout=2s output=null
took=$(since "$t0")
expect_rc 0 "EXTEND_TIMEOUT_USEC= carries the start past pending_timeout=2s"
check "it took the 3 s the service asked for: ${took}s" ge "$took" 3
agent stop command=/bin/true

# ---- no READY=1: fails in pending_timeout, with STATUS=, undone ----------------------------
t0=$(now)
agent start command="$SVC $tmp never 'waiting for the database'" ready=notify pending_timeout=2s \
    output=null
took=$(since "$t0")
expect_rc 1 "no READY=1: the start fails"
expect_reason "pending_timeout 2s.*no READY=1.*status: 'waiting for the database'" \
    "the reason says no READY=1 came and gives the last STATUS="
check "it failed at pending_timeout, not before or long after: ${took}s" \
    bash -c "$(declare -f ge le); ge $took 2 && le $took 4"
check "nothing of it is left: no process, no state, no socket" nothing_left

# ---- MAINPID= of a forking service ---------------------------------------------------------
rm -f "$tmp/child"
agent start command="$SVC $tmp fork" ready=notify output=null
expect_rc 0 "a forking service: MAINPID= and READY=1 from the parent, which exits"
child=$(cat "$tmp/child" 2>/dev/null)
check "the recorded main process is the child MAINPID= named ($child)" test "$(main_pid)" = "$child"
sleep 0.5
monitor command="$SVC $tmp fork"
expect_rc 0 "the parent's exit is no crash: the keeper watches the child"
kill -9 "$child"
wait_until 5 dead "$child"
sleep 0.5
monitor command="$SVC $tmp fork"
check "the child's death is the service's crash (rc $rc)" test "$rc" != 0
agent stop command=/bin/true

# The keeper follows a hand-over: the main process says MAINPID= of its
# child, then exits, while the keeper watches it.
rm -f "$tmp/child"
agent start command="$SVC $tmp handover 1" ready=notify watchdog=2s output=null
expect_rc 0 "start of a service that hands over to a child later"
wait_until 5 test -s "$tmp/child"
child=$(cat "$tmp/child" 2>/dev/null)
sleep 1
monitor command="$SVC $tmp handover 1" ready=notify watchdog=2s output=null
expect_rc 0 "the keeper took MAINPID=$child: the old main's exit is no crash"
check "the recorded main process is the new one" test "$(main_pid)" = "${child:-none}"
check "the keeper says so" grep -q "main process is now pid ${child:-none} (MAINPID=)" "$HA_logfile"
sleep 2.5
monitor command="$SVC $tmp handover 1" ready=notify watchdog=2s output=null
expect_rc 0 "the new main process's WATCHDOG=1 is heard (notify_access=main)"
agent stop command=/bin/true
check "stop ends the new main process too" nothing_left

# ---- who may speak -------------------------------------------------------------------------
agent start command="$SVC $tmp child-ready" ready=notify pending_timeout=2s output=null
expect_rc 1 "notify_access=main: a child's READY=1 is refused"
expect_reason "status: 'waiting for my child'" "only the main process's STATUS= counted"
check "the log names the refused sender" grep -q "dropped a notify message from pid" "$HA_logfile"
check "nothing left after the refused start" nothing_left
agent start command="$SVC $tmp child-ready" ready=notify notify_access=all pending_timeout=5s \
    output=null
expect_rc 0 "notify_access=all: the child's READY=1 is heard"
check "with all, the socket is 0660" test "$(stat -c %a "$sock")" = 660
agent stop command=/bin/true

# A stranger (this test, root, outside the service's tree) says READY=1 the
# whole time: it is never heard, even with notify_access=all.
(
    end=$((SECONDS + 3))
    while [ $SECONDS -lt $end ]; do
        "$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.sendto(b"READY=1", sys.argv[1])' "$sock" 2>/dev/null
        sleep 0.1
    done
) &
stranger=$!
agent start command="$SVC $tmp never 'alone'" ready=notify notify_access=all pending_timeout=2s \
    output=null
expect_rc 1 "a stranger's READY=1 does not complete the start"
wait "$stranger"

# ---- user= reaches its socket ------------------------------------------------------------
if id nobody >/dev/null 2>&1; then
    rm -f "$tmp/env" # root's, from the runs above
    agent start command="$SVC $tmp ready 0.5" ready=notify user=nobody output=null
    expect_rc 0 "user=nobody: the service reaches its NOTIFY_SOCKET"
    check "the service ran as nobody" grep -qx "uid=$(id -u nobody)" "$tmp/env"
    check "the socket is nobody's, 0600, in a directory it cannot write" \
        bash -c "test \"\$(stat -c '%U %a' '$sock')\" = 'nobody 600' && test \"\$(stat -c '%U %a' '$(dirname "$sock")')\" = 'root 755'"
    agent stop command=/bin/true
fi

# ---- the watchdog ----------------------------------------------------------------------------
agent start command="$SVC $tmp watchdog-for 2" ready=notify watchdog=1s output=null \
    dump_on_failure=true dump_dir="$WARDEN_STATE_DIR/dumps" check_interval=30s
expect_rc 0 "start with watchdog=1s"
t0=$(now)
# The service pings for 2 s, then stops: the keeper must call it hung
# within 2 + 1 (watchdog) + 1 s (margin), with no probe (check_interval=30s).
found=
while le "$(since "$t0")" 6; do
    monitor command=/bin/true
    if [ "$rc" != 0 ]; then found=$(since "$t0"); break; fi
    sleep 0.1
done
check "a missed watchdog is a failure (found after ${found:-never} s)" test -n "$found"
check "found within watchdog + 1 s of the last ping (<= 4 s)" le "${found:-99}" 4
check "not while the service still pinged (>= 2 s)" ge "${found:-0}" 2
expect_reason "hung: no WATCHDOG=1 within 1s" "the reason says hung: no WATCHDOG=1"
expect_reason "status: 'stopped pinging the watchdog'" "the reason carries the last STATUS="
check "the hang was dumped (dump_on_failure)" bash -c "ls '$WARDEN_STATE_DIR/dumps' | grep -q 'hung.stacks'"
agent stop command=/bin/true
check "stop after a hang leaves nothing" nothing_left

# ---- a real daemon: Dovecot ------------------------------------------------------------------
if mail_have_servers && [ -x "$AGENT_DIR/imap" ]; then
    port=$(mail_port 10143)
    mail_dovecot_config "$tmp/dovecot" imap "$port"
    chmod 0755 "$tmp"
    dstate=$WARDEN_STATE_DIR/notify-dovecot-$$
    (
        export OCF_RESOURCE_INSTANCE=notify-dovecot-$$ AGENT=$AGENT_DIR/imap
        agent start config="$tmp/dovecot/dovecot.conf" port="$port" ready=notify
        expect_rc 0 "Dovecot (ocf:warden:imap, ready=notify): started at its READY=1"
        check "the start ended at Dovecot's READY=1" \
            grep -q "notify-dovecot-$$.*READY=1 after" "$HA_logfile"
        OCF_CHECK_LEVEL=10 agent monitor config="$tmp/dovecot/dovecot.conf" port="$port"
        expect_rc 0 "Dovecot answers IMAP once ready"
        agent stop config="$tmp/dovecot/dovecot.conf" port="$port"
        expect_rc 0 "Dovecot stops"
        check "nothing of Dovecot's state is left" test ! -e "$dstate/service"
        echo "n_test=$n_test n_fail=$n_fail" >"$tmp/dovecot.counts"
    )
    . "$tmp/dovecot.counts"
else
    not_ok "Dovecot (dovecot-imapd) and the imap agent are needed for the real daemon's test"
fi

finish
