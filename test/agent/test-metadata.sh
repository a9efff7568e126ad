#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every agent's meta-data, in both forms, against the schema its caller
# validates with: OCF 1.1 (OCF_RA_VERSION_MAJOR=1, OCF_RA_VERSION_MINOR=1, as
# Pacemaker 2.1 asks) against ra/1.1/ra-api.rng of the OCF spec
# (test/schema/), OCF 1.0 (no version in the environment, as ocf-tester
# asks) against ra-api-1.dtd of resource-agents. Needs no root and touches
# nothing. Output is TAP.
#
# Env: AGENT_DIR (the built agents: daemon, smtp, imap, pop3), WARDEN_LIBRARY.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

AGENT_DIR=${AGENT_DIR:?set AGENT_DIR to the directory of the built agents}
rng=$here/../schema/ra-api-1.1.rng
dtd=/usr/share/resource-agents/ra-api-1.dtd
command -v xmllint >/dev/null || { echo "Bail out! xmllint missing: apt-get install libxml2-utils"; exit 1; }
[ -r "$dtd" ] || { echo "Bail out! $dtd missing: apt-get install resource-agents"; exit 1; }
[ -r "$rng" ] || { echo "Bail out! $rng missing"; exit 1; }
unset OCF_RA_VERSION_MAJOR OCF_RA_VERSION_MINOR

# valid WHAT XMLLINT-ARGS...: the document in $md validates; else show why.
valid() {
    local what=$1 why
    shift
    # From the DTD's directory: the 1.0 form's DOCTYPE names it relatively.
    if why=$(cd "$(dirname "$dtd")" && xmllint --noout "$@" - <<<"$md" 2>&1); then
        ok "$what"
    else
        not_ok "$what"
        printf '%s\n' "$why" | head -5 | sed 's/^/# /'
    fi
}

for a in daemon smtp imap pop3; do
    [ -x "$AGENT_DIR/$a" ] || { echo "Bail out! $AGENT_DIR/$a missing"; exit 1; }
    md=$(OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 "$AGENT_DIR/$a" meta-data)
    check "[$a] OCF 1.1 meta-data says 1.1" grep -q '<version>1.1</version>' <<<"$md"
    valid "[$a] OCF 1.1 meta-data is valid against ra/1.1/ra-api.rng" --relaxng "$rng"
    check "[$a] OCF 1.1 dump_type is a select of stacks and core" \
        grep -Pzq '<content type="select" default="stacks">\n<option value="stacks"/>\n<option value="core"/>\n</content>' <<<"$md"
    md=$("$AGENT_DIR/$a" meta-data)
    check "[$a] OCF 1.0 meta-data says 1.0" grep -q '<version>1.0</version>' <<<"$md"
    valid "[$a] OCF 1.0 meta-data is valid against ra-api-1.dtd" --dtdvalid "$dtd"
    valid "[$a] OCF 1.0 meta-data is valid by its DOCTYPE (as ocf-tester checks)" --valid
done
finish
