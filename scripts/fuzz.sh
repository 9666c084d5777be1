#!/usr/bin/env bash
# libFuzzer runs of vggtool's readers, instrumented with AddressSanitizer and coverage:
#   scripts/fuzz.sh [seconds per harness] [harness...]    (default: 30 s each; all of vggm config npy image keras)
#   scripts/fuzz.sh --ci                                    (CI: a short, deterministic run of each harness)
#   FUZZ_KEEP_GOING=1 scripts/fuzz.sh 1200 keras            (fork mode: record crashes/timeouts, carry on)
# Seeds come from Fixtures/ (valid files and the hostile corpus); each harness keeps its growing corpus in
# .build/fuzz-corpus/<harness>/, writes crashing inputs to .build/fuzz-crashes/<harness>/ (then exits 1) and
# the full libFuzzer log to .build/fuzz-logs/<harness>.log.
# The CI mode starts from the seeds only, with a fixed libFuzzer seed and a fixed number of runs, so it does
# the same executions every time.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=0
if [ "${1:-}" = "--ci" ]; then ci=1; shift; fi
secs=${1:-30}
shift || true
harnesses=("$@")
[ $# -eq 0 ] && harnesses=(vggm config npy image keras)
./scripts/setup.sh
export VGGTOOL_FUZZ=1
# lld: gold crashes on these links. SwiftPM names each executable's main <Target>_main, which starts
# libFuzzer's driver (LLVMFuzzerRunDriver).
flags=(--build-path .build/fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
       -Xcc -fsanitize=fuzzer-no-link,address)
declare -A product=([vggm]=FuzzVGGM [config]=FuzzKerasConfig [npy]=FuzzNumPy [image]=FuzzImage [keras]=FuzzKerasFile)
status=0
for h in "${harnesses[@]}"; do
  p=${product[$h]}
  swift build "${flags[@]}" --product "$p" >/dev/null
  corpus=.build/fuzz-corpus/$h; crashes=.build/fuzz-crashes/$h; seeds=$(mktemp -d)
  if [ $ci -eq 1 ]; then corpus=$(mktemp -d); fi
  mkdir -p "$corpus" "$crashes" .build/fuzz-logs
  declare -A runs=([vggm]=4000 [config]=8000 [npy]=100000 [image]=40000 [keras]=1000)
  limit=(-max_total_time="$secs")
  [ $ci -eq 1 ] && limit=(-seed=1 -runs="${runs[$h]}")
  # FUZZ_KEEP_GOING=1: fork mode, which records crashes and timeouts and carries on (for long runs of the
  # Keras harness, where libhdf5's own hangs and crashes would otherwise end every run early).
  [ -n "${FUZZ_KEEP_GOING:-}" ] && limit+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  case $h in
    vggm)   cp Fixtures/hostile/*.vggm Fixtures/*.vggm "$seeds/" ;;
    config) cp Fixtures/*.config.json Fixtures/summaries/*.config.json "$seeds/" ;;
    npy)    cp Fixtures/goldens/*.npy Fixtures/hostile/*.npy "$seeds/" 2>/dev/null; find "$seeds" -size +64k -delete ;;
    keras)  if [ $ci -eq 1 ]; then grep -v '^#' scripts/fuzz-ci-keras-seeds.txt | xargs -I{} cp {} "$seeds/"
            else cp Fixtures/*.h5 Fixtures/*.keras Fixtures/hostile/*.h5 Fixtures/hostile/*.keras "$seeds/"; fi
            find "$seeds" -size +128k -delete
            # Inputs that hang or crash libhdf5 itself (kept as regression cases) would stop the run at once.
            for f in Fixtures/fuzz-found/*; do rm -f "$seeds/$(basename "$f")"; done ;;
    image)  cp Fixtures/images/*.jpg Fixtures/images/*.png Fixtures/images/*.bmp Fixtures/images/*.gif "$seeds/" ;;
  esac
  echo "== $p: ${limit[*]}"
  set +e
  # No Swift backtracer: it crashes under ASan and hides the original trap from libFuzzer.
  # allocator_may_return_null: an impossible allocation fails with NULL as in a normal build (libhdf5 then
  # reports it) instead of ending the run.
  # The harnesses write each input to a file named by their pid in TMPDIR: a folder of their own, removed after.
  scratch=$(mktemp -d)
  TMPDIR=$scratch SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 ".build/fuzz/debug/$p" "$corpus" "$seeds" "${limit[@]}" -rss_limit_mb=4096 \
      -timeout=10 -max_len=1048576 -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 | tee ".build/fuzz-logs/$h.log" | grep -E "^(stat::|#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY|INFO: exiting)" 
  rc=${PIPESTATUS[0]}
  set -e
  rm -rf "$seeds" "$scratch"
  [ $ci -eq 1 ] && rm -rf "$corpus"
  [ $ci -eq 1 ] || echo "   corpus: $(ls "$corpus" | wc -l) inputs; exit status $rc"
  [ $ci -eq 0 ] || echo "   exit status $rc"
  [ "$rc" -eq 0 ] || status=1
done
exit $status
