#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/in-node.sh - what a node of the 3-node lab knows of a warden
# resource, asked inside that node (its /run, /proc and cgroups):
#     lab3_exec NODE test/cluster/in-node.sh COMMAND RSC [ARG...]
#
#   main RSC              the live main process (warden's state), or exit 1
#   keeper RSC            the live keeper, or exit 1
#   procs RSC             the live processes of RSC's cgroup, one a line
#   signal SIG RSC [COMM] send SIG to the processes of RSC's cgroup (only
#                         those named COMM); prints them; exit 1 if none
#   mail-signal SIG COMM MARK...  send SIG to the Postfix or Dovecot processes
#                         named COMM that carry a MARK (any agent's: no
#                         warden state needed); prints them; exit 1 if none
#   leftovers RSC [MARK...]  what of RSC runs on this node though it should
#                         not: its cgroup's processes, the main process and
#                         keeper of its state, its dump helper, and Postfix
#                         or Dovecot processes that carry a MARK (a
#                         configuration path, see mail_instance_pids); one a
#                         line, exit 1 if there is any
#   dumps RSC             the dumps of RSC in the default dump_dir
#   find ARGV...          live processes whose argv is ARGV (lab_proc_find)
#   frozen PID...         those of PID... that are stopped (state T)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"
# shellcheck source=warden-state.sh
. "$here/warden-state.sh"
# shellcheck source=../agent/mail/mail-lib.sh
. "$here/../agent/mail/mail-lib.sh"

DUMP_DIR=/var/lib/warden/dumps

# cgroup_of RSC: RSC's cgroup directory (from its state, else where warden
# makes it).
cgroup_of() {
    read_state "$1" || true
    if [[ -n $st_cgroup ]]; then echo "$st_cgroup"; else mail_cgroup "$1"; fi
}

procs() {
    local cg p
    cg=$(cgroup_of "$1")
    [[ -r $cg/cgroup.procs ]] || return 0
    while read -r p; do
        [[ -n $p ]] && lab_proc_alive "$p" && echo "$p"
    done < "$cg/cgroup.procs"
    return 0
}

# signal_named SIG COMM PID...: send SIG to those of PID... named COMM (all
# of them if COMM is empty); print them; fail if there is none.
signal_named() {
    local sig=$1 comm=$2 p c hit=()
    shift 2
    for p; do
        if [[ -n $comm ]]; then
            c=$(cat "/proc/$p/comm" 2>/dev/null) || continue   # gone meanwhile
            [[ $c == "$comm" ]] || continue
        fi
        kill "-$sig" "$p" 2>/dev/null && hit+=("$p")
    done
    (( ${#hit[@]} )) || return 1
    echo "${hit[*]}"
}

cmd=${1:?usage: in-node.sh main|keeper|procs|signal|mail-signal|leftovers|dumps|find|frozen ...}
shift
case $cmd in
    main)   main_pid "${1:?RSC}" ;;
    keeper) keeper_pid "${1:?RSC}" ;;
    procs)  procs "${1:?RSC}" ;;
    signal)      # shellcheck disable=SC2046 # a list of pids
                 signal_named "${1:?SIG}" "${3:-}" $(procs "${2:?RSC}") ;;
    mail-signal) sig=${1:?SIG} comm=${2:?COMM}
                 shift 2
                 # shellcheck disable=SC2046 # a list of pids
                 signal_named "$sig" "$comm" $(mail_instance_pids "$@") ;;
    leftovers)
        rsc=${1:?RSC}
        shift
        left=()
        for p in $(procs "$rsc"); do left+=("$p in the cgroup: $(lab_proc_cmdline "$p" || echo '?')"); done
        if read_state "$rsc" && lab_proc_alive "$st_main" "$st_main_start"; then
            left+=("$st_main, main process of the state")
        fi
        if [[ -n $st_keeper ]] && lab_proc_alive "$st_keeper" "$st_keeper_start"; then
            left+=("$st_keeper, keeper")
        fi
        for p in $(lab_proc_find_prefix warden-dump __warden_dump "$rsc"); do
            left+=("$p, dump helper")
        done
        if (( $# )); then
            for p in $(mail_instance_pids "$@"); do
                left+=("$p of the instance: $(lab_proc_cmdline "$p" || echo '?')")
            done
        fi
        (( ${#left[@]} == 0 )) || { printf '%s\n' "${left[@]}"; exit 1; } ;;
    dumps)
        rsc=${1:?RSC}
        for f in "$DUMP_DIR/$rsc"-*; do [[ -e $f ]] && echo "$f"; done
        exit 0 ;;
    find) lab_proc_find "$@" ;;
    frozen)
        for p; do
            [[ $(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) == T ]] && echo "$p"
        done
        exit 0 ;;
    *)  echo "in-node.sh: unknown command '$cmd'" >&2; exit 2 ;;
esac
