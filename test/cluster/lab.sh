#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/lab.sh - a throwaway single-node Pacemaker + Corosync cluster on
# 127.0.0.1, for tests that need a real cluster.
#
# As a command:   test/cluster/lab.sh up|down|status
# As a library:   . test/cluster/lab.sh
#                 trap lab_down_if_started EXIT   # tear down even on failure
#                 lab_up
#                 lab_crm configure primitive d1 ocf:pacemaker:Dummy
#                 lab_wait_for -t 30 lab_rsc_is d1 Started
#                 (see test-lab-smoke.sh for a complete test)
#
# Helpers for tests: lab_wait_for, lab_rsc_state, lab_rsc_is, lab_failcount,
# lab_failed_actions, lab_rsc_cleanup, lab_crm, lab_mon_xml, lab_diag,
# lab_proc_find / lab_proc_find_prefix / lab_proc_alive / lab_proc_cmdline /
# lab_ticks_now (pure /proc process lookups), lab_now / lab_elapsed
# (timings), lab_log, lab_log_mark / lab_log_since / lab_log_has /
# lab_log_first (Pacemaker's log after a mark), lab_file_mode, lab_free_port.
#
# What it does (see /work/shared/CLUSTER-LAB.md for the measured background):
#  * refuses to start if any corosync/pacemaker daemon runs, or if its own state
#    dir still records PIDs of an earlier lab (clear that with "lab.sh down");
#  * writes a private corosync.conf (knet on 127.0.0.1, no crypto, votequorum,
#    one node named after `uname -n`) under $LAB_DIR and starts corosync with
#    "-c FILE": /etc/corosync is never touched. Pacemaker talks to corosync over
#    libqb IPC only, so it does not care where the config file lives;
#  * seeds a fresh CIB (stonith-enabled=false, dc-deadtime, no-quorum-policy=
#    ignore, cluster-recheck-interval) through Pacemaker's own file backend, so
#    Pacemaker writes cib.xml.sig itself (no hand-made digest to get wrong).
#    Existing CIB/pengine files are moved aside and put back by lab_down;
#  * starts pacemakerd detached (setsid) with a clean environment and its log
#    under $LAB_LOG, records every PID it starts (with the process start time,
#    so a recycled PID is never signalled), and waits until the node is online
#    with a DC;
#  * lab_down stops everything it recorded, by PID only: pacemakerd (SIGTERM,
#    then wait for it and all its children), then corosync; SIGKILL after a
#    bounded wait. It is idempotent and works after a half-finished lab_up.
#
# Requires: root, bash >= 5 (EPOCHREALTIME), corosync, pacemaker, xmllint
# (libxml2-utils, a dependency of resource-agents). Tests also use crmsh (`crm`).
#
# Safe to source from scripts running with "set -euo pipefail": the library does
# not change shell options, and its functions return non-zero instead of exiting.

# ---------------------------------------------------------------- settings --
LAB_DIR=${LAB_DIR:-/run/warden-lab}           # everything the lab writes
LAB_STATE=${LAB_STATE:-$LAB_DIR/state}        # recorded PIDs; removed by lab_down
LAB_LOG=${LAB_LOG:-$LAB_DIR/log}              # logs; kept after down, wiped by up
LAB_NODE=${LAB_NODE:-$(uname -n)}             # Pacemaker names the node uname -n
LAB_CLUSTER_NAME=${LAB_CLUSTER_NAME:-warden-lab}
LAB_UP_TIMEOUT=${LAB_UP_TIMEOUT:-90}          # s until node online with a DC
LAB_STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-60}      # s for pacemakerd's graceful stop
LAB_REAP_TIMEOUT=${LAB_REAP_TIMEOUT:-5}       # s to let PID 1 reap dead daemons
LAB_WAIT_TIMEOUT=${LAB_WAIT_TIMEOUT:-30}      # default for lab_wait_for
LAB_WAIT_INTERVAL=${LAB_WAIT_INTERVAL:-0.2}   # s between lab_wait_for attempts
# dc-deadtime must be in the CIB before pacemakerd starts: the controller waits
# this long for another DC before electing itself (default 20 s).
LAB_DC_DEADTIME=${LAB_DC_DEADTIME:-5s}
LAB_RECHECK_INTERVAL=${LAB_RECHECK_INTERVAL:-1min}
LAB_PCMK_VARLIB=${LAB_PCMK_VARLIB:-/var/lib/pacemaker}
LAB_BACKUP=${LAB_BACKUP:-$LAB_PCMK_VARLIB/warden-lab-backup}
# Environment handed to corosync and pacemakerd (and through pacemaker-execd to
# the resource agents): a clean one, like a service manager would give them, so
# nothing from the calling test (CIB_file, meson's variables, ...) leaks in.
LAB_DAEMON_PATH=${LAB_DAEMON_PATH:-/usr/sbin:/usr/bin:/sbin:/bin}

_LAB_PIDS_FILE=$LAB_STATE/pids   # lines: "<role> <pid> <starttime>"
_LAB_DAEMON_COMMS='^(corosync|pacemakerd|pacemaker-.*)$'

# ----------------------------------------------------------------- output --
# lab_log MSG...: a timestamped line on stderr (stdout stays free for results).
lab_log() {
    printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2
}

# lab_now: wall clock in milliseconds (integer; for timings).
lab_now() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $(( t / 1000 ))
}

# lab_elapsed START_MS: seconds since START_MS (from lab_now), e.g. "7.412".
lab_elapsed() {
    local d=$(( $(lab_now) - $1 ))
    printf '%d.%03d\n' $(( d / 1000 )) $(( d % 1000 ))
}

