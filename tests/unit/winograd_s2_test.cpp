// SPDX-License-Identifier: GPL-3.0-or-later
// The stride-2 Winograd kernels (core/nn/winograd.hpp, winogradStride2Forward / Backward)
// against a double-precision direct convolution, on every kernel path.
#include "core/error.hpp"
#include "core/nn/conv2d.hpp"
#include "core/nn/winograd.hpp"

#include "tests/support/bits.hpp"
#include "tests/support/conv3x3_reference.hpp"
#include "tests/support/grad_check.hpp"
#include "tests/support/isa_paths.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace lp::core::nn {
namespace {

class WinogradStride2Path : public lp::testing::OnEachPath {};

LP_TEST_ON_EACH_PATH(WinogradStride2Path);

using Shape = lp::testing::Conv3x3Shape;  // h, w: the input map
using lp::testing::relativeError;
using lp::testing::sameBits;

std::int64_t outSize(std::int64_t in) {
    return (in - 1) / 2 + 1;
}

TensorShape outShape(const Shape& s) {
    return TensorShape{s.n, s.outC, outSize(s.h), outSize(s.w)};
}

// Direct stride-2 padding-1 3x3 cross-correlation in double, with its input gradient and
// weight gradient: y[n, o, oy, ox] = Σ_c,ky,kx w[o, c, ky, kx] · x[n, c, 2oy + ky − 1, 2ox + kx −
// 1].
struct Reference {
    std::vector<double> y;
    std::vector<double> dx;
    std::vector<double> gw;
};

Reference reference(const Shape& s,
                    const std::vector<float>& wt,
                    const Tensor& x,
                    const Tensor& dy) {
    const std::int64_t ho = outSize(s.h);
    const std::int64_t wo = outSize(s.w);
    Reference r{std::vector<double>(static_cast<std::size_t>(s.n * s.outC * ho * wo), 0.0),
                std::vector<double>(static_cast<std::size_t>(x.numel()), 0.0),
                std::vector<double>(wt.size(), 0.0)};
    for (std::int64_t n = 0; n < s.n; ++n) {
        for (std::int64_t o = 0; o < s.outC; ++o) {
            for (std::int64_t c = 0; c < s.inC; ++c) {
                for (std::int64_t k = 0; k < 9; ++k) {
                    const auto wi = static_cast<std::size_t>((o * s.inC + c) * 9 + k);
                    const double f = wt[wi];
                    for (std::int64_t oy = 0; oy < ho; ++oy) {
                        const std::int64_t iy = 2 * oy + k / 3 - 1;
                        for (std::int64_t ox = 0; ox < wo; ++ox) {
                            const std::int64_t ix = 2 * ox + k % 3 - 1;
                            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) {
                                continue;
                            }
                            const auto xi =
                                static_cast<std::size_t>(((n * s.inC + c) * s.h + iy) * s.w + ix);
                            const auto yi =
                                static_cast<std::size_t>(((n * s.outC + o) * ho + oy) * wo + ox);
                            const double xv = x.data()[xi];
                            const double g = dy.data()[yi];
                            r.y[yi] += f * xv;
                            r.dx[xi] += f * g;
                            r.gw[wi] += g * xv;
                        }
                    }
                }
            }
        }
    }
    return r;
}

struct Result {
    Tensor y;
    Tensor dx;
    std::vector<float> gw;
};

Result run(const Shape& s, const std::vector<float>& wt, const Tensor& x, const Tensor& dy) {
    Result r{Tensor(outShape(s)), Tensor(x.shape()), std::vector<float>(wt.size(), 0.0F)};
    winogradStride2Forward(wt.data(), x.data(), s, r.y.data());
    winogradStride2Backward(wt.data(), x.data(), dy.data(), s, r.dx.data(), r.gw.data());
    return r;
}

struct Case {
    std::vector<float> wt;
    Tensor x;
    Tensor dy;
};

Case randomCase(const Shape& s, std::uint64_t seed) {
    return {lp::testing::randomWeights(s.outC * s.inC * 9, seed),
            lp::testing::randomTensor(TensorShape{s.n, s.inC, s.h, s.w}, seed + 1),
            lp::testing::randomTensor(outShape(s), seed + 2)};
}

// ResNet-18's three stride-2 3x3 layers at width 64 from 32x32 (32 -> 16 -> 8 -> 4) and at width
// 16 from 28x28 (28 -> 14 -> 7 -> 4: odd maps, half-empty border tiles), channel slices of 32, 16
// and 8 (48 and 24 channels), a 1x1 and a 2x3 map, and more samples than one block holds.
const Shape kShapes[] = {{2, 64, 128, 32, 32},
                         {2, 128, 256, 16, 16},
                         {3, 256, 512, 8, 8},
                         {3, 16, 32, 28, 28},
                         {3, 32, 64, 14, 14},
                         {3, 64, 128, 7, 7},
                         {2, 48, 24, 9, 5},
                         {2, 8, 16, 1, 1},
                         {2, 8, 24, 2, 3},
                         {40, 32, 32, 8, 8}};

