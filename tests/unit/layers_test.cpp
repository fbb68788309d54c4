// SPDX-License-Identifier: GPL-3.0-or-later
// ReLU, GlobalAvgPool, Linear and the residual add.
#include "core/error.hpp"
#include "core/nn/activations.hpp"
#include "core/nn/elementwise.hpp"
#include "core/nn/linear.hpp"
#include "core/nn/pooling.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/grad_check.hpp"
#include "tests/support/isa_paths.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

namespace lp::core::nn {
namespace {

// Every test of this suite runs on each kernel path (tests/support/isa_paths.hpp).
class ReLUPath : public lp::testing::OnEachPath {};

LP_TEST_ON_EACH_PATH(ReLUPath);

using lp::testing::expectGradientsMatch;
using lp::testing::GradCheckTarget;
using lp::testing::layerTarget;
using lp::testing::randomTensor;

// A layer without parameters: its input gradient on a random x of `shape` (from `seed`) against
// finite differences (samples from seed + 1), at least 50 coordinates checked.
void expectInputGradientMatches(const Layer& layer, const TensorShape& shape, std::uint64_t seed) {
    const Tensor x = randomTensor(shape, seed);
    const int checked = expectGradientsMatch(layerTarget(layer, {}), x, {}, seed + 1);
    EXPECT_GE(checked, 50);
}

TEST_P(ReLUPath, ForwardClampsAndBackwardMasksNonPositive) {
    const ReLU relu;
    Tensor x(TensorShape{1, 5});
    const float xs[] = {-2.0F, -0.0F, 0.0F, 0.5F, 3.0F};
    for (std::int64_t i = 0; i < 5; ++i) {
        x[i] = xs[i];
    }
    Context ctx;
    const Tensor y = relu.forward({}, x, ctx, Mode::Train);
    const float expected[] = {0.0F, 0.0F, 0.0F, 0.5F, 3.0F};
    for (std::int64_t i = 0; i < 5; ++i) {
        EXPECT_EQ(y[i], expected[i]);
    }
    const Tensor dx = relu.backward({}, Tensor(x.shape(), 2.0F), ctx, {});
    const float dexpected[] = {0.0F, 0.0F, 0.0F, 2.0F, 2.0F};  // 0 at x <= 0
    for (std::int64_t i = 0; i < 5; ++i) {
        EXPECT_EQ(dx[i], dexpected[i]);
    }
    EXPECT_THROW(relu.backward({}, Tensor(TensorShape{1, 4}), ctx, {}), ContractError);
}

// The consuming variants work in place (the result is the input's storage) and give the same
// bits and the same saved mask as forward and backward, including partial mask words.
TEST_P(ReLUPath, ConsumingVariantsWorkInPlaceWithTheSameBits) {
    const ReLU relu;
    const Tensor x = lp::testing::randomTensor(TensorShape{3, 5, 7, 11}, 61);
    const Tensor dy = lp::testing::randomTensor(x.shape(), 62);
    Context ctxCopy;
    const Tensor y = relu.forward({}, x, ctxCopy, Mode::Train);
    const Tensor dx = relu.backward({}, dy, ctxCopy, {});

    Context ctxOwn;
    Tensor xOwn = x;
    const float* storage = xOwn.data();
    const Tensor yOwn = relu.forwardConsuming({}, std::move(xOwn), ctxOwn, Mode::Train);
    EXPECT_EQ(yOwn.data(), storage);
    ASSERT_EQ(ctxOwn.saved.size(), ctxCopy.saved.size());
    for (std::size_t i = 0; i < ctxOwn.saved.size(); ++i) {
        EXPECT_EQ(std::memcmp(ctxOwn.saved[i].data(),
                              ctxCopy.saved[i].data(),
                              ctxCopy.saved[i].span().size_bytes()),
                  0);
    }
    Tensor dyOwn = dy;
    const float* dyStorage = dyOwn.data();
    const Tensor dxOwn = relu.backwardConsuming({}, std::move(dyOwn), ctxOwn, {});
    EXPECT_EQ(dxOwn.data(), dyStorage);
    EXPECT_EQ(std::memcmp(yOwn.data(), y.data(), y.span().size_bytes()), 0);
    EXPECT_EQ(std::memcmp(dxOwn.data(), dx.data(), dx.span().size_bytes()), 0);
}

TEST_P(ReLUPath, NanPassesThroughAsInPyTorch) {
    const ReLU relu;
    Tensor x(TensorShape{2}, std::numeric_limits<float>::quiet_NaN());
    x[1] = -1.0F;
    Context ctx;
    const Tensor y = relu.forward({}, x, ctx, Mode::Train);
    EXPECT_TRUE(std::isnan(y[0]));
    EXPECT_EQ(y[1], 0.0F);
    const Tensor dx = relu.backward({}, Tensor(x.shape(), 3.0F), ctx, {});
    EXPECT_EQ(dx[0], 3.0F);
    EXPECT_EQ(dx[1], 0.0F);
}

// 96 elements: three whole 32-element mask words (the vectorised path) and the special values
// -0, +0, NaN, infinities and denormals, checked bit for bit against the scalar rule:
// y = x unless x <= 0 (then +0); dx = dy where !(x <= 0), else +0.
TEST_P(ReLUPath, WholeWordsKeepTheScalarBits) {
    const ReLU relu;
    Tensor x = randomTensor(TensorShape{3, 32}, 41);
    const float special[] = {-0.0F,
                             0.0F,
                             std::numeric_limits<float>::quiet_NaN(),
                             std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity(),
                             std::numeric_limits<float>::denorm_min(),
                             -std::numeric_limits<float>::denorm_min()};
    for (std::int64_t i = 0; i < 7; ++i) {
        x[5 * i + 3] = special[i];
    }
    const Tensor dy = randomTensor(x.shape(), 42);
    Context ctx;
    const Tensor y = relu.forward({}, x, ctx, Mode::Train);
    const Tensor dx = relu.backward({}, dy, ctx, {});
    auto bits = [](float v) {
        std::uint32_t b = 0;
        std::memcpy(&b, &v, sizeof b);
        return b;
    };
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const bool on = !(x[i] <= 0.0F);
        ASSERT_EQ(bits(y[i]), on ? bits(x[i]) : 0U) << i;
        ASSERT_EQ(bits(dx[i]), on ? bits(dy[i]) : 0U) << i;
    }
}

TEST_P(ReLUPath, BackwardMatchesFiniteDifferences) {
    expectInputGradientMatches(ReLU(), TensorShape{2, 3, 4, 4}, 21);
}

// 70001 elements: three parallel chunks of the packed mask and a partial last word.
TEST_P(ReLUPath, PackedMaskSpansChunksAndPartialWords) {
    const ReLU relu;
    const Tensor x = randomTensor(TensorShape{7, 10001}, 37);
    const Tensor dy = randomTensor(x.shape(), 38);
    Context ctx;
    const Tensor y = relu.forward({}, x, ctx, Mode::Train);
    EXPECT_LT(ctx.bytes(), x.bytes() / 30);  // one bit per element, plus the shape
    const Tensor dx = relu.backward({}, dy, ctx, {});
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        ASSERT_EQ(y[i], x[i] > 0.0F ? x[i] : 0.0F) << i;
        ASSERT_EQ(dx[i], x[i] > 0.0F ? dy[i] : 0.0F) << i;
    }
    EXPECT_THROW(relu.backward({}, Tensor(TensorShape{10001, 7}), ctx, {}), ContractError);
}

