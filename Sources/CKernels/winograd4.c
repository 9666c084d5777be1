// Winograd F(4x4, 3x3) for 3x3 stride-1 undilated convolutions (Lavin & Gray 2015), with the instruction-set
// dispatch its transforms use.
//
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A   over 6x6 input tiles d giving 4x4 output tiles Y, with the
//   interpolation points 0, 1, -1, 2, -2 and infinity:
//   B^T = [4  0 -5  0 1 0;      G = [ 1/4     0     0;      A^T = [1 1  1 1  1 0;
//          0 -4 -4  1 1 0;            -1/6  -1/6  -1/6;             0 1 -1 2 -2 0;
//          0  4 -4 -1 1 0;            -1/6   1/6  -1/6;             0 1  1 4  4 0;
//          0 -2 -1  2 1 0;             1/24  1/12  1/6;             0 1 -1 8 -8 1]
//          0  2 -1 -2 1 0;             1/24 -1/12  1/6;
//          0  4  0 -5 0 1]             0     0     1]
//
// Rounding: the kernel transform is computed in double and rounded once; the input and output transforms
// group their terms so that each sum adds values of like magnitude first (d4 - 4 d2 and d3 - 4 d1 before
// combining them, m1 + m2 and m3 + m4 before scaling), the order the published F(4x4) implementations use.
//
// The input and output transforms are compiled three times (AVX-512, AVX2, baseline x86-64 = SSE2): the
// body is one always-inline function, each variant a wrapper with its own target attribute. The variant is
// chosen at run time from the CPU's features, and can be forced lower (VGGTOOL_ISA=avx2|scalar in the
// environment, or vgg_set_isa) to test the fallbacks. Every lane computes the same scalar expression and
// floating-point contraction is off (-ffp-contract=off), so the three variants give bit-identical results.
#include "vgg_kernels.h"
#include <cblas.h>
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

