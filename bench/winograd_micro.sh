#!/usr/bin/env bash
# The Winograd kernels alone on one core, on VGG16's convolution geometries at batch 1 and 8 (see
# bench/winograd_micro.c). Needs clang and libopenblas-dev. OPENBLAS_CORETYPE picks OpenBLAS's kernels
# (the runtime re-selects them itself on virtual machines that report a generic CPU; docs/runtime.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/kernels_micro.sh
build_micro bench/winograd_micro.c
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
for n in 1 8; do
  for g in "224 64" "112 128" "56 256" "28 512" "14 512"; do "$out/micro" $g $n "${REPS:-5}"; done
done
