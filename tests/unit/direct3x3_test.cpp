// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/direct3x3.hpp"

#include "core/nn/conv2d.hpp"

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

// Every test of this suite runs on each kernel path (tests/support/isa_paths.hpp) that has the
// direct kernel, and is skipped on the others.
class Direct3x3Path : public lp::testing::OnEachPath {
protected:
    void SetUp() override {
        OnEachPath::SetUp();
        if (!directConv3x3Available()) {
            GTEST_SKIP() << "the direct kernel exists on the AVX2 and AVX-512 paths only";
        }
    }
};

LP_TEST_ON_EACH_PATH(Direct3x3Path);

using Shape = lp::testing::Conv3x3Shape;
using lp::testing::randomWeights;
using lp::testing::relativeError;

using lp::testing::sameBits;

Tensor runDirect(const std::vector<float>& wt, const Shape& s, const Tensor& in) {
    Tensor out(TensorShape{s.n, s.outC, s.h, s.w});
    directConv3x3(wt.data(), in.data(), s, out.data());
    return out;
}

// A width-16 ResNet's first stage (16 channels at 32x32 and 28x28), its 3-channel stem, output
// channel counts that leave a remainder of the 4-channel blocks, flat lengths that end inside a
// block, odd and tiny maps, one sample.
const Shape kShapes[] = {{2, 16, 16, 32, 32},
                         {2, 16, 16, 28, 28},
                         {3, 3, 16, 32, 32},
                         {2, 5, 7, 9, 11},
                         {2, 4, 6, 7, 5},
                         {1, 1, 1, 1, 1},
                         {1, 2, 3, 3, 2}};

TEST_P(Direct3x3Path, ForwardAndInputGradientMatchTheReference) {
    lp::testing::forEachRandomCase(
        kShapes, 700, [](const Shape& s, const lp::testing::Conv3x3Case& c) {
            const auto& [wt, x, dy] = c;
            const Tensor y = runDirect(wt, s, x);
            EXPECT_LT(
                relativeError(y.span(), lp::testing::referenceConv3x3(false, wt, s, x.data())),
                1e-6);
            // The input gradient: the same kernel with rot180(W)ᵀ over dy.
            std::vector<float> rt(wt.size());
            rotatedTransposed(wt.data(), s.outC, s.inC, rt.data());
            const Shape back{s.n, s.outC, s.inC, s.h, s.w};
            const Tensor dx = runDirect(rt, back, dy);
            EXPECT_LT(
                relativeError(dx.span(), lp::testing::referenceConv3x3(true, wt, s, dy.data())),
                1e-6);
        });
}

TEST_P(Direct3x3Path, WeightGradientMatchesTheReferenceAndAdds) {
    lp::testing::forEachRandomCase(
        kShapes, 800, [](const Shape& s, const lp::testing::Conv3x3Case& c) {
            const auto& [wt, x, dy] = c;
            std::vector<float> gw(static_cast<std::size_t>(s.outC * s.inC * 9), 0.0F);
            directWeightGradient3x3(x.data(), dy.data(), s, gw.data());
            EXPECT_LT(
                relativeError(gw, lp::testing::referenceWeightGradient3x3(s, x.data(), dy.data())),
                1e-6);
            std::vector<float> twice(gw.size(), 1.0F);  // adds: onto 1, the same sum
            directWeightGradient3x3(x.data(), dy.data(), s, twice.data());
            for (std::size_t i = 0; i < gw.size(); ++i) {
                EXPECT_EQ(twice[i], 1.0F + gw[i]) << i;
            }
        });
}