# ------------------------------------------------------------ /proc helpers --
# _lab_read_stat PID: read /proc/PID/stat into _lab_st_state, _lab_st_ppid,
# _lab_st_sid and _lab_st_start (start time, clock ticks since boot). Uses
# no subshell: lab_down walks all of /proc with it. The command name (field
# 2) may hold spaces and ')', so the fields are taken after the LAST ')'.
_lab_read_stat() {
    local stat
    local -a f
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    # f = field 3 onwards: state ppid pgrp session tty tpgid flags minflt
    # cminflt majflt cmajflt utime stime cutime cstime priority nice threads
    # itrealvalue starttime ...
    read -ra f <<< "${stat##*) }"
    _lab_st_state=${f[0]} _lab_st_ppid=${f[1]} _lab_st_sid=${f[3]} _lab_st_start=${f[19]}
}

# lab_proc_alive PID [STARTTIME]: true if PID runs and is not a zombie (this
# machine's PID 1 reaps orphans late, so a dead daemon can linger as a zombie
# and kill -0 would still succeed). With STARTTIME, PID must also be the same
# process as the one recorded (guards against PID reuse).
lab_proc_alive() {
    _lab_read_stat "$1" || return 1
    [[ $_lab_st_state != Z && $_lab_st_state != X ]] || return 1
    [[ -z ${2:-} || $2 == "$_lab_st_start" ]]
}

# lab_proc_starttime PID: start time of PID in clock ticks since boot.
lab_proc_starttime() {
    _lab_read_stat "$1" || return 1
    echo "$_lab_st_start"
}

