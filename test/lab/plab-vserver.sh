# SPDX-License-Identifier: LGPL-2.1-or-later
# test/lab/plab-vserver.sh - the EXRES virtual server group in the
# production-like lab (test/lab/plab.sh), and what the cluster says about
# it: shared by test/cluster/test-plab-scenarios.sh, test/bench/failover.sh
# and scripts/demo.sh --nodes 3. Sourced after plab.sh (PLAB_NET set).
#
#   ASK                       the node asked (one that is up); set by the caller
#   rsc_node RSC              where RSC runs, as ASK sees it
#   failures                  the failed actions, "OPKEY@NODE ..."
#   fence_events NODE...      the fencing events the nodes' fencers know
#   collect_fences            add them (of the live nodes) to EVENTS
#   new_fence TARGET          a reboot of TARGET by the cluster not in EVENTS
#   vs_prepare NODE           the servers' configurations in NODE
#   vs_configure KIND [META=VALUE...]   the group vs, KIND warden
#                             (ocf:warden:smtp + imap) or heartbeat
#                             (ocf:heartbeat:postfix + dovecot), loaded
#                             through ASK
#   vs_where, vs_greets FROM, vs_runs_on NODE FROM   where it runs, greets
#   vs_delete                 the group stopped, cleaned up and deleted
# The functions plab_wait_for runs through bash -c are exported. They are
# written for a shell without errexit and pipefail.
# shellcheck shell=bash
# shellcheck disable=SC2016 # scripts for bash -c and the nodes' shells
_PLAB_VS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# What the cluster says (ASK, rsc_node, failures, fence_events,
# collect_fences, new_fence, ...): test/lab/plab-checks.sh.
. "$_PLAB_VS_HERE/plab-checks.sh"

# ---- the EXRES virtual server group ----------------------------------------
# A group vs of ocf:heartbeat:IPaddr2 (VS_IP, PLAB_NET.100), ocf:warden:smtp
# (a Postfix instance of its own) and ocf:warden:imap (a Dovecot instance of
# its own, ready=notify: its start ends when Dovecot sends READY=1 to the
# NOTIFY_SOCKET warden gives it, issue 13), both on the virtual address,
# migration-threshold=3, as
# test/cluster/vserver.sh builds it in the older lab. The servers'
# configurations are written in every node (test/agent/mail/mail-lib.sh's,
# run there; a Dovecot 2.4 one on Debian 13, whose Dovecot reads no 2.3
# configuration); the nodes' own postfix and dovecot services are masked in
# the image (plab-image.sh), so nothing else listens on ports 25 and 143.
VS_IP=${PLAB_NET}.100
VS_CONF=/srv/vs

# _vs_dovecot24_config DIR PORT ADDR BASE NAME: mail_dovecot_config's
# instance in Dovecot 2.4's syntax.
_vs_dovecot24_config() {
    local dir=$1 port=$2 addr=$3 base=$4 name=$5
    mkdir -p "$dir/home" && chmod 0755 "$dir"
    cat >"$dir/dovecot.conf" <<CF
# A throwaway Dovecot 2.4 instance of warden's lab: imap on $addr:$port.
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
instance_name = $name
base_dir = $base
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
protocols = imap
listen = $addr
ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain
passdb static {
  password = warden-test
}
userdb static {
  fields {
    uid = nobody
    gid = nogroup
    home = $dir/home/%{user}
  }
}
mail_driver = maildir
mail_path = ~/Maildir
service imap-login {
  inet_listener imap {
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
CF
}

# vs_prepare NODE: the servers' configurations in NODE.
vs_prepare() {
    local node=$1
    mkdir -p "$PLAB_DIR/$node/root/usr/local/share/plab"
    install -m 0644 "$_PLAB_VS_HERE/../agent/mail/mail-lib.sh" "$PLAB_DIR/$node/root/usr/local/share/plab/"
    # shellcheck disable=SC2016 # for the node's shell
    plab_exec "$node" bash -ec "$(declare -f _vs_dovecot24_config)"'
        . /usr/local/share/plab/mail-lib.sh
        vip=$1 conf=$2
        mail_postfix_config "$conf/postfix" 25 "$vip" /srv/vs-spool
        mkdir -p -m 0755 /srv/vs-spool/queue
        install -d -o postfix -g postfix -m 0700 /srv/vs-spool/data
        # the image has Postfix with "No configuration": no main.cf
        [ -e /etc/postfix/main.cf ] || echo "# written by warden'"'"'s lab" >/etc/postfix/main.cf
        postconf -e "alternate_config_directories = $conf/postfix/etc"
        name=$(mail_dovecot_name "$conf/imap" imap)
        case $(dovecot --version) in
            2.3*) mail_dovecot_config "$conf/imap" imap 143 "$vip" /run/warden-vs-imap ;;
            *) _vs_dovecot24_config "$conf/imap" 143 "$vip" /run/warden-vs-imap "$name" ;;
        esac
        # (postfix check wants the virtual address up: not yet)
        doveconf -c "$conf/imap/dovecot.conf" -n >/dev/null' bash "$VS_IP" "$VS_CONF"
}

