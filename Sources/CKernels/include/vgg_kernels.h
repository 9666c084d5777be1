// CPU kernels of vggtool's runtime. All tensors are float32, NHWC, contiguous. Matrix products go through
// OpenBLAS's cblas_sgemm, which the caller runs single-threaded: the runtime splits work across cores itself
// (row ranges, tile ranges), so OpenBLAS's threads and the runtime's never compete.
#ifndef VGGTOOL_KERNELS_H
#define VGGTOOL_KERNELS_H
#include <stddef.h>

/// A 2-D convolution's geometry (Keras semantics: output = floor/ceil as for 'valid'/'same', padding split
/// with the smaller half before, as TensorFlow does).
typedef struct {
    int n, h, w, c;          // input
    int oh, ow, k;           // output height, width, channels (filters)
    int kh, kw;              // kernel size
    int sh, sw;              // strides
    int dh, dw;              // dilation
    int pad_top, pad_left;   // zero padding before the first row / column
} vgg_conv_shape;

/// Convolution by im2col + GEMM over output rows [m0, m1) of the (n*oh*ow) x k output matrix, in tiles of
/// at most `scratch_rows` rows (scratch holds scratch_rows * kh*kw*c floats). kernel: HWIO, i.e. a
/// (kh*kw*c) x k matrix. bias may be NULL. A 1x1, stride-1, unpadded convolution needs no scratch.
void vgg_conv2d_gemm_rows(const vgg_conv_shape *s, const float *in, const float *kernel, const float *bias,
                          float *out, long m0, long m1, float *scratch, long scratch_rows);
/// Whether vgg_conv2d_gemm_rows computes this convolution directly instead (at most 4 input channels, filters
/// a multiple of 64: im2col rows too short for sgemm), needing no scratch.
int vgg_conv2d_direct_applies(const vgg_conv_shape *s);
/// The direct convolution of output rows [m0, m1) (see vgg_conv2d_direct_applies): each sum over the taps in
/// (ky, kx, c) order, taps outside the image skipped, then the bias.
void vgg_conv2d_direct_rows(const vgg_conv_shape *s, const float *in, const float *kernel, const float *bias, float *out, long m0,
                            long m1);

/// Winograd F(2x2, 3x3) for 3x3 stride-1 undilated convolutions.
/// Kernel transform: U (16 x c x k) from the HWIO kernel; k-columns [k0, k1) only (packed: see
/// vgg_winograd_packs; [k0, k1) then need not be aligned to 64).
void vgg_winograd_kernel_transform(const float *kernel, int c, int k, float *u, int k0, int k1, int packed);
/// Number of 2x2 output tiles: n * ceil(oh/2) * ceil(ow/2).
long vgg_winograd_tiles(const vgg_conv_shape *s);
/// Tiles [t0, t1): input transform into v (16 x (t1-t0) x c), 16 GEMMs with u into m (16 x (t1-t0) x k),
/// output transform plus bias into out.
void vgg_winograd_tiles_run(const vgg_conv_shape *s, const float *in, const float *u, const float *bias,
                            float *out, long t0, long t1, float *v, float *m);

/// Winograd F(4x4, 3x3) for 3x3 stride-1 undilated convolutions (winograd.c: interpolation points 0, +-1,
/// +-2, infinity). Kernel transform: U (36 x c x k) from the HWIO kernel, k-columns [k0, k1) only, computed
/// in double and rounded once.
void vgg_winograd4_kernel_transform(const float *kernel, int c, int k, float *u, int k0, int k1, int packed);
/// Number of 4x4 output tiles: n * ceil(oh/4) * ceil(ow/4).
long vgg_winograd4_tiles(const vgg_conv_shape *s);
/// Tiles [t0, t1): input transform into v (36 x (t1-t0) x c), 36 GEMMs with u into m (36 x (t1-t0) x k),
/// output transform plus bias (then ReLU when relu != 0) into out. Tiles are numbered batch-major, then tile
/// row, then tile column; tiles at the right and bottom edges may cover pixels outside the output, which are
/// not written.
void vgg_winograd4_tiles_run(const vgg_conv_shape *s, const float *in, const float *u, const float *bias, int relu,
                             float *out, long t0, long t1, float *v, float *m);

