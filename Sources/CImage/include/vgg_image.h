// Image decoding for vggtool: JPEG through TurboJPEG, PNG through libpng (whose errors longjmp, which is
// why this is C), GIF through giflib. Output is always 8-bit RGB, row-major, as TensorFlow's decode_image(channels=3) gives it.
#ifndef VGGTOOL_IMAGE_H
#define VGGTOOL_IMAGE_H
#include <stddef.h>

typedef struct {
    int width, height;
    unsigned char *rgb;   // width * height * 3 bytes, malloc'd; free with vgg_image_free
    char error[256];      // why decoding failed
} vgg_image;

/// 0 on success; -1 with `error` set. Images over `max_pixels` are refused from their header, before any
/// pixel memory is allocated. CMYK and YCCK JPEGs are converted to RGB as TensorFlow does (inverted CMYK when
/// the file has an Adobe APP14 marker).
int vgg_decode_jpeg(const unsigned char *data, size_t len, long max_pixels, vgg_image *out);
/// Grayscale, palette, 16-bit (high byte kept, as TensorFlow converts), alpha (dropped) and interlaced PNGs.
int vgg_decode_png(const unsigned char *data, size_t len, long max_pixels, vgg_image *out);
/// The first frame of a GIF as TensorFlow's decode_gif gives it: a canvas as large as the largest frame,
/// the first frame at its offset (clipped), black where it does not reach and where it is transparent;
/// every frame is decoded (a corrupt one fails the file). Frames over `max_pixels` are refused.
int vgg_decode_gif(const unsigned char *data, size_t len, long max_pixels, vgg_image *out);
/// The EXIF orientation (1-8) of a JPEG, 1 when it has none or it cannot be read.
int vgg_jpeg_exif_orientation(const unsigned char *data, size_t len);
void vgg_image_free(vgg_image *img);

/// Encodes 8-bit pixels (channels 1 = gray, 3 = RGB) as PNG into a malloc'd buffer (*out, *out_len).
/// 0 on success, -1 with `error` (at least 256 bytes) set.
int vgg_encode_png(const unsigned char *pixels, int width, int height, int channels, unsigned char **out, size_t *out_len, char *error);

/// Bilinear resize of 8-bit RGB to float RGB exactly as TensorFlow's ResizeBilinear with half-pixel
/// centres (tf.image.resize, antialias off): same coordinates, same lerp order, float32 arithmetic.
void vgg_resize_bilinear(const unsigned char *src, int sh, int sw, float *dst, int dh, int dw);
/// Nearest-neighbour resize with half-pixel centres (tf.image.resize 'nearest').
void vgg_resize_nearest(const unsigned char *src, int sh, int sw, float *dst, int dh, int dw);
#endif
