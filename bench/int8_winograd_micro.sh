#!/usr/bin/env bash
# The int8 convolution kernels alone on one core, on VGG16's 3x3 geometries at batch 1 (and BATCH=8): the int8
# Winograd F(2x2) against the direct int8 product (bench/int8_winograd_micro.c; docs/precision.md). Needs
# clang, libopenblas-dev and a CPU with AVX512_VNNI (else both run the scalar fallback). ERROR=1 adds each
# one's error against a double-precision convolution (minutes at the large layers).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/kernels_micro.sh
build_micro bench/int8_winograd_micro.c
for g in "224 64 64" "112 64 128" "112 128 128" "56 256 256" "28 512 512" "14 512 512"; do
  taskset -c "${CORE:-1}" "$out/micro" $g "${BATCH:-1}" "${REPS:-5}"
done
