#!/usr/bin/env bash
# Installs every Debian 12 package LayerPipe Studio needs to build, test and run.
# Idempotent: does nothing (not even an apt-get update) when everything is already there.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config
    libeigen3-dev libtbb-dev nlohmann-json3-dev zlib1g-dev libcli11-dev
    libblis-serial-dev libxsmm-dev
    # `layerpipe run --mpi` (LP_MPI) and its tests (mpirun)
    libopenmpi-dev openmpi-bin
    libgtest-dev libgmock-dev libbenchmark-dev
    qt6-base-dev qt6-svg-dev libqcustomplot-dev libgl-dev
    dataset-fashion-mnist
    xvfb xauth
    # the .deb (cpack -G DEB: dpkg-shlibdeps, file) and the install test's validators
    dpkg-dev file desktop-file-utils appstream
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
