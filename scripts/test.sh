#!/usr/bin/env bash
# Sets up (packages), builds and runs every test through ctest. Usage: scripts/test.sh [BUILD_DIR]
# JITSEC_ASAN=1 also builds and runs the unit and integration tests under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${1:-build}
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_COMPILE_WARNING_AS_ERROR=$werror >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
if [ "${JITSEC_ASAN:-0}" = "1" ]; then
  cmake -S . -B "$build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJITSEC_ENABLE_ASAN=ON -DJITSEC_ENABLE_UBSAN=ON \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=$werror >/dev/null
  cmake --build "$build-asan" -j"$(nproc)"
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$build-asan" --output-on-failure -j"$(nproc)" -LE no-sanitizer
fi
