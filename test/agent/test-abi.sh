#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What an agent links against (issue 14's stable ABI): libwarden.so.0 exports
# the functions of the public headers and nothing else of the library, each
# under a symbol version (lib/libwarden.map), the headers compile and link as
# C++ (extern "C"), and WARDEN_VERSION_* match the project's version. Needs no
# root and touches nothing. Output is TAP.
#
# Env: WARDEN_LIBRARY (the built libwarden.so.0), INCLUDE_DIRS (the source
# and build include directories, colon-separated), VERSION (meson's).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

lib=${WARDEN_LIBRARY:?set WARDEN_LIBRARY to the built libwarden.so.0}
: "${INCLUDE_DIRS:?}" "${VERSION:?}"
src_include=${INCLUDE_DIRS%%:*}
for tool in nm readelf cc c++; do
    command -v $tool >/dev/null || { echo "Bail out! $tool missing (apt-get install binutils gcc g++)"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
iflags=()
IFS=: read -ra dirs <<<"$INCLUDE_DIRS"
for d in "${dirs[@]}"; do iflags+=(-I "$d"); done
# Link by soname, as an agent built against the installed library does.
ln -s "$(readlink -f "$lib")" "$tmp/libwarden.so"
ln -s "$(readlink -f "$lib")" "$tmp/libwarden.so.0"

# The functions the public headers declare: "type name(" at the start of a line.
sed -n 's/^[a-z][a-z0-9_ *]*[ *]\(warden_[a-z0-9_]*\)(.*/\1/p' "$src_include"/warden/*.h | sort -u >"$tmp/declared"
nm -D --defined-only --with-symbol-versions "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sort >"$tmp/exported"

check "the headers declare the public API (found $(wc -l <"$tmp/declared") functions)" test "$(wc -l <"$tmp/declared")" -ge 15
missing=$(while read -r f; do grep -qx "$f@@WARDEN_1\.[0-9]*" "$tmp/exported" || echo "$f"; done <"$tmp/declared")
check "every declared function is exported under a WARDEN_1.x version" test -z "$missing"
[ -z "$missing" ] || echo "# not exported (or unversioned): $(echo $missing)"
extra=$(sed 's/@.*//' "$tmp/exported" | grep -vxF -f "$tmp/declared" | grep -vx 'warden__agent_main_full' || true)
check "nothing else is exported (the warden__ internals are local)" test -z "$extra"
[ -z "$extra" ] || echo "# also exported: $(echo $(head -10 <<<"$extra"))..."
check "the front's entry point is versioned WARDEN_PRIVATE" \
    grep -qx 'warden__agent_main_full@@WARDEN_PRIVATE' "$tmp/exported"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
check "the soname is libwarden.so.0 (got $soname)" test "$soname" = libwarden.so.0
# GnuTLS is loaded on the first TLS probe (lib/tls.c), not with the library:
# every start, stop, validate-all and meta-data loads libwarden.
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
check "libwarden.so.0 does not need libgnutls (NEEDED: $needed)" \
    bash -c '! grep -q gnutls <<<"$0"' "$needed"

# A C++ agent: the headers need extern "C", or the link fails on mangled names.
cat >"$tmp/agent.cc" <<'CC'
#include <warden/warden.h>
#include <cstdio>
#if !WARDEN_VERSION_AT_LEAST(0, 1, 0) || WARDEN_VERSION_AT_LEAST(WARDEN_VERSION_MAJOR + 1, 0, 0)
#error WARDEN_VERSION_AT_LEAST
#endif
int main()
{
    warden_usec_t t = 0;
    if (warden_time_parse("1500ms", &t) != 0 || t != 1500000) {
        return 1;
    }
    std::printf("%s\n", WARDEN_VERSION_STRING);
    return 0;
}
CC
if c++ "${iflags[@]}" -o "$tmp/agent-cc" "$tmp/agent.cc" -L "$tmp" -lwarden 2>"$tmp/err"; then
    ok "a C++ program includes <warden/warden.h> and links against libwarden"
    out=$(LD_LIBRARY_PATH=$tmp "$tmp/agent-cc")
    check "it runs, and WARDEN_VERSION_STRING is the project's version ($out, $VERSION)" test "$out" = "$VERSION"
else
    not_ok "a C++ program includes <warden/warden.h> and links against libwarden"
    sed 's/^/# /' "$tmp/err" | head -5
    not_ok "it runs"
fi

# A C program that reaches for an internal cannot link: what is not in the
# headers is not part of the ABI.
cat >"$tmp/internal.c" <<'C'
const char *warden__state_root(void);
int main(void) { return warden__state_root() != 0; }
C
if cc -o "$tmp/internal" "$tmp/internal.c" -L "$tmp" -lwarden 2>"$tmp/err"; then
    not_ok "a program calling warden__state_root() does not link"
else
    check "a program calling warden__state_root() does not link (undefined reference)" \
        grep -q 'undefined reference to .warden__state_root' "$tmp/err"
fi
finish
