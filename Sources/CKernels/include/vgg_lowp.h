// Reduced-precision kernels of vggtool's runtime (docs/precision.md): int8 (u8 activations x s8 weights,
// int32 accumulation, AVX512-VNNI vpdpbusd) and bfloat16 (bf16 pairs, fp32 accumulation, AVX512-BF16
// vdpbf16ps), each with a portable scalar fallback giving the same kind of result (int8: the same bits;
// bf16: the same products, summed in another order). Matrices are row-major; activations NHWC.
#ifndef VGGTOOL_LOWP_H
#define VGGTOOL_LOWP_H
#include <stddef.h>
#include <stdint.h>
#include "vgg_kernels.h"

/// 1 when the CPU has AVX512-VNNI (and AVX512BW/VL) and the fallback is not forced; the int8 GEMM uses it.
int vgg_lowp_has_vnni(void);
/// 1 when the CPU has AVX512-BF16 (and AVX512BW/VL) and the fallback is not forced; the bf16 GEMM uses it.
int vgg_lowp_has_bf16(void);
/// Forces (1) or stops forcing (0) the scalar fallbacks, whatever the CPU has (tests; VGGTOOL_FORCE_FALLBACK=1
/// in the environment forces them from the start).
void vgg_lowp_force_fallback(int on);

/// Padded sizes: K rounded up to 4 (int8) or 2 (bf16); N rounded up to 16 (one 512-bit vector of outputs).
static inline long vgg_lowp_k4(long k) { return (k + 3) / 4 * 4; }
static inline long vgg_lowp_k2(long k) { return (k + 1) / 2 * 2; }
static inline long vgg_lowp_n16(long n) { return (n + 15) / 16 * 16; }

/// Packs a K x N int8 weight matrix (row-major: HWIO kernels flattened to (kh*kw*c) x k, Dense (in, units))
/// for the int8 GEMM: n16/16 blocks of 16 columns, each k4/4 groups of 64 bytes (column j's 4 consecutive k
/// values at bytes 4j..4j+3); padding is zero. packed holds k4 * n16 bytes. wsum (n values) gets each
/// column's sum of weights (for the activations' zero point).
void vgg_lowp_pack_s8(const int8_t *w, long k, long n, int8_t *packed, int32_t *wsum);
/// Packs a K x N float32 weight matrix as bfloat16 (round to nearest even) for the bf16 GEMM: n16/16 blocks,
/// each k2/2 groups of 16 column pairs (32 values, 64 bytes). packed holds k2 * n16 values.
void vgg_lowp_pack_bf16(const float *w, long k, long n, uint16_t *packed);

/// q = clamp(round_half_even(x * inv_scale) + zero_point, 0, 255) over [0, count); NaN gives zero_point.
void vgg_lowp_quantize_u8(const float *x, uint8_t *q, long count, float inv_scale, int zero_point);
/// Each of `rows` rows of `cols` floats (x, contiguous) quantized with its own scale and zero point from its
/// range [lo[r], hi[r]] (lo <= 0 <= hi): scale = (hi - lo) / 255, zero = round(-lo * 255 / (hi - lo)),
/// q[r * ldq + c] = clamp(round_half_even(x * 255 / (hi - lo)) + zero, 0, 255) (0 for NaN), columns [cols, pad)
/// 0; rs[r * ldrs] = scale and zr[r * ldrs] = zero (both 0 for an empty or infinite range, whose bytes are 0).
void vgg_lowp_quantize_rows(const float *x, long rows, long cols, const float *lo, const float *hi, uint8_t *q, long ldq, long pad,
                            float *rs, float *zr, long ldrs);
/// The products of an int8 Winograd block for filters [kc, kc + w) (w <= 64, kc a multiple of 16): for each of the
/// `area` transformed matrices i, vgg_lowp_gemm_u8s8_rows of its T u8 rows (vq + i * T * c4) with its packed kernel
/// (upacked + i * c4 * n16), scales and offsets (+ i * n16), row scales and zero points (+ i * T), into mm + i * T * 64
/// (64 columns per row); n is the filter count.
void vgg_lowp_winograd_products(int area, long T, long c4, long n16, const uint8_t *vq, const int8_t *upacked, const float *uscale,
                                const float *uoffset, const float *rs, const float *zr, float *mm, int kc, int w, long n);
