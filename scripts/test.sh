#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The whole test suite, as CI runs it (.ci/run runs exactly this).
#  1. install what is missing (apt-get), build, install to /usr
#     (scripts/install.sh: an old copy under /usr/local is removed first)
#  2. unit tests (Check), agent tests (ocf-tester, every exit code), the
#     real single-node cluster tests (corosync + Pacemaker on 127.0.0.1), and
#     the Debian packages (test/pkg: built, lintian, installed in a Debian 12
#     root, ocf-tester and man there, purged)
#  3. the production-like lab (test/lab: Debian 12 and 13 nodes booted with
#     systemd, fencing on, warden from its packages; the images are built
#     when missing and cached under /var/cache/warden): fencing, a service
#     in its systemd unit, the scenarios (all on trixie, the core ones on
#     bookworm), a seeded chaos run of 50 faults on bookworm
#  4. the unit tests again under valgrind (no errors, no leaks)
#  5. unit and agent tests again in an ASan+UBSan build (all but the "link"
#     suite, which builds programs against the library)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

# A test that cannot run here fails instead of skipping (see lab_skip).
export WARDEN_NO_SKIP=1

build=build
asan=build-asan

step() { printf '\n==== %s\n' "$*"; }

step "format (clang-format, .clang-format)"
clang-format --dry-run --Werror lib/*.c lib/*.h include/warden/*.h agents/*.c agents/*.h \
    test/unit/*.c test/unit/*.h test/bench/*.c test/agent/*.c examples/*/*.c

step "build and install to /usr (scripts/install.sh)"
scripts/install.sh $build

step "tests: unit, agent, cluster, pkg (the Debian packages in a Debian 12 root)"
meson test -C $build --print-errorlogs --suite unit --suite agent --suite cluster --suite pkg

step "the production-like lab (suite lab: Debian 12 and 13 nodes, systemd, fencing)"
# The chaos run's faults replay from its seed: CI throws the same 50 each
# time (CHAOS_SEED=... scripts/test.sh throws others).
CHAOS_SEED=${CHAOS_SEED:-9001} meson test -C $build --print-errorlogs --suite lab

step "unit tests under valgrind"
meson test -C $build --print-errorlogs --suite unit --setup valgrind

# (not the "link" suite: its tests build programs of their own against the
# library, which a sanitized library cannot be linked into; test/meson.build)
step "ASan+UBSan build: unit and agent tests"
[ -f $asan/build.ninja ] || meson setup --prefix=/usr $asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C $asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C $asan --print-errorlogs --suite unit --suite agent --no-suite link
