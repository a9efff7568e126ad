# SPDX-License-Identifier: LGPL-2.1-or-later
# Throwaway mail servers for the tests of ocf:warden:smtp, imap and pop3 (and
# the benchmark): a Postfix instance and Dovecot instances of their own, in a
# directory the caller owns, bound to 127.0.0.1 on unprivileged ports, with
# their queues, state, sockets and logs all inside that directory. Nothing of
# the distribution's Postfix or Dovecot is used but the binaries, except that
# Postfix insists that a non-default configuration directory be listed in
# the default main.cf (alternate_config_directories): mail_postfix_allow adds
# it there, mail_postfix_disallow takes it away, and when the last user is
# gone /etc/postfix/main.cf is put back exactly as it was (removed if there
# was none; a Postfix installed with "No configuration" has none).
#
#   . test/agent/mail/mail-lib.sh
#   port=$(mail_port 2525)
#   mail_postfix_config "$dir/postfix" "$port"     # then config_dir=$dir/postfix/etc
#   mail_postfix_allow "$dir/postfix/etc"          # ... mail_postfix_disallow at the end
#   mail_dovecot_config "$dir/imap" imap "$(mail_port 10143)"   # config=$dir/imap/dovecot.conf
#   mail_cgroup_procs INSTANCE; mail_freeze INSTANCE; mail_thaw INSTANCE
#   mail_port_free PORT; mail_instance_pids STRING...
# shellcheck shell=bash

MAIL_STATE_DIR=${WARDEN_STATE_DIR:-/run/warden}
# Where mail_postfix_allow keeps the original main.cf and who uses the edit.
MAIL_PF_BACKUP=${MAIL_PF_BACKUP:-/var/tmp/warden-test-postfix}
MAIL_PF_MAIN=${MAIL_PF_MAIN:-/etc/postfix/main.cf}

# mail_have_servers: Postfix and Dovecot (with imap and pop3) are installed.
mail_have_servers() {
    command -v postfix >/dev/null && command -v postconf >/dev/null && command -v dovecot >/dev/null &&
        [ -e /usr/lib/dovecot/imap-login ] && [ -e /usr/lib/dovecot/pop3-login ]
}