/// Each row's smallest and largest value together with 0 (lo <= 0 <= hi; NaN skipped), for vgg_lowp_quantize_rows.
void vgg_lowp_row_ranges(const float *x, long rows, long cols, float *lo, float *hi);
/// Rows of `cols` floats into rows of `ld` u8 values (the columns past `cols` zero): a Dense input padded to k4.
void vgg_lowp_quantize_u8_rows(const float *x, uint8_t *q, long rows, long cols, long ld, float inv_scale, int zero_point);
/// float32 -> bfloat16, round to nearest even (NaN stays NaN; with AVX512-BF16, values below float32's normal
/// range become zero), over [0, count).
void vgg_lowp_to_bf16(const float *x, uint16_t *y, long count);
/// Rows of `cols` floats into rows of `ld` bf16 values (the columns past `cols` zero).
void vgg_lowp_to_bf16_rows(const float *x, uint16_t *y, long rows, long cols, long ld);

/// im2col over 1-byte elements: output rows [m0, m1) of the (n*oh*ow) convolution into col, each row
/// kh*kw*c values then zeros up to ld; taps outside the image read `pad` (the zero point). in is NHWC u8.
void vgg_lowp_im2col_u8(const vgg_conv_shape *s, const uint8_t *in, long m0, long m1, uint8_t *col, long ld, uint8_t pad);
/// im2col over 2-byte elements (bf16), taps outside the image 0.
void vgg_lowp_im2col_u16(const vgg_conv_shape *s, const uint16_t *in, long m0, long m1, uint16_t *col, long ld);

/// int8 GEMM with fused requantization: for rows [0, m) of a (u8, m x lda, the first k4 columns used) and
/// the 16-column blocks [b0, b1) of packed (vgg_lowp_pack_s8 of a k x n matrix, k4 = vgg_lowp_k4(k)),
/// out[i, j] = float(sum_k a[i,k] * w[k,j]) * scale[j] + offset[j], then max(0, .) when relu; columns >= n
/// are not written. out has row stride ldo. scale and offset hold n16 values (the caller folds input scale,
/// weight scale, zero point and bias into them: scale = s_x * s_w[j], offset = bias[j] - zp * wsum[j] * scale).
void vgg_lowp_gemm_u8s8(const uint8_t *a, long m, long lda, long k4, const int8_t *packed, long b0, long b1,
                        const float *scale, const float *offset, int relu, float *out, long ldo, long n);
/// As vgg_lowp_gemm_u8s8 without ReLU for rows with their own scale and zero point: out[i, j - jo] =
/// fmaf(rowzero[i], offset[j], float(sum_k a[i,k] * w[k,j]) * scale[j]) * rowscale[i] (offset = -wsum * scale:
/// the zero point's correction), column j written at out[i * ldo + j - jo] (a block of columns into a
/// narrower buffer).
void vgg_lowp_gemm_u8s8_rows(const uint8_t *a, long m, long lda, long k4, const int8_t *packed, long b0, long b1,
                             const float *scale, const float *offset, const float *rowscale, const float *rowzero, float *out, long ldo,
                             long jo, long n);