TEST(GlobalAvgPool, ForwardAveragesEachPlaneToRankTwo) {
    const GlobalAvgPool gap;
    EXPECT_EQ(gap.outputShape(TensorShape{2, 3, 4, 5}), (TensorShape{2, 3}));
    EXPECT_THROW(static_cast<void>(gap.outputShape(TensorShape{2, 3})), ContractError);
    Tensor x(TensorShape{2, 3, 2, 2});
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        x[i] = static_cast<float>(i);  // plane k holds 4k, 4k+1, 4k+2, 4k+3: mean 4k + 1.5
    }
    Context ctx;
    const Tensor y = gap.forward({}, x, ctx, Mode::Train);
    ASSERT_EQ(y.shape(), (TensorShape{2, 3}));
    for (std::int64_t k = 0; k < 6; ++k) {
        EXPECT_EQ(y[k], 4.0F * static_cast<float>(k) + 1.5F);
    }
    Tensor dy(TensorShape{2, 3});
    dy[4] = 8.0F;
    const Tensor dx = gap.backward({}, dy, ctx, {});
    ASSERT_EQ(dx.shape(), x.shape());
    for (std::int64_t i = 0; i < dx.numel(); ++i) {
        EXPECT_EQ(dx[i], i / 4 == 4 ? 2.0F : 0.0F);
    }
}

