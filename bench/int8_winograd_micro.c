// The int8 convolution kernels alone on one core (docs/precision.md "int8 Winograd F(2x2)"): on one VGG16-like
// layer (H x H x C -> K, 'same', ReLU, batch N) the int8 Winograd F(2x2) (vgg_winograd2_tiles_run_int8, blocks of
// 48 tiles as the engine runs it) against the direct int8 product (quantize the input, im2col tiles of 96 rows,
// the u8s8 GEMM, as the engine runs it), best of REPS alternating runs each. Post-ReLU-like inputs; with ERROR=1
// also each one's relative RMS error against a direct convolution in double (slow at the large layers).
//   winograd_int8_micro H C K N [reps]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vgg_kernels.h"
#include "vgg_lowp.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static unsigned long long state = 88172645463325252ULL;
static double uniform(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return (state >> 11) * (1.0 / 9007199254740992.0); }

static double rms(const float *y, const double *ref, long n) {
    double e = 0, r = 0;
    for (long i = 0; i < n; i++) { e += (y[i] - ref[i]) * (y[i] - ref[i]); r += ref[i] * ref[i]; }
    return sqrt(e / r);
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s H C K N [reps]\n", argv[0]); return 2; }
    const int H = atoi(argv[1]), C = atoi(argv[2]), K = atoi(argv[3]), N = atoi(argv[4]), reps = argc > 5 ? atoi(argv[5]) : 5;
    const long block = 48, P = (long)N * H * H, c4 = vgg_lowp_k4(C), n16 = vgg_lowp_n16(K), kk = 9L * C, kk4 = vgg_lowp_k4(kk);
    vgg_conv_shape s;
    memset(&s, 0, sizeof s);
    s.n = N; s.h = s.w = s.oh = s.ow = H; s.c = C; s.k = K; s.kh = s.kw = 3; s.sh = s.sw = s.dh = s.dw = 1; s.pad_top = s.pad_left = 1;
    const long T = vgg_winograd_tiles(&s);
    float *in = malloc(4 * P * C), *w = malloc(4 * kk * K), *u = malloc(4L * 16 * C * K), *out = malloc(4 * P * K), *bias = malloc(4L * K);
    for (long p = 0; p < P; p++) {
        const int y = (int)(p / H % H), x = (int)(p % H);
        for (int c = 0; c < C; c++) {
            const double v = sin(0.3 * y + 0.7 * c) + cos(0.2 * x * (c % 5 + 1)) + 0.5 * uniform() - 0.3;
            in[p * C + c] = v > 0 ? (float)v : 0.f;
        }
    }
    for (long i = 0; i < kk * K; i++) w[i] = (float)((uniform() - 0.5) * 0.1);
    for (int k = 0; k < K; k++) bias[k] = (float)(uniform() * 0.1);

    // Winograd: the transformed kernel requantized per filter, scratch for one block.
    vgg_winograd_kernel_transform(w, C, K, u, 0, K, 0);
    int8_t *up = aligned_alloc(64, (16 * c4 * n16 + 63) / 64 * 64);
    float *usc = malloc(4 * 16 * n16), *uof = malloc(4 * 16 * n16);
    vgg_winograd_int8_pack(u, C, K, 0, 16, up, usc, uof);
    uint8_t *vq = aligned_alloc(64, (16 * block * c4 + 63) / 64 * 64);
    float *rs = malloc(4 * 16 * block), *zr = malloc(4 * 16 * block), *tile = malloc(4L * 16 * C), *mm = malloc(4 * 16 * block * 64);
    // Direct: per-channel weight scales, the input's largest value over 255 steps.
    int8_t *wq = malloc(kk * K), *dp = aligned_alloc(64, (kk4 * n16 + 63) / 64 * 64);
    float *sw = malloc(4L * K), *sc = malloc(4 * n16), *of = malloc(4 * n16);
    int32_t *wsum = malloc(4L * K);
    for (int k = 0; k < K; k++) {
        float m = 0;
        for (long i = 0; i < kk; i++) m = fmaxf(m, fabsf(w[i * K + k]));
        sw[k] = m / 127;
        for (long i = 0; i < kk; i++) wq[i * K + k] = (int8_t)rintf(w[i * K + k] / sw[k]);
    }
    vgg_lowp_pack_s8(wq, kk, K, dp, wsum);
    float mx = 0;
    for (long i = 0; i < P * C; i++) mx = fmaxf(mx, in[i]);
    const float sx = mx / 255;
    for (long j = 0; j < n16; j++) { sc[j] = j < K ? sx * sw[j] : 0; of[j] = j < K ? bias[j] : 0; }
    uint8_t *inq = malloc(P * C), *col = aligned_alloc(64, (96 * kk4 + 63) / 64 * 64);

    double best_w = 1e30, best_d = 1e30;
    float *yw = malloc(4 * P * K);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (long t = 0; t < T; t += block)
            vgg_winograd2_tiles_run_int8(&s, in, up, usc, uof, bias, 1, yw, 0, 0, t, t + block < T ? t + block : T, vq, rs, zr, tile, mm);
        const double tw = now() - t0;
        t0 = now();
        vgg_lowp_quantize_u8(in, inq, P * C, 1 / sx, 0);
        for (long m = 0; m < P; m += 96) {
            const long e = m + 96 < P ? m + 96 : P;
            vgg_lowp_im2col_u8(&s, inq, m, e, col, kk4, 0);
            vgg_lowp_gemm_u8s8(col, e - m, kk4, kk4, dp, 0, n16 / 16, sc, of, 1, out + m * K, K, K);
        }
        const double td = now() - t0;
        if (r > 0 || reps == 1) { best_w = fmin(best_w, tw); best_d = fmin(best_d, td); }
    }
    printf("%dx%dx%d -> %d, batch %d: int8 Winograd F(2x2) %.2f ms, direct int8 %.2f ms: %.2fx", H, H, C, K, N, best_w * 1e3, best_d * 1e3,
           best_d / best_w);
    const char *e = getenv("ERROR");
    if (e && e[0] == '1') {
        double *ref = malloc(8 * P * K);
        for (long p = 0; p < P; p++) {
            const int b = (int)(p / ((long)H * H)), y = (int)(p / H % H), x = (int)(p % H);
            for (int k = 0; k < K; k++) {
                double a = bias[k];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        const int iy = y + ky - 1, ix = x + kx - 1;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= H) continue;
                        const float *xp = in + (((long)b * H + iy) * H + ix) * C;
                        const float *wp = w + (long)(ky * 3 + kx) * C * K + k;
                        for (int c = 0; c < C; c++) a += xp[c] * (double)wp[(long)c * K];
                    }
                ref[p * K + k] = a > 0 ? a : 0;
            }
        }
        printf("; relative RMS error %.4f (Winograd), %.4f (direct)", rms(yw, ref, P * K), rms(out, ref, P * K));
    }
    printf("\n");
    return 0;
}
