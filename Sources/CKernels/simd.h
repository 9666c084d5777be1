// VGG_SIMD: hot loops compiled for AVX-512, AVX2 and baseline x86-64; the loader picks the best the CPU runs.
// (Not under ThreadSanitizer: the clones' ifunc resolvers run during relocation, before TSan's runtime is up,
// and its instrumentation of them crashes the process; VGG_NO_CLONES is then defined.)
#ifndef VGGTOOL_SIMD_H
#define VGGTOOL_SIMD_H
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VGG_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__linux__) && !defined(VGG_NO_CLONES)
#define VGG_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VGG_SIMD
#endif
#endif
