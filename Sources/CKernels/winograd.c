// Winograd F(4x4, 3x3) and F(6x6, 3x3) for 3x3 stride-1 undilated convolutions (Lavin & Gray 2015), with the
// instruction-set dispatch their transforms use.
//
// F(4x4):
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A   over 6x6 input tiles d giving 4x4 output tiles Y, with the
//   interpolation points 0, 1, -1, 2, -2 and infinity:
//   B^T = [4  0 -5  0 1 0;      G = [ 1/4     0     0;      A^T = [1 1  1 1  1 0;
//          0 -4 -4  1 1 0;            -1/6  -1/6  -1/6;             0 1 -1 2 -2 0;
//          0  4 -4 -1 1 0;            -1/6   1/6  -1/6;             0 1  1 4  4 0;
//          0 -2 -1  2 1 0;             1/24  1/12  1/6;             0 1 -1 8 -8 1]
//          0  2 -1 -2 1 0;             1/24 -1/12  1/6;
//          0  4  0 -5 0 1]             0     0     1]
//
// F(6x6): 8x8 input tiles, points 0, 1, -1, 1/2, -1/2, 2, -2 and infinity (the rows of B^T, G and A^T in
// wincnn's order; see the transforms below).
//
// Rounding: the kernel transform is computed in double and rounded once; the input and output transforms
// group their terms so that each sum adds values of like magnitude first (d4 - 4 d2 and d3 - 4 d1 before
// combining them, m1 + m2 and m3 + m4 before scaling), the order the published implementations (NNPACK) use.
//
// The input and output transforms are compiled three times (AVX-512, AVX2, baseline x86-64 = SSE2): the
// body is one always-inline function, each variant a wrapper with its own target attribute. The variant is
// chosen at run time from the CPU's features, and can be forced lower (VGGTOOL_ISA=avx2|scalar in the
// environment, or vgg_set_isa) to test the fallbacks. Every lane computes the same scalar expression and
// floating-point contraction is off (-ffp-contract=off), so the three variants give bit-identical results.
#include "vgg_kernels.h"
#include "vgg_lowp.h"
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VGG4_NO_TARGETS 1
#endif
#endif
#if defined(__x86_64__) && !defined(VGG4_NO_TARGETS)
#define VGG4_X86 1
#include <immintrin.h>
#endif

// ------------------------------------------------------------------------------------------ ISA dispatch
static _Atomic int isa_forced = -1;  // -1: not forced (read VGGTOOL_ISA once)
static _Atomic int isa_best = -1;

static int detect_isa(void) {
#if VGG4_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return VGG_ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return VGG_ISA_AVX2;
#endif
    return VGG_ISA_SCALAR;
}

int vgg_isa_supported(void) {
    int b = atomic_load(&isa_best);
    if (b < 0) { b = detect_isa(); atomic_store(&isa_best, b); }
    return b;
}

void vgg_set_isa(int isa) { atomic_store(&isa_forced, isa < 0 ? -2 : isa); }

int vgg_isa(void) {
    const int best = vgg_isa_supported();
    int f = atomic_load(&isa_forced);
    if (f == -1) {
        const char *e = getenv("VGGTOOL_ISA");
        f = -2;
        if (e && (strcmp(e, "scalar") == 0 || strcmp(e, "baseline") == 0)) f = VGG_ISA_SCALAR;
        else if (e && strcmp(e, "avx2") == 0) f = VGG_ISA_AVX2;
        else if (e && strcmp(e, "avx512") == 0) f = VGG_ISA_AVX512;
        int expected = -1;
        atomic_compare_exchange_strong(&isa_forced, &expected, f);
        f = atomic_load(&isa_forced);
    }
    return f >= 0 && f < best ? f : best;
}

// ------------------------------------------------------------------------------------------ packed products
// A layer whose filters are a multiple of 64 keeps each transformed kernel matrix U[i] (c x k) as k/64 panels
// of c x 64 (panel q: columns 64q .. 64q + 63, row by row), and its products M[i] = V[i] U[i] are computed
// here from them: sgemm packed every U[i] again on every call, which at batch 1 (few tiles per matrix) cost as
// much as the products, and its packing of V as well. On one core this is 1.1-2x sgemm's rate on VGG16's
// shapes. Each output is one chain of fused multiply-adds over the channels in order, from zero, on every
// instruction set (fmaf in the fallbacks), so all of them give the same bits.
int vgg_winograd_packs(int k) { return k > 0 && k % 64 == 0; }

