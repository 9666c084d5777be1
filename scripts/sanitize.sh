#!/usr/bin/env bash
# Builds and runs the whole test suite under a sanitizer, in its own build folder:
#   scripts/sanitize.sh address     # AddressSanitizer (also catches leaks in C code and out-of-bounds reads)
#   scripts/sanitize.sh thread      # ThreadSanitizer (the runtime's worker threads, the checkpoint writer)
# The CLI tests run the sanitized vggtool binary too.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address}
case "$kind" in address|thread) ;; *) echo "usage: $0 address|thread" >&2; exit 2 ;; esac
./scripts/setup.sh
path=.build/sanitize-$kind
swift build --build-tests --sanitize="$kind" --build-path "$path"
export VGGTOOL_TEST_BINARY="$PWD/$path/debug/vggtool"
export VGGTOOL_TEST_NO_ULIMIT=1 VGGTOOL_PROBE_NO_MEMORY_LIMIT=1   # the sanitizers reserve huge shadow mappings
# Leak reports from libhdf5's and OpenBLAS's process-lifetime allocations are not ours. handle_segv=0: a
# libhdf5 crash in the isolated probe (a corpus case) must end it by the signal, as in a normal build, not
# by the sanitizer's report and exit status 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:handle_segv=0}
# (scripts/tsan-suppressions.txt: a dependency's Synchronization.Mutex, which TSan cannot see.)
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:handle_segv=0:suppressions=$PWD/scripts/tsan-suppressions.txt}
swift test --skip-build --sanitize="$kind" --build-path "$path" "${@:2}"
