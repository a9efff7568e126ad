#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Print an agent's parameters as a Markdown table, from its own meta-data,
# so the README never drifts from what the agent declares.
#   scripts/params-table.sh build/agents/daemon
set -euo pipefail
agent=$1
md=$(OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 "$agent" meta-data)
# OCF 1.1 has no "time" type (a time is a string there); the 1.0 form still
# says which parameters are times. Same parameters, same order.
md10=$("$agent" meta-data)
n=$(xmllint --xpath 'count(//parameters/parameter)' - <<<"$md")
echo "| parameter | type | default | reloadable | description |"
echo "|---|---|---|---|---|"
for i in $(seq 1 "$n"); do
    p="//parameters/parameter[$i]"
    name=$(xmllint --xpath "string($p/@name)" - <<<"$md")
    type=$(xmllint --xpath "string($p/content/@type)" - <<<"$md")
    if [ "$type" = select ]; then
        opts=$(xmllint --xpath "$p/content/option/@value" - <<<"$md" | sed 's/^ *value="\(.*\)"$/`\1`/' | paste -sd, | sed 's/,/, /g')
        type="select: $opts"
    else
        type=$(xmllint --xpath "string($p/content/@type)" - <<<"$md10")
    fi
    def=$(xmllint --xpath "string($p/content/@default)" - <<<"$md")
    req=$(xmllint --xpath "string($p/@required)" - <<<"$md")
    rel=$(xmllint --xpath "string($p/@reloadable)" - <<<"$md")
    desc=$(xmllint --xpath "string($p/longdesc)" - <<<"$md" | tr '\n' ' ' | sed 's/|/\\|/g; s/ *$//')
    [ "$req" = 1 ] && def="(required)"
    [ "$rel" = 1 ] && rel=yes || rel=no
    echo "| \`$name\` | $type | ${def:+\`$def\` }| $rel | $desc |"
done
