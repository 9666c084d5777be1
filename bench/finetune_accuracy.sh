#!/usr/bin/env bash
# Validation accuracy of the fine-tuning recipe in vggtool and in tf-keras `fit`, over several seeds each (issue 12:
# within 1 point of Keras's). One run's final validation accuracy on 200 images swings by several points from
# epoch to epoch and from seed to seed (the head's random start, the shuffling), so single runs cannot be compared
# to a point: this runs the recipe of bench/finetune_bench.sh (same data, weights, epochs, batch and rate) with
# seeds 0..N-1 on each side and reports every run's final accuracy, the means and their difference.
#   PYTHON=/path/to/venv/python bench/finetune_accuracy.sh [size] [runs]      (default: 64 5)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
size=${1:-64}
runs=${2:-5}
swift build -c release --product vggtool --static-swift-stdlib >/dev/null
bin=$PWD/.build/release/vggtool
work=$(mktemp -d /tmp/vggtool-ftacc.XXXXXX)
trap 'rm -rf "$work"' EXIT
source bench/recipe_setup.sh
vgg=() keras=()
for ((s = 0; s < runs; s++)); do
  "$bin" finetune "$work/notop.vggm" --data "$work/train" --val "$work/val" -o "$work/tuned_$s.vggm" --input-size "$size" \
      --epochs 10 --batch-size 16 --lr 1e-4 --seed "$s" > /dev/null
  vgg+=("$(tail -1 "$work/tuned_$s.vggm.history.csv" | cut -d, -f4)")
  "$py" bench/finetune_peer.py "$work/notop.h5" "$work/train" "$work/val" "$size" 10 "$work/keras_$s.json" "$s" > "$work/keras_$s.log" 2>&1
  keras+=("$("$py" -c "import json;print(json.load(open('$work/keras_$s.json'))['val_accuracy'])")")
  printf 'seed %d: vggtool %.4f  tf-keras %.4f\n' "$s" "${vgg[-1]}" "${keras[-1]}"
done
"$py" - "${vgg[*]}" "${keras[*]}" "$size" <<'PY'
import statistics as st, sys
v = [float(x) for x in sys.argv[1].split()]; k = [float(x) for x in sys.argv[2].split()]
sd = lambda a: st.stdev(a) if len(a) > 1 else 0.0
print(f"{sys.argv[3]}x{sys.argv[3]}, final validation accuracy over {len(v)} seeds: vggtool mean {st.mean(v):.4f} (sd {sd(v):.4f}), "
      f"tf-keras mean {st.mean(k):.4f} (sd {sd(k):.4f}); difference {100 * (st.mean(v) - st.mean(k)):+.2f} points")
PY
echo "target (issue 12): validation accuracy within 1 point of Keras's"
