#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ocf:warden:daemon, driven as Pacemaker and ocf-tester drive it: every exit
# code path, the escalating stop on both process-tree paths (cgroup, and
# session + subreaper), daemonizing services, users, and clean-up of what an
# earlier start left. Output is TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

AGENT=${AGENT:?set AGENT to the daemon agent binary}
if [ "$(id -u)" != 0 ]; then
    [ "${WARDEN_NO_SKIP:-}" = 1 ] && { echo "Bail out! needs root, and WARDEN_NO_SKIP=1"; exit 1; }
    echo "1..0 # SKIP needs root (cgroups, users, /run)"; exit 77
fi
command -v ocf-tester >/dev/null || { echo "Bail out! ocf-tester missing: apt-get install resource-agents"; exit 1; }

export WARDEN_STATE_DIR=$(mktemp -d /tmp/warden-agent-test.XXXXXX)
export OCF_RESOURCE_INSTANCE=agent-test-$$
saved_instance=$OCF_RESOURCE_INSTANCE
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY HA_logfile
tmp=$(mktemp -d /tmp/warden-agent-tmp.XXXXXX)
marker=$((100000 + RANDOM))   # makes our sleep processes recognisable

cleanup() {
    agent stop command=/bin/true >/dev/null 2>&1
    local n
    for n in ${names_started[@]+"${names_started[@]}"}; do
        OCF_RESOURCE_INSTANCE=$n agent stop command=/bin/true >/dev/null 2>&1
    done
    for p in $(pids_with_cmdline sleep $marker) $(pids_with_cmdline /bin/sleep $marker) \
             $(pids_with_cmdline /bin/sleep $marker 2); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WARDEN_STATE_DIR" "$tmp"
}
trap cleanup EXIT

# ---- meta-data --------------------------------------------------------------
agent meta-data
expect_rc 0 "meta-data"
# As ocf-tester checks it: from the DTD's directory, by its DOCTYPE.
check "meta-data without OCF version is valid against ra-api-1.dtd" \
    bash -c 'cd /usr/share/resource-agents && xmllint --noout --valid - <<<"$1"' _ "$out"
check "OCF 1.0 meta-data carries no reload-agent" bash -c '! grep -q reload-agent <<<"$1"' _ "$out"
md11=$(OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 "$AGENT" meta-data)
check "OCF 1.1 meta-data says version 1.1" grep -q '<version>1.1</version>' <<<"$md11"
check "OCF 1.1 meta-data has a reload-agent action" grep -q 'action name="reload-agent"' <<<"$md11"
check "OCF 1.1 meta-data marks check_timeout reloadable" grep -q 'name="check_timeout".*reloadable="1"' <<<"$md11"
check "OCF 1.1 meta-data is well-formed" xmllint --noout - <<<"$md11"
check "meta-data works as nobody" su nobody -s /bin/sh -c "$AGENT meta-data >/dev/null"

# ---- ocf-tester ---------------------------------------------------------------
ot=$(ocf-tester -n ot-$$ -o command="/bin/sleep $marker" "$AGENT" 2>&1)
check "ocf-tester passes" grep -q "passed all tests" <<<"$ot" || printf '# %s\n' "$ot"

# ---- exit codes: arguments and configuration ----------------------------------
"$AGENT" >/dev/null 2>&1; rc=$?
expect_rc 2 "no action is an argument error"
agent promote command="/bin/sleep $marker"
expect_rc 3 "an unknown action is unimplemented"
agent validate-all
expect_rc 6 "missing command is a configuration error"
expect_reason "parameter 'command' is required" "reason names the missing parameter"
agent validate-all command="/bin/sleep $marker" check_timeout=soon
expect_rc 6 "a malformed time is a configuration error"
expect_reason "check_timeout.*'soon'.*ms, s, min or h" "reason names the parameter and the accepted form"
agent validate-all command="/bin/sleep $marker" shell=perhaps
expect_rc 6 "a malformed boolean is a configuration error"
expect_reason "shell.*true or false" "reason for a boolean names the accepted form"
agent validate-all command="/bin/sleep $marker" check=ping:host
expect_rc 6 "an unknown check is a configuration error"
expect_reason "check.*process, tcp:HOST:PORT.*exec:COMMAND" "reason lists the check forms"
agent validate-all command="'unterminated"
expect_rc 6 "an unterminated quote in command is a configuration error"
agent validate-all command="/nonexistent/warden-bin $marker"
expect_rc 5 "a command missing on this node is not installed"
agent start command="/nonexistent/warden-bin $marker"
expect_rc 5 "start of a missing binary is not installed"
OCF_RESKEY_CRM_meta_interval=0 agent monitor command="/nonexistent/warden-bin $marker"
expect_rc 7 "a probe for a missing binary answers not running"
agent monitor command="/nonexistent/warden-bin $marker"
expect_rc 7 "a monitor of a never-started resource answers not running"
agent stop command="/nonexistent/warden-bin $marker"
expect_rc 0 "stop with a missing binary and nothing running succeeds"
agent validate-all command="/bin/sleep $marker" user=no-such-user-$$
expect_rc 2 "a user missing on this node is bad for this node"
agent validate-all command="/bin/sleep $marker" workdir=/nonexistent-dir
expect_rc 2 "a workdir missing on this node is bad for this node"
agent validate-all command="/bin/sleep $marker"
expect_rc 0 "a good configuration validates"
# Values start would refuse, or that could never work, are refused here (exit
# 6, the parameter and its accepted form named), and shown on one short line.
for v in 1us 99ms 18446744073709552us 25h; do
    agent validate-all command="/bin/sleep $marker" check_interval=$v
    expect_rc 6 "check_interval=$v is out of range"
    expect_reason "parameter 'check_interval' .*from 100ms to 24h" "[$v] the reason names the range"