/// Winograd F(6x6, 3x3) (winograd.c: points 0, +-1, +-1/2, +-2, infinity): as F(4x4) with 8x8 input tiles,
/// U and v and m holding 64 matrices, and n * ceil(oh/6) * ceil(ow/6) tiles.
void vgg_winograd6_kernel_transform(const float *kernel, int c, int k, float *u, int k0, int k1, int packed);
/// Number of 6x6 output tiles: n * ceil(oh/6) * ceil(ow/6).
long vgg_winograd6_tiles(const vgg_conv_shape *s);
/// As vgg_winograd4_tiles_run with v (64 x (t1-t0) x c) and m (64 x (t1-t0) x k).
void vgg_winograd6_tiles_run(const vgg_conv_shape *s, const float *in, const float *u, const float *bias, int relu,
                             float *out, long t0, long t1, float *v, float *m);

/// The three phases of vgg_winograd4/6_tiles_run, for a block of T tiles starting at tile tb shared by
/// several threads (`tile` = 4 or 6; v and m hold (tile+2)^2 matrices of T x c and T x k). Input transform of
/// tiles [t0, t1) of the block:
void vgg_winograd_block_input(int tile, const vgg_conv_shape *s, const float *in, long t0, long t1, long tb, long T, float *v);
/// Products i in [i0, i1): m[i] (T x k) = v[i] (T x c) * u[i] (c x k).
void vgg_winograd_block_products(const vgg_conv_shape *s, long T, const float *v, const float *u, float *m, int i0, int i1);
/// Output transform plus bias (then ReLU when relu != 0) of tiles [t0, t1) of the block.
void vgg_winograd_block_output(int tile, const vgg_conv_shape *s, const float *m, const float *bias, int relu, float *out,
                               long t0, long t1, long tb, long T);

/// Whether float32 Winograd kernels with k filters are kept packed (k a multiple of 64): each transformed matrix
/// U[i] (c x k) as k/64 panels of c x 64, so the products need not pack it (vgg_winograd_product).
/// The kernel transforms write that layout when `packed` is non-zero (only valid when vgg_winograd_packs(k));
/// the float32 tiles_run and block_products functions expect it whenever vgg_winograd_packs(k).
int vgg_winograd_packs(int k);
/// Where row ci of a transformed kernel matrix keeps the filters of kb's block (both layouts): filter ko of that
/// block is at offset + ko from the matrix's start. The block is [kb, vgg_winograd_block_end(kb, k1, packed)):
/// one 64-filter panel when packed, else all of [kb, k1).
static inline long vgg_winograd_row_offset(int c, int k, int ci, int kb, int packed) {
    return packed ? ((long)(kb / 64) * c + ci) * 64 - (long)(kb / 64) * 64 : (long)ci * k;
}
static inline int vgg_winograd_block_end(int kb, int k1, int packed) {
    const int panel_end = (kb / 64 + 1) * 64;
    return packed && panel_end < k1 ? panel_end : k1;
}
/// Tile t's position in a Winograd grid of tiles_y x tiles_x tiles per image (tiles numbered row by row, image
/// by image): *ty and *tx, and the image as the result.
static inline long vgg_tile_coords(long t, int tiles_y, int tiles_x, int *ty, int *tx) {
    *tx = (int)(t % tiles_x);
    t /= tiles_x;
    *ty = (int)(t % tiles_y);
    return t / tiles_y;
}
/// The (m + 2) x (m + 2) input pixels of Winograd F(m x m, 3x3) tile t (row by row): pointers to their channels
/// in NHWC `in`, `zrow` (C zeros) for those outside the image.
static inline void vgg_tile_rows(const vgg_conv_shape *s, int m, const float *in, const float *zrow, long t, const float **rows) {
    const int n = m + 2, ty_n = (s->oh + m - 1) / m, tx_n = (s->ow + m - 1) / m;
    int ty, tx;
    const long b = vgg_tile_coords(t, ty_n, tx_n, &ty, &tx);
    const int y0 = ty * m - s->pad_top, x0 = tx * m - s->pad_left;
    for (int dy = 0; dy < n; dy++)
        for (int dx = 0; dx < n; dx++) {
            const int iy = y0 + dy, ix = x0 + dx;
            rows[dy * n + dx] = (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) ? zrow : in + ((b * s->h + iy) * s->w + ix) * s->c;
        }
}
/// m (T x K) = v (T x C) * U, one transformed matrix's product: from the packed layout when vgg_winograd_packs(K)
/// (each output one chain of fused multiply-adds over the channels in order, from zero, the same bits on every
/// instruction set), else by sgemm.
void vgg_winograd_product(long T, int C, int K, const float *v, const float *u, float *m);

