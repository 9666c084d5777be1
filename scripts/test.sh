#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs the whole test suite, then a short
# deterministic fuzzing run of each reader.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
# A short, deterministic libFuzzer run of each reader (ASan build in .build/fuzz; see docs/hostile-input.md).
./scripts/fuzz.sh --ci
