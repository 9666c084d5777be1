#include "vgg_image.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <gif_lib.h>

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
// True when the JPEG has an Adobe APP14 marker libjpeg would honour (saw_Adobe_marker): a segment before the
// first scan whose payload is at least 12 bytes and starts with "Adobe". Adobe's CMYK JPEGs store inverted
// values, and TensorFlow converts them with another formula.
static int jpeg_has_adobe_marker(const unsigned char *data, size_t len) {
    size_t p = 2;
    while (p + 4 <= len) {
        if (data[p] != 0xFF) return 0;
        const unsigned marker = data[p + 1];
        if (marker == 0xFF) { p++; continue; }  // fill byte
        if (marker == 0xD9 || marker == 0xDA) return 0;
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { p += 2; continue; }  // no length
        const size_t seg = (size_t)data[p + 2] << 8 | data[p + 3];
        if (seg < 2 || p + 2 + seg > len) return 0;
        if (marker == 0xEE && seg - 2 >= 12 && memcmp(data + p + 4, "Adobe", 5) == 0) return 1;
        p += 2 + seg;
    }
    return 0;
}

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
    const int cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    if (w <= 0 || ht <= 0 || (long)w * (long)ht > max_pixels) {
        char msg[256];
        snprintf(msg, sizeof msg, "declares %dx%d pixels, over the limit of %ld", w, ht, max_pixels);
        tjDestroy(h);
        return fail(out, msg);
    }
    // CMYK and YCCK JPEGs are decoded to CMYK (libjpeg turns YCCK into CMYK) and then to RGB below.
    unsigned char *buffer = malloc((size_t)w * ht * (cmyk ? 4 : 3));
    if (!buffer) { tjDestroy(h); return fail(out, "out of memory"); }
    // TensorFlow's decode_image uses libjpeg's fast integer IDCT (JDCT_IFAST) with fancy upsampling.
    if (tjDecompress2(h, data, (unsigned long)len, buffer, w, 0, ht, cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_FASTDCT) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "corrupt or truncated JPEG (%s)", tjGetErrorStr2(h));
        tjDestroy(h);
        free(buffer);
        return fail(out, msg);
    }
    tjDestroy(h);
    if (cmyk) {
        // TensorFlow's conversion (jpeg_mem.cc): with an Adobe marker the values are inverted CMYK, so
        // R = K * C / 255; otherwise R = (255 - K) * (255 - C) / 255; integer division, likewise G and B.
        const int adobe = jpeg_has_adobe_marker(data, len);
        const size_t n = (size_t)w * ht;
        for (size_t i = 0; i < n; i++) {
            const int c = buffer[i * 4], m = buffer[i * 4 + 1], y = buffer[i * 4 + 2], k = buffer[i * 4 + 3];
            if (adobe) {
                buffer[i * 3] = (unsigned char)(k * c / 255);
                buffer[i * 3 + 1] = (unsigned char)(k * m / 255);
                buffer[i * 3 + 2] = (unsigned char)(k * y / 255);
            } else {
                buffer[i * 3] = (unsigned char)((255 - k) * (255 - c) / 255);
                buffer[i * 3 + 1] = (unsigned char)((255 - k) * (255 - m) / 255);
                buffer[i * 3 + 2] = (unsigned char)((255 - k) * (255 - y) / 255);
            }
        }
    }
    out->rgb = buffer;
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
    // 16-bit reduced to its high byte, alpha (and a palette's tRNS) dropped.
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    // A palette's tRNS chunk becomes an alpha channel when the palette is expanded: dropped too.
    if ((color & PNG_COLOR_MASK_ALPHA) || (color == PNG_COLOR_TYPE_PALETTE && png_get_valid(png, info, PNG_INFO_tRNS))) png_set_strip_alpha(png);
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

// ------------------------------------------------------------------------------------------ GIF
struct gif_src { const unsigned char *data; size_t len, pos; };

static int gif_read_mem(GifFileType *gif, GifByteType *dst, int n) {
    struct gif_src *s = gif->UserData;
    if (n < 0) return 0;
    size_t k = (size_t)n;
    if (k > s->len - s->pos) k = s->len - s->pos;
    memcpy(dst, s->data + s->pos, k);
    s->pos += k;
    return (int)k;
}

