#!/usr/bin/env bash
# The README's main command: installs what is missing, builds vggtool (release) and runs the demo:
# a full-size VGG16 (.h5, tf.keras layout, seeded weights) converted to .vggm, summarized and verified.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build -c release --product vggtool --static-swift-stdlib
.build/release/vggtool demo --dir "${1:-vggtool-demo}"
