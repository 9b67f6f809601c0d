#!/usr/bin/env bash
# Start-up benchmark (performance.md): in ONE interleaved loop, N runs each, bare /bin/true,
# unshare with all namespaces, bwrap with the typical agent configuration, and `jitsec run` of a
# task with the full default sandbox and one store credential delivered as a file (a sealed memfd),
# from a git workspace; and, as diagnostics, jitsec's process start-up, the same run without the
# sandbox, and check/explain/tasks on the example policies (performance.md: within 3x bare).
# The order within each round is shuffled (spawn_timer.c says why). Prints medians and ratios
# and writes them, with the date, the machine, the
# load average and the exact commands, to bench/startup/RESULTS.md (latest run in full, earlier
# runs as one history line each).
#   bench/startup/run.sh            (N=200; BUILD_DIR defaults to build-bench-release)
#   N=100 bench/startup/run.sh
# The machine is usually shared: run it when `uptime` shows the lowest load you can get; the load
# average before and after the loop is recorded.
set -euo pipefail
N=${N:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-bench-release}
results=${RESULTS:-$root/bench/startup/RESULTS.md}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DJITSEC_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" -j2 jitsec >/dev/null
if ! command -v bwrap >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "bench/startup: bwrap is missing (apt-get install bubblewrap)" >&2
    exit 1
  fi
fi
jitsec=$build/src/jitsec

