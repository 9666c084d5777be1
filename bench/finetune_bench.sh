#!/usr/bin/env bash
# Benchmark: the seed's transfer-learning recipe end to end in vggtool and in tf-keras `fit`, from the same
# base weights (VGG16 without top; vggtool's seeded demo weights, as real ImageNet weights cannot be
# downloaded here) on the same image folders: Fashion-MNIST (Debian's dataset-fashion-mnist) T-shirt/top vs
# Trouser, 200 + 200 training and 100 + 100 validation PNG images; 10 epochs, batch 16, Adam 1e-4, at 64x64
# and at 250x250. Reports wall time, the ratio, final validation accuracy and peak memory of each. vggtool runs
# twice per size with a fresh algorithm cache: the first run also measures each convolution's algorithm for the
# frozen pass's batch geometries (once per machine: docs/runtime.md), the second is the one timed against
# tf-keras (first-run time shown beside it).
#   PYTHON=/path/to/venv/python bench/finetune_bench.sh [sizes...]     (default sizes: 64 250)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
sizes=("${@:-64 250}")
[ $# -eq 0 ] && sizes=(64 250)
swift build -c release --product vggtool --static-swift-stdlib >/dev/null
bin=$PWD/.build/release/vggtool
work=$(mktemp -d /tmp/vggtool-ftbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
source bench/recipe_setup.sh
printf '%-6s %12s %12s %12s %8s %10s %10s %10s %10s\n' size vggtool_s first_run_s tfkeras_s ratio vgg_acc keras_acc vgg_MB keras_MB
for s in "${sizes[@]}"; do
  sync
  /usr/bin/time -f '%e %M' -o "$work/time1" "$bin" finetune "$work/notop.vggm" --data "$work/train" --val "$work/val" \
      -o "$work/first_$s.vggm" --input-size "$s" --epochs 10 --batch-size 16 --lr 1e-4 > "$work/vgg_first_$s.log"
  read -r fsec _ < "$work/time1"
  sync   # each contender starts with no dirty pages of the set-up pending
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" finetune "$work/notop.vggm" --data "$work/train" --val "$work/val" \
      -o "$work/tuned_$s.vggm" --input-size "$s" --epochs 10 --batch-size 16 --lr 1e-4 > "$work/vgg_$s.log"
  read -r vsec vkb < "$work/time"
  vacc=$(tail -1 "$work/tuned_$s.vggm.history.csv" | cut -d, -f4)
  sync
  "$py" bench/finetune_peer.py "$work/notop.h5" "$work/train" "$work/val" "$s" 10 "$work/keras_$s.json" > "$work/keras_$s.log" 2>&1
  read -r ksec kacc kmb < <("$py" -c "import json;r=json.load(open('$work/keras_$s.json'));print(r['seconds'], r['val_accuracy'], r['peak_rss_bytes']/1e6)")
  printf '%-6s %12.1f %12.1f %12.1f %7.1fx %10.4f %10.4f %10.0f %10.0f\n' "$s" "$vsec" "$fsec" "$ksec" "$(echo "$ksec / $vsec" | bc -l)" "$vacc" "$kacc" "$(echo "$vkb / 1024" | bc -l)" "$kmb"
done
echo "target (issue 12): vggtool >= 15x tf-keras fit end to end at 64x64 and 250x250, validation accuracy within 1 point of Keras's"
