// Reduced-precision kernels: int8 (VNNI) and bfloat16 (AVX512-BF16) GEMMs with scalar fallbacks, and the
// packing, quantization and im2col they need. Declarations and layouts: include/vgg_lowp.h.
#include "vgg_lowp.h"
#include "simd.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

// ------------------------------------------------------------------------------------------ dispatch
static int forced = -1;  // -1: not yet read from the environment

static int fallback_forced(void) {
    if (forced < 0) {
        const char *e = getenv("VGGTOOL_FORCE_FALLBACK");
        forced = (e && e[0] && strcmp(e, "0") != 0) ? 1 : 0;
    }
    return forced;
}

void vgg_lowp_force_fallback(int on) { forced = on ? 1 : 0; }

static int cpu_base(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    }
    return known;
}

int vgg_lowp_has_vnni(void) { return !fallback_forced() && cpu_base() && __builtin_cpu_supports("avx512vnni"); }
int vgg_lowp_has_bf16(void) { return !fallback_forced() && cpu_base() && __builtin_cpu_supports("avx512bf16"); }

// ------------------------------------------------------------------------------------------ conversions
static inline uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float bf16_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint8_t quant_u8(float x, float inv_scale, int zero_point) {
    float v = x * inv_scale;
    if (!(v == v)) v = 0;
    v = rintf(v) + (float)zero_point;
    v = v < 0.f ? 0.f : v;
    v = v > 255.f ? 255.f : v;
    return (uint8_t)v;
}

#define LOWP_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16")))
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

// The same values as quant_u8, 16 at a time (baseline x86-64 has no rounding instruction: rintf is a call).
AVX512_TARGET static void quantize_u8_avx512(const float *x, uint8_t *q, long count, float inv_scale, int zero_point) {
    __m512 inv = _mm512_set1_ps(inv_scale), zp = _mm512_set1_ps((float)zero_point), lo = _mm512_setzero_ps(), hi = _mm512_set1_ps(255.f);
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), inv);
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);  // NaN -> 0
        v = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
    }
    for (; i < count; i++) q[i] = quant_u8(x[i], inv_scale, zero_point);
}

void vgg_lowp_quantize_u8(const float *x, uint8_t *q, long count, float inv_scale, int zero_point) {
    if (!fallback_forced() && cpu_base()) { quantize_u8_avx512(x, q, count, inv_scale, zero_point); return; }
    for (long i = 0; i < count; i++) q[i] = quant_u8(x[i], inv_scale, zero_point);
}

// A row's scale and zero point from its range [lo, hi] (lo <= 0 <= hi): 255 steps over it, zero exact. A
// range that is empty, not finite or too narrow to invert gives scale 0 (every value 0).
static inline void row_quantization(float lo, float hi, float *inv, float *zero, float *scale) {
    const float span = hi - lo;
    *inv = 255.f / span;
    if (!(span > 0.f) || !(span < INFINITY) || !(*inv < INFINITY)) { *inv = 0.f; *zero = 0.f; *scale = 0.f; return; }
    *zero = rintf(-lo * *inv);
    *scale = span / 255.f;
}

// q = clamp(round_half_even(x * inv) + zero, 0, 255), 0 for NaN.
static inline uint8_t quant_row(float x, float inv, float zero) {
    float v = x * inv;
    if (!(v == v)) return 0;
    v = rintf(v) + zero;
    return (uint8_t)(v < 0.f ? 0.f : v > 255.f ? 255.f : v);
}

// The same bytes 16 at a time: cvtps2dq rounds to nearest even (a NaN gives INT_MIN, below 0 after the zero
// point); the values stay within a few units of [0, 255], so integer arithmetic and the clamps are exact.
AVX512_TARGET static void quantize_row_avx512(const float *x, uint8_t *q, long count, float inv, float zero) {
    const __m512 iv = _mm512_set1_ps(inv);
    const __m512i z = _mm512_set1_epi32((int)zero), lo = _mm512_setzero_si512();
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m512i v = _mm512_max_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), iv)), z), lo);
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtusepi32_epi8(v));  // unsigned saturation: the clamp at 255
    }
    for (; i < count; i++) q[i] = quant_row(x[i], inv, zero);
}

