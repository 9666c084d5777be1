# Sourced by bench/winograd_micro.sh and bench/int8_winograd_micro.sh from the repository's root:
# `build_micro SOURCE.c` compiles a kernel microbenchmark with the runtime's C kernels (clang, OpenBLAS) into
# "$out/micro", $out being a temporary folder removed on exit.
out=$(mktemp -d /tmp/vggtool-micro.XXXXXX)
trap 'rm -rf "$out"' EXIT

build_micro() {
  clang -O3 -ffp-contract=off -fno-math-errno -ISources/CKernels/include $(pkg-config --cflags openblas) \
    "$1" Sources/CKernels/winograd.c Sources/CKernels/kernels.c Sources/CKernels/lowp.c $(pkg-config --libs openblas) -lm -o "$out/micro" 2>/dev/null
}
