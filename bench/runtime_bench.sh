#!/usr/bin/env bash
# Benchmark: VGG16 without top at 224x224, batch 1 and 8, on the same weights in vggtool, TF-Keras and
# ONNX Runtime (2 threads each), side by side in one run; then the peak memory of a batch-1 prediction with
# VGG16 with top. Needs Python with the pinned packages (scripts/fixtures/requirements.txt plus
# bench/requirements.txt):
#   python3 -m venv /tmp/benv && /tmp/benv/bin/pip install -r scripts/fixtures/requirements.txt -r bench/requirements.txt
#   PYTHON=/tmp/benv/bin/python bench/runtime_bench.sh [seconds per measurement]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
secs=${1:-10}
swift build -c release --product vggtool --static-swift-stdlib >/dev/null
bin=$PWD/.build/release/vggtool
work=$(mktemp -d /tmp/vggtool-rbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" demo --dir "$work" >/dev/null                       # vgg16_demo.h5 (seeded) and vgg16_demo.vggm
"$py" bench/runtime_peers.py "$work/vgg16_demo.h5" "$work/notop.h5" "$work/peers.json" "$secs"
"$bin" convert "$work/notop.h5" -o "$work/notop.vggm" --no-source-hash >/dev/null
# vggtool's modes: the default (each convolution's algorithm measured when the plan is built; the choices
# are cached in a fresh cache folder first, so the measurement itself is not timed), then each algorithm
# forced on every 3x3 stride-1 convolution. Per-layer times and algorithms of the default go to layers_b*.txt.
export XDG_CACHE_HOME="$work/cache"
for b in 1 8; do
  "$bin" bench "$work/notop.vggm" --batch "$b" --layers > "$work/layers_b$b.txt"   # measures and caches the choices
  for mode in measured winograd-4x4 winograd-2x2 im2col; do
    "$bin" bench "$work/notop.vggm" --batch "$b" --algorithm "$mode" --json > "$work/vgg_${mode}_b$b.json"
    printf 'vggtool %-13s batch %d: %6.2f images/s\n' "$mode" "$b" "$("$py" -c "import json;print(json.load(open('$work/vgg_${mode}_b$b.json'))['images_per_second'])")"
  done
done
"$py" - "$work" <<'PY'
import json, sys
w = sys.argv[1]
peers = json.load(open(f"{w}/peers.json"))
modes = ["measured", "winograd-4x4", "winograd-2x2", "im2col"]
print("\nVGG16 without top, 224x224 (images/s; ratios = vggtool's default mode / peer)")
print(f"{'batch':>5} " + " ".join(f"{m:>13}" for m in modes) + f" {'tf-keras':>9} {'onnxrt':>9} {'vs tf-keras':>12} {'vs onnxrt':>10}")
for b in (1, 8):
    v = {m: json.load(open(f"{w}/vgg_{m}_b{b}.json"))["images_per_second"] for m in modes}
    t, o = peers[f"tf_keras_b{b}"], peers[f"onnxruntime_b{b}"]
    print(f"{b:>5} " + " ".join(f"{v[m]:>13.2f}" for m in modes) + f" {t:>9.2f} {o:>9.2f} {v['measured'] / t:>11.2f}x {v['measured'] / o:>9.2f}x")
print("target (issue 12): vggtool >= 2.0x ONNX Runtime at batch 1 and 8;", "versions:", peers["versions"])
for b in (1, 8):
    print(f"\nbatch {b}, default mode, per layer:")
    print(open(f"{w}/layers_b{b}.txt").read().split("\n\n", 1)[-1])
PY
/usr/bin/time -f '%M' -o "$work/rss" "$bin" predict "$work/vgg16_demo.vggm" Fixtures/images/rgb.jpg >/dev/null
printf '\nVGG16 with top, batch-1 predict of one JPEG: peak RSS %.0f MB (issue 12 target: at most 700 MB)\n' "$(echo "$(cat "$work/rss") / 1024" | bc -l)"