work=$(mktemp -d /tmp/jitsec-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
cc -O2 -o "$work/spawn_timer" "$root/bench/startup/spawn_timer.c"
. "$root/bench/startup/workspace.sh"
bench_workspace "$jitsec" "$work"
# Warms the kernel probe cache and checks that the run works (spawn_timer discards output).
"$jitsec" --policy "$policy" run --task bench -- /bin/true

unshare_cmd=(/usr/bin/unshare --user --map-root-user --pid --fork --mount --net --ipc --uts /bin/true)
bwrap_cmd=(/usr/bin/bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all
           --die-with-parent --new-session /bin/true)
jitsec_cmd=("$jitsec" --policy "$policy" run --task bench -- /bin/true)
# Diagnostics: jitsec's process start-up alone, and a run without the sandbox.
version_cmd=("$jitsec" --version)
nosandbox_cmd=("$jitsec" --policy "$policy" run --task bench-nosandbox -- /bin/true)
# performance.md: explain, check and tasks on the example policies, within 3x of bare: check
# and tasks on each of them; explain of the tasks that this workspace may run (a refused
# explain exits 1, which spawn_timer counts as a failure).
examples=("$root"/policies/*.yaml)
spec=(/bin/true ::: "${unshare_cmd[@]}" ::: "${bwrap_cmd[@]}" ::: "${jitsec_cmd[@]}" :::
      "${version_cmd[@]}" ::: "${nosandbox_cmd[@]}")
labels=('bare `/bin/true`' "\`${unshare_cmd[*]}\`" "\`${bwrap_cmd[*]}\`"
        '`jitsec run --task bench -- /bin/true` (default sandbox, one store credential as a file)'
        '(diagnostic) `jitsec --version`: process start-up only'
        '(diagnostic) `jitsec run --task bench-nosandbox -- /bin/true` (`sandbox: {enabled: false}`)')
kinds=(bare unshare bwrap jitsec version nosandbox)
for f in "${examples[@]}"; do
  name=policies/$(basename "$f")
  spec+=(::: "$jitsec" --policy "$f" check ::: "$jitsec" --policy "$f" tasks)
  labels+=("\`jitsec --policy $name check\`" "\`jitsec --policy $name tasks\`")
  kinds+=(check tasks)
done
explains=("agent-default.yaml agent" "example.yaml hello")
for e in "${explains[@]}"; do
  read -r file task <<<"$e"
  spec+=(::: "$jitsec" --policy "$root/policies/$file" explain --task "$task" -- sh)
  labels+=("\`jitsec --policy policies/$file explain --task $task -- sh\`")
  kinds+=(explain)
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# One line per command: median min max (ms).
timings=$("$work/spawn_timer" "$N" "${spec[@]}")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mapfile -t res <<<"$timings"
[ "${#res[@]}" -eq "${#labels[@]}" ] || { echo "bench/startup: spawn_timer gave: $timings" >&2; exit 1; }
field() { echo "${res[$1]}" | cut -d' ' -f"$2"; }
bare=$(field 0 1); uns=$(field 1 1); bw=$(field 2 1); js=$(field 3 1)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# verdict RATIO TARGET [lt|le]: "met" when RATIO < TARGET (lt) or <= TARGET (le, the default).
verdict() { awk -v r="$1" -v t="$2" -v s="${3:-le}" 'BEGIN { ok = s == "lt" ? r < t : r <= t; print ok ? "met" : "MISSED" }'; }
# The largest ratio to bare among the commands of one kind.
worst() {
  local w=0 i
  for i in "${!kinds[@]}"; do
    [ "${kinds[$i]}" = "$1" ] && w=$(awk -v a="$w" -v b="$(ratio "$(field "$i" 1)" "$bare")" 'BEGIN { print (b > a ? b : a) }')
  done
  printf '%.2f' "$w"
}
js_bw=$(ratio "$js" "$bw"); js_uns=$(ratio "$js" "$uns")
js_nosb_bare=$(ratio "$(field 5 1)" "$bare")
check_bare=$(worst check); explain_bare=$(worst explain); tasks_bare=$(worst tasks)
rows=""
for i in "${!labels[@]}"; do
  rows+="| ${labels[$i]} | $(field "$i" 1) ms | $(field "$i" 2)–$(field "$i" 3) ms | $(ratio "$(field "$i" 1)" "$bare")× |"$'\n'
done
table="| launcher | median | min–max | vs bare |
|---|---|---|---|
${rows}
- jitsec / bwrap = **${js_bw}** (target < 1.0: $(verdict "$js_bw" 1.0 lt))
- jitsec / unshare = **${js_uns}** (target ≤ 1.3: $(verdict "$js_uns" 1.3))
- jitsec without sandbox / bare = **${js_nosb_bare}** (target ≤ 2: $(verdict "$js_nosb_bare" 2.0))
- on the example policies, the largest of each: check / bare = **${check_bare}**, explain / bare = **${explain_bare}**, tasks / bare = **${tasks_bare}** (target ≤ 3: $(verdict "$check_bare" 3.0), $(verdict "$explain_bare" 3.0), $(verdict "$tasks_bare" 3.0))"
echo "$table"

date_utc=$(date -u '+%Y-%m-%d %H:%M UTC')
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
machine="$(nproc) CPUs ($cpu), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
latest="## Latest run

- date: $date_utc; jitsec at commit $commit (Release build in \`$(basename "$build")\`), run as $(id -un)
- machine: $machine
- load average (1/5/15 min): $load_before before the loop, $load_after after (the machine is shared)
- N = $N runs of each command, interleaved (one of each per round, in an order shuffled every
  round), wall time per run measured by \`bench/startup/spawn_timer.c\` (posix_spawn + waitpid,
  output to /dev/null)
- command: \`N=$N bench/startup/run.sh\`; the commands exactly as in the table, run from a git
  workspace, the policy in \`\$XDG_CONFIG_HOME/jitsec/policy.yaml\`, passed with \`--policy\`

$table"
history_line="| $date_utc | $commit | $N | $load_before | $bare | $uns | $bw | $js | $js_bw | $js_uns |"
python3 - "$results" "$latest" "$history_line" <<'PY'
import os, sys
path, latest, line = sys.argv[1:4]
rows, kept, section = [], [], None  # kept: hand-written sections (e.g. "## Where the time goes")
if os.path.exists(path):
    for l in open(path, encoding="utf-8"):
        if l.startswith("## "):
            section = l[3:].strip()
            if section not in ("Latest run", "History"):
                kept.append(l)
        elif section == "History" and l.startswith("| 2"):
            rows.append(l.rstrip("\n"))
        elif section not in (None, "Latest run", "History"):
            kept.append(l)
rows.append(line)
text = f"""# Start-up benchmark results

Written by `bench/startup/run.sh` (see its header; performance.md has the targets: jitsec faster
than bwrap in the same run, and within 1.3× of unshare). Compare ratios within one run only:
absolute times move with the machine and its load. Sections other than "Latest run" and
"History" are written by hand and kept by the script.

{latest}

## History

| date | commit | N | load (1/5/15) | bare ms | unshare ms | bwrap ms | jitsec ms | jitsec/bwrap | jitsec/unshare |
|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
if kept:
    text += "\n" + "".join(kept).rstrip("\n") + "\n"
open(path, "w", encoding="utf-8").write(text)
PY
echo "written: $results"
