#!/usr/bin/env bash
# Regenerates src/hot_text.ld, the code layout of the lean jitsec binary (JITSEC_HOT_TEXT):
# builds jitsec in Release mode with a link map, runs the commands of the start-up benchmark
# (bench/startup/run.sh) under valgrind's callgrind to learn which functions each one runs, and
# lets hot_text.py list their input sections, first command first. Needs valgrind and python3.
#   bench/startup/hot-text.sh        (BUILD_DIR defaults to build-hot-text)
# Then rebuild, check `git diff --stat src/hot_text.ld` and run bench/startup/run.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-hot-text}
command -v valgrind >/dev/null || { echo "bench/startup/hot-text.sh: needs valgrind" >&2; exit 1; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DJITSEC_BUILD_TESTS=OFF \
      -DCMAKE_EXE_LINKER_FLAGS="-Wl,-Map,$build/jitsec.map" >/dev/null
ninja -C "$build" -j2 jitsec >/dev/null
jitsec=$build/src/jitsec

work=$(mktemp -d /tmp/jitsec-hot-text-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
. "$root/bench/startup/workspace.sh"
# Valgrind cannot follow the helper that finishes the audit log's sync after jitsec's exit (a
# clone sharing the memory but not the descriptor table): the profiled runs sync before exiting.
bench_workspace "$jitsec" "$work" "  audit: {sync: wait}"
"$jitsec" --policy "$policy" run --task bench -- /bin/true  # the kernel probe and seccomp caches

# In the order their code goes into the binary: what every command runs comes first.
commands=(
  "--version"
  "--policy $root/policies/db-migrate.yaml check"
  "--policy $root/policies/example.yaml tasks"
  "--policy $root/policies/example.yaml explain --task hello -- sh"
  "--policy $policy run --task bench-nosandbox -- /bin/true"
  "--policy $policy run --task bench -- /bin/true"
)
last=$((${#commands[@]} - 1))
for i in "${!commands[@]}"; do
  rc=0
  # shellcheck disable=SC2086  # each entry is a word list
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/cg-$i.%p" \
    "$jitsec" ${commands[$i]} >/dev/null 2>"$work/valgrind-$i.log" || rc=$?
  # The sandboxed run stops at Landlock under valgrind (an unknown syscall): jitsec refuses
  # it, fail-closed, after its parent side has run; hot_text.py adds the sandbox module whole.
  if [ "$rc" -ne 0 ] && [ "$i" -ne "$last" ]; then
    echo "bench/startup/hot-text.sh: jitsec ${commands[$i]} failed under valgrind:" >&2
    tail -5 "$work/valgrind-$i.log" >&2
    exit 1
  fi
done
python3 "$root/bench/startup/hot_text.py" "$jitsec" "$build/jitsec.map" "$work"/cg-* \
  > "$root/src/hot_text.ld"
echo "written: $root/src/hot_text.ld"
