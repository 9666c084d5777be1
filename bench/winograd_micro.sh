#!/usr/bin/env bash
# The Winograd kernels alone on one core, on VGG16's convolution geometries at batch 1 and 8 (see
# bench/winograd_micro.c). Needs clang and libopenblas-dev. OPENBLAS_CORETYPE picks OpenBLAS's kernels
# (the runtime re-selects them itself on virtual machines that report a generic CPU; docs/runtime.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/vggtool-wmicro.XXXXXX)
trap 'rm -rf "$out"' EXIT
clang -O3 -ffp-contract=off -fno-math-errno -ISources/CKernels/include $(pkg-config --cflags openblas) \
  bench/winograd_micro.c Sources/CKernels/winograd.c Sources/CKernels/kernels.c Sources/CKernels/lowp.c $(pkg-config --libs openblas) -lm -o "$out/micro" 2>/dev/null
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
for n in 1 8; do
  for g in "224 64" "112 128" "56 256" "28 512" "14 512"; do "$out/micro" $g $n "${REPS:-5}"; done
done
