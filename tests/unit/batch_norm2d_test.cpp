// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/batch_norm2d.hpp"

#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/bits.hpp"
#include "tests/support/grad_check.hpp"
#include "tests/support/isa_paths.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace lp::core::nn {
namespace {

// Every test of this suite runs on each kernel path (tests/support/isa_paths.hpp).
class BatchNorm2dPath : public lp::testing::OnEachPath {};

LP_TEST_ON_EACH_PATH(BatchNorm2dPath);

using lp::testing::expectGradientsMatch;
using lp::testing::layerTarget;
using lp::testing::randomTensor;

// A layer's weights and buffers, initialised by init().
struct BnState {
    std::vector<float> weights;
    std::vector<float> buffers;
};

BnState initState(const BatchNorm2d& bn) {
    BnState s{std::vector<float>(bn.weightCount()), std::vector<float>(bn.bufferCount())};
    Rng rng(1);
    bn.init(s.weights, s.buffers, rng);
    return s;
}

// γ in [0.5, 1.5), β in [−0.5, 0.5), so that no channel is trivially the identity.
void randomizeAffine(std::vector<float>& weights, std::uint64_t seed) {
    Rng rng(seed);
    const std::size_t c = weights.size() / 2;
    for (std::size_t i = 0; i < c; ++i) {
        weights[i] = rng.uniform(0.5F, 1.5F);
        weights[c + i] = rng.uniform(-0.5F, 0.5F);
    }
}

// BatchNorm is smooth (no kinks), but each input moves every output of its channel, so the
// projected loss sums hundreds of float-rounded outputs: with h = 1e-3 the rounding noise of the
// central difference (~5e-4) exceeds atol for small gradients (seen in a -O1 ASan build and on
// 14 coordinates over a 30-seed sweep). h = 1e-2 cuts the noise tenfold and passed every seed;
// the truncation error stays ~1e-5.
const lp::testing::GradCheckOptions kBnCheck{.h = 1e-2};

TEST_P(BatchNorm2dPath, ParamsFollowTorchvisionAndInitIsIdentity) {
    const BatchNorm2d bn({.channels = 3});
    const std::vector<ParamSpec> ps = bn.params();
    ASSERT_EQ(ps.size(), 5U);
    EXPECT_EQ(ps[0].name, "weight");
    EXPECT_EQ(ps[1].name, "bias");
    EXPECT_EQ(ps[2].name, "running_mean");
    EXPECT_EQ(ps[3].name, "running_var");
    EXPECT_EQ(ps[4].name, "num_batches_tracked");
    EXPECT_EQ(ps[2].kind, ParamKind::Buffer);
    EXPECT_EQ(ps[4].kind, ParamKind::Counter);
    EXPECT_EQ(ps[4].shape, TensorShape{1});
    EXPECT_EQ(bn.weightCount(), 6U);
    EXPECT_EQ(bn.bufferCount(), 7U);
    const BnState s = initState(bn);
    EXPECT_EQ(s.weights, (std::vector<float>{1, 1, 1, 0, 0, 0}));
    EXPECT_EQ(s.buffers, (std::vector<float>{0, 0, 0, 1, 1, 1, 0}));
}

TEST_P(BatchNorm2dPath, TrainForwardUsesBatchStatsAndUpdatesRunningStats) {
    const BatchNorm2d bn({.channels = 2});
    BnState s = initState(bn);
    s.weights = {2.0F, 1.0F, 0.5F, -1.0F};  // γ = (2, 1), β = (0.5, −1)
    // Channel 0 holds 1, 2 (sample 0) and 3, 4 (sample 1): mean 2.5, biased variance 1.25.
    // Channel 1 is constant 5: variance 0, so y = β exactly.
    Tensor x(TensorShape{2, 2, 1, 2});
    const float values[] = {1, 2, 5, 5, 3, 4, 5, 5};
    for (std::int64_t i = 0; i < 8; ++i) {
        x[i] = values[i];
    }
    Context ctx;
    const Tensor y = bn.forward({s.weights, s.buffers}, x, ctx, Mode::Train);
    const double inv = 1.0 / std::sqrt(1.25 + 1e-5);
    const double x0[] = {1, 2, 3, 4};
    const std::int64_t at0[] = {0, 1, 4, 5};
    for (int i = 0; i < 4; ++i) {
        EXPECT_NEAR(y[at0[i]], 2.0 * (x0[i] - 2.5) * inv + 0.5, 1e-6);
    }
    for (const std::int64_t i : {2, 3, 6, 7}) {
        EXPECT_EQ(y[i], -1.0F);
    }
    // running_mean = 0.9·0 + 0.1·μ; running_var = 0.9·1 + 0.1·σ²·n/(n−1) with n = 4.
    EXPECT_NEAR(s.buffers[0], 0.25, 1e-7);
    EXPECT_NEAR(s.buffers[1], 0.5, 1e-7);
    EXPECT_NEAR(s.buffers[2], 0.9 + 0.1 * 1.25 * 4.0 / 3.0, 1e-6);
    EXPECT_NEAR(s.buffers[3], 0.9, 1e-7);
    EXPECT_EQ(s.buffers[4], 1.0F);
}

// PyTorch's formula evaluated in double by the test for two consecutive Train forwards.
TEST_P(BatchNorm2dPath, RunningStatsMatchPyTorchAfterTwoForwards) {
    const std::int64_t n = 3;
    const std::int64_t c = 4;
    const std::int64_t h = 5;
    const std::int64_t w = 2;
    const BatchNorm2d bn({.channels = c, .momentum = 0.2F});
    BnState s = initState(bn);
    std::vector<double> rm(static_cast<std::size_t>(c), 0.0);
    std::vector<double> rv(static_cast<std::size_t>(c), 1.0);
    const auto m = static_cast<double>(0.2F);
    for (std::uint64_t step = 0; step < 2; ++step) {
        const Tensor x = randomTensor(TensorShape{n, c, h, w}, 10 + step, -2.0F, 3.0F);
        Context ctx;
        bn.forward({s.weights, s.buffers}, x, ctx, Mode::Train);
        for (std::int64_t ch = 0; ch < c; ++ch) {
            double sum = 0.0;
            double sq = 0.0;
            const auto count = static_cast<double>(n * h * w);
            for (std::int64_t b = 0; b < n; ++b) {
                for (std::int64_t i = 0; i < h * w; ++i) {
                    sum += static_cast<double>(x.at(b, ch, i / w, i % w));
                }
            }
            const double mean = sum / count;
            for (std::int64_t b = 0; b < n; ++b) {
                for (std::int64_t i = 0; i < h * w; ++i) {
                    const double d = static_cast<double>(x.at(b, ch, i / w, i % w)) - mean;
                    sq += d * d;
                }
            }
            const auto k = static_cast<std::size_t>(ch);
            rm[k] = (1.0 - m) * rm[k] + m * mean;
            rv[k] = (1.0 - m) * rv[k] + m * sq / (count - 1.0);
            EXPECT_NEAR(s.buffers[k], rm[k], 1e-6) << "step " << step << " channel " << ch;
            EXPECT_NEAR(s.buffers[static_cast<std::size_t>(c) + k], rv[k], 1e-6)
                << "step " << step << " channel " << ch;
        }
        EXPECT_EQ(s.buffers.back(), static_cast<float>(step + 1));
    }
}

TEST_P(BatchNorm2dPath, EvalUsesRunningStatsAndLeavesBuffersAlone) {
    const BatchNorm2d bn({.channels = 2, .eps = 1e-3F});
    BnState s = initState(bn);
    s.weights = {1.5F, 0.5F, 0.25F, -0.75F};
    s.buffers = {0.5F, -1.0F, 4.0F, 0.25F, 7.0F};
    const std::vector<float> before = s.buffers;
    const Tensor x = randomTensor(TensorShape{2, 2, 3, 3}, 3);
    Context ctx;
    const Tensor y = bn.forward({s.weights, s.buffers}, x, ctx, Mode::Eval);
    for (std::int64_t b = 0; b < 2; ++b) {
        for (std::int64_t ch = 0; ch < 2; ++ch) {
            const auto k = static_cast<std::size_t>(ch);
            const double inv = 1.0 / std::sqrt(static_cast<double>(s.buffers[2 + k]) + 1e-3);
            for (std::int64_t i = 0; i < 9; ++i) {
                const auto xv = static_cast<double>(x.at(b, ch, i / 3, i % 3));
                const double expected = static_cast<double>(s.weights[k]) *
                                            (xv - static_cast<double>(s.buffers[k])) * inv +
                                        static_cast<double>(s.weights[2 + k]);
                EXPECT_NEAR(y.at(b, ch, i / 3, i % 3), expected, 1e-5);
            }
        }
    }
    EXPECT_EQ(s.buffers, before);
}

TEST_P(BatchNorm2dPath, TrainBackwardMatchesFiniteDifferencesOverWholeBatch) {
    const BatchNorm2d bn({.channels = 3});
    BnState s = initState(bn);
    randomizeAffine(s.weights, 5);
    const Tensor x = randomTensor(TensorShape{4, 3, 5, 5}, 6, -1.0F, 2.0F);
    const int checked =
        expectGradientsMatch(layerTarget(bn, s.buffers, Mode::Train), x, s.weights, 7, kBnCheck);
    EXPECT_GE(checked, 56);  // 50 input coordinates and all 6 weights
}

TEST_P(BatchNorm2dPath, EvalBackwardMatchesFiniteDifferences) {
    const BatchNorm2d bn({.channels = 3});
    BnState s = initState(bn);
    randomizeAffine(s.weights, 8);
    s.buffers = {0.3F, -0.2F, 0.1F, 0.5F, 1.5F, 2.0F, 3.0F};
    const Tensor x = randomTensor(TensorShape{2, 3, 4, 4}, 9);
    const int checked =
        expectGradientsMatch(layerTarget(bn, s.buffers, Mode::Eval), x, s.weights, 10, kBnCheck);
    EXPECT_GE(checked, 56);
}

// Under a stale-weight policy backward receives a γ other than the forward's: dx must scale with
// the γ passed to backward, while dγ and dβ depend only on saved activations. Backward must not
// need the running buffers (layer.hpp), so the stale call passes none.
TEST_P(BatchNorm2dPath, BackwardUsesTheWeightsItIsGiven) {
    const BatchNorm2d bn({.channels = 2});
    BnState s = initState(bn);
    s.weights = {1.0F, 2.0F, 0.0F, 0.0F};
    const Tensor x = randomTensor(TensorShape{3, 2, 2, 2}, 11);
    const Tensor dy = randomTensor(TensorShape{3, 2, 2, 2}, 12);
    Context ctx;
    bn.forward({s.weights, s.buffers}, x, ctx, Mode::Train);
    std::vector<float> g1(4, 0.0F);
    const Tensor dx1 = bn.backward({s.weights, s.buffers}, dy, ctx, g1);
    const std::vector<float> stale = {3.0F, -1.0F, 0.5F, 0.5F};
    std::vector<float> g2(4, 0.0F);
    const Tensor dx2 = bn.backward({stale, {}}, dy, ctx, g2);
    for (std::int64_t b = 0; b < 3; ++b) {
        for (std::int64_t i = 0; i < 4; ++i) {
            EXPECT_NEAR(dx2.at(b, 0, i / 2, i % 2), 3.0F * dx1.at(b, 0, i / 2, i % 2), 1e-5);
            EXPECT_NEAR(dx2.at(b, 1, i / 2, i % 2), -0.5F * dx1.at(b, 1, i / 2, i % 2), 1e-5);
        }
    }
    EXPECT_EQ(g1, g2);
    // Gradients are added, not assigned.
    bn.backward({s.weights, s.buffers}, dy, ctx, g2);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_FLOAT_EQ(g2[i], 2.0F * g1[i]);
    }
}