TEST(GlobalAvgPool, BackwardMatchesFiniteDifferences) {
    expectInputGradientMatches(GlobalAvgPool(), TensorShape{3, 4, 3, 5}, 23);
}

TEST(Linear, ParamsAndPyTorchDefaultInit) {
    const Linear fc({.inFeatures = 16, .outFeatures = 10});
    const std::vector<ParamSpec> ps = fc.params();
    ASSERT_EQ(ps.size(), 2U);
    EXPECT_EQ(ps[0].name, "weight");
    EXPECT_EQ(ps[0].shape, (TensorShape{10, 16}));
    EXPECT_EQ(ps[1].name, "bias");
    EXPECT_EQ(ps[1].shape, TensorShape{10});
    EXPECT_EQ(fc.weightCount(), 170U);
    EXPECT_EQ(Linear({.inFeatures = 16, .outFeatures = 10, .bias = false}).weightCount(), 160U);

    std::vector<float> w(fc.weightCount());
    Rng rng(25);
    fc.init(w, {}, rng);
    float lo = 1.0F;
    float hi = -1.0F;
    for (const float v : w) {
        EXPECT_GE(v, -0.25F);  // 1/√16
        EXPECT_LT(v, 0.25F);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    EXPECT_LT(lo, -0.2F);  // the whole range is used
    EXPECT_GT(hi, 0.2F);
}

TEST(Linear, ForwardWithConstantWeights) {
    const Linear fc({.inFeatures = 3, .outFeatures = 2});
    // W = 0.5 everywhere, b = (1, −1): y[n, o] = 0.5·Σx[n] + b[o].
    const std::vector<float> w = {0.5F, 0.5F, 0.5F, 0.5F, 0.5F, 0.5F, 1.0F, -1.0F};
    Tensor x(TensorShape{2, 3});
    const float xs[] = {1, 2, 3, -4, 0, 2};
    for (std::int64_t i = 0; i < 6; ++i) {
        x[i] = xs[i];
    }
    Context ctx;
    const Tensor y = fc.forward({w, {}}, x, ctx, Mode::Train);
    ASSERT_EQ(y.shape(), (TensorShape{2, 2}));
    EXPECT_EQ(y[0], 4.0F);
    EXPECT_EQ(y[1], 2.0F);
    EXPECT_EQ(y[2], 0.0F);
    EXPECT_EQ(y[3], -2.0F);
    EXPECT_THROW(fc.forward({w, {}}, Tensor(TensorShape{2, 4}), ctx, Mode::Train), ContractError);
}

TEST(Linear, BackwardMatchesFiniteDifferences) {
    for (const bool bias : {true, false}) {
        const Linear fc({.inFeatures = 7, .outFeatures = 5, .bias = bias});
        std::vector<float> w(fc.weightCount());
        Rng rng(26);
        fc.init(w, {}, rng);
        const Tensor x = randomTensor(TensorShape{37, 7}, 27);  // 37 rows: two row chunks
        const int checked = expectGradientsMatch(layerTarget(fc, {}), x, w, 28);
        EXPECT_GE(checked, 85) << "bias " << bias;
    }
}

// Under a stale-weight policy backward receives other weights than forward: dX uses them, dW
// depends only on the saved input.
TEST(Linear, BackwardUsesTheWeightsItIsGiven) {
    const Linear fc({.inFeatures = 2, .outFeatures = 1, .bias = false});
    const std::vector<float> w = {1.0F, 2.0F};
    const std::vector<float> stale = {-3.0F, 0.5F};
    Tensor x(TensorShape{1, 2});
    x[0] = 4.0F;
    x[1] = 5.0F;
    Context ctx;
    fc.forward({w, {}}, x, ctx, Mode::Train);
    std::vector<float> g = {1.0F, 1.0F};
    const Tensor dx = fc.backward({stale, {}}, Tensor(TensorShape{1, 1}, 2.0F), ctx, g);
    EXPECT_EQ(dx[0], -6.0F);
    EXPECT_EQ(dx[1], 1.0F);
    EXPECT_EQ(g, (std::vector<float>{9.0F, 11.0F}));  // 1 + 2·x, added to what was there
}

TEST(Linear, BitIdenticalAcrossThreadCounts) {
    const Linear fc({.inFeatures = 48, .outFeatures = 40});
    std::vector<float> w(fc.weightCount());
    Rng rng(29);
    fc.init(w, {}, rng);
    const Tensor x = randomTensor(TensorShape{100, 48}, 30);
    const Tensor dy = randomTensor(TensorShape{100, 40}, 31);
    auto run = [&](int threads) {
        const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                        static_cast<std::size_t>(threads));
        Context ctx;
        Tensor y = fc.forward({w, {}}, x, ctx, Mode::Train);
        std::vector<float> g(w.size(), 0.0F);
        Tensor dx = fc.backward({w, {}}, dy, ctx, g);
        return std::make_tuple(std::move(y), std::move(dx), std::move(g));
    };
    const auto [y1, dx1, g1] = run(1);
    const auto [y4, dx4, g4] = run(4);
    EXPECT_EQ(std::memcmp(y1.data(), y4.data(), y1.bytes()), 0);
    EXPECT_EQ(std::memcmp(dx1.data(), dx4.data(), dx1.bytes()), 0);
    EXPECT_EQ(g1, g4);
}