// Smallest and largest value of each row with 0 (NaN skipped): exact, so both paths agree.
AVX512_TARGET static void row_ranges_avx512(const float *x, long rows, long cols, float *lo, float *hi) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        __m512 mn = _mm512_setzero_ps(), mx = _mm512_setzero_ps();
        long c = 0;
        for (; c + 16 <= cols; c += 16) {
            const __m512 v = _mm512_loadu_ps(xr + c);
            mn = _mm512_min_ps(v, mn);  // NaN: keeps the second operand
            mx = _mm512_max_ps(v, mx);
        }
        float a = _mm512_reduce_min_ps(mn), b = _mm512_reduce_max_ps(mx);
        for (; c < cols; c++) { a = xr[c] < a ? xr[c] : a; b = xr[c] > b ? xr[c] : b; }
        lo[r] = a;
        hi[r] = b;
    }
}

void vgg_lowp_row_ranges(const float *x, long rows, long cols, float *lo, float *hi) {
    if (!fallback_forced() && cpu_base()) { row_ranges_avx512(x, rows, cols, lo, hi); return; }
    for (long r = 0; r < rows; r++) {
        float a = 0.f, b = 0.f;
        for (long c = 0; c < cols; c++) { const float v = x[r * cols + c]; a = v < a ? v : a; b = v > b ? v : b; }
        lo[r] = a;
        hi[r] = b;
    }
}

void vgg_lowp_quantize_rows(const float *x, long rows, long cols, const float *lo, const float *hi, uint8_t *q, long ldq, long pad,
                            float *rs, float *zr, long ldrs) {
    const int vector = !fallback_forced() && cpu_base();
    for (long r = 0; r < rows; r++) {
        float inv, zero, scale;
        row_quantization(lo[r], hi[r], &inv, &zero, &scale);
        rs[r * ldrs] = scale;
        zr[r * ldrs] = zero;
        uint8_t *qr = q + r * ldq;
        if (vector) quantize_row_avx512(x + r * cols, qr, cols, inv, zero);
        else for (long c = 0; c < cols; c++) qr[c] = quant_row(x[r * cols + c], inv, zero);
        for (long c = cols; c < pad; c++) qr[c] = 0;
    }
}

void vgg_lowp_quantize_u8_rows(const float *x, uint8_t *q, long rows, long cols, long ld, float inv_scale, int zero_point) {
    for (long r = 0; r < rows; r++) {
        vgg_lowp_quantize_u8(x + r * cols, q + r * ld, cols, inv_scale, zero_point);
        memset(q + r * ld + cols, 0, (size_t)(ld - cols));
    }
}

