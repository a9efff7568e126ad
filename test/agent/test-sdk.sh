#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An agent written out of tree (issue 14): examples/memcached, built from an
# installed copy of warden (meson install --destdir into a temporary
# directory) through pkg-config warden-agent alone; its binary needs nothing
# but libc, its depth-0 monitor loads neither libwarden nor libqb, and it
# passes ocf-tester against a real memcached that this test starts (through
# the agent) on a port of its own. Output is TAP.
#
# Env: BUILD_ROOT (the meson build directory), SOURCE_ROOT.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

: "${BUILD_ROOT:?}" "${SOURCE_ROOT:?}"
if [ "$(id -u)" != 0 ]; then
    [ "${WARDEN_NO_SKIP:-}" = 1 ] && { echo "Bail out! needs root, and WARDEN_NO_SKIP=1"; exit 1; }
    echo "1..0 # SKIP needs root (cgroups, /run, memcached as user memcache)"; exit 77
fi
for tool in memcached ocf-tester pkg-config cc readelf; do
    command -v $tool >/dev/null || { echo "Bail out! $tool missing (scripts/deps.sh installs it)"; exit 1; }
done

tmp=$(mktemp -d /tmp/warden-sdk.XXXXXX)
chmod 0755 "$tmp" # ocf-tester runs meta-data as an unprivileged user too
export WARDEN_STATE_DIR=$tmp/state
export OCF_RESOURCE_INSTANCE=sdk-memcached-$$
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_CHECK_LEVEL OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY HA_logfile
port=$((20000 + RANDOM % 20000))
export OCF_RESKEY_port=$port
cleanup() {
    [ -x "$tmp/memcached" ] && "$tmp/memcached" stop >/dev/null 2>&1
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
# Only the example and the installed tree: nothing of the source tree's
# include/ or lib/.
cp "$SOURCE_ROOT/examples/memcached/memcached.c" "$tmp/"
if (cd "$tmp" && cc -Wall -Werror -o memcached memcached.c $flags) 2>"$tmp/cc.log"; then
    ok "examples/memcached builds from the installed headers and pkg-config ($flags)"
else
    not_ok "examples/memcached builds"; sed 's/^/# /' "$tmp/cc.log" | head -10; finish; exit 1
fi
needed=$(readelf -d "$tmp/memcached" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
check "the agent needs nothing but libc ($needed)" test "$needed" = "libc.so.6 "
check "it is under 110 lines ($(wc -l <"$tmp/memcached.c"))" test "$(wc -l <"$tmp/memcached.c")" -lt 110

# The front dlopen()s the library this build installs (prefix, not the
# DESTDIR); WARDEN_LIBRARY points it at the copy under $tmp/root.
export WARDEN_LIBRARY=$lib
AGENT=$tmp/memcached
agent meta-data
expect_rc 0 "meta-data"
check "its check defaults to its own probe" grep -q 'name="check".*' <<<"$out"
grep -A3 'name="check"' <<<"$out" | grep -q 'default="agent"' && ok "default check is 'agent'" || not_ok "default check is 'agent'"

agent validate-all
expect_rc 0 "validate-all"
OCF_RESKEY_CRM_meta_interval=0 agent monitor
expect_rc 7 "a probe before start: not running"
agent start
expect_rc 0 "start runs memcached on 127.0.0.1:$port"
pid=$(pgrep -xf "/usr/bin/memcached -l 127.0.0.1 -p $port -U 0" | head -1)
check "memcached runs (pid $pid) as memcache" test "$(stat -c %U "/proc/$pid" 2>/dev/null)" = memcache
OCF_RESKEY_CRM_meta_interval=10000 agent monitor
expect_rc 0 "depth-0 monitor"

# ---- the fast path: the depth-0 monitor loads no library but libc ---------------
OCF_RESKEY_CRM_meta_interval=10000 LD_DEBUG=files "$AGENT" monitor 2>"$tmp/ld0" >/dev/null
rc=$?
expect_rc 0 "depth-0 monitor under LD_DEBUG=files"
check "it loads neither libwarden nor libqb" bash -c "! grep -Eq 'file=(libwarden|libqb|$lib)' '$tmp/ld0'"
OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 LD_DEBUG=files "$AGENT" monitor 2>"$tmp/ld10" >/dev/null
rc=$?
expect_rc 0 "depth-10 monitor (the agent's probe, now)"
check "which does load libwarden and libqb (the test can tell)" \
    bash -c "grep -q 'file=.*libwarden' '$tmp/ld10' && grep -q 'file=libqb' '$tmp/ld10'"

# ---- the probe speaks memcached: a frozen server is hung --------------------------
kill -STOP "$pid"
OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 agent monitor check_timeout=1s
expect_rc 1 "a frozen memcached fails the depth-10 monitor"
expect_reason "memcached: no answer in time" "the reason is the probe's"
kill -CONT "$pid"
agent stop
expect_rc 0 "stop"
check "memcached is gone" test -z "$(pgrep -xf "/usr/bin/memcached -l 127.0.0.1 -p $port -U 0")"

# ---- ocf-tester --------------------------------------------------------------------
ot=$(ocf-tester -n "sdk-ot-$$" -o port=$port "$AGENT" 2>&1)
if grep -q "passed all tests" <<<"$ot"; then ok "ocf-tester passes"; else not_ok "ocf-tester passes"; printf "%s\n" "$ot" | tail -20 | sed "s/^/# /"; fi
finish
