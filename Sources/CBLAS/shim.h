// OpenBLAS's CBLAS interface (Debian: libopenblas-dev, pthread variant, found through pkg-config `openblas`).
#ifndef VGGTOOL_CBLAS_SHIM_H
#define VGGTOOL_CBLAS_SHIM_H
#include <cblas.h>
#endif