done
for p in check_timeout pending_timeout; do
    agent validate-all command="/bin/sleep $marker" $p=0
    expect_rc 6 "$p=0 is out of range"
    expect_reason "parameter '$p' .*from 10ms to 24h" "[$p=0] the reason names the range"
done
for p in pidfile depends_on; do
    for v in relative/app.pid /; do
        agent validate-all command="/bin/sleep $marker" $p=$v
        expect_rc 6 "$p=$v is a configuration error"
        expect_reason "parameter '$p' .*the absolute path of a file" "[$p=$v] the reason names the parameter"
    done
done
agent validate-all command="/bin/sleep $marker" dump_dir=relative
expect_rc 6 "a relative dump_dir is a configuration error"
agent validate-all command="/bin/sleep $marker" check_timeout=$'\r\nocf-exit-reason:forged'
expect_rc 6 "a value with CR LF is a configuration error"
check "and it prints exactly one ocf-exit-reason line" test "$(grep -c '^ocf-exit-reason:' <<<"$err")" = 1
check "which shows the CR LF escaped" grep -qF "'\r\nocf-exit-reason:forged'" <<<"$err"
agent validate-all command="/bin/sleep $marker" check_timeout="$(head -c 131000 /dev/zero | tr '\0' 9)"
expect_rc 6 "a 131000-byte time is a configuration error"
check "with a short reason (${#err} bytes on stderr)" test "${#err}" -lt 1000
agent reload-agent command="/bin/sleep $marker"
expect_rc 0 "reload-agent succeeds"

# ---- start, monitor, stop ------------------------------------------------------
agent start command="/bin/sleep $marker"
expect_rc 0 "start"
pid1=$(pids_with_cmdline /bin/sleep $marker)
check "the service runs" test -n "$pid1"
agent monitor command="/bin/sleep $marker"
expect_rc 0 "monitor of a running service"
agent start command="/bin/sleep $marker"
expect_rc 0 "start of a running service is idempotent"
check "a second start left the same single process" test "$(pids_with_cmdline /bin/sleep $marker)" = "$pid1"
check "the state dir is mode 0700" test "$(stat -c %a "$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE")" = 700
agent monitor command="/bin/sleep $marker" check=tcp:127.0.0.1:1
expect_rc 1 "a failing check fails the monitor"
expect_reason "tcp 127.0.0.1:1: Connection refused" "the reason says what the check saw"
t0=$(now_ms)
agent monitor command="/bin/sleep $marker" check="exec:/bin/sleep 30" check_timeout=500ms
t1=$(now_ms)
expect_rc 1 "a check that hangs fails the monitor"
expect_reason "no answer within|did not answer within" "the reason says the check hung"
check "the hung check was cut at check_timeout ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 2000
agent monitor command="/bin/sleep $marker" check=exec:/bin/true
expect_rc 0 "a passing exec check passes the monitor"
kill -9 "$pid1"
wait_until 5 dead "$pid1"
agent monitor command="/bin/sleep $marker"
expect_rc 7 "monitor after the service was killed answers not running"
agent start command="/bin/sleep $marker"
expect_rc 0 "start after a kill -9 of the service"
agent stop command="/bin/sleep $marker"
expect_rc 0 "stop"
check "no process left after stop" test -z "$(pids_with_cmdline /bin/sleep $marker)"
check "no state left after stop" test ! -e "$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE"
agent stop command="/bin/sleep $marker"
expect_rc 0 "stop of a stopped service is idempotent"


# ---- the keeper (IsAlive) ------------------------------------------------------------
# A recurring monitor (interval set) at depth 0 answers from the keeper.
export HA_logfile=$tmp/agent.log   # the keeper logs here too (its stderr is /dev/null)
recurring() { OCF_RESKEY_CRM_meta_interval=10000 agent monitor "$@"; }
keeper_pid() { cut -d' ' -f1 "$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE/keeper" 2>/dev/null; }
main_pid() { awk '/^main /{print $2}' "$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE/service" 2>/dev/null; }

agent start command="/bin/sleep $marker" check_interval=1s
expect_rc 0 "start launches a keeper"
kp=$(keeper_pid)
check "the keeper runs" alive "$kp"
check "the keeper is detached: its own session" test "$(awk '{print $6}' /proc/$kp/stat)" = "$kp"
check "the keeper's stdio is /dev/null" test "$(readlink /proc/$kp/fd/2)" = /dev/null
recurring command="/bin/sleep $marker" check_interval=1s
expect_rc 0 "a recurring monitor answers from the keeper"
m=$(main_pid)
kill -9 "$m"
t0=$(now_ms)
wait_until 2 bash -c '! OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_command=x "$0" monitor 2>/dev/null' "$AGENT"
recurring command="/bin/sleep $marker" check_interval=1s
t1=$(now_ms)
expect_rc 7 "after a crash the keeper's verdict is: not running"
expect_reason "service process $m exited" "the reason names the crashed process"
check "the crash was known at once ($((t1 - t0)) ms), not at the next check" test $((t1 - t0)) -lt 900
agent stop command="/bin/sleep $marker"
check "stop stood the keeper down" wait_until 3 dead "$kp"

