#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The service's environment and output (issue 13), seen from inside real
# services started through ocf:warden:daemon: variables, limits, umask,
# nice, OOM score, the cgroup's memory.max and cpu.weight (or, where the
# controllers are not available, exit 5 naming the parameter), a reload
# that changes memory_max live, output to file:PATH, syslog and the journal
# stream (to listeners of the test's own), a failed start whose reason
# holds what the service printed, and file: paths that are refused.
# Output is TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

AGENT=${AGENT:?set AGENT to the daemon agent binary}
if [ "$(id -u)" != 0 ]; then
    [ "${WARDEN_NO_SKIP:-}" = 1 ] && { echo "Bail out! needs root, and WARDEN_NO_SKIP=1"; exit 1; }
    echo "1..0 # SKIP needs root (cgroups, users, /run)"; exit 77
fi
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "Bail out! $PY missing (the test's syslog listener)"; exit 1; }

export WARDEN_STATE_DIR=$(mktemp -d /tmp/warden-environ-test.XXXXXX)
export OCF_RESOURCE_INSTANCE=environ-test-$$
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY HA_logfile
tmp=$(mktemp -d /tmp/warden-environ-tmp.XXXXXX)
chmod 0755 "$tmp"
marker=$((100000 + RANDOM))
listeners=()

cleanup() {
    agent stop command=/bin/true >/dev/null 2>&1
    local p
    for p in ${listeners[@]+"${listeners[@]}"}; do kill "$p" 2>/dev/null; done
    for p in $(pids_with_cmdline /bin/sleep $marker); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WARDEN_STATE_DIR" "$tmp"
}
trap cleanup EXIT

# listen KIND SOCKET FILE: a receiver of the test's own (no syslogd or
# journald here): datagrams one a line, or a stream's bytes, into FILE.
listen() {
    "$PY" - "$1" "$2" "$3" <<'PYEOF' &
import socket, sys
kind, path, out = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM if kind == "dgram" else socket.SOCK_STREAM)
s.bind(path)
if kind != "dgram":
    s.listen(8)
open(out + ".ready", "w").close()
with open(out, "ab", buffering=0) as f:
    while True:
        if kind == "dgram":
            f.write(s.recv(65536) + b"\n")
        else:
            c, _ = s.accept()
            while True:
                b = c.recv(65536)
                if not b:
                    break
                f.write(b)
            c.close()
PYEOF
    listeners+=($!)
    wait_until 10 test -e "$3.ready"
}

main_pid() { awk '/^main /{print $2}' "$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE/service"; }
cgroup_of() { awk '/^cgroup /{print $2}' "$WARDEN_STATE_DIR/$OCF_RESOURCE_INSTANCE/service"; }

# ---- meta-data -------------------------------------------------------------------
agent meta-data
for p in output environment limit_nofile limit_core limit_nproc umask nice oom_score_adjust \
         memory_max cpu_weight; do
    check "meta-data declares $p" grep -q "parameter name=\"$p\"" <<<"$out"
done
md11=$(OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 "$AGENT" meta-data)
check "OCF 1.1 marks memory_max reloadable" grep -q 'name="memory_max".*reloadable="1"' <<<"$md11"
check "OCF 1.1 marks cpu_weight reloadable" grep -q 'name="cpu_weight".*reloadable="1"' <<<"$md11"
check "OCF 1.1 marks limit_nofile not reloadable" grep -q 'name="limit_nofile".*reloadable="0"' <<<"$md11"

# ---- the environment, seen from inside ---------------------------------------------
agent start command="/bin/sleep $marker" output=null \
    environment="GREETING='hello world' LANG=C.UTF-8" limit_nofile=1234:2345 limit_core=0 \
    limit_nproc=777:888 umask=027 nice=5 oom_score_adjust=321
expect_rc 0 "start with every environment parameter"
pid=$(main_pid)
check "environment: GREETING seen by the service" \
    bash -c 'tr "\0" "\n" </proc/$1/environ | grep -qx "GREETING=hello world"' _ "$pid"
check "environment: LANG seen by the service" \
    bash -c 'tr "\0" "\n" </proc/$1/environ | grep -qx "LANG=C.UTF-8"' _ "$pid"