// recomputeOutput rebuilds the forward's y from the context alone, with its bits, after the
// weights have moved on (BasicBlock rebuilds its second conv's input with it), in both modes.
// 5x7 planes: whole vectors and a scalar tail on every path.
TEST_P(BatchNorm2dPath, RecomputeOutputGivesTheForwardsBitsAfterTheWeightsMove) {
    const BatchNorm2d bn({.channels = 3});
    BnState s = initState(bn);
    s.weights = {1.5F, -0.75F, 0.3F, 0.25F, -2.0F, 0.125F};
    const Tensor x = randomTensor(TensorShape{2, 3, 5, 7}, 21);
    for (const Mode mode : {Mode::Train, Mode::Eval}) {
        Context ctx;
        std::vector<float> weights = s.weights;
        const Tensor y = bn.forward({weights, s.buffers}, x, ctx, mode);
        std::fill(weights.begin(), weights.end(), 9.0F);  // what an update may do meanwhile
        const Tensor again = bn.recomputeOutput(ctx);
        ASSERT_EQ(again.shape(), y.shape());
        EXPECT_EQ(std::memcmp(again.data(), y.data(), y.bytes()), 0);
    }
    EXPECT_THROW(static_cast<void>(bn.recomputeOutput(Context{})), ContractError);
}

