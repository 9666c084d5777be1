#ifndef VGG_SUPPORT_H
#define VGG_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), init 0xFFFFFFFF, final xor 0xFFFFFFFF.
/// `crc` is the value returned by a previous call (0 to start), so data can be fed in pieces.
/// Uses the SSE4.2 crc32 instruction when the CPU has it, else a slicing-by-8 table.
uint32_t vgg_crc32c(uint32_t crc, const void *data, size_t length);

/// float32 -> IEEE binary16 / bfloat16 (round to nearest even), and back; `count` elements.
void vgg_f32_to_f16(const float *src, uint16_t *dst, size_t count);
void vgg_f16_to_f32(const uint16_t *src, float *dst, size_t count);
void vgg_f32_to_bf16(const float *src, uint16_t *dst, size_t count);
void vgg_bf16_to_f32(const uint16_t *src, float *dst, size_t count);
/// Stops the worker threads OpenBLAS started when it was loaded (they spin on sched_yield for about 0.1 s
/// before sleeping, a core's worth of CPU taken from a command's own threads); a later threaded BLAS call
/// starts them again. Does nothing when OpenBLAS is not in the process.
void vgg_blas_stop_idle_threads(void);
/// sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE): starts writing dirty pages back without
/// waiting, so the final fsync has less left to do. Returns 0 or -1 (errno set).
int vgg_start_writeback(int fd, long long offset, long long count);
/// memmem(3) (a GNU extension, so wrapped here).
const void *vgg_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);

/// open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode): an unnamed regular file in the directory `dir` (Linux;
/// O_TMPFILE is a macro of two flags, so wrapped here). Returns the descriptor, or -1 with errno set
/// (EOPNOTSUPP, EISDIR or EINVAL when the kernel or the filesystem lacks O_TMPFILE).
int vgg_open_tmpfile(const char *dir, unsigned int mode);
/// Gives the unnamed file open as `fd` the name `name` in the directory open as `dirfd`: linkat through
/// /proc/self/fd/N with AT_SYMLINK_FOLLOW (needs /proc), else linkat(fd, "", ..., AT_EMPTY_PATH) (needs
/// CAP_DAC_READ_SEARCH). Fails with EEXIST when the name exists. Returns 0, or -1 with errno set.
int vgg_link_fd(int fd, int dirfd, const char *name);
/// An open-file-description write lock on the whole file (fcntl F_OFD_SETLK, F_WRLCK; not flock, which
/// libhdf5 uses on the files it writes): held until the descriptor is closed, by a process that dies too.
/// Returns 0, or -1 with errno set.
int vgg_lock_fd(int fd);
/// Whether a write lock is held on the file open (read-only is enough) as `fd` by another open file
/// description (fcntl F_OFD_GETLK): 1 held, 0 free, -1 with errno set when locks are unsupported.
int vgg_lock_held(int fd);
/// Makes glibc's malloc serve every request of `bytes` or more with its own mapping (returned to the system
/// on free), fixing the threshold glibc otherwise raises to the largest block freed (mallopt M_MMAP_THRESHOLD).
/// For the vggtool executable; 1 on success, 0 where the allocator refuses.
int vgg_set_mmap_threshold(size_t bytes);
#endif