# vs_members: "RSC PATTERN" per member: what of it runs (procs).
vs_members() {
    echo "vs-ip ^plab-nothing-matches$"
    echo "vs-smtp ^/usr/lib/postfix/sbin/"
    echo "vs-imap ^(/usr/sbin/)?dovecot"
}

# vs_where: the node running all of the group (empty unless one runs all).
vs_where() {
    local w
    w=$(for r in vs-ip vs-smtp vs-imap; do rsc_node "$r"; done | sort -u)
    [[ -n $w && $w != *$'\n'* && $w != *' '* ]] && echo "$w"
}

# vs_greets FROM: Postfix and Dovecot greet on the virtual address, seen
# from node FROM.
vs_greets() {
    # shellcheck disable=SC2016 # for the node's shell
    plab_exec "$1" timeout 5 bash -c '
        exec 3<>"/dev/tcp/$0/25" && read -r -t 2 l <&3 && [[ $l == 220* ]] &&
        exec 4<>"/dev/tcp/$0/143" && read -r -t 2 l <&4 && [[ $l == "* OK"* ]]' "$VS_IP" 2>/dev/null
}

# vs_runs_on NODE FROM: the group runs on NODE and greets a client on FROM.
vs_runs_on() { [ "$(vs_where)" = "$1" ] && vs_greets "$2"; }

# The group's intervals: Pacemaker's monitor (both kinds), warden's keeper.
VS_MONITOR=${VS_MONITOR:-10s}
VS_CHECK_INTERVAL=${VS_CHECK_INTERVAL:-2s}
VS_CHECK_TIMEOUT=${VS_CHECK_TIMEOUT:-1s}