agent start command="/bin/sleep $marker" check_interval=1s
kp=$(keeper_pid); m=$(main_pid)
kill -9 "$kp"
wait_until 3 dead "$kp"
OCF_RESKEY_CRM_meta_interval=0 agent monitor command="/bin/sleep $marker"
expect_rc 0 "a probe with the keeper gone answers from a fresh check"
check "a probe never starts a keeper" test -z "$(keeper_pid)" -o "$(keeper_pid)" = "$kp"
recurring command="/bin/sleep $marker" check_interval=1s
expect_rc 0 "a recurring monitor with the keeper gone answers running"
check "it started a new keeper" alive "$(keeper_pid)"
check "the new keeper is another process" test "$(keeper_pid)" != "$kp"
check "the service was not touched" test "$(main_pid)" = "$m"
check "the replacement was logged as a warning" grep -q "the keeper of pid $m is gone" "$tmp/agent.log"

# A frozen keeper publishes nothing more: once its verdict is older than
# check_interval + check_timeout + 2 s (here 1 + 1 + 2 s), it is stalled. That
# is the watcher's trouble, not the service's: the monitor ends it, answers
# from a probe of its own and starts a new keeper (test-trust.sh has more).
agent reload-agent command="/bin/sleep $marker" check_interval=1s check_timeout=1s
kp=$(keeper_pid)
kill -STOP "$kp"
sleep 4.5
recurring command="/bin/sleep $marker" check_interval=1s check_timeout=1s
expect_rc 0 "a frozen keeper does not fail a healthy service"
check "the frozen keeper was ended" wait_until 3 dead "$kp"
check "a new keeper runs" alive "$(keeper_pid)"
check "the replacement of the stalled keeper was logged" grep -q "is stalled: replacing it" "$tmp/agent.log"
check "the service was not touched" test "$(main_pid)" = "$m"

agent reload-agent command="/bin/sleep $marker" check_interval=3s check="exec:/bin/true"
expect_rc 0 "reload-agent hands new values to the keeper"
check "the keeper took them" wait_until 2 grep -q "reloaded: check 'exec:/bin/true' every 3s" "$tmp/agent.log"
check "without a restart" test "$(main_pid)" = "$m"
# Reloads without end: each frees what the one before it replaced (once no
# probe runs it), and the last one's check is the one that runs. (The keeper
# kept 16 replaced checks and then ignored every further reload's check.)
for i in $(seq 1 20); do
    agent reload-agent command="/bin/sleep $marker" check_interval=1s check="exec:/bin/true $i" >/dev/null
done
agent reload-agent command="/bin/sleep $marker" check_interval=1s check="exec:/usr/bin/touch $tmp/reload-21"
expect_rc 0 "the 21st reload-agent in a row succeeds"
check "the keeper runs the 21st reload's check" wait_until 4 test -e "$tmp/reload-21"
check "without a restart" test "$(main_pid)" = "$m"
# A newline inside a value stays inside it (the reload text is length-framed)
# and is logged escaped, on one line.
agent reload-agent command="/bin/sleep $marker" check_interval=3s check=$'exec:/bin/true\nforged=1'
expect_rc 0 "reload-agent with a newline in check"
check "the keeper took the whole value, logged on one line" \
    wait_until 2 grep -qF "reloaded: check 'exec:/bin/true\\nforged=1' every 3s" "$tmp/agent.log"
check "and no line of the log starts with what followed the newline" bash -c '! grep -q "^forged" "$1"' _ "$tmp/agent.log"
agent reload-agent command="/bin/sleep $marker" failure_threshold=0
expect_rc 6 "reload-agent with a bad value is refused"

agent reload-agent command="/bin/sleep $marker" check="exec:/bin/sleep 5" check_timeout=300ms check_interval=500ms
wait_until 4 bash -c '! OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_command=x "$0" monitor 2>/dev/null' "$AGENT"
recurring command="/bin/sleep $marker"
expect_rc 1 "a check that hangs in the keeper fails the monitor"
expect_reason "did not answer within [0-9]+ms|still hung|no answer within [0-9]+ms" "the reason says the check hung"
agent stop command="/bin/sleep $marker"
expect_rc 0 "stop"
check "nothing of the service is left" test -z "$(pids_with_cmdline /bin/sleep $marker)"
check "the keeper is gone" dead "$kp"
unset HA_logfile

# ---- start fails and is undone ---------------------------------------------------
t0=$(now_ms)
agent start command="/bin/sleep $marker" check=tcp:127.0.0.1:1 pending_timeout=1s
t1=$(now_ms)
expect_rc 1 "a start that never becomes healthy fails"
expect_reason "not healthy in time|pending_timeout" "the reason says start ran out of time"
check "it answered near pending_timeout ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 2500
check "what the failed start ran was killed" test -z "$(pids_with_cmdline /bin/sleep $marker)"
agent start command="/bin/sh -c 'exit 3'" check=tcp:127.0.0.1:1
expect_rc 1 "a service that exits while starting fails the start"
expect_reason "exited while starting" "the reason says it exited"
# check=process passes while the process is seen alive: a command that exits
# at once was seen alive for an instant by up to a third of its starts, which
# answered 0 although the keeper could not watch it ("keeper did not start
# (No child processes)"). A start answers 0 only if the service outlived the
# keeper's launch: on a loaded machine /bin/true may (it did start), so the
# assertion is that no start answered 0 without a keeper. Ten in a row.
# The others must say why.
quick_ok=0 quick_unwatched=0 quick_unexplained=0
for i in $(seq 1 10); do
    agent start command="/bin/true" check=process output=null
    if [ "$rc" = 0 ]; then
        quick_ok=$((quick_ok + 1))
        case $err in *"keeper did not start"*) quick_unwatched=$((quick_unwatched + 1)) ;; esac
    else
        case $err in *"ocf-exit-reason:service exited while starting"*) ;;
            *) quick_unexplained=$((quick_unexplained + 1)); printf '# stderr: %s\n' "$err" | tail -3 ;;
        esac
    fi
    agent stop command="/bin/true" >/dev/null
