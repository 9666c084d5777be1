#!/usr/bin/env bash
# Benchmark (issue #18): peak resident memory of `vggtool finetune` against dataset size, with and without
# --augment flip, at the default --memory-budget, and the time per image.
#   - 12-megapixel photos (4000x3000 JPEGs, generated with Pillow: smooth colour fields plus noise, ~2 MB
#     each), --input-size 64; the folders repeat a few distinct photos by hard links (same decoding work
#     and memory as distinct files, no disk space), so N, 4N and 16N photos cost no extra disk.
#   - Fashion-MNIST (Debian's dataset-fashion-mnist) T-shirt/top vs Trouser at --input-size 250.
# Base: VGG16 without top (Keras's architecture, random weights from tf-keras: memory and time do not depend
# on the values). One epoch, batch 16, default head; the figures are peak RSS (GNU time's %M) and wall time.
# With OLD=/path/to/an/older/vggtool, the 4N runs are repeated with it (before/after); with BUDGET_COMPARE=1,
# the 16N runs are repeated with --memory-budget 2G (everything in memory: the spill's cost in time).
# N should fill the frozen pass's batches (64 images at 64x64, 5 at 250x250): below that the frozen layers'
# activation buffers are smaller and the peak lower for a reason unrelated to the data's size.
#   PYTHON=/work/venv/bin/python bench/memory_bench.sh [N_photos] [N_fmnist]     (defaults: 64 20)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
np=${1:-64}
nf=${2:-20}
swift build -c release --product vggtool --static-swift-stdlib >/dev/null
bin=$PWD/.build/release/vggtool
work=$(mktemp -d /var/tmp/vggtool-membench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$py" - "$work" <<'PY'
import sys, numpy as np, tensorflow as tf
from PIL import Image
work = sys.argv[1]
m = tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
m.save(work + "/notop.h5")
rng = np.random.default_rng(0)
for i in range(4):
    h, w = 3000, 4000
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([128 + 100 * np.sin(xx / (300 + 50 * i) + c) * np.cos(yy / (250 + 40 * c)) for c in range(3)], axis=-1)
    img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(f"{work}/photo{i}.jpg", quality=90)
PY
"$bin" convert "$work/notop.h5" -o "$work/notop.vggm" --no-source-hash >/dev/null
ls -l "$work"/photo0.jpg | awk '{printf "photo file size: %.1f MB\n", $5 / 1e6}'
# photos/<n>/{a,b}/: n photos in all, hard links to the 4 distinct files.
for mult in 1 4 16; do
  n=$((np * mult)); d="$work/photos/$n"
  mkdir -p "$d/a" "$d/b"
  for i in $(seq 0 $((n - 1))); do ln "$work/photo$((i % 4)).jpg" "$d/$([ $((i % 2)) -eq 0 ] && echo a || echo b)/p$i.jpg"; done
  n=$((nf * mult))
  "$bin" dataset fashion-mnist --classes T-shirt_top,Trouser --per-class $((n / 2)) --split train -o "$work/fmnist/$n" >/dev/null
done
run() {  # binary label data size extra...
  local b=$1 label=$2 data=$3 size=$4; shift 4
  local count; count=$(find "$data" -type f | wc -l)
  sync
  /usr/bin/time -f '%e %M' -o "$work/time" "$b" finetune "$work/notop.vggm" --data "$data" -o "$work/out.vggm" \
      --input-size "$size" --epochs 1 --batch-size 16 --seed 1 "$@" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  read -r sec kb < "$work/time"
  printf '%-34s %7d %9.0f %9.1f %11.1f\n' "$label" "$count" "$(echo "$kb / 1024" | bc -l)" "$sec" "$(echo "$sec * 1000 / $count" | bc -l)"
}
printf '%-34s %7s %9s %9s %11s\n' run images peak_MB wall_s ms_per_img
for set in photos fmnist; do
  if [ $set = photos ]; then size=64; n0=$np; else size=250; n0=$nf; fi
  for aug in none flip; do
    extra=(); [ $aug = flip ] && extra=(--augment flip)
    for mult in 1 4 16; do
      n=$((n0 * mult))
      run "$bin" "$set ${size}px augment=$aug" "$work/$set/$n" $size "${extra[@]}"
    done
    if [ -n "${BUDGET_COMPARE:-}" ]; then
      run "$bin" "$set ${size}px augment=$aug (budget 2G)" "$work/$set/$((n0 * 16))" $size "${extra[@]}" --memory-budget 2G
    fi
    if [ -n "${OLD:-}" ]; then run "$OLD" "$set ${size}px augment=$aug (OLD)" "$work/$set/$((n0 * 4))" $size "${extra[@]}"; fi
  done
done
echo "model mapped: $(stat -c %s "$work/notop.vggm" | awk '{printf "%.0f MB", $1 / 1048576}'); default budget: 1/64 of MemAvailable, at most 16 MB"
echo "target: peak RSS flat within 10% from N to 16N and at most the model's mapped size + 512 MB; time per image within 5% of before"