// vcvtneps2bf16: round to nearest even as bf16_round (inputs below float32's normal range become zero).
LOWP_TARGET static void to_bf16_avx512(const float *x, uint16_t *y, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) _mm256_storeu_si256((__m256i *)(y + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
    for (; i < count; i++) y[i] = bf16_round(x[i]);
}

void vgg_lowp_to_bf16(const float *x, uint16_t *y, long count) {
    if (vgg_lowp_has_bf16()) { to_bf16_avx512(x, y, count); return; }
    for (long i = 0; i < count; i++) y[i] = bf16_round(x[i]);
}

void vgg_lowp_to_bf16_rows(const float *x, uint16_t *y, long rows, long cols, long ld) {
    for (long r = 0; r < rows; r++) {
        vgg_lowp_to_bf16(x + r * cols, y + r * ld, cols);
        for (long j = cols; j < ld; j++) y[r * ld + j] = 0;
    }
}

// ------------------------------------------------------------------------------------------ packing
void vgg_lowp_pack_s8(const int8_t *w, long k, long n, int8_t *packed, int32_t *wsum) {
    long k4 = vgg_lowp_k4(k), n16 = vgg_lowp_n16(n);
    memset(packed, 0, (size_t)(k4 * n16));
    for (long j = 0; j < n; j++) {
        int32_t s = 0;
        long blk = j / 16, col = j % 16;
        for (long i = 0; i < k; i++) {
            int8_t v = w[i * n + j];
            s += v;
            packed[(blk * (k4 / 4) + i / 4) * 64 + col * 4 + i % 4] = v;
        }
        wsum[j] = s;
    }
}

void vgg_lowp_pack_bf16(const float *w, long k, long n, uint16_t *packed) {
    long k2 = vgg_lowp_k2(k), n16 = vgg_lowp_n16(n);
    memset(packed, 0, (size_t)(k2 * n16) * 2);
    for (long i = 0; i < k; i++)
        for (long j = 0; j < n; j++) {
            long blk = j / 16, col = j % 16;
            packed[(blk * (k2 / 2) + i / 2) * 32 + col * 2 + i % 2] = bf16_round(w[i * n + j]);
        }
}

void vgg_winograd_int8_pack(const float *u, int c, int k, int i0, int i1, int8_t *upacked, float *uscale, float *uoffset) {
    const long c4 = vgg_lowp_k4(c), n16 = vgg_lowp_n16(k);
    int8_t *q = malloc((size_t)c * (size_t)k);
    int32_t *wsum = malloc(sizeof(int32_t) * (size_t)k);
    float *sc = malloc(sizeof(float) * (size_t)k);
    if (!q || !wsum || !sc) { free(q); free(wsum); free(sc); return; }
    for (int i = i0; i < i1; i++) {
        const float *ui = u + (long)i * c * k;
        for (int j = 0; j < k; j++) {
            float mx = 0.f;
            for (int r = 0; r < c; r++) { float a = fabsf(ui[(long)r * k + j]); if (a > mx) mx = a; }
            sc[j] = mx / 127.f;
        }
        for (int r = 0; r < c; r++)
            for (int j = 0; j < k; j++) {
                float v = sc[j] > 0.f ? rintf(ui[(long)r * k + j] / sc[j]) : 0.f;
                v = v < -127.f ? -127.f : v > 127.f ? 127.f : v;
                q[(long)r * k + j] = (int8_t)v;
            }
        vgg_lowp_pack_s8(q, c, k, upacked + (long)i * c4 * n16, wsum);
        for (long j = 0; j < n16; j++) {
            uscale[i * n16 + j] = j < k ? sc[j] : 0.f;
            uoffset[i * n16 + j] = j < k ? -(float)wsum[j] * sc[j] : 0.f;
        }
    }
    free(q); free(wsum); free(sc);
}

// ------------------------------------------------------------------------------------------ im2col
// n bytes, short ones as two overlapping fixed-size copies (plain moves, no call).
static inline __attribute__((always_inline)) void copy_short(void *d, const void *s, size_t n) {
    char *dc = d;
    const char *sc = s;
    if (n >= 8 && n <= 16) { memcpy(dc, sc, 8); memcpy(dc + n - 8, sc + n - 8, 8); }
    else if (n > 16 && n <= 32) { memcpy(dc, sc, 16); memcpy(dc + n - 16, sc + n - 16, 16); }
    else if (n >= 4 && n < 8) { memcpy(dc, sc, 4); memcpy(dc + n - 4, sc + n - 4, 4); }
    else memcpy(dc, sc, n);
}

// Each output row: for every kernel row ky, the kw taps; when they are all inside the image and undilated they
// are kw * c consecutive values of the input row, copied at once (c = 3: 9 bytes, not 3 copies of 3).
// Compiled per instruction set (the short copies vectorize: block1_conv1's direct int8 step 18% faster).
#define IM2COL(NAME, T, ...)                                                                                      \
    VGG_SIMD void NAME(const vgg_conv_shape *s, const T *in, long m0, long m1, T *col, long ld __VA_ARGS__) {                       \
        long kk = (long)s->kh * s->kw * s->c, run = (long)s->kw * s->c;                                              \
        for (long m = m0; m < m1; m++) {                                                                             \
            long ox = m % s->ow, t = m / s->ow, oy = t % s->oh, b = t / s->oh;                                       \
            T *dst = col + (m - m0) * ld;                                                                            \
            long ix0 = ox * s->sw - s->pad_left, ixl = ix0 + (long)(s->kw - 1) * s->dw;                               \
            int whole = s->dw == 1 && ix0 >= 0 && ixl < s->w;                                                        \
            for (int ky = 0; ky < s->kh; ky++) {                                                                     \
                long iy = oy * s->sh - s->pad_top + (long)ky * s->dh;                                                \
                if (whole && iy >= 0 && iy < s->h) {                                                                 \
                    const T *src = in + ((b * s->h + iy) * s->w + ix0) * s->c;                                       \
                    copy_short(dst, src, sizeof(T) * (size_t)run);                                                   \
                    dst += run;                                                                                      \
                    continue;                                                                                        \
                }                                                                                                    \
                for (int kx = 0; kx < s->kw; kx++) {                                                                 \
                    long ix = ix0 + (long)kx * s->dw;                                                                \
                    if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) {                                              \
                        for (int c = 0; c < s->c; c++) dst[c] = PADVALUE;                                            \
                    } else {                                                                                         \
                        memcpy(dst, in + ((b * s->h + iy) * s->w + ix) * s->c, sizeof(T) * (size_t)s->c);            \
                    }                                                                                                \
                    dst += s->c;                                                                                     \
                }                                                                                                    \
            }                                                                                                        \
            for (long j = kk; j < ld; j++) col[(m - m0) * ld + j] = 0;                                               \
        }                                                                                                            \
    }
