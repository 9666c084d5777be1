// Shim over libhdf5 (1.10, serial): HDF5's type and property-list identifiers are macros over `_g`
// globals that also call H5open(); Swift cannot import them, so each gets a static inline accessor here.
#ifndef VGGTOOL_CHDF5_SHIM_H
#define VGGTOOL_CHDF5_SHIM_H
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

static inline hid_t vgg_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t vgg_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t vgg_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline unsigned vgg_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned vgg_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned vgg_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline hid_t vgg_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t vgg_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t vgg_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t vgg_H5P_DATASET_ACCESS(void) { return H5P_DATASET_ACCESS; }
static inline hid_t vgg_H5P_LINK_ACCESS(void) { return H5P_LINK_ACCESS; }
static inline hid_t vgg_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t vgg_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t vgg_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t vgg_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t vgg_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t vgg_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t vgg_H5T_C_S1(void) { return H5T_C_S1; }
static inline size_t vgg_H5T_VARIABLE(void) { return H5T_VARIABLE; }

/// Turns HDF5's automatic error printing off for the calling thread's default error stack. In a
/// thread-safe libhdf5 (Debian's is) the setting is per thread, so it is made once on every thread
/// that calls into HDF5 through the wrapper.
static inline void vgg_H5_silence_errors_on_this_thread(void) {
    static _Thread_local int silenced = 0;
    if (!silenced) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); silenced = 1; }
}

/// Copies the innermost (most specific) message of the current error stack into buf and clears it.
static inline herr_t vgg_H5E_walk_cb(unsigned n, const H5E_error2_t *err, void *data) {
    if (n == 0 && err && err->desc) { snprintf((char *)data, 512, "%s", err->desc); }
    return 1;
}
static inline void vgg_H5E_describe(char *buf /* at least 512 bytes */) {
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, vgg_H5E_walk_cb, buf);
    H5Eclear2(H5E_DEFAULT);
}

/// File access properties without HDF5's file locks (1.10.7 and later take a flock on every open and fail with
/// "unable to lock file, errno = 11" when another open holds a conflicting one): vggtool only reads files by
/// path (it writes HDF5 through in-memory images), so the locks protect nothing here, and a file some other
/// program has open could not be read. Every open and create by path uses them: libhdf5 refuses to open a file
/// already open in the process with another locking setting.
static inline hid_t vgg_H5_unlocked_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
#endif
    return fapl;
}

/// Opens a file read-only, without file locks.
static inline hid_t vgg_H5_open_readonly(const char *path) {
    hid_t fapl = vgg_H5_unlocked_fapl();
    if (fapl < 0) return -1;
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return fid;
}

/// Creates (truncating) a file by path, without file locks.
static inline hid_t vgg_H5_create_truncate(const char *path) {
    hid_t fapl = vgg_H5_unlocked_fapl();
    if (fapl < 0) return -1;
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return fid;
}

/// Opens an HDF5 file image held in memory (read-only, no copy on HDF5's side beyond its own buffer).
/// `name` must be unique among open images: the core driver identifies files by name, so two images
/// opened under one name at the same time would be the same file to HDF5.
static inline hid_t vgg_H5_open_image(const void *data, size_t len, const char *name) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    hid_t fid = -1;
    if (H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0 && H5Pset_file_image(fapl, (void *)data, len) >= 0) {
        fid = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    }
    H5Pclose(fapl);
    return fid;
}
#endif
