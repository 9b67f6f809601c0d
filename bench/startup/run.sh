#!/usr/bin/env bash
# Start-up benchmark (performance.md): in ONE interleaved loop, N runs each, bare /bin/true,
# unshare with all namespaces, bwrap with the typical agent configuration, and `jitsec run` of a
# task with the full default sandbox and one store credential delivered as a file. Prints
# medians and ratios and rewrites the "startup" section of bench/RESULTS.md.
#   bench/startup/run.sh            (N=200; BUILD_DIR defaults to build-bench-release)
set -euo pipefail
N=${N:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-bench-release}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DJITSEC_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" -j2 jitsec >/dev/null
command -v bwrap >/dev/null || apt-get install -y bubblewrap >/dev/null
jitsec=$build/src/jitsec

work=$(mktemp -d /tmp/jitsec-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/spawn_timer" "$root/bench/startup/spawn_timer.c"
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_DATA_HOME=$work/home/.local/share \
       XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$XDG_CONFIG_HOME/jitsec" "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$work/ws"
chmod 700 "$work"
policy=$XDG_CONFIG_HOME/jitsec/policy.yaml
cat > "$policy" <<'YAML'
version: 1
tasks:
  bench:
    description: start-up benchmark (full default sandbox, one file delivery)
    credentials:
      TOKEN:
        provider: store
        secret: bench-token
        deliver:
          - file: {env: TOKEN_FILE}
YAML
chmod 600 "$policy"
printf 'bench-token-value-%s' "$RANDOM" | "$jitsec" --policy "$policy" secret set bench-token
cd "$work/ws"
"$jitsec" --policy "$policy" run --task bench -- /bin/true  # warms the kernel probe cache

unshare_cmd=(/usr/bin/unshare --user --map-root-user --pid --fork --mount --net --ipc --uts /bin/true)
bwrap_cmd=(/usr/bin/bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all
           --die-with-parent --new-session /bin/true)
jitsec_cmd=("$jitsec" --policy "$policy" run --task bench -- /bin/true)
mapfile -t res < <("$work/spawn_timer" "$N" /bin/true -- "${unshare_cmd[@]}" -- "${bwrap_cmd[@]}" \
                   -- "${jitsec_cmd[@]}")
med() { echo "${res[$1]}" | cut -d' ' -f1; }
bare=$(med 0); uns=$(med 1); bw=$(med 2); js=$(med 3)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
table="| launcher | median | vs bare |
|---|---|---|
| bare \`/bin/true\` | ${bare} ms | 1× |
| \`${unshare_cmd[*]}\` | ${uns} ms | $(ratio "$uns" "$bare")× |
| \`${bwrap_cmd[*]}\` | ${bw} ms | $(ratio "$bw" "$bare")× |
| \`jitsec run --task bench -- /bin/true\` (default sandbox, one store credential as a file) | ${js} ms | $(ratio "$js" "$bare")× |

jitsec / bwrap = $(ratio "$js" "$bw") (target < 1.0); jitsec / unshare = $(ratio "$js" "$uns") (target ≤ 1.3)."
echo "$table"

results=$root/bench/RESULTS.md
section="## startup

\`bench/startup/run.sh\` (N=$N, one interleaved loop, Release build, $(date -u +%Y-%m-%d), $(uname -r),
$(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)); commands exactly as below, run from a
workspace directory with the policy in \`\$XDG_CONFIG_HOME/jitsec/policy.yaml\`:

$table
"
touch "$results"
python3 - "$results" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pattern = re.compile(r"^## startup\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(lambda m: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
