// Whether two checkpoints hold the same trained bits: the CLI tests' comparison of a resumed,
// an MPI or an otherwise differently produced run with the straight one. One thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/safetensors.hpp"

#include "tests/support/bits.hpp"

#include <string>

namespace lp::testing {

// Every tensor of two checkpoints has the same name, shape and bits, and both are at the same
// step (the rest of the metadata may differ: the thread count is recorded in the stored
// config). False for checkpoints without tensors.
inline bool sameTensors(const std::string& a, const std::string& b) {
    const auto fa = core::io::readSafetensors(a);
    const auto fb = core::io::readSafetensors(b);
    if (fa.tensors.size() != fb.tensors.size() || fa.tensors.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < fa.tensors.size(); ++i) {
        const auto& x = fa.tensors[i];
        const auto& y = fb.tensors[i];
        if (x.name != y.name || x.shape != y.shape || !sameBits(x.values, y.values)) {
            return false;
        }
    }
    return fa.metadata.at("step") == fb.metadata.at("step");
}

}  // namespace lp::testing
