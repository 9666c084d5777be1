// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev).
#ifndef VGGTOOL_CTURBOJPEG_SHIM_H
#define VGGTOOL_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