static int gif_fail(vgg_image *out, GifFileType *gif, unsigned char *raster, unsigned char *scratch, const char *msg) {
    char text[256];
    snprintf(text, sizeof text, "%s", msg);
    free(raster);
    free(scratch);
    int ignored;
    if (gif) DGifCloseFile(gif, &ignored);
    return fail(out, text);
}

// Reads one frame's indices (w * h bytes) into `dst`, de-interlacing as DGifSlurp does.
static int gif_read_frame(GifFileType *gif, unsigned char *dst, int w, int h, int interlaced) {
    if (interlaced) {
        static const int offset[] = {0, 4, 2, 1}, jump[] = {8, 8, 4, 2};
        for (int pass = 0; pass < 4; pass++)
            for (int y = offset[pass]; y < h; y += jump[pass])
                if (DGifGetLine(gif, dst + (size_t)y * w, w) == GIF_ERROR) return -1;
        return 0;
    }
    return DGifGetLine(gif, dst, w * h) == GIF_ERROR ? -1 : 0;
}

int vgg_decode_gif(const unsigned char *data, size_t len, long max_pixels, vgg_image *out) {
    memset(out, 0, sizeof *out);
    if (len > (size_t)0x7fffffff) return fail(out, "GIF file too large");
    struct gif_src src = {data, len, 0};
    int err = 0;
    GifFileType *gif = DGifOpen(&src, gif_read_mem, &err);
    if (!gif) {
        char msg[256];
        snprintf(msg, sizeof msg, "not a readable GIF (%s)", GifErrorString(err) ? GifErrorString(err) : "unknown error");
        return fail(out, msg);
    }
    // DGifSlurp's walk over the records, with limits, keeping only the first frame (the others are decoded
    // through one scratch buffer, for their sizes and to find where the file breaks). When the file breaks
    // after its first frame, TensorFlow reads the frames decoded whole before the break (the frame being read
    // is dropped, even from the canvas size); when it breaks in or before the first frame, it fails. Measured
    // on tensorflow-cpu 2.17.1 with truncated, bit-flipped and hand-made GIFs (scripts/fixtures/gen_image_formats.py).
    unsigned char *raster = NULL, *scratch = NULL;
    size_t scratch_size = 0;
    int frames = 0, canvas_w = 0, canvas_h = 0, transparent = NO_TRANSPARENT_COLOR, seen_gce = 0;
    int left = 0, top = 0, fw = 0, fh = 0;
    ColorMapObject *first_map = NULL;
    long long total = 0;
    GifRecordType type;
    char msg[256];
#define GIF_ERROR_TEXT (GifErrorString(gif->Error) ? GifErrorString(gif->Error) : "unknown error")
#define GIF_BROKEN()                                                                 \
    do {                                                                             \
        if (frames > 0) goto complete;                                               \
        snprintf(msg, sizeof msg, "corrupt GIF (%s)", GIF_ERROR_TEXT);               \
        return gif_fail(out, gif, raster, scratch, msg);                             \
    } while (0)
    do {
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) GIF_BROKEN();
        if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) == GIF_ERROR) GIF_BROKEN();
            const GifImageDesc *d = &gif->Image;
            if (d->Width <= 0 || d->Height <= 0) {
                if (frames > 0) goto complete;
                return gif_fail(out, gif, raster, scratch, "corrupt GIF (its first frame has no pixels)");
            }
            const long long px = (long long)d->Width * d->Height;
            total += px;
            if (px > max_pixels) {
                snprintf(msg, sizeof msg, "declares %dx%d pixels in frame %d, over the limit of %ld", d->Width, d->Height, frames + 1, max_pixels);
                return gif_fail(out, gif, raster, scratch, msg);
            }
            if (total > 16LL * max_pixels) {
                snprintf(msg, sizeof msg, "declares %lld pixels in %d frames, over the limit of %lld", total, frames + 1, 16LL * max_pixels);
                return gif_fail(out, gif, raster, scratch, msg);
            }
            unsigned char *dst;
            if (frames == 0) {
                raster = malloc((size_t)px);
                if (!raster) return gif_fail(out, gif, raster, scratch, "out of memory");
                dst = raster;
                left = d->Left; top = d->Top; fw = d->Width; fh = d->Height;
                // DGifGetImageDesc keeps the frame's own colour map in SavedImages; the global one otherwise.
                const SavedImage *saved = &gif->SavedImages[gif->ImageCount - 1];
                first_map = saved->ImageDesc.ColorMap ? saved->ImageDesc.ColorMap : gif->SColorMap;
            } else {
                if ((size_t)px > scratch_size) {
                    free(scratch);
                    scratch = malloc((size_t)px);
                    scratch_size = (size_t)px;
                    if (!scratch) return gif_fail(out, gif, raster, scratch, "out of memory");
                }
                dst = scratch;
            }
            if (gif_read_frame(gif, dst, d->Width, d->Height, d->Interlace) != 0) {
                if (frames > 0) goto complete;
                snprintf(msg, sizeof msg, "corrupt GIF (first frame: %s)", GIF_ERROR_TEXT);
                return gif_fail(out, gif, raster, scratch, msg);
            }
            if (d->Width > canvas_w) canvas_w = d->Width;
            if (d->Height > canvas_h) canvas_h = d->Height;
            frames++;
            seen_gce = 1;  // graphic control extensions after the first frame belong to later frames
        } else if (type == EXTENSION_RECORD_TYPE) {
            int code = 0;
            GifByteType *ext = NULL;
            if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) GIF_BROKEN();
            // The first frame's transparency: the first graphic control extension before it (what
            // DGifSavedExtensionToGCB finds among the blocks DGifSlurp attaches to the frame).
            if (!seen_gce && ext && code == GRAPHICS_EXT_FUNC_CODE) {
                seen_gce = 1;
                GraphicsControlBlock gcb;
                gcb.TransparentColor = NO_TRANSPARENT_COLOR;
                if (DGifExtensionToGCB(ext[0], ext + 1, &gcb) == GIF_OK) transparent = gcb.TransparentColor;
            }
            // As DGifSlurp: the next sub-block is read even when the first was empty (so an extension that
            // starts with an empty sub-block swallows what follows).
            do {
                if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) GIF_BROKEN();
            } while (ext);
        }
    } while (type != TERMINATE_RECORD_TYPE);
