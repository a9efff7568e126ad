#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run runs exactly this).
#  1. install what is missing (apt-get), build, install the agents
#  2. unit tests (Check), agent tests (ocf-tester, every exit code), and the
#     real single-node cluster tests (corosync + Pacemaker on 127.0.0.1)
#  3. the unit tests again under valgrind (no errors, no leaks)
#  4. unit and agent tests again in an ASan+UBSan build
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

step "build"
[ -f $build/build.ninja ] || meson setup $build >/dev/null
ninja -C $build
step "install"
meson install -C $build --quiet

step "tests: unit, agent, cluster"
meson test -C $build --print-errorlogs --suite unit --suite agent --suite cluster

step "unit tests under valgrind"
meson test -C $build --print-errorlogs --suite unit --setup valgrind

step "ASan+UBSan build: unit and agent tests"
[ -f $asan/build.ninja ] || meson setup $asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C $asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C $asan --print-errorlogs --suite unit --suite agent
