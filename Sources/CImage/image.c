#include "vgg_image.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

void vgg_image_free(vgg_image *img) {
    free(img->rgb);
    img->rgb = NULL;
}

static int fail(vgg_image *out, const char *msg) {
    snprintf(out->error, sizeof out->error, "%s", msg);
    free(out->rgb);
    out->rgb = NULL;
    return -1;
}

// ------------------------------------------------------------------------------------------ JPEG
int vgg_decode_jpeg(const unsigned char *data, size_t len, long max_pixels, vgg_image *out) {
    memset(out, 0, sizeof *out);
    if (len > (size_t)0x7fffffff) return fail(out, "JPEG file too large");
    tjhandle h = tjInitDecompress();
    if (!h) return fail(out, "cannot start the JPEG decoder");
    int w = 0, ht = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(h, data, (unsigned long)len, &w, &ht, &subsamp, &colorspace) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "not a readable JPEG (%s)", tjGetErrorStr2(h));
        tjDestroy(h);
        return fail(out, msg);
    }
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
        tjDestroy(h);
        return fail(out, "CMYK JPEGs are not supported (convert the image to RGB)");
    }
    if (w <= 0 || ht <= 0 || (long)w * (long)ht > max_pixels) {
        char msg[256];
        snprintf(msg, sizeof msg, "declares %dx%d pixels, over the limit of %ld", w, ht, max_pixels);
        tjDestroy(h);
        return fail(out, msg);
    }
    out->rgb = malloc((size_t)w * ht * 3);
    if (!out->rgb) { tjDestroy(h); return fail(out, "out of memory"); }
    // TensorFlow's decode_image uses libjpeg's fast integer IDCT (JDCT_IFAST) with fancy upsampling.
    if (tjDecompress2(h, data, (unsigned long)len, out->rgb, w, 0, ht, TJPF_RGB, TJFLAG_FASTDCT) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "corrupt or truncated JPEG (%s)", tjGetErrorStr2(h));
        tjDestroy(h);
        return fail(out, msg);
    }
    tjDestroy(h);
    out->width = w;
    out->height = ht;
    return 0;
}

