// The sizes of a 3x3, stride-1, padding-1 convolution, shared by its kernels
// (core/nn/winograd.hpp, core/nn/direct3x3.hpp): one value instead of five integers in a row
// that a caller could swap unnoticed.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/error.hpp"

#include <cstdint>

namespace lp::core::nn {

// n samples of inC planes of h x w in, outC planes of h x w out; weights [outC, inC, 3, 3].
struct Conv3x3Shape {
    std::int64_t n = 0;
    std::int64_t inC = 0;
    std::int64_t outC = 0;
    std::int64_t h = 0;
    std::int64_t w = 0;
};

// Throws ContractError naming `kernel` and every size unless all of them are positive.
inline void expectConv3x3Sizes(const char* kernel, const Conv3x3Shape& s) {
    LP_EXPECTS(s.outC >= 1 && s.inC >= 1 && s.n >= 1 && s.h >= 1 && s.w >= 1,
               concat(kernel,
                      " needs positive sizes, got out=",
                      s.outC,
                      " in=",
                      s.inC,
                      " n=",
                      s.n,
                      " h=",
                      s.h,
                      " w=",
                      s.w));
}

}  // namespace lp::core::nn
