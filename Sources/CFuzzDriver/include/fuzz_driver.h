// libFuzzer's driver entry (from libclang_rt.fuzzer_no_main), for harnesses whose main SwiftPM names.
#ifndef VGGTOOL_FUZZ_DRIVER_H
#define VGGTOOL_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