/// Instruction sets of the run-time-dispatched kernels (the Winograd F(4x4) and F(6x6) transforms).
enum { VGG_ISA_SCALAR = 0, VGG_ISA_AVX2 = 1, VGG_ISA_AVX512 = 2 };
/// The best instruction set this CPU runs (VGG_ISA_*).
int vgg_isa_supported(void);
/// The instruction set the kernels use now: the best supported, or lower when forced (vgg_set_isa, else the
/// environment variable VGGTOOL_ISA = avx512 | avx2 | scalar, read once). All give bit-identical results.
int vgg_isa(void);
/// Forces the kernels down to `isa` (a VGG_ISA_* value; never above what the CPU runs); -1 undoes it.
void vgg_set_isa(int isa);

/// Depthwise convolution over output rows [r0, r1) of n*oh (each row = ow pixels). kernel: (kh, kw, c, mult);
/// output channel = ci * mult + j. bias may be NULL.
void vgg_depthwise_rows(const vgg_conv_shape *s, int mult, const float *in, const float *kernel, const float *bias,
                        float *out, long r0, long r1);

/// out = in (rows x cols_in) * w (cols_in x cols_out) + bias, for output rows [r0, r1) and columns [c0, c1).
void vgg_dense(const float *in, const float *w, const float *bias, float *out, long rows, long cols_in, long cols_out,
               long r0, long r1, long c0, long c1);

/// Pooling over output rows [r0, r1) of n*oh. kind 0 = max, 1 = average (padding excluded from the count).
void vgg_pool_rows(const vgg_conv_shape *s, int kind, const float *in, float *out, long r0, long r1);

/// Global pooling: in (n, hw, c) -> out (n, c). kind 0 = max, 1 = average.
void vgg_global_pool(const float *in, float *out, long n, long hw, long c, int kind);