check "environment: no OCF_RESKEY_ reaches the service" \
    bash -c '! tr "\0" "\n" </proc/$1/environ | grep -q "^OCF_RESKEY_"' _ "$pid"
check "limit_nofile 1234:2345 in /proc/PID/limits" \
    grep -Eq '^Max open files +1234 +2345 ' "/proc/$pid/limits"
check "limit_core 0 in /proc/PID/limits" grep -Eq '^Max core file size +0 +0 ' "/proc/$pid/limits"
check "limit_nproc 777:888 in /proc/PID/limits" \
    grep -Eq '^Max processes +777 +888 ' "/proc/$pid/limits"
check "umask 027 in /proc/PID/status" grep -Eq '^Umask:\s+0027' "/proc/$pid/status"
check "nice 5 (field 19 of /proc/PID/stat)" \
    bash -c '[ "$(sed "s/.*) //" /proc/$1/stat | cut -d" " -f17)" = 5 ]' _ "$pid"
check "oom_score_adj 321" bash -c '[ "$(cat /proc/$1/oom_score_adj)" = 321 ]' _ "$pid"
# systemd's IgnoreSIGPIPE=yes: SIGPIPE (13) is bit 12 of SigIgn.
check "SIGPIPE ignored, as systemd's services have it (SigIgn in /proc/PID/status)" \
    bash -c '(( 0x$(awk "/^SigIgn:/{print \$2}" /proc/$1/status) & 0x1000 ))' _ "$pid"
agent stop command=/bin/true
expect_rc 0 "stop"

# ---- the cgroup ---------------------------------------------------------------------
cg_root=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
have() { [ -n "$cg_root" ] && grep -qw "$1" "$cg_root/cgroup.controllers" 2>/dev/null; }
if have memory && have cpu; then
    agent start command="/bin/sleep $marker" output=null memory_max=64M cpu_weight=200
    expect_rc 0 "start with memory_max and cpu_weight"
    cg=$(cgroup_of)
    check "memory.max of the cgroup is 64M" bash -c '[ "$(cat $1/memory.max)" = 67108864 ]' _ "$cg"
    check "cpu.weight of the cgroup is 200" bash -c '[ "$(cat $1/cpu.weight)" = 200 ]' _ "$cg"
    pid=$(main_pid)
    OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 \
        agent reload-agent command="/bin/sleep $marker" output=null memory_max=32M cpu_weight=300
    expect_rc 0 "reload-agent with new memory_max and cpu_weight"
    check "reload: memory.max is 32M now" bash -c '[ "$(cat $1/memory.max)" = 33554432 ]' _ "$cg"
    check "reload: cpu.weight is 300 now" bash -c '[ "$(cat $1/cpu.weight)" = 300 ]' _ "$cg"
    check "reload: the service was not restarted" alive "$pid"
    agent reload-agent command="/bin/sleep $marker" output=null
    check "reload without memory_max: memory.max back to max" \
        bash -c '[ "$(cat $1/memory.max)" = max ]' _ "$cg"
    agent stop command=/bin/true
else
    echo "# the cgroup v2 memory or cpu controller is not available here ($cg_root):" \
         "checking the refusal"
    agent validate-all command="/bin/sleep $marker" memory_max=64M
    expect_rc 5 "validate-all: memory_max without the memory controller"
    expect_reason "parameter 'memory_max' needs the cgroup v2 memory controller" \
        "the reason names memory_max and the controller"
    agent start command="/bin/sleep $marker" cpu_weight=200
    expect_rc 5 "start: cpu_weight without the cpu controller"
    expect_reason "parameter 'cpu_weight' needs the cgroup v2 cpu controller" \
        "the reason names cpu_weight and the controller"
    check "nothing was started" bash -c '[ -z "$(pids_with_cmdline /bin/sleep '$marker')" ]'
    agent start command="/bin/sleep $marker" output=null
    pid=$(main_pid)
    OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 \
        agent reload-agent command="/bin/sleep $marker" output=null memory_max=32M
    expect_rc 5 "reload-agent: memory_max refused where it cannot apply"
    check "the service runs on" alive "$pid"
    agent stop command=/bin/true
fi

