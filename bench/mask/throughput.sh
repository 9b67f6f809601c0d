#!/bin/sh
# Masking throughput: 1 GiB of log-like text through (a) a plain read/write copy filter and
# (b) jitsec_mask_pipe with 100 live secrets, interleaved in one run, reporting MB/s, the
# ratio (target >= 0.8, performance.md) and max RSS of the filter (flat memory).
# Usage: bench/mask/throughput.sh [BUILD_DIR] [ROUNDS=3]
#   BUILD_DIR: a Release build configured with -DJITSEC_BUILD_BENCH=ON (default build-mask-rel).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build-mask-rel}
rounds=${2:-3}
bin=$build/bench/mask
for p in jitsec_mask_pipe jitsec_copy_filter; do
  [ -x "$bin/$p" ] || { echo "throughput.sh: $bin/$p not built" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
block_mib=64
reps=16  # 16 x 64 MiB = 1 GiB
"$bin/jitsec_mask_pipe" --generate $((block_mib * 1024 * 1024)) > "$tmp/block"
total_mib=$((block_mib * reps))

produce() { i=0; while [ $i -lt $reps ]; do cat "$tmp/block"; i=$((i + 1)); done; }

# run NAME CMD...: prints "seconds max_rss_kib bytes_out filter_cpu_seconds"
run() {
  name=$1; shift
  start=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    produce | /usr/bin/time -f '%M %U %S' -o "$tmp/rss" "$@" 2>"$tmp/err" | wc -c > "$tmp/count"
    set -- $(tail -n 1 "$tmp/rss")
    rss=$1; cpu=$(echo "$2 + $3" | bc -l)
  else
    produce | "$@" 2>"$tmp/err" | wc -c > "$tmp/count"
    rss=$(sed -n 's/.*max_rss_kib=\([0-9]*\).*/\1/p' "$tmp/err"); cpu=0
  fi
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc -l) $rss $(cat "$tmp/count") $cpu"
}

echo "input: ${total_mib} MiB log-like text (${reps} x ${block_mib} MiB), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-22s %10s %10s %12s %12s\n' round filter seconds MB/s filter_cpu_s max_rss_KiB
copy_sum=0; mask_sum=0; copy_cpu=0; mask_cpu=0
r=1
while [ $r -le "$rounds" ]; do
  set -- $(run copy "$bin/jitsec_copy_filter")
  cs=$1; crss=$2; ccount=$3; ccpu=$4
  set -- $(run mask "$bin/jitsec_mask_pipe" 100)
  ms=$1; mrss=$2; mcount=$3; mcpu=$4
  [ "$ccount" = "$mcount" ] || { echo "output sizes differ: $ccount vs $mcount" >&2; exit 1; }
  printf '%-6s %-22s %10.2f %10.1f %12.2f %12s\n' $r copy_filter "$cs" "$(echo "$total_mib * 1.048576 / $cs" | bc -l)" "$ccpu" "$crss"
  printf '%-6s %-22s %10.2f %10.1f %12.2f %12s\n' $r "mask_pipe(100 secrets)" "$ms" "$(echo "$total_mib * 1.048576 / $ms" | bc -l)" "$mcpu" "$mrss"
  copy_sum=$(echo "$copy_sum + $cs" | bc -l); mask_sum=$(echo "$mask_sum + $ms" | bc -l)
  copy_cpu=$(echo "$copy_cpu + $ccpu" | bc -l); mask_cpu=$(echo "$mask_cpu + $mcpu" | bc -l)
  r=$((r + 1))
done
printf 'wall: copy %.2f s, mask %.2f s, throughput ratio mask/copy = %.3f (target >= 0.8)\n' \
  "$copy_sum" "$mask_sum" "$(echo "$copy_sum / $mask_sum" | bc -l)"
# The filter's own CPU time does not depend on what else the machine runs: the masking cost
# per byte relative to the bare copy's.
printf 'filter cpu: copy %.2f s, mask %.2f s, ratio copy/mask = %.3f\n' \
  "$copy_cpu" "$mask_cpu" "$(echo "$copy_cpu / $mask_cpu" | bc -l)"