/// Activations, in place over [0, count). Codes: see VGG_ACT_*.
enum {
    VGG_ACT_LINEAR = 0, VGG_ACT_RELU, VGG_ACT_SIGMOID, VGG_ACT_TANH, VGG_ACT_ELU, VGG_ACT_SELU, VGG_ACT_SOFTPLUS,
    VGG_ACT_SOFTSIGN, VGG_ACT_SWISH, VGG_ACT_GELU, VGG_ACT_EXPONENTIAL, VGG_ACT_RELU6, VGG_ACT_LEAKY_RELU,
    VGG_ACT_HARD_SIGMOID_K2, VGG_ACT_HARD_SIGMOID_K3, VGG_ACT_HARD_SWISH, VGG_ACT_MISH, VGG_ACT_GELU_TANH
};
void vgg_activation(int code, float *x, long count);
/// ReLU layer: max_value < 0 means none.
void vgg_relu_layer(float *x, long count, float max_value, float negative_slope, float threshold);
/// Softmax (log_softmax when log != 0) over the middle axis of (outer, axis, inner).
void vgg_softmax(float *x, long outer, long axis, long inner, int log);
/// Batch normalization (inference): x = x * scale[c] + shift[c] over (rows, c).
void vgg_scale_shift(float *x, long rows, long c, const float *scale, const float *shift);
/// Zero padding of (n, h, w, c) into (n, h+top+bottom, w+left+right, c).
void vgg_zero_pad(const float *in, float *out, int n, int h, int w, int c, int top, int bottom, int left, int right);
/// Concatenation: copies in (outer, a, inner) into out (outer, total, inner) at axis offset `at`.
void vgg_concat_part(const float *in, float *out, long outer, long a, long inner, long total, long at);
// ------------------------------------------------------------------------------------------ training
/// im2col of output rows [m0, m1) into col ((m1-m0) x kh*kw*c).
void vgg_im2col(const vgg_conv_shape *s, const float *in, long m0, long m1, float *col);
/// Adds col ((m1-m0) x kh*kw*c) back into the input gradient (the adjoint of im2col).
void vgg_col2im_add(const vgg_conv_shape *s, const float *col, long m0, long m1, float *din);
/// Max pooling backward: each output gradient goes to the first maximum of its window (row-major scan),
/// as TensorFlow's MaxPoolGrad does. din must be zeroed by the caller.
void vgg_maxpool_backward(const vgg_conv_shape *s, const float *in, const float *dout, float *din);
/// Average pooling backward (padding excluded from the count). din must be zeroed by the caller.
void vgg_avgpool_backward(const vgg_conv_shape *s, const float *dout, float *din);

/// Adam over [0, n): m += (g - m) c1; v += (g^2 - v) c2; w -= m alpha / (sqrt(v) + eps).
/// One row of a Dense layer over kernel rows [i0, i1): partial[j] = sum over i in [i0, i1) of x[i] w[i][j] (zeros
/// for an empty range).
void vgg_dense_rows_partial(const float *x, const float *w, float *partial, long cols_out, long i0, long i1);
/// out[j] = partial[0][j] + partial[1][j] + ... (parts rows of cols_out) + bias[j], for j in [c0, c1).
void vgg_dense_sum_partials(const float *partial, long parts, long cols_out, const float *bias, float *out, long c0, long c1);
/// Batches of at most this many rows take the small-batch Dense kernels instead of sgemm.
#define VGG_SMALL_BATCH 32
/// A Dense layer for a small batch: out = x w + bias (x: n x in, w: in x units) for columns [c0, c1), without
/// packing w (sgemm packs it on every call, as costly as the products when n is a few rows).
void vgg_dense_small_forward(const float *x, const float *w, const float *bias, float *out, long n, long in, long units, long c0, long c1);
/// d loss / d input of a Dense layer for a small batch: dx = g wᵀ (g: n x units, w: in x units) for columns
/// [i0, i1) of dx.
void vgg_dense_small_input_gradient(const float *g, const float *w, float *dx, long n, long in, long units, long i0, long i1);
/// Rows [r0, r1) of a Dense kernel's gradient xᵀ g (x: n x in, g: n x units), row r at dw + (r - r0) * units:
/// dw[r][j] = x[0][r] g[0][j] + x[1][r] g[1][j] + ..., summed in that order.
void vgg_dense_kernel_gradient(const float *x, const float *g, float *dw, long n, long in, long units, long r0, long r1);
void vgg_adam(float *w, const float *g, float *m, float *v, long n, float alpha, float c1, float c2, float eps);
/// SGD with momentum over [0, n): m = momentum m - lr g; w += m (momentum 0: w -= lr g).
void vgg_sgd(float *w, const float *g, float *m, long n, float lr, float momentum);

/// Makes Debian's DYNAMIC_ARCH OpenBLAS use the kernels this CPU can run when its CPU-model detection fell
/// back to a generic core (common on virtual machines). Call before any BLAS call; returns the core name.
/// Leaves everything alone when OPENBLAS_CORETYPE is set.
const char *vgg_blas_tune(void);
#endif
