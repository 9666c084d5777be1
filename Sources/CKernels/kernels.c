#include "vgg_kernels.h"
#include "vgg_lowp.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__x86_64__)
// acc[p][q] += x[p * stride] * v[16q .. 16q + 15] for p, q < 4: a rank-1 update of four rows by 64 columns held
// in sixteen AVX-512 registers. `fused` (a constant at every call) picks fused multiply-adds, one rounding per
// term (the small-batch Dense kernels, whose scalar builds use fmaf for the same bits), else a multiply then an
// add (the direct few-channel convolution, whose scalar fallback computes the same bits that way).
__attribute__((target("avx512f"), always_inline)) static inline void rank1_4x64(__m512 acc[4][4], const float *v, const float *x,
                                                                                  long stride, const int fused) {
    const __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16), v2 = _mm512_loadu_ps(v + 32), v3 = _mm512_loadu_ps(v + 48);
#pragma clang loop unroll(full)
    for (int p = 0; p < 4; p++) {
        const __m512 a = _mm512_set1_ps(x[p * stride]);
        if (fused) {
            acc[p][0] = _mm512_fmadd_ps(a, v0, acc[p][0]); acc[p][1] = _mm512_fmadd_ps(a, v1, acc[p][1]);
            acc[p][2] = _mm512_fmadd_ps(a, v2, acc[p][2]); acc[p][3] = _mm512_fmadd_ps(a, v3, acc[p][3]);
        } else {
            acc[p][0] = _mm512_add_ps(acc[p][0], _mm512_mul_ps(a, v0)); acc[p][1] = _mm512_add_ps(acc[p][1], _mm512_mul_ps(a, v1));
            acc[p][2] = _mm512_add_ps(acc[p][2], _mm512_mul_ps(a, v2)); acc[p][3] = _mm512_add_ps(acc[p][3], _mm512_mul_ps(a, v3));
        }
    }
}
#endif
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "simd.h"

// ------------------------------------------------------------------------------------------ convolution
static void im2col_rows(const vgg_conv_shape *s, const float *in, long m0, long m1, float *col) {
    const long K = (long)s->kh * s->kw * s->c;
    for (long m = m0; m < m1; m++) {
        long t = m;
        const int ox = (int)(t % s->ow); t /= s->ow;
        const int oy = (int)(t % s->oh); t /= s->oh;
        const long b = t;
        float *dst = col + (m - m0) * K;
        for (int ky = 0; ky < s->kh; ky++) {
            const int iy = oy * s->sh - s->pad_top + ky * s->dh;
            for (int kx = 0; kx < s->kw; kx++) {
                const int ix = ox * s->sw - s->pad_left + kx * s->dw;
                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) {
                    memset(dst, 0, sizeof(float) * s->c);
                } else {
                    memcpy(dst, in + (((b * s->h) + iy) * s->w + ix) * s->c, sizeof(float) * s->c);
                }
                dst += s->c;
            }
        }
    }
}

static void add_bias_rows(float *out, long rows, long k, const float *bias) {
    if (!bias) return;
    for (long r = 0; r < rows; r++) {
        float *o = out + r * k;
        for (long j = 0; j < k; j++) o[j] += bias[j];
    }
}

// ------------------------------------------------------------------------------------------ few channels
// A convolution of an image with few channels (VGG16's first layer: 3, so im2col rows of 27 values, too short
// for sgemm to run well): computed directly, each output pixel's sum over its taps (ky, kx, c in that order,
// taps outside the image skipped) then the bias, multiplies and adds rounded separately, so the vector path
// (four pixels of a row by 64 filters in sixteen AVX-512 registers) and the scalar one agree to the bit.
static void direct_pixel(const vgg_conv_shape *s, const float *in, const float *kernel, const float *bias, float *o, long b,
                         int oy, int ox) {
    const int C = s->c, K = s->k;
    for (int j = 0; j < K; j++) o[j] = 0.0f;
    for (int ky = 0; ky < s->kh; ky++) {
        const int iy = oy * s->sh - s->pad_top + ky * s->dh;
        if (iy < 0 || iy >= s->h) continue;
        for (int kx = 0; kx < s->kw; kx++) {
            const int ix = ox * s->sw - s->pad_left + kx * s->dw;
            if (ix < 0 || ix >= s->w) continue;
            const float *x = in + ((b * s->h + iy) * s->w + ix) * C;
            for (int c = 0; c < C; c++) {
                const float xv = x[c], *w = kernel + ((long)(ky * s->kw + kx) * C + c) * K;
                for (int j = 0; j < K; j++) o[j] += xv * w[j];
            }
        }
    }
    if (bias)
        for (int j = 0; j < K; j++) o[j] += bias[j];
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void direct_quad_avx512(const vgg_conv_shape *s, const float *in, const float *kernel,
                                                                 const float *bias, float *o, long b, int oy, int ox) {
    const int C = s->c, K = s->k;
    for (int j0 = 0; j0 < K; j0 += 64) {
        __m512 acc[4][4];
#pragma clang loop unroll(full)
        for (int p = 0; p < 4; p++)
#pragma clang loop unroll(full)
            for (int q = 0; q < 4; q++) acc[p][q] = _mm512_setzero_ps();
        for (int ky = 0; ky < s->kh; ky++) {
            const int iy = oy * s->sh - s->pad_top + ky * s->dh;
            if (iy < 0 || iy >= s->h) continue;
            const float *row = in + (b * s->h + iy) * (long)s->w * C;
            for (int kx = 0; kx < s->kw; kx++) {
                const int ix0 = ox * s->sw - s->pad_left + kx * s->dw;
                for (int c = 0; c < C; c++)
                    rank1_4x64(acc, kernel + ((long)(ky * s->kw + kx) * C + c) * K + j0, row + (long)ix0 * C + c, (long)s->sw * C, 0);
            }
        }
#pragma clang loop unroll(full)
        for (int p = 0; p < 4; p++) {
            float *op = o + (long)p * K + j0;
#pragma clang loop unroll(full)
            for (int q = 0; q < 4; q++) {
                __m512 v = acc[p][q];
                if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + j0 + 16 * q));
                _mm512_storeu_ps(op + 16 * q, v);
            }
        }
    }
}
#endif

int vgg_conv2d_direct_applies(const vgg_conv_shape *s) { return s->c <= 4 && s->k % 64 == 0; }

void vgg_conv2d_direct_rows(const vgg_conv_shape *s, const float *in, const float *kernel, const float *bias, float *out, long m0,
                            long m1) {
    const int K = s->k;
#if defined(__x86_64__)
    const int vector = vgg_isa() == VGG_ISA_AVX512;
#else
    const int vector = 0;
#endif
    long m = m0;
    while (m < m1) {
        const int ox = (int)(m % s->ow);
        const long r = m / s->ow;
        const int oy = (int)(r % s->oh);
        const long b = r / s->oh;
        // Four pixels of one output row whose taps are all inside the image's width.
        const int x_first = ox * s->sw - s->pad_left, x_last = (ox + 3) * s->sw - s->pad_left + (s->kw - 1) * s->dw;
        if (vector && m + 4 <= m1 && ox + 4 <= s->ow && x_first >= 0 && x_last < s->w) {
#if defined(__x86_64__)
            direct_quad_avx512(s, in, kernel, bias, out + m * K, b, oy, ox);
#endif
            m += 4;
        } else {
            direct_pixel(s, in, kernel, bias, out + m * K, b, oy, ox);
            m += 1;
        }
    }
}

