// Argument checks shared by the 3x3 convolution kernels (core/nn/winograd.hpp,
// core/nn/direct3x3.hpp).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/error.hpp"

#include <cstdint>

namespace lp::core::nn {

// Throws ContractError naming `kernel` and every size unless all of them are positive.
inline void expectConv3x3Sizes(const char* kernel,
                               std::int64_t outC,
                               std::int64_t inC,
                               std::int64_t n,
                               std::int64_t h,
                               std::int64_t w) {
    LP_EXPECTS(outC >= 1 && inC >= 1 && n >= 1 && h >= 1 && w >= 1,
               concat(kernel,
                      " needs positive sizes, got out=",
                      outC,
                      " in=",
                      inC,
                      " n=",
                      n,
                      " h=",
                      h,
                      " w=",
                      w));
}

}  // namespace lp::core::nn
