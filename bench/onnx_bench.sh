#!/usr/bin/env bash
# Benchmark and full-size check of `vggtool export --to onnx` on VGG16 with top (~553 MB of weights):
#   - export .vggm -> .onnx vs a durable copy (cp + fsync) of the .vggm: medians of N runs (release build);
#   - the same model through tf2onnx (tf-keras model; and whether it succeeds on a Keras 3 .keras file);
#   - ONNX Runtime on vggtool's exports (NHWC, NCHW, preprocessing in the graph) against tf-keras at 224x224.
# Needs bench/requirements.txt and scripts/fixtures/requirements.txt in the python of $PYTHON (default python3).
#   bench/onnx_bench.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
py=${PYTHON:-python3}
swift build -c release --product vggtool --static-swift-stdlib >/dev/null
bin=.build/release/vggtool
work=$(mktemp -d /tmp/vggtool-onnx-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" demo --dir "$work" >/dev/null   # writes $work/vgg16_demo.h5 (full VGG16, seeded weights)
"$bin" convert "$work/vgg16_demo.h5" -o "$work/vgg16.vggm" >/dev/null
cat "$work/vgg16.vggm" >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
t() { local s e; sync; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

cps=(); exp=(); ext=()
for i in $(seq "$runs"); do
  rm -f "$work/copy.vggm" "$work/m.onnx" "$work/e.onnx" "$work/e.onnx.data"
  cps+=("$(t sh -c "cp '$work/vgg16.vggm' '$work/copy.vggm' && sync '$work/copy.vggm'")")
  exp+=("$(t "$bin" export "$work/vgg16.vggm" --to onnx -o "$work/m.onnx")")
  ext+=("$(t "$bin" export "$work/vgg16.vggm" --to onnx -o "$work/e.onnx" --external-data)")
done
cps_m=$(printf '%s\n' "${cps[@]}" | median)
exp_m=$(printf '%s\n' "${exp[@]}" | median)
ext_m=$(printf '%s\n' "${ext[@]}" | median)
printf 'VGG16 .vggm %d bytes -> .onnx %d bytes; %d runs, medians\n' "$(stat -c %s "$work/vgg16.vggm")" "$(stat -c %s "$work/m.onnx")" "$runs"
printf '  cp + fsync of the .vggm       %6.2f s\n' "$cps_m"
printf '  export --to onnx              %6.2f s  (%.2fx the durable copy)\n' "$exp_m" "$(echo "$exp_m / $cps_m" | bc -l)"
printf '  export --to onnx --external   %6.2f s  (%.2fx)\n' "$ext_m" "$(echo "$ext_m / $cps_m" | bc -l)"
"$bin" export "$work/vgg16_demo.h5" --to onnx -o "$work/nchw.onnx" --layout nchw >/dev/null
"$bin" export "$work/vgg16_demo.h5" --to onnx -o "$work/pre.onnx" --include-preprocessing >/dev/null
"$py" bench/onnx_peer.py "$work"
