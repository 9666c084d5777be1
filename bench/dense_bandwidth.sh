#!/usr/bin/env bash
# Dense layers at batch 1 against the machine's memory bandwidth (issue 12: at least 80% of a STREAM-style
# copy). A batch-1 Dense layer reads its whole kernel once (fc1 of VGG16: 25088 x 4096 floats, 411 MB), so it
# is bound by memory: its rate is kernel bytes / layer time. The baseline is bench/stream_copy.c on the same
# cores (best of 10: Copy counted as STREAM counts it, 2 x array bytes per second; also a read-only pass),
# measured before and after vggtool's layers in the same run. Release build; VGG16 with top, seeded weights.
#   bench/dense_bandwidth.sh [threads]          (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
swift build -c release --product vggtool --static-swift-stdlib >/dev/null
bin=$PWD/.build/release/vggtool
work=$(mktemp -d /tmp/vggtool-dense.XXXXXX)
trap 'rm -rf "$work"' EXIT
clang -O3 -march=native -fno-builtin -pthread bench/stream_copy.c -o "$work/stream"
"$bin" demo --dir "$work" >/dev/null   # vgg16_demo.vggm: VGG16 with top
export XDG_CACHE_HOME=$work/cache
"$work/stream" 512 "$threads" 10 > "$work/stream1.json"
"$bin" bench "$work/vgg16_demo.vggm" --batch 1 --layers --threads "$threads" --json > "$work/layers.json"
"$work/stream" 512 "$threads" 10 > "$work/stream2.json"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
s = [json.load(open(f"{w}/stream{i}.json")) for i in (1, 2)]
copy = max(x["copy_gb_per_s"] for x in s)
read = max(x["read_gb_per_s"] for x in s)
layers = {l["layer"]: l["seconds"] for l in json.load(open(f"{w}/layers.json"))["layers"]}
shapes = {"fc1": (25088, 4096), "fc2": (4096, 4096), "predictions": (4096, 1000)}
print(f"STREAM-style copy {copy:.1f} GB/s, read-only {read:.1f} GB/s ({s[0]['threads']} threads, best of 10, before and after)")
print(f"{'layer':<12} {'kernel MB':>10} {'ms':>8} {'GB/s':>8} {'of copy':>8} {'of read':>8}")
for name, (i, o) in shapes.items():
    b = (i * o + o) * 4   # kernel and bias, read once
    t = layers[name]
    print(f"{name:<12} {b / 1e6:>10.1f} {t * 1e3:>8.2f} {b / t / 1e9:>8.1f} {b / t / 1e9 / copy:>7.0%} {b / t / 1e9 / read:>7.0%}")
print("target (issue 12): a batch-1 Dense layer at >= 80% of the STREAM-style copy bandwidth (fc1, 411 MB, the layer that"
      " dominates; the smaller ones pay more for starting and joining the threads)")
PY
