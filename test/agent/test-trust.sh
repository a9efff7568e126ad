#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What ocf:warden:daemon believes, as the security review attacked it: a
# local user serving the keeper's IPC name (an abstract socket, first come
# first served) must not get a process killed by root, a dead service
# reported running, reload values disclosed, or a stop that answers 0 while
# the service runs (review C1, H1, L5); a stuck keeper is the watcher's
# trouble, not the service's. Output is TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

AGENT=${AGENT:?set AGENT to the daemon agent binary}
FAKE_KEEPER=${FAKE_KEEPER:?set FAKE_KEEPER to the fake-keeper helper}
if [ "$(id -u)" != 0 ]; then
    [ "${WARDEN_NO_SKIP:-}" = 1 ] && { echo "Bail out! needs root, and WARDEN_NO_SKIP=1"; exit 1; }
    echo "1..0 # SKIP needs root (other users, /run)"; exit 77
fi

export WARDEN_STATE_DIR=$(mktemp -d /tmp/warden-trust-test.XXXXXX)
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY HA_logfile
tmp=$(mktemp -d /tmp/warden-trust-tmp.XXXXXX)
chmod 755 "$tmp"
marker=$((100000 + RANDOM)) # makes our sleep processes recognisable
svc="/bin/sleep $marker"
helpers=()

nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

# squat INSTANCE VICTIM HEALTH: a nobody process serving the keeper's name.
squat() {
    "${nobody[@]}" "$FAKE_KEEPER" "$1" "$2" "$3" "$tmp/squatter.log" &
    helpers+=($!)
    sleep 0.3
}
# silent INSTANCE: a nobody process that accepts on the keeper's name and
# never answers (review C1).
silent() {
    local name=$1
    "${nobody[@]}" python3 -c '
import socket, sys, time
n = sys.argv[1].encode(); s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\0" + n + b"\0" * (107 - len(n))); s.listen(16); s.settimeout(.5); keep = []
end = time.time() + 60
while time.time() < end:
    try: keep.append(s.accept()[0])
    except socket.timeout: pass' "warden-$name" &
    helpers+=($!)
    sleep 0.3
}
end_helpers() {
    local p
    for p in "${helpers[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    helpers=()
}
field() { awk -v k="$2" '$1 == k { print $2 }' "$WARDEN_STATE_DIR/$1/service" 2>/dev/null; }
keeper_of() { cut -d' ' -f1 "$WARDEN_STATE_DIR/$1/keeper" 2>/dev/null; }
service_gone() { [ -z "$(pids_with_cmdline /bin/sleep $marker)" ]; }

cleanup() {
    end_helpers
    local i
    for i in trust-kill trust-forge trust-reload trust-stop trust-lost trust-stall; do
        OCF_RESOURCE_INSTANCE=$i agent stop command="$svc" >/dev/null 2>&1
    done
    for p in $(pids_with_cmdline /bin/sleep $marker) $(pids_with_cmdline sleep 7777$marker); do
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$WARDEN_STATE_DIR" "$tmp"
}
trap cleanup EXIT

# ---- H1.1: root never signals a pid learned over IPC ---------------------------
export OCF_RESOURCE_INSTANCE=trust-kill
setsid sleep 7777$marker &
victim=$!
squat trust-kill "$victim" 0
agent start command="$svc"
expect_rc 0 "start beside a squatter on the keeper's name"
check "start warns that another process holds the keeper's IPC name" \
    grep -q "another process holds its IPC name" <<<"$err"
check "the pid the squatter named survives start" alive "$victim"
agent stop command="$svc"
expect_rc 0 "stop beside a squatter"
check "the pid the squatter named survives stop" alive "$victim"
check "stop ended the service" service_gone
kill -9 "$victim"; wait "$victim" 2>/dev/null
end_helpers

# ---- H1.2: a squatter cannot report a dead service running ---------------------
export OCF_RESOURCE_INSTANCE=trust-forge
squat trust-forge 1 0
agent start command="$svc"
expect_rc 0 "start beside a squatter serving 'running'"
main=$(field trust-forge main)
kill -9 "$main"
wait_until 5 dead "$main"
sleep 0.3
OCF_RESKEY_CRM_meta_interval=10000 agent monitor command="$svc"
check "a recurring monitor after the crash does not say running (rc=$rc)" test "$rc" -ne 0
OCF_RESKEY_CRM_meta_interval=10000 OCF_CHECK_LEVEL=10 agent monitor command="$svc"
check "a depth-10 monitor after the crash does not say running (rc=$rc)" test "$rc" -ne 0
agent stop command="$svc"
expect_rc 0 "stop after the crash"
end_helpers

# ---- H1.3: reload values are never sent to a squatter --------------------------
export OCF_RESOURCE_INSTANCE=trust-reload
: >"$tmp/squatter.log"
chmod 666 "$tmp/squatter.log"
squat trust-reload 1 0
agent start command="$svc"
OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 agent reload-agent command="$svc" \
    stop_command="mysqladmin --password='S3cret$marker' shutdown"
check "reload-agent fails when the keeper cannot be reached (rc=$rc)" test "$rc" -ne 0
expect_reason "IPC name is held by another process" "the reason says who holds the name"
check "the squatter never saw the reloaded values" bash -c "! grep -q S3cret$marker '$tmp/squatter.log'"
agent stop command="$svc"
end_helpers

# ---- C1: a stop whose keeper cannot be asked still ends the service -------------
export OCF_RESOURCE_INSTANCE=trust-stop
squat trust-stop 1 0
agent start command="$svc"
end_helpers
silent trust-stop
t0=$(now_ms)
OCF_RESKEY_CRM_meta_timeout=10000 agent stop command="$svc"
t1=$(now_ms)
expect_rc 0 "stop beside a squatter that never answers"
check "stop ended the service" service_gone
check "stop took no IPC wait ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 3000
end_helpers

# The keeper's record lost: stop finds the keeper in /proc, never by IPC.
export OCF_RESOURCE_INSTANCE=trust-lost
agent start command="$svc"
expect_rc 0 "start"
keeper=$(keeper_of trust-lost)
check "a keeper runs" alive "${keeper:-0}"
rm -f "$WARDEN_STATE_DIR/trust-lost/keeper"
silent trust-lost
agent stop command="$svc"
expect_rc 0 "stop with the keeper's record lost and a silent squatter"
check "stop stood the unrecorded keeper down" wait_until 3 dead "${keeper:-0}"
check "stop ended the service" service_gone
end_helpers

# ---- a stuck keeper is replaced; the service is not charged ---------------------
export OCF_RESOURCE_INSTANCE=trust-stall
agent start command="$svc" check_interval=1s check_timeout=500ms
keeper=$(keeper_of trust-stall)
kill -STOP "$keeper"
sleep 4 # past interval + timeout + the 2 s margin: the verdict is stale
OCF_RESKEY_CRM_meta_interval=10000 agent monitor command="$svc" check_interval=1s check_timeout=500ms
expect_rc 0 "a monitor with a stalled keeper answers from a probe of its own"
check "the stalled keeper was ended" wait_until 3 dead "$keeper"
new=$(keeper_of trust-stall)
check "a new keeper keeps the service" test -n "$new" -a "$new" != "$keeper"
check "the new keeper runs" alive "${new:-0}"
OCF_RESKEY_CRM_meta_interval=10000 agent monitor command="$svc" check_interval=1s check_timeout=500ms
expect_rc 0 "the next monitor answers from the new keeper"
agent stop command="$svc"
expect_rc 0 "stop"

finish