# mail_port_free PORT: nothing listens on TCP PORT (any address).
mail_port_free() {
    [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# mail_port PREFERRED: PREFERRED if nothing listens on it and it can be
# bound on 127.0.0.1 (as the servers bind: SO_REUSEADDR, so connections of
# an earlier run in TIME_WAIT do not count), else a port the kernel picks.
mail_port() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys
for want in (int(sys.argv[1]), 0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", want))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()
PY
}

# mail_postfix_config DIR PORT [ADDRESS [SPOOL]]: a Postfix instance with
# its configuration directory DIR/etc (main.cf, master.cf), queue in
# SPOOL/queue and data in SPOOL/data (SPOOL is DIR unless given; SPOOL/queue
# must exist when Postfix starts), its log in DIR/maillog; smtpd on
# ADDRESS:PORT (default 127.0.0.1) and no other listening service; it
# delivers nowhere (no local domain, no relay). The queue is not inside the
# configuration directory: "postfix check" wants all of that owned by root.
mail_postfix_config() {
    local dir=$1 port=$2 addr=${3:-127.0.0.1} spool=${4:-$1}
    mkdir -p "$dir/etc"
    chmod 0755 "$dir" "$dir/etc"
    if [ -z "${4:-}" ]; then
        mkdir -p "$dir/queue"
        chmod 0755 "$dir/queue"
    fi
    cat >"$dir/etc/main.cf" <<CF
# A throwaway Postfix instance of warden's tests.
compatibility_level = 3.6
queue_directory = $spool/queue
data_directory = $spool/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = $addr
inet_protocols = ipv4
myhostname = warden-test.invalid
mydomain = invalid
myorigin = \$myhostname
mydestination =
local_recipient_maps =
relay_domains =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP warden-test
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
CF
    # Every service chroot=n (no chroot to populate), only smtpd on a port.
    cat >"$dir/etc/master.cf" <<CF
# service type  private unpriv  chroot  wakeup  maxproc command
$addr:$port inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
}

# mail_dovecot_config DIR PROTO PORT [ADDRESS [BASE_DIR]]: a Dovecot
# instance (PROTO imap or pop3) with its configuration in DIR/dovecot.conf,
# base_dir BASE_DIR (default DIR/run; its pidfile is BASE_DIR/master.pid),
# state_dir DIR/state, its log in DIR/dovecot.log, listening on ADDRESS:PORT
# only (default 127.0.0.1), no SSL. One throwaway user (a static passdb and
# userdb) so that Dovecot starts; the probes do not log in.
mail_dovecot_config() {
    local dir=$1 proto=$2 port=$3 addr=${4:-127.0.0.1} base=${5:-$1/run} name
    name=$(mail_dovecot_name "$dir" "$proto")
    mkdir -p "$dir/home"
    chmod 0755 "$dir"
    cat >"$dir/dovecot.conf" <<CF
# A throwaway Dovecot instance of warden's tests: $proto on $addr:$port.
instance_name = $name
base_dir = $base
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
protocols = $proto
listen = $addr
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {
  driver = static
  args = password=warden-test
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dir/home/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = $addr
    port = $([ "$proto" = imap ] && echo "$port" || echo 0)
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = $addr
    port = $([ "$proto" = pop3 ] && echo "$port" || echo 0)
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
  }
}
CF
}

# ---------------------------------------------------------------- Postfix's main.cf
# _mail_pf_users: the live "DIR PID" entries of the users file (entries of
# dead processes are dropped). Under the lock.
_mail_pf_users() {
    local d p
    [ -r "$MAIL_PF_BACKUP/users" ] || return 0
    while read -r d p; do
        [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$d $p"
    done <"$MAIL_PF_BACKUP/users"
    return 0   # (not the status of the last test: callers run under set -e)
}

# _mail_pf_set DIR...: alternate_config_directories = the original value
# plus DIR... (in a copy of the original main.cf, or a minimal one).
_mail_pf_set() {
    local orig='' tmp
    if [ -f "$MAIL_PF_BACKUP/main.cf" ]; then
        orig=$(postconf -c "$MAIL_PF_BACKUP" -h alternate_config_directories 2>/dev/null) || orig=''
    fi
    [ -e "$MAIL_PF_MAIN" ] || printf '# minimal main.cf written by warden tests (removed afterwards)\n' >"$MAIL_PF_MAIN"
    tmp=$(printf '%s\n' $orig "$@" | grep . | sort -u | paste -sd' ')
    if [ -n "$tmp" ]; then
        postconf -c "${MAIL_PF_MAIN%/*}" -e "alternate_config_directories = $tmp"
    else
        postconf -c "${MAIL_PF_MAIN%/*}" -X alternate_config_directories
    fi
}

# _mail_pf_restore: put the original main.cf back (or remove ours). Under the lock.
_mail_pf_restore() {
    if [ -e "$MAIL_PF_BACKUP/absent" ]; then
        rm -f "$MAIL_PF_MAIN"
    elif [ -f "$MAIL_PF_BACKUP/main.cf" ]; then
        cp -p "$MAIL_PF_BACKUP/main.cf" "$MAIL_PF_MAIN"
    fi
    rm -rf "${MAIL_PF_BACKUP:?}"
}

# mail_postfix_allow DIR: list DIR in the default main.cf's
# alternate_config_directories (for as long as this shell runs, or until
# mail_postfix_disallow DIR). The first user saves the original main.cf.
mail_postfix_allow() {
    local dir=$1
    (
        flock 9
        mkdir -p "$MAIL_PF_BACKUP"
        chmod 0700 "$MAIL_PF_BACKUP"
        local users
        users=$(_mail_pf_users)
        if [ -z "$users" ]; then
            # Nobody uses the edit now: whatever is saved is the original
            # (left by a user that was killed), else save it.
            if [ ! -e "$MAIL_PF_BACKUP/absent" ] && [ ! -f "$MAIL_PF_BACKUP/main.cf" ]; then
                if [ -e "$MAIL_PF_MAIN" ]; then
                    cp -p "$MAIL_PF_MAIN" "$MAIL_PF_BACKUP/main.cf"
                else
                    : >"$MAIL_PF_BACKUP/absent"
                fi
            fi
        fi
        printf '%s\n' "$users" "$dir $$" | grep . >"$MAIL_PF_BACKUP/users.new"
        mv -f "$MAIL_PF_BACKUP/users.new" "$MAIL_PF_BACKUP/users"
        # shellcheck disable=SC2046 # a list of directories
        _mail_pf_set $(cut -d' ' -f1 "$MAIL_PF_BACKUP/users")
    ) 9<"${MAIL_PF_MAIN%/*}"
}

# mail_postfix_disallow DIR: take DIR out again; the last user restores the
# original main.cf byte for byte (or removes the one it created).
mail_postfix_disallow() {
    local dir=$1
    [ -d "$MAIL_PF_BACKUP" ] || return 0
    (
        flock 9
        local users
        users=$(_mail_pf_users | awk -v d="$dir" -v p="$$" '!($1 == d && $2 == p)')
        if [ -z "$users" ]; then
            _mail_pf_restore
        else
            printf '%s\n' "$users" >"$MAIL_PF_BACKUP/users"
            # shellcheck disable=SC2046
            _mail_pf_set $(cut -d' ' -f1 "$MAIL_PF_BACKUP/users")
        fi
    ) 9<"${MAIL_PF_MAIN%/*}" # the lock: Postfix's configuration directory itself
}

# ---------------------------------------------------------------- processes
# _mail_alive PID: PID runs and is not a zombie.
_mail_alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# mail_cgroup INSTANCE: the cgroup warden runs INSTANCE in (from its state,
# else the usual place under the cgroup v2 mount).
mail_cgroup() {
    local cg
    cg=$(awk '$1 == "cgroup" { print $2 }' "$MAIL_STATE_DIR/$1/service" 2>/dev/null)
    if [ -z "$cg" ]; then
        local root
        root=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
        cg=$root/warden/$1
    fi
    echo "$cg"
}

# mail_cgroup_procs INSTANCE: the live processes of INSTANCE's cgroup.
mail_cgroup_procs() {
    local cg p
    cg=$(mail_cgroup "$1")
    [ -r "$cg/cgroup.procs" ] || return 0
    while read -r p; do
        _mail_alive "$p" && echo "$p"
    done <"$cg/cgroup.procs"
    return 0
}

# mail_freeze INSTANCE / mail_thaw INSTANCE: SIGSTOP / SIGCONT every process
# of INSTANCE's cgroup (the main process and all its children: Postfix's
# master and smtpd, Dovecot and its login processes). Prints the pids.
mail_freeze() {
    local pids
    pids=$(mail_cgroup_procs "$1")
    [ -n "$pids" ] || return 1
    # shellcheck disable=SC2086
    kill -STOP $pids
    echo $pids
}
mail_thaw() {
    local pids
    pids=$(mail_cgroup_procs "$1")
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -CONT $pids 2>/dev/null
    return 0
}

# mail_instance_pids STRING...: live processes of Postfix or Dovecot (their
# binaries, or the shell that runs postfix-script) whose command line or
# environment contains one of the STRINGs: a Postfix instance's processes
# carry MAIL_CONFIG=<config dir> in their environment, Dovecot's master has
# its config file in its command line and its children the instance_name
# ("dovecot-<instance_name>/imap-login"). What must be gone after a stop.
mail_instance_pids() {
    local d exe s found
    for d in /proc/[0-9]*; do
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        case $exe in
        /usr/sbin/postfix | /usr/lib/postfix/* | /usr/sbin/dovecot | /usr/lib/dovecot/* | */dash | */bash | */sh) ;;
        *) continue ;;
        esac
        _mail_alive "${d#/proc/}" || continue
        found=
        for s in "$@"; do
            if { tr '\0' '\n' <"$d/cmdline" | grep -qF -- "$s"; } 2>/dev/null ||
                { tr '\0' '\n' <"$d/environ" | grep -qxF -- "MAIL_CONFIG=$s"; } 2>/dev/null; then
                found=1
            fi
        done
        # our own shells (this test) mention the strings too: only a shell
        # that runs postfix-script counts
        case $exe in */dash | */bash | */sh)
            { tr '\0' ' ' <"$d/cmdline" | grep -q postfix-script; } 2>/dev/null || found= ;;
        esac
        [ -n "$found" ] && echo "${d#/proc/}"
    done
    return 0
}

# mail_dovecot_name DIR PROTO: the instance_name mail_dovecot_config gives.
mail_dovecot_name() {
    local tag
    tag=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
    echo "wt$tag-$2"
}
