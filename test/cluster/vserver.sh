# SPDX-License-Identifier: LGPL-2.1-or-later
# test/cluster/vserver.sh - an "EXRES virtual server" in the 3-node lab
# (lab3.sh): a group of a virtual address (ocf:heartbeat:IPaddr2 with
# LAB3_VIP), an SMTP server and an IMAP server listening on that address,
# built from warden's agents (ocf:warden:smtp, ocf:warden:imap) or, for the
# benchmark, from heartbeat's (ocf:heartbeat:postfix, ocf:heartbeat:dovecot).
# Used by test-lab3-vserver.sh, scripts/demo.sh --nodes 3 and the benchmark.
# Sourced after lab3.sh and test/agent/mail/mail-lib.sh.
#
#   vs_prepare DIR            Postfix and Dovecot configurations in DIR,
#                             which every node sees (a shared disk), Postfix's
#                             queue on each node's /srv; Postfix's main.cf is
#                             told about them (mail_postfix_allow)
#   vs_configure KIND [META=VALUE...]   KIND warden or heartbeat; the group's
#                             meta attributes, e.g. migration-threshold=3
#   vs_load TEXT              more configuration, in crm's syntax
#   vs_where                  the node running all of the group, or fail
#   vs_greets FROM            the SMTP and IMAP servers greet on the virtual
#                             address, seen from node FROM
#   vs_wait_running [-t SECS] [NODE...]  wait until the group runs on one node
#                             (none of NODE...) and greets there; sets VS_NODE
#   vs_delete                 stop the group and delete it
#   vs_release                undo vs_prepare's edit of Postfix's main.cf
#   vs_in NODE CMD ARG...     test/cluster/in-node.sh inside NODE
# shellcheck shell=bash

VS_GROUP=vs VS_IP=vs-ip VS_SMTP=vs-smtp VS_IMAP=vs-imap
VS_MEMBERS=("$VS_IP" "$VS_SMTP" "$VS_IMAP")
VS_SMTP_PORT=25 VS_IMAP_PORT=143      # each node has its own network namespace
# Dovecot's base_dir (sockets, pidfile) is on the node's own /run, Postfix's
# queue on the node's own disk (/srv): what a node leaves there must not
# stop or confuse the next node (heartbeat:postfix's probe asks "postfix
# status", which takes a lock held on another node for a running Postfix).
VS_IMAP_BASE=/run/warden-vs-imap
VS_SMTP_SPOOL=/srv/warden-vs-postfix
VS_MONITOR=${VS_MONITOR:-10s}         # Pacemaker's monitor interval, both kinds
VS_CHECK_INTERVAL=${VS_CHECK_INTERVAL:-2s}   # warden's keeper
VS_CHECK_TIMEOUT=${VS_CHECK_TIMEOUT:-1s}
VS_DIR=
_vs_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

vs_prepare() {
    local node
    VS_DIR=$1
    mkdir -p "$VS_DIR"
    chmod 0755 "$VS_DIR"
    mail_postfix_config "$VS_DIR/postfix" "$VS_SMTP_PORT" "$LAB3_VIP" "$VS_SMTP_SPOOL"
    for node in $(lab3_live_nodes); do
        # the data directory belongs to Postfix (heartbeat:postfix wants it there before the start)
        lab3_exec "$node" mkdir -p -m 0755 "$VS_SMTP_SPOOL/queue" &&
            lab3_exec "$node" install -d -o postfix -g postfix -m 0700 "$VS_SMTP_SPOOL/data" || return 1
    done
    mail_dovecot_config "$VS_DIR/imap" imap "$VS_IMAP_PORT" "$LAB3_VIP" "$VS_IMAP_BASE"
    mail_postfix_allow "$VS_DIR/postfix/etc"
}

vs_release() {
    [[ -n $VS_DIR ]] && mail_postfix_disallow "$VS_DIR/postfix/etc"
    return 0
}

# vs_marks: what identifies the group's Postfix and Dovecot processes
# (mail_instance_pids).
vs_marks() {
    echo "$VS_DIR/postfix/etc $VS_DIR/imap/dovecot.conf $(mail_dovecot_name "$VS_DIR/imap" imap)"
}

