#!/usr/bin/env bash
# Reduced precision on a second real trained model (issue 13, docs/precision.md "Accuracy"): deepcut's Thai word
# segmenter (Fixtures/real/deepcut_cnn.h5, deepcut 0.7.0.0: Embedding x2, Conv1D x12, TimeDistributed Dense,
# Dense head; one decision per character: does a word start here?) in fp32, bf16 and int8, on Thai text from
# PyThaiNLP's corpora (bench/segmenter_agreement.py):
#   1. convert the weights with the package's architecture (deepcut_cnn.config.json);
#   2. `vggtool quantize --calibration-input` (the default method) on 40 sentences and 100 Wikipedia titles;
#   3. `vggtool predict --input` in each precision on TEST_TEXTS sentences of Thai National Corpus words drawn
#      by frequency (word starts known: character accuracy and word F1) and 4 x TEST_TEXTS Thai Wikipedia
#      titles (real running text, unlabelled: agreement only);
# and `vggtool evaluate --precision` on the labelled sentences; prints one table: accuracy, word F1, decisions
# agreeing with fp32, texts segmented exactly as fp32.
# About a minute on 2 cores.
#
#   PYTHON=path VGGTOOL_BIN=path bench/segmenter_agreement.sh
#
# VGGTOOL_BIN: the vggtool binary (default .build/release/vggtool; nothing is built). PYTHON: a python with numpy
# and pythainlp (bench/requirements.txt; only its corpus files are read). TEST_TEXTS: default 300. KEEP=1 keeps
# the work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/agreement_setup.sh
helper=$root/bench/segmenter_agreement.py
enter_work segmenter-agreement

echo "== data: PyThaiNLP corpora -> deepcut's inputs"
"$py" "$helper" data . "${TEST_TEXTS:-300}"
echo "== convert, quantize"
"$bin" convert "$root/Fixtures/real/deepcut_cnn.h5" --config "$root/Fixtures/real/deepcut_cnn.config.json" -o deepcut.vggm -q > /dev/null
"$bin" quantize deepcut.vggm --calibration-input cal.0.npy --calibration-input cal.1.npy -o deepcut.int8.vggm -q > quantize.txt
sed -n '/^layer/,/^size/p' quantize.txt
echo "== predict"
for set in words titles; do
  for prec in fp32 bf16; do
    "$bin" predict deepcut.vggm --input "$set.0.npy" --input "$set.1.npy" --precision "$prec" --batch-size 256 -o "$set.$prec.npy" > /dev/null
  done
  "$bin" predict deepcut.int8.vggm --input "$set.0.npy" --input "$set.1.npy" --precision int8 --batch-size 256 -o "$set.int8.npy" > /dev/null
done
echo "== evaluate --precision (the labelled sentences: accuracy of the word-start decisions, the two-class view of the sigmoid)"
for prec in fp32 bf16 int8; do
  model=deepcut.vggm; [ "$prec" = int8 ] && model=deepcut.int8.vggm
  echo "$prec: $("$bin" evaluate "$model" --input words.0.npy --input words.1.npy --labels words.gold.npy --precision "$prec" --batch-size 256 -q | head -1)"
done
echo
"$py" "$helper" table .
