#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The TLS probes against real servers configured for TLS with certificates
# made here (openssl): a throwaway Postfix (STARTTLS on its smtpd, and an
# smtps service in wrapper mode) and two throwaway Dovecots (ssl = yes: imap
# with STARTTLS and imaps, pop3 with STLS and pop3s), as test-mail.sh runs
# them (mail/mail-lib.sh). smtp with check_tls=true, imaps: and pop3s: (and
# STARTTLS, STLS) verified against the test's CA: start, monitor at depth 0
# (the keeper's TLS probe) and 10; verification against another CA fails;
# a certificate that expires in 7 days makes the probe degraded
# (WARDEN_PROBE_DEGRADED, the date in its reason) and the monitor 0 or 190
# (190 once the keeper and monitor map degraded, issue 12). Output is TAP.
#
# Env: AGENT_DIR (the built agents), WARDEN_LIBRARY, PROBE_RUN (probe-run).
# Needs root; Postfix, Dovecot and openssl.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/mail/mail-lib.sh"

AGENT_DIR=${AGENT_DIR:?set AGENT_DIR to the directory of the built smtp, imap and pop3 agents}
PROBE_RUN=${PROBE_RUN:?set PROBE_RUN to the built probe-run}
bail() { # bail REASON: skip (77), or with WARDEN_NO_SKIP=1 fail
    if [ "${WARDEN_NO_SKIP:-}" = 1 ]; then echo "Bail out! $1, and WARDEN_NO_SKIP=1"; exit 1; fi
    echo "1..0 # SKIP $1"; exit 77
}
[ "$(id -u)" = 0 ] || bail "needs root (cgroups, /run, Postfix's main.cf)"
command -v openssl >/dev/null || bail "openssl (the certificates of the test) is missing"
mail_have_servers || bail "Postfix and Dovecot are not installed (scripts/deps.sh)"

export WARDEN_STATE_DIR=$(mktemp -d /tmp/warden-agent-test.XXXXXX)
MAIL_STATE_DIR=$WARDEN_STATE_DIR
export OCF_RESKEY_CRM_meta_timeout=20000
unset OCF_RESKEY_CRM_meta_interval OCF_CHECK_LEVEL OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR HA_LOGFACILITY
tmp=$(mktemp -d /tmp/warden-tls-test.XXXXXX)
chmod 0755 "$tmp"
export HA_logfile=$tmp/agent.log
export OCF_RESKEY_notify_cluster=false

# ---- certificates: a CA, a server's of it for 90 days and for 7, another CA
tls=$tmp/tls
mkdir -p "$tls"
chmod 0755 "$tls"
ssl() { openssl "$@" >>"$tmp/openssl.log" 2>&1; }
mkca() { # mkca NAME
    ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/$1.key" \
        -out "$tls/$1.pem" -days 365 -subj "/CN=warden test $1"
}
mkleaf() { # mkleaf NAME DAYS: for localhost and 127.0.0.1, of the CA "ca"
    ssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/$1.key" \
        -out "$tls/$1.csr" -subj "/CN=localhost" &&
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
            "keyUsage=digitalSignature" "extendedKeyUsage=serverAuth" >"$tls/$1.ext" &&
        ssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
            -days "$2" -extfile "$tls/$1.ext" -out "$tls/$1.pem"
}
check "the test's CA, server certificates (90 and 7 days) and another CA are made" \
    bash -c "$(declare -f ssl mkca mkleaf); tls=$tls tmp=$tmp; mkca ca && mkleaf good 90 && mkleaf near 7 && mkca other"
