#include <zlib.h>
/// inflateInit2 is a macro; raw deflate (no zlib header) as zip entries store it.
static inline int vgg_inflate_init_raw(z_stream *s) { return inflateInit2(s, -15); }
/// gzip streams (.gz files).
static inline int vgg_inflate_init_gzip(z_stream *s) { return inflateInit2(s, 16 + 15); }
