// giflib 5 (Debian: libgif-dev).
#ifndef VGGTOOL_CGIF_SHIM_H
#define VGGTOOL_CGIF_SHIM_H
#include <gif_lib.h>
#endif