#define PADVALUE pad
IM2COL(vgg_lowp_im2col_u8, uint8_t, , uint8_t pad)
#undef PADVALUE
#define PADVALUE 0
IM2COL(vgg_lowp_im2col_u16, uint16_t)
#undef PADVALUE

// ------------------------------------------------------------------------------------------ int8 GEMM
static void gemm_u8s8_scalar(const uint8_t *a, long m, long lda, long k4, const int8_t *packed, long b0, long b1,
                             const float *scale, const float *offset, const float *rs, const float *zr, int relu, float *out, long ldo,
                             long jo, long n) {
    long g = k4 / 4;
    for (long blk = b0; blk < b1; blk++) {
        const int8_t *bp = packed + blk * g * 64;
        for (long i = 0; i < m; i++) {
            int32_t acc[16] = {0};
            const uint8_t *ar = a + i * lda;
            for (long q = 0; q < g; q++)
                for (int c = 0; c < 16; c++)
                    for (int e = 0; e < 4; e++) acc[c] += (int32_t)ar[4 * q + e] * (int32_t)bp[q * 64 + c * 4 + e];
            for (int c = 0; c < 16; c++) {
                long j = blk * 16 + c;
                if (j >= n) break;
                float v = rs ? fmaf(zr[i], offset[j], (float)acc[c] * scale[j]) * rs[i] : (float)acc[c] * scale[j] + offset[j];
                out[i * ldo + j - jo] = relu && v < 0.f ? 0.f : v;
            }
        }
    }
}

// MR rows x NB (1 or 2) blocks of 16 columns.
LOWP_TARGET static inline __attribute__((always_inline)) void
u8s8_tile(const uint8_t *a, long lda, long g, const int8_t *bp0, const int8_t *bp1, const int MR, const int NB,
          const float *scale, const float *offset, const float *rs, const float *zr, int relu, float *out, long ldo, long j0, long jo,
          long n) {
    __m512i acc[12][2];
    for (int r = 0; r < MR; r++)
        for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_si512();
    for (long q = 0; q < g; q++) {
        __m512i w0 = _mm512_load_si512((const void *)(bp0 + q * 64));
        __m512i w1 = NB > 1 ? _mm512_load_si512((const void *)(bp1 + q * 64)) : w0;
        for (int r = 0; r < MR; r++) {
            int32_t x;
            memcpy(&x, a + r * lda + 4 * q, 4);
            __m512i av = _mm512_set1_epi32(x);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, w0);
            if (NB > 1) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, w1);
        }
    }
    for (int b = 0; b < NB; b++) {
        long j = j0 + 16 * b;
        long left = n - j;
        __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        __m512 sc = _mm512_maskz_loadu_ps(mask, scale + j), of = _mm512_maskz_loadu_ps(mask, offset + j);
        for (int r = 0; r < MR; r++) {
            // The scalar path's expressions: a multiply then an add, or (row-scaled) fmaf then a multiply.
            __m512 v = rs ? _mm512_mul_ps(_mm512_fmadd_ps(_mm512_set1_ps(zr[r]), of, _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][b]), sc)),
                                          _mm512_set1_ps(rs[r]))
                          : _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][b]), sc), of);
            if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(out + r * ldo + j - jo, mask, v);
        }
    }
}

