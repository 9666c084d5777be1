#!/usr/bin/env bash
# Installs the system packages vggtool builds against (Debian 12), when missing. Needs root (or sudo).
# `setup.sh browser` also installs Chromium, which the tests use to check vggtool's HTML pages in a real
# (headless) browser: about 360 MB installed with its libraries, 2-3 minutes of apt here, so only scripts/test.sh
# asks for it.
set -euo pipefail
# libopenmpi-dev: mpi.h for Sources/CMPI (Open MPI itself is loaded only by a rank of an MPI job); openmpi-bin:
# mpirun, for running such jobs and for the multi-rank tests (docs/distributed.md).
packages=(libhdf5-dev zlib1g-dev libssl-dev pkg-config libopenblas-dev libturbojpeg0-dev libpng-dev libgif-dev dataset-fashion-mnist
          libopenmpi-dev openmpi-bin)
if [ "${1:-}" = "browser" ]; then packages+=(chromium); fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
