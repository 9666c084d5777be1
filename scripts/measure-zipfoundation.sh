#!/usr/bin/env bash
# Reproduces the measurement behind keeping the hand-written `.keras` zip reader (docs/architecture.md,
# "Packages"): ZIPFoundation 0.9.20's in-memory Archive(data:) on hostile archives, next to `vggtool summary`.
# Builds a scratch package in a temporary folder (the package resolves like the project's own dependencies).
#   scripts/measure-zipfoundation.sh [path/to/vggtool]
set -euo pipefail
cd "$(dirname "$0")/.."
vggtool=${1:-$PWD/.build/debug/vggtool}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pkg/Sources/zf" "$work/cases"
cat > "$work/pkg/Package.swift" <<'EOF'
// swift-tools-version:6.0
import PackageDescription
let package = Package(name: "zf",
  dependencies: [.package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20")],
  targets: [.executableTarget(name: "zf", dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")])])
EOF
cat > "$work/pkg/Sources/zf/main.swift" <<'EOF'
import Foundation
import ZIPFoundation
// Opens the archive in memory, lists it and extracts every entry in memory; one line per entry.
let path = CommandLine.arguments[1]
let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
do {
    let archive = try Archive(data: data, accessMode: .read)
    for entry in archive {
        var got = 0
        do { _ = try archive.extract(entry) { got += $0.count }; print("\(entry.path): declared \(entry.uncompressedSize), extracted \(got)") } catch {
            print("\(entry.path): \(error)")
        }
    }
} catch { print("error: \(error)") }
EOF
python3 - "$work/cases" <<'EOF'
import os, struct, sys, zlib
out = sys.argv[1]
le16 = lambda v: struct.pack("<H", v & 0xFFFF)
le32 = lambda v: struct.pack("<I", v & 0xFFFFFFFF)
def deflate(b):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(b) + c.flush()
def archive(data, method=0, size=None, local_offset=None, cd_offset_delta=0):
    name = b"config.json"
    size = len(data) if size is None else size
    local = le32(0x04034b50) + le16(20) + le16(0) + le16(method) + le32(0) * 2 + le32(len(data)) + le32(size) + le16(len(name)) + le16(0) + name + data
    central = (le32(0x02014b50) + le16(0x0314) + le16(20) + le16(0) + le16(method) + le32(0) * 2 + le32(len(data)) + le32(size)
               + le16(len(name)) + le16(0) * 4 + le32(0o100644 << 16) + le32(local_offset or 0) + name)
    end = le32(0x06054b50) + le16(0) * 2 + le16(1) * 2 + le32(len(central)) + le32(len(local) + cd_offset_delta) + le16(0)
    return local + central + end
cases = {
    "local_header_past_end": archive(b"{}", local_offset=10_000_000),
    "central_directory_past_end": archive(b"{}", cd_offset_delta=5000),
    "deflate_inflates_past_declared_size": archive(deflate(b"{}" * 350), method=8, size=10),
    "declares_3GB_from_100_bytes": archive(deflate(b"x" * 100), method=8, size=3_000_000_000),
}
for name, data in cases.items():
    open(os.path.join(out, name + ".keras"), "wb").write(data)
with open(os.path.join(out, "no_end_record_64MB.keras"), "wb") as f:
    f.write(b"PK\x03\x04" + bytes(64 << 20))
EOF
(cd "$work/pkg" && swift build -c release >/dev/null 2>&1)
for f in "$work"/cases/*.keras; do
  echo "== $(basename "$f")"
  start=$(date +%s.%N)
  set +e
  result=$(SWIFT_BACKTRACE=enable=no timeout 120 "$work/pkg/.build/release/zf" "$f" 2>&1 | head -3 | tr '\n' ' ')
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -gt 128 ]; then result="killed by signal $((status - 128)) (a Swift runtime trap is SIGILL, 4)"; fi
  echo "   ZIPFoundation: $result (exit $status, $(echo "$(date +%s.%N) - $start" | bc) s)"
  start=$(date +%s.%N)
  echo "   vggtool:       $("$vggtool" summary "$f" 2>&1 | head -1) ($(echo "$(date +%s.%N) - $start" | bc) s)"
done