// forwardConsuming keeps the given x as the saved input (no copy) and otherwise is forward: the
// same y, running statistics, saved state and backward bits, in both modes; the context holds x
// itself (x̂ is recomputed, never stored) and per-channel floats besides. 5x7 planes: whole
// vectors and a scalar tail on every path.
TEST_P(BatchNorm2dPath, ConsumingForwardKeepsTheInputAndGivesForwardsBits) {
    const BatchNorm2d bn({.channels = 3});
    const Tensor x = randomTensor(TensorShape{2, 3, 5, 7}, 31, -2.0F, 4.0F);
    const Tensor dy = randomTensor(x.shape(), 32);
    for (const Mode mode : {Mode::Train, Mode::Eval}) {
        BnState copied = initState(bn);
        randomizeAffine(copied.weights, 33);
        copied.buffers = {0.25F, -0.5F, 1.0F, 2.0F, 0.5F, 1.5F, 3.0F};
        BnState owned = copied;
        Context ctxCopy;
        const Tensor y = bn.forward({copied.weights, copied.buffers}, x, ctxCopy, mode);
        std::vector<float> gradCopy(copied.weights.size(), 0.0F);
        const Tensor dx = bn.backward({copied.weights, {}}, dy, ctxCopy, gradCopy);

        Context ctxOwn;
        Tensor xOwn = x;
        const float* storage = xOwn.data();
        const Tensor yOwn =
            bn.forwardConsuming({owned.weights, owned.buffers}, std::move(xOwn), ctxOwn, mode);
        ASSERT_EQ(ctxOwn.saved.size(), ctxCopy.saved.size());
        EXPECT_EQ(ctxOwn.saved[0].data(), storage);
        EXPECT_TRUE(lp::testing::sameBits(ctxOwn.saved[0].span(), x.span()));
        // x, then μ and invstd, the mode flag, γ and β: 2·3 + 1 + 2·3 floats.
        EXPECT_EQ(ctxOwn.bytes(), x.bytes() + 13 * sizeof(float));
        for (std::size_t i = 0; i < ctxOwn.saved.size(); ++i) {
            EXPECT_TRUE(lp::testing::sameBits(ctxOwn.saved[i].span(), ctxCopy.saved[i].span()))
                << "saved tensor " << i;
        }
        EXPECT_TRUE(lp::testing::sameBits(yOwn.span(), y.span()));
        EXPECT_EQ(owned.buffers, copied.buffers);
        std::vector<float> gradOwn(owned.weights.size(), 0.0F);
        const Tensor dxOwn = bn.backward({owned.weights, {}}, dy, ctxOwn, gradOwn);
        EXPECT_TRUE(lp::testing::sameBits(dxOwn.span(), dx.span()));
        EXPECT_TRUE(lp::testing::sameBits(gradOwn, gradCopy));
    }
}

