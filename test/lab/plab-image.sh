#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The node image of the production-like lab (test/lab/plab.sh) for one
# Debian release, with warden installed from packages built from this
# checkout for that release.
#
#   test/lab/plab-image.sh RELEASE      prints "LAYER:BASE", the overlay
#                                       lower directories of a node's root
#
# RELEASE is bookworm (Pacemaker 2.1.5) or trixie (Pacemaker 3.0). Three
# cached pieces under /var/cache/warden (WARDEN_IMAGE_CACHE for the images),
# each rebuilt only when missing or out of date:
#  1. BASE: scripts/image.sh warden-lab-RELEASE: debootstrap, systemd as
#     init, corosync, pacemaker, crmsh, resource-agents (the services are
#     enabled by their packages, so the nodes start them at boot);
#  2. the packages: a clean export of the tracked files (uncommitted edits
#     included), dpkg-buildpackage -us -uc -b, on the host when the host
#     runs RELEASE with the build dependencies installed, else in a build
#     root (scripts/image.sh warden-build-RELEASE with debian/control's
#     Build-Depends) under a throwaway overlay. Cached in
#     /var/cache/warden/debs/RELEASE, keyed by the export's checksum
#     (test/ and scripts/ left out: the build does not read them);
#  3. LAYER: an overlay upper directory over BASE in which the packages
#     were installed (dpkg -i), with the lab's fence agent
#     /usr/sbin/fence_warden_lab; keyed by BASE's key, the packages' key
#     and the fence agent (under WARDEN_LAYER_CACHE when set).
# Progress and timings on stderr. Requires root, debootstrap, the network
# when BASE or the build root is built.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
release=${1:-}
case $release in
    bookworm|trixie) ;;
    *) echo "usage: $0 bookworm|trixie" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "plab-image: needs root" >&2; exit 1; }

cache=${WARDEN_IMAGE_CACHE:-/var/cache/warden/images}
debcache=${WARDEN_DEB_CACHE:-/var/cache/warden/debs}
say() { echo "plab-image: $*" >&2; }

# Keep this list in step with what the nodes need: the package names are
# the image's cache key. python3 runs the fence agent; iputils-ping is for
# crmsh (it pings a node before standby); postfix and dovecot-imapd are the
# servers of the EXRES virtual server group (test-plab-scenarios.sh), whose
# own services the layer masks.
NODE_PACKAGES=(systemd systemd-sysv dbus corosync pacemaker crmsh resource-agents
               iproute2 iputils-ping procps libxml2-utils python3 postfix dovecot-imapd)

mounted=()
tmp=
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}"
    done
    mounted=()
    [ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
tmp=$(mktemp -d /var/tmp/warden-plab-image.XXXXXX)

# ---- 1. the base image ----------------------------------------------------
t=$SECONDS
base=$("$src/scripts/image.sh" "warden-lab-$release" "$release" "${NODE_PACKAGES[@]}")
say "base $base ($((SECONDS - t)) s)"

# ---- 2. the packages --------------------------------------------------------
mkdir -p "$tmp/src/warden"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z | tar --null --ignore-failed-read -cf - -T - 2>/dev/null) |
        tar -xf - -C "$tmp/src/warden"
else
    tar -C "$src" --exclude='./build*' --exclude=./obj-\* -cf - . | tar -xf - -C "$tmp/src/warden"