void vgg_conv2d_gemm_rows(const vgg_conv_shape *s, const float *in, const float *kernel, const float *bias,
                          float *out, long m0, long m1, float *scratch, long scratch_rows) {
    if (vgg_conv2d_direct_applies(s)) { vgg_conv2d_direct_rows(s, in, kernel, bias, out, m0, m1); return; }
    const long K = (long)s->kh * s->kw * s->c;
    const int pointwise = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_top == 0 &&
                          s->pad_left == 0 && s->oh == s->h && s->ow == s->w;
    if (pointwise) {
        if (m1 > m0) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(m1 - m0), s->k, s->c, 1.0f,
                        in + m0 * s->c, s->c, kernel, s->k, 0.0f, out + m0 * s->k, s->k);
            add_bias_rows(out + m0 * s->k, m1 - m0, s->k, bias);
        }
        return;
    }
    for (long a = m0; a < m1; a += scratch_rows) {
        const long b = a + scratch_rows < m1 ? a + scratch_rows : m1;
        im2col_rows(s, in, a, b, scratch);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(b - a), s->k, (int)K, 1.0f,
                    scratch, (int)K, kernel, s->k, 0.0f, out + a * s->k, s->k);
        add_bias_rows(out + a * s->k, b - a, s->k, bias);
    }
}

// ------------------------------------------------------------------------------------------ Winograd F(2x2,3x3)
// Y = A^T [ (G g G^T) .* (B^T d B) ] A with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// The F(2x2) transforms are compiled three times like F(4x4)'s and F(6x6)'s (winograd.c): an always-inline
// body, a wrapper per instruction set, chosen at run time by vgg_isa() (so VGGTOOL_ISA can force the
// fallbacks), bit-identical results on each.
#define VGG_INLINE static inline __attribute__((always_inline))
VGG_INLINE void kernel_transform2_body(const float *kernel, int c, int k, float *u, int k0, int k1, int packed) {
    const long ck = (long)c * k;
    for (int ci = 0; ci < c; ci++)
    for (int kb = k0, ke; kb < k1; kb = ke) {
        ke = vgg_winograd_block_end(kb, k1, packed);
        const float *restrict g[9];
        for (int i = 0; i < 9; i++) g[i] = kernel + ((long)i * c + ci) * k;
        float *restrict o[16];
        for (int i = 0; i < 16; i++) o[i] = u + (long)i * ck + vgg_winograd_row_offset(c, k, ci, kb, packed);
        const float *restrict g0 = g[0], *restrict g1 = g[1], *restrict g2 = g[2], *restrict g3 = g[3], *restrict g4 = g[4],
                    *restrict g5 = g[5], *restrict g6 = g[6], *restrict g7 = g[7], *restrict g8 = g[8];
#pragma clang loop vectorize(assume_safety)
        for (int ko = kb; ko < ke; ko++) {
            // t = G g (4 x 3), row by row of g: g[y][x] = g{3y+x}
            const float a0 = g0[ko], a1 = g1[ko], a2 = g2[ko];
            const float b0 = g3[ko], b1 = g4[ko], b2 = g5[ko];
            const float c0 = g6[ko], c1 = g7[ko], c2 = g8[ko];
            float t[4][3];
            t[0][0] = a0; t[0][1] = a1; t[0][2] = a2;
            t[1][0] = 0.5f * (a0 + b0 + c0); t[1][1] = 0.5f * (a1 + b1 + c1); t[1][2] = 0.5f * (a2 + b2 + c2);
            t[2][0] = 0.5f * (a0 - b0 + c0); t[2][1] = 0.5f * (a1 - b1 + c1); t[2][2] = 0.5f * (a2 - b2 + c2);
            t[3][0] = c0; t[3][1] = c1; t[3][2] = c2;
            for (int y = 0; y < 4; y++) {  // (G g) G^T
                const float r0 = t[y][0], r1 = t[y][1], r2 = t[y][2];
                o[y * 4 + 0][ko] = r0;
                o[y * 4 + 1][ko] = 0.5f * (r0 + r1 + r2);
                o[y * 4 + 2][ko] = 0.5f * (r0 - r1 + r2);
                o[y * 4 + 3][ko] = r2;
            }
        }
    }
}

long vgg_winograd_tiles(const vgg_conv_shape *s) {
    return (long)s->n * ((s->oh + 1) / 2) * ((s->ow + 1) / 2);
}

// V = B^T d B for one tile over all channels: 16 input pixel rows -> 16 output rows, vectorized over c.
VGG_INLINE void input2_body(const float *const *in, float *const *out, int C) {
    const float *restrict d0 = in[0], *restrict d1 = in[1], *restrict d2 = in[2], *restrict d3 = in[3];
    const float *restrict d4 = in[4], *restrict d5 = in[5], *restrict d6 = in[6], *restrict d7 = in[7];
    const float *restrict d8 = in[8], *restrict d9 = in[9], *restrict d10 = in[10], *restrict d11 = in[11];
    const float *restrict d12 = in[12], *restrict d13 = in[13], *restrict d14 = in[14], *restrict d15 = in[15];
    float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2], *restrict o3 = out[3];
    float *restrict o4 = out[4], *restrict o5 = out[5], *restrict o6 = out[6], *restrict o7 = out[7];
    float *restrict o8 = out[8], *restrict o9 = out[9], *restrict o10 = out[10], *restrict o11 = out[11];
    float *restrict o12 = out[12], *restrict o13 = out[13], *restrict o14 = out[14], *restrict o15 = out[15];
#pragma clang loop vectorize(assume_safety)
    for (int c = 0; c < C; c++) {
        // B^T d: w[y][x] from rows of d (d[y][x] = d{4y+x})
        const float w00 = d0[c] - d8[c], w01 = d1[c] - d9[c], w02 = d2[c] - d10[c], w03 = d3[c] - d11[c];
        const float w10 = d4[c] + d8[c], w11 = d5[c] + d9[c], w12 = d6[c] + d10[c], w13 = d7[c] + d11[c];
        const float w20 = d8[c] - d4[c], w21 = d9[c] - d5[c], w22 = d10[c] - d6[c], w23 = d11[c] - d7[c];
        const float w30 = d4[c] - d12[c], w31 = d5[c] - d13[c], w32 = d6[c] - d14[c], w33 = d7[c] - d15[c];
        // (B^T d) B
        o0[c] = w00 - w02; o1[c] = w01 + w02; o2[c] = w02 - w01; o3[c] = w01 - w03;
        o4[c] = w10 - w12; o5[c] = w11 + w12; o6[c] = w12 - w11; o7[c] = w11 - w13;
        o8[c] = w20 - w22; o9[c] = w21 + w22; o10[c] = w22 - w21; o11[c] = w21 - w23;
        o12[c] = w30 - w32; o13[c] = w31 + w32; o14[c] = w32 - w31; o15[c] = w31 - w33;
    }
}

// As input2_body into the 16 rows of out (C floats apart), also giving each row's smallest and largest value
// with 0 (lo <= 0 <= hi; NaN skipped): the same values, for the int8 F(2x2) whose rows each get their own
// scale and zero point. Per-lane extremes are kept over blocks of 16 channels (elementwise, which the compiler
// vectorizes), then reduced (exact in any order).
VGG_INLINE void input2_range_body(const float *const *in, float *out, float *lo, float *hi, int C) {
    float mn[16][16], mx[16][16];
    for (int i = 0; i < 16; i++)
        for (int l = 0; l < 16; l++) mn[i][l] = mx[i][l] = 0.0f;
    for (int c0 = 0; c0 < C; c0 += 16) {
        const int n = C - c0 < 16 ? C - c0 : 16;
        for (int l = 0; l < n; l++) {
            const int c = c0 + l;
            float d[16];
            for (int i = 0; i < 16; i++) d[i] = in[i][c];
            const float w00 = d[0] - d[8], w01 = d[1] - d[9], w02 = d[2] - d[10], w03 = d[3] - d[11];
            const float w10 = d[4] + d[8], w11 = d[5] + d[9], w12 = d[6] + d[10], w13 = d[7] + d[11];
            const float w20 = d[8] - d[4], w21 = d[9] - d[5], w22 = d[10] - d[6], w23 = d[11] - d[7];
            const float w30 = d[4] - d[12], w31 = d[5] - d[13], w32 = d[6] - d[14], w33 = d[7] - d[15];
            const float o[16] = {w00 - w02, w01 + w02, w02 - w01, w01 - w03, w10 - w12, w11 + w12, w12 - w11, w11 - w13,
                                 w20 - w22, w21 + w22, w22 - w21, w21 - w23, w30 - w32, w31 + w32, w32 - w31, w31 - w33};
            for (int i = 0; i < 16; i++) {
                out[(long)i * C + c] = o[i];
                mx[i][l] = o[i] > mx[i][l] ? o[i] : mx[i][l];
                mn[i][l] = o[i] < mn[i][l] ? o[i] : mn[i][l];
            }
        }
    }
    for (int i = 0; i < 16; i++) {
        float a = 0.0f, b = 0.0f;
        for (int l = 0; l < 16; l++) {
            a = mn[i][l] < a ? mn[i][l] : a;
            b = mx[i][l] > b ? mx[i][l] : b;
        }
        lo[i] = a;
        hi[i] = b;
    }
}