TEST_P(BatchNorm2dPath, RejectsBadShapesAndSingleValueChannels) {
    const BatchNorm2d bn({.channels = 3});
    BnState s = initState(bn);
    Context ctx;
    EXPECT_THROW(
        bn.forward({s.weights, s.buffers}, Tensor(TensorShape{2, 4, 3, 3}), ctx, Mode::Train),
        ContractError);
    EXPECT_THROW(
        bn.forward({s.weights, s.buffers}, Tensor(TensorShape{1, 3, 1, 1}), ctx, Mode::Train),
        ContractError);
    EXPECT_NO_THROW(
        bn.forward({s.weights, s.buffers}, Tensor(TensorShape{1, 3, 1, 1}), ctx, Mode::Eval));
    EXPECT_THROW(BatchNorm2d({.channels = 0}), ContractError);
}

// Forward and backward results and running stats for max_allowed_parallelism 1, 2 and 4.
TEST_P(BatchNorm2dPath, BitIdenticalAcrossThreadCounts) {
    const BatchNorm2d bn({.channels = 16});
    const Tensor x = randomTensor(TensorShape{8, 16, 12, 12}, 13, -3.0F, 5.0F);
    const Tensor dy = randomTensor(x.shape(), 14);

    struct Run {
        Tensor y;
        Tensor dx;
        std::vector<float> grads;
        std::vector<float> buffers;
    };

    auto run = [&](int threads) {
        const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                        static_cast<std::size_t>(threads));
        BnState s = initState(bn);
        randomizeAffine(s.weights, 15);
        Context ctx;
        Run r;
        bn.forward({s.weights, s.buffers}, x, ctx, Mode::Train);
        r.y = bn.forward({s.weights, s.buffers}, x, ctx, Mode::Train);
        r.grads.assign(s.weights.size(), 0.0F);
        r.dx = bn.backward({s.weights, s.buffers}, dy, ctx, r.grads);
        r.buffers = s.buffers;
        return r;
    };
    const Run one = run(1);
    for (const int threads : {2, 4}) {
        const Run many = run(threads);
        EXPECT_EQ(std::memcmp(one.y.data(), many.y.data(), one.y.bytes()), 0) << threads;
        EXPECT_EQ(std::memcmp(one.dx.data(), many.dx.data(), one.dx.bytes()), 0) << threads;
        EXPECT_EQ(one.grads, many.grads) << threads;
        EXPECT_EQ(one.buffers, many.buffers) << threads;
    }
}