# vs_group_xml KIND [META=VALUE...]: the group's CIB XML (ids included).
vs_group_xml() {
    local kind=$1 kv meta='' smtp imap
    shift
    local op="<operations><op name=\"monitor\" interval=\"$VS_MONITOR\" timeout=\"20s\"/><op name=\"start\" interval=\"0\" timeout=\"30s\"/><op name=\"stop\" interval=\"0\" timeout=\"30s\"/></operations>"
    local keeper="<nvpair name=\"check_interval\" value=\"$VS_CHECK_INTERVAL\"/><nvpair name=\"check_timeout\" value=\"$VS_CHECK_TIMEOUT\"/><nvpair name=\"dump_on_failure\" value=\"true\"/>"
    for kv in "$@"; do
        meta+="<nvpair name=\"${kv%%=*}\" value=\"${kv#*=}\"/>"
    done
    case $kind in
        warden)
            smtp="<primitive id=\"vs-smtp\" class=\"ocf\" provider=\"warden\" type=\"smtp\"><instance_attributes id=\"vs-smtp-ia\"><nvpair name=\"config_dir\" value=\"$VS_CONF/postfix/etc\"/><nvpair name=\"address\" value=\"$VS_IP\"/><nvpair name=\"port\" value=\"25\"/>$keeper</instance_attributes>$op</primitive>"
            imap="<primitive id=\"vs-imap\" class=\"ocf\" provider=\"warden\" type=\"imap\"><instance_attributes id=\"vs-imap-ia\"><nvpair name=\"config\" value=\"$VS_CONF/imap/dovecot.conf\"/><nvpair name=\"address\" value=\"$VS_IP\"/><nvpair name=\"port\" value=\"143\"/><nvpair name=\"ready\" value=\"notify\"/>$keeper</instance_attributes>$op</primitive>" ;;
        heartbeat)
            smtp="<primitive id=\"vs-smtp\" class=\"ocf\" provider=\"heartbeat\" type=\"postfix\"><instance_attributes id=\"vs-smtp-ia\"><nvpair name=\"config_dir\" value=\"$VS_CONF/postfix/etc\"/></instance_attributes>$op</primitive>"
            # heartbeat:dovecot (resource-agents 4.12 and 4.16) passes
            # config_file to Dovecot only when an unset $config_dir is
            # non-empty, and where Dovecot has "process status" (2.4,
            # Debian 13) checks it with that, without -c (an unset
            # $OPTION_CONFIG_DIR): it asks the master of /etc/dovecot's
            # base_dir, not this one, and its start waits until it times
            # out. The file goes in "binary" (check_binary drops " -..."),
            # so that every call of Dovecot has it
            imap="<primitive id=\"vs-imap\" class=\"ocf\" provider=\"heartbeat\" type=\"dovecot\"><instance_attributes id=\"vs-imap-ia\"><nvpair name=\"config_file\" value=\"$VS_CONF/imap/dovecot.conf\"/><nvpair name=\"binary\" value=\"/usr/sbin/dovecot -c $VS_CONF/imap/dovecot.conf\"/><nvpair name=\"pid_file\" value=\"/run/warden-vs-imap/master.pid\"/></instance_attributes>$op</primitive>" ;;
        *) plab_log "vs_group_xml: KIND is warden or heartbeat, not '$kind'"; return 1 ;;
    esac
    # ids for the nvpairs and ops (cibadmin wants them)
    awk '{ out = ""; while (match($0, /<(nvpair|op) name="[^"]*"/)) {
               tag = substr($0, RSTART, RLENGTH)
               n++; out = out substr($0, 1, RSTART - 1) substr(tag, 1, index(tag, " ")) "id=\"vs-" n "\" " substr(tag, index(tag, " ") + 1)
               $0 = substr($0, RSTART + RLENGTH) }
           print out $0 }' <<<"<group id=\"vs\"><meta_attributes id=\"vs-meta\">$meta</meta_attributes>
<primitive id=\"vs-ip\" class=\"ocf\" provider=\"heartbeat\" type=\"IPaddr2\"><instance_attributes id=\"vs-ip-ia\"><nvpair name=\"ip\" value=\"$VS_IP\"/><nvpair name=\"cidr_netmask\" value=\"24\"/><nvpair name=\"nic\" value=\"eth0\"/></instance_attributes>$op</primitive>
$smtp
$imap</group>"
}

# vs_configure KIND [META=VALUE...]: the group in the CIB (through ASK).
vs_configure() {
    local xml
    xml=$(vs_group_xml "$@") || return 1
    plab_exec "$ASK" cibadmin -C -o resources -X "$xml"
}

# vs_delete: the group stopped (target-role), its history cleaned up, deleted.
vs_delete() {
    plab_exec "$ASK" crm_resource -r vs --meta -p target-role -v Stopped >/dev/null 2>&1
    plab_wait_for -t 60 bash -c '[ -z "$(for r in vs-ip vs-smtp vs-imap; do rsc_node $r; done)" ]' || return 1
    plab_exec "$ASK" crm_resource --cleanup -r vs >/dev/null 2>&1
    plab_exec "$ASK" cibadmin -D -o resources -X '<group id="vs"/>' >/dev/null
}

export -f plab_nodes plab_exec plab_switch plab_pid1 plab_log plab_all_online plab_online_count \
    rsc_node failures new_fence fence_events vs_where vs_greets vs_runs_on
export ASK EVENTS VS_IP
