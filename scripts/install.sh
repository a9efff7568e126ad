#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install warden from a build tree to /usr, the one place it lives (as the
# Debian packages install it):
#   scripts/install.sh [BUILD_DIR]      (default: build)
#
# The build tree is set up (or reconfigured) with --prefix=/usr: meson's
# libdir is then lib/<multiarch>, and the paths compiled into the agents
# (WARDEN_LIBRARY, WARDEN_PUSH_PATH) follow the prefix. Two copies must never
# exist: /usr/local shadows /usr for pkg-config and the dynamic linker, and
# an agent would load whichever libwarden.so.0 came last. So a copy an
# earlier install left under /usr/local is removed first (each file is
# named), and if warden's Debian packages are installed the script stops:
# meson install would overwrite files dpkg owns.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
prefix=/usr

for p in libwarden0 libwarden-dev resource-agents-warden; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        echo "install.sh: the Debian package $p is installed; installing from $build would overwrite" \
             "its files. Remove the packages first (apt purge libwarden0 libwarden-dev" \
             "resource-agents-warden) or use them." >&2
        exit 1
    fi
done

if [ ! -f "$build/build.ninja" ]; then
    meson setup --prefix=$prefix "$build" >/dev/null
elif [ "$(meson introspect --buildoptions "$build" |
          python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')" != $prefix ]; then
    echo "install.sh: $build was set up for another prefix: reconfiguring it with --prefix=$prefix"
    meson configure "$build" -Dprefix=$prefix
fi
ninja -C "$build" -j2 >/dev/null

# What an install to /usr/local (meson's default prefix) left: the library,
# its helper, headers, pkg-config file, man pages. The agents' directory
# (ocf_root, /usr/lib/ocf) does not depend on the prefix.
old=()
for f in /usr/local/lib/*/libwarden.so* /usr/local/lib/libwarden.so* \
         /usr/local/lib/*/pkgconfig/warden.pc /usr/local/lib/pkgconfig/warden.pc \
         /usr/local/libexec/warden /usr/local/include/warden \
         /usr/local/share/man/man7/ocf_warden_*.7 /usr/local/sbin/warden \
         /usr/local/share/man/man8/warden.8 /usr/local/share/bash-completion/completions/warden; do
    if [ -e "$f" ] || [ -L "$f" ]; then old+=("$f"); fi
done
if [ ${#old[@]} -gt 0 ]; then
    echo "install.sh: removing an earlier install under /usr/local (warden lives in $prefix now):"
    printf '  %s\n' "${old[@]}"
    rm -rf -- "${old[@]}"
    ldconfig
fi

meson install -C "$build" --quiet
ldconfig
# The default dump_dir is /var/lib/warden/dumps, whose last component the
# keeper creates (0700) when it dumps; its parent is the install's (the
# packages ship it too, debian/libwarden0.dirs).
install -d -m 0755 /var/lib/warden