// The 16 product rows of one F(2x2) tile (m[4y+x]), and A^T q A plus the bias at channel k (z00 z01 / z10 z11):
// the one expression every output transform below computes, so that each gives the same bits.
#define OUTPUT2_ROWS(m)                                                                                               \
    const float *restrict q0 = m[0], *restrict q1 = m[1], *restrict q2 = m[2], *restrict q3 = m[3];                  \
    const float *restrict q4 = m[4], *restrict q5 = m[5], *restrict q6 = m[6], *restrict q7 = m[7];                  \
    const float *restrict q8 = m[8], *restrict q9 = m[9], *restrict q10 = m[10], *restrict q11 = m[11];              \
    const float *restrict q12 = m[12], *restrict q13 = m[13], *restrict q14 = m[14], *restrict q15 = m[15]
#define OUTPUT2_AT(k)                                                                                                 \
    const float a00 = q0[k] + q4[k] + q8[k], a01 = q1[k] + q5[k] + q9[k], a02 = q2[k] + q6[k] + q10[k],               \
                a03 = q3[k] + q7[k] + q11[k];                                                                         \
    const float a10 = q4[k] - q8[k] - q12[k], a11 = q5[k] - q9[k] - q13[k], a12 = q6[k] - q10[k] - q14[k],           \
                a13 = q7[k] - q11[k] - q15[k];                                                                        \
    const float b = bias ? bias[k] : 0.0f;                                                                            \
    const float z00 = a00 + a01 + a02 + b, z01 = a01 - a02 - a03 + b, z10 = a10 + a11 + a12 + b, z11 = a11 - a12 - a13 + b
#define RELU2(z) (relu && (z) < 0.0f ? 0.0f : (z))

// Y = A^T M A for one tile over all output channels, plus bias (and ReLU when relu); writes the 2x2 outputs that
// exist (an inner tile straight to the output, an edge tile through a buffer).
VGG_INLINE void output2_body(const float *const *m, const float *bias, float *y00, float *y01, float *y10, float *y11, int K, int relu) {
    OUTPUT2_ROWS(m);
    if (y01 && y10 && y11) {
        float *restrict p00 = y00, *restrict p01 = y01, *restrict p10 = y10, *restrict p11 = y11;
#pragma clang loop vectorize(assume_safety)
        for (int k = 0; k < K; k++) {
            OUTPUT2_AT(k);
            p00[k] = RELU2(z00);
            p01[k] = RELU2(z01);
            p10[k] = RELU2(z10);
            p11[k] = RELU2(z11);
        }
        return;
    }
    float tmp[4][1024];
    for (int k0 = 0; k0 < K; k0 += 1024) {
        const int n = K - k0 < 1024 ? K - k0 : 1024;
        float *restrict r00 = tmp[0], *restrict r01 = tmp[1], *restrict r10 = tmp[2], *restrict r11 = tmp[3];
#pragma clang loop vectorize(assume_safety)
        for (int j = 0; j < n; j++) {
            OUTPUT2_AT(k0 + j);
            r00[j] = RELU2(z00);
            r01[j] = RELU2(z01);
            r10[j] = RELU2(z10);
            r11[j] = RELU2(z11);
        }
        memcpy(y00 + k0, r00, sizeof(float) * (size_t)n);
        if (y01) memcpy(y01 + k0, r01, sizeof(float) * (size_t)n);
        if (y10) memcpy(y10 + k0, r10, sizeof(float) * (size_t)n);
        if (y11) memcpy(y11 + k0, r11, sizeof(float) * (size_t)n);
    }
}

// As output2_body, then the largest of the tile's outputs that exist (a 2x2 max pooling with stride 2 whose
// windows are the tiles) into y: max(relu(z)) = relu(max(z)), the values the two layers give one after the other.
VGG_INLINE void output2_pool_body(const float *const *m, const float *bias, float *y, int K, int relu, int right, int below) {
    OUTPUT2_ROWS(m);
    float *restrict p = y;
#pragma clang loop vectorize(assume_safety)
    for (int k = 0; k < K; k++) {
        OUTPUT2_AT(k);
        float r = z00;
        if (right) r = z01 > r ? z01 : r;
        if (below) r = z10 > r ? z10 : r;
        if (right && below) r = z11 > r ? z11 : r;
        p[k] = RELU2(r);
    }
}

#if defined(__x86_64__) && !defined(VGG_NO_CLONES)
#define VGG2_X86 1
#endif
#define VARIANTS2(suffix, attr)                                                                                   \
    attr static void kt2_##suffix(const float *kernel, int c, int k, float *u, int k0, int k1, int packed) {      \
        kernel_transform2_body(kernel, c, k, u, k0, k1, packed);                                                  \
    }                                                                                                             \
    attr static void input2_##suffix(const float *const *in, float *const *out, int C) { input2_body(in, out, C); } \
    attr static void input2r_##suffix(const float *const *in, float *out, float *lo, float *hi, int C) {         \
        input2_range_body(in, out, lo, hi, C);                                                                    \
    }                                                                                                             \
    attr static void output2_##suffix(const float *const *m, const float *bias, float *y00, float *y01, float *y10, \
                                      float *y11, int K, int relu) {                                              \
        output2_body(m, bias, y00, y01, y10, y11, K, relu);                                                       \
    }                                                                                                             \
    attr static void output2p_##suffix(const float *const *m, const float *bias, float *y, int K, int relu, int right, \
                                       int below) {                                                               \
        output2_pool_body(m, bias, y, K, relu, right, below);                                                     \
    }
VARIANTS2(scalar, )
#if VGG2_X86
VARIANTS2(avx2, __attribute__((target("avx2"))))
VARIANTS2(avx512, __attribute__((target("avx512f"))))
#endif

#if VGG2_X86
// input2_range_body in AVX-512 registers (the same expressions: the same bits), in two passes over the channels
// (B^T d's rows 0-1, then 2-3) so that each pass's 8 minima and 8 maxima stay in registers; the last channels
// masked (zeros, which leave the extremes alone: 0 is in every range).
__attribute__((target("avx512f"))) static void input2r_avx512_regs(const float *const *in, float *out, float *lo, float *hi, int C) {
    for (int half = 0; half < 2; half++) {
        __m512 mn[8], mx[8];
        for (int i = 0; i < 8; i++) mn[i] = mx[i] = _mm512_setzero_ps();
        for (int c = 0; c < C; c += 16) {
            const __mmask16 k = C - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - c)) - 1);
#define LD(i) _mm512_maskz_loadu_ps(k, in[i] + c)
#define OUT(i, v)                                                                                                 \
            do {                                                                                                  \
                const __m512 o_ = (v);                                                                            \
                _mm512_mask_storeu_ps(out + (long)(8 * half + (i)) * C + c, k, o_);                               \
                mx[i] = _mm512_max_ps(o_, mx[i]);                                                                 \
                mn[i] = _mm512_min_ps(o_, mn[i]);                                                                 \
            } while (0)