done
echo "# /bin/true with check=process: $quick_ok of 10 starts answered 0 (it outlived the keeper's launch)"
check "a command that exits at once never starts unwatched ($quick_unwatched of $quick_ok answering 0 had no keeper)" \
    test "$quick_unwatched" = 0
check "most of its starts fail ($((10 - quick_ok)) of 10)" test "$quick_ok" -lt 5
check "each failed start's reason says it exited ($quick_unexplained did not)" test "$quick_unexplained" = 0
OCF_RESKEY_CRM_meta_timeout=2000 agent start command="/bin/sleep $marker" pending_timeout=10s check=exec:/bin/false
expect_rc 1 "pending_timeout past the op timeout is clamped: start answers in time"
check "the clamp is logged" grep -q "pending_timeout 10s is not below the operation timeout" <<<"$err"

# ---- kill -9 of the service and its state ----------------------------------------
agent start command="/bin/sleep $marker"
pid1=$(pids_with_cmdline /bin/sleep $marker)
holder=$(awk '/^holder/{print $2}' "$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE/service")
kill -9 "$pid1" "$holder"
rm -rf "${WARDEN_STATE_DIR:?}/$OCF_RESOURCE_INSTANCE"
agent start command="/bin/sleep $marker"
expect_rc 0 "start after kill -9 of the service, its holder and its state"
agent monitor command="/bin/sleep $marker"
expect_rc 0 "and it runs"
pid2=$(pids_with_cmdline /bin/sleep $marker)
rm -rf "${WARDEN_STATE_DIR:?}/$OCF_RESOURCE_INSTANCE"
agent start command="/bin/sleep $marker"
expect_rc 0 "start when the state was lost but the service still runs"
pid3=$(pids_with_cmdline /bin/sleep $marker)
if [ -d /sys/fs/cgroup/unified ] || grep -q cgroup2 /proc/self/mounts; then
    check "the orphaned service was found through its cgroup and replaced" \
        bash -c '[ -n "$1" ] && [ "$1" != "$2" ]' _ "$pid3" "$pid2"
    check "the orphaned service is dead" dead "$pid2"
fi
agent stop command="/bin/sleep $marker"
expect_rc 0 "stop"

# ---- a daemonizing service, followed through its pidfile ---------------------------
agent start command="/bin/sh -c '/bin/sleep $marker & echo \$! > $tmp/d.pid'" pidfile="$tmp/d.pid"
expect_rc 0 "start of a service that daemonizes"
dpid=$(cat "$tmp/d.pid" 2>/dev/null)
check "the state names the daemon from the pidfile as main" \
    grep -q "^main $dpid " "$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE/service"
agent monitor command="/bin/true" pidfile="$tmp/d.pid"
expect_rc 0 "monitor follows the daemon"
agent stop command="/bin/true" pidfile="$tmp/d.pid"
expect_rc 0 "stop of the daemon"
check "the daemon is gone" dead "$dpid"
agent start command="/bin/true" pidfile="$tmp/never.pid" pending_timeout=2s
expect_rc 1 "a service that never writes its pidfile fails to start"

# ---- user and workdir ------------------------------------------------------------
agent start command="/bin/sleep $marker" user=nobody workdir=/tmp output=null
expect_rc 0 "start as user nobody in /tmp"
upid=$(pids_with_cmdline /bin/sleep $marker)
check "the service runs as nobody" test "$(stat -c %U /proc/$upid)" = nobody
check "the service runs in /tmp" test "$(readlink /proc/$upid/cwd)" = /tmp
check "the service's stdio is not the agent's" test "$(readlink /proc/$upid/fd/1)" = /dev/null
agent stop command="/bin/sleep $marker"
expect_rc 0 "stop"

# ---- the stop that must escalate, on both process-tree paths ---------------------
# The service ignores SIGTERM, and its child double-forks into a new session
# that also ignores SIGTERM: only the cgroup, or the holder's subreaper role,
# keeps that grandchild findable.
stubborn="trap '' TERM; setsid /bin/sh -c \"trap '' TERM; exec /bin/sleep $marker\" & exec /bin/sleep $marker"
for path in cgroup session; do
    if [ $path = session ]; then export WARDEN_CGROUP=off; fi
    agent start command="$stubborn" shell=true pending_timeout=3s
    expect_rc 0 "[$path] start of a service that ignores SIGTERM and double-forks"
    wait_until 5 test "$(pids_with_cmdline /bin/sleep $marker | wc -l)" -eq 2
    check "[$path] both processes run" test "$(pids_with_cmdline /bin/sleep $marker | wc -l)" -eq 2
    t0=$(now_ms)
    agent stop command="$stubborn" shell=true pending_timeout=3s
    t1=$(now_ms)
    expect_rc 0 "[$path] stop succeeds"
    check "[$path] stop returned within pending_timeout + 1 s ($((t1 - t0)) ms)" test $((t1 - t0)) -le 4000
    check "[$path] nothing of the service is left" test -z "$(pids_with_cmdline /bin/sleep $marker)"
    unset WARDEN_CGROUP
done


# ---- dump on failure ------------------------------------------------------------------
dumps=$tmp/dumps
agent validate-all command="/bin/sleep $marker" dump_type=sometimes
expect_rc 6 "a bad dump_type is a configuration error"
expect_reason "dump_type.*stacks or core" "the reason names the accepted forms"
agent validate-all command="/bin/sleep $marker" dump_max_bytes=lots
expect_rc 6 "a bad dump_max_bytes is a configuration error"

