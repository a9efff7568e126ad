#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/test-examples.sh - the example agents (examples/*/, issue 14)
# crash-tested in the one-node cluster. Each example is built the way a third
# party builds it, from the installed library through pkg-config, and
# installed as provider "warden-example"; then, as a Pacemaker primitive
# (monitor every 2 s) running its real Debian server:
#   - the server's main process is killed: a new one runs, fail count 1;
#   - the server is frozen (SIGSTOP): its protocol probe gets no answer, the
#     keeper pushes the failure, a new server runs, fail count 2, and the
#     failure's reason (warden-failure-<rsc>, crm_mon -A) names the example;
#   - stop leaves no process of the service.
# Exit status: 0 pass, 1 fail, 77 skip (see lab_check_prereqs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"

PROVIDER=warden-example
OCF_DIR=/usr/lib/ocf/resource.d/$PROVIDER
MONITOR_INTERVAL=2
RECOVER_TIMEOUT=30

skip() { lab_skip "$@"; }
fail() { lab_fail "$@"; }
step() { lab_step "$@"; }

tmp=
finish() {
    local rc=$?
    trap - EXIT
    [[ -n $tmp ]] && rm -rf "$tmp"
    # The provider directory is ours (created below), the lab is gone by now.
    [[ -d $OCF_DIR && -e $OCF_DIR/.warden-test ]] && rm -rf "$OCF_DIR"
    lab_test_exit "$rc"
}

why=$(lab_check_prereqs) || skip "$why"
command -v crm >/dev/null 2>&1 || skip "crmsh (crm) is not installed"
pkg-config --exists warden-agent ||
    skip "warden is not installed (pkg-config warden-agent): scripts/install.sh installs it"
examples=()
for dir in "$src"/examples/*/; do
    [[ -f $dir/Makefile ]] && examples+=("$(basename "$dir")")
done
(( ${#examples[@]} )) || fail "no example in $src/examples"
for ex in "${examples[@]}"; do
    # The example's server: memcached -> /usr/bin/memcached, redis -> redis-server.
    case $ex in
        redis) server=redis-server ;;
        *) server=$ex ;;
    esac
    command -v "$server" >/dev/null || fail "$server is missing (scripts/deps.sh installs it)"
done
[[ ! -e $OCF_DIR ]] || fail "$OCF_DIR exists already: not ours, not touching it"

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "build ${examples[*]} from the installed library, install as ocf:$PROVIDER"
tmp=$(mktemp -d /tmp/warden-examples.XXXXXX)
mkdir -p "$OCF_DIR"
touch "$OCF_DIR/.warden-test"
for ex in "${examples[@]}"; do
    cp -r "$src/examples/$ex" "$tmp/$ex"
    make -s -C "$tmp/$ex" CFLAGS="-O2 -g -Wall -Werror" >&2 || fail "examples/$ex does not build"
    make -s -C "$tmp/$ex" install OCF_DIR="$OCF_DIR" >&2 || fail "examples/$ex does not install"
done

# main_pid RSC: the service's main process, from warden's state file
# ("main <pid> <starttime>"), if it is alive.
main_pid() {
    local key p st
    [[ -r /run/warden/$1/service ]] || return 1
    while read -r key p st _; do
        [[ $key == main && $p =~ ^[0-9]+$ ]] || continue
        lab_proc_alive "$p" "$st" && { echo "$p"; return 0; }
    done < "/run/warden/$1/service"
    return 1
}

# recovered RSC OLD_PID COUNT: a new main process runs, the resource is
# Started, and its fail count is COUNT.
recovered() {
    local p
    p=$(main_pid "$1") || return 1
    [[ $p != "$2" ]] && lab_rsc_is "$1" Started "$LAB_NODE" && [[ $(lab_failcount "$1") == "$3" ]]
}

step "cluster up"
lab_up || fail "lab_up failed (see above)"

for ex in "${examples[@]}"; do
    rsc=ex-$ex
    port=$(lab_free_port)
    step "$rsc: ocf:$PROVIDER:$ex on port $port, monitor every ${MONITOR_INTERVAL}s"
    lab_crm configure primitive "$rsc" "ocf:$PROVIDER:$ex" params port="$port" \
        op monitor interval="${MONITOR_INTERVAL}s" timeout=20s || fail "could not create $rsc"
    lab_wait_for -t 30 lab_rsc_is "$rsc" Started "$LAB_NODE" ||
        fail "$rsc not Started (state: $(lab_rsc_state "$rsc"); failed: $(lab_failed_actions --list))"
    lab_wait_for -t 5 main_pid "$rsc" >/dev/null || fail "$rsc: no live main process in /run/warden/$rsc/service"
    pid=$(main_pid "$rsc")
    echo "$rsc: main process $pid: $(lab_proc_cmdline "$pid")" >&2
    [[ $(lab_proc_cmdline "$pid") == *"$port"* ]] || fail "$rsc: the main process does not serve port $port"

    step "$rsc: SIGKILL the server ($pid)"
    kill -KILL "$pid"
    t0=$(lab_now)
    lab_wait_for -t "$RECOVER_TIMEOUT" recovered "$rsc" "$pid" 1 ||
        fail "$rsc not recovered with fail count 1 (state: $(lab_rsc_state "$rsc"), count $(lab_failcount "$rsc"))"
    echo "timing: $rsc running again $(lab_elapsed "$t0") s after the kill" >&2

    pid=$(main_pid "$rsc")
    step "$rsc: SIGSTOP the server ($pid): its probe gets no answer"
    kill -STOP "$pid"
    t0=$(lab_now)
    lab_wait_for -t "$RECOVER_TIMEOUT" recovered "$rsc" "$pid" 2 ||
        fail "$rsc not recovered from the freeze with fail count 2 (state: $(lab_rsc_state "$rsc"), count $(lab_failcount "$rsc"))"
    echo "timing: $rsc running again $(lab_elapsed "$t0") s after the freeze" >&2
    ! lab_proc_alive "$pid" || fail "$rsc: the frozen server $pid survived the recovery"
    # The attribute is written 5 s after the push (attrd's dampening); its
    # value is "<reason> at <time>", here "hung: <example>: ..." from its probe.
    failure_reason() {
        env -u CIB_file crm_mon -1 -A 2>/dev/null | sed -n "s/^[[:space:]]*\* warden-failure-$1[[:space:]]*: //p"
    }
    lab_wait_for -t 15 '[[ $(failure_reason "$rsc") == *"$ex: "* ]]' ||
        fail "$rsc: warden-failure-$rsc (crm_mon -A) does not hold the $ex probe's reason: '$(failure_reason "$rsc")'"
    echo "$rsc: warden-failure-$rsc: $(failure_reason "$rsc")" >&2

    step "$rsc: stop"
    pid=$(main_pid "$rsc")
    lab_crm resource stop "$rsc" || fail "crm resource stop $rsc failed"
    lab_wait_for -t 30 lab_rsc_is "$rsc" Stopped || fail "$rsc not Stopped (state: $(lab_rsc_state "$rsc"))"
    ! lab_proc_alive "$pid" || fail "$rsc is Stopped but its server $pid runs"
    lab_crm configure delete "$rsc" || fail "could not delete $rsc"
done

step "cluster down"
lab_down || fail "the cluster did not go down cleanly"
