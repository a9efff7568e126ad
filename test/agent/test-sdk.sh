#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Agents written out of tree (issue 14): examples/memcached and
# examples/redis, each built from an installed copy of warden (meson install
# --destdir into a temporary directory) through pkg-config warden-agent
# alone; a binary needs nothing but libc, its depth-0 monitor loads neither
# libwarden nor libqb, its probe is a dialogue (warden/dialogue.h) whose
# reasons the monitor gives when the server is frozen or killed, and it
# passes ocf-tester against a real memcached or redis-server that this test
# starts (through the agent) on a port of its own. Output is TAP.
#
# Env: BUILD_ROOT (the meson build directory), SOURCE_ROOT.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

: "${BUILD_ROOT:?}" "${SOURCE_ROOT:?}"
if [ "$(id -u)" != 0 ]; then
    [ "${WARDEN_NO_SKIP:-}" = 1 ] && { echo "Bail out! needs root, and WARDEN_NO_SKIP=1"; exit 1; }
    echo "1..0 # SKIP needs root (cgroups, /run, memcached and redis-server as their users)"; exit 77
fi
for tool in memcached redis-server ocf-tester pkg-config cc readelf; do
    command -v $tool >/dev/null || { echo "Bail out! $tool missing (scripts/deps.sh installs it)"; exit 1; }
done

tmp=$(mktemp -d /tmp/warden-sdk.XXXXXX)
chmod 0755 "$tmp" # ocf-tester runs meta-data as an unprivileged user too
export WARDEN_STATE_DIR=$tmp/state
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_CHECK_LEVEL OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY HA_logfile
cleanup() {
    local a
    for a in memcached redis; do
        [ -x "$tmp/$a" ] && OCF_RESOURCE_INSTANCE=sdk-$a-$$ "$tmp/$a" stop >/dev/null 2>&1
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- install, then build from what was installed -------------------------------
if meson install -C "$BUILD_ROOT" --destdir "$tmp/root" --no-rebuild --quiet >"$tmp/install.log" 2>&1; then
    ok "meson install --destdir $tmp/root"
else
    not_ok "meson install --destdir"; sed 's/^/# /' "$tmp/install.log" | tail -5; finish; exit 1
fi
pc=$(find "$tmp/root" -name warden-agent.pc | head -1)
check "warden-agent.pc is installed ($pc)" test -n "$pc"
front=$(find "$tmp/root" -name libwarden-front.a | head -1)
check "libwarden-front.a is installed" test -n "$front"
lib=$(find "$tmp/root" -name libwarden.so.0 | head -1)
prefix=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=prefix warden-agent)
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-variable=prefix="$tmp/root$prefix" \
    --cflags --libs warden-agent)
# The front dlopen()s the library this build installs (prefix, not the
# DESTDIR); WARDEN_LIBRARY points it at the copy under $tmp/root.
export WARDEN_LIBRARY=$lib

# server_pid USER PORT: the pid of the server the agent started, found by its
# user and its port on its command line (redis-server rewrites its own).
server_pid() {
    pgrep -u "$1" -f -- "$2" | head -1
}

