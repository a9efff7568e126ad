#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install what warden needs on Debian 12, only what is missing.
#   scripts/deps.sh          build + run + test dependencies
#
# The mail servers the protocol agents' tests run (Postfix, Dovecot) are
# installed without starting the distribution's own instances: debconf is
# preseeded so Postfix gets "No configuration", and while apt runs a
# /usr/sbin/policy-rc.d that exits 101 forbids every init script to start a
# service (removed afterwards, if this script created it). The tests run
# throwaway instances of their own on 127.0.0.1, unprivileged ports.
set -euo pipefail

packages=(
    # build
    gcc meson ninja-build pkg-config libqb-dev libsystemd-dev pacemaker-dev check
    # build: the TLS of the probes (lib/tls.c)
    libgnutls28-dev
    # test: a C++ program against the headers (test/agent/test-abi.sh)
    g++
    # run: the cluster stack warden's agents live in
    pacemaker corosync crmsh resource-agents
    # test: DTD validation, leak checking, process tools, format check
    libxml2-utils valgrind procps iproute2 util-linux clang-format
    # run (optional) and test: what dumps use, eu-stack and gcore
    elfutils gdb
    # test: the servers of ocf:warden:smtp, imap and pop3 (never started as
    # the distribution's services; see above)
    postfix dovecot-imapd dovecot-pop3d
    # build and test: the Debian packages (test/pkg): build them, lintian,
    # a Debian 12 root to install them in, their man pages
    debhelper dpkg-dev fakeroot lintian debootstrap xsltproc man-db
    # test: the servers of examples/memcached and examples/redis (never
    # started as the distribution's services either)
    memcached redis-server
    # test: the production-like lab (test/lab/, suite "lab"): nodes booted
    # with systemd-nspawn from debootstrap'd images, its power switch and
    # fence agent in Python
    systemd-container python3
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${missing[*]}; run as root to install them" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# mail_daemons: "pid comm" of every live Postfix, Dovecot, memcached or Redis process.
mail_daemons() {
    local d comm state
    for d in /proc/[0-9]*; do
        { read -r comm < "$d/comm" && state=$(awk '{print $3}' "$d/stat"); } 2>/dev/null || continue
        [ "$state" = Z ] && continue
        case $comm in master|dovecot|qmgr|pickup|smtpd|imap-login|pop3-login|memcached|redis-server)
            echo "${d#/proc/} $comm" ;;
        esac
    done
}
# listening_mail_ports: the listening sockets on the standard mail ports (and memcached's, Redis').
listening_mail_ports() {
    ss -Hltn 2>/dev/null | awk '$4 ~ /:(25|110|143|465|587|993|995|11211|6379)$/ { print $4 }'
}

# Postfix asks what kind of mail server this is; "No configuration" leaves
# /etc/postfix/main.cf unwritten and nothing to start.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

# No service starts while apt runs (invoke-rc.d asks policy-rc.d first). An
# existing policy-rc.d (a container's, say) is left as it is.
policy=/usr/sbin/policy-rc.d
made_policy=
restore_policy() {
    if [ -n "$made_policy" ]; then
        rm -f "$policy"
        made_policy=
    fi
}
trap restore_policy EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by warden scripts/deps.sh while apt-get runs; removed afterwards\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    made_policy=1
fi

before=$(mail_daemons)
# Another apt may be running (a test runner's deps.sh): wait for its lock.
apt-get update -qq -o DPkg::Lock::Timeout=300
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >/dev/null
restore_policy

# The distribution's services must not have started.
after=$(mail_daemons)
new=$(comm -13 <(sort <<<"$before") <(sort <<<"$after") | grep . || true)
ports=$(listening_mail_ports)
if [ -n "$new" ] || [ -n "$ports" ]; then
    echo "deps: a mail service is running after the install, which should have started none:" >&2
    [ -z "$new" ] || sed 's/^/  process /' <<<"$new" >&2
    [ -z "$ports" ] || sed 's/^/  listening on /' <<<"$ports" >&2
    exit 1
fi
