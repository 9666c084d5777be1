#ifndef VGG_MPI_H
#define VGG_MPI_H
#include <stddef.h>
#include <stdint.h>

/// Open MPI, loaded only when asked: libmpi.so.40 is opened with dlopen(RTLD_NOW | RTLD_GLOBAL) by
/// `vgg_mpi_load`, its functions and predefined objects (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ... are macros
/// naming the globals `ompi_mpi_comm_world`, `ompi_mpi_float`, `ompi_mpi_op_sum`) looked up with dlsym, so
/// a process that never calls it neither links nor maps Open MPI (docs/distributed.md). Every call works on
/// MPI_COMM_WORLD. No MPI type appears here: a request is an opaque `void *` (MPI_Request), counts and
/// displacements are `int` as in MPI 3.1 (elements of the named type; bytes for the `_bytes` calls).
/// Functions return MPI's status (0 = MPI_SUCCESS); `vgg_mpi_error_string` turns one into words. The error
/// handler of MPI_COMM_WORLD is set to MPI_ERRORS_RETURN, so a failed call returns instead of aborting.

/// Loads libmpi (`path`, or "libmpi.so.40" when NULL) and resolves every symbol used here. Returns 0, or -1
/// with a message in `err` (at most `errlen` bytes, NUL-terminated).
int vgg_mpi_load(const char *path, char *err, size_t errlen);
/// MPI_Init_thread(MPI_THREAD_SERIALIZED), then rank and size of MPI_COMM_WORLD. Call after `vgg_mpi_load`.
int vgg_mpi_init(int *rank, int *size);
/// MPI_Finalize.
int vgg_mpi_finalize(void);
/// MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job (does not return when MPI is running).
void vgg_mpi_abort(int code);
/// MPI_Error_string into `buf` (NUL-terminated, at most `len` bytes).
void vgg_mpi_error_string(int code, char *buf, size_t len);
/// MPI_Wtime: seconds since an arbitrary time in the past.
double vgg_mpi_wtime(void);

/// MPI_Iallreduce(MPI_IN_PLACE, values, count, MPI_FLOAT | MPI_DOUBLE, MPI_SUM): the sum over the ranks,
/// on every rank, in place.
int vgg_mpi_iallreduce_sum_f32(float *values, int count, void **request);
int vgg_mpi_iallreduce_sum_f64(double *values, int count, void **request);
/// MPI_Iallgather of one int64 per rank: `recv` has `size` elements, rank r's value at r.
int vgg_mpi_iallgather_i64(const int64_t *send, int64_t *recv, void **request);
/// MPI_Iallgatherv of bytes: rank r's `send_count` bytes land at recv + displs[r] on every rank.
int vgg_mpi_iallgatherv_bytes(const void *send, int send_count, void *recv, const int *counts, const int *displs, void **request);
/// MPI_Igatherv of bytes to rank `root`: `recv`, `counts`, `displs` are read on the root only.
int vgg_mpi_igatherv_bytes(const void *send, int send_count, void *recv, const int *counts, const int *displs, int root, void **request);
/// MPI_Ialltoallv of bytes: send_counts[r] bytes from send + send_displs[r] go to rank r, which receives
/// them at recv + recv_displs[me].
int vgg_mpi_ialltoallv_bytes(const void *send, const int *send_counts, const int *send_displs,
                             void *recv, const int *recv_counts, const int *recv_displs, void **request);
/// MPI_Ibarrier.
int vgg_mpi_ibarrier(void **request);
/// MPI_Test: `*done` becomes 1 when the request completed (the request is then freed).
int vgg_mpi_test(void **request, int *done);

#endif
