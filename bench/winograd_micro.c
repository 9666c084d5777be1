// One convolution layer on one core, the kernels alone (no Swift, no threads): Winograd F(2x2), F(4x4) and
// F(6x6) over all tiles, in the blocks the runtime uses, and the GEMMs of F(2x2) and F(4x4) alone. Times are
// the thread's CPU time (less disturbed by other processes than wall time), best of `reps` runs.
//   winograd_micro H C N [reps]   (an HxH image with C input and C output channels, batch N; 'same')
#include "vgg_kernels.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

typedef void (*run_fn)(const vgg_conv_shape *, const float *, const float *, const float *, int, float *, long, long, float *, float *);

static void run2(const vgg_conv_shape *s, const float *in, const float *u, const float *b, int relu, float *out, long t0, long t1, float *v, float *m) {
    (void)relu;
    vgg_winograd_tiles_run(s, in, u, b, out, t0, t1, v, m);
}

static double time_tiles(run_fn f, const vgg_conv_shape *s, long tiles, int blk, int area, const float *in, const float *u, float *out, float *work) {
    const double t0 = now();
    for (long t = 0; t < tiles; t += blk) {
        const long e = t + blk < tiles ? t + blk : tiles;
        f(s, in, u, NULL, 1, out, t, e, work, work + (long)area * (e - t) * s->c);
    }
    return now() - t0;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s H C N [reps]\n", argv[0]); return 2; }
    const int H = atoi(argv[1]), C = atoi(argv[2]), K = C, N = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 5;
    openblas_set_num_threads(1);
    vgg_conv_shape s = {N, H, H, C, H, H, K, 3, 3, 1, 1, 1, 1, 1, 1};
    float *in = malloc(sizeof(float) * (size_t)N * H * H * C), *out = malloc(sizeof(float) * (size_t)N * H * H * K);
    float *w = malloc(sizeof(float) * 9L * C * K);
    for (long i = 0; i < (long)N * H * H * C; i++) in[i] = (float)(i % 97) / 97.0f;
    for (long i = 0; i < 9L * C * K; i++) w[i] = (float)(i % 13) / 130.0f;
    float *u2 = malloc(sizeof(float) * 16L * C * K), *u4 = malloc(sizeof(float) * 36L * C * K), *u6 = malloc(sizeof(float) * 64L * C * K);
    vgg_winograd_kernel_transform(w, C, K, u2, 0, K, vgg_winograd_packs(K));
    vgg_winograd4_kernel_transform(w, C, K, u4, 0, K, vgg_winograd_packs(K));
    vgg_winograd6_kernel_transform(w, C, K, u6, 0, K, vgg_winograd_packs(K));
    const int b2 = 160, b4 = 128, b6 = 96;  // the runtime's blocks (ConvolutionKernel)
    float *work = malloc(sizeof(float) * 64L * 160 * (C + K));
    const long T2 = vgg_winograd_tiles(&s), T4 = vgg_winograd4_tiles(&s), T6 = vgg_winograd6_tiles(&s);
    const double flops = 2.0 * N * H * H * K * C * 9;  // the direct convolution's
    double best[3] = {1e9, 1e9, 1e9};
    for (int r = 0; r < reps; r++) {  // alternating, so a busy moment hits all three alike
        double t;
        t = time_tiles(run2, &s, T2, b2, 16, in, u2, out, work); if (t < best[0]) best[0] = t;
        t = time_tiles(vgg_winograd4_tiles_run, &s, T4, b4, 36, in, u4, out, work); if (t < best[1]) best[1] = t;
        t = time_tiles(vgg_winograd6_tiles_run, &s, T6, b6, 64, in, u6, out, work); if (t < best[2]) best[2] = t;
    }
    printf("%dx%dx%d -> %d, batch %d, one core: F(2x2) %.2f ms (%.0f GFLOP/s effective), F(4x4) %.2f ms (%.0f), F(6x6) %.2f ms (%.0f)\n",
           H, H, C, K, N, best[0] * 1e3, flops / best[0] / 1e9, best[1] * 1e3, flops / best[1] / 1e9, best[2] * 1e3, flops / best[2] / 1e9);
    return 0;
}