TEST(ResidualAdd, AddsElementwiseAndChecksShapes) {
    const Tensor a = randomTensor(TensorShape{2, 3, 4, 4}, 32);
    const Tensor b = randomTensor(TensorShape{2, 3, 4, 4}, 33);
    const Tensor y = add(a, b);
    Tensor c = a;
    addInPlace(c, b);
    for (std::int64_t i = 0; i < a.numel(); ++i) {
        EXPECT_EQ(y[i], a[i] + b[i]);
        EXPECT_EQ(c[i], y[i]);
    }
    EXPECT_THROW(static_cast<void>(add(a, Tensor(TensorShape{2, 3, 4, 3}))), ContractError);
    EXPECT_THROW(addInPlace(c, Tensor(TensorShape{2, 3, 16})), ContractError);
}

// The documented backward (identity for both inputs), checked against finite differences with the
// shortcut input playing the role of the "weights".
TEST(ResidualAdd, IdentityGradientMatchesFiniteDifferences) {
    const TensorShape shape{2, 2, 3, 3};
    GradCheckTarget t;
    t.forward = [shape](const Tensor& x, std::span<const float> w) {
        Tensor shortcut(shape);
        std::copy(w.begin(), w.end(), shortcut.data());
        return add(x, shortcut);
    };
    t.backward = [](const Tensor& dy, std::span<float> gw) {
        for (std::size_t i = 0; i < gw.size(); ++i) {
            gw[i] += dy[static_cast<std::int64_t>(i)];
        }
        return dy;
    };
    const Tensor b = randomTensor(shape, 34);
    const std::vector<float> w(b.span().begin(), b.span().end());
    EXPECT_EQ(expectGradientsMatch(t, randomTensor(shape, 35), w, 36), 72);  // every coordinate
}

}  // namespace
}  // namespace lp::core::nn
