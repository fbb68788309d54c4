// Double-precision references for the 3x3 stride-1 padding-1 convolution kernels (Winograd,
// direct): forward, input gradient and weight gradient, and the relative error against them.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/conv3x3_shape.hpp"
#include "core/tensor/rng.hpp"
#include "core/tensor/tensor.hpp"

#include "tests/support/grad_check.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace lp::testing {

using Conv3x3Shape = core::nn::Conv3x3Shape;

inline std::vector<float> randomWeights(std::int64_t count, std::uint64_t seed) {
    std::vector<float> w(static_cast<std::size_t>(count));
    lp::core::Rng rng(seed);
    for (float& v : w) {
        v = rng.uniform(-0.5F, 0.5F);
    }
    return w;
}

// One random problem of shape s: weights [o, c, 3, 3], input x [n, c, h, w] and output gradient
// dy [n, o, h, w], drawn from the seeds seed, seed + 1 and seed + 2.
struct Conv3x3Case {
    std::vector<float> wt;
    core::Tensor x;
    core::Tensor dy;
};

inline Conv3x3Case randomCase(const Conv3x3Shape& s, std::uint64_t seed) {
    return {randomWeights(s.outC * s.inC * 9, seed),
            randomTensor(core::TensorShape{s.n, s.inC, s.h, s.w}, seed + 1),
            randomTensor(core::TensorShape{s.n, s.outC, s.h, s.w}, seed + 2)};
}

// "n 2 c 16 o 16 32x32": a shape in a test's trace.
inline std::string describe(const Conv3x3Shape& s) {
    std::ostringstream text;
    text << "n " << s.n << " c " << s.inC << " o " << s.outC << " " << s.h << "x" << s.w;
    return text.str();
}

// check(s, problem) for each shape in order, the k-th (from 1) with randomCase(s, seed + 3k),
// under the shape's description in the trace.
template <typename Check>
void forEachRandomCase(std::span<const Conv3x3Shape> shapes, std::uint64_t seed, Check&& check) {
    for (const Conv3x3Shape& s : shapes) {
        SCOPED_TRACE(describe(s));
        check(s, randomCase(s, seed += 3));
    }
}

// Direct 3x3 stride-1 padding-1 cross-correlation in double: out[n, a] = Σ_b Σ_ky,kx
// f(a, b, ky, kx) · in[n, b, y + ky − 1, x + kx − 1], with the filter f read from the weights
// [o, c, 3, 3] as the forward (a = o, b = c) or as the input gradient (a = c, b = o, rotated).
inline std::vector<double> referenceConv3x3(bool inputGradient,
                                            const std::vector<float>& wt,
                                            const Conv3x3Shape& s,
                                            const float* in) {
    const bool fwd = !inputGradient;
    const std::int64_t cin = fwd ? s.inC : s.outC;
    const std::int64_t cout = fwd ? s.outC : s.inC;
    std::vector<double> out(static_cast<std::size_t>(s.n * cout * s.h * s.w), 0.0);
    for (std::int64_t n = 0; n < s.n; ++n) {
        for (std::int64_t a = 0; a < cout; ++a) {
            for (std::int64_t b = 0; b < cin; ++b) {
                const float* plane = in + (n * cin + b) * s.h * s.w;
                double* dst = out.data() + (n * cout + a) * s.h * s.w;
                for (std::int64_t ky = 0; ky < 3; ++ky) {
                    for (std::int64_t kx = 0; kx < 3; ++kx) {
                        const std::int64_t idx = fwd ? ((a * s.inC + b) * 3 + ky) * 3 + kx
                                                     : ((b * s.inC + a) * 3 + 2 - ky) * 3 + 2 - kx;
                        const double f = wt[static_cast<std::size_t>(idx)];
                        for (std::int64_t y = 0; y < s.h; ++y) {
                            const std::int64_t iy = y + ky - 1;
                            if (iy < 0 || iy >= s.h) {
                                continue;
                            }
                            for (std::int64_t x = 0; x < s.w; ++x) {
                                const std::int64_t ix = x + kx - 1;
                                if (ix >= 0 && ix < s.w) {
                                    dst[y * s.w + x] +=
                                        f * static_cast<double>(plane[iy * s.w + ix]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return out;
}

// dW[o, c, ky, kx] = Σ_n,y,x dy[n, o, y, x] · x[n, c, y + ky − 1, x + kx − 1], in double.
inline std::vector<double> referenceWeightGradient3x3(const Conv3x3Shape& s,
                                                      const float* x,
                                                      const float* dy) {
    std::vector<double> gw(static_cast<std::size_t>(s.outC * s.inC * 9), 0.0);
    for (std::int64_t o = 0; o < s.outC; ++o) {
        for (std::int64_t c = 0; c < s.inC; ++c) {
            for (std::int64_t k = 0; k < 9; ++k) {
                double sum = 0.0;
                for (std::int64_t n = 0; n < s.n; ++n) {
                    const float* d = dy + (n * s.outC + o) * s.h * s.w;
                    const float* xin = x + (n * s.inC + c) * s.h * s.w;
                    for (std::int64_t yy = 0; yy < s.h; ++yy) {
                        const std::int64_t iy = yy + k / 3 - 1;
                        if (iy < 0 || iy >= s.h) {
                            continue;
                        }
                        for (std::int64_t xx = 0; xx < s.w; ++xx) {
                            const std::int64_t ix = xx + k % 3 - 1;
                            if (ix >= 0 && ix < s.w) {
                                sum += static_cast<double>(d[yy * s.w + xx]) *
                                       static_cast<double>(xin[iy * s.w + ix]);
                            }
                        }
                    }
                }
                gw[static_cast<std::size_t>((o * s.inC + c) * 9 + k)] = sum;
            }
        }
    }
    return gw;
}

// ||got − ref||₂ / ||ref||₂.
inline double relativeError(std::span<const float> got, const std::vector<double>& ref) {
    EXPECT_EQ(got.size(), ref.size());
    double err = 0.0;
    double norm = 0.0;
    for (std::size_t i = 0; i < ref.size() && i < got.size(); ++i) {
        const double d = static_cast<double>(got[i]) - ref[i];
        err += d * d;
        norm += ref[i] * ref[i];
    }
    return std::sqrt(err / norm);
}

}  // namespace lp::testing