#define ROW(r, w0, w1, w2, w3)                                                                                    \
            do {                                                                                                  \
                const __m512 a0 = (w0), a1 = (w1), a2 = (w2), a3 = (w3);                                          \
                OUT(4 * (r), _mm512_sub_ps(a0, a2)); OUT(4 * (r) + 1, _mm512_add_ps(a1, a2));                     \
                OUT(4 * (r) + 2, _mm512_sub_ps(a2, a1)); OUT(4 * (r) + 3, _mm512_sub_ps(a1, a3));                 \
            } while (0)
            const __m512 d4 = LD(4), d5 = LD(5), d6 = LD(6), d7 = LD(7), d8 = LD(8), d9 = LD(9), d10 = LD(10), d11 = LD(11);
            if (half == 0) {
                const __m512 d0 = LD(0), d1 = LD(1), d2 = LD(2), d3 = LD(3);
                ROW(0, _mm512_sub_ps(d0, d8), _mm512_sub_ps(d1, d9), _mm512_sub_ps(d2, d10), _mm512_sub_ps(d3, d11));
                ROW(1, _mm512_add_ps(d4, d8), _mm512_add_ps(d5, d9), _mm512_add_ps(d6, d10), _mm512_add_ps(d7, d11));
            } else {
                const __m512 d12 = LD(12), d13 = LD(13), d14 = LD(14), d15 = LD(15);
                ROW(0, _mm512_sub_ps(d8, d4), _mm512_sub_ps(d9, d5), _mm512_sub_ps(d10, d6), _mm512_sub_ps(d11, d7));
                ROW(1, _mm512_sub_ps(d4, d12), _mm512_sub_ps(d5, d13), _mm512_sub_ps(d6, d14), _mm512_sub_ps(d7, d15));
            }
#undef ROW
#undef OUT
#undef LD
        }
        // max/min(o, m) return m when o is NaN (their second operand), as the scalar comparisons keep it.
        for (int i = 0; i < 8; i++) {
            lo[8 * half + i] = _mm512_reduce_min_ps(mn[i]);
            hi[8 * half + i] = _mm512_reduce_max_ps(mx[i]);
        }
    }
}
#endif

void vgg_winograd_kernel_transform(const float *kernel, int c, int k, float *u, int k0, int k1, int packed) {
    const int isa = vgg_isa();
    (void)isa;
#if VGG2_X86
    if (isa == VGG_ISA_AVX512) { kt2_avx512(kernel, c, k, u, k0, k1, packed); return; }
    if (isa == VGG_ISA_AVX2) { kt2_avx2(kernel, c, k, u, k0, k1, packed); return; }
#endif
    kt2_scalar(kernel, c, k, u, k0, k1, packed);
}

// The 16 products of a block: float32 (vgg_winograd_product), or bf16 (upacked != NULL: the rows of each v[i] rounded to bf16
// in vb, vdpbf16ps products accumulated in float32).
static void winograd2_products(const vgg_conv_shape *s, long T, const float *v, const float *u, const uint16_t *upacked,
                               uint16_t *vb, float *m) {
    const int C = s->c, K = s->k;
    for (int i = 0; i < 16; i++) {
        if (upacked) {
            const long c2 = vgg_lowp_k2(C), n16 = vgg_lowp_n16(K);
            vgg_lowp_to_bf16_rows(v + (long)i * T * C, vb, T, C, c2);
            vgg_lowp_gemm_bf16(vb, T, c2, c2, upacked + (long)i * c2 * n16, 0, n16 / 16, NULL, 0, m + (long)i * T * K, K, K);
        } else {
            vgg_winograd_product(T, C, K, v + (long)i * T * C, u + (long)i * C * K, m + (long)i * T * K);
        }
    }
}

static void winograd2_tiles(const vgg_conv_shape *s, const float *in, const float *u, const uint16_t *upacked, const float *bias,
                            float *out, long t0, long t1, float *v, uint16_t *vb, float *m);

void vgg_winograd_tiles_run(const vgg_conv_shape *s, const float *in, const float *u, const float *bias,
                            float *out, long t0, long t1, float *v, float *m) {
    winograd2_tiles(s, in, u, NULL, bias, out, t0, t1, v, NULL, m);
}

void vgg_winograd2_tiles_run_bf16(const vgg_conv_shape *s, const float *in, const uint16_t *upacked, const float *bias,
                                  float *out, long t0, long t1, float *v, uint16_t *vb, float *mm) {
    winograd2_tiles(s, in, NULL, upacked, bias, out, t0, t1, v, vb, mm);
}

// The F(2x2) tile transforms of the instruction set in use (vgg_isa).
static void pick2(void (**in)(const float *const *, float *const *, int),
                  void (**out)(const float *const *, const float *, float *, float *, float *, float *, int, int)) {
#if VGG2_X86
    const int isa = vgg_isa();
    if (isa == VGG_ISA_AVX512) { *in = input2_avx512; *out = output2_avx512; }
    if (isa == VGG_ISA_AVX2) { *in = input2_avx2; *out = output2_avx2; }
#else
    (void)in; (void)out;
#endif
}

// The 16 input pixels (each c channels) of F(2x2) tile t; zrow stands in for those outside the image.
static void tile2_rows(const vgg_conv_shape *s, const float *in, const float *zrow, long t, const float *rows[16]) {
    vgg_tile_rows(s, 2, in, zrow, t, rows);
}

static void winograd2_tiles(const vgg_conv_shape *s, const float *in, const float *u, const uint16_t *upacked, const float *bias,
                            float *out, long t0, long t1, float *v, uint16_t *vb, float *m) {
    const int C = s->c, K = s->k;
    void (*winograd_input_tile)(const float *const *, float *const *, int) = input2_scalar;
    void (*winograd_output_tile)(const float *const *, const float *, float *, float *, float *, float *, int, int) = output2_scalar;
    pick2(&winograd_input_tile, &winograd_output_tile);
    const int ty_n = (s->oh + 1) / 2, tx_n = (s->ow + 1) / 2;
    const long T = t1 - t0;
    float *zrow = calloc((size_t)C, sizeof(float));  // stands in for pixels outside the image
    if (!zrow) return;
    // Input transform: v[i][t][c].
    for (long t = t0; t < t1; t++) {
        const float *rows[16];
        float *outs[16];
        tile2_rows(s, in, zrow, t, rows);
        for (int i = 0; i < 16; i++) outs[i] = v + ((long)i * T + (t - t0)) * C;
        winograd_input_tile(rows, outs, C);
    }
    free(zrow);
    // 16 products: m[i] (T x K) = v[i] (T x C) * u[i] (C x K).
    winograd2_products(s, T, v, u, upacked, vb, m);
    // Output transform.
    for (long t = t0; t < t1; t++) {
        int ty, tx;
        const long b = vgg_tile_coords(t, ty_n, tx_n, &ty, &tx);
        const int oy = ty * 2, ox = tx * 2;
        const float *ms[16];
        for (int i = 0; i < 16; i++) ms[i] = m + ((long)i * T + (t - t0)) * K;
        float *o00 = out + ((b * s->oh + oy) * s->ow + ox) * K;
        const int right = ox + 1 < s->ow, below = oy + 1 < s->oh;
        winograd_output_tile(ms, bias, o00, right ? o00 + K : NULL, below ? o00 + (long)s->ow * K : NULL,
                             right && below ? o00 + (long)s->ow * K + K : NULL, K, 0);
    }
}