// BatchNorm's sums run in double lanes with the same operations per lane, and its elementwise
// passes are plain multiplies and adds, on every path: every path gives the scalar path's bits
// (issue 11), for planes that are and are not whole vectors.
TEST(BatchNorm2d, EveryPathGivesTheSameBits) {
    const BatchNorm2d bn({.channels = 5});
    for (const TensorShape& shape : {TensorShape{4, 5, 8, 8}, TensorShape{3, 5, 7, 5}}) {
        const Tensor x = randomTensor(shape, 16, -3.0F, 5.0F);
        const Tensor dy = randomTensor(shape, 17);
        const Isa previous = activeIsa();
        std::vector<std::vector<float>> outs;
        for (Isa isa : supportedIsas()) {
            setActiveIsa(isa);
            BnState s = initState(bn);
            randomizeAffine(s.weights, 18);
            Context ctx;
            const Tensor y = bn.forward({s.weights, s.buffers}, x, ctx, Mode::Train);
            std::vector<float> grads(s.weights.size(), 0.0F);
            const Tensor dx = bn.backward({s.weights, s.buffers}, dy, ctx, grads);
            std::vector<float> all(y.data(), y.data() + y.numel());
            all.insert(all.end(), dx.data(), dx.data() + dx.numel());
            all.insert(all.end(), grads.begin(), grads.end());
            all.insert(all.end(), s.buffers.begin(), s.buffers.end());
            outs.push_back(std::move(all));
        }
        setActiveIsa(previous);
        for (std::size_t i = 1; i < outs.size(); ++i) {
            std::size_t first = 0;
            while (first < outs[0].size() && first < outs[i].size() &&
                   outs[0][first] == outs[i][first]) {
                ++first;
            }
            EXPECT_TRUE(lp::testing::sameBits(outs[0], outs[i]))
                << shape.str() << " path " << i << ": first difference at " << first << " of "
                << outs[0].size();
        }
    }
}

}  // namespace
}  // namespace lp::core::nn
