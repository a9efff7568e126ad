#!/usr/bin/env bash
# Install what warden needs on Debian 12, only what is missing.
#   scripts/deps.sh          build + run + test dependencies
set -euo pipefail

packages=(
    # build
    gcc meson ninja-build pkg-config libqb-dev pacemaker-dev check
    # run: the cluster stack warden's agents live in
    pacemaker corosync crmsh resource-agents
    # test: DTD validation, leak checking, process tools, format check
    libxml2-utils valgrind procps iproute2 util-linux clang-format
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
