// libpng 1.6 (Debian: libpng-dev).
#ifndef VGGTOOL_CPNG_SHIM_H
#define VGGTOOL_CPNG_SHIM_H
#include <png.h>
#endif