TEST_P(WinogradStride2Path, MatchesTheDirectConvolution) {
    std::uint64_t seed = 100;
    for (const Shape& s : kShapes) {
        SCOPED_TRACE(lp::testing::describe(s));
        const Case c = randomCase(s, seed += 3);
        const Result got = run(s, c.wt, c.x, c.dy);
        const Reference want = reference(s, c.wt, c.x, c.dy);
        // Measured 4e-8 to 5.1e-7 on every path (the transforms only add and subtract); a wrong
        // term in a transform gives ~1e-1 to 1.
        EXPECT_LT(relativeError(got.y.span(), want.y), 1e-6);
        EXPECT_LT(relativeError(got.dx.span(), want.dx), 1e-6);
        EXPECT_LT(relativeError(got.gw, want.gw), 1e-6);
    }
}

TEST_P(WinogradStride2Path, OverwritesTheOutputsAndAddsTheWeightGradient) {
    const Shape s{3, 32, 64, 14, 14};
    const Case c = randomCase(s, 7);
    const Result clean = run(s, c.wt, c.x, c.dy);
    Tensor y(outShape(s));
    Tensor dx(c.x.shape());
    for (float& v : y.span()) {
        v = NAN;
    }
    for (float& v : dx.span()) {
        v = NAN;
    }
    std::vector<float> gw(c.wt.size(), 1.0F);
    winogradStride2Forward(c.wt.data(), c.x.data(), s, y.data());
    winogradStride2Backward(c.wt.data(), c.x.data(), c.dy.data(), s, dx.data(), gw.data());
    EXPECT_TRUE(sameBits(y.span(), clean.y.span()));
    EXPECT_TRUE(sameBits(dx.span(), clean.dx.span()));
    for (std::size_t i = 0; i < gw.size(); ++i) {  // the same terms, summed onto 1
        ASSERT_NEAR(gw[i], 1.0F + clean.gw[i], 1e-5F * (1.0F + std::abs(clean.gw[i]))) << i;
    }
}

TEST_P(WinogradStride2Path, BitIdenticalForOneTwoAndFourThreads) {
    // Several blocks of samples (32 samples of 32x32 with 64 -> 128 channels) and one block of a
    // weight-heavy layer (256 -> 512 at 8x8).
    for (const Shape& s : {Shape{32, 64, 128, 32, 32}, Shape{16, 256, 512, 8, 8}}) {
        const Case c = randomCase(s, 21);
        Result first;
        for (const int threads : {1, 2, 4}) {
            const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                            static_cast<std::size_t>(threads));
            Result r = run(s, c.wt, c.x, c.dy);
            if (threads == 1) {
                first = std::move(r);
                continue;
            }
            EXPECT_TRUE(sameBits(r.y.span(), first.y.span())) << threads << " threads";
            EXPECT_TRUE(sameBits(r.dx.span(), first.dx.span())) << threads << " threads";
            EXPECT_TRUE(sameBits(std::span<const float>(r.gw), std::span<const float>(first.gw)))
                << threads << " threads";
        }
    }
}

TEST_P(WinogradStride2Path, RefusesChannelCountsThatAreNotMultiplesOfEight) {
    const Shape s{1, 12, 16, 8, 8};
    std::vector<float> wt(static_cast<std::size_t>(s.outC * s.inC * 9), 0.0F);
    Tensor x(TensorShape{s.n, s.inC, s.h, s.w});
    Tensor y(outShape(s));
    EXPECT_THROW(winogradStride2Forward(wt.data(), x.data(), s, y.data()), ContractError);
}

// Conv2d's stride-2 3x3 layers of ResNet take it (bits of the kernel, with and without a bias);
// the weight gradient still matches the direct correlation.
TEST_P(WinogradStride2Path, Conv2dUsesItForResNetsDownsamplingLayers) {
    for (const bool bias : {false, true}) {
        const Shape s{2, 64, 128, 16, 16};
        const Conv2d conv({.inChannels = s.inC,
                           .outChannels = s.outC,
                           .kernel = 3,
                           .stride = 2,
                           .padding = 1,
                           .bias = bias});
        Case c = randomCase(s, 31);
        std::vector<float> params = c.wt;
        if (bias) {
            params.resize(params.size() + static_cast<std::size_t>(s.outC), 0.25F);
        }
        Context ctx;
        const Tensor y = conv.forward({params, {}}, c.x, ctx, Mode::Train);
        std::vector<float> gw(params.size(), 0.0F);
        const Tensor dx = conv.backward({params, {}}, c.dy, ctx, gw);
        Result want = run(s, c.wt, c.x, c.dy);
        if (bias) {
            for (float& v : want.y.span()) {
                v += 0.25F;
            }
        }
        EXPECT_TRUE(sameBits(y.span(), want.y.span()));
        EXPECT_TRUE(sameBits(dx.span(), want.dx.span()));
        EXPECT_TRUE(sameBits(std::span<const float>(gw).first(c.wt.size()),
                             std::span<const float>(want.gw)));
        if (bias) {
            const std::int64_t plane = outSize(s.h) * outSize(s.w);
            for (std::int64_t o = 0; o < s.outC; ++o) {
                double sum = 0.0;
                for (std::int64_t n = 0; n < s.n; ++n) {
                    for (std::int64_t i = 0; i < plane; ++i) {
                        sum += static_cast<double>(c.dy.data()[(n * s.outC + o) * plane + i]);
                    }
                }
                EXPECT_NEAR(gw[c.wt.size() + static_cast<std::size_t>(o)], sum, 1e-4) << o;
            }
        }
    }
}

}  // namespace
}  // namespace lp::core::nn
