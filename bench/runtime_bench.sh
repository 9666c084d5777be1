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
for b in 1 8; do
  "$bin" bench "$work/notop.vggm" --batch "$b" --json > "$work/vgg_b$b.json"
  printf 'vggtool      batch %d: %6.2f images/s\n' "$b" "$("$py" -c "import json;print(json.load(open('$work/vgg_b$b.json'))['images_per_second'])")"
done
"$py" - "$work" <<'PY'
import json, sys
w = sys.argv[1]
peers = json.load(open(f"{w}/peers.json"))
print("\nVGG16 without top, 224x224 (images/s; ratio = vggtool / peer)")
print(f"{'batch':>5} {'vggtool':>9} {'tf-keras':>9} {'onnxrt':>9} {'vs tf-keras':>12} {'vs onnxrt':>10}")
for b in (1, 8):
    v = json.load(open(f"{w}/vgg_b{b}.json"))["images_per_second"]
    t, o = peers[f"tf_keras_b{b}"], peers[f"onnxruntime_b{b}"]
    print(f"{b:>5} {v:>9.2f} {t:>9.2f} {o:>9.2f} {v / t:>11.2f}x {v / o:>9.2f}x")
print("target: vggtool >= 0.9x ONNX Runtime at batch 8;", "versions:", peers["versions"])
PY
/usr/bin/time -f '%M' -o "$work/rss" "$bin" predict "$work/vgg16_demo.vggm" Fixtures/images/rgb.jpg >/dev/null
printf '\nVGG16 with top, batch-1 predict of one JPEG: peak RSS %.0f MB (target < 1024 MB)\n' "$(echo "$(cat "$work/rss") / 1024" | bc -l)"
