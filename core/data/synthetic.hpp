// A synthetic, class-conditional and learnable image dataset for tests and for machines with no
// dataset installed (DESIGN.md section 7). Pure function of the spec; safe from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/data/dataset.hpp"

namespace lp::core::data {

// Each class has a smooth random template per channel (a sum of four plane waves with 1..3
// cycles per image). A sample of class c is its template, circularly shifted by up to
// max(1, side/16) pixels, with random contrast (x0.75..1.25) and brightness (+-0.08), plus
// independent uniform pixel noise (sd 0.06), quantised to 0..255. Sample i has label
// i % classes. Every sample is derived from (seed, split, i), so the result does not depend on
// the thread count. Throws InputError for a spec outside channels 1..16, sides 4..1024,
// classes 2..1000, counts 1..10^7 (and at most 4 GiB of pixels).
DatasetPair makeSynthetic(const SyntheticSpec& spec);

}  // namespace lp::core::data