LOWP_TARGET static void gemm_u8s8_vnni(const uint8_t *a, long m, long lda, long k4, const int8_t *packed, long b0, long b1,
                                       const float *scale, const float *offset, const float *rs, const float *zr, int relu, float *out,
                                       long ldo, long jo, long n) {
    long g = k4 / 4;
#define U8S8_ROWS(MR)                                                                                                  \
    if (nb == 2) u8s8_tile(a + i * lda, lda, g, bp0, bp1, MR, 2, scale, offset, rs ? rs + i : NULL, rs ? zr + i : NULL, relu, out + i * ldo, \
                           ldo, blk * 16, jo, n);                                                                  \
    else u8s8_tile(a + i * lda, lda, g, bp0, bp1, MR, 1, scale, offset, rs ? rs + i : NULL, rs ? zr + i : NULL, relu, out + i * ldo, ldo, \
                   blk * 16, jo, n)
    for (long blk = b0; blk < b1; blk += 2) {
        int nb = blk + 1 < b1 ? 2 : 1;
        const int8_t *bp0 = packed + blk * g * 64, *bp1 = bp0 + g * 64;
        long i = 0;
        // 12 rows x 32 columns: 24 accumulators, each 64-byte weight load feeding 12 vpdpbusd.
        for (; i + 12 <= m; i += 12) { U8S8_ROWS(12); }
        for (; i + 8 <= m; i += 8) { U8S8_ROWS(8); }
        for (; i + 4 <= m; i += 4) { U8S8_ROWS(4); }
        for (; i < m; i++) { U8S8_ROWS(1); }
    }
#undef U8S8_ROWS
}

void vgg_lowp_gemm_u8s8(const uint8_t *a, long m, long lda, long k4, const int8_t *packed, long b0, long b1,
                        const float *scale, const float *offset, int relu, float *out, long ldo, long n) {
    if (vgg_lowp_has_vnni()) gemm_u8s8_vnni(a, m, lda, k4, packed, b0, b1, scale, offset, NULL, NULL, relu, out, ldo, 0, n);
    else gemm_u8s8_scalar(a, m, lda, k4, packed, b0, b1, scale, offset, NULL, NULL, relu, out, ldo, 0, n);
}

void vgg_lowp_gemm_u8s8_rows(const uint8_t *a, long m, long lda, long k4, const int8_t *packed, long b0, long b1,
                             const float *scale, const float *offset, const float *rowscale, const float *rowzero, float *out, long ldo,
                             long jo, long n) {
    if (vgg_lowp_has_vnni()) gemm_u8s8_vnni(a, m, lda, k4, packed, b0, b1, scale, offset, rowscale, rowzero, 0, out, ldo, jo, n);
    else gemm_u8s8_scalar(a, m, lda, k4, packed, b0, b1, scale, offset, rowscale, rowzero, 0, out, ldo, jo, n);
}

void vgg_lowp_winograd_products(int area, long T, long c4, long n16, const uint8_t *vq, const int8_t *upacked, const float *uscale,
                                const float *uoffset, const float *rs, const float *zr, float *mm, int kc, int w, long n) {
    const long b0 = kc / 16, b1 = b0 + (w + 15) / 16;
    for (int i = 0; i < area; i++)
        vgg_lowp_gemm_u8s8_rows(vq + (long)i * T * c4, T, c4, c4, upacked + (long)i * c4 * n16, b0, b1, uscale + i * n16, uoffset + i * n16,
                                rs + (long)i * T, zr + (long)i * T, mm + (long)i * T * 64, 64, kc, n);
}

// ------------------------------------------------------------------------------------------ bf16 GEMM
static void gemm_bf16_scalar(const uint16_t *a, long m, long lda, long k2, const uint16_t *packed, long b0, long b1,
                             const float *bias, int relu, float *out, long ldo, long n) {
    long g = k2 / 2;
    for (long blk = b0; blk < b1; blk++) {
        const uint16_t *bp = packed + blk * g * 32;
        for (long i = 0; i < m; i++) {
            float acc[16] = {0};
            const uint16_t *ar = a + i * lda;
            for (long q = 0; q < g; q++) {
                float x0 = bf16_float(ar[2 * q]), x1 = bf16_float(ar[2 * q + 1]);
                for (int c = 0; c < 16; c++)
                    acc[c] += x0 * bf16_float(bp[q * 32 + 2 * c]) + x1 * bf16_float(bp[q * 32 + 2 * c + 1]);
            }
            for (int c = 0; c < 16; c++) {
                long j = blk * 16 + c;
                if (j >= n) break;
                float v = acc[c] + (bias ? bias[j] : 0.f);
                out[i * ldo + j] = relu && v < 0.f ? 0.f : v;
            }
        }
    }
}

