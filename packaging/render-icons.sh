#!/usr/bin/env bash
# Renders the PNG sizes of the application icon from resources/icons/layerpipe.svg into
# packaging/icons/. Run it after changing the SVG and commit the PNGs: the build does not need
# the renderer (rsvg-convert, Debian package librsvg2-bin).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
for size in 16 24 32 48 64 128 256 512; do
    rsvg-convert --width "$size" --height "$size" resources/icons/layerpipe.svg \
        --output "packaging/icons/layerpipe-$size.png"
done