// m[t][0..64) = sum over r of v[t][r] p[r][0..64) for t < R (R <= 6): 6 x 64 accumulators in 24 registers.
#if VGG4_X86
__attribute__((target("avx512f"), always_inline)) static inline void packed_rows(const int R, const float *v, long C, const float *p,
                                                                              float *m, long K) {
    __m512 acc[6][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < 6; r++)
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm512_setzero_ps();
    for (long c = 0; c < C; c++) {
        const float *pc = p + c * 64;
        const __m512 u0 = _mm512_loadu_ps(pc), u1 = _mm512_loadu_ps(pc + 16), u2 = _mm512_loadu_ps(pc + 32), u3 = _mm512_loadu_ps(pc + 48);
#pragma clang loop unroll(full)
        for (int r = 0; r < 6; r++) {
            if (r < R) {
                const __m512 a = _mm512_set1_ps(v[r * C + c]);
                acc[r][0] = _mm512_fmadd_ps(a, u0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(a, u1, acc[r][1]);
                acc[r][2] = _mm512_fmadd_ps(a, u2, acc[r][2]);
                acc[r][3] = _mm512_fmadd_ps(a, u3, acc[r][3]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < 6; r++)
        if (r < R) {
            _mm512_storeu_ps(m + r * K, acc[r][0]); _mm512_storeu_ps(m + r * K + 16, acc[r][1]);
            _mm512_storeu_ps(m + r * K + 32, acc[r][2]); _mm512_storeu_ps(m + r * K + 48, acc[r][3]);
        }
}

__attribute__((target("avx512f"))) static void packed_product_avx512(long T, int C, int K, const float *v, const float *u, float *m) {
    for (int q = 0; q < K / 64; q++) {
        const float *p = u + (long)q * C * 64;
        long t = 0;
        for (; t + 6 <= T; t += 6) packed_rows(6, v + t * C, C, p, m + t * K + q * 64, K);
        switch (T - t) {
        case 1: packed_rows(1, v + t * C, C, p, m + t * K + q * 64, K); break;
        case 2: packed_rows(2, v + t * C, C, p, m + t * K + q * 64, K); break;
        case 3: packed_rows(3, v + t * C, C, p, m + t * K + q * 64, K); break;
        case 4: packed_rows(4, v + t * C, C, p, m + t * K + q * 64, K); break;
        case 5: packed_rows(5, v + t * C, C, p, m + t * K + q * 64, K); break;
        default: break;
        }
    }
}
#endif

// The fallbacks: one row of 64 outputs at a time, the same chains (vectorized by the compiler over the 64).
#define PACKED_PRODUCT_BODY                                                                                     \
    for (long t = 0; t < T; t++)                                                                                \
        for (int q = 0; q < K / 64; q++) {                                                                      \
            float acc[64] = {0};                                                                                \
            const float *p = u + (long)q * C * 64, *vt = v + t * C;                                             \
            for (int c = 0; c < C; c++) {                                                                       \
                const float a = vt[c];                                                                          \
                for (int j = 0; j < 64; j++) acc[j] = fmaf(a, p[(long)c * 64 + j], acc[j]);                    \
            }                                                                                                   \
            memcpy(m + t * K + q * 64, acc, sizeof acc);                                                        \
        }
#if VGG4_X86
__attribute__((target("avx2,fma"))) static void packed_product_avx2(long T, int C, int K, const float *v, const float *u, float *m) {
    PACKED_PRODUCT_BODY
}
#endif
static void packed_product_scalar(long T, int C, int K, const float *v, const float *u, float *m) { PACKED_PRODUCT_BODY }

void vgg_winograd_product(long T, int C, int K, const float *v, const float *u, float *m) {
    if (T <= 0) return;
    if (!vgg_winograd_packs(K)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, K, C, 1.0f, v, C, u, K, 0.0f, m, K);
        return;
    }
#if VGG4_X86
    const int isa = vgg_isa();
    if (isa == VGG_ISA_AVX512) { packed_product_avx512(T, C, K, v, u, m); return; }
    if (isa == VGG_ISA_AVX2 && __builtin_cpu_supports("fma")) { packed_product_avx2(T, C, K, v, u, m); return; }
#endif
    packed_product_scalar(T, C, K, v, u, m);
}

// ------------------------------------------------------------------------------------------ kernel transform
// G x for a 3-vector x: G4's and G6's rows come in pairs that differ only in the sign of the middle column
// (the interpolation points +p and -p), so each pair is e + o and e - o with e from the outer columns and o
// from the middle one; the rows [a 0 0] and [0 0 1] are one product or none. In double: the same values as
// the full products up to double rounding, then rounded once to float.
#define G4_APPLY(x0, x1, x2, r)                                                                               \
    do {                                                                                                      \
        const double e1 = (x0 + x2) * (-1.0 / 6), o1 = x1 * (-1.0 / 6);                                       \
        const double e3 = x0 * (1.0 / 24) + x2 * (1.0 / 6), o3 = x1 * (1.0 / 12);                             \
        r[0] = x0 * (1.0 / 4); r[1] = e1 + o1; r[2] = e1 - o1; r[3] = e3 + o3; r[4] = e3 - o3; r[5] = x2;      \
    } while (0)
#define G6_APPLY(x0, x1, x2, r)                                                                               \
    do {                                                                                                      \
        const double e1 = (x0 + x2) * (-2.0 / 9), o1 = x1 * (-2.0 / 9);                                       \
        const double e3 = x0 * (1.0 / 90) + x2 * (2.0 / 45), o3 = x1 * (1.0 / 45);                            \
        const double e5 = x0 * (32.0 / 45) + x2 * (8.0 / 45), o5 = x1 * (16.0 / 45);                          \
        r[0] = x0; r[1] = e1 + o1; r[2] = e1 - o1; r[3] = e3 + o3; r[4] = e3 - o3; r[5] = e5 + o5; r[6] = e5 - o5; \
        r[7] = x2;                                                                                            \
    } while (0)

// U = G g G^T (n x n, n = 6 or 8) for every input channel and filters [k0, k1), in double, rounded once;
// vectorized over the filters (contiguous in both the HWIO kernel and U).
#define KERNEL_TRANSFORM_BODY(APPLY, n)                                                                       \
    do {                                                                                                      \
        const long ck = (long)c * k;                                                                          \
        for (int ci = 0; ci < c; ci++)                                                                        \
        for (int kb = k0, ke; kb < k1; kb = ke) {                                                             \
            ke = vgg_winograd_block_end(kb, k1, packed);                                                      \
            const float *gp[9];                                                                               \
            float *up[n * n];                                                                                 \
            for (int i = 0; i < 9; i++) gp[i] = kernel + ((long)i * c + ci) * k;                              \
            for (int i = 0; i < n * n; i++) up[i] = u + (long)i * ck + vgg_winograd_row_offset(c, k, ci, kb, packed); \
            _Pragma("clang loop vectorize(assume_safety)")                                                    \
            for (int ko = kb; ko < ke; ko++) {                                                                \
                double c0[n], c1[n], c2[n], row[n];                                                           \
                /* t = G g, column by column of g (g[y][x] = g{3y+x}): t[a][x] = cx[a] */                     \
                APPLY((double)gp[0][ko], (double)gp[3][ko], (double)gp[6][ko], c0);                           \
                APPLY((double)gp[1][ko], (double)gp[4][ko], (double)gp[7][ko], c1);                           \
                APPLY((double)gp[2][ko], (double)gp[5][ko], (double)gp[8][ko], c2);                           \
                /* U = t G^T, row by row of t */                                                              \
                _Pragma("clang loop unroll(full)")                                                            \
                for (int a = 0; a < n; a++) {                                                                 \
                    APPLY(c0[a], c1[a], c2[a], row);                                                          \
                    _Pragma("clang loop unroll(full)")                                                        \
                    for (int b = 0; b < n; b++) up[a * n + b][ko] = (float)row[b];                            \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)

#define KERNEL_VARIANTS(suffix, attr)                                                                         \
    attr static void kt4_##suffix(const float *kernel, int c, int k, float *u, int k0, int k1, int packed) { KERNEL_TRANSFORM_BODY(G4_APPLY, 6); } \
    attr static void kt6_##suffix(const float *kernel, int c, int k, float *u, int k0, int k1, int packed) { KERNEL_TRANSFORM_BODY(G6_APPLY, 8); }

KERNEL_VARIANTS(scalar, )
#if VGG4_X86
KERNEL_VARIANTS(avx2, __attribute__((target("avx2"))))
KERNEL_VARIANTS(avx512, __attribute__((target("avx512f"))))
#endif

void vgg_winograd4_kernel_transform(const float *kernel, int c, int k, float *u, int k0, int k1, int packed) {
#if VGG4_X86
    const int isa = vgg_isa();
    if (isa == VGG_ISA_AVX512) { kt4_avx512(kernel, c, k, u, k0, k1, packed); return; }
    if (isa == VGG_ISA_AVX2) { kt4_avx2(kernel, c, k, u, k0, k1, packed); return; }
#endif
    kt4_scalar(kernel, c, k, u, k0, k1, packed);
}
void vgg_winograd6_kernel_transform(const float *kernel, int c, int k, float *u, int k0, int k1, int packed) {
#if VGG4_X86
    const int isa = vgg_isa();
    if (isa == VGG_ISA_AVX512) { kt6_avx512(kernel, c, k, u, k0, k1, packed); return; }
    if (isa == VGG_ISA_AVX2) { kt6_avx2(kernel, c, k, u, k0, k1, packed); return; }
#endif
    kt6_scalar(kernel, c, k, u, k0, k1, packed);
}

long vgg_winograd4_tiles(const vgg_conv_shape *s) { return (long)s->n * ((s->oh + 3) / 4) * ((s->ow + 3) / 4); }
long vgg_winograd6_tiles(const vgg_conv_shape *s) { return (long)s->n * ((s->oh + 5) / 6) * ((s->ow + 5) / 6); }

// ------------------------------------------------------------------------------------------ F(4x4) transforms
// B^T applied to six values (one column or row of a tile).
#define BT6(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5)            \
    do {                                                               \
        const float p_ = (d4) - 4.0f * (d2), q_ = (d3) - 4.0f * (d1);  \
        const float r_ = (d4) - (d2), s_ = 2.0f * ((d3) - (d1));       \
        o0 = (4.0f * (d0) - 5.0f * (d2)) + (d4);                       \
        o1 = p_ + q_;                                                  \
        o2 = p_ - q_;                                                  \
        o3 = r_ + s_;                                                  \
        o4 = r_ - s_;                                                  \
        o5 = (4.0f * (d1) - 5.0f * (d3)) + (d5);                       \
    } while (0)

// A^T applied to six values.
#define AT6(m0, m1, m2, m3, m4, m5, y0, y1, y2, y3)                    \
    do {                                                               \
        const float a_ = (m1) + (m2), b_ = (m1) - (m2);                \
        const float c_ = (m3) + (m4), d_ = (m3) - (m4);                \
        y0 = ((m0) + a_) + c_;                                         \
        y1 = b_ + 2.0f * d_;                                           \
        y2 = a_ + 4.0f * c_;                                           \
        y3 = (b_ + 8.0f * d_) + (m5);                                  \
    } while (0)

// V = B^T d B for one tile over channels [0, C): 36 input pixel rows (d{6y+x}) -> 36 rows of v.
__attribute__((always_inline)) static inline void input4_body(const float *const *in, float *const *out, int C) {
    const float *p[36];
    float *o[36];
    for (int i = 0; i < 36; i++) { p[i] = in[i]; o[i] = out[i]; }
#pragma clang loop vectorize(assume_safety)
    for (int c = 0; c < C; c++) {
        float w[6][6];
        for (int x = 0; x < 6; x++)  // B^T d: column x
            BT6(p[x][c], p[6 + x][c], p[12 + x][c], p[18 + x][c], p[24 + x][c], p[30 + x][c],
                w[0][x], w[1][x], w[2][x], w[3][x], w[4][x], w[5][x]);
        for (int y = 0; y < 6; y++)  // (B^T d) B: row y
            BT6(w[y][0], w[y][1], w[y][2], w[y][3], w[y][4], w[y][5],
                o[6 * y][c], o[6 * y + 1][c], o[6 * y + 2][c], o[6 * y + 3][c], o[6 * y + 4][c], o[6 * y + 5][c]);
    }
}

// Y = A^T M A (+ bias, then ReLU when relu) for one tile over output channels [0, K): 36 rows of m -> 16
// output pixel rows (y{4y+x}; rows outside the image point at a sink).
__attribute__((always_inline)) static inline void output4_body(const float *const *m, const float *bias, int relu,
                                                                float *const *out, int K) {
    const float *q[36];
    float *y[16];
    for (int i = 0; i < 36; i++) q[i] = m[i];
    for (int i = 0; i < 16; i++) y[i] = out[i];
#pragma clang loop vectorize(assume_safety)
    for (int k = 0; k < K; k++) {
        float t[4][6];
        for (int x = 0; x < 6; x++)  // A^T M: column x
            AT6(q[x][k], q[6 + x][k], q[12 + x][k], q[18 + x][k], q[24 + x][k], q[30 + x][k], t[0][x], t[1][x], t[2][x], t[3][x]);
        const float b = bias ? bias[k] : 0.0f;
        for (int r = 0; r < 4; r++) {  // (A^T M) A: row r
            float v0, v1, v2, v3;
            AT6(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5], v0, v1, v2, v3);
            v0 += b; v1 += b; v2 += b; v3 += b;
            if (relu) {
                v0 = v0 > 0 ? v0 : 0.0f; v1 = v1 > 0 ? v1 : 0.0f; v2 = v2 > 0 ? v2 : 0.0f; v3 = v3 > 0 ? v3 : 0.0f;
            }
            y[4 * r][k] = v0; y[4 * r + 1][k] = v1; y[4 * r + 2][k] = v2; y[4 * r + 3][k] = v3;
        }
    }
}

// ------------------------------------------------------------------------------------------ F(6x6) transforms
// B^T (8x8) applied to eight values:
//   [1  0   -21/4  0     21/4   0    -1 0;  0  1    1   -17/4 -17/4  1    1 0;  0 -1    1    17/4 -17/4 -1    1 0;
//    0  1/2  1/4  -5/2  -5/4    2     1 0;  0 -1/2  1/4  5/2  -5/4  -2    1 0;  0  2    4   -5/2  -5     1/2  1 0;
//    0 -2    4     5/2  -5     -1/2   1 0;  0 -1    0    21/4   0  -21/4  0 1]
#define BT8(d0, d1, d2, d3, d4, d5, d6, d7, o0, o1, o2, o3, o4, o5, o6, o7)           \
    do {                                                                             \
        const float t1_ = ((d2) + (d6)) - 4.25f * (d4), t2_ = ((d1) + (d5)) - 4.25f * (d3); \
        const float t3_ = ((d6) + 0.25f * (d2)) - 1.25f * (d4);                       \
        const float t4_ = (0.5f * (d1) - 2.5f * (d3)) + 2.0f * (d5);                  \
        const float t5_ = (d6) + 4.0f * ((d2) - 1.25f * (d4));                        \
        const float t6_ = (2.0f * (d1) - 2.5f * (d3)) + 0.5f * (d5);                  \
        o0 = ((d0) - (d6)) + 5.25f * ((d4) - (d2));                                   \
        o1 = t1_ + t2_;                                                              \
        o2 = t1_ - t2_;                                                              \
        o3 = t3_ + t4_;                                                              \
        o4 = t3_ - t4_;                                                              \
        o5 = t5_ + t6_;                                                              \
        o6 = t5_ - t6_;                                                              \
        o7 = ((d7) - (d1)) + 5.25f * ((d3) - (d5));                                   \
    } while (0)

// A^T (6x8) applied to eight values: rows [1 1 1 1 1 1 1 0], [0 1 -1 2 -2 1/2 -1/2 0], [0 1 1 4 4 1/4 1/4 0],
// [0 1 -1 8 -8 1/8 -1/8 0], [0 1 1 16 16 1/16 1/16 0], [0 1 -1 32 -32 1/32 -1/32 1].
#define AT8(m0, m1, m2, m3, m4, m5, m6, m7, y0, y1, y2, y3, y4, y5)                    \
    do {                                                                             \
        const float a_ = (m1) + (m2), b_ = (m1) - (m2);                              \
        const float c_ = (m3) + (m4), d_ = (m3) - (m4);                              \
        const float e_ = (m5) + (m6), f_ = (m5) - (m6);                              \
        y0 = (((m0) + a_) + c_) + e_;                                                \
        y1 = (b_ + 2.0f * d_) + 0.5f * f_;                                           \
        y2 = (a_ + 4.0f * c_) + 0.25f * e_;                                          \
        y3 = (b_ + 8.0f * d_) + 0.125f * f_;                                         \
        y4 = (a_ + 16.0f * c_) + 0.0625f * e_;                                       \
        y5 = ((b_ + 32.0f * d_) + 0.03125f * f_) + (m7);                             \
    } while (0)

// V = B^T d B for one tile: 64 input pixel rows (d{8y+x}) -> 64 rows of v.
__attribute__((always_inline)) static inline void input6_body(const float *const *in, float *const *out, int C) {
    const float *p[64];
    float *o[64];
    for (int i = 0; i < 64; i++) { p[i] = in[i]; o[i] = out[i]; }
#pragma clang loop vectorize(assume_safety)
    for (int c = 0; c < C; c++) {
        float w[8][8];
#pragma clang loop unroll(full)
        for (int x = 0; x < 8; x++)
            BT8(p[x][c], p[8 + x][c], p[16 + x][c], p[24 + x][c], p[32 + x][c], p[40 + x][c], p[48 + x][c], p[56 + x][c],
                w[0][x], w[1][x], w[2][x], w[3][x], w[4][x], w[5][x], w[6][x], w[7][x]);
#pragma clang loop unroll(full)
        for (int y = 0; y < 8; y++)
            BT8(w[y][0], w[y][1], w[y][2], w[y][3], w[y][4], w[y][5], w[y][6], w[y][7],
                o[8 * y][c], o[8 * y + 1][c], o[8 * y + 2][c], o[8 * y + 3][c], o[8 * y + 4][c], o[8 * y + 5][c], o[8 * y + 6][c], o[8 * y + 7][c]);
    }
}

// Y = A^T M A (+ bias, ReLU) for one tile: 64 rows of m -> 36 output pixel rows (y{6y+x}).
__attribute__((always_inline)) static inline void output6_body(const float *const *m, const float *bias, int relu,
                                                                float *const *out, int K) {
    const float *q[64];
    float *y[36];
    for (int i = 0; i < 64; i++) q[i] = m[i];
    for (int i = 0; i < 36; i++) y[i] = out[i];
#pragma clang loop vectorize(assume_safety)
    for (int k = 0; k < K; k++) {
        float t[6][8];
#pragma clang loop unroll(full)
        for (int x = 0; x < 8; x++)
            AT8(q[x][k], q[8 + x][k], q[16 + x][k], q[24 + x][k], q[32 + x][k], q[40 + x][k], q[48 + x][k], q[56 + x][k],
                t[0][x], t[1][x], t[2][x], t[3][x], t[4][x], t[5][x]);
        const float b = bias ? bias[k] : 0.0f;
#pragma clang loop unroll(full)
        for (int r = 0; r < 6; r++) {
            float v[6];
            AT8(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5], t[r][6], t[r][7], v[0], v[1], v[2], v[3], v[4], v[5]);
#pragma clang loop unroll(full)
            for (int j = 0; j < 6; j++) {
                float z = v[j] + b;
                if (relu) z = z > 0 ? z : 0.0f;
                y[6 * r + j][k] = z;
            }
        }
    }
}

// ------------------------------------------------------------------------------------------ compiled variants
typedef void (*input_fn)(const float *const *, float *const *, int);
typedef void (*output_fn)(const float *const *, const float *, int, float *const *, int);

#define VARIANTS(suffix, attr)                                                                                    \
    attr static void input4_##suffix(const float *const *in, float *const *out, int C) { input4_body(in, out, C); } \
    attr static void output4_##suffix(const float *const *m, const float *bias, int relu, float *const *out, int K) { \
        output4_body(m, bias, relu, out, K);                                                                      \
    }                                                                                                             \
    attr static void input6_##suffix(const float *const *in, float *const *out, int C) { input6_body(in, out, C); } \
    attr static void output6_##suffix(const float *const *m, const float *bias, int relu, float *const *out, int K) { \
        output6_body(m, bias, relu, out, K);                                                                      \
    }

VARIANTS(scalar, )
#if VGG4_X86
VARIANTS(avx2, __attribute__((target("avx2"))))
VARIANTS(avx512, __attribute__((target("avx512f"))))
#endif

// The transforms for output tiles of m x m (4 or 6) on the instruction set in use.
static void pick(int m, input_fn *in, output_fn *out) {
    const int isa = vgg_isa();
    (void)isa;
#if VGG4_X86
    if (isa == VGG_ISA_AVX512) { *in = m == 4 ? input4_avx512 : input6_avx512; *out = m == 4 ? output4_avx512 : output6_avx512; return; }
    if (isa == VGG_ISA_AVX2) { *in = m == 4 ? input4_avx2 : input6_avx2; *out = m == 4 ? output4_avx2 : output6_avx2; return; }
#endif
    *in = m == 4 ? input4_scalar : input6_scalar;
    *out = m == 4 ? output4_scalar : output6_scalar;
}

// ------------------------------------------------------------------------------------------ tiles
// F(m x m, 3x3), n = m + 2 (the input tile's side), nn = n * n transformed values per tile. A block holds tiles
// [tb, tb + T): v[i][t - tb][c] and mm[i][t - tb][k]. The three phases are separate so that a block can be
// shared by threads (each transforming some of its tiles, multiplying some of its nn matrices).

// Input transform of tiles [t0, t1) of the block starting at tile tb with T tiles.
static void input_phase(int m, const vgg_conv_shape *s, const float *in, long t0, long t1, long tb, long T, float *v) {
    const int C = s->c, n = m + 2, nn = n * n;
    input_fn input_tile;
    output_fn unused;
    pick(m, &input_tile, &unused);
    float *zrow = calloc((size_t)C, sizeof(float));  // stands in for pixels outside the image
    if (!zrow) return;
    for (long t = t0; t < t1; t++) {
        const float *rows[64];
        float *outs[64];
        vgg_tile_rows(s, m, in, zrow, t, rows);
        for (int i = 0; i < nn; i++) outs[i] = v + ((long)i * T + (t - tb)) * C;
        input_tile(rows, outs, C);
    }
    free(zrow);
}

// Products i in [i0, i1): mm[i] (T x K) = v[i] (T x C) * u[i] (C x K).
static void product_phase(const vgg_conv_shape *s, long T, const float *v, const float *u, float *mm, int i0, int i1) {
    const int C = s->c, K = s->k;
    for (int i = i0; i < i1; i++) vgg_winograd_product(T, C, K, v + (long)i * T * C, u + (long)i * C * K, mm + (long)i * T * K);
}

// Output transform (+ bias, ReLU) of tiles [t0, t1) of the block starting at tb with T tiles.
static void output_phase(int m, const vgg_conv_shape *s, const float *mm, const float *bias, int relu, float *out,
                         long t0, long t1, long tb, long T) {
    const int K = s->k, n = m + 2, nn = n * n;
    const int ty_n = (s->oh + m - 1) / m, tx_n = (s->ow + m - 1) / m;
    input_fn unused;
    output_fn output_tile;
    pick(m, &unused, &output_tile);
    float *sink = malloc(sizeof(float) * (size_t)K);  // stands in for outputs outside the image
    if (!sink) return;
    for (long t = t0; t < t1; t++) {
        int ty, tx;
        const long b = vgg_tile_coords(t, ty_n, tx_n, &ty, &tx);
        const int oy = ty * m, ox = tx * m;
        const float *ms[64];
        float *ys[36];
        for (int i = 0; i < nn; i++) ms[i] = mm + ((long)i * T + (t - tb)) * K;
        for (int dy = 0; dy < m; dy++)
            for (int dx = 0; dx < m; dx++)
                ys[dy * m + dx] = (oy + dy < s->oh && ox + dx < s->ow) ? out + ((b * s->oh + oy + dy) * s->ow + ox + dx) * K : sink;
        output_tile(ms, bias, relu, ys, K);
    }
    free(sink);
}

static void tiles_run(int m, const vgg_conv_shape *s, const float *in, const float *u, const float *bias, int relu,
                      float *out, long t0, long t1, float *v, float *mm) {
    const long T = t1 - t0;
    if (T <= 0) return;
    input_phase(m, s, in, t0, t1, t0, T, v);
    product_phase(s, T, v, u, mm, 0, (m + 2) * (m + 2));
    output_phase(m, s, mm, bias, relu, out, t0, t1, t0, T);
}

void vgg_winograd4_tiles_run(const vgg_conv_shape *s, const float *in, const float *u, const float *bias, int relu,
                             float *out, long t0, long t1, float *v, float *m) {
    tiles_run(4, s, in, u, bias, relu, out, t0, t1, v, m);
}

void vgg_winograd6_tiles_run(const vgg_conv_shape *s, const float *in, const float *u, const float *bias, int relu,
                             float *out, long t0, long t1, float *v, float *m) {
    tiles_run(6, s, in, u, bias, relu, out, t0, t1, v, m);
}

void vgg_winograd_block_input(int tile, const vgg_conv_shape *s, const float *in, long t0, long t1, long tb, long T, float *v) {
    input_phase(tile, s, in, t0, t1, tb, T, v);
}

void vgg_winograd_block_products(const vgg_conv_shape *s, long T, const float *v, const float *u, float *m, int i0, int i1) {
    product_phase(s, T, v, u, m, i0, i1);
}

void vgg_winograd_block_output(int tile, const vgg_conv_shape *s, const float *m, const float *bias, int relu, float *out,
                               long t0, long t1, long tb, long T) {
    output_phase(tile, s, m, bias, relu, out, t0, t1, tb, T);
}

// ------------------------------------------------------------------------------------------ int8 F(4x4)
void vgg_winograd4_tiles_run_int8(const vgg_conv_shape *s, const float *in, const int8_t *upacked, const float *uscale,
                                  const float *uoffset, const float *bias, int relu, float *out, int ph, int pw, long t0,
                                  long t1, uint8_t *vq, float *rs, float *zr, float *tile, float *mm) {
    enum { M = 4, NN = 36 };
    const int C = s->c, K = s->k;
    const int ty_n = (s->oh + M - 1) / M, tx_n = (s->ow + M - 1) / M;
    const long T = t1 - t0, c4 = vgg_lowp_k4(C), n16 = vgg_lowp_n16(K);
    if (T <= 0) return;
    input_fn input_tile;
    output_fn output_tile;
    pick(M, &input_tile, &output_tile);
    float *zrow = calloc((size_t)C, sizeof(float));
    float *ybuf = malloc(sizeof(float) * 16 * 64);  // one tile's 4x4 outputs (64 filters), for pooling and edges
    if (!zrow || !ybuf) { free(zrow); free(ybuf); return; }
    // Each tile's 36 transformed rows in float32, then u8 with each row's own scale and zero point: vq[i][t][c].
    for (long t = t0; t < t1; t++) {
        const float *rows[NN];
        float *outs[NN];
        float lo[NN], hi[NN];
        vgg_tile_rows(s, M, in, zrow, t, rows);
        for (int i = 0; i < NN; i++) outs[i] = tile + (long)i * C;
        input_tile(rows, outs, C);
        vgg_lowp_row_ranges(tile, NN, C, lo, hi);
        vgg_lowp_quantize_rows(tile, NN, C, lo, hi, vq + (t - t0) * c4, T * c4, c4, rs + (t - t0), zr + (t - t0), T);
    }
    free(zrow);
    // 64 filters at a time: the 36 products into mm[i][t][0..64), then the output transform (+ bias, ReLU).
    for (int kc = 0; kc < K; kc += 64) {
        const int w = K - kc < 64 ? K - kc : 64;
        vgg_lowp_winograd_products(NN, T, c4, n16, vq, upacked, uscale, uoffset, rs, zr, mm, kc, w, K);
        for (long t = t0; t < t1; t++) {
            int ty, tx;
            const long b = vgg_tile_coords(t, ty_n, tx_n, &ty, &tx);
            const int oy = ty * M, ox = tx * M;
            const float *ms[NN];
            float *ys[16];
            for (int i = 0; i < NN; i++) ms[i] = mm + ((long)i * T + (t - t0)) * 64;
            const int inner = oy + M <= s->oh && ox + M <= s->ow;
            for (int dy = 0; dy < M; dy++)
                for (int dx = 0; dx < M; dx++)
                    ys[dy * M + dx] = ph > 0 || !inner ? ybuf + (dy * M + dx) * 64 : out + ((b * s->oh + oy + dy) * s->ow + ox + dx) * K + kc;
            output_tile(ms, bias ? bias + kc : NULL, relu, ys, w);
            if (ph > 0) {
                // The tile's four 2x2 windows: the largest of the outputs that exist (max is exact: the bits of the
                // convolution then the pooling).
                for (int wy = 0; wy < 2; wy++)
                    for (int wx = 0; wx < 2; wx++) {
                        const int py = oy / 2 + wy, px = ox / 2 + wx;
                        if (py >= ph || px >= pw) continue;
                        float *dst = out + ((b * ph + py) * pw + px) * K + kc;
                        const float *first = ybuf + ((2 * wy) * M + 2 * wx) * 64;
                        for (int j = 0; j < w; j++) dst[j] = first[j];
                        for (int e = 1; e < 4; e++) {
                            const int yy = 2 * py + e / 2, xx = 2 * px + e % 2;
                            if (yy >= s->oh || xx >= s->ow) continue;
                            const float *src = ybuf + ((2 * wy + e / 2) * M + 2 * wx + e % 2) * 64;
                            for (int j = 0; j < w; j++) dst[j] = src[j] > dst[j] ? src[j] : dst[j];
                        }
                    }
            } else if (!inner) {
                for (int dy = 0; dy < M && oy + dy < s->oh; dy++)
                    for (int dx = 0; dx < M && ox + dx < s->ow; dx++)
                        memcpy(out + ((b * s->oh + oy + dy) * s->ow + ox + dx) * K + kc, ybuf + (dy * M + dx) * 64, sizeof(float) * (size_t)w);
            }
        }
    }
    free(ybuf);
}