# lab_ticks_now: the current time in the unit of lab_proc_starttime (clock
# ticks since boot), rounded down; a process started later has a starttime >= it.
lab_ticks_now() {
    local up hz
    up=$(< /proc/uptime); up=${up%% *}
    hz=$(getconf CLK_TCK)
    echo $(( ${up%.*} * hz + 10#${up#*.} * hz / 100 ))
}

# lab_proc_list: "pid ppid sid state comm" for every process (one line each).
lab_proc_list() {
    local d pid comm
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        _lab_read_stat "$pid" || continue
        { read -r comm < "$d/comm"; } 2>/dev/null || continue
        echo "$pid $_lab_st_ppid $_lab_st_sid $_lab_st_state $comm"
    done
}

# lab_proc_descendants PID...: all live descendants of the given PIDs, plus
# every live process in the sessions they lead (a daemon started with setsid
# leads its own session; its children stay in it even after being orphaned).
lab_proc_descendants() {
    local -A want=() seen=()
    local p pid ppid sid state comm changed=1 list
    for p in "$@"; do want[$p]=1; done
    list=$(lab_proc_list)
    while (( changed )); do
        changed=0
        while read -r pid ppid sid state comm; do
            [[ $state == Z || -n ${seen[$pid]:-} ]] && continue
            if [[ -n ${want[$ppid]:-} || -n ${want[$sid]:-} ]]; then
                seen[$pid]=1; want[$pid]=1; changed=1
            fi
        done <<< "$list"
    done
    for p in "$@"; do unset "seen[$p]"; done
    (( ${#seen[@]} )) && printf '%s\n' "${!seen[@]}" | sort -n
    return 0
}

# lab_proc_cmdline PID: argv of PID joined by single spaces.
lab_proc_cmdline() {
    local -a argv
    { mapfile -d '' argv < "/proc/$1/cmdline"; } 2>/dev/null || return 1
    (( ${#argv[@]} )) || return 1
    echo "${argv[*]}"
}

# lab_proc_find [--since TICKS] ARGV...: PIDs of live (non-zombie) processes
# whose argv is ARGV, started at or after TICKS (from lab_ticks_now). argv[0]
# is compared by basename, so "sleep 100" matches "/bin/sleep 100" and the
# other way round. Only processes of our PID namespace. Pure /proc walk:
# no pidof/pgrep.
lab_proc_find() {
    local since=0 d pid want
    local -a argv
    if [[ ${1:-} == --since ]]; then since=$2; shift 2; fi
    want=$(_lab_argv_key "$@")
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        { mapfile -d '' argv < "$d/cmdline"; } 2>/dev/null || continue
        (( ${#argv[@]} )) || continue          # kernel threads, zombies
        argv[0]=${argv[0]##*/}
        [[ "${argv[*]}" == "$want" ]] || continue
        _lab_same_pidns "$pid" || continue
        lab_proc_alive "$pid" || continue
        (( _lab_st_start >= since )) && echo "$pid"
    done
    return 0
}

# lab_proc_find_prefix [--since TICKS] ARGV...: like lab_proc_find, but the
# process's argv need only begin with ARGV (whole words), e.g. a helper whose
# later arguments are not known in advance.
lab_proc_find_prefix() {
    local since=0 d pid want n
    local -a argv
    if [[ ${1:-} == --since ]]; then since=$2; shift 2; fi
    want=$(_lab_argv_key "$@")
    n=$#
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        { mapfile -d '' argv < "$d/cmdline"; } 2>/dev/null || continue
        (( ${#argv[@]} >= n )) || continue
        argv[0]=${argv[0]##*/}
        [[ "${argv[*]:0:n}" == "$want" ]] || continue
        _lab_same_pidns "$pid" || continue
        lab_proc_alive "$pid" || continue
        (( _lab_st_start >= since )) && echo "$pid"
    done
    return 0
}

# _lab_same_pidns PID: PID is in our PID namespace. A node of the systemd
# lab (test/lab/plab.sh) runs the same programs in a namespace of its own,
# which this lab's tests must not take for theirs.
_lab_same_pidns() {
    [[ $(readlink "/proc/$1/ns/pid" 2>/dev/null) == "$(readlink /proc/self/ns/pid)" ]]
}

# _lab_argv_key ARGV...: ARGV joined by spaces, argv[0] reduced to its basename.
_lab_argv_key() {
    local a0=${1##*/}
    shift
    echo "$a0${1+ }$*"
}

# lab_running_daemons: "pid comm" of every live corosync/pacemaker daemon on
# the machine, whoever started it, except those of a node in PID and network
# namespaces of its own (a systemd-nspawn node of test/lab/plab.sh): they share no
# port, no IPC socket and no process with a cluster of this namespace.
lab_running_daemons() {
    local pid ppid sid state comm my_pidns my_netns
    my_pidns=$(readlink /proc/self/ns/pid)
    my_netns=$(readlink /proc/self/ns/net)
    lab_proc_list | while read -r pid ppid sid state comm; do
        [[ $state == Z ]] && continue
        [[ $comm =~ $_LAB_DAEMON_COMMS ]] || continue
        if [[ $(readlink "/proc/$pid/ns/pid" 2>/dev/null) != "$my_pidns" &&
              $(readlink "/proc/$pid/ns/net" 2>/dev/null) != "$my_netns" ]]; then
            continue
        fi
        echo "$pid $comm"
    done
    return 0
}

# ------------------------------------------------------------ state file --
# _lab_record ROLE PID: remember PID (with its start time) for lab_down.
_lab_record() {
    local st
    st=$(lab_proc_starttime "$2") || return 1
    grep -qs "^[a-z-]* $2 $st\$" "$_LAB_PIDS_FILE" && return 0
    echo "$1 $2 $st" >> "$_LAB_PIDS_FILE"
}

# _lab_recorded [ROLE]: recorded "role pid starttime" lines (all or one role).
_lab_recorded() {
    [[ -s $_LAB_PIDS_FILE ]] || return 0
    if [[ -n ${1:-} ]]; then
        grep "^$1 " "$_LAB_PIDS_FILE" || true
    else
        cat "$_LAB_PIDS_FILE"
    fi
}

# _lab_alive_recorded [ROLE]: recorded processes that are still alive.
_lab_alive_recorded() {
    local role pid st
    _lab_recorded "${1:-}" | while read -r role pid st; do
        lab_proc_alive "$pid" "$st" && echo "$role $pid $st"
    done
    return 0
}

# _lab_any_alive ROLE: true if a recorded process of ROLE is alive. (No
# "producer | grep -q": under pipefail, grep -q quitting early can make the
# producer die of SIGPIPE and the pipeline fail although grep matched.)
_lab_any_alive() {
    local role pid st
    while read -r role pid st; do
        [[ -n $pid ]] && lab_proc_alive "$pid" "$st" && return 0
    done < <(_lab_recorded "$1")
    return 1
}

# lab_skip REASON...: leave a test that cannot run here with exit 77 (skip)
# and the reason. With WARDEN_NO_SKIP=1 (set by scripts/test.sh, so in CI) it
# is a failure instead: CI must never pass by silently skipping a cluster test.
lab_skip() {
    if [[ ${WARDEN_NO_SKIP:-} == 1 ]]; then
        echo "FAIL: cannot run, and WARDEN_NO_SKIP=1 forbids skipping: $*" >&2
        exit 1
    fi
    echo "SKIP: $*" >&2
    exit 77
}

# lab_fail MSG...: end a test: the reason, diagnostics if this shell started
# the lab, exit 1 (the EXIT trap then tears the lab down).
lab_fail() {
    echo "FAIL: $*" >&2
    if lab_started_here; then lab_diag; fi
    exit 1
}

# lab_step MSG...: a progress line of a test.
lab_step() { echo "--- $*" >&2; }

# lab_test_exit RC: the end of a test, from its EXIT trap: tear the lab down
# (a teardown that leaves processes fails the test), then exit 0, 77 or 1.
lab_test_exit() {
    local rc=$1
    if ! lab_down_if_started; then
        echo "FAIL: lab teardown left processes running" >&2
        rc=1
    fi
    case $rc in 0|77) ;; *) rc=1 ;; esac
    (( rc == 0 )) && echo "PASS: $(basename "$0")" >&2
    exit "$rc"
}

# --------------------------------------------------------------- checks --
# lab_check_prereqs: prints why a lab cannot run here (and returns 1), or
# nothing. Tests turn a failure into a skip (exit 77).
lab_check_prereqs() {
    local b missing=()
    if (( EUID != 0 )); then
        echo "not root (the lab starts corosync/pacemaker and writes $LAB_PCMK_VARLIB)"
        return 1
    fi
    for b in corosync corosync-cfgtool pacemakerd crm_mon cibadmin xmllint setsid; do
        command -v "$b" >/dev/null 2>&1 || missing+=("$b")
    done
    if (( ${#missing[@]} )); then
        echo "missing programs: ${missing[*]} (apt-get install corosync pacemaker resource-agents)"
        return 1
    fi
    if (( BASH_VERSINFO[0] < 5 )); then
        echo "bash >= 5 needed"
        return 1
    fi
}

# _lab_refuse_if_busy: fail with a clear message if a cluster already runs or
# an earlier lab left recorded PIDs behind.
_lab_refuse_if_busy() {
    local running recorded pid comm role st mine=0 foreign=0 gone=0
    recorded=$(_lab_recorded)
    running=$(lab_running_daemons)
    [[ -z $recorded && -z $running ]] && return 0

    lab_log "refusing to start: the machine is not clean"
    if [[ -n $running ]]; then
        lab_log "  cluster daemons running now:"
        while read -r pid comm; do
            if grep -qs "^[a-z-]* $pid " "$_LAB_PIDS_FILE"; then
                lab_log "    $pid $comm (started by this lab)"; mine=1
            else
                lab_log "    $pid $comm (NOT started by this lab)"; foreign=1
            fi
        done <<< "$running"
    fi
    if [[ -n $recorded ]]; then
        while read -r role pid st; do
            lab_proc_alive "$pid" "$st" || gone=$(( gone + 1 ))
        done <<< "$recorded"
        lab_log "  $_LAB_PIDS_FILE still records an earlier lab ($gone of its $(wc -l <<< "$recorded") processes gone)"
    fi
    if [[ -n $recorded ]] || (( mine )); then
        lab_log "  clear the earlier lab with: test/cluster/lab.sh down"
    fi
    if (( foreign )); then
        lab_log "  'lab.sh down' leaves processes it did not start alone:"
        lab_log "  stop that cluster yourself (e.g. kill PID), then retry"
    fi
    return 1
}

# ------------------------------------------------------------ CIB seeding --
# _lab_seed_cib: move any existing CIB/pengine files aside (once), then write
# a fresh CIB holding only the lab's cluster properties.
#
# The seed starts from `cibadmin --empty` (so crm_feature_set/validate-with
# match the installed Pacemaker) and is modified with CIB_file pointing at the
# live path: Pacemaker's file backend then writes cib.xml AND cib.xml.sig
# itself, owned by hacluster and mode 0600, with the digest computed exactly
# as pacemaker-based will check it at start.
_lab_seed_cib() {
    local cibdir=$LAB_PCMK_VARLIB/cib pedir=$LAB_PCMK_VARLIB/pengine d
    for d in cib pengine; do
        local src=$LAB_PCMK_VARLIB/$d
        if [[ ! -e $LAB_BACKUP/$d ]] && compgen -G "$src/*" >/dev/null; then
            mkdir -p "$LAB_BACKUP/$d"
            cp -a "$src/." "$LAB_BACKUP/$d/"
            lab_log "saved the existing $src/* to $LAB_BACKUP/$d (restored by lab_down)"
        fi
    done
    rm -rf "${cibdir:?}"/* "${pedir:?}"/*

    cibadmin --empty > "$cibdir/cib.xml" || return 1
    chown hacluster:haclient "$cibdir/cib.xml"
    chmod 0600 "$cibdir/cib.xml"
    local p=cib-bootstrap-options
    CIB_file=$cibdir/cib.xml cibadmin --create --scope crm_config --xml-text "
      <cluster_property_set id=\"$p\">
        <nvpair id=\"$p-stonith-enabled\" name=\"stonith-enabled\" value=\"false\"/>
        <nvpair id=\"$p-dc-deadtime\" name=\"dc-deadtime\" value=\"$LAB_DC_DEADTIME\"/>
        <nvpair id=\"$p-no-quorum-policy\" name=\"no-quorum-policy\" value=\"ignore\"/>
        <nvpair id=\"$p-cluster-recheck-interval\" name=\"cluster-recheck-interval\" value=\"$LAB_RECHECK_INTERVAL\"/>
      </cluster_property_set>" || { lab_log "seeding the CIB failed"; return 1; }
    if [[ ! -s $cibdir/cib.xml.sig ]]; then
        lab_log "Pacemaker did not write $cibdir/cib.xml.sig; the seed would be discarded"
        return 1
    fi
    cp "$cibdir/cib.xml" "$LAB_LOG/cib-seed.xml"
}

# _lab_restore_cib: drop the lab's CIB/pengine files, put back what
# _lab_seed_cib moved aside. The lab's last CIB is kept in $LAB_LOG.
_lab_restore_cib() {
    local d
    if [[ -f $LAB_PCMK_VARLIB/cib/cib.xml && -d $LAB_LOG ]]; then
        cp "$LAB_PCMK_VARLIB/cib/cib.xml" "$LAB_LOG/cib-last.xml" 2>/dev/null || true
    fi
    for d in cib pengine; do
        rm -rf "${LAB_PCMK_VARLIB:?}/$d"/*
        if [[ -d $LAB_BACKUP/$d ]]; then
            cp -a "$LAB_BACKUP/$d/." "$LAB_PCMK_VARLIB/$d/"
            rm -rf "${LAB_BACKUP:?}/$d"
            lab_log "restored the original $LAB_PCMK_VARLIB/$d"
        fi
    done
    rmdir "$LAB_BACKUP" 2>/dev/null || true
}

# --------------------------------------------------------------- corosync --
_lab_write_corosync_conf() {
    cat > "$LAB_DIR/corosync.conf" <<EOF
# Written by test/cluster/lab.sh: a throwaway one-node cluster on loopback.
totem {
    version: 2
    cluster_name: $LAB_CLUSTER_NAME
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
logging {
    to_stderr: no
    to_syslog: no
    to_logfile: yes
    logfile: $LAB_LOG/corosync.log
    timestamp: hires
    fileline: off
    debug: off
}
quorum {
    provider: corosync_votequorum
}
nodelist {
    node {
        name: $LAB_NODE
        nodeid: 1
        ring0_addr: 127.0.0.1
    }
}
EOF
}

# _lab_spawn ROLE LOGFILE CMD...: start CMD detached in its own session
# (setsid -f, stdin from /dev/null, output to LOGFILE, clean environment) and
# record its PID. A tiny shell writes its own PID ($$) and then execs CMD, so
# the recorded PID is exactly the daemon's: no pidfile race, no search by
# name. It also closes every other inherited file descriptor: a daemon holding
# a test runner's pipe open would make that runner wait for EOF forever.
_lab_spawn() {
    local role=$1 log=$2 pidf=$LAB_STATE/$1.spawn pid i
    shift 2
    rm -f "$pidf"
    # shellcheck disable=SC2016 # $$, $f and $@ are for the inner shell
    env -i PATH="$LAB_DAEMON_PATH" LANG=C.UTF-8 \
        PCMK_logfile="$LAB_LOG/pacemaker.log" \
        setsid -f /bin/bash -c '
            # No redirection on the loop itself: bash would save fd 2 on a
            # high fd for it, the loop would close that copy, and stderr
            # would stay on /dev/null for good.
            for f in /proc/$$/fd/*; do
                f=${f##*/}
                (( f > 2 )) && eval "exec $f>&-" 2>/dev/null
            done
            echo $$ > "$0"
            umask 022
            exec "$@"' "$pidf" "$@" \
        < /dev/null >> "$log" 2>&1
    for (( i = 0; i < 100; i++ )); do      # the pid file appears within ms
        if [[ -s $pidf ]]; then
            pid=$(< "$pidf")
            _lab_record "$role" "$pid" && return 0
            lab_log "$role (pid $pid) exited right away; see $log"
            return 1
        fi
        sleep 0.05
    done
    lab_log "$role did not start; see $log"
    return 1
}

# ------------------------------------------------------------- crm_mon --
# lab_mon_xml: one crm_mon snapshot as XML (inactive resources included);
# bounded, so a wedged cluster cannot hang a test.
lab_mon_xml() {
    env -u CIB_file timeout 15 crm_mon -1 --inactive --output-as=xml 2>/dev/null
}

# _lab_xpath XPATH [XML]: evaluate XPATH on XML (default: a fresh crm_mon
# snapshot). Prints nothing (and still succeeds) for an empty result.
_lab_xpath() {
    local xml=${2-}
    [[ $# -ge 2 ]] || xml=$(lab_mon_xml) || return 1
    xmllint --xpath "$1" - <<< "$xml" 2>/dev/null || true
}

# lab_cluster_ready: the local node is online and there is a DC.
lab_cluster_ready() {
    local xml
    xml=$(lab_mon_xml) || return 1
    [[ $(_lab_xpath "string(//current_dc/@present)" "$xml") == true ]] &&
    [[ $(_lab_xpath "string(//nodes/node[@name='$LAB_NODE']/@online)" "$xml") == true ]]
}

# lab_rsc_state RSC: one line per instance of RSC: "<role> [<node>...]",
# e.g. "Started vm" or "Stopped"; "Absent" if RSC is not configured.
lab_rsc_state() {
    local xml n i role nodes sel="//resources//resource[@id='$1']"
    xml=$(lab_mon_xml) || { echo Unknown; return 1; }
    n=$(_lab_xpath "count($sel)" "$xml")
    if [[ -z $n || $n == 0 ]]; then echo Absent; return 0; fi
    for (( i = 1; i <= n; i++ )); do
        role=$(_lab_xpath "string(($sel)[$i]/@role)" "$xml")
        nodes=$(_lab_xpath "($sel)[$i]/node/@name" "$xml" |
                sed -E 's/ ?name="([^"]*)"/\1 /g; s/ $//')
        echo "${role:-Unknown}${nodes:+ }$nodes"
    done
}

# lab_rsc_is RSC ROLE [NODE]: true if an instance of RSC has ROLE (on NODE).
lab_rsc_is() {
    local role nodes
    while read -r role nodes; do
        [[ $role == "$2" ]] || continue
        [[ -z ${3:-} ]] && return 0
        [[ " $nodes " == *" $3 "* ]] && return 0
    done < <(lab_rsc_state "$1")
    return 1
}

# lab_failcount RSC [NODE]: RSC's fail count (summed over its operations, as
# crm_mon reports it), 0 if none, INFINITY if any is INFINITY.
lab_failcount() {
    local xml
    xml=$(lab_mon_xml) || return 1
    lab_failcount_in "$xml" "$@"
}

# lab_failcount_in XML RSC [NODE]: the same, from crm_mon XML (the lab's tests
# and test/bench/storm.sh use it).
lab_failcount_in() {
    local xml=$1 sel="//node_history/node" vals v sum=0
    shift
    [[ -n ${2:-} ]] && sel+="[@name='$2']"
    sel+="/resource_history[@id='$1']/@fail-count"
    vals=$(_lab_xpath "$sel" "$xml" | sed -E 's/ ?fail-count="([^"]*)"/\1\n/g')
    for v in $vals; do
        case $v in
            INFINITY|+INFINITY) echo INFINITY; return 0 ;;
            *[!0-9]*) ;;
            *) sum=$(( sum + v )) ;;
        esac
    done
    echo "$sum"
}

# lab_failed_actions [--list|--count]: the cluster's failed actions, one line
# each ("<op_key> node=<node> rc=<exitcode> (<exitstatus>) reason=<reason>"),
# or with --count just how many there are.
lab_failed_actions() {
    local xml
    xml=$(lab_mon_xml) || return 1
    lab_failed_actions_in "$xml" "$@"
}

# lab_failed_actions_in XML [--list|--count]: the same, from crm_mon XML.
lab_failed_actions_in() {
    local xml=$1 n i a
    local -A f
    shift
    n=$(_lab_xpath "count(//failures/failure)" "$xml")
    if [[ ${1:-} == --count ]]; then echo "${n:-0}"; return 0; fi
    for (( i = 1; i <= ${n:-0}; i++ )); do
        for a in op_key node exitcode exitstatus exitreason; do
            f[$a]=$(_lab_xpath "string((//failures/failure)[$i]/@$a)" "$xml")
        done
        echo "${f[op_key]} node=${f[node]} rc=${f[exitcode]} (${f[exitstatus]}) reason=${f[exitreason]}"
    done
}

# lab_rsc_cleanup RSC: forget RSC's failures (fail count, failed actions).
lab_rsc_cleanup() {
    env -u CIB_file crm_resource --cleanup --resource "$1" >/dev/null
}

# lab_crm ARG...: run crmsh (e.g. lab_crm configure primitive ...) against
# the live cluster. Its output (crmsh 4.4 warns "Blind faith: not fencing
# unseen nodes" on every change with stonith disabled) is shown only if it
# fails.
lab_crm() {
    local out rc=0
    out=$(env -u CIB_file crm "$@" 2>&1) || rc=$?
    if (( rc )); then
        lab_log "crm $* failed (exit $rc):"
        printf '%s\n' "$out" >&2
    fi
    return $rc
}

# lab_diag: everything useful to understand a failed test, on stderr.
lab_diag() {
    {
        echo "----- lab diagnostics ($(date '+%F %T')) -----"
        echo "--- recorded processes ($_LAB_PIDS_FILE):"
        _lab_recorded
        echo "--- crm_mon:"
        env -u CIB_file timeout 15 crm_mon -1 --inactive --show-detail --failcounts 2>&1 || true
        if [[ -r $LAB_LOG/pacemaker.log ]]; then
            echo "--- last lines of $LAB_LOG/pacemaker.log (errors/warnings/notices):"
            grep -E '[[:space:]](error|warning|notice|crit): ' "$LAB_LOG/pacemaker.log" | tail -n 25 || true
        fi
        echo "----- end of lab diagnostics (logs: $LAB_LOG) -----"
    } >&2
}

# lab_wait_for [-t SECS] [-i SECS] [-q] CMD [ARG...]
# Retry until CMD succeeds, at most SECS (default $LAB_WAIT_TIMEOUT) seconds,
# sleeping -i SECS (default $LAB_WAIT_INTERVAL) between attempts. A single
# word-containing-spaces argument is evaluated as a shell condition, e.g.
#   lab_wait_for -t 20 lab_rsc_is d1 Started
#   lab_wait_for '[[ $(lab_failcount d1) == 1 ]]'
# Returns 0 as soon as CMD succeeds, 1 on timeout (with a message unless -q).
lab_wait_for() {
    local timeout=$LAB_WAIT_TIMEOUT interval=$LAB_WAIT_INTERVAL quiet=0 start
    while [[ ${1:-} == -* ]]; do
        case $1 in
            -t) timeout=$2; shift 2 ;;
            -i) interval=$2; shift 2 ;;
            -q) quiet=1; shift ;;
            --) shift; break ;;
            *) lab_log "lab_wait_for: unknown option $1"; return 2 ;;
        esac
    done
    start=$(lab_now)
    local deadline=$(( start + $(_lab_secs_to_ms "$timeout") ))
    while :; do
        if (( $# == 1 )) && [[ $1 == *" "* ]]; then
            eval "$1" && return 0
        else
            "$@" && return 0
        fi
        if (( $(lab_now) >= deadline )); then
            (( quiet )) || lab_log "timed out after ${timeout}s waiting for: $*"
            return 1
        fi
        sleep "$interval"
    done
}

# ------------------------------------------------------- Pacemaker's log --
# Pacemaker, its agents and whatever they start (warden's keepers, helpers)
# log to $LAB_LOG/pacemaker.log (PCMK_logfile). A test takes a mark before an
# action and then looks only at what came after it.

# lab_log_mark: the current end of Pacemaker's log (a byte offset).
lab_log_mark() {
    stat -c %s "$LAB_LOG/pacemaker.log" 2>/dev/null || echo 0
}

# lab_log_since MARK: the lines of Pacemaker's log written after MARK.
lab_log_since() {
    tail -c +"$(( $1 + 1 ))" "$LAB_LOG/pacemaker.log" 2>/dev/null || true
}

# lab_log_has MARK ERE: a line written after MARK matches ERE.
lab_log_has() {
    lab_log_since "$1" | grep -Eq -- "$2"
}

# lab_log_first MARK FIXED...: the line number (counted from MARK) of the
# first line after MARK that contains every FIXED string; fails if none does.
# Fixed strings, not patterns: paths and resource names need no escaping.
lab_log_first() {
    local mark=$1
    shift
    lab_log_since "$mark" | awk '
        BEGIN { for (i = 1; i < ARGC; i++) want[i] = ARGV[i]; n = ARGC - 1; ARGC = 1 }
        { for (i = 1; i <= n; i++) if (index($0, want[i]) == 0) next; print NR; found = 1; exit }
        END { exit !found }' "$@"
}

# ------------------------------------------------------------ small tools --
# lab_file_mode PATH: the permission bits of PATH in octal, e.g. "600"
# (never follows a symlink: a symlink reports "777").
lab_file_mode() {
    stat -c %a -- "$1"
}

# lab_free_port: a TCP port on 127.0.0.1 that is free now (the kernel's
# choice for an ephemeral bind).
lab_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _lab_secs_to_ms SECS: "30" -> 30000, "0.5" -> 500, "2.25" -> 2250.
_lab_secs_to_ms() {
    local int=${1%%.*} frac=
    [[ $1 == *.* ]] && frac=${1#*.}
    frac=${frac}000
    echo $(( 10#${int:-0} * 1000 + 10#${frac:0:3} ))
}

# --------------------------------------------------------------- up/down --
# lab_up: bring the cluster up; prints how long it took. Returns 2 (having
# touched nothing) if the machine is busy or not fit for a lab. On any other
# failure it prints why and returns 1, leaving what it started recorded: call
# lab_down (tests call lab_down_if_started from an EXIT trap).
lab_up() {
    local why t0 t_coro role
    if ! why=$(lab_check_prereqs); then
        lab_log "cannot run a lab here: $why"
        return 2
    fi
    _lab_refuse_if_busy || return 2
    # From here on, whatever happens, lab_down has something to undo.
    _LAB_STARTED_HERE=1
    t0=$(lab_now)

    mkdir -p "$LAB_DIR" "$LAB_STATE"
    rm -rf "${LAB_LOG:?}"
    mkdir -p "$LAB_LOG"
    chmod 0755 "$LAB_DIR" "$LAB_LOG"
    : > "$_LAB_PIDS_FILE"
    _lab_write_corosync_conf
    # The marker tells lab_down the CIB files are the lab's to wipe/restore.
    touch "$LAB_STATE/cib-seeded"
    _lab_seed_cib || return 1

    # corosync -f (foreground) under our own setsid -f gives its exact PID;
    # pacemaker only needs corosync's IPC, so the config path does not matter.
    _lab_spawn corosync "$LAB_LOG/corosync.out" corosync -f -c "$LAB_DIR/corosync.conf" || return 1
    if ! lab_wait_for -q -t 20 -i 0.1 _lab_corosync_ready; then
        lab_log "corosync did not become ready in 20 s; see $LAB_LOG/corosync.log"
        return 1
    fi
    t_coro=$(lab_elapsed "$t0")

    _lab_spawn pacemakerd "$LAB_LOG/pacemakerd.out" pacemakerd || return 1
    local deadline=$(( $(lab_now) + LAB_UP_TIMEOUT * 1000 ))
    until lab_cluster_ready; do
        for role in corosync pacemakerd; do
            if ! _lab_any_alive "$role"; then
                lab_log "$role died while the cluster was starting; logs in $LAB_LOG"
                lab_diag
                return 1
            fi
        done
        if (( $(lab_now) >= deadline )); then
            lab_log "cluster not up after ${LAB_UP_TIMEOUT}s (node online + DC); logs in $LAB_LOG"
            lab_diag
            return 1
        fi
        sleep 0.2
    done
    # Remember pacemakerd's children too: after a SIGKILL of pacemakerd they
    # keep running (reparented to PID 1) and must be ended by PID.
    _lab_record_children
    lab_log "cluster up in $(lab_elapsed "$t0") s (corosync ready after $t_coro s); node $LAB_NODE, logs in $LAB_LOG"
}

_lab_corosync_ready() {
    _lab_any_alive corosync || return 1
    corosync-cfgtool -s >/dev/null 2>&1
}

# _lab_record_children: record the current descendants (and session members)
# of every live recorded process as "corosync-child" or "pacemakerd-child".
# Pacemaker's daemons each call setsid, and an agent's background service
# usually stays in pacemaker-execd's session even after being orphaned, so
# this also catches services that agents left behind.
_lab_record_children() {
    local role pid st child family
    local -A roots=()
    while read -r role pid st; do
        [[ -n $pid ]] && roots[${role%-child}]+=" $pid"
    done < <(_lab_alive_recorded)
    for family in "${!roots[@]}"; do
        # shellcheck disable=SC2086 # a list of PIDs
        for child in $(lab_proc_descendants ${roots[$family]}); do
            _lab_record "$family-child" "$child" || true
        done
    done
}

# _lab_stop TIMEOUT SIG ROLE...: send SIG to the live recorded processes of
# the given roles, wait up to TIMEOUT s for them all to be gone.
_lab_stop() {
    local timeout=$1 sig=$2 want role pid st t
    shift 2
    local -a targets=()
    for want in "$@"; do
        while read -r role pid st; do
            [[ -n $pid ]] && targets+=("$pid:$st")
        done < <(_lab_alive_recorded "$want")
    done
    (( ${#targets[@]} )) || return 0
    for t in "${targets[@]}"; do
        # re-check identity right before signalling: never hit a recycled PID
        if lab_proc_alive "${t%%:*}" "${t#*:}"; then
            kill "-$sig" "${t%%:*}" 2>/dev/null || true
        fi
    done
    lab_wait_for -q -t "$timeout" -i 0.1 _lab_all_gone "${targets[@]}"
}

# _lab_all_gone PID:STARTTIME...: none of them is alive (zombies count as gone).
_lab_all_gone() {
    local t
    for t in "$@"; do
        lab_proc_alive "${t%%:*}" "${t#*:}" && return 1
    done
    return 0
}

# _lab_all_reaped: no process _lab_recorded lists ("role pid starttime"
# lines) is left in /proc, not even as a zombie.
_lab_all_reaped() {
    local role pid st cur
    while read -r role pid st; do
        [[ -n $pid ]] || continue
        cur=$(lab_proc_starttime "$pid") || continue
        [[ $cur == "$st" ]] && return 1
    done < <(_lab_recorded)
    return 0
}

# _lab_clean_shm: remove the libqb files in /dev/shm of our (dead) daemons.
# A daemon that stops cleanly removes them itself; after a SIGKILL they stay:
# "qb-<server pid>-<client pid>-..." IPC directories, and corosync's 8 MiB
# "qb-corosync-<pid>-blackbox-{header,data}" flight recorder.
_lab_clean_shm() {
    local -A ours=()
    local role pid st f name
    while read -r role pid st; do
        [[ -n $pid ]] && ours[$pid]=1
    done < <(_lab_recorded)
    for f in /dev/shm/qb-*; do
        [[ -e $f ]] || continue
        name=${f#/dev/shm/qb-}
        if [[ $name =~ ^([0-9]+)- || $name =~ ^[a-z_-]+-([0-9]+)-blackbox- ]]; then
            pid=${BASH_REMATCH[1]}
            [[ -n ${ours[$pid]:-} ]] && rm -rf -- "$f"
        fi
    done
    return 0
}

# lab_down: stop everything lab_up started, by recorded PID; restore the CIB
# files. Idempotent; also cleans up after a half-finished lab_up. Returns 1
# (keeping its records, so it can be run again) if something would not die.
lab_down() {
    local t0 left
    t0=$(lab_now)
    if [[ -s $_LAB_PIDS_FILE ]]; then
        # Pick up children started since lab_up (pacemakerd respawns daemons;
        # execd runs agents) so that none survives its parent.
        _lab_record_children
        if _lab_any_alive pacemakerd; then
            env -u CIB_file timeout 5 cibadmin -Q > "$LAB_LOG/cib-final.xml" 2>/dev/null || true
        fi
        # pacemakerd stops the resources, then its own children, in order.
        if ! _lab_stop "$LAB_STOP_TIMEOUT" TERM pacemakerd; then
            lab_log "pacemakerd did not stop in ${LAB_STOP_TIMEOUT}s: SIGKILL"
            _lab_stop 5 KILL pacemakerd || true
        fi
        # Children left without their parent (e.g. pacemakerd was killed):
        # ask politely, then force.
        _lab_stop 10 TERM pacemakerd-child || _lab_stop 5 KILL pacemakerd-child || true
        _lab_stop 15 TERM corosync || _lab_stop 5 KILL corosync || true
        _lab_stop 5 TERM corosync-child || _lab_stop 5 KILL corosync-child || true

        left=$(_lab_alive_recorded)
        if [[ -n $left ]]; then
            lab_log "still running after lab_down (kept recorded; run lab.sh down again):"
            lab_log "$left"
            return 1
        fi
    fi
    # Dead daemons were orphans: this machine's PID 1 reaps them late, and
    # until then they show up in ps as zombies. Wait (bounded) so that the
    # machine looks clean to whoever checks right after us.
    if ! lab_wait_for -q -t "$LAB_REAP_TIMEOUT" -i 0.1 _lab_all_reaped; then
        lab_log "note: zombies of lab daemons not reaped by PID 1 yet (harmless)"
    fi
    _lab_clean_shm
    if [[ -e $LAB_STATE/cib-seeded ]]; then
        _lab_restore_cib
    fi
    rm -rf "${LAB_STATE:?}"
    _LAB_STARTED_HERE=
    lab_log "cluster down in $(lab_elapsed "$t0") s"
}

# lab_started_here: true if this shell's lab_up got past its checks (so the
# lab, or what is left of it, is this shell's to inspect and tear down).
lab_started_here() {
    [[ -n ${_LAB_STARTED_HERE:-} ]]
}

# lab_down_if_started: lab_down, but only if this shell's lab_up got past its
# checks. For EXIT traps: a test that was refused (because another lab runs)
# must not tear that other lab down.
lab_down_if_started() {
    [[ -n ${_LAB_STARTED_HERE:-} ]] || return 0
    lab_down
}

# lab_status: what the lab recorded, what runs, and crm_mon if it answers.
lab_status() {
    local role pid st state=stopped
    if [[ -s $_LAB_PIDS_FILE ]]; then
        echo "recorded by the lab ($_LAB_PIDS_FILE):"
        while read -r role pid st; do
            if lab_proc_alive "$pid" "$st"; then
                printf '  %-16s %7s running\n' "$role" "$pid"; state=running
            else
                printf '  %-16s %7s gone\n' "$role" "$pid"
            fi
        done < "$_LAB_PIDS_FILE"
    else
        echo "no lab recorded in $LAB_STATE"
    fi
    local others
    others=$(lab_running_daemons)
    if [[ -n $others ]]; then
        echo "cluster daemons running on this machine:"
        local line
        while read -r line; do echo "  $line"; done <<< "$others"
    fi
    if [[ $state == running ]]; then
        echo "crm_mon:"
        env -u CIB_file timeout 15 crm_mon -1 --inactive 2>&1 | sed 's/^/  /' || true
    fi
    echo "logs: $LAB_LOG"
}

# ------------------------------------------------------------------- CLI --
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    case ${1:-} in
        up)     rc=0; lab_up || rc=$?
                (( rc == 1 )) && lab_log "lab up failed; tear down what it started with: $0 down"
                exit $(( rc ? 1 : 0 )) ;;
        down)   lab_down ;;
        status) lab_status ;;
        *)      echo "usage: $0 up|down|status" >&2; exit 2 ;;
    esac
fi