agent start command="/bin/sleep $marker" check=tcp:127.0.0.1:1 pending_timeout=2s \
    dump_on_failure=true dump_dir="$dumps"
expect_rc 1 "a start that runs over, with dump_on_failure"
expect_reason "dump in $dumps/$OCF_RESOURCE_INSTANCE-.*-start-timeout.stacks" \
    "the exit reason says where the dump is"
f=$(ls "$dumps"/*-start-timeout.stacks 2>/dev/null | head -1)
check "the start-timeout dump was written" test -f "$f"
check "it holds the service's process" grep -q "cmdline: /bin/sleep $marker" "$f"
check "the dump dir is 0700" test "$(stat -c %a "$dumps")" = 700
check "the dump is 0600" test "$(stat -c %a "$f")" = 600
check "and then what the start ran was killed" test -z "$(pids_with_cmdline /bin/sleep $marker)"

agent start command="$stubborn" shell=true pending_timeout=3s dump_on_failure=true dump_dir="$dumps"
wait_until 5 test "$(pids_with_cmdline /bin/sleep $marker | wc -l)" -eq 2
agent stop command="$stubborn" shell=true pending_timeout=3s dump_on_failure=true dump_dir="$dumps"
expect_rc 0 "a stop that escalates, with dump_on_failure, succeeds"
f=$(ls "$dumps"/*-stop-kill.stacks 2>/dev/null | head -1)
check "it dumped before the SIGKILL" test -f "$f"
check "the dump holds both processes of the service" test "$(grep -c "cmdline: /bin/sleep $marker" "$f")" -eq 2
check "nothing of the service is left" test -z "$(pids_with_cmdline /bin/sleep $marker)"

export HA_logfile=$tmp/dump.log
agent start command="/bin/sleep $marker" check_interval=1s dump_on_failure=true dump_dir="$dumps"
m=$(main_pid)
kill -9 "$m"
sleep 1.5
check "a crash is never dumped" test -z "$(ls "$dumps"/*-hung.stacks "$dumps"/*-check-failed.stacks 2>/dev/null)"
agent stop command="/bin/sleep $marker"
agent start command="/bin/sleep $marker" check_interval=1s
m=$(main_pid)
agent reload-agent command="/bin/sleep $marker" check_interval=1s check="exec:/bin/sleep 5" \
    check_timeout=300ms dump_on_failure=true dump_dir="$dumps"
expect_rc 0 "dump_on_failure turned on by reload-agent"
kill -STOP "$m"
# The failure is published once the dump is done: wait for the monitor.
wait_until 6 bash -c '! OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_command=x "$0" monitor 2>/dev/null' "$AGENT"
f=$(ls "$dumps"/*-hung.stacks 2>/dev/null | head -1)
check "a hung check is dumped, without a restart" test -f "$f" -a "$(main_pid)" = "$m"
check "the dump shows the frozen process stopped" grep -q "== process $m (sleep), state T" "$f"
check "with its threads" grep -q -- "-- thread $m" "$f"
recurring command="/bin/sleep $marker"
expect_rc 1 "the monitor fails"
expect_reason "dump in $dumps/.*-hung.stacks" "and its reason says where the dump is"
check "the keeper logged the dump before the (skipped) push" grep -q "dump written to $f" "$tmp/dump.log"
kill -CONT "$m"
agent stop command="/bin/sleep $marker"
expect_rc 0 "stop"
unset HA_logfile

# ---- stop_command -----------------------------------------------------------------
agent start command="/bin/sleep $marker" stop_command="touch $tmp/stopped; kill \$(cat /dev/null) 2>/dev/null; true"
stop_pid=$(pids_with_cmdline /bin/sleep $marker)
agent stop command="/bin/sleep $marker" stop_command="touch $tmp/stopped; kill $stop_pid" pending_timeout=3s
expect_rc 0 "stop with stop_command"
check "stop_command ran" test -e "$tmp/stopped"
check "the service is gone" test -z "$(pids_with_cmdline /bin/sleep $marker)"


# ---- a service half there --------------------------------------------------------------
# The main process crashes and leaves a child running in the service's
# cgroup or session: that is a failed service (1), which Pacemaker stops,
# not a stopped one (7), which would let it start beside the leftovers.
half="/bin/sleep $marker & exec /bin/sleep $marker"
export HA_logfile=$tmp/half.log
agent start command="$half" shell=true
expect_rc 0 "start of a service whose main process has a child"
m=$(main_pid)
kp=$(keeper_pid)
kill -9 "$m"
wait_until 5 dead "$m"
wait_until 2 bash -c 'OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_command=x "$0" monitor 2>/dev/null; [ $? = 1 ]' "$AGENT"
recurring command="$half" shell=true
expect_rc 1 "main process gone, its child left: the keeper's verdict is failed"
expect_reason "other processes of the service remain" "the reason says what is left"
OCF_CHECK_LEVEL=10 agent monitor command="$half" shell=true
expect_rc 1 "a depth-10 monitor of a half-there service fails"
expect_reason "other process\(es\) of it still run" "its reason says so"
kill -9 "$kp"
wait_until 3 dead "$kp"
recurring command="$half" shell=true
expect_rc 1 "a monitor of a half-there service with the keeper gone fails"
agent stop command="$half" shell=true
expect_rc 0 "stop of a half-there service"
check "nothing of the half-there service is left" test -z "$(pids_with_cmdline /bin/sleep $marker)"
unset HA_logfile

# ---- nothing of root's reaches what runs as user= ----------------------------------------
# The agent runs with a descriptor it does not mean to pass on (fd 9) and
# with libqb's log file open; the stop_command, as nobody, sees neither.
pub=$(mktemp -d /tmp/warden-agent-pub.XXXXXX)
chmod 1777 "$pub"
export HA_logfile=$tmp/cluster.log
agent start command="/bin/sleep $marker" user=nobody
upid=$(pids_with_cmdline /bin/sleep $marker)
# The keeper opened the log file through libqb too: close-on-exec there.
log_fd_cloexec() {
    local fd flags found=1
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd")" = "$2" ] || continue
        flags=$(awk '/^flags:/{print $2}' "/proc/$1/fdinfo/${fd##*/}")
        (( 8#$flags & 8#2000000 )) || return 1
        found=0
    done
    return $found
}
check "libqb's log file is close-on-exec in the keeper" log_fd_cloexec "$(keeper_pid)" "$tmp/cluster.log"
agent stop command="/bin/sleep $marker" user=nobody pending_timeout=3s \
    stop_command="ls -l /proc/\$\$/fd > $pub/fds; id -u > $pub/uid; kill $upid" 9>"$tmp/leaked"
expect_rc 0 "stop with a stop_command as nobody"
check "the stop_command ran as nobody" test "$(cat "$pub/uid" 2>/dev/null)" = "$(id -u nobody)"
check "it listed its fds" grep -q /dev/null "$pub/fds"
check "the agent's leaked fd 9 did not reach it" bash -c '! grep -q leaked "$1"' _ "$pub/fds"
check "the cluster log file did not reach it" bash -c '! grep -q cluster.log "$1"' _ "$pub/fds"
check "the agent did log to that file" test -s "$tmp/cluster.log"
unset HA_logfile
rm -rf "$pub"

# ---- a recycled holder pid is not the service's ------------------------------------------
# Without a cgroup: the service crashes, its holder exits, and the holder's
# pid goes to an unrelated process that makes it its session id
# (ns_last_pid stands in for chance). Neither the next start's clean-up nor
# a stop may touch that process. The holder must be reaped for its pid to be
# free, and PID 1 may not reap here: this runs under a child subreaper.
subreaper() {
    /usr/bin/python3 -c 'import ctypes, os, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    p, status = os.wait()
    if p == pid:
        sys.exit(os.waitstatus_to_exitcode(status))' "$@"
}
cat >"$tmp/recycle.sh" <<'EOS'
# Runs under the subreaper; prints key=value lines.
. "$here/lib.sh"
export WARDEN_CGROUP=off
state=$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE/service
# Start, crash, and hand the dead holder's pid to `setsid sleep`; print its pid.
crash_and_take() {
    local h m v i
    agent start command="/bin/sleep $marker"
    h=$(awk '/^holder/{print $2}' "$state")
    m=$(awk '/^main/{print $2}' "$state")
    kill -9 "$m"
    wait_until 5 test ! -e "/proc/$h" || return 1
    for i in $(seq 50); do
        echo $((h - 1)) >/proc/sys/kernel/ns_last_pid
        setsid /bin/sleep $((marker + 1)) >/dev/null 2>&1 &
        v=$!
        if [ "$v" = "$h" ]; then echo "$v"; return 0; fi
        kill "$v"
    done
    return 1
}
v=$(crash_and_take) || { echo "setup=failed"; exit 0; }
agent start command="/bin/sleep $marker"
echo "start_rc=$rc"
alive "$v" && echo "start_victim=alive" || echo "start_victim=killed"
kill "$v"
agent stop command="/bin/sleep $marker"
v=$(crash_and_take) || { echo "setup=failed"; exit 0; }
agent stop command="/bin/sleep $marker"
echo "stop_rc=$rc"
alive "$v" && echo "stop_victim=alive" || echo "stop_victim=killed"
kill "$v"
EOS
export here marker
res=$(subreaper bash "$tmp/recycle.sh")
printf '# %s\n' $res
check "[recycled holder pid] the pid was handed to an unrelated process" bash -c '! grep -q setup=failed <<<"$1"' _ "$res"
check "[recycled holder pid] start after the crash succeeds" grep -q start_rc=0 <<<"$res"
check "[recycled holder pid] start left the unrelated process alone" grep -q start_victim=alive <<<"$res"
check "[recycled holder pid] stop after the crash succeeds" grep -q stop_rc=0 <<<"$res"
check "[recycled holder pid] stop left the unrelated process alone" grep -q stop_victim=alive <<<"$res"
for p in $(pids_with_cmdline /bin/sleep $((marker + 1))); do kill -9 "$p"; done

# ---- any name Pacemaker accepts ----------------------------------------------------
# Pacemaker takes any XML ID as a resource name, of any length, and a clone
# adds ":N". A name that is short and safe is its own state directory and
# cgroup; a long one becomes its first 83 bytes, '~' and the 64-bit FNV-1a
# hash of the whole name (computed here independently of the C); a name that
# is a cgroup interface file gets '_' in front of its cgroup.
cgroot=$(awk '/ - cgroup2 /{print $5; exit}' /proc/self/mountinfo)
[ "${WARDEN_CGROUP:-}" = off ] && cgroot=
declare -a names_started=()
fnv1a64() {
    local s=$1 h=$((0xcbf29ce484222325)) i c LC_ALL=C
    for ((i = 0; i < ${#s}; i++)); do
        printf -v c '%d' "'${s:i:1}"
        h=$(((h ^ c) * 1099511628211))
    done
    printf '%016x' "$h"
}
long_name() { local x; printf -v x '%*s' $(($2 - ${#1})) ''; printf '%s%s' "$1" "${x// /x}"; }
# pids_with_cmdline forks twice per process on the machine; pgrep does not.
procs_of() { pgrep -xf "$*" || true; }
shortened() { printf '%s~%s' "${1:0:83}" "$(fnv1a64 "$1")"; }

# name_cycle NAME DIR CGROUP [SERVICE ARG]: validate, probe, start, monitor
# (full library and the front's fast path), stop; nothing may be left.
name_cycle() {
    local name=$1 dir=$2 cg=$3 cmd="/bin/sleep $marker ${4:-}" label pid saved=$OCF_RESOURCE_INSTANCE
    cmd=${cmd% }
    label="[${name:0:20}$([ ${#name} -gt 20 ] && echo "...(${#name})")]"
    export OCF_RESOURCE_INSTANCE=$name
    names_started+=("$name")
    agent meta-data
    expect_rc 0 "$label meta-data"
    agent validate-all command="$cmd"
    expect_rc 0 "$label validate-all"
    OCF_RESKEY_CRM_meta_interval=0 agent monitor command="$cmd"
    expect_rc 7 "$label a probe before start answers not running"
    agent stop command="$cmd"
    expect_rc 0 "$label stop before start"
    agent start command="$cmd"
    expect_rc 0 "$label start"
    pid=$(procs_of "$cmd")
    check "$label the service runs" test -n "$pid"
    check "$label its state is in $WARDEN_STATE_DIR/${dir:0:30}..., mode 0700" \
        test "$(stat -c %a "$WARDEN_STATE_DIR/$dir" 2>/dev/null)" = 700
    if [ -n "$cgroot" ]; then
        check "$label it runs in cgroup warden/${cg:0:30}" grep -qxF "0::/warden/$cg" "/proc/$pid/cgroup"
    fi
    agent monitor command="$cmd"
    expect_rc 0 "$label monitor (asks the keeper)"
    # Without the library the front must answer from the keeper's verdict.
    WARDEN_LIBRARY=/nonexistent OCF_RESKEY_CRM_meta_interval=10000 agent monitor command="$cmd"
    expect_rc 0 "$label a recurring monitor is answered by the front from $dir/verdict"
    agent stop command="$cmd"
    expect_rc 0 "$label stop"
    check "$label no process left" test -z "$(procs_of "$cmd")"
    check "$label no state left" test ! -e "$WARDEN_STATE_DIR/$dir"
    if [ -n "$cgroot" ]; then
        check "$label no cgroup left" test ! -e "$cgroot/warden/$cg"
    fi
    agent stop command="$cmd"
    expect_rc 0 "$label a second stop"
    agent monitor command="$cmd"
    expect_rc 7 "$label monitor after stop answers not running"
    export OCF_RESOURCE_INSTANCE=$saved
}

for iface in cgroup.kill cpu.pressure; do
    name_cycle "$iface" "$iface" "_$iface"
    if [ -n "$cgroot" ]; then
        check "[$iface] warden's own $iface is still a file" test -f "$cgroot/warden/$iface"
    fi
done
name_cycle "web:0" "web:0" "web:0"
name_cycle "names-wéb-ü:1" "names-wéb-ü:1" "names-wéb-ü:1"
long1=$(long_name names- 300)
name_cycle "$long1" "$(shortened "$long1")" "$(shortened "$long1")"

# Two 300-character names that differ only in their last byte run side by
# side, each in its own state and cgroup; stopping one leaves the other.
long2=${long1%x}y
export OCF_RESOURCE_INSTANCE=$long1
agent start command="/bin/sleep $marker"
expect_rc 0 "[long] start of the first of two long names sharing 299 bytes"
OCF_RESOURCE_INSTANCE=$long2 agent start command="/bin/sleep $marker 2"
expect_rc 0 "[long] start of the second"
check "[long] they have two state directories" \
    test -d "$WARDEN_STATE_DIR/$(shortened "$long1")" -a -d "$WARDEN_STATE_DIR/$(shortened "$long2")"
agent stop command="/bin/sleep $marker"
expect_rc 0 "[long] stop of the first"
check "[long] the first is gone" test -z "$(procs_of /bin/sleep $marker)"
check "[long] the second still runs" test -n "$(procs_of /bin/sleep $marker 2)"
OCF_RESOURCE_INSTANCE=$long2 agent monitor command="/bin/sleep $marker 2"
expect_rc 0 "[long] and its monitor passes"
OCF_RESOURCE_INSTANCE=$long2 agent stop command="/bin/sleep $marker 2"
expect_rc 0 "[long] stop of the second"
check "[long] nothing of either is left" test -z "$(procs_of /bin/sleep $marker 2)" \
    -a ! -e "$WARDEN_STATE_DIR/$(shortened "$long2")"

# Every log target takes a long name (libqb 2.0.6 overflowed its own buffer
# on a long format) and a long action; the line carries a bounded name.
HA_logfile=$tmp/names.log HA_LOGFACILITY=daemon agent validate-all command="/bin/sleep $marker"
expect_rc 0 "[long] validate-all logging to a file and syslog"
HA_logfile=$tmp/names.log agent stop command="/bin/sleep $marker"
expect_rc 0 "[long] stop logging to a file"
check "[long] the log names the resource, shortened" grep -qE "\(names-x{40,}~[0-9a-f]{16}\)" "$tmp/names.log"
agent "$(long_name a 300)" command="/bin/sleep $marker"
expect_rc 3 "[long] a 300-character action is unimplemented, not a crash"
export OCF_RESOURCE_INSTANCE=$saved_instance

# ---- the operator's note: warden-push --clear only after a push ----------------
# A fresh keeper asks warden-push --clear to remove the note of an earlier
# pushed failure (warden-failure-<rsc>), but only when a push left the
# marker <state>/.notes/<instance>: in a storm of 100 restarts, 100 runs of
# warden-push and attrd_updater took seconds of CPU from the recovery.
printf '#!/bin/sh\necho "$*" >>"%s"\nexit 0\n' "$tmp/push.log" >"$tmp/fake-push"
chmod 0755 "$tmp/fake-push"
: >"$tmp/push.log"
export OCF_RESOURCE_INSTANCE=note-test-$$
note=$WARDEN_STATE_DIR/.notes/$OCF_RESOURCE_INSTANCE
pushing() { WARDEN_PUSH=$tmp/fake-push OCF_RESKEY_CRM_meta_on_node=node1 agent "$@"; }
pushing start command="/bin/sleep $marker" check_interval=1s
expect_rc 0 "[note] start, in a cluster (on_node set)"
recurring command="/bin/sleep $marker" check_interval=1s # the keeper is up and has looked
check "[note] a keeper with no pushed failure behind it runs no warden-push --clear" \
    bash -c "sleep 1; ! grep -q -- --clear '$tmp/push.log'"
kill -9 "$(main_pid)"
check "[note] the crash was pushed" wait_until 3 grep -q "^node1 $OCF_RESOURCE_INSTANCE " "$tmp/push.log"
check "[note] the push left the marker" test -f "$note"
pushing stop command="/bin/sleep $marker"
pushing start command="/bin/sleep $marker" check_interval=1s
expect_rc 0 "[note] start again"
check "[note] the next keeper ran warden-push --clear" \
    wait_until 3 grep -q -- "^--clear node1 $OCF_RESOURCE_INSTANCE\$" "$tmp/push.log"
check "[note] --clear found no note left (exit 0): the marker is gone" wait_until 3 test ! -e "$note"
pushing stop command="/bin/sleep $marker"
expect_rc 0 "[note] stop"

# ---- a frozen keeper pushes no failure that is already the cluster's -------------
# The lab's chaos run (CHAOS_SEED=9001): a keeper SIGSTOPped, its service
# killed; the recurring monitor reported the crash (count 1) and the
# recovery's stop began; the keeper, resumed, pushed the crash again (count
# 2, and the new service restarted). Its warden-push, whose parent was gone
# by then, waited on PID 1 for 60 s and then set a count that a clean-up had
# removed. Now warden-push is handed a pidfd of the keeper (fd 4; the fake
# push prints whose it is), a monitor stands a stalled keeper down before it
# answers, and a keeper that is no longer recorded pushes nothing.
printf '#!/bin/sh\necho "$* fd4=$(sed -n "s/^Pid:[[:space:]]*//p" /proc/$$/fdinfo/4 2>/dev/null)" >>"%s"\nexit 0\n' \
    "$tmp/push.log" >"$tmp/fake-push"
: >"$tmp/push.log"
pushing start command="/bin/sleep $marker" check_interval=1s
kp=$(keeper_pid)
kill -9 "$(main_pid)"
check "[frozen] a crash is pushed" wait_until 3 grep -q "^node1 $OCF_RESOURCE_INSTANCE " "$tmp/push.log"
check "[frozen] warden-push holds a pidfd of the keeper $kp as fd 4" \
    grep -q "^node1 $OCF_RESOURCE_INSTANCE .*fd4=$kp\$" "$tmp/push.log"
pushing stop command="/bin/sleep $marker"
pushing start command="/bin/sleep $marker" check_interval=1s check_timeout=1s
kp=$(keeper_pid)
: >"$tmp/push.log"
kill -STOP "$kp"
kill -9 "$(main_pid)"
sleep 4.5 # the keeper's verdict is stale (check_interval + check_timeout + 2 s)
OCF_RESKEY_CRM_meta_interval=10000 pushing monitor command="/bin/sleep $marker" check_interval=1s check_timeout=1s
expect_rc 7 "[frozen] a monitor with the keeper frozen reports the crash itself"
kill -CONT "$kp" 2>/dev/null
sleep 2
check "[frozen] the keeper, resumed after that answer, pushed nothing" \
    bash -c "! grep -q '^node1 ' '$tmp/push.log'"
check "[frozen] the monitor stood the stalled keeper down" dead "$kp"
pushing stop command="/bin/sleep $marker"
pushing start command="/bin/sleep $marker" check_interval=1s
kp=$(keeper_pid)
: >"$tmp/push.log"
kill -STOP "$kp"
kill -9 "$(main_pid)"
pushing stop command="/bin/sleep $marker" &
stopper=$!
sleep 0.5
kill -CONT "$kp" 2>/dev/null
wait "$stopper"
sleep 1
check "[frozen] the keeper, resumed during the stop, pushed nothing" \
    bash -c "! grep -q '^node1 ' '$tmp/push.log'"
export OCF_RESOURCE_INSTANCE=$saved_instance

# No name: a configuration error with a reason; stop and probe still answer.
for how in empty unset; do
    if [ $how = empty ]; then export OCF_RESOURCE_INSTANCE=; else unset OCF_RESOURCE_INSTANCE; fi
    agent start command="/bin/sleep $marker"
    expect_rc 6 "[$how name] start is a configuration error"
    expect_reason "OCF_RESOURCE_INSTANCE is empty or not set" "[$how name] the reason names OCF_RESOURCE_INSTANCE"
    agent stop command="/bin/sleep $marker"
    expect_rc 0 "[$how name] stop answers stopped"
    OCF_RESKEY_CRM_meta_interval=0 agent monitor command="/bin/sleep $marker"
    expect_rc 7 "[$how name] a probe answers not running"
done
export OCF_RESOURCE_INSTANCE=$saved_instance

finish
