#!/usr/bin/env bash
# Benchmark: convert a full-size VGG16 with top (~528 MB of weights) vs a plain copy of the same file, and
# `summary` of the .vggm (whole process). Release build. Prints the median of N runs and the ratios.
#   bench/convert_bench.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
swift build -c release --product vggtool --static-swift-stdlib >/dev/null
bin=.build/release/vggtool
work=$(mktemp -d /tmp/vggtool-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" demo --dir "$work" >/dev/null   # writes $work/vgg16_demo.h5
src=$work/vgg16_demo.h5
cat "$src" >/dev/null                   # warm the page cache for every contender

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Each contender starts with no dirty pages pending (sync first, untimed), so none pays for another's writeback.
t() { local s e; sync; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

cp_times=(); cps_times=(); sha_times=(); conv_times=(); nohash_times=(); sum_times=()
for i in $(seq "$runs"); do
  rm -f "$work/copy.h5" "$work/out.vggm"
  cp_times+=("$(t cp "$src" "$work/copy.h5")")
  rm -f "$work/copy.h5"
  cps_times+=("$(t sh -c "cp '$src' '$work/copy.h5' && sync '$work/copy.h5'")")
  rm -f "$work/copy.h5"
  sha_times+=("$(t openssl dgst -sha256 "$src")")
  conv_times+=("$(t "$bin" convert "$src" -o "$work/out.vggm")")
  rm -f "$work/out.vggm"
  nohash_times+=("$(t "$bin" convert --no-source-hash "$src" -o "$work/out.vggm")")
  sum_times+=("$(t "$bin" summary "$work/out.vggm")")
done
cp_m=$(printf '%s\n' "${cp_times[@]}" | median)
cps_m=$(printf '%s\n' "${cps_times[@]}" | median)
sha_m=$(printf '%s\n' "${sha_times[@]}" | median)
conv_m=$(printf '%s\n' "${conv_times[@]}" | median)
nohash_m=$(printf '%s\n' "${nohash_times[@]}" | median)
sum_m=$(printf '%s\n' "${sum_times[@]}" | median)
size=$(stat -c %s "$src")
printf 'source: %s (%d bytes), %d runs, medians\n' "$src" "$size" "$runs"
printf 'cp                    %8.3f s\n' "$cp_m"
printf 'cp + fsync            %8.3f s\n' "$cps_m"
printf 'openssl sha256 alone  %8.3f s   (the source hash convert must record: a floor on one core)\n' "$sha_m"
printf 'vggtool convert       %8.3f s   (writes atomically: fsync + rename; also SHA-256 of the source)\n' "$conv_m"
printf 'vggtool convert --no-source-hash %8.3f s\n' "$nohash_m"
printf 'ratio convert / cp+fsync    %6.2fx   (target <= 1.3x, issue 12; both results are durable on disk)\n' "$(echo "$conv_m / $cps_m" | bc -l)"
printf 'ratio convert / cp          %6.2fx   (cp leaves its copy in the page cache only)\n' "$(echo "$conv_m / $cp_m" | bc -l)"
printf 'vggtool summary .vggm %8.1f ms   (target <= 50 ms, whole process)\n' "$(echo "$sum_m * 1000" | bc -l)"