fi
# The key: every exported file but test/ and scripts/, which the package
# build does not read (debian/rules builds with -Dtests=false, and meson
# reads test/ only with tests on), so that editing a test does not rebuild.
srckey=$(cd "$tmp/src/warden" && find . -type f ! -path './test/*' ! -path './scripts/*' -print0 |
    sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
debs=$debcache/$release
if [ "$(cat "$debs/key" 2>/dev/null)" = "$srckey" ] && compgen -G "$debs/*.deb" >/dev/null; then
    say "packages for $release from the cache ($srckey)"
else
    t=$SECONDS
    host_release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    mkdir -p "$debcache"
    exec 8>"$debcache/$release.lock"
    flock 8
    if [ "$host_release" = "$release" ] && (cd "$tmp/src/warden" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
        say "building the packages on the host ($release) ..."
        (cd "$tmp/src/warden" && DEB_BUILD_OPTIONS="parallel=2 nocheck" dpkg-buildpackage -us -uc -b) \
            >"$tmp/build.log" 2>&1 || {
            tail -n 40 "$tmp/build.log" >&2
            say "dpkg-buildpackage failed on the host"
            exit 1
        }
        outdir=$tmp/src
    else
        # The build root: debian/control's Build-Depends (first alternatives,
        # no versions; debhelper-compat is debhelper's).
        mapfile -t bdeps < <(awk '/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, ""); print; next }
                                  on && /^[^ \t]/ { on = 0 } on { print }' "$src/debian/control" |
            tr ',' '\n' | sed 's/[[(].*//; s/|.*//; s/[[:space:]]//g' | grep . |
            sed 's/^debhelper-compat$/debhelper/')
        broot=$("$src/scripts/image.sh" "warden-build-$release" "$release" \
                build-essential dpkg-dev fakeroot "${bdeps[@]}")
        say "building the packages in $broot (an overlay) ..."
        mkdir -p "$tmp/bu" "$tmp/bw" "$tmp/broot"
        mount -t overlay overlay -o "lowerdir=$broot,upperdir=$tmp/bu,workdir=$tmp/bw" "$tmp/broot"
        mounted+=("$tmp/broot")
        mount -t proc proc "$tmp/broot/proc" && mounted+=("$tmp/broot/proc")
        mount --bind /dev "$tmp/broot/dev" && mounted+=("$tmp/broot/dev")
        mkdir -p "$tmp/broot/build"
        cp -a "$tmp/src/warden" "$tmp/broot/build/"
        chroot "$tmp/broot" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
            DEB_BUILD_OPTIONS="parallel=2 nocheck" \
            sh -c 'cd /build/warden && dpkg-checkbuilddeps && dpkg-buildpackage -us -uc -b' \
            >"$tmp/build.log" 2>&1 || {
            tail -n 60 "$tmp/build.log" >&2
            say "dpkg-buildpackage failed in the $release build root"
            exit 1
        }
        outdir=$tmp/broot/build
    fi
    rm -rf "$debs.new"
    mkdir -p "$debs.new"
    cp "$outdir"/*.deb "$debs.new/"
    cp "$tmp/build.log" "$debs.new/build.log"
    echo "$srckey" >"$debs.new/key"
    rm -rf "$debs"
    mv "$debs.new" "$debs"
    cleanup
    mkdir -p "$tmp"
    say "packages for $release built ($((SECONDS - t)) s): $(cd "$debs" && echo *.deb)"
fi

# ---- 3. the layer: warden and the fence agent over the base -----------------
# WARDEN_LAYER_CACHE (and WARDEN_DEB_CACHE) elsewhere: packages of another
# checkout, without replacing the layer a running lab's nodes sit on.
layer=${WARDEN_LAYER_CACHE:-$cache}/warden-lab-$release.warden
agentsum=$(sha256sum "$here/fence_warden_lab" | cut -c1-16)
key="plab-image 2; base $(cat "$cache/warden-lab-$release.key"); debs $srckey; agent $agentsum"
exec 9>"$layer.lock"
flock 9
if [ -d "$layer" ] && [ "$(cat "$layer.key" 2>/dev/null)" = "$key" ]; then
    echo "$layer:$base"
    exit 0
fi
t=$SECONDS
rm -rf "$layer.new"
mkdir -p "$layer.new/upper" "$layer.new/work" "$tmp/lroot"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$layer.new/upper,workdir=$layer.new/work" "$tmp/lroot"
mounted+=("$tmp/lroot")
mkdir -p "$tmp/lroot/tmp/debs"
cp "$debs"/libwarden0_*.deb "$debs"/resource-agents-warden_*.deb "$tmp/lroot/tmp/debs/"
chroot "$tmp/lroot" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
    sh -c 'dpkg -i /tmp/debs/*.deb' >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log" >&2
    say "dpkg -i of warden's packages failed in the $release image"
    exit 1
}
rm -rf "$tmp/lroot/tmp/debs"
install -m 0755 "$here/fence_warden_lab" "$tmp/lroot/usr/sbin/fence_warden_lab"
# The distribution's mail services stay off: the tests run instances of
# their own on the nodes' ports 25 and 143 (masked: a package upgrade does
# not enable them again).
for u in postfix.service postfix@-.service dovecot.service dovecot.socket; do
    ln -sfn /dev/null "$tmp/lroot/etc/systemd/system/$u"
done
umount "$tmp/lroot"
mounted=()
rm -rf "$layer" "$layer.key"
mv "$layer.new/upper" "$layer"
rm -rf "$layer.new"
echo "$key" >"$layer.key"
say "layer $layer ($((SECONDS - t)) s)"
echo "$layer:$base"
