#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A cached Debian root file system, built with debootstrap (minbase) from the
# mirror this machine's apt uses, with extra packages installed by apt-get.
#
#   scripts/image.sh NAME SUITE [PACKAGE...]   prints the image's directory
#   scripts/image.sh --rebuild NAME SUITE ...  builds it anew first
#
# The image is /var/cache/warden/images/NAME (WARDEN_IMAGE_CACHE moves the
# cache). It is built when missing or when SUITE, the mirror or the package
# list changed (recorded in NAME.key beside it), else reused as it is. Users
# must treat it as read-only: copy it, or put an overlay over it, per run (test/pkg
# mounts an overlayfs; systemd-nspawn --volatile=overlay does the same), so
# the cache stays clean. A build goes to NAME.new and is renamed when
# complete, under a lock (NAME.lock), so an interrupted build leaves nothing
# half-made and two callers never build the same image at once.
#
# Packages are installed with apt-get inside the root (apt's resolver, unlike
# debootstrap --include's), with a policy-rc.d that forbids services to start;
# the policy file is removed afterwards. apt's package lists stay in the image
# (so that `apt-get install ./x.deb` in a copy resolves dependencies), the
# downloaded .debs do not.
#
# Requires root, debootstrap, and the network (the mirror) when it builds.
set -euo pipefail

rebuild=
if [ "${1:-}" = --rebuild ]; then rebuild=1; shift; fi
if [ $# -lt 2 ]; then
    echo "usage: $0 [--rebuild] NAME SUITE [PACKAGE...]" >&2
    exit 2
fi
name=$1 suite=$2
shift 2
packages=("$@")
case $name in
    ''|*/*|.*) echo "image.sh: NAME must be a plain file name, not '$name'" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "image.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "image.sh: debootstrap missing: apt-get install debootstrap" >&2; exit 1; }

cache=${WARDEN_IMAGE_CACHE:-/var/cache/warden/images}
img=$cache/$name

# apt_sources: "URI SUITE" for every deb source this machine's apt uses,
# one-line (.list) and deb822 (.sources) formats, comments skipped.
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] && awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++; print $i, $(i + 1) }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] && awk 'BEGIN { RS = "" }
            { types = uris = suites = ""; n = split($0, l, "\n")
              for (j = 1; j <= n; j++) {
                  if (l[j] ~ /^#/) continue
                  if (l[j] ~ /^Types:/) types = l[j]
                  if (l[j] ~ /^URIs:/) { uris = l[j]; sub(/^URIs: */, "", uris) }
                  if (l[j] ~ /^Suites:/) { suites = l[j]; sub(/^Suites: */, "", suites) }
              }
              if (types ~ /(^| )deb( |$)/) {
                  nu = split(uris, u, " "); ns = split(suites, s, " ")
                  for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) print u[a], s[b]
              } }' "$f"
    done
    return 0
}
sources=$(apt_sources)
# The Debian archive: the source of a suite without a "-" (not -security,
# not -updates) whose path ends in debian; else deb.debian.org.
mirror=${WARDEN_MIRROR:-$(awk '$2 !~ /-/ && $1 ~ /debian\/?$/ { print $1; exit }' <<<"$sources")}
mirror=${mirror:-http://deb.debian.org/debian}
security=$(awk '$2 ~ /-security$/ { print $1; exit }' <<<"$sources")
key="image.sh 1; suite $suite; mirror $mirror; packages $(printf '%s\n' "${packages[@]}" | sort -u | paste -sd' ')"

mkdir -p "$cache"
exec 9>"$cache/$name.lock"
flock 9

if [ -z "$rebuild" ] && [ -d "$img" ] && [ "$(cat "$img.key" 2>/dev/null)" = "$key" ]; then
    echo "$img"
    exit 0
fi

new=$img.new
mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
    done
    mounted=()
    rm -rf "$new"
}
trap cleanup EXIT

t0=$SECONDS
rm -rf "$new"
echo "image.sh: building $img ($suite from $mirror) ..." >&2
debootstrap --variant=minbase "$suite" "$new" "$mirror" >"$cache/$name.log" 2>&1 || {
    echo "image.sh: debootstrap failed; the last lines of $cache/$name.log:" >&2
    tail -n 20 "$cache/$name.log" >&2
    exit 1
}
echo "image.sh: debootstrap took $((SECONDS - t0)) s" >&2

# apt inside the root: the same archive, main, and the suite's security and
# updates archives where this machine's apt has them.
{
    echo "deb $mirror $suite main"
    echo "deb $mirror $suite-updates main"
} >"$new/etc/apt/sources.list"
if [ -n "$security" ]; then
    echo "deb $security $suite-security main" >>"$new/etc/apt/sources.list"
fi
cp /etc/resolv.conf "$new/etc/resolv.conf" 2>/dev/null || true

if [ ${#packages[@]} -gt 0 ]; then
    # What package scripts may look at: a proc of its own, the host's /dev
    # (not recursive: nothing is mounted under the root's /dev).
    mount -t proc proc "$new/proc"
    mounted+=("$new/proc")
    mount --bind /dev "$new/dev"
    mounted+=("$new/dev")
    printf '#!/bin/sh\n# image.sh: no service starts while packages are installed\nexit 101\n' \
        >"$new/usr/sbin/policy-rc.d"
    chmod 0755 "$new/usr/sbin/policy-rc.d"
    t1=$SECONDS
    # Postfix, if asked for, gets "No configuration" (no main.cf, nothing to
    # start), as scripts/deps.sh installs it on the host: tests run
    # throwaway instances of their own.
    echo "postfix postfix/main_mailer_type select No configuration" |
        chroot "$new" debconf-set-selections
    chroot "$new" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 sh -c \
        'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" && apt-get clean' \
        _ "${packages[@]}" >>"$cache/$name.log" 2>&1 || {
        echo "image.sh: apt-get install ${packages[*]} failed; the last lines of $cache/$name.log:" >&2
        tail -n 20 "$cache/$name.log" >&2
        exit 1
    }
    rm -f "$new/usr/sbin/policy-rc.d"
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}"; done
    mounted=()
    echo "image.sh: packages took $((SECONDS - t1)) s" >&2
else
    chroot "$new" env LC_ALL=C.UTF-8 apt-get update -qq >>"$cache/$name.log" 2>&1
fi

rm -rf "$img" "$img.key"
mv "$new" "$img"
echo "$key" >"$img.key"
echo "image.sh: $img built in $((SECONDS - t0)) s" >&2
echo "$img"