void vgg_winograd2_tiles_run_int8(const vgg_conv_shape *s, const float *in, const int8_t *upacked, const float *uscale,
                                  const float *uoffset, const float *bias, int relu, float *out, int ph, int pw, long t0,
                                  long t1, uint8_t *vq, float *rs, float *zr, float *tile, float *mm) {
    const int C = s->c, K = s->k;
    void (*winograd_input_tile)(const float *const *, float *const *, int) = input2_scalar;
    void (*winograd_output_tile)(const float *const *, const float *, float *, float *, float *, float *, int, int) = output2_scalar;
    void (*input_range)(const float *const *, float *, float *, float *, int) = input2r_scalar;
    void (*output_pool)(const float *const *, const float *, float *, int, int, int, int) = output2p_scalar;
    pick2(&winograd_input_tile, &winograd_output_tile);
#if VGG2_X86
    if (vgg_isa() == VGG_ISA_AVX512) { input_range = input2r_avx512_regs; output_pool = output2p_avx512; }
    if (vgg_isa() == VGG_ISA_AVX2) { input_range = input2r_avx2; output_pool = output2p_avx2; }
#endif
    (void)winograd_input_tile;
    const int ty_n = (s->oh + 1) / 2, tx_n = (s->ow + 1) / 2;
    const long T = t1 - t0, c4 = vgg_lowp_k4(C), n16 = vgg_lowp_n16(K);
    float *zrow = calloc((size_t)C, sizeof(float));
    if (!zrow) return;
    // Each tile's 16 transformed rows, float32 in `tile`, then u8 with the row's own scale: vq[i][t][c].
    for (long t = t0; t < t1; t++) {
        const float *rows[16];
        float lo[16], hi[16];
        tile2_rows(s, in, zrow, t, rows);
        input_range(rows, tile, lo, hi, C);
        vgg_lowp_quantize_rows(tile, 16, C, lo, hi, vq + (t - t0) * c4, T * c4, c4, rs + (t - t0), zr + (t - t0), T);
    }
    free(zrow);
    // 64 filters at a time: the 16 products (scaled back to float32) into mm[i][t][0..64), then the output transform.
    for (int kc = 0; kc < K; kc += 64) {
        const int w = K - kc < 64 ? K - kc : 64;
        vgg_lowp_winograd_products(16, T, c4, n16, vq, upacked, uscale, uoffset, rs, zr, mm, kc, w, K);
        for (long t = t0; t < t1; t++) {
            int ty, tx;
            const long b = vgg_tile_coords(t, ty_n, tx_n, &ty, &tx);
            const int oy = ty * 2, ox = tx * 2;
            const float *ms[16];
            for (int i = 0; i < 16; i++) ms[i] = mm + ((long)i * T + (t - t0)) * 64;
            const int right = ox + 1 < s->ow, below = oy + 1 < s->oh;
            if (ph > 0) {  // max-pooled: one value per tile (tiles past the pooled output are dropped, as 'valid' pooling drops them)
                if (ty < ph && tx < pw) output_pool(ms, bias ? bias + kc : NULL, out + ((b * ph + ty) * pw + tx) * K + kc, w, relu, right, below);
                continue;
            }
            float *o00 = out + ((b * s->oh + oy) * s->ow + ox) * K + kc;
            winograd_output_tile(ms, bias ? bias + kc : NULL, o00, right ? o00 + K : NULL, below ? o00 + (long)s->ow * K : NULL,
                                 right && below ? o00 + (long)s->ow * K + K : NULL, w, relu);
        }
    }
}

// ------------------------------------------------------------------------------------------ depthwise
void vgg_depthwise_rows(const vgg_conv_shape *s, int mult, const float *in, const float *kernel, const float *bias,
                        float *out, long r0, long r1) {
    const int C = s->c, KO = C * mult;
    for (long r = r0; r < r1; r++) {
        const int oy = (int)(r % s->oh);
        const long b = r / s->oh;
        for (int ox = 0; ox < s->ow; ox++) {
            float *o = out + ((b * s->oh + oy) * s->ow + ox) * KO;
            for (int j = 0; j < KO; j++) o[j] = bias ? bias[j] : 0.0f;
            for (int ky = 0; ky < s->kh; ky++) {
                const int iy = oy * s->sh - s->pad_top + ky * s->dh;
                if (iy < 0 || iy >= s->h) continue;
                for (int kx = 0; kx < s->kw; kx++) {
                    const int ix = ox * s->sw - s->pad_left + kx * s->dw;
                    if (ix < 0 || ix >= s->w) continue;
                    const float *x = in + ((b * s->h + iy) * s->w + ix) * C;
                    const float *kk = kernel + (long)(ky * s->kw + kx) * C * mult;
                    for (int ci = 0; ci < C; ci++)
                        for (int j = 0; j < mult; j++) o[ci * mult + j] += x[ci] * kk[ci * mult + j];
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------ dense
void vgg_dense(const float *in, const float *w, const float *bias, float *out, long rows, long cols_in, long cols_out,
               long r0, long r1, long c0, long c1) {
    (void)rows;
    if (r1 <= r0 || c1 <= c0) return;
    // Small batches on kernels up to 16 MB (in L3) without sgemm's packing; past that sgemm streams the
    // kernel from memory faster (measured on VGG16's fc1 and a 250x250 head's first layer).
    if (r1 - r0 > 1 && r1 - r0 <= VGG_SMALL_BATCH && cols_in * cols_out <= (4L << 20)) {
        vgg_dense_small_forward(in + r0 * cols_in, w, NULL, out + r0 * cols_out, r1 - r0, cols_in, cols_out, c0, c1);
    } else if (r1 - r0 == 1) {
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)cols_in, (int)(c1 - c0), 1.0f, w + c0, (int)cols_out,
                    in + r0 * cols_in, 1, 0.0f, out + r0 * cols_out + c0, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0), (int)(c1 - c0), (int)cols_in, 1.0f,
                    in + r0 * cols_in, (int)cols_in, w + c0, (int)cols_out, 0.0f, out + r0 * cols_out + c0, (int)cols_out);
    }
    if (bias)
        for (long r = r0; r < r1; r++)
            for (long j = c0; j < c1; j++) out[r * cols_out + j] += bias[j];
}

void vgg_dense_rows_partial(const float *x, const float *w, float *partial, long cols_out, long i0, long i1) {
    if (i1 <= i0) { memset(partial, 0, sizeof(float) * (size_t)cols_out); return; }
    cblas_sgemv(CblasRowMajor, CblasTrans, (int)(i1 - i0), (int)cols_out, 1.0f, w + i0 * cols_out, (int)cols_out, x + i0, 1, 0.0f,
                partial, 1);
}

void vgg_dense_sum_partials(const float *partial, long parts, long cols_out, const float *bias, float *out, long c0, long c1) {
    for (long j = c0; j < c1; j++) {
        float s = partial[j];
        for (long p = 1; p < parts; p++) s += partial[p * cols_out + j];
        out[j] = bias ? s + bias[j] : s;
    }
}

// ------------------------------------------------------------------------------------------ pooling
void vgg_pool_rows(const vgg_conv_shape *s, int kind, const float *in, float *out, long r0, long r1) {
    const int C = s->c;
    for (long r = r0; r < r1; r++) {
        const int oy = (int)(r % s->oh);
        const long b = r / s->oh;
        for (int ox = 0; ox < s->ow; ox++) {
            float *o = out + ((b * s->oh + oy) * s->ow + ox) * C;
            for (int c = 0; c < C; c++) o[c] = kind == 0 ? -INFINITY : 0.0f;
            int count = 0;
            for (int ky = 0; ky < s->kh; ky++) {
                const int iy = oy * s->sh - s->pad_top + ky;
                if (iy < 0 || iy >= s->h) continue;
                for (int kx = 0; kx < s->kw; kx++) {
                    const int ix = ox * s->sw - s->pad_left + kx;
                    if (ix < 0 || ix >= s->w) continue;
                    const float *x = in + ((b * s->h + iy) * s->w + ix) * C;
                    count++;
                    if (kind == 0) {
                        for (int c = 0; c < C; c++) o[c] = x[c] > o[c] ? x[c] : o[c];
                    } else {
                        for (int c = 0; c < C; c++) o[c] += x[c];
                    }
                }
            }
            if (kind == 1 && count > 0) {
                const float inv = 1.0f / (float)count;
                for (int c = 0; c < C; c++) o[c] *= inv;
            }
        }
    }
}

void vgg_global_pool(const float *in, float *out, long n, long hw, long c, int kind) {
    for (long b = 0; b < n; b++) {
        float *o = out + b * c;
        const float *x = in + b * hw * c;
        for (long j = 0; j < c; j++) o[j] = kind == 0 ? -INFINITY : 0.0f;
        for (long p = 0; p < hw; p++)
            for (long j = 0; j < c; j++) {
                const float v = x[p * c + j];
                if (kind == 0) o[j] = v > o[j] ? v : o[j]; else o[j] += v;
            }
        if (kind == 1)
            for (long j = 0; j < c; j++) o[j] /= (float)hw;
    }
}

// ------------------------------------------------------------------------------------------ elementwise
static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline float softplusf(float x) { return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)); }

