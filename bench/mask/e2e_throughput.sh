#!/bin/sh
# End-to-end masking throughput (issue 4, performance.md): 1 GiB written to the command's stdout
# under `jitsec run` (default sandbox, masking on, 100 live store secrets delivered as files),
# against the same bytes from the same producer through a plain read/write copy filter,
# interleaved in one run. Reports seconds, MB/s, the ratio (target >= 0.8) and the max RSS of
# jitsec / the filter (flat memory: it must not grow with the output).
# Usage: bench/mask/e2e_throughput.sh [BUILD_DIR] [ROUNDS=3]
#   BUILD_DIR: a Release build configured with -DJITSEC_BUILD_BENCH=ON (default build-mask-rel);
#   it needs src/jitsec, bench/mask/jitsec_copy_filter and bench/mask/jitsec_mask_pipe.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build-mask-rel}
rounds=${2:-3}
build=$(cd "$build" && pwd)
jitsec=$build/src/jitsec
bin=$build/bench/mask
for p in "$jitsec" "$bin/jitsec_copy_filter" "$bin/jitsec_mask_pipe"; do
  [ -x "$p" ] || { echo "e2e_throughput.sh: $p not built" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "e2e_throughput.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d /tmp/jitsec-e2e-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_DATA_HOME=$work/home/.local/share \
       XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$XDG_CONFIG_HOME/jitsec" "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$work/ws"
policy=$XDG_CONFIG_HOME/jitsec/policy.yaml
n_secrets=100
{
  echo "version: 1"
  echo "tasks:"
  echo "  bench:"
  echo "    description: end-to-end masking throughput (default sandbox, $n_secrets live secrets)"
  echo "    credentials:"
  i=0
  while [ $i -lt $n_secrets ]; do
    echo "      C$i: {provider: store, secret: s$i, deliver: [{file: {env: F$i}}]}"
    i=$((i + 1))
  done
} > "$policy"
chmod 600 "$policy"
# Random alphanumeric secrets of 16-40 bytes, as the matcher benchmark uses.
i=0
while [ $i -lt $n_secrets ]; do
  len=$((16 + i % 25))
  head -c 4096 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "$len" | "$jitsec" --policy "$policy" -q secret set "s$i"
  i=$((i + 1))
done

block_mib=64
reps=16  # 16 x 64 MiB = 1 GiB
"$bin/jitsec_mask_pipe" --generate $((block_mib * 1024 * 1024)) > "$work/ws/block"
total_mib=$((block_mib * reps))
produce="i=0; while [ \$i -lt $reps ]; do cat block; i=\$((i + 1)); done"
cd "$work/ws"
"$jitsec" --policy "$policy" run --task bench -- /bin/true  # warms the kernel probe cache

# run CMD...: prints "seconds max_rss_kib bytes_out"
run() {
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" 2>"$work/err" | wc -c > "$work/count"
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc -l) $(tail -n 1 "$work/rss") $(cat "$work/count")"
}
copy_cmd() { sh -c "$produce" | "$bin/jitsec_copy_filter"; }

echo "input: ${total_mib} MiB log-like text, $n_secrets live secrets, $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-34s %10s %10s %12s\n' round contender seconds MB/s max_rss_KiB
copy_sum=0; jitsec_sum=0; copy_all=""; jitsec_all=""
r=1
while [ "$r" -le "$rounds" ]; do
  set -- $(run sh -c "$produce | '$bin/jitsec_copy_filter'")
  cs=$1; crss=$2; ccount=$3
  set -- $(run "$jitsec" --policy "$policy" run --task bench -- /bin/sh -c "$produce")
  js=$1; jrss=$2; jcount=$3
  [ "$ccount" = "$jcount" ] || { echo "output sizes differ: $ccount vs $jcount" >&2; cat "$work/err" >&2; exit 1; }
  printf '%-6s %-34s %10.2f %10.1f %12s\n' "$r" "copy filter" "$cs" "$(echo "$total_mib * 1.048576 / $cs" | bc -l)" "$crss"
  printf '%-6s %-34s %10.2f %10.1f %12s\n' "$r" "jitsec run (sandbox, masking)" "$js" "$(echo "$total_mib * 1.048576 / $js" | bc -l)" "$jrss"
  copy_sum=$(echo "$copy_sum + $cs" | bc -l); jitsec_sum=$(echo "$jitsec_sum + $js" | bc -l)
  copy_all="$copy_all $cs"; jitsec_all="$jitsec_all $js"
  r=$((r + 1))
done
printf 'total: copy %.2f s, jitsec %.2f s, throughput ratio jitsec/copy = %.3f (target >= 0.8)\n' \
  "$copy_sum" "$jitsec_sum" "$(echo "$copy_sum / $jitsec_sum" | bc -l)"
# Medians resist the outliers of a shared machine better than sums.
median() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cm=$(median "$copy_all"); jm=$(median "$jitsec_all")
printf 'median: copy %.2f s, jitsec %.2f s, throughput ratio jitsec/copy = %.3f (target >= 0.8)\n' \
  "$cm" "$jm" "$(echo "$cm / $jm" | bc -l)"
# Flat memory: the same run with 1/16 of the output must peak at the same RSS.
set -- $(run "$jitsec" --policy "$policy" run --task bench -- /bin/sh -c "cat block")
printf 'memory: max RSS with %d MiB of output %s KiB, with %d MiB %s KiB (last round)\n' \
  "$block_mib" "$2" "$total_mib" "$jrss"