complete:
#undef GIF_BROKEN
#undef GIF_ERROR_TEXT
    if (frames == 0) return gif_fail(out, gif, raster, scratch, "corrupt GIF (no image in the file)");
    if (!first_map) return gif_fail(out, gif, raster, scratch, "corrupt GIF (no colour map for the first frame)");
    // As TensorFlow's gif::Decode: the canvas is as large as the largest frame (not the logical screen);
    // the first frame is placed at its offset and clipped to the canvas; pixels it does not cover and its
    // transparent pixels are black.
    if ((long long)canvas_w * canvas_h > max_pixels) {
        // The widest and the tallest frame may be different frames: 65535x1 and 1x65535 make a 4-gigapixel canvas.
        snprintf(msg, sizeof msg, "declares %dx%d pixels (its widest and tallest frames), over the limit of %ld", canvas_w, canvas_h, max_pixels);
        return gif_fail(out, gif, raster, scratch, msg);
    }
    unsigned char *rgb = calloc((size_t)canvas_w * canvas_h, 3);
    if (!rgb) return gif_fail(out, gif, raster, scratch, "out of memory");
    const int x0 = left > 0 ? left : 0, y0 = top > 0 ? top : 0;
    const int x1 = left + fw < canvas_w ? left + fw : canvas_w, y1 = top + fh < canvas_h ? top + fh : canvas_h;
    for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
            const int index = raster[(size_t)(y - top) * fw + (x - left)];
            if (index == transparent) continue;
            if (index >= first_map->ColorCount) {
                free(rgb);
                snprintf(msg, sizeof msg, "corrupt GIF (colour index %d outside the colour map of %d)", index, first_map->ColorCount);
                return gif_fail(out, gif, raster, scratch, msg);
            }
            unsigned char *p = rgb + ((size_t)y * canvas_w + x) * 3;
            p[0] = first_map->Colors[index].Red;
            p[1] = first_map->Colors[index].Green;
            p[2] = first_map->Colors[index].Blue;
        }
    }
    free(raster);
    free(scratch);
    DGifCloseFile(gif, &err);
    out->rgb = rgb;
    out->width = canvas_w;
    out->height = canvas_h;
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