TEST_P(Direct3x3Path, OverwritesTheOutputAndIsBitIdenticalForOneTwoAndFourThreads) {
    // 6 samples: the weight gradient's 6 chunks of one sample, spread over the threads.
    const Shape s{6, 16, 16, 32, 32};
    const std::vector<float> wt = randomWeights(s.outC * s.inC * 9, 11);
    const Tensor x = lp::testing::randomTensor(TensorShape{s.n, s.inC, s.h, s.w}, 12);
    Tensor first;
    std::vector<float> firstGrad;
    for (const int threads : {1, 2, 4}) {
        const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                        static_cast<std::size_t>(threads));
        Tensor y(TensorShape{s.n, s.outC, s.h, s.w});
        for (float& v : y.span()) {
            v = NAN;
        }
        directConv3x3(wt.data(), x.data(), s, y.data());
        std::vector<float> gw(wt.size(), 0.0F);
        directWeightGradient3x3(x.data(), y.data(), s, gw.data());
        if (threads == 1) {
            first = std::move(y);
            firstGrad = std::move(gw);
            continue;
        }
        EXPECT_TRUE(sameBits(y.span(), first.span())) << threads << " threads";
        EXPECT_TRUE(sameBits(gw, firstGrad)) << threads << " threads";
    }
    for (const float v : first.span()) {
        ASSERT_TRUE(std::isfinite(v));
    }
}

// Conv2d takes the direct kernels for a width-16 ResNet's 16-channel layers: its forward, input
// gradient and weight gradient are the kernels' bits.
TEST_P(Direct3x3Path, Conv2dUsesItForSixteenChannels) {
    const Shape s{2, 16, 16, 32, 32};
    const Conv2d conv(
        {.inChannels = s.inC, .outChannels = s.outC, .kernel = 3, .stride = 1, .padding = 1});
    const auto [wt, x, dy] = lp::testing::randomCase(s, 21);
    Context ctx;
    const Tensor y = conv.forward({wt, {}}, x, ctx, Mode::Train);
    std::vector<float> gw(wt.size(), 0.0F);
    const Tensor dx = conv.backward({wt, {}}, dy, ctx, gw);
    EXPECT_TRUE(sameBits(y.span(), runDirect(wt, s, x).span()));
    std::vector<float> rt(wt.size());
    rotatedTransposed(wt.data(), s.outC, s.inC, rt.data());
    EXPECT_TRUE(sameBits(dx.span(), runDirect(rt, Shape{s.n, s.outC, s.inC, s.h, s.w}, dy).span()));
    std::vector<float> direct(wt.size(), 0.0F);
    directWeightGradient3x3(x.data(), dy.data(), s, direct.data());
    EXPECT_TRUE(sameBits(gw, direct));
}

// The AVX-512 path's tiles (12 outputs x 16 channels, one zmm each) compute every output value
// with the same sequence of FMAs as the AVX2 tiles (6 x 2 ymm): the same bits, for outputs in
// 16-channel groups (the AVX-512 tiles) and others (the AVX2 tiles on both paths) (issue 11).
TEST(Direct3x3, Avx512TilesGiveTheAvx2Bits) {
    if (!isaSupported(Isa::Avx512)) {
        GTEST_SKIP() << "this CPU has no AVX-512";
    }
    const Isa previous = activeIsa();
    for (const Shape& s : {Shape{3, 16, 16, 32, 32},
                           Shape{2, 5, 32, 9, 11},
                           Shape{2, 7, 8, 6, 6},
                           Shape{1, 2, 48, 5, 4}}) {
        const auto [wt, x, dy] = lp::testing::randomCase(s, 41);
        std::vector<Tensor> outs;
        std::vector<std::vector<float>> grads;
        for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
            setActiveIsa(isa);
            outs.push_back(runDirect(wt, s, x));
            grads.emplace_back(wt.size(), 0.5F);
            directWeightGradient3x3(x.data(), dy.data(), s, grads.back().data());
        }
        EXPECT_TRUE(sameBits(outs[0].span(), outs[1].span())) << s.outC << " channels";
        EXPECT_TRUE(sameBits(grads[0], grads[1])) << s.outC << " channels";
    }
    setActiveIsa(previous);
}

}  // namespace
}  // namespace lp::core::nn