LOWP_TARGET static inline __attribute__((always_inline)) void
bf16_tile(const uint16_t *a, long lda, long g, const uint16_t *bp0, const uint16_t *bp1, const int MR, const int NB,
          const float *bias, int relu, float *out, long ldo, long j0, long n) {
    __m512 acc[8][2];
    for (int r = 0; r < MR; r++)
        for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_ps();
    for (long q = 0; q < g; q++) {
        __m512bh w0 = (__m512bh)_mm512_load_si512((const void *)(bp0 + q * 32));
        __m512bh w1 = NB > 1 ? (__m512bh)_mm512_load_si512((const void *)(bp1 + q * 32)) : w0;
        for (int r = 0; r < MR; r++) {
            int32_t x;
            memcpy(&x, a + r * lda + 2 * q, 4);
            __m512bh av = (__m512bh)_mm512_set1_epi32(x);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, w0);
            if (NB > 1) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, w1);
        }
    }
    for (int b = 0; b < NB; b++) {
        long j = j0 + 16 * b;
        long left = n - j;
        __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + j) : _mm512_setzero_ps();
        for (int r = 0; r < MR; r++) {
            __m512 v = _mm512_add_ps(acc[r][b], bv);
            if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(out + r * ldo + j, mask, v);
        }
    }
}

LOWP_TARGET static void gemm_bf16_avx(const uint16_t *a, long m, long lda, long k2, const uint16_t *packed, long b0, long b1,
                                      const float *bias, int relu, float *out, long ldo, long n) {
    long g = k2 / 2;
    for (long blk = b0; blk < b1; blk += 2) {
        int nb = blk + 1 < b1 ? 2 : 1;
        const uint16_t *bp0 = packed + blk * g * 32, *bp1 = bp0 + g * 32;
        long i = 0;
        for (; i + 8 <= m; i += 8) {
            if (nb == 2) bf16_tile(a + i * lda, lda, g, bp0, bp1, 8, 2, bias, relu, out + i * ldo, ldo, blk * 16, n);
            else bf16_tile(a + i * lda, lda, g, bp0, bp1, 8, 1, bias, relu, out + i * ldo, ldo, blk * 16, n);
        }
        for (; i < m; i++) {
            if (nb == 2) bf16_tile(a + i * lda, lda, g, bp0, bp1, 1, 2, bias, relu, out + i * ldo, ldo, blk * 16, n);
            else bf16_tile(a + i * lda, lda, g, bp0, bp1, 1, 1, bias, relu, out + i * ldo, ldo, blk * 16, n);
        }
    }
}

void vgg_lowp_gemm_bf16(const uint16_t *a, long m, long lda, long k2, const uint16_t *packed, long b0, long b1,
                        const float *bias, int relu, float *out, long ldo, long n) {
    if (vgg_lowp_has_bf16()) gemm_bf16_avx(a, m, lda, k2, packed, b0, b1, bias, relu, out, ldo, n);
    else gemm_bf16_scalar(a, m, lda, k2, packed, b0, b1, bias, relu, out, ldo, n);
}

// ------------------------------------------------------------------------------------------ calibration
void vgg_lowp_histogram(const float *x, long count, uint64_t *hist, long bins, float *range, float *minv, float *maxabs) {
    float mx = 0.f, mn = *minv;
    for (long i = 0; i < count; i++) {
        float v = x[i], a = fabsf(v);
        if (a > mx) mx = a;  // NaN compares false: skipped
        if (v < mn) mn = v;
    }
    *minv = mn;
    if (mx > *maxabs) *maxabs = mx;
    if (mx <= 0.f) {  // all zeros (or NaN): bin 0
        for (long i = 0; i < count; i++) if (x[i] == 0.f) hist[0]++;
        return;
    }
    if (*range <= 0.f) *range = mx;
    while (*range < mx) {
        for (long i = 0; i < bins / 2; i++) hist[i] = hist[2 * i] + hist[2 * i + 1];
        for (long i = bins / 2; i < bins; i++) hist[i] = 0;
        *range *= 2.f;
    }
    float f = (float)bins / *range;
    for (long i = 0; i < count; i++) {
        float a = fabsf(x[i]);
        if (!(a == a)) continue;
        long b = (long)(a * f);
        hist[b < bins ? b : bins - 1]++;
    }
}
