#!/usr/bin/env bash
# Reduced precision (docs/precision.md), side by side in one run on this machine: vggtool fp32, bf16 and int8
# (`vggtool quantize`) against ONNX Runtime fp32 and ONNX Runtime int8 (onnxruntime.quantization's
# quantize_static, QDQ, per-channel s8 weights, u8 activations, the same calibration images), on VGG16
# without top at 224x224, batch 1 and 8:
#   - speed (images/s, median batch time) and speed-ups over ONNX Runtime fp32 and int8;
#   - file sizes (int8 and bf16 .vggm against the fp32 one);
#   - block5_pool features of held-out images: cosine similarity to vggtool fp32 (mean and worst image);
#   - with a classifier and a labelled folder: top-1 agreement with fp32 and accuracy (evaluate --precision).
# Calibration and test images: Fashion-MNIST (Debian's dataset-fashion-mnist) written by `vggtool dataset`.
# Needs bench/requirements.txt (onnxruntime, onnx, tf2onnx, tensorflow) in the python of $PYTHON.
#
#   bench/precision_bench.sh [NOTOP.h5|NOTOP.vggm] [CLASSIFIER.vggm LABELLED_DIR]
#
# Without a model, VGG16's architecture with seeded weights (tf-keras's initializers, seed 0) is used: speed and sizes are
# meaningful, feature similarity less so (random filters); give real weights (keras-applications'
# vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5) for the accuracy figures. SECONDS_PER_TIMING (default 8)
# per timing, ROUNDS (default 2) turns of the runners (each runner's best round counts); VGGTOOL_BIN=path uses that
# binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
seconds=${SECONDS_PER_TIMING:-8}
if [ -n "${VGGTOOL_BIN:-}" ]; then bin=$VGGTOOL_BIN; else
  swift build -c release --product vggtool --static-swift-stdlib >/dev/null
  bin=$PWD/.build/release/vggtool
fi
work=$(mktemp -d /tmp/vggtool-precision-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

src=${1:-}
if [ -z "$src" ]; then
  "$py" bench/precision_peer.py notop "$work/notop.h5"
  src=$work/notop.h5
fi
case "$src" in
  *.vggm) cp "$src" "$work/fp32.vggm" ;;
  *) "$bin" convert "$src" -o "$work/fp32.vggm" --input-shape 224,224,3 -q >/dev/null
     "$bin" convert "$src" -o "$work/bf16.vggm" --input-shape 224,224,3 --dtype bf16 -q >/dev/null ;;
esac

classes=T-shirt_top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle_boot
"$bin" dataset fashion-mnist --classes "$classes" --per-class 10 --output "$work/cal" >/dev/null
"$bin" dataset fashion-mnist --classes "$classes" --per-class 10 --split t10k --output "$work/test" >/dev/null

echo "== quantize (100 calibration images)"
"$bin" quantize "$work/fp32.vggm" --calibration "$work/cal" -o "$work/int8.vggm" -q | tail -4

sizes="fp32 $(stat -c %s "$work/fp32.vggm") int8 $(stat -c %s "$work/int8.vggm")"
[ -f "$work/bf16.vggm" ] && sizes="$sizes bf16 $(stat -c %s "$work/bf16.vggm")"

# The held-out images preprocessed as vggtool reads them (caffe, 224x224 bilinear), for every runner.
"$py" bench/precision_peer.py arrays "$work/test" "$work/cal" "$work"
"$bin" predict "$work/fp32.vggm" --input "$work/test.npy" -o "$work/y_fp32.npy" --precision fp32 >/dev/null
"$bin" predict "$work/fp32.vggm" --input "$work/test.npy" -o "$work/y_bf16.npy" --precision bf16 >/dev/null
"$bin" predict "$work/int8.vggm" --input "$work/test.npy" -o "$work/y_int8.npy" --precision int8 >/dev/null

echo "== timings (SECONDS_PER_TIMING=$seconds, ROUNDS=${ROUNDS:-2})"
"$bin" export "$work/fp32.vggm" --to onnx -o "$work/fp32.onnx" --batch dynamic >/dev/null

# The runners take turns: each round times ONNX Runtime (fp32, int8) then `vggtool bench` (fp32, bf16, int8) at
# batch 1 and 8; each runner's figure is its best round, so a slow spell on the shared machine costs each side
# alike rather than whichever ran during it.
VGGTOOL_BIN="$bin" ROUNDS=${ROUNDS:-2} "$py" bench/precision_peer.py compare "$work" "$seconds" $sizes

if [ $# -ge 3 ]; then
  clf=$2; data=$3
  echo "== classifier $clf on $data"
  "$bin" quantize "$clf" --calibration "$data" --images 200 -o "$work/clf.int8.vggm" -q | tail -3
  for p in fp32 bf16; do echo "-- $p"; "$bin" evaluate "$clf" --data "$data" --precision $p -q | head -1; done
  echo "-- int8"; "$bin" evaluate "$work/clf.int8.vggm" --data "$data" -q | head -1
  imgs=$(find "$data" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort)
  "$bin" predict "$clf" $imgs -o "$work/c_fp32.npy" --skip-unreadable >/dev/null
  "$bin" predict "$clf" $imgs -o "$work/c_bf16.npy" --precision bf16 --skip-unreadable >/dev/null
  "$bin" predict "$work/clf.int8.vggm" $imgs -o "$work/c_int8.npy" --skip-unreadable >/dev/null
  "$py" bench/precision_peer.py agreement "$work"
fi
