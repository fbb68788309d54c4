// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/loss.hpp"

#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/grad_check.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <vector>

namespace lp::core::nn {
namespace {

using lp::testing::expectGradientsMatch;
using lp::testing::GradCheckOptions;
using lp::testing::GradCheckTarget;
using lp::testing::randomTensor;

Tensor rowsOf(std::int64_t k, const std::vector<float>& values) {
    Tensor t(TensorShape{static_cast<std::int64_t>(values.size()) / k, k});
    for (std::size_t i = 0; i < values.size(); ++i) {
        t[static_cast<std::int64_t>(i)] = values[i];
    }
    return t;
}

TEST(SoftmaxCrossEntropy, UniformLogitsGiveLogK) {
    const Tensor logits(TensorShape{4, 10}, 0.7F);
    const std::vector<std::int32_t> labels = {0, 3, 9, 5};
    const LossResult r = softmaxCrossEntropy(logits, labels);
    EXPECT_NEAR(r.loss, std::log(10.0), 1e-6);
    // (softmax − onehot)/N = (0.1 − [j = label])/4.
    for (std::int64_t n = 0; n < 4; ++n) {
        for (std::int64_t j = 0; j < 10; ++j) {
            const double onehot = j == labels[static_cast<std::size_t>(n)] ? 1.0 : 0.0;
            EXPECT_NEAR(r.gradLogits[n * 10 + j], (0.1 - onehot) / 4.0, 1e-7);
        }
    }
}

TEST(SoftmaxCrossEntropy, KnownValue) {
    // −log(e³/(e¹ + e² + e³)) and −log(e⁰/(e⁰ + e⁰ + e⁰)) averaged.
    const Tensor logits = rowsOf(3, {1, 2, 3, 0, 0, 0});
    const std::vector<std::int32_t> labels = {2, 1};
    const double expected =
        0.5 * ((std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0) + std::log(3.0));
    EXPECT_NEAR(softmaxCrossEntropy(logits, labels).loss, expected, 1e-6);
}

// The loss as a one-element output, so that the shared checker differentiates it.
TEST(SoftmaxCrossEntropy, GradientMatchesFiniteDifferences) {
    const std::vector<std::int32_t> labels = {0, 4, 2};
    auto last = std::make_shared<Tensor>();  // logits of the latest forward
    GradCheckTarget t;
    t.forward = [&labels, last](const Tensor& x, std::span<const float> /*w*/) {
        *last = x;
        return Tensor(TensorShape{1}, softmaxCrossEntropy(x, labels).loss);
    };
    t.backward = [&labels, last](const Tensor& dy, std::span<float> /*gw*/) {
        Tensor g = softmaxCrossEntropy(*last, labels).gradLogits;
        for (std::int64_t i = 0; i < g.numel(); ++i) {
            g[i] *= dy[0];
        }
        return g;
    };
    // The loss is rounded to float, so a larger step keeps the rounding noise well under the
    // tolerance; softmax is smooth enough for the truncation error to stay negligible.
    const GradCheckOptions opt{.h = 5e-3};
    const Tensor logits = randomTensor(TensorShape{3, 6}, 41, -2.0F, 2.0F);
    EXPECT_EQ(expectGradientsMatch(t, logits, {}, 42, opt), 18);
}

TEST(SoftmaxCrossEntropy, StableForHugeLogits) {
    const Tensor logits = rowsOf(3, {1000, -1000, 0, 1000, -1000, 0});
    const std::vector<std::int32_t> labels = {0, 1};
    const LossResult r = softmaxCrossEntropy(logits, labels);
    // Sample 0: loss ≈ 0; sample 1: loss = 1000 − (−1000) = 2000 (plus e^−1000, invisible).
    EXPECT_TRUE(std::isfinite(r.loss));
    EXPECT_NEAR(r.loss, 1000.0, 1e-3);
    for (std::int64_t i = 0; i < r.gradLogits.numel(); ++i) {
        EXPECT_TRUE(std::isfinite(r.gradLogits[i]));
    }
    EXPECT_NEAR(r.gradLogits[0], 0.0, 1e-7);
    EXPECT_NEAR(r.gradLogits[3], 0.5, 1e-7);
    EXPECT_NEAR(r.gradLogits[4], -0.5, 1e-7);
    EXPECT_EQ(r.correct, 1);
}

TEST(SoftmaxCrossEntropy, TopOneAndTopFiveCounts) {
    // Ten classes with logits 0..9 (class 9 ranks first); the label's rank is 9 − label.
    std::vector<float> values;
    for (int n = 0; n < 4; ++n) {
        for (int j = 0; j < 10; ++j) {
            values.push_back(static_cast<float>(j));
        }
    }
    // A tie at the top: classes 1 and 2 share the maximum, the lower index ranks first.
    for (int j = 0; j < 10; ++j) {
        values.push_back(j == 1 || j == 2 ? 5.0F : 0.0F);
    }
    const Tensor logits = rowsOf(10, values);
    const std::vector<std::int32_t> labels = {9, 5, 4, 0, 2};  // ranks 0, 4, 5, 9, 1
    const LossResult r = softmaxCrossEntropy(logits, labels);
    EXPECT_EQ(r.correct, 1);
    EXPECT_EQ(r.correctTop5, 3);
    const std::vector<std::int32_t> tieWinner = {9, 5, 4, 0, 1};
    EXPECT_EQ(softmaxCrossEntropy(logits, tieWinner).correct, 2);
}

TEST(SoftmaxCrossEntropy, NaNLogitsAreNeverCorrect) {
    // A diverged model: comparisons with NaN are false, so a naive rank would be 0 (first).
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const Tensor logits = rowsOf(3, {nan, nan, nan, 1.0F, nan, 0.0F, 2.0F, 1.0F, 0.0F});
    const LossResult r = softmaxCrossEntropy(logits, std::vector<std::int32_t>{0, 0, 0});
    EXPECT_TRUE(std::isnan(r.loss));
    EXPECT_EQ(r.correct, 1);  // only the finite third row
    EXPECT_EQ(r.correctTop5, 1);
}

TEST(SoftmaxCrossEntropy, RejectsBadLabelsAndShapes) {
    const Tensor logits(TensorShape{2, 5});
    const std::vector<std::int32_t> negative = {0, -1};
    const std::vector<std::int32_t> tooLarge = {5, 0};
    const std::vector<std::int32_t> tooFew = {0};
    EXPECT_THROW(softmaxCrossEntropy(logits, negative), ContractError);
    EXPECT_THROW(softmaxCrossEntropy(logits, tooLarge), ContractError);
    EXPECT_THROW(softmaxCrossEntropy(logits, tooFew), ContractError);
    const std::vector<std::int32_t> two = {0, 1};
    EXPECT_THROW(softmaxCrossEntropy(Tensor(TensorShape{2, 5, 1, 1}), two), ContractError);
}

TEST(SoftmaxCrossEntropy, WithoutGradientGivesSameLossAndCounts) {
    const Tensor logits = randomTensor(TensorShape{20, 7}, 43, -3.0F, 3.0F);
    std::vector<std::int32_t> labels(20);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        labels[i] = static_cast<std::int32_t>(i % 7);
    }
    const LossResult full = softmaxCrossEntropy(logits, labels);
    const LossResult evalOnly = softmaxCrossEntropy(logits, labels, false);
    EXPECT_EQ(full.loss, evalOnly.loss);
    EXPECT_EQ(full.correct, evalOnly.correct);
    EXPECT_EQ(full.correctTop5, evalOnly.correctTop5);
    EXPECT_TRUE(evalOnly.gradLogits.empty());
    EXPECT_EQ(full.gradLogits.shape(), logits.shape());
}

TEST(SoftmaxCrossEntropy, BitIdenticalAcrossThreadCounts) {
    const Tensor logits = randomTensor(TensorShape{300, 100}, 44, -5.0F, 5.0F);
    std::vector<std::int32_t> labels(300);
    Rng rng(45);
    for (std::int32_t& l : labels) {
        l = static_cast<std::int32_t>(rng.below(100));
    }
    auto run = [&](int threads) {
        const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                        static_cast<std::size_t>(threads));
        return softmaxCrossEntropy(logits, labels);
    };
    const LossResult one = run(1);
    const LossResult four = run(4);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(one.loss), std::bit_cast<std::uint32_t>(four.loss));
    EXPECT_EQ(std::memcmp(one.gradLogits.data(), four.gradLogits.data(), one.gradLogits.bytes()),
              0);
    EXPECT_EQ(one.correct, four.correct);
    EXPECT_EQ(one.correctTop5, four.correctTop5);
}

}  // namespace
}  // namespace lp::core::nn
