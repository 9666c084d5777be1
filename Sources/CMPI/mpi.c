// Open MPI through dlopen (see include/vgg_mpi.h). mpi.h gives the types and signatures; no symbol of
// libmpi is referenced at link time, every one is looked up in `vgg_mpi_load`.
#include "vgg_mpi.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#if __has_include(<mpi.h>)
#include <mpi.h>

#define FUNCTIONS(X) \
    X(MPI_Init_thread) X(MPI_Finalize) X(MPI_Abort) X(MPI_Comm_rank) X(MPI_Comm_size) X(MPI_Comm_set_errhandler) \
    X(MPI_Error_string) X(MPI_Wtime) X(MPI_Iallreduce) X(MPI_Iallgather) X(MPI_Iallgatherv) X(MPI_Igatherv) \
    X(MPI_Ialltoallv) X(MPI_Ibarrier) X(MPI_Test)

#define DECLARE(f) static __typeof__(&f) p_##f;
FUNCTIONS(DECLARE)

// The predefined objects the macros name (Open MPI 4: MPI_COMM_WORLD is ((MPI_Comm) &ompi_mpi_comm_world)).
static MPI_Comm comm_world;
static MPI_Datatype type_float, type_double, type_int64, type_byte;
static MPI_Op op_sum;
static MPI_Errhandler errors_return;

int vgg_mpi_load(const char *path, char *err, size_t errlen) {
    const char *lib = path ? path : "libmpi.so.40";
    void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    if (!h) { snprintf(err, errlen, "cannot load Open MPI (%s): %s", lib, dlerror()); return -1; }
#define RESOLVE(f) if (!(p_##f = (__typeof__(&f))dlsym(h, #f))) { snprintf(err, errlen, "%s lacks %s", lib, #f); return -1; }
    FUNCTIONS(RESOLVE)
#define OBJECT(var, type, name) if (!(var = (type)dlsym(h, name))) { snprintf(err, errlen, "%s lacks %s", lib, name); return -1; }
    OBJECT(comm_world, MPI_Comm, "ompi_mpi_comm_world")
    OBJECT(type_float, MPI_Datatype, "ompi_mpi_float")
    OBJECT(type_double, MPI_Datatype, "ompi_mpi_double")
    OBJECT(type_int64, MPI_Datatype, "ompi_mpi_int64_t")
    OBJECT(type_byte, MPI_Datatype, "ompi_mpi_byte")
    OBJECT(op_sum, MPI_Op, "ompi_mpi_op_sum")
    OBJECT(errors_return, MPI_Errhandler, "ompi_mpi_errors_return")
    return 0;
}

int vgg_mpi_init(int *rank, int *size) {
    int provided = 0;
    int rc = p_MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) return rc;
    p_MPI_Comm_set_errhandler(comm_world, errors_return);
    if ((rc = p_MPI_Comm_rank(comm_world, rank)) != MPI_SUCCESS) return rc;
    return p_MPI_Comm_size(comm_world, size);
}

int vgg_mpi_finalize(void) { return p_MPI_Finalize(); }
void vgg_mpi_abort(int code) { p_MPI_Abort(comm_world, code); }
double vgg_mpi_wtime(void) { return p_MPI_Wtime(); }

void vgg_mpi_error_string(int code, char *buf, size_t len) {
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (p_MPI_Error_string && p_MPI_Error_string(code, text, &n) == MPI_SUCCESS) snprintf(buf, len, "%.*s", n, text);
    else snprintf(buf, len, "MPI error %d", code);
}

int vgg_mpi_iallreduce_sum_f32(float *values, int count, void **request) {
    return p_MPI_Iallreduce(MPI_IN_PLACE, values, count, type_float, op_sum, comm_world, (MPI_Request *)request);
}
int vgg_mpi_iallreduce_sum_f64(double *values, int count, void **request) {
    return p_MPI_Iallreduce(MPI_IN_PLACE, values, count, type_double, op_sum, comm_world, (MPI_Request *)request);
}
int vgg_mpi_iallgather_i64(const int64_t *send, int64_t *recv, void **request) {
    return p_MPI_Iallgather(send, 1, type_int64, recv, 1, type_int64, comm_world, (MPI_Request *)request);
}
int vgg_mpi_iallgatherv_bytes(const void *send, int send_count, void *recv, const int *counts, const int *displs, void **request) {
    return p_MPI_Iallgatherv(send, send_count, type_byte, recv, counts, displs, type_byte, comm_world, (MPI_Request *)request);
}
int vgg_mpi_igatherv_bytes(const void *send, int send_count, void *recv, const int *counts, const int *displs, int root, void **request) {
    return p_MPI_Igatherv(send, send_count, type_byte, recv, counts, displs, type_byte, root, comm_world, (MPI_Request *)request);
}
int vgg_mpi_ialltoallv_bytes(const void *send, const int *send_counts, const int *send_displs,
                             void *recv, const int *recv_counts, const int *recv_displs, void **request) {
    return p_MPI_Ialltoallv(send, send_counts, send_displs, type_byte, recv, recv_counts, recv_displs, type_byte, comm_world,
                            (MPI_Request *)request);
}
int vgg_mpi_ibarrier(void **request) { return p_MPI_Ibarrier(comm_world, (MPI_Request *)request); }
int vgg_mpi_test(void **request, int *done) { return p_MPI_Test((MPI_Request *)request, done, MPI_STATUS_IGNORE); }

#else
// Built without Open MPI's headers (libopenmpi-dev): every entry point reports it.
int vgg_mpi_load(const char *path, char *err, size_t errlen) {
    (void)path;
    snprintf(err, errlen, "this vggtool was built without Open MPI's headers (install libopenmpi-dev and rebuild)");
    return -1;
}
int vgg_mpi_init(int *rank, int *size) { *rank = 0; *size = 1; return -1; }
int vgg_mpi_finalize(void) { return -1; }
void vgg_mpi_abort(int code) { (void)code; }
void vgg_mpi_error_string(int code, char *buf, size_t len) { snprintf(buf, len, "MPI error %d", code); }
double vgg_mpi_wtime(void) { return 0; }
int vgg_mpi_iallreduce_sum_f32(float *v, int c, void **r) { (void)v; (void)c; (void)r; return -1; }
int vgg_mpi_iallreduce_sum_f64(double *v, int c, void **r) { (void)v; (void)c; (void)r; return -1; }
int vgg_mpi_iallgather_i64(const int64_t *s, int64_t *r, void **q) { (void)s; (void)r; (void)q; return -1; }
int vgg_mpi_iallgatherv_bytes(const void *s, int n, void *r, const int *c, const int *d, void **q) { (void)s; (void)n; (void)r; (void)c; (void)d; (void)q; return -1; }
int vgg_mpi_igatherv_bytes(const void *s, int n, void *r, const int *c, const int *d, int root, void **q) { (void)s; (void)n; (void)r; (void)c; (void)d; (void)root; (void)q; return -1; }
int vgg_mpi_ialltoallv_bytes(const void *s, const int *sc, const int *sd, void *r, const int *rc, const int *rd, void **q) { (void)s; (void)sc; (void)sd; (void)r; (void)rc; (void)rd; (void)q; return -1; }
int vgg_mpi_ibarrier(void **q) { (void)q; return -1; }
int vgg_mpi_test(void **q, int *done) { (void)q; *done = 0; return -1; }
#endif