/// int8 Winograd kernels: for the transformed matrices [i0, i1) of u (float32 c x k matrices: the 16 of F(2x2) or 36 of
/// F(4x4), unpacked vgg_winograd_kernel_transform / vgg_winograd4_kernel_transform), symmetric int8 per (matrix, filter): s = max |U[i][., j]| / 127,
/// q = round_half_even(U / s); packed as vgg_lowp_pack_s8 at upacked + i * k4(c) * n16(k), uscale[i * n16 + j] = s and
/// uoffset[i * n16 + j] = -sum_r q[r][j] * s (times a row's zero point: its correction), zero past k.
void vgg_winograd_int8_pack(const float *u, int c, int k, int i0, int i1, int8_t *upacked, float *uscale, float *uoffset);
/// Tiles [t0, t1) (all filters) of an int8 Winograd F(2x2,3x3) convolution of
/// float32 NHWC input: each tile's 16 transformed rows (B^T d B over the c channels, float32) are quantized to
/// u8 with their own scale and zero point (vgg_lowp_quantize_rows over the row's range), multiplied by the
/// packed int8 kernels (vpdpbusd, int32), scaled back to float32 (vgg_lowp_gemm_u8s8_rows), and the output
/// transform adds the bias (may be NULL) and applies ReLU when relu. With ph > 0, out is instead the output
/// max-pooled 2x2 with stride 2 (n x ph x pw x k, each tile's largest output; ph = oh / 2 as 'valid' pooling,
/// or (oh + 1) / 2 as 'same', whose last window holds the outputs that exist). Scratch: vq 16 x T x k4(c)
/// bytes, rs and zr 16 x T floats each, tile 16 x c floats, mm 16 x T x 64 floats (T = t1 - t0).
void vgg_winograd2_tiles_run_int8(const vgg_conv_shape *s, const float *in, const int8_t *upacked, const float *uscale,
                                  const float *uoffset, const float *bias, int relu, float *out, int ph, int pw, long t0,
                                  long t1, uint8_t *vq, float *rs, float *zr, float *tile, float *mm);
/// As vgg_winograd2_tiles_run_int8 for Winograd F(4x4,3x3) (winograd.c's transforms, 6x6 input tiles, 36 transformed
/// rows per tile; vgg_winograd4_tiles counts the tiles): vq 36 x T x k4(c) bytes, rs and zr 36 x T floats, tile
/// 36 x c floats, mm 36 x T x 64 floats. With ph > 0 each 4x4 output tile gives its four 2x2 windows' maxima
/// (those inside the pooled output, over the outputs that exist).
void vgg_winograd4_tiles_run_int8(const vgg_conv_shape *s, const float *in, const int8_t *upacked, const float *uscale,
                                  const float *uoffset, const float *bias, int relu, float *out, int ph, int pw, long t0,
                                  long t1, uint8_t *vq, float *rs, float *zr, float *tile, float *mm);
/// bf16 GEMM: out[i, j] = sum_k a[i,k] * w[k,j] (products of bf16 values accumulated in float32) + bias[j]
/// (bias may be NULL), then max(0, .) when relu; rows [0, m) of a (bf16, m x lda, k2 columns used), column
/// blocks [b0, b1) of packed (vgg_lowp_pack_bf16), columns >= n not written; out row stride ldo.
void vgg_lowp_gemm_bf16(const uint16_t *a, long m, long lda, long k2, const uint16_t *packed, long b0, long b1,
                        const float *bias, int relu, float *out, long ldo, long n);
/// Tiles [t0, t1) of a bf16 Winograd F(2x2,3x3) convolution: the input transform in float32, each of the 16
/// transformed matrices rounded to bf16 rows (T x k2(C)) and multiplied by upacked (the 16 transformed kernel
/// matrices, each vgg_lowp_pack_bf16 of C x K, k2(C) * n16(K) values apart) with float32 accumulation, then
/// the output transform plus bias in float32. v, vb, mm hold 16 x (t1 - t0) x (C floats, k2(C) bf16, K floats).
void vgg_winograd2_tiles_run_bf16(const vgg_conv_shape *s, const float *in, const uint16_t *upacked, const float *bias,
                                  float *out, long t0, long t1, float *v, uint16_t *vb, float *mm);
/// Calibration statistics: folds |x| over [0, count) into hist (`bins` equal bins over [0, *range); values at or
/// past the range go to the last bin), first doubling *range (merging bin pairs) until it covers the largest |x|
/// (a zero *range becomes that value); lowers *minv to the smallest x and raises *maxabs to the largest |x|.
/// NaN values are skipped. bins must be even.
void vgg_lowp_histogram(const float *x, long count, uint64_t *hist, long bins, float *range, float *minv, float *maxabs);
#endif
