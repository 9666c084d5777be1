#!/usr/bin/env bash
# A/B benchmark of two vggtool release binaries on the same machine in one run, each measurement taken
# alternately (A, B, B, A, ...) so that drift in the machine's speed falls on both: convert of a full VGG16
# with top (durable, with the source hash), `summary` of the .vggm, inference on VGG16 with top at 224x224
# (batch 1 and 8, images/s), `predict` of 32 PNG images (whole process), and the fine-tuning recipe on Fashion-MNIST (200 + 200 training and 100 + 100
# validation images, 64x64, 3 epochs). Prints medians and B / A. Needs no Python.
#   bench/ab_bench.sh OLD_VGGTOOL NEW_VGGTOOL [runs]        e.g. a build of main's parent vs .build/release/vggtool
set -euo pipefail
cd "$(dirname "$0")/.."
A=$(realpath "$1"); B=$(realpath "$2"); runs=${3:-5}
work=$(mktemp -d /tmp/vggtool-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$B" demo --dir "$work/demo" --epochs 1 >/dev/null
src=$work/demo/vgg16_demo.h5
"$B" dataset fashion-mnist --classes T-shirt_top,Trouser --per-class 200 --split train -o "$work/train" >/dev/null
"$B" dataset fashion-mnist --classes T-shirt_top,Trouser --per-class 100 --split t10k -o "$work/val" >/dev/null
cat "$src" >/dev/null
mapfile -t images < <(find "$work/val" -name '*.png' | sort | head -32)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
t() { local s e; sync; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
ips() { "$1" bench "$work/$2.vggm" --batch "$3" --json | grep -o '"images_per_second" *: *[0-9.e+-]*' | grep -o '[0-9.e+-]*$'; }

declare -A r
for i in $(seq "$runs"); do
  order=(A B); [ $((i % 2)) -eq 0 ] && order=(B A)
  for k in "${order[@]}"; do
    bin=${!k}
    rm -f "$work/$k.vggm"
    r[convert_$k]+="$(t "$bin" convert "$src" -o "$work/$k.vggm") "
    r[summary_$k]+="$(t "$bin" summary "$work/$k.vggm") "
    r[b1_$k]+="$(ips "$bin" "$k" 1) "
    r[b8_$k]+="$(ips "$bin" "$k" 8) "
    r[predict_$k]+="$(t "$bin" predict "$work/$k.vggm" "${images[@]}") "
    rm -f "$work/tuned_$k.vggm"*
    r[finetune_$k]+="$(t "$bin" finetune "$work/$k.vggm" --data "$work/train" --val "$work/val" -o "$work/tuned_$k.vggm" \
                       --input-size 64 --epochs 3 --batch-size 16 --lr 1e-4 --head 256,256) "
  done
done
printf '%d runs each, medians (A = %s, B = %s)\n' "$runs" "$1" "$2"
printf '%-34s %10s %10s %8s\n' measure A B B/A
for m in "convert (s)" "summary (s)" "predict batch 1 (images/s)" "predict batch 8 (images/s)" "predict 32 PNG images (s)" \
         "finetune 64x64, 3 epochs (s)"; do
  case $m in convert*) key=convert;; summary*) key=summary;; *"batch 1"*) key=b1;; *"batch 8"*) key=b8;; *PNG*) key=predict;; *) key=finetune;; esac
  a=$(tr ' ' '\n' <<< "${r[${key}_A]}" | grep . | median); b=$(tr ' ' '\n' <<< "${r[${key}_B]}" | grep . | median)
  printf '%-34s %10.3f %10.3f %7.3fx\n' "$m" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
echo "(times: lower is better; images/s: higher is better)"
