# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers for the agent tests: TAP output, running the agent the way
# Pacemaker does (parameters in OCF_RESKEY_*), and looking for processes.
# shellcheck shell=bash

n_test=0
n_fail=0
export OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf}

ok() { n_test=$((n_test + 1)); echo "ok $n_test - $*"; }
not_ok() { n_test=$((n_test + 1)); n_fail=$((n_fail + 1)); echo "not ok $n_test - $*"; }
check() { # check "description" command...
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
finish() {
    echo "1..$n_test"
    [ "$n_fail" -eq 0 ]
}

# agent ACTION [k=v ...]: run the agent with OCF_RESKEY_k=v; sets rc, out, err.
agent() {
    local action=$1; shift
    local -a env=(env)
    local kv
    for kv in "$@"; do env+=("OCF_RESKEY_$kv"); done
    local errf
    errf=$(mktemp)
    out=$("${env[@]}" "$AGENT" "$action" 2>"$errf")
    rc=$?
    err=$(cat "$errf")
    rm -f "$errf"
    return 0
}

# expect_rc WANT "description": compare the last agent's exit code.
expect_rc() {
    if [ "$rc" -eq "$1" ]; then ok "$2 (rc=$rc)"; else
        not_ok "$2: want rc=$1, got rc=$rc"
        printf '# stderr: %s\n' "$err" | head -5
    fi
}

# expect_reason REGEX "description": the ocf-exit-reason line matches.
expect_reason() {
    local reason
    reason=$(printf '%s\n' "$err" | sed -n 's/^ocf-exit-reason://p' | tail -1)
    if printf '%s' "$reason" | grep -Eq -- "$1"; then ok "$2"; else
        not_ok "$2: reason '$reason' does not match /$1/"
    fi
}

# pids_with_cmdline ARGV...: pids whose command line is exactly these words.
pids_with_cmdline() {
    local want p cmd
    want=$(printf '%s\0' "$@" | tr '\0' ' ')
    for p in /proc/[0-9]*; do
        { cmd=$(tr '\0' ' ' <"$p/cmdline") && state=$(awk '{print $3}' "$p/stat"); } 2>/dev/null || continue
        [ "$cmd" = "$want" ] && [ "$state" != Z ] && echo "${p#/proc/}"
    done
    return 0
}

# alive PID: the process exists and is not a zombie (this machine's PID 1
# reaps orphans late, so /proc/PID outlives the process by a second or two).
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

dead() { ! alive "$1"; }

# wait_until SECONDS command...: retry a condition (used only where no event
# exists to wait on, e.g. "this pid is gone").
wait_until() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@"; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.05
    done
}

now_ms() { date +%s%3N; }

# tap_skip REASON: this test cannot run here: "1..0 # SKIP" and exit 77, or,
# with WARDEN_NO_SKIP=1 (CI), a failure that says why.
tap_skip() {
    if [ "${WARDEN_NO_SKIP:-}" = 1 ]; then echo "Bail out! cannot run: $1, and WARDEN_NO_SKIP=1"; exit 1; fi
    echo "1..0 # SKIP $1"
    exit 77
}

# lab_node_prereqs ROOT_WHY [CMD:PACKAGE...]: what booting a lab node
# (test/lab/) needs, else tap_skip: root, systemd-nspawn, debootstrap,
# nsenter, dpkg-buildpackage, overlayfs, and the given commands.
lab_node_prereqs() {
    local why=$1 c
    shift
    [ "$(id -u)" = 0 ] || tap_skip "needs root ($why)"
    for c in systemd-nspawn:systemd-container debootstrap:debootstrap nsenter:util-linux \
             dpkg-buildpackage:dpkg-dev "$@"; do
        command -v "${c%%:*}" >/dev/null || tap_skip "${c%%:*} missing (apt-get install ${c#*:}; scripts/deps.sh)"
    done
    grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
        grep -qw overlay /proc/filesystems || tap_skip "no overlayfs in this kernel"
}
