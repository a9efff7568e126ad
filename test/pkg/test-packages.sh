#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages, built and installed the way an administrator would
# (issue 11). Output is TAP.
#
#  1. a clean export of the tree (the tracked files of the working tree, so
#     uncommitted edits are tested, untracked files are not), built with
#     dpkg-buildpackage -us -uc -b;
#  2. lintian on the result: no error and no warning that debian/*.lintian-
#     overrides does not justify;
#  3. a clean Debian 12 root (scripts/image.sh: debootstrap minbase from this
#     machine's mirror, with resource-agents, man-db and the mail servers,
#     cached under /var/cache/warden/images/) under an overlayfs, so the cache
#     stays clean; the packages installed there with apt-get install ./x.deb
#     (their dependencies from the archive);
#  4. in the root: every file in resource.d/warden/ is an agent, ocf-tester on
#     every agent (daemon with a sleep, smtp/imap/pop3 with a throwaway
#     Postfix and Dovecots as test/agent/test-mail.sh runs them), man -w for
#     every ocf_warden_<agent>(7) and man renders ocf_warden_daemon;
#  5. apt-get purge, then nothing of what dpkg -L listed is left (a directory
#     that another installed package still owns is not a leftover).
#
# The root runs in a mount and PID namespace of its own (unshare): /proc
# fresh, /sys and /dev bound from the host (the daemon agent needs cgroup2),
# /run a tmpfs; the agents run in a network namespace of their own too. Everything mounted is unmounted by a trap, and whatever the
# mounts or processes the test leaves, the kernel ends them with the
# namespaces. Skips (exit 77) only when it cannot run here: not root, a tool
# missing, no network for a root not yet cached; WARDEN_NO_SKIP=1 makes that a
# failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
IMAGE_NAME=warden-pkg-bookworm
IMAGE_SUITE=bookworm
IMAGE_PACKAGES=(resource-agents man-db libxml2-utils iproute2 procps
                postfix dovecot-imapd dovecot-pop3d)  # iproute2: ip, ss
PACKAGES=(libwarden0 libwarden-dev resource-agents-warden)

now() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
secs() { local ms=$(($(now) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

# ---- inside the namespaces: the root, set up and torn down -----------------
if [ "${1:-}" = --inside ]; then
    img=$2 tmp=$3
    root=$tmp/root
    mounted=()
    umount_all() {
        local i
        for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
            umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}"
        done
        mounted=()
    }
    trap umount_all EXIT
    say() { echo "$@"; }
    inroot() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
                   DEBIAN_FRONTEND=noninteractive "$@"; }
    mkdir -p "$tmp/upper" "$tmp/work" "$root"
    if mount -t overlay overlay -o "lowerdir=$img,upperdir=$tmp/upper,workdir=$tmp/work" "$root" 2>/dev/null; then
        mounted+=("$root")
        say "# the root: an overlay over $img"
    else
        say "# no overlayfs here: the root is a copy of $img"
        cp -a "$img/." "$root/"
    fi
    mount -t proc proc "$root/proc" && mounted+=("$root/proc")
    mount --rbind /sys "$root/sys" && mounted+=("$root/sys")
    mount --rbind /dev "$root/dev" && mounted+=("$root/dev")
    mount -t tmpfs -o mode=0755 tmpfs "$root/run" && mounted+=("$root/run")
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
    mkdir -p "$root/tmp/debs" "$root/tmp/t"
    cp "$tmp"/debs/*.deb "$root/tmp/debs/"
    cp "$src/test/agent/mail/mail-lib.sh" "$root/tmp/t/"

    t=$(now)
    debs=$(cd "$root/tmp/debs" && ls ./*.deb | sed 's|^\./|/tmp/debs/|')
    # The image's package lists may be older than the archive: update once
    # when the install cannot find what it needs.
    # shellcheck disable=SC2086 # file names without blanks
    if ! inroot apt-get install -y -q --no-install-recommends $debs >"$tmp/install.log" 2>&1; then
        inroot apt-get update -q >>"$tmp/install.log" 2>&1
        inroot apt-get install -y -q --no-install-recommends $debs >>"$tmp/install.log" 2>&1
    fi
    installed=$(inroot dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null | awk '/install ok installed/ && $1 ~ /warden/ { print $1 }')
    missing=
    for p in "${PACKAGES[@]}"; do grep -qx "$p" <<<"$installed" || missing+=" $p"; done
    if [ -z "$missing" ]; then
        say "PASS apt-get install ./*.deb in a clean Debian 12 root: $(echo $installed) ($(secs "$t") s)"
    else
        say "FAIL apt-get install ./*.deb in a clean Debian 12 root: not installed:$missing"
        sed 's/^/# /' "$tmp/install.log" | tail -n 30
        exit 0
    fi
    # shellcheck disable=SC2086
    inroot dpkg -L $installed | sort -u >"$tmp/dpkg-L"
    say "# the packages own $(wc -l <"$tmp/dpkg-L") paths"

    # Pacemaker lists every executable in resource.d/warden/ as an agent.
    agents=()
    bad=
    for f in "$root"/usr/lib/ocf/resource.d/warden/*; do
        a=${f##*/}
        if inroot "/usr/lib/ocf/resource.d/warden/$a" meta-data 2>/dev/null |
                grep -q "<resource-agent name=\"$a\""; then
            agents+=("$a")
        else
            bad+=" $a"
        fi
    done
    if [ -z "$bad" ] && [ ${#agents[@]} -ge 4 ]; then
        say "PASS nothing but agents in /usr/lib/ocf/resource.d/warden: ${agents[*]}"
    else
        say "FAIL not agents in /usr/lib/ocf/resource.d/warden:${bad:- (only ${agents[*]})}"
    fi
    if [ -x "$root/usr/libexec/warden/warden-push" ] && inroot ldd /usr/libexec/warden/warden-push | grep -q 'not found'; then
        say "FAIL warden-push lacks a library: $(inroot ldd /usr/libexec/warden/warden-push | grep 'not found')"
    else
        say "PASS warden-push in /usr/libexec/warden finds its libraries"
    fi

    # ocf-tester on every agent, from the packages. The mail agents run
    # throwaway servers of their own (test/agent/mail/mail-lib.sh), in a
    # network namespace of their own: the host's agent tests use the same
    # ports on 127.0.0.1.
    t=$(now)
    inroot unshare --net bash -c '
        set -u
        ip link set lo up
        . /tmp/t/mail-lib.sh
        export OCF_RESKEY_notify_cluster=false
        w=/tmp/t/mail; mkdir -p $w; chmod 0755 /tmp/t $w
        smtp=$(mail_port 2525); imap=$(mail_port 10143); pop3=$(mail_port 10110)
        mail_postfix_config $w/postfix "$smtp" >/dev/null
        mail_dovecot_config $w/imap imap "$imap" >/dev/null
        mail_dovecot_config $w/pop3 pop3 "$pop3" >/dev/null
        mail_postfix_allow $w/postfix/etc >/dev/null
        for a in "$@"; do
            case $a in
                daemon) p=(-o "command=/bin/sleep 1000") ;;
                smtp) p=(-o config_dir=$w/postfix/etc -o port=$smtp) ;;
                imap) p=(-o config=$w/imap/dovecot.conf -o port=$imap) ;;
                pop3) p=(-o config=$w/pop3/dovecot.conf -o port=$pop3) ;;
                *) p=() ;;
            esac
            t0=${EPOCHREALTIME}
            out=$(ocf-tester -n pkg-ot-$a "${p[@]}" /usr/lib/ocf/resource.d/warden/$a 2>&1)
            t1=${EPOCHREALTIME}
            if grep -q "passed all tests" <<<"$out"; then
                echo "PASS ocf-tester passes ocf:warden:$a (installed) ($(printf %.1f "$(bc <<<"$t1 - $t0")") s)"
            else
                echo "FAIL ocf-tester fails ocf:warden:$a (installed)"
                sed "s/^/# /" <<<"$out" | tail -n 20
            fi
        done
        mail_postfix_disallow $w/postfix/etc >/dev/null
    ' _ "${agents[@]}"
    say "# ocf-tester: $(secs "$t") s"

    for a in "${agents[@]}"; do
        if p=$(inroot man -w "ocf_warden_$a" 2>&1); then
            say "PASS man -w ocf_warden_$a: $p"
        else
            say "FAIL man -w ocf_warden_$a: $p"
        fi
    done
    # The operator's command (issue 12): installed, documented, answering.
    if p=$(inroot man -w 8 warden 2>&1); then say "PASS man -w 8 warden: $p"; else say "FAIL man -w 8 warden: $p"; fi
    if inroot test -f /usr/share/bash-completion/completions/warden; then
        say "PASS the bash completion of warden is installed"
    else
        say "FAIL no /usr/share/bash-completion/completions/warden"
    fi
    if out=$(inroot /usr/sbin/warden status --json 2>&1) && python3 -c 'import json, sys; json.loads(sys.argv[1])' "$out"; then
        say "PASS warden status --json answers JSON on a node with no instance: $(tr "\n" " " <<<"$out" | head -c 80)"
    else
        say "FAIL warden status --json: $(tr "\n" " " <<<"$out" | head -c 300)"
    fi
    # libwarden loads GnuTLS with dlopen (lib/tls.c), which shlibs cannot see.
    if grep -q 'libgnutls30' <<<"$(inroot dpkg-query -W -f '${Depends}' libwarden0)"; then
        say "PASS libwarden0 depends on libgnutls30 (loaded on the first TLS probe)"
    else
        say "FAIL libwarden0 does not depend on libgnutls30: $(inroot dpkg-query -W -f '${Depends}' libwarden0)"
    fi
    page=$(inroot env MANWIDTH=80 man -P cat ocf_warden_daemon 2>/dev/null)
    if grep -q "SUPPORTED PARAMETERS" <<<"$page" && grep -q "pcs resource create" <<<"$page" &&
            grep -q "crm configure primitive" <<<"$page" && grep -q "command" <<<"$page"; then
        say "PASS man ocf_warden_daemon shows the parameters and the crm and pcs examples"
    else
        say "FAIL man ocf_warden_daemon: $(head -c 300 <<<"$page")"
    fi

    # Purge, then look for what the packages had.
    t=$(now)
    # shellcheck disable=SC2086
    if inroot apt-get purge -y -q $installed >"$tmp/purge.log" 2>&1; then
        say "PASS apt-get purge $(echo $installed) ($(secs "$t") s)"
    else
        say "FAIL apt-get purge"
        sed 's/^/# /' "$tmp/purge.log" | tail -n 20
    fi
    left=()
    while IFS= read -r p; do
        case $p in ''|/.) continue ;; esac
        [ -e "$root$p" ] || [ -L "$root$p" ] || continue
        # A directory another installed package owns stays, rightly.
        if [ -d "$root$p" ] && [ ! -L "$root$p" ] && inroot dpkg-query -S "$p" >/dev/null 2>&1; then
            continue
        fi
        left+=("$p")
    done <"$tmp/dpkg-L"
    if [ ${#left[@]} -eq 0 ]; then
        say "PASS the purge leaves nothing of the packages' $(wc -l <"$tmp/dpkg-L") paths"
    else
        say "FAIL the purge left: ${left[*]}"
    fi
    say "DONE"
    exit 0
fi

# ---- outside: build, lintian, the image --------------------------------------
. "$src/test/agent/lib.sh"

skip() { # skip REASON: exit 77, or with WARDEN_NO_SKIP=1 a failure
    if [ "${WARDEN_NO_SKIP:-}" = 1 ]; then echo "Bail out! cannot run: $1, and WARDEN_NO_SKIP=1"; exit 1; fi
    echo "1..0 # SKIP $1"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, mounts, the agents)"
for c in dpkg-buildpackage:dpkg-dev dh:debhelper fakeroot:fakeroot lintian:lintian \
         debootstrap:debootstrap xsltproc:xsltproc unshare:util-linux; do
    command -v "${c%%:*}" >/dev/null || skip "${c%%:*} missing (apt-get install ${c#*:}; scripts/deps.sh)"
done

t_all=$(now)
tmp=$(mktemp -d /var/tmp/warden-pkg-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# 1. a clean export and the build.
t=$(now)
mkdir -p "$tmp/src/warden" "$tmp/debs"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z | tar --null --ignore-failed-read -cf - -T - 2>/dev/null) | tar -xf - -C "$tmp/src/warden"
    echo "# export: the tracked files of $src"
else
    tar -C "$src" --exclude='./build*' --exclude=./obj-\* -cf - . | tar -xf - -C "$tmp/src/warden"
fi
if ! (cd "$tmp/src/warden" && dpkg-checkbuilddeps) >"$tmp/deps.log" 2>&1; then
    skip "build dependencies missing: $(cat "$tmp/deps.log") (scripts/deps.sh installs them)"
fi
if (cd "$tmp/src/warden" && DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b builds from a clean export ($(secs "$t") s)"
else
    not_ok "dpkg-buildpackage -us -uc -b builds from a clean export"
    sed 's/^/# /' "$tmp/build.log" | tail -n 40
    finish
    exit 1
fi
cp "$tmp"/src/*.deb "$tmp/debs/"
for p in "${PACKAGES[@]}"; do
    check "the build made $p" bash -c 'compgen -G "$1" >/dev/null' _ "$tmp/src/${p}_*.deb"
done
check "no package but resource-agents-warden puts files in resource.d" \
    bash -c '! for d in "$1"/*.deb; do case $d in */resource-agents-warden_*) ;; *) dpkg-deb -c "$d";; esac; done | grep -q resource.d' _ "$tmp/debs"

# 2. lintian.
t=$(now)
lint=$(lintian -I -E --pedantic --show-overrides --fail-on error,warning "$tmp"/src/*.changes 2>&1)
rc=$?
lint=$(grep -v "running with root privileges" <<<"$lint")
echo "# lintian ($(secs "$t") s): $(grep -c '^E:' <<<"$lint") errors, $(grep -c '^W:' <<<"$lint") warnings, $(grep -c '^[IPX]:' <<<"$lint") info/pedantic/experimental, $(grep -c '^O:' <<<"$lint") overridden (debian/*.lintian-overrides says why)"
[ -z "$lint" ] || sed 's/^/#   /' <<<"$lint"
if [ $rc -eq 0 ]; then ok "lintian: no errors, no warnings without an override"; else
    not_ok "lintian: errors or warnings (rc=$rc)"
fi

# 3. the Debian 12 root.
t=$(now)
if ! img=$("$src/scripts/image.sh" "$IMAGE_NAME" "$IMAGE_SUITE" "${IMAGE_PACKAGES[@]}" 2>"$tmp/image.log"); then
    sed 's/^/# /' "$tmp/image.log"
    skip "cannot build the Debian 12 root with debootstrap (network? see above)"
fi
echo "# the Debian 12 root: $img ($(secs "$t") s)"

# 4 and 5, in namespaces of their own.
t=$(now)
done=
while IFS= read -r line; do
    case $line in
        "PASS "*) ok "${line#PASS }" ;;
        "FAIL "*) not_ok "${line#FAIL }" ;;
        DONE) done=1 ;;
        *) echo "$line" ;;
    esac
done < <(unshare --mount --pid --fork --propagation private "$0" --inside "$img" "$tmp" 2>&1)
# An install that failed ends the phase early (and failed); anything else
# that ends it early must not pass silently.
[ -n "$done" ] || [ "$n_fail" -gt 0 ] || not_ok "the phase in the root did not run to its end"
echo "# in the root: $(secs "$t") s; the whole test: $(secs "$t_all") s"
if grep -qs " $tmp/" /proc/self/mountinfo; then
    not_ok "a mount under $tmp is left: $(grep " $tmp/" /proc/self/mountinfo | head -3)"
else
    ok "no mount left behind"
fi
finish