chmod 0600 "$tls"/*.key
near_date=$(openssl x509 -in "$tls/near.pem" -noout -enddate | sed 's/^notAfter=//')
near_date=$(date -u -d "$near_date" +%Y-%m-%d)

# ---- the servers --------------------------------------------------------------
smtp_port=$(mail_port 2526)
smtps_port=$(mail_port 10465)
imap_port=$(mail_port 10144)
imaps_port=$(mail_port 10993)
pop3_port=$(mail_port 10111)
pop3s_port=$(mail_port 10995)
mail_postfix_config "$tmp/postfix" "$smtp_port"
sed -i "s|^smtpd_tls_security_level = none|smtpd_tls_security_level = may\\
smtpd_tls_cert_file = $tls/good.pem\\
smtpd_tls_key_file = $tls/good.key|" "$tmp/postfix/etc/main.cf"
cat >>"$tmp/postfix/etc/master.cf" <<CF
127.0.0.1:$smtps_port inet n  -       n       -       -       smtpd -o smtpd_tls_wrappermode=yes
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
CF
dovecot_tls() { # dovecot_tls DIR PROTO PORT TLS_PORT CERT: ssl = yes, the TLS listener on
    local dir=$1 proto=$2 port=$3 tls_port=$4 cert=$5
    mail_dovecot_config "$dir" "$proto" "$port"
    sed -i "s|^ssl = no|ssl = yes\\
ssl_cert = <$tls/$cert.pem\\
ssl_key = <$tls/$cert.key|" "$dir/dovecot.conf"
    perl -0pi -e "s/inet_listener ${proto}s \\{\\n    port = 0/inet_listener ${proto}s {\\n    address = 127.0.0.1\\n    port = $tls_port/" \
        "$dir/dovecot.conf"
}
dovecot_tls "$tmp/imap" imap "$imap_port" "$imaps_port" good
dovecot_tls "$tmp/pop3" pop3 "$pop3_port" "$pop3s_port" good

declare -A port=([smtp]=$smtp_port [imap]=$imap_port [pop3]=$pop3_port)
declare -A conf=([smtp]="config_dir=$tmp/postfix/etc" [imap]="config=$tmp/imap/dovecot.conf"
    [pop3]="config=$tmp/pop3/dovecot.conf")
declare -A marks=([smtp]="$tmp/postfix/etc"
    [imap]="$tmp/imap/dovecot.conf $(mail_dovecot_name "$tmp/imap" imap)"
    [pop3]="$tmp/pop3/dovecot.conf $(mail_dovecot_name "$tmp/pop3" pop3)")
declare -A inst=([smtp]=tls-test-$$-smtp [imap]=tls-test-$$-imap [pop3]=tls-test-$$-pop3)
# Each agent's TLS check: smtp with STARTTLS, imap and pop3 over implicit TLS.
verify=(tls_verify=true "tls_ca_file=$tls/ca.pem")
declare -A tlscheck=([smtp]="check_tls=true" [imap]="check=imaps:127.0.0.1:$imaps_port"
    [pop3]="check=pop3s:127.0.0.1:$pop3s_port")

on() {
    AGENT=$AGENT_DIR/$1
    export OCF_RESOURCE_INSTANCE=${inst[$1]}
    cur=$1
}
ma() { # ma ACTION [k=v...]: the instance's config, port, TLS check, verified
    local action=$1
    shift
    agent "$action" "${conf[$cur]}" port="${port[$cur]}" "${tlscheck[$cur]}" "${verify[@]}" "$@"
}
recurring() { OCF_RESKEY_CRM_meta_interval=10000 ma monitor "$@"; }
deep() { OCF_RESKEY_CRM_meta_interval=10000 OCF_CHECK_LEVEL=10 ma monitor "$@"; }
leftovers() { mail_instance_pids ${marks[$1]}; } # shellcheck disable=SC2086
probe() { # probe SPEC: probe-run's "rc reason" in $probed
    probed=$("$PROBE_RUN" "$1" 3000 2>&1)
}

cleanup() {
    local n p
    for n in smtp imap pop3; do
        on "$n"
        ma stop >/dev/null 2>&1
    done
    for n in smtp imap pop3; do
        for p in $(leftovers "$n"); do kill -9 "$p" 2>/dev/null; done
    done
    mail_postfix_disallow "$tmp/postfix/etc"
    if [ -n "${KEEP_WORK:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
    rm -rf "$WARDEN_STATE_DIR"
}
trap cleanup EXIT
mail_postfix_allow "$tmp/postfix/etc"
echo "# ports: smtp $smtp_port (STARTTLS), smtps $smtps_port, imap $imap_port, imaps $imaps_port," \
    "pop3 $pop3_port, pop3s $pop3s_port; files in $tmp"

# ---- start, monitor: the keeper's TLS probe and one now --------------------------
fast=(check_interval=1s check_timeout=2s)
for n in smtp imap pop3; do
    on "$n"
    ma validate-all
    expect_rc 0 "[$n] its TLS configuration validates (${tlscheck[$n]}, tls_verify, tls_ca_file)"
    ma start "${fast[@]}"
    expect_rc 0 "[$n] start"
    [ "$rc" = 0 ] || tail -5 "$HA_logfile" | sed 's/^/# /'
    sleep 1.5 # a check of the keeper's, over TLS
    recurring
    expect_rc 0 "[$n] monitor at depth 0: the keeper's TLS check passes"
    deep
    expect_rc 0 "[$n] monitor at depth 10: the TLS dialogue now, verified"
done
check "[smtp] Postfix logged the probe's STARTTLS and its second EHLO" \
    grep -q "ehlo=2 starttls=1 noop=1 quit=1" "$tmp/postfix/maillog"

# The other ways in to the same servers.
on smtp
deep check="smtps:127.0.0.1:$smtps_port"
expect_rc 0 "[smtp] smtps: against Postfix's wrapper-mode smtpd, verified"
deep check="smtps:localhost:$smtps_port"
expect_rc 0 "[smtp] by name (SNI, the name verified)"
on imap
deep check="imap:127.0.0.1:$imap_port" check_tls=true
expect_rc 0 "[imap] imap: with STARTTLS (check_tls=true) against Dovecot"
on pop3
deep check="pop3:127.0.0.1:$pop3_port" check_tls=true
expect_rc 0 "[pop3] pop3: with STLS (check_tls=true) against Dovecot"

# ---- failures: another CA, a clear-text port, a missing CA file ------------------
on imap
deep tls_ca_file="$tls/other.pem"
expect_rc 1 "[imap] verified against another CA: the check fails"
expect_reason "^imaps: certificate of 127.0.0.1 not trusted: not issued by a trusted CA" \
    "[imap] the reason says why"
deep check="imaps:127.0.0.1:$imap_port"
expect_rc 1 "[imap] imaps: to the clear-text port fails"
expect_reason "^imaps: no TLS on this port" "[imap] and says so"
ma validate-all tls_ca_file="$tmp/missing.pem"
expect_rc 2 "[imap] a tls_ca_file missing on this node is bad for this node"
ma validate-all tls_warn_days=-3
expect_rc 6 "[imap] tls_warn_days=-3 is a configuration error"
expect_reason "parameter 'tls_warn_days'.*0-3650" "[imap] the reason names it and the form"
on smtp
deep check_tls=false tls_ca_file="$tls/other.pem"
expect_rc 0 "[smtp] without check_tls the SMTP check stays in the clear (no certificate looked at)"

# ---- a certificate that expires in 7 days ---------------------------------------
on imap
ma stop
expect_rc 0 "[imap] stop"
sed -i "s|$tls/good\\.|$tls/near.|g" "$tmp/imap/dovecot.conf"
ma start "${fast[@]}"
expect_rc 0 "[imap] start with a certificate that expires in 7 days"
probe "imaps:127.0.0.1:$imaps_port"
check "[imap] the probe is degraded, naming the date: '$probed'" \
    test "$probed" = "1 imaps: certificate of 127.0.0.1 expires $near_date (in 7 days)"
probe "imap:127.0.0.1:$imap_port"
check "[imap] the clear-text probe is not: '$probed'" test "$probed" = "0 "
deep
degraded_reason="imaps: certificate of 127.0.0.1 expires $near_date (in 7 days)"
reason=$(printf '%s\n' "$err" | sed -n 's/^ocf-exit-reason://p' | tail -1)
if [ "$rc" = 190 ]; then
    ok "[imap] monitor at depth 10: degraded (rc=190)"
    check "[imap] its reason names the date: '$reason'" test "$reason" = "$degraded_reason"
elif [ "$rc" = 1 ] && [ "$reason" = "$degraded_reason" ]; then
    # The probe's degraded reaches the monitor, which does not map it to
    # OCF's 190 yet: that comes with the keeper and monitor side of issue 12.
    ok "[imap] monitor at depth 10: degraded # SKIP rc=1 with the degraded reason: this build's monitor does not map WARDEN_PROBE_DEGRADED to 190"
else
    not_ok "[imap] monitor at depth 10: want rc=190 and '$degraded_reason', got rc=$rc '$reason'"
fi
deep tls_warn_days=5
expect_rc 0 "[imap] with tls_warn_days=5: no warning"

# ---- stop all ---------------------------------------------------------------------
for n in smtp imap pop3; do
    on "$n"
    ma stop
    expect_rc 0 "[$n] stop"
    check "[$n] nothing of it is left" test -z "$(leftovers "$n")"
done
if [ "$n_fail" -gt 0 ]; then
    echo "# the agents' log ($HA_logfile), last lines:"
    tail -n 30 "$HA_logfile" | sed 's/^/# /'
    tail -n 10 "$tmp/imap/dovecot.log" "$tmp/postfix/maillog" 2>/dev/null | sed 's/^/# /'
fi
finish
