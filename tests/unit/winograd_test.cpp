// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/winograd.hpp"

#include "core/nn/conv2d.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/bits.hpp"
#include "tests/support/conv3x3_reference.hpp"
#include "tests/support/grad_check.hpp"
#include "tests/support/isa_paths.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

namespace lp::core::nn {
namespace {

// Every test of this suite runs on each kernel path (tests/support/isa_paths.hpp).
class WinogradPath : public lp::testing::OnEachPath {};

LP_TEST_ON_EACH_PATH(WinogradPath);

using Shape = lp::testing::Conv3x3Shape;
using lp::testing::randomWeights;
using lp::testing::relativeError;

std::vector<double> directConv(WinogradPass pass,
                               const std::vector<float>& wt,
                               const Shape& s,
                               const float* in) {
    return lp::testing::referenceConv3x3(pass == WinogradPass::InputGradient, wt, s, in);
}

std::vector<double> directWeightGradient(const Shape& s, const float* x, const float* dy) {
    return lp::testing::referenceWeightGradient3x3(s, x, dy);
}

using lp::testing::sameBits;

Tensor runWinograd(WinogradPass pass,
                   const std::vector<float>& wt,
                   const Shape& s,
                   const Tensor& in) {
    const std::int64_t outChannels = pass == WinogradPass::Forward ? s.outC : s.inC;
    Tensor out(TensorShape{s.n, outChannels, s.h, s.w});
    winogradConv3x3(pass, wt.data(), in.data(), s, out.data());
    return out;
}

// ResNet-18 shapes (32x32 with 64 channels, 16x16 with 128, 8x8 with 256, 4x4 with 128, more
// outputs than inputs at a stage entry), 384 channels (the weight gradient's by-position path),
// tile rows of 9 tiles (8 on the AVX2 path plus one scalar), the narrow maps' path (8 and 4 wide,
// and the odd 7 and 3 with masked loads: 2 or 4 tile rows, of one sample or two, in a vector;
// enough samples that blocks hold several tile rows, with scalar remainders) at odd heights, odd
// heights and widths (half-empty border tiles), a single channel, and one sample.
const Shape kShapes[] = {{2, 64, 64, 32, 32},
                         {2, 128, 128, 16, 16},
                         {2, 256, 256, 8, 8},
                         {3, 128, 128, 4, 4},
                         {2, 384, 384, 4, 4},
                         {16, 8, 8, 4, 4},
                         {12, 6, 9, 5, 4},
                         {6, 5, 7, 7, 8},
                         {6, 64, 64, 7, 7},
                         {12, 6, 9, 5, 3},
                         {3, 32, 64, 16, 16},
                         {2, 5, 7, 8, 8},
                         {3, 7, 6, 7, 8},
                         {2, 6, 9, 5, 4},
                         {2, 3, 5, 4, 4},
                         {2, 5, 7, 18, 18},
                         {3, 4, 3, 7, 9},
                         {1, 1, 1, 5, 17},
                         {2, 3, 2, 1, 1}};

TEST_P(WinogradPath, ForwardAndInputGradientMatchDirectConvolution) {
    lp::testing::forEachRandomCase(
        kShapes, 900, [](const Shape& s, const lp::testing::Conv3x3Case& c) {
            const auto& [wt, x, dy] = c;
            const Tensor y = runWinograd(WinogradPass::Forward, wt, s, x);
            const Tensor dx = runWinograd(WinogradPass::InputGradient, wt, s, dy);
            // Measured 1e-8 to 5e-7 here (im2col's dW below: 1e-7); a wrong transform entry gives
            // ~1.
            EXPECT_LT(relativeError(y.span(), directConv(WinogradPass::Forward, wt, s, x.data())),
                      2e-6);
            EXPECT_LT(
                relativeError(dx.span(), directConv(WinogradPass::InputGradient, wt, s, dy.data())),
                2e-6);
        });
}

TEST_P(WinogradPath, WeightGradientMatchesDirectCorrelation) {
    lp::testing::forEachRandomCase(
        kShapes, 1900, [](const Shape& s, const lp::testing::Conv3x3Case& c) {
            const auto& [wt, x, dy] = c;
            std::vector<float> gw(static_cast<std::size_t>(s.outC * s.inC * 9), 0.0F);
            winogradWeightGradient(x.data(), dy.data(), s, gw.data());
            EXPECT_LT(relativeError(gw, directWeightGradient(s, x.data(), dy.data())), 2e-6);
        });
}

// Both layouts of ∂L/∂U (core/nn/winograd_kernels.inc, gradGemm): a thin layer's, and one whose
// block products go to libxsmm transposed on the SIMD paths of a build with it (64 -> 44
// channels: tails of 4 output channels in the transposed adjoint and transpose).
TEST_P(WinogradPath, WeightGradientAddsToTheGradient) {
    for (const Shape& s : {Shape{2, 3, 4, 6, 10}, Shape{8, 64, 44, 16, 16}}) {
        const Tensor x = lp::testing::randomTensor(TensorShape{s.n, s.inC, s.h, s.w}, 41);
        const Tensor dy = lp::testing::randomTensor(TensorShape{s.n, s.outC, s.h, s.w}, 42);
        std::vector<float> once(static_cast<std::size_t>(s.outC * s.inC * 9), 0.0F);
        winogradWeightGradient(x.data(), dy.data(), s, once.data());
        EXPECT_LT(relativeError(once, directWeightGradient(s, x.data(), dy.data())), 2e-6);
        std::vector<float> twice(once.size(), 1.0F);
        winogradWeightGradient(x.data(), dy.data(), s, twice.data());
        for (std::size_t i = 0; i < once.size(); ++i) {  // the same terms, summed onto 1
            ASSERT_NEAR(twice[i], 1.0F + once[i], 1e-5F * (1.0F + std::abs(once[i]))) << i;
        }
    }
}

TEST_P(WinogradPath, OverwritesTheOutput) {
    const Shape s{2, 3, 4, 6, 10};
    const std::vector<float> wt = randomWeights(s.outC * s.inC * 9, 7);
    const Tensor x = lp::testing::randomTensor(TensorShape{s.n, s.inC, s.h, s.w}, 8);
    Tensor y(TensorShape{s.n, s.outC, s.h, s.w});
    for (float& v : y.span()) {
        v = NAN;
    }
    winogradConv3x3(WinogradPass::Forward, wt.data(), x.data(), s, y.data());
    EXPECT_TRUE(sameBits(y.span(), runWinograd(WinogradPass::Forward, wt, s, x).span()));
}

TEST_P(WinogradPath, BitIdenticalForOneTwoAndFourThreads) {
    // Several tile blocks per call (8 samples of 32x32 with 64 channels: 16 blocks of 64 tiles),
    // blocks spanning samples (8x8 and 4x4 maps), a short last block (odd tile-row count), and
    // both weight-gradient paths (by chunks up to 256 channels, by positions at 384).
    const Shape shapes[] = {{8, 64, 64, 32, 32},
                            {12, 256, 256, 8, 8},
                            {20, 128, 128, 4, 4},
                            {7, 32, 48, 18, 18},
                            {6, 384, 384, 4, 4}};
    for (const Shape& s : shapes) {
        const auto [wt, x, dy] = lp::testing::randomCase(s, 21);
        Tensor y1;
        Tensor dx1;
        std::vector<float> gw1;
        for (const int threads : {1, 2, 4}) {
            const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                            static_cast<std::size_t>(threads));
            Tensor y = runWinograd(WinogradPass::Forward, wt, s, x);
            Tensor dx = runWinograd(WinogradPass::InputGradient, wt, s, dy);
            std::vector<float> gw(wt.size(), 0.0F);
            winogradWeightGradient(x.data(), dy.data(), s, gw.data());
            if (threads == 1) {
                y1 = std::move(y);
                dx1 = std::move(dx);
                gw1 = std::move(gw);
                continue;
            }
            EXPECT_TRUE(sameBits(y.span(), y1.span())) << threads << " threads";
            EXPECT_TRUE(sameBits(dx.span(), dx1.span())) << threads << " threads";
            EXPECT_TRUE(sameBits(std::span<const float>(gw), std::span<const float>(gw1)))
                << threads << " threads";
        }
    }
}

// Conv2d takes the Winograd path at ResNet's 3x3 shapes (a wide map, and the narrow 8x8 and 4x4
// maps of a width-16 ResNet's last stages): its forward, input gradient and weight gradient are
// Winograd's bits, and the weight gradient matches the direct correlation.
class WinogradInConv2d : public ::testing::TestWithParam<Shape> {};

TEST_P(WinogradInConv2d, UsesWinogradWhereTheRuleSays) {
    const Shape s = GetParam();
    const Conv2d conv(
        {.inChannels = s.inC, .outChannels = s.outC, .kernel = 3, .stride = 1, .padding = 1});
    const auto [wt, x, dy] = lp::testing::randomCase(s, 31);
    Context ctx;
    const Tensor y = conv.forward({wt, {}}, x, ctx, Mode::Train);
    std::vector<float> gw(wt.size(), 0.0F);
    const Tensor dx = conv.backward({wt, {}}, dy, ctx, gw);
    EXPECT_TRUE(sameBits(y.span(), runWinograd(WinogradPass::Forward, wt, s, x).span()));
    EXPECT_TRUE(sameBits(dx.span(), runWinograd(WinogradPass::InputGradient, wt, s, dy).span()));

    std::vector<float> wino(wt.size(), 0.0F);
    winogradWeightGradient(x.data(), dy.data(), s, wino.data());
    EXPECT_TRUE(sameBits(std::span<const float>(gw), std::span<const float>(wino)));
    EXPECT_LT(relativeError(gw, directWeightGradient(s, x.data(), dy.data())), 1e-6);
}

// With a bias, the Winograd weight-gradient path adds db = Σ dy per output channel.
TEST_P(WinogradPath, Conv2dBiasGradientOnTheWinogradPath) {
    const Shape s{2, 128, 128, 4, 4};
    const Conv2d conv({.inChannels = s.inC,
                       .outChannels = s.outC,
                       .kernel = 3,
                       .stride = 1,
                       .padding = 1,
                       .bias = true});
    const std::vector<float> wt = randomWeights(s.outC * s.inC * 9 + s.outC, 51);
    const Tensor x = lp::testing::randomTensor(TensorShape{s.n, s.inC, s.h, s.w}, 52);
    const Tensor dy = lp::testing::randomTensor(TensorShape{s.n, s.outC, s.h, s.w}, 53);
    Context ctx;
    conv.forward({wt, {}}, x, ctx, Mode::Train);
    std::vector<float> gw(wt.size(), 0.0F);
    conv.backward({wt, {}}, dy, ctx, gw);
    for (std::int64_t o = 0; o < s.outC; ++o) {
        double sum = 0.0;
        for (std::int64_t n = 0; n < s.n; ++n) {
            for (std::int64_t i = 0; i < s.h * s.w; ++i) {
                sum += static_cast<double>(dy.data()[(n * s.outC + o) * s.h * s.w + i]);
            }
        }
        EXPECT_NEAR(gw[static_cast<std::size_t>(s.outC * s.inC * 9 + o)], sum, 1e-5) << o;
    }
}

INSTANTIATE_TEST_SUITE_P(ResNetShapes,
                         WinogradInConv2d,
                         ::testing::Values(Shape{2, 64, 64, 32, 32},
                                           Shape{2, 64, 64, 8, 8},
                                           Shape{2, 128, 128, 4, 4}));

}  // namespace
}  // namespace lp::core::nn
