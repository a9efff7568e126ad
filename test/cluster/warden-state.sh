# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/warden-state.sh - what the cluster tests know of a warden
# resource on this node, read from the agent's own state in
# $STATE_ROOT/<rsc>/ (default /run/warden): its holder, main process, cgroup
# and keeper, with start times so a recycled pid is never mistaken for them.
# Sourced after lab.sh (it uses lab_proc_alive).
# shellcheck shell=bash

STATE_ROOT=${STATE_ROOT:-/run/warden}

# read_state RSC: the agent's record of RSC into st_holder/st_holder_start,
# st_main/st_main_start, st_cgroup, st_keeper/st_keeper_start. False when
# there is no service file naming a main process.
read_state() {
    local f=$STATE_ROOT/$1/service key a b
    st_holder='' st_holder_start='' st_main='' st_main_start='' st_cgroup=''
    st_keeper='' st_keeper_start=''
    { [[ -r $f ]] && while read -r key a b _; do
        case $key in
            holder) st_holder=$a st_holder_start=$b ;;
            main)   st_main=$a st_main_start=$b ;;
            cgroup) st_cgroup=$a ;;
        esac
    done < "$f"; } 2>/dev/null || true
    if [[ -r $STATE_ROOT/$1/keeper ]]; then
        read -r st_keeper st_keeper_start _ < "$STATE_ROOT/$1/keeper" 2>/dev/null || true
    fi
    [[ $st_main =~ ^[0-9]+$ ]]
}

# remember the processes and cgroup the state names, to check after the stop
# that none of them is left.
declare -a seen_procs=() seen_cgroups=()
remember() {
    local p
    for p in "$st_holder:$st_holder_start" "$st_main:$st_main_start" \
             "$st_keeper:$st_keeper_start"; do
        [[ $p == [0-9]*:[0-9]* ]] || continue
        [[ " ${seen_procs[*]} " == *" $p "* ]] || seen_procs+=("$p")
    done
    if [[ -n $st_cgroup && " ${seen_cgroups[*]} " != *" $st_cgroup "* ]]; then
        seen_cgroups+=("$st_cgroup")
    fi
}

# main_pid RSC: the live main process of RSC (also remembered); fails if none.
main_pid() {
    read_state "$1" || return 1
    lab_proc_alive "$st_main" "$st_main_start" || return 1
    remember
    echo "$st_main"
}

# keeper_pid RSC: the live keeper of RSC (also remembered); fails if none.
keeper_pid() {
    read_state "$1" || return 1
    [[ -n $st_keeper ]] && lab_proc_alive "$st_keeper" "$st_keeper_start" || return 1
    remember
    echo "$st_keeper"
}

# new_main_runs RSC OLD: a main process other than OLD runs.
new_main_runs() {
    local p
    p=$(main_pid "$1") || return 1
    [[ $p != "$2" ]]
}
