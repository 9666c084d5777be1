#!/usr/bin/env bash
# The README's test command: installs what is missing (Chromium included), builds, runs the whole test suite
# (pages checked in headless Chromium), then a short
# deterministic fuzzing run of each reader.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh browser
swift build --build-tests
# The pages (vggtool graph, the training report) are opened in headless Chromium by the tests
# (GraphPageTests, ReportPageTests: DOM read back, console errors, screenshots); required here, skipped elsewhere
# when Chromium is missing. About 20 s of the suite's time.
# Screenshots of every page checked go to .build/screenshots (for a look at what CI saw).
# The multi-rank tests (DistributedCLITests: mpirun --allow-run-as-root --oversubscribe -n 2 and 3) must run
# here (openmpi-bin is installed by setup.sh); elsewhere they are skipped without mpirun.
VGGTOOL_BROWSER_CHECK=1 VGGTOOL_MPI_CHECK=1 VGGTOOL_SCREENSHOTS="$PWD/.build/screenshots" swift test --skip-build "$@"
# Every public declaration of the library modules has a doc comment: the symbol graph of the debug build,
# checked by scripts/check-docs.swift (lists each undocumented one and fails the run).
swift package dump-symbol-graph --minimum-access-level public >/dev/null
swift scripts/check-docs.swift "$(swift build --show-bin-path)/../symbolgraph"
# The example package (Examples/ClassifyImage) builds against the library products and classifies an image.
swift build --package-path Examples/ClassifyImage --scratch-path .build/examples
example=$(.build/examples/debug/classify-image Fixtures/tiny_vgg16.tfkeras.full.h5 Fixtures/images/rgb.jpg)
grep -q '^class 0 ' <<< "$example" || { echo "the example printed: $example"; exit 1; }
# A short, deterministic libFuzzer run of each reader (ASan build in .build/fuzz; see docs/hostile-input.md).
./scripts/fuzz.sh --ci