void vgg_activation(int code, float *x, long count) {
    switch (code) {
    case VGG_ACT_LINEAR: return;
    case VGG_ACT_RELU: for (long i = 0; i < count; i++) x[i] = x[i] > 0 ? x[i] : 0.0f; return;
    case VGG_ACT_SIGMOID: for (long i = 0; i < count; i++) x[i] = sigmoidf(x[i]); return;
    case VGG_ACT_TANH: for (long i = 0; i < count; i++) x[i] = tanhf(x[i]); return;
    case VGG_ACT_ELU: for (long i = 0; i < count; i++) x[i] = x[i] > 0 ? x[i] : expm1f(x[i]); return;
    case VGG_ACT_SELU: {
        const float alpha = 1.67326324f, scale = 1.05070098f;
        for (long i = 0; i < count; i++) x[i] = scale * (x[i] > 0 ? x[i] : alpha * expm1f(x[i]));
        return;
    }
    case VGG_ACT_SOFTPLUS: for (long i = 0; i < count; i++) x[i] = softplusf(x[i]); return;
    case VGG_ACT_SOFTSIGN: for (long i = 0; i < count; i++) x[i] = x[i] / (1.0f + fabsf(x[i])); return;
    case VGG_ACT_SWISH: for (long i = 0; i < count; i++) x[i] = x[i] * sigmoidf(x[i]); return;
    case VGG_ACT_GELU: for (long i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f)); return;
    case VGG_ACT_GELU_TANH:
        for (long i = 0; i < count; i++) {
            const float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
        }
        return;
    case VGG_ACT_EXPONENTIAL: for (long i = 0; i < count; i++) x[i] = expf(x[i]); return;
    case VGG_ACT_RELU6: for (long i = 0; i < count; i++) x[i] = x[i] < 0 ? 0.0f : (x[i] > 6 ? 6.0f : x[i]); return;
    case VGG_ACT_LEAKY_RELU: for (long i = 0; i < count; i++) x[i] = x[i] >= 0 ? x[i] : 0.2f * x[i]; return;
    case VGG_ACT_HARD_SIGMOID_K2:
        for (long i = 0; i < count; i++) { const float v = 0.2f * x[i] + 0.5f; x[i] = v < 0 ? 0.0f : (v > 1 ? 1.0f : v); }
        return;
    case VGG_ACT_HARD_SIGMOID_K3:
        for (long i = 0; i < count; i++) { const float v = x[i] / 6.0f + 0.5f; x[i] = v < 0 ? 0.0f : (v > 1 ? 1.0f : v); }
        return;
    case VGG_ACT_HARD_SWISH:
        for (long i = 0; i < count; i++) { const float v = x[i] / 6.0f + 0.5f; x[i] *= v < 0 ? 0.0f : (v > 1 ? 1.0f : v); }
        return;
    case VGG_ACT_MISH: for (long i = 0; i < count; i++) x[i] = x[i] * tanhf(softplusf(x[i])); return;
    }
}

void vgg_relu_layer(float *x, long count, float max_value, float negative_slope, float threshold) {
    for (long i = 0; i < count; i++) {
        float v = x[i];
        v = v >= threshold ? v : negative_slope * (v - threshold);
        if (max_value >= 0 && v > max_value) v = max_value;
        x[i] = v;
    }
}

void vgg_softmax(float *x, long outer, long axis, long inner, int log) {
    for (long o = 0; o < outer; o++)
        for (long i = 0; i < inner; i++) {
            float *p = x + o * axis * inner + i;
            float mx = -INFINITY;
            for (long a = 0; a < axis; a++) mx = p[a * inner] > mx ? p[a * inner] : mx;
            float sum = 0;
            for (long a = 0; a < axis; a++) sum += expf(p[a * inner] - mx);
            if (log) {
                const float ls = logf(sum);
                for (long a = 0; a < axis; a++) p[a * inner] = p[a * inner] - mx - ls;
            } else {
                for (long a = 0; a < axis; a++) p[a * inner] = expf(p[a * inner] - mx) / sum;
            }
        }
}

void vgg_scale_shift(float *x, long rows, long c, const float *scale, const float *shift) {
    for (long r = 0; r < rows; r++) {
        float *p = x + r * c;
        for (long j = 0; j < c; j++) p[j] = p[j] * scale[j] + shift[j];
    }
}

void vgg_zero_pad(const float *in, float *out, int n, int h, int w, int c, int top, int bottom, int left, int right) {
    const int oh = h + top + bottom, ow = w + left + right;
    memset(out, 0, sizeof(float) * (size_t)n * oh * ow * c);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < h; y++)
            memcpy(out + (((long)b * oh + y + top) * ow + left) * c, in + (((long)b * h + y) * w) * c, sizeof(float) * (size_t)w * c);
}

void vgg_concat_part(const float *in, float *out, long outer, long a, long inner, long total, long at) {
    for (long o = 0; o < outer; o++)
        memcpy(out + (o * total + at) * inner, in + o * a * inner, sizeof(float) * (size_t)(a * inner));
}

// ------------------------------------------------------------------------------------------ OpenBLAS set-up
// Debian's OpenBLAS is built with DYNAMIC_ARCH and picks its kernels from the CPU model; on virtual machines
// that report a generic model it falls back to "Prescott" (SSE3), 4-5x slower than the AVX-512 kernels the
// CPU can run. OPENBLAS_CORETYPE is read only at load time, so when the user has not set it and the choice
// is the generic one, the kernels are chosen again from the CPU's feature flags.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern char *openblas_get_corename(void) __attribute__((weak));

const char *vgg_blas_tune(void) {
    if (!openblas_get_corename) return "unknown";
    const char *core = openblas_get_corename();
    if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return core;
    const int generic = strcasecmp(core, "prescott") == 0 || strcasecmp(core, "core2") == 0 ||
                        strcasecmp(core, "nehalem") == 0 || strcasecmp(core, "katmai") == 0;
    if (!generic) return core;
    const char *want = NULL;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) want = "Haswell";
    else if (__builtin_cpu_supports("avx")) want = "Sandybridge";
#endif
    if (!want) return core;
    setenv("OPENBLAS_CORETYPE", want, 0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    return openblas_get_corename();
}

// ------------------------------------------------------------------------------------------ training
void vgg_im2col(const vgg_conv_shape *s, const float *in, long m0, long m1, float *col) { im2col_rows(s, in, m0, m1, col); }

void vgg_col2im_add(const vgg_conv_shape *s, const float *col, long m0, long m1, float *din) {
    const long K = (long)s->kh * s->kw * s->c;
    for (long m = m0; m < m1; m++) {
        long t = m;
        const int ox = (int)(t % s->ow); t /= s->ow;
        const int oy = (int)(t % s->oh); t /= s->oh;
        const long b = t;
        const float *src = col + (m - m0) * K;
        for (int ky = 0; ky < s->kh; ky++) {
            const int iy = oy * s->sh - s->pad_top + ky * s->dh;
            for (int kx = 0; kx < s->kw; kx++) {
                const int ix = ox * s->sw - s->pad_left + kx * s->dw;
                if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w) {
                    float *d = din + (((b * s->h) + iy) * s->w + ix) * s->c;
                    for (int c = 0; c < s->c; c++) d[c] += src[c];
                }
                src += s->c;
            }
        }
    }
}

void vgg_maxpool_backward(const vgg_conv_shape *s, const float *in, const float *dout, float *din) {
    const int C = s->c;
    for (long b = 0; b < s->n; b++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const float *g = dout + ((b * s->oh + oy) * s->ow + ox) * C;
                for (int c = 0; c < C; c++) {
                    float best = -INFINITY;
                    long at = -1;
                    for (int ky = 0; ky < s->kh; ky++) {
                        const int iy = oy * s->sh - s->pad_top + ky;
                        if (iy < 0 || iy >= s->h) continue;
                        for (int kx = 0; kx < s->kw; kx++) {
                            const int ix = ox * s->sw - s->pad_left + kx;
                            if (ix < 0 || ix >= s->w) continue;
                            const long idx = ((b * s->h + iy) * s->w + ix) * C + c;
                            if (at < 0 || in[idx] > best) { best = in[idx]; at = idx; }
                        }
                    }
                    if (at >= 0) din[at] += g[c];
                }
            }
}