// ------------------------------------------------------------------------------------------ kernel transform
void vgg_winograd4_kernel_transform(const float *kernel, int c, int k, float *u, int k0, int k1) {
    static const double G[6][3] = {
        {1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
        {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    const long ck = (long)c * k;
    for (int ci = 0; ci < c; ci++)
        for (int ko = k0; ko < k1; ko++) {
            double g[3][3], t[6][3];
            for (int i = 0; i < 9; i++) g[i / 3][i % 3] = kernel[((long)i * c + ci) * k + ko];
            for (int a = 0; a < 6; a++)
                for (int x = 0; x < 3; x++) t[a][x] = G[a][0] * g[0][x] + G[a][1] * g[1][x] + G[a][2] * g[2][x];
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++)
                    u[(long)(a * 6 + b) * ck + (long)ci * k + ko] = (float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2]);
        }
}

long vgg_winograd4_tiles(const vgg_conv_shape *s) { return (long)s->n * ((s->oh + 3) / 4) * ((s->ow + 3) / 4); }

// ------------------------------------------------------------------------------------------ input transform
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

// V = B^T d B for one tile over channels [0, C): 36 input pixel rows (d{6y+x}) -> 36 rows of v.
__attribute__((always_inline)) static inline void input_tile_body(const float *const *in, float *const *out, int C) {
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

// ------------------------------------------------------------------------------------------ output transform
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

// Y = A^T M A (+ bias, then ReLU when relu) for one tile over output channels [0, K): 36 rows of m -> 16
// output pixel rows (y{4y+x}; rows outside the image point at a sink).
__attribute__((always_inline)) static inline void output_tile_body(const float *const *m, const float *bias, int relu,
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

// The three compiled variants of each transform.
typedef void (*input_fn)(const float *const *, float *const *, int);
typedef void (*output_fn)(const float *const *, const float *, int, float *const *, int);

static void input_tile_scalar(const float *const *in, float *const *out, int C) { input_tile_body(in, out, C); }
static void output_tile_scalar(const float *const *m, const float *bias, int relu, float *const *out, int K) {
    output_tile_body(m, bias, relu, out, K);
}
#if VGG4_X86
__attribute__((target("avx2"))) static void input_tile_avx2(const float *const *in, float *const *out, int C) {
    input_tile_body(in, out, C);
}
__attribute__((target("avx2"))) static void output_tile_avx2(const float *const *m, const float *bias, int relu, float *const *out, int K) {
    output_tile_body(m, bias, relu, out, K);
}
__attribute__((target("avx512f"))) static void input_tile_avx512(const float *const *in, float *const *out, int C) {
    input_tile_body(in, out, C);
}
__attribute__((target("avx512f"))) static void output_tile_avx512(const float *const *m, const float *bias, int relu, float *const *out, int K) {
    output_tile_body(m, bias, relu, out, K);
}
#endif

static void pick(input_fn *in, output_fn *out) {
    *in = input_tile_scalar;
    *out = output_tile_scalar;
#if VGG4_X86
    switch (vgg_isa()) {
    case VGG_ISA_AVX512: *in = input_tile_avx512; *out = output_tile_avx512; break;
    case VGG_ISA_AVX2: *in = input_tile_avx2; *out = output_tile_avx2; break;
    default: break;
    }
#endif
}

// ------------------------------------------------------------------------------------------ tiles
void vgg_winograd4_tiles_run(const vgg_conv_shape *s, const float *in, const float *u, const float *bias, int relu,
                             float *out, long t0, long t1, float *v, float *m) {
    const int C = s->c, K = s->k;
    const int ty_n = (s->oh + 3) / 4, tx_n = (s->ow + 3) / 4;
    const long T = t1 - t0;
    if (T <= 0) return;
    input_fn input_tile;
    output_fn output_tile;
    pick(&input_tile, &output_tile);
    // Stand-ins for pixels outside the image (zeros) and for outputs outside it (a sink).
    float *zrow = calloc((size_t)C, sizeof(float));
    float *sink = malloc(sizeof(float) * (size_t)K);
    if (!zrow || !sink) { free(zrow); free(sink); return; }
    for (long t = t0; t < t1; t++) {
        long r = t;
        const int tx = (int)(r % tx_n); r /= tx_n;
        const int ty = (int)(r % ty_n); r /= ty_n;
        const long b = r;
        const int y0 = ty * 4 - s->pad_top, x0 = tx * 4 - s->pad_left;
        const float *rows[36];
        float *outs[36];
        for (int dy = 0; dy < 6; dy++)
            for (int dx = 0; dx < 6; dx++) {
                const int iy = y0 + dy, ix = x0 + dx;
                rows[dy * 6 + dx] = (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) ? zrow : in + ((b * s->h + iy) * s->w + ix) * C;
            }
        for (int i = 0; i < 36; i++) outs[i] = v + ((long)i * T + (t - t0)) * C;
        input_tile(rows, outs, C);
    }
    // 36 products: m[i] (T x K) = v[i] (T x C) * u[i] (C x K).
    for (int i = 0; i < 36; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, K, C, 1.0f, v + (long)i * T * C, C,
                    u + (long)i * C * K, K, 0.0f, m + (long)i * T * K, K);
    for (long t = t0; t < t1; t++) {
        long r = t;
        const int tx = (int)(r % tx_n); r /= tx_n;
        const int ty = (int)(r % ty_n); r /= ty_n;
        const long b = r;
        const int oy = ty * 4, ox = tx * 4;
        const float *ms[36];
        float *ys[16];
        for (int i = 0; i < 36; i++) ms[i] = m + ((long)i * T + (t - t0)) * K;
        for (int dy = 0; dy < 4; dy++)
            for (int dx = 0; dx < 4; dx++)
                ys[dy * 4 + dx] = (oy + dy < s->oh && ox + dx < s->ow) ? out + ((b * s->oh + oy + dy) * s->ow + ox + dx) * K : sink;
        output_tile(ms, bias, relu, ys, K);
    }
    free(zrow);
    free(sink);
}