static unsigned rd16(const unsigned char *p, int le) { return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]); }
static unsigned long rd32(const unsigned char *p, int le) {
    return le ? (unsigned long)p[0] | (unsigned long)p[1] << 8 | (unsigned long)p[2] << 16 | (unsigned long)p[3] << 24
              : (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | (unsigned long)p[3];
}

int vgg_jpeg_exif_orientation(const unsigned char *data, size_t len) {
    if (len < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
    size_t p = 2;
    while (p + 4 <= len) {
        if (data[p] != 0xFF) return 1;
        const unsigned marker = data[p + 1];
        if (marker == 0xD9 || marker == 0xDA) return 1;  // end of image / start of scan: no EXIF before
        const size_t seg = rd16(data + p + 2, 0);
        if (seg < 2 || p + 2 + seg > len) return 1;
        const unsigned char *s = data + p + 4;
        const size_t n = seg - 2;
        if (marker == 0xE1 && n >= 14 && memcmp(s, "Exif\0\0", 6) == 0) {
            const unsigned char *t = s + 6;
            const size_t tn = n - 6;
            int le;
            if (t[0] == 'I' && t[1] == 'I') le = 1; else if (t[0] == 'M' && t[1] == 'M') le = 0; else return 1;
            const unsigned long ifd = rd32(t + 4, le);
            if (ifd + 2 > tn) return 1;
            const unsigned count = rd16(t + ifd, le);
            for (unsigned i = 0; i < count; i++) {
                const unsigned long e = ifd + 2 + 12UL * i;
                if (e + 12 > tn) return 1;
                if (rd16(t + e, le) == 0x0112 && rd16(t + e + 2, le) == 3) {
                    const unsigned v = rd16(t + e + 8, le);
                    return v >= 1 && v <= 8 ? (int)v : 1;
                }
            }
            return 1;
        }
        p += 2 + seg;
    }
    return 1;
}

// ------------------------------------------------------------------------------------------ PNG
struct png_src { const unsigned char *data; size_t len, pos; };

static void png_read_mem(png_structp png, png_bytep dst, png_size_t n) {
    struct png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "truncated PNG");
    memcpy(dst, s->data + s->pos, n);
    s->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    vgg_image *out = png_get_error_ptr(png);
    snprintf(out->error, sizeof out->error, "corrupt PNG (%s)", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int vgg_decode_png(const unsigned char *data, size_t len, long max_pixels, vgg_image *out) {
    memset(out, 0, sizeof *out);
    if (len < 8 || png_sig_cmp(data, 0, 8) != 0) return fail(out, "not a PNG file (bad signature)");
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, out, png_on_error, png_on_warning);
    if (!png) return fail(out, "cannot start the PNG decoder");
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); return fail(out, "cannot start the PNG decoder"); }
    struct png_src src = {data, len, 0};
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", out->error[0] ? out->error : "corrupt PNG");
        free(rows);
        free(pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return fail(out, msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_set_user_limits(png, 1000000, 1000000);
    png_set_chunk_malloc_max(png, 64 << 20);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if ((long)w * (long)h > max_pixels) {
        snprintf(out->error, sizeof out->error, "declares %ux%u pixels, over the limit of %ld", (unsigned)w, (unsigned)h, max_pixels);
        png_longjmp(png, 1);
    }
    // To 8-bit RGB the way TensorFlow's decode_png(channels=3) does: palette expanded, gray replicated,
    // 16-bit reduced to its high byte, alpha (and tRNS) dropped.
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8) {
        snprintf(out->error, sizeof out->error, "unsupported PNG layout (color type %d, depth %d)", color, depth);
        png_longjmp(png, 1);
    }
    pixels = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) {
        snprintf(out->error, sizeof out->error, "out of memory");
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->rgb = pixels;
    out->width = (int)w;
    out->height = (int)h;
    return 0;
}

// ------------------------------------------------------------------------------------------ resize
#include <math.h>

typedef struct { long lower, upper; float lerp; } interp;

static void weights(int in_size, int out_size, interp *w) {
    const float scale = (float)in_size / (float)out_size;
    for (int i = 0; i < out_size; i++) {
        const float in = ((float)i + 0.5f) * scale - 0.5f;
        const float in_f = floorf(in);
        w[i].lower = in_f > 0 ? (long)in_f : 0;
        const long up = (long)ceilf(in);
        w[i].upper = up < in_size - 1 ? up : in_size - 1;
        w[i].lerp = in - in_f;
    }
}

void vgg_resize_bilinear(const unsigned char *src, int sh, int sw, float *dst, int dh, int dw) {
    interp *ys = malloc(sizeof(interp) * (size_t)dh), *xs = malloc(sizeof(interp) * (size_t)dw);
    if (!ys || !xs) { free(ys); free(xs); return; }
    weights(sh, dh, ys);
    weights(sw, dw, xs);
    for (int y = 0; y < dh; y++) {
        const unsigned char *top = src + (size_t)ys[y].lower * sw * 3, *bot = src + (size_t)ys[y].upper * sw * 3;
        const float yl = ys[y].lerp;
        float *o = dst + (size_t)y * dw * 3;
        for (int x = 0; x < dw; x++) {
            const long l = xs[x].lower * 3, r = xs[x].upper * 3;
            const float xl = xs[x].lerp;
            for (int c = 0; c < 3; c++) {
                const float tl = top[l + c], tr = top[r + c], bl = bot[l + c], br = bot[r + c];
                const float t = tl + (tr - tl) * xl;
                const float b = bl + (br - bl) * xl;
                o[x * 3 + c] = t + (b - t) * yl;
            }
        }
    }
    free(ys);
    free(xs);
}

void vgg_resize_nearest(const unsigned char *src, int sh, int sw, float *dst, int dh, int dw) {
    const float sy = (float)sh / (float)dh, sx = (float)sw / (float)dw;
    for (int y = 0; y < dh; y++) {
        long iy = (long)floorf(((float)y + 0.5f) * sy);
        if (iy > sh - 1) iy = sh - 1;
        for (int x = 0; x < dw; x++) {
            long ix = (long)floorf(((float)x + 0.5f) * sx);
            if (ix > sw - 1) ix = sw - 1;
            for (int c = 0; c < 3; c++) dst[((size_t)y * dw + x) * 3 + c] = src[((size_t)iy * sw + ix) * 3 + c];
        }
    }
}

// ------------------------------------------------------------------------------------------ PNG writing
struct png_dst { unsigned char *data; size_t len, cap; int failed; };

static void png_write_mem(png_structp png, png_bytep src, png_size_t n) {
    struct png_dst *d = png_get_io_ptr(png);
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4096;
        while (cap < d->len + n) cap *= 2;
        unsigned char *p = realloc(d->data, cap);
        if (!p) { d->failed = 1; png_error(png, "out of memory"); }
        d->data = p;
        d->cap = cap;
    }
    memcpy(d->data + d->len, src, n);
    d->len += n;
}

static void png_flush_mem(png_structp png) { (void)png; }

static void png_on_write_error(png_structp png, png_const_charp msg) {
    char *err = png_get_error_ptr(png);
    snprintf(err, 256, "PNG encoding failed (%s)", msg);
    png_longjmp(png, 1);
}

int vgg_encode_png(const unsigned char *pixels, int width, int height, int channels, unsigned char **out, size_t *out_len, char *error) {
    *out = NULL;
    *out_len = 0;
    error[0] = 0;
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) { snprintf(error, 256, "bad image geometry"); return -1; }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, error, png_on_write_error, png_on_warning);
    if (!png) { snprintf(error, 256, "cannot start the PNG encoder"); return -1; }
    png_infop info = png_create_info_struct(png);
    struct png_dst dst = {NULL, 0, 0, 0};
    if (!info || setjmp(png_jmpbuf(png))) {
        free(dst.data);
        png_destroy_write_struct(&png, info ? &info : NULL);
        if (!error[0]) snprintf(error, 256, "PNG encoding failed");
        return -1;
    }
    png_set_write_fn(png, &dst, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = dst.data;
    *out_len = dst.len;
    return 0;
}