# ---- bad values: validate-all refuses what start would ---------------------------------
for bad in "limit_nofile=lots|limit_nofile.*N \\(soft and hard\\), SOFT:HARD" \
           "limit_nofile=10:5|limit_nofile" \
           "limit_core=1Q|limit_core.*a size" \
           "umask=0800|'umask'.*octal" \
           "nice=20|'nice'.*-20 to 19" \
           "oom_score_adjust=-1001|oom_score_adjust.*-1000 to 1000" \
           "memory_max=-5|memory_max.*size" \
           "cpu_weight=0|cpu_weight.*1 to 10000" \
           "environment=1A=b|'environment'.*NAME=VALUE" \
           "output=stdout|'output'.*syslog, journal, file:PATH" \
           "output=file:rel/x.log|'output'.*absolute"; do
    kv=${bad%%|*}; want=${bad#*|}
    agent validate-all command="/bin/sleep $marker" "$kv"
    expect_rc 6 "validate-all refuses $kv"
    expect_reason "$want" "its reason names the parameter and the form ($kv)"
    agent start command="/bin/sleep $marker" "$kv"
    expect_rc 6 "start refuses $kv"
done
nr_open=$(cat /proc/sys/fs/nr_open)
agent start command="/bin/sleep $marker" output=null limit_nofile=1024:infinity
if [ "$(ulimit -Hn)" = "$nr_open" ] || capsh --has-p=cap_sys_resource 2>/dev/null; then
    expect_rc 0 "limit_nofile=1024:infinity starts"
    check "limit_nofile infinity is fs.nr_open ($nr_open)" \
        grep -Eq "^Max open files +1024 +$nr_open " "/proc/$(main_pid)/limits"
else
    # This sandbox: a hard limit of $(ulimit -Hn) and no CAP_SYS_RESOURCE to raise it.
    expect_rc 4 "limit_nofile=1024:infinity: raising the hard limit is not permitted here"
fi
agent stop command=/bin/true
agent validate-all command="/bin/sleep $marker" limit_nofile=$((nr_open + 1))
expect_rc 6 "limit_nofile past fs.nr_open"
expect_reason "fs.nr_open" "its reason says fs.nr_open"

# ---- output=file:PATH ----------------------------------------------------------------
log=$tmp/out.log
agent start command="/bin/sh -c 'echo first line; echo to stderr >&2; exec /bin/sleep $marker'" \
    output=file:$log
expect_rc 0 "start with output=file:PATH"
wait_until 5 grep -q "to stderr" "$log"
check "stdout is in the file" grep -qx "first line" "$log"
check "stderr is in the file" grep -qx "to stderr" "$log"
check "the file is 0640 and root's" bash -c '[ "$(stat -c %a:%u "$1")" = 640:0 ]' _ "$log"
pid=$(main_pid)
check "the service's stdout is opened O_APPEND (copytruncate is safe)" \
    bash -c 'flags=$(awk "/^flags/{print \$2}" /proc/$1/fdinfo/1); (( 8#$flags & 02000 ))' _ "$pid"
agent stop command=/bin/true
agent start command="/bin/sh -c 'echo second start; exec /bin/sleep $marker'" output=file:$log
wait_until 5 grep -q "second start" "$log"
check "a second start appends" bash -c '[ "$(head -1 "$1")" = "first line" ]' _ "$log"
agent stop command=/bin/true

# Refused paths.
ln -s "$log" "$tmp/link.log"
agent start command="/bin/sleep $marker" output=file:$tmp/link.log
expect_rc 6 "output=file: through a symlink is refused"
expect_reason "parameter 'output'.*symlink" "the reason names output and the symlink"
ln -s "$tmp" "$tmp/dirlink"
agent validate-all command="/bin/sleep $marker" output=file:$tmp/dirlink/out.log
expect_rc 6 "output=file: through a symlinked directory is refused"
mkdir "$tmp/nobody" && chown nobody "$tmp/nobody"
agent start command="/bin/sleep $marker" user=nobody output=file:$tmp/nobody/out.log
expect_rc 6 "output=file: in a directory the service's user can write is refused"
expect_reason "writable by the service's user" "the reason says why"
check "nothing was created there" test ! -e "$tmp/nobody/out.log"
agent validate-all command="/bin/sleep $marker" output=file:$tmp/missing/out.log
expect_rc 2 "output=file: in a directory missing on this node"

# ---- output=syslog, and the last output of a failed start -----------------------------
listen dgram "$tmp/log.sock" "$tmp/syslog"
export WARDEN_SYSLOG_SOCKET=$tmp/log.sock
agent start command="/bin/sh -c 'echo hello syslog; echo on stderr >&2; exec /bin/sleep $marker'" \
    output=syslog
expect_rc 0 "start with output=syslog"
wait_until 5 grep -q "on stderr" "$tmp/syslog"
check "syslog got stdout as daemon.info, tagged with the instance" \
    grep -qx "<30>$OCF_RESOURCE_INSTANCE: hello syslog" "$tmp/syslog"
check "syslog got stderr" grep -qx "<30>$OCF_RESOURCE_INSTANCE: on stderr" "$tmp/syslog"
# This instance's relay (its command line is "warden-output <instance>"):
# other tests' services on the machine have relays of their own.
relay=$(pgrep -f "^warden-output $OCF_RESOURCE_INSTANCE( |$)" | head -1)
check "the relay runs ($relay)" test -n "$relay"
check "the relay is outside the service's cgroup" \
    bash -c '! grep -qx "$2" "$1/cgroup.procs" 2>/dev/null' _ "$(cgroup_of)" "$relay"
agent stop command=/bin/true
check "the relay ends with the service" wait_until 5 bash -c '[ "$(ps -o stat= -p "$1" | tr -d " \nZ")" = "" ]' _ "$relay"

# A daemon that explains why it will not run: the check waits on a port
# that never opens, so the start sees the exit, not a passing check.
daemon_cmd="/bin/sh -c 'echo starting up; sleep 0.2; echo \"fatal: refusing to run as root\" >&2; exit 1'"
agent start command="$daemon_cmd" check=tcp:127.0.0.1:9 output=syslog
expect_rc 1 "a daemon that exits while starting fails the start"
expect_reason "service exited while starting.*last output: 'starting up \| fatal: refusing to run as root'" \
    "the reason holds its last output (syslog)"
check "syslog has it too" grep -q "refusing to run as root" "$tmp/syslog"
agent start command="$daemon_cmd" check=tcp:127.0.0.1:9 output=file:$tmp/fail.log
expect_rc 1 "the same with output=file:PATH"
expect_reason "last output: 'starting up \| fatal: refusing to run as root'" \
    "the reason holds its last output (file)"
agent start command="/bin/sh -c 'printf \"a\\nb\\nc\\nd\\033[1m\\n\"; sleep 0.2; exit 3'" \
    check=tcp:127.0.0.1:9 output=syslog
expect_reason "last output: 'b \| c \| d\?\[1m'" \
    "only the last three lines, control bytes shown as '?'"
check "no raw escape reaches the reason" bash -c '! grep -q $'"'"'\e'"'"' <<<"$1"' _ "$err"
agent start command="$daemon_cmd" check=tcp:127.0.0.1:9 output=null
check "output=null: no output in the reason" bash -c '! grep -q "last output" <<<"$1"' _ "$err"
agent stop command=/bin/true

# ---- output=journal -----------------------------------------------------------------------
export WARDEN_JOURNAL_SOCKET=$tmp/missing-journal.sock
agent validate-all command="/bin/sleep $marker" output=journal
expect_rc 6 "output=journal where no journald runs"
expect_reason "parameter 'output' is 'journal'.*expected syslog, file:PATH or null" \
    "the reason says so and names the forms"
listen stream "$tmp/journal.sock" "$tmp/journal"
export WARDEN_JOURNAL_SOCKET=$tmp/journal.sock
agent start command="/bin/sh -c 'echo to the journal; exec /bin/sleep $marker'" output=journal
expect_rc 0 "start with output=journal (a journald stand-in)"
wait_until 5 grep -q "to the journal" "$tmp/journal"
check "the journal stream gets the identifier header, then the output" \
    bash -c '[ "$(head -8 "$1" | tr "\n" "|")" = "$2||6|1|0|0|0|to the journal|" ]' _ \
    "$tmp/journal" "$OCF_RESOURCE_INSTANCE"
agent stop command=/bin/true
unset WARDEN_SYSLOG_SOCKET WARDEN_JOURNAL_SOCKET

finish