void vgg_avgpool_backward(const vgg_conv_shape *s, const float *dout, float *din) {
    const int C = s->c;
    for (long b = 0; b < s->n; b++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int count = 0;
                for (int ky = 0; ky < s->kh; ky++) {
                    const int iy = oy * s->sh - s->pad_top + ky;
                    if (iy < 0 || iy >= s->h) continue;
                    for (int kx = 0; kx < s->kw; kx++) {
                        const int ix = ox * s->sw - s->pad_left + kx;
                        if (ix >= 0 && ix < s->w) count++;
                    }
                }
                if (count == 0) continue;
                const float *g = dout + ((b * s->oh + oy) * s->ow + ox) * C;
                const float inv = 1.0f / (float)count;
                for (int ky = 0; ky < s->kh; ky++) {
                    const int iy = oy * s->sh - s->pad_top + ky;
                    if (iy < 0 || iy >= s->h) continue;
                    for (int kx = 0; kx < s->kw; kx++) {
                        const int ix = ox * s->sw - s->pad_left + kx;
                        if (ix < 0 || ix >= s->w) continue;
                        float *d = din + ((b * s->h + iy) * s->w + ix) * C;
                        for (int c = 0; c < C; c++) d[c] += g[c] * inv;
                    }
                }
            }
}

