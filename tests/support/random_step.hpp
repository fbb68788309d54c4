// Random weights and gradients for the optimizer tests (optimizer, lamb, rewind): one stream of
// draws, so a test's numbers depend only on its seed. Plain function.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include <cstdint>
#include <vector>

namespace lp::test {

// Fills w with N(0, 1) and g (the same size) with gradScale·N(0, 1), drawing w[i] then g[i] for
// each i from Rng(seed).
inline void fillWeightsAndGrads(std::vector<float>& w,
                                std::vector<float>& g,
                                std::uint64_t seed,
                                float gradScale) {
    LP_EXPECTS(w.size() == g.size(), "one gradient per weight");
    core::Rng rng(seed);
    for (std::size_t i = 0; i < w.size(); ++i) {
        w[i] = rng.normal();
        g[i] = gradScale * rng.normal();
    }
}

}  // namespace lp::test
