// Bit-for-bit comparison of float results (the determinism tests: same bits for any thread
// count, or two code paths that must agree exactly).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstring>
#include <span>

namespace lp::testing {

inline bool sameBits(std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

}  // namespace lp::testing
