// STREAM-style copy bandwidth (McCalpin's "Copy" kernel, c[i] = a[i]) with T threads, each copying its own
// contiguous part of two arrays far larger than the caches. Reports the best of R repetitions as STREAM does:
// bytes counted = 2 x array bytes (one read, one write), per second. Also a read-only pass (the sum of a, the
// traffic a matrix-vector product makes), bytes counted = array bytes. Used by bench/dense_bandwidth.sh as the
// memory bandwidth a batch-1 Dense layer is compared with. Built with -fno-builtin so that the copy loop stays
// a loop (as STREAM's) instead of becoming glibc's memcpy.
//   stream_copy [MB per array] [threads] [repetitions]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { float *a, *c; long n; double sum; } part;

static void *copy_part(void *p) {
    part *q = p;
    float *restrict c = q->c;
    const float *restrict a = q->a;
    for (long i = 0; i < q->n; i++) c[i] = a[i];
    return NULL;
}

static void *sum_part(void *p) {
    part *q = p;
    const float *restrict a = q->a;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    long i = 0;
    for (; i + 8 <= q->n; i += 8) {
        s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3];
        s4 += a[i + 4]; s5 += a[i + 5]; s6 += a[i + 6]; s7 += a[i + 7];
    }
    for (; i < q->n; i++) s0 += a[i];
    q->sum = (double)s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const long mb = argc > 1 ? atol(argv[1]) : 512;
    const int threads = argc > 2 ? atoi(argv[2]) : 2;
    const int reps = argc > 3 ? atoi(argv[3]) : 10;
    const long n = mb * (1L << 20) / (long)sizeof(float);
    float *a = aligned_alloc(64, n * sizeof(float)), *c = aligned_alloc(64, n * sizeof(float));
    if (!a || !c || threads < 1 || threads > 256) return 1;
    for (long i = 0; i < n; i++) { a[i] = (float)i; c[i] = 0; }  // pages touched before timing
    pthread_t tid[256];
    part parts[256];
    double best[2] = {1e30, 1e30}, total = 0;
    for (int r = 0; r < reps; r++) {
        for (int kind = 0; kind < 2; kind++) {  // 0: copy, 1: read
            double t0 = now();
            for (int t = 0; t < threads; t++) {
                long b = n * t / threads, e = n * (t + 1) / threads;
                parts[t] = (part){a + b, c + b, e - b, 0};
                pthread_create(&tid[t], NULL, kind == 0 ? copy_part : sum_part, &parts[t]);
            }
            for (int t = 0; t < threads; t++) { pthread_join(tid[t], NULL); total += parts[t].sum; }
            double s = now() - t0;
            if (s < best[kind]) best[kind] = s;
        }
    }
    if (c[n - 1] != (float)(n - 1) || total == 0) return 2;  // the passes happened
    printf("{\"threads\": %d, \"array_mb\": %ld, \"copy_gb_per_s\": %.3f, \"read_gb_per_s\": %.3f}\n", threads, mb,
           2.0 * n * sizeof(float) / best[0] / 1e9, 1.0 * n * sizeof(float) / best[1] / 1e9);
    return 0;
}