# example NAME USER REQUEST: one example, from its source to ocf-tester;
# REQUEST is what its dialogue sends, for the reasons.
example() {
    local name=$1 user=$2 request=$3
    local port=$((20000 + RANDOM % 20000))
    export OCF_RESOURCE_INSTANCE=sdk-$name-$$ OCF_RESKEY_port=$port
    AGENT=$tmp/$name
    # Only the example and the installed tree: nothing of the source tree's
    # include/ or lib/.
    cp "$SOURCE_ROOT/examples/$name/$name.c" "$tmp/"
    if (cd "$tmp" && cc -Wall -Werror -o "$name" "$name.c" $flags) 2>"$tmp/cc.log"; then
        ok "examples/$name builds from the installed headers and pkg-config ($flags)"
    else
        not_ok "examples/$name builds"; sed 's/^/# /' "$tmp/cc.log" | head -10; return
    fi
    local needed lines
    needed=$(readelf -d "$AGENT" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    check "$name needs nothing but libc ($needed)" test "$needed" = "libc.so.6 "
    lines=$(wc -l <"$tmp/$name.c")
    check "$name.c is well under 100 lines ($lines)" test "$lines" -lt 90

    agent meta-data
    expect_rc 0 "$name meta-data"
    grep -A3 'name="check"' <<<"$out" | grep -q 'default="agent"' && ok "$name: default check is 'agent'" || not_ok "$name: default check is 'agent'"
    agent validate-all
    expect_rc 0 "$name validate-all"
    OCF_RESKEY_CRM_meta_interval=0 agent monitor
    expect_rc 7 "$name: a probe before start: not running"
    # The keeper probes every second, and one failed probe is a failure.
    export OCF_RESKEY_check_interval=1s OCF_RESKEY_check_timeout=1s \
        OCF_RESKEY_failure_threshold=1 OCF_RESKEY_notify_cluster=false
    agent start
    expect_rc 0 "$name: start runs the server on 127.0.0.1:$port"
    local pid
    pid=$(server_pid "$user" "$port")
    check "$name: the server runs (pid $pid) as $user" test "$(stat -c %U "/proc/$pid" 2>/dev/null)" = "$user"
    OCF_RESKEY_CRM_meta_interval=10000 agent monitor
    expect_rc 0 "$name: depth-0 monitor"
    OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 agent monitor
    expect_rc 0 "$name: depth-10 monitor (the dialogue, now)"

    # The fast path: the depth-0 monitor loads no library but libc.
    OCF_RESKEY_CRM_meta_interval=10000 LD_DEBUG=files "$AGENT" monitor 2>"$tmp/ld0" >/dev/null
    rc=$?
    expect_rc 0 "$name: depth-0 monitor under LD_DEBUG=files"
    check "$name: it loads neither libwarden nor libqb" bash -c "! grep -Eq 'file=(libwarden|libqb|$lib)' '$tmp/ld0'"
    OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 LD_DEBUG=files "$AGENT" monitor 2>"$tmp/ld10" >/dev/null
    rc=$?
    expect_rc 0 "$name: depth-10 monitor under LD_DEBUG=files"
    check "$name: which does load libwarden and libqb (the test can tell)" \
        bash -c "grep -q 'file=.*libwarden' '$tmp/ld10' && grep -q 'file=libqb' '$tmp/ld10'"

    # The dialogue's reasons. A frozen server is hung: a probe now says so,
    # and so does the keeper, which runs the agent's dialogue every
    # check_interval, through the recurring (depth-0) monitor.
    OCF_RESKEY_port=$((port == 65535 ? 1 : port + 1)) OCF_CHECK_LEVEL=10 \
        OCF_RESKEY_CRM_meta_interval=60000 agent monitor
    expect_rc 1 "$name: a probe of a port where nothing listens fails"
    expect_reason "^$name 127\.0\.0\.1:[0-9]+: Connection refused" "$name: the reason is the dialogue's"
    kill -STOP "$pid"
    OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 agent monitor check_timeout=1s
    expect_rc 1 "$name: a frozen server fails the depth-10 monitor"
    expect_reason "^$name: no answer to $request within [0-9.]+m?s" "$name: the reason is the dialogue's (the time it had)"
    frozen_seen() {
        OCF_RESKEY_CRM_meta_interval=10000 agent monitor
        [ "$rc" != 0 ]
    }
    wait_until 10 frozen_seen
    expect_rc 1 "$name: the keeper finds it hung (depth-0 monitor)"
    expect_reason "$name: no answer to $request within [0-9.]+m?s" "$name: with the dialogue's reason (the time it had)"
    kill -CONT "$pid"
    # A killed one is gone: the process watch answers before any dialogue.
    kill -KILL "$pid"
    wait_until 5 dead "$pid"
    OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 agent monitor
    expect_rc 7 "$name: a killed server: not running"
    expect_reason "service process $pid is gone" "$name: the reason names the process"
    agent stop
    expect_rc 0 "$name: stop"
    check "$name: the server is gone" test -z "$(server_pid "$user" "$port")"

    unset OCF_RESKEY_check_interval OCF_RESKEY_check_timeout OCF_RESKEY_failure_threshold \
        OCF_RESKEY_notify_cluster
    local ot
    ot=$(ocf-tester -n "sdk-ot-$name-$$" -o port=$port "$AGENT" 2>&1)
    if grep -q "passed all tests" <<<"$ot"; then ok "$name: ocf-tester passes"; else
        not_ok "$name: ocf-tester passes"; printf "%s\n" "$ot" | tail -20 | sed "s/^/# /"
    fi
}

example memcached memcache stats
example redis redis PING
finish
