// libFuzzer's driver entry (from libclang_rt.fuzzer_no_main), for harnesses whose main SwiftPM names.
#ifndef VGGTOOL_FUZZ_DRIVER_H
#define VGGTOOL_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
/// Defined by each harness (`@_cdecl("LLVMFuzzerTestOneInput")`).
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/// Runs libFuzzer's driver on the harness's LLVMFuzzerTestOneInput: the whole body of each harness's main.
int vgg_fuzz_main(int argc, char **argv);
#endif