# _vs_crm_text KIND META...: the configuration, in crm's syntax.
_vs_crm_text() {
    local kind=$1 op="op monitor interval=$VS_MONITOR timeout=20s op start timeout=30s op stop timeout=30s"
    shift
    local keeper="check_interval=$VS_CHECK_INTERVAL check_timeout=$VS_CHECK_TIMEOUT dump_on_failure=true"
    echo "primitive $VS_IP ocf:heartbeat:IPaddr2 params ip=$LAB3_VIP cidr_netmask=24 nic=eth0 $op"
    case $kind in
        warden)
            echo "primitive $VS_SMTP ocf:warden:smtp params config_dir=$VS_DIR/postfix/etc" \
                 "address=$LAB3_VIP port=$VS_SMTP_PORT $keeper $op"
            echo "primitive $VS_IMAP ocf:warden:imap params config=$VS_DIR/imap/dovecot.conf" \
                 "address=$LAB3_VIP port=$VS_IMAP_PORT $keeper $op" ;;
        heartbeat)
            echo "primitive $VS_SMTP ocf:heartbeat:postfix params config_dir=$VS_DIR/postfix/etc $op"
            # heartbeat:dovecot (resource-agents 4.12) passes config_file to
            # Dovecot only when an unset $config_dir is non-empty: the file
            # goes in "parameters" instead
            echo "primitive $VS_IMAP ocf:heartbeat:dovecot params config_file=$VS_DIR/imap/dovecot.conf" \
                 "parameters=\"-c $VS_DIR/imap/dovecot.conf\" pid_file=$VS_IMAP_BASE/master.pid $op" ;;
        *) lab3_log "vs_configure: KIND is warden or heartbeat, not '$kind'"; return 1 ;;
    esac
    echo "group $VS_GROUP ${VS_MEMBERS[*]}${1:+ meta $*}"
}

# vs_configure KIND [META=VALUE...]: load the group into the CIB in one
# update, from the first live node.
vs_configure() {
    local text
    text=$(_vs_crm_text "$@") || return 1
    vs_load "$text"
}

# vs_load TEXT: crm configure load update of TEXT (a file: no quoting of
# crm's syntax through the command line), from the first live node.
vs_load() {
    local node f=$VS_DIR/load.crm
    node=$(lab3_first_live_node) || return 1
    printf '%s\n' "$1" > "$f"
    lab3_crm "$node" configure load update "$f"
}

vs_where() {
    local r w='' n
    for r in "${VS_MEMBERS[@]}"; do
        n=$(lab3_rsc_node "$r") || return 1
        [[ -n $n && $n != *$'\n'* ]] || return 1
        [[ -z $w || $n == "$w" ]] || return 1
        w=$n
    done
    echo "$w"
}

# _vs_greeting FROM PORT PREFIX: the server on the virtual address:PORT sends
# a line beginning with PREFIX to a client on node FROM.
_vs_greeting() {
    # shellcheck disable=SC2016 # for the node's shell
    lab3_exec "$1" timeout 3 /bin/bash -c \
        'exec 3<>"/dev/tcp/$0/$1" && read -r -t 2 line <&3 && [[ $line == "$2"* ]]' \
        "$LAB3_VIP" "$2" "$3" 2>/dev/null
}

vs_greets() {
    _vs_greeting "$1" "$VS_SMTP_PORT" 220 && _vs_greeting "$1" "$VS_IMAP_PORT" '* OK'
}

# _vs_running NODE...: the group runs on one node, none of NODE..., and greets
# a client on another node (or on itself in a 1-node lab).
_vs_running() {
    local w x from
    w=$(vs_where) || return 1
    for x in "$@"; do [[ $w == "$x" ]] && return 1; done
    from=$w
    for x in $(lab3_live_nodes); do [[ $x != "$w" ]] && { from=$x; break; }; done
    vs_greets "$from" || return 1
    VS_NODE=$w
}

vs_wait_running() {
    local t=60
    if [[ ${1:-} == -t ]]; then t=$2; shift 2; fi
    # shellcheck disable=SC2034 # for the caller (set by _vs_running)
    VS_NODE=
    lab_wait_for -q -t "$t" -i 0.1 _vs_running "$@"
}

vs_delete() {
    local node r
    node=$(lab3_first_live_node) || return 1
    lab3_crm "$node" resource stop "$VS_GROUP" || return 1
    for r in "${VS_MEMBERS[@]}"; do
        lab_wait_for -q -t 60 "[[ \$(lab3_rsc_state $r) == Stopped ]]" || {
            lab3_log "$r not Stopped: $(lab3_rsc_state "$r")"
            return 1
        }
    done
    lab3_exec "$node" env -u CIB_file crm_resource --cleanup --resource "$VS_GROUP" >/dev/null 2>&1 || true
    lab3_crm "$node" configure delete "$VS_GROUP" "${VS_MEMBERS[@]}"
}

vs_in() {
    local node=$1
    shift
    lab3_exec "$node" "$_vs_here/in-node.sh" "$@"
}
