#define _GNU_SOURCE
#include <unistd.h>
#include <sys/types.h>
#include <fcntl.h>
#include "vgg_support.h"
#include <string.h>
#include <errno.h>
#include <stdio.h>
#include <malloc.h>

static uint32_t table[8][256];
static int table_ready = 0;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc_soft(uint32_t c, const uint8_t *p, size_t n) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();
    while (n >= 8) {
        uint64_t w; memcpy(&w, p, 8);
        w ^= c;
        c = table[7][w & 0xFF] ^ table[6][(w >> 8) & 0xFF] ^ table[5][(w >> 16) & 0xFF] ^ table[4][(w >> 24) & 0xFF] ^
            table[3][(w >> 32) & 0xFF] ^ table[2][(w >> 40) & 0xFF] ^ table[1][(w >> 48) & 0xFF] ^ table[0][w >> 56];
        p += 8; n -= 8;
    }
    while (n--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
    return c;
}

// CRC-32C of A followed by B from crc(A), crc(B) and B's length (as zlib's crc32_combine): crc(A) times
// x^(8 len(B)) modulo the polynomial, plus crc(B). Values are final (conditioned) CRCs.
static uint32_t multmodp(uint32_t a, uint32_t b) {
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ 0x82F63B78u : b >> 1;
    }
    return p;
}

// x^(8n) modulo the polynomial (reflected), by squaring: x^(2^k) for k = 3, 4, ...
static uint32_t x8nmodp(size_t n) {
    uint32_t p = 1u << 31, x2k = 1u << 30;  // x^0 and x^1
    for (int k = 0; k < 3; k++) x2k = multmodp(x2k, x2k);
    while (n) {
        if (n & 1) p = multmodp(x2k, p);
        n >>= 1;
        x2k = multmodp(x2k, x2k);
    }
    return p;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n) {
    uint64_t c64 = c;
    // The crc32 instruction has a 3-cycle latency and a throughput of one per cycle: three independent
    // streams over the three thirds of a large buffer, joined with x8nmodp, run about 3x faster than one.
    if (n >= 3 * 4096) {
        const size_t lane = n / 3 / 8 * 8;
        const uint8_t *p1 = p + lane, *p2 = p + 2 * lane;
        uint64_t c1 = 0xFFFFFFFFu, c2 = 0xFFFFFFFFu;  // the two later thirds start as a CRC from 0
        for (size_t i = 0; i < lane; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8); memcpy(&w1, p1 + i, 8); memcpy(&w2, p2 + i, 8);
            c64 = _mm_crc32_u64(c64, w0); c1 = _mm_crc32_u64(c1, w1); c2 = _mm_crc32_u64(c2, w2);
        }
        const uint32_t shift = x8nmodp(lane);
        uint32_t f = multmodp(shift, ~(uint32_t)c64) ^ ~(uint32_t)c1;
        f = multmodp(shift, f) ^ ~(uint32_t)c2;
        c64 = ~f;
        p += 3 * lane; n -= 3 * lane;
    }
    while (n >= 8) { uint64_t w; memcpy(&w, p, 8); c64 = _mm_crc32_u64(c64, w); p += 8; n -= 8; }
    c = (uint32_t)c64;
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

uint32_t vgg_crc32c(uint32_t crc, const void *data, size_t length) {
    uint32_t c = ~crc;
    const uint8_t *p = (const uint8_t *)data;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return ~crc_hw(c, p, length);
#endif
    return ~crc_soft(c, p, length);
}

static inline uint16_t f32_to_f16_one(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7FFFFFFFu;
    if (absx >= 0x7F800000u) return (uint16_t)(sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u | ((absx >> 13) & 0x3FFu) : 0));
    if (absx >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);               // overflow -> inf
    if (absx < 0x38800000u) {                                                   // subnormal or zero
        if (absx < 0x33000000u) return (uint16_t)sign;
        uint32_t mant = (absx & 0x7FFFFFu) | 0x800000u;
        int shift = 126 - (int)(absx >> 23);  // 14..24
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        uint32_t r = mant >> shift;
        if (rem > halfway || (rem == halfway && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((absx - 0x38000000u) >> 13);
    uint32_t rem = absx & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

static inline float f16_to_f32_one(uint16_t h) {
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, x;
    if (exp == 0) {
        if (mant == 0) x = sign;
        else { int e = -1; do { e++; mant <<= 1; } while (!(mant & 0x400)); x = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3FF) << 13); }
    } else if (exp == 31) x = sign | 0x7F800000u | (mant << 13);
    else x = sign | ((exp + 112) << 23) | (mant << 13);
    float f; memcpy(&f, &x, 4); return f;
}

void vgg_f32_to_f16(const float *src, uint16_t *dst, size_t n) { for (size_t i = 0; i < n; i++) dst[i] = f32_to_f16_one(src[i]); }
void vgg_f16_to_f32(const uint16_t *src, float *dst, size_t n) { for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32_one(src[i]); }
void vgg_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t x; memcpy(&x, &src[i], 4);
        if ((x & 0x7FFFFFFFu) > 0x7F800000u) { dst[i] = (uint16_t)((x >> 16) | 0x40); continue; }  // quiet NaN
        x += 0x7FFFu + ((x >> 16) & 1);
        dst[i] = (uint16_t)(x >> 16);
    }
}
void vgg_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) { uint32_t x = (uint32_t)src[i] << 16; memcpy(&dst[i], &x, 4); }
}

// OpenBLAS (pthread build) starts a pool of worker threads when it is loaded, and each spins (sched_yield)
// for about 0.1 s before it sleeps. Its own fork handler stops them with this function; the next threaded
// BLAS call starts them again. Weak: absent when OpenBLAS is not linked.
extern int blas_thread_shutdown_(void) __attribute__((weak));

void vgg_blas_stop_idle_threads(void) {
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

int vgg_start_writeback(int fd, long long offset, long long count) {
    return sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE);
}

const void *vgg_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len) {
    return memmem(haystack, haystack_len, needle, needle_len);
}

int vgg_open_tmpfile(const char *dir, unsigned int mode) {
#ifdef O_TMPFILE
    return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
#else
    errno = EOPNOTSUPP;
    return -1;
#endif
}

int vgg_link_fd(int fd, int dirfd, const char *name) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0) return 0;
    if (errno == EEXIST || errno == ENOSPC || errno == EROFS || errno == EDQUOT || errno == EIO) return -1;
    int first = errno;
    if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0) return 0;
    if (errno == EEXIST) return -1;
    errno = first;
    return -1;
}

int vgg_lock_fd(int fd) {
    struct flock l;
    memset(&l, 0, sizeof l);
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    return fcntl(fd, F_OFD_SETLK, &l);
}

int vgg_lock_held(int fd) {
    struct flock l;
    memset(&l, 0, sizeof l);
    l.l_type = F_RDLCK;
    l.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_GETLK, &l) != 0) return -1;
    return l.l_type == F_UNLCK ? 0 : 1;
}

int vgg_set_mmap_threshold(size_t bytes) {
    return mallopt(M_MMAP_THRESHOLD, (int)bytes);
}