// Rows [r0, r1) and columns [j0, j1) of the gradient, eight rows per pass over the batch (eight independent
// sums per column: a narrow layer is otherwise one chain of dependent multiply-adds); the leftovers of the vector
// version, and all of it on other CPUs.
VGG_SIMD static void kernel_gradient_rows(const float *x, const float *g, float *dw, long n, long in, long units, long r0, long r1,
                                 long rbase, long j0, long j1) {
    for (long s = r0; s < r1; s += 8) {
        const long e = s + 8 < r1 ? s + 8 : r1;
        for (long r = s; r < e; r++) {
            float *d = dw + (r - rbase) * units;
            const float a = x[r];
            for (long j = j0; j < j1; j++) d[j] = a * g[j];
        }
        for (long b = 1; b < n; b++) {
            const float *gb = g + b * units;
            for (long r = s; r < e; r++) {
                float *d = dw + (r - rbase) * units;
                const float ab = x[b * in + r];
                for (long j = j0; j < j1; j++) d[j] = fmaf(ab, gb[j], d[j]);
            }
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
// Four rows by 64 columns held in sixteen registers across the whole batch, stored once: the same products and
// sums in the same order as kernel_gradient_rows (the first product rounded, then fused multiply-adds).
__attribute__((target("avx512f"))) static void kernel_gradient_avx512(const float *x, const float *g, float *dw, long n, long in,
                                                                     long units, long r0, long r1) {
    const long J = units & ~63L;
    long r = r0;
    for (; r + 4 <= r1; r += 4) {
        float *d = dw + (r - r0) * units;
        for (long j = 0; j < J; j += 64) {
            __m512 acc[4][4];
            {
                const __m512 g0 = _mm512_loadu_ps(g + j), g1 = _mm512_loadu_ps(g + j + 16);
                const __m512 g2 = _mm512_loadu_ps(g + j + 32), g3 = _mm512_loadu_ps(g + j + 48);
#pragma clang loop unroll(full)
                for (int i = 0; i < 4; i++) {
                    const __m512 a = _mm512_set1_ps(x[r + i]);
                    acc[i][0] = _mm512_mul_ps(a, g0); acc[i][1] = _mm512_mul_ps(a, g1);
                    acc[i][2] = _mm512_mul_ps(a, g2); acc[i][3] = _mm512_mul_ps(a, g3);
                }
            }
            for (long b = 1; b < n; b++) rank1_4x64(acc, g + b * units + j, x + b * in + r, 1, 1);
#pragma clang loop unroll(full)
            for (int i = 0; i < 4; i++) {
                _mm512_storeu_ps(d + i * units + j, acc[i][0]); _mm512_storeu_ps(d + i * units + j + 16, acc[i][1]);
                _mm512_storeu_ps(d + i * units + j + 32, acc[i][2]); _mm512_storeu_ps(d + i * units + j + 48, acc[i][3]);
            }
        }
        if (J < units) kernel_gradient_rows(x, g, dw, n, in, units, r, r + 4, r0, J, units);
    }
    if (r < r1) kernel_gradient_rows(x, g, dw, n, in, units, r, r1, r0, 0, units);
}
#endif

// ------------------------------------------------------------------------------------------ small batches
// out = x w (x: n x in, w: in x units) for columns [c0, c1), each sum over i ascending in fused multiply-adds
// (fmaf here, vfmadd in the vector kernel: the same bits); a few rows of a batch at a time, so that w is read once from memory instead of being
// packed for every call as sgemm packs it.
VGG_SIMD static void small_forward_rows(const float *x, const float *w, float *out, long n, long in, long units, long c0, long c1) {
    // Eight rows of the batch per pass over w: eight independent sums per column (a narrow layer, such as a
    // two-class output, is otherwise one long chain of dependent multiply-adds).
    for (long b0 = 0; b0 < n; b0 += 8) {
        const long b1 = b0 + 8 < n ? b0 + 8 : n;
        for (long b = b0; b < b1; b++)
            for (long j = c0; j < c1; j++) out[b * units + j] = x[b * in] * w[j];
        for (long i = 1; i < in; i++) {
            const float *wi = w + i * units;
            for (long b = b0; b < b1; b++) {
                const float a = x[b * in + i];
                float *o = out + b * units;
                for (long j = c0; j < c1; j++) o[j] = fmaf(a, wi[j], o[j]);
            }
        }
    }
}

// dx = g wᵀ (g: n x units, w: in x units) for rows [i0, i1) of w: dx[b][i] = sum over j of g[b][j] w[i][j], in
// the order small_backward_rows sums (sixteen interleaved partial sums over j, then combined pairwise).
VGG_SIMD static float dot16(const float *a, const float *b, long len) {
    float p[16] = {0};
    long j = 0;
    for (; j + 16 <= len; j += 16)
        for (int k = 0; k < 16; k++) p[k] = fmaf(a[j + k], b[j + k], p[k]);
    for (int k = 0; j + k < len; k++) p[k] = fmaf(a[j + k], b[j + k], p[k]);
    for (int w = 8; w >= 1; w /= 2)
        for (int k = 0; k < w; k++) p[k] += p[k + w];
    return p[0];
}
VGG_SIMD static void small_backward_rows(const float *g, const float *w, float *dx, long n, long in, long units, long i0, long i1) {
    for (long b = 0; b < n; b++)
        for (long i = i0; i < i1; i++) dx[b * in + i] = dot16(g + b * units, w + i * units, units);
}

#if defined(__x86_64__)
#include <immintrin.h>
// Four rows of the batch by 64 columns in sixteen registers, over rows of w in blocks of 32 that stay in L1 for
// the batch's groups of four rows (the partial sums are stored between blocks and reloaded: the same sums in the
// same order). Blocks of 512 rows ran 1.4x slower: each row of w is another page, beyond the prefetchers' reach.
__attribute__((target("avx512f"))) static void small_forward_avx512(const float *x, const float *w, float *out, long n, long in,
                                                                   long units, long c0, long c1) {
    const long J = c0 + ((c1 - c0) & ~63L);
    const long IB = 32;
    for (long ib = 0; ib < in; ib += IB) {
        const long ie = ib + IB < in ? ib + IB : in;
        // The batch's groups of four rows innermost: the block of w (IB rows by 64 columns) stays in L1 for them.
        for (long j = c0; j < J; j += 64) {
            for (long b = 0; b + 4 <= n; b += 4) {
                __m512 acc[4][4];
                long i = ib;
                if (ib == 0) {
                    const __m512 w0 = _mm512_loadu_ps(w + j), w1 = _mm512_loadu_ps(w + j + 16);
                    const __m512 w2 = _mm512_loadu_ps(w + j + 32), w3 = _mm512_loadu_ps(w + j + 48);
#pragma clang loop unroll(full)
                    for (int r = 0; r < 4; r++) {
                        const __m512 a = _mm512_set1_ps(x[(b + r) * in]);
                        acc[r][0] = _mm512_mul_ps(a, w0); acc[r][1] = _mm512_mul_ps(a, w1);
                        acc[r][2] = _mm512_mul_ps(a, w2); acc[r][3] = _mm512_mul_ps(a, w3);
                    }
                    i = 1;
                } else {
#pragma clang loop unroll(full)
                    for (int r = 0; r < 4; r++) {
                        const float *o = out + (b + r) * units + j;
                        acc[r][0] = _mm512_loadu_ps(o); acc[r][1] = _mm512_loadu_ps(o + 16);
                        acc[r][2] = _mm512_loadu_ps(o + 32); acc[r][3] = _mm512_loadu_ps(o + 48);
                    }
                }
                if (b == 0 && j + 64 < J) {
                    // The first group of the batch fetches the next columns' block of w ahead.
                    for (; i < ie; i++) {
                        const float *wi = w + i * units + j;
                        _mm_prefetch((const char *)(wi + 64), _MM_HINT_T0); _mm_prefetch((const char *)(wi + 80), _MM_HINT_T0);
                        _mm_prefetch((const char *)(wi + 96), _MM_HINT_T0); _mm_prefetch((const char *)(wi + 112), _MM_HINT_T0);
                        rank1_4x64(acc, wi, x + b * in + i, in, 1);
                    }
                }
                for (; i < ie; i++) rank1_4x64(acc, w + i * units + j, x + b * in + i, in, 1);
#pragma clang loop unroll(full)
                for (int r = 0; r < 4; r++) {
                    float *o = out + (b + r) * units + j;
                    _mm512_storeu_ps(o, acc[r][0]); _mm512_storeu_ps(o + 16, acc[r][1]);
                    _mm512_storeu_ps(o + 32, acc[r][2]); _mm512_storeu_ps(o + 48, acc[r][3]);
                }
            }
        }
    }
    // The rows of the batch past a multiple of four and the columns past a multiple of 64, one row at a time.
    const long nb = n & ~3L;
    if (J < c1) small_forward_rows(x, w, out, nb, in, units, J, c1);
    if (nb < n) small_forward_rows(x + nb * in, w, out + nb * units, n - nb, in, units, c0, c1);
}

// Sixteen partial sums per dot product in one register, as dot16 keeps them, four rows of w by four rows of
// the batch at a time; the partial sums are combined as dot16 combines them.
__attribute__((target("avx512f"))) static inline float reduce16(__m512 v) {
    // p[k] += p[k + 8], then + 4, + 2, + 1, in registers.
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}
__attribute__((target("avx512f"))) static void small_backward_avx512(const float *g, const float *w, float *dx, long n, long in,
                                                                    long units, long i0, long i1) {
    // The batch's groups of four rows innermost: four rows of w stay in L1 for them (w is read once). Columns
    // past a multiple of 16 in one masked step whose other lanes keep their sums, as dot16's do.
    const long nb = n & ~3L, J = units & ~15L;
    const __mmask16 tail = (__mmask16)((1u << (units & 15)) - 1);
    long i = i0;
    for (; i + 4 <= i1; i += 4) {
        for (long b = 0; b < nb; b += 4) {
            __m512 acc[4][4];
#pragma clang loop unroll(full)
            for (int r = 0; r < 4; r++)
#pragma clang loop unroll(full)
                for (int q = 0; q < 4; q++) acc[r][q] = _mm512_setzero_ps();
            for (long j = 0; j < J; j += 16) {
                __m512 wv[4], gv[4];
#pragma clang loop unroll(full)
                for (int q = 0; q < 4; q++) wv[q] = _mm512_loadu_ps(w + (i + q) * units + j);
#pragma clang loop unroll(full)
                for (int r = 0; r < 4; r++) gv[r] = _mm512_loadu_ps(g + (b + r) * units + j);
#pragma clang loop unroll(full)
                for (int r = 0; r < 4; r++)
#pragma clang loop unroll(full)
                    for (int q = 0; q < 4; q++) acc[r][q] = _mm512_fmadd_ps(gv[r], wv[q], acc[r][q]);
            }
            if (tail) {
                __m512 wv[4], gv[4];
#pragma clang loop unroll(full)
                for (int q = 0; q < 4; q++) wv[q] = _mm512_maskz_loadu_ps(tail, w + (i + q) * units + J);
#pragma clang loop unroll(full)
                for (int r = 0; r < 4; r++) gv[r] = _mm512_maskz_loadu_ps(tail, g + (b + r) * units + J);
#pragma clang loop unroll(full)
                for (int r = 0; r < 4; r++)
#pragma clang loop unroll(full)
                    for (int q = 0; q < 4; q++) acc[r][q] = _mm512_mask3_fmadd_ps(gv[r], wv[q], acc[r][q], tail);
            }
            for (int r = 0; r < 4; r++)
                for (int q = 0; q < 4; q++) dx[(b + r) * in + i + q] = reduce16(acc[r][q]);
        }
    }
    if (i < i1) small_backward_rows(g, w, dx, nb, in, units, i, i1);
    if (nb < n) small_backward_rows(g + nb * units, w, dx + nb * in, n - nb, in, units, i0, i1);
}
#endif

void vgg_dense_small_forward(const float *x, const float *w, const float *bias, float *out, long n, long in, long units, long c0, long c1) {
    if (n <= 0 || c1 <= c0) return;
    if (in <= 0) {
        for (long b = 0; b < n; b++) for (long j = c0; j < c1; j++) out[b * units + j] = 0;
    } else {
#if defined(__x86_64__)
        if (vgg_isa() == VGG_ISA_AVX512) small_forward_avx512(x, w, out, n, in, units, c0, c1);
        else
#endif
            small_forward_rows(x, w, out, n, in, units, c0, c1);
    }
    if (bias)
        for (long b = 0; b < n; b++)
            for (long j = c0; j < c1; j++) out[b * units + j] += bias[j];
}

void vgg_dense_small_input_gradient(const float *g, const float *w, float *dx, long n, long in, long units, long i0, long i1) {
    if (n <= 0 || i1 <= i0) return;
#if defined(__x86_64__)
    if (vgg_isa() == VGG_ISA_AVX512) { small_backward_avx512(g, w, dx, n, in, units, i0, i1); return; }
#endif
    small_backward_rows(g, w, dx, n, in, units, i0, i1);
}

void vgg_dense_kernel_gradient(const float *x, const float *g, float *dw, long n, long in, long units, long r0, long r1) {
    if (r1 <= r0) return;
    if (n <= 0) { memset(dw, 0, sizeof(float) * (size_t)((r1 - r0) * units)); return; }
#if defined(__x86_64__)
    if (vgg_isa() == VGG_ISA_AVX512) { kernel_gradient_avx512(x, g, dw, n, in, units, r0, r1); return; }
#endif
    kernel_gradient_rows(x, g, dw, n, in, units, r0, r1, r0, 0, units);
}

VGG_SIMD void vgg_adam(float *w, const float *g, float *m, float *v, long n, float alpha, float c1, float c2, float eps) {
#pragma clang loop vectorize(assume_safety)
    for (long i = 0; i < n; i++) {
        const float gi = g[i];
        const float mi = m[i] + (gi - m[i]) * c1;
        const float vi = v[i] + (gi * gi - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        w[i] -= (mi * alpha) / (sqrtf(vi) + eps);
    }
}

VGG_SIMD void vgg_sgd(float *w, const float *g, float *m, long n, float lr, float momentum) {
    if (momentum > 0) {
#pragma clang loop vectorize(assume_safety)
        for (long i = 0; i < n; i++) { m[i] = momentum * m[i] - lr * g[i]; w[i] += m[i]; }
    } else {
#pragma clang loop vectorize(assume_safety)
        for (long i = 0; i < n; i++) w[i] -= lr * g[i];
    }
}
