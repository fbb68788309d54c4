// BatchNorm recalibration (issue 13): the recomputed running statistics in closed form, equal to
// PyTorch's cumulative average (torch.optim.swa_utils.update_bn), independent of the statistics it
// is given, and the same bits for any thread count.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/bn_recalibration.hpp"

#include "core/tensor/rng.hpp"

#include "tests/support/bits.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace lp::core::model {
namespace {

// `count` minibatches of `n` images, a pure function of the index (as the Trainer's loader).
std::vector<Tensor> makeBatches(const ResNet& net, std::int64_t count, std::int64_t n) {
    std::vector<Tensor> batches;
    for (std::int64_t b = 0; b < count; ++b) {
        Tensor x(net.inputShape(n));
        Rng rng(Rng::derive(42, static_cast<std::uint64_t>(b)));
        for (float& v : x.span()) {
            v = 0.5F * rng.normal() + 0.25F * static_cast<float>(b);  // batches differ in mean
        }
        batches.push_back(std::move(x));
    }
    return batches;
}

RecalibrationBatch from(const std::vector<Tensor>& batches) {
    return [&batches](std::int64_t i) {
        return batches[static_cast<std::size_t>(i)];
    };
}

const ModelParam& param(const ResNet& net, const std::string& name) {
    for (const ModelParam& p : net.params()) {
        if (p.name == name) {
            return p;
        }
    }
    throw std::logic_error("no parameter " + name);
}

ResNetSpec smallSpec() {
    return ResNetSpec{.width = 4, .inChannels = 3, .inSize = 8, .classes = 5};
}

// The stem's conv made a per-channel scaling of input channel 0 (centre tap c + 1): bn1 then sees
// (c + 1)·x, whose batch statistics are computed here from the pixels alone, in double.
TEST(BnRecalibration, StemStatisticsAreTheAverageOfEachBatchsStatistics) {
    const ResNet net(ResNetSpec{.width = 2, .inChannels = 1, .inSize = 8, .classes = 2});
    ModelState state = ModelState::create(net, 7);
    const ModelParam& conv = param(net, "conv1.weight");  // [2, 1, 3, 3]
    for (std::int64_t c = 0; c < 2; ++c) {
        for (std::int64_t k = 0; k < 9; ++k) {
            state.weights[conv.offset + static_cast<std::size_t>(c * 9 + k)] =
                k == 4 ? static_cast<float>(c + 1) : 0.0F;
        }
    }
    constexpr std::int64_t kBatches = 3;
    const std::vector<Tensor> batches = makeBatches(net, kBatches, 4);
    const AlignedBuffer out = recalibrateBatchNorm(
        net, state.weights.span(), state.buffers.span(), kBatches, from(batches));

    const std::size_t mean = param(net, "bn1.running_mean").offset;
    const std::size_t var = param(net, "bn1.running_var").offset;
    for (std::size_t c = 0; c < 2; ++c) {
        const double scale = static_cast<double>(c + 1);
        double meanSum = 0.0;
        double varSum = 0.0;
        for (const Tensor& x : batches) {
            const auto n = static_cast<double>(x.numel());
            double s = 0.0;
            for (const float v : x.span()) {
                s += scale * static_cast<double>(v);
            }
            const double mu = s / n;
            double q = 0.0;
            for (const float v : x.span()) {
                q += (scale * static_cast<double>(v) - mu) * (scale * static_cast<double>(v) - mu);
            }
            meanSum += mu;
            varSum += q / (n - 1.0);  // unbiased, as PyTorch's running_var
        }
        const double wantMean = meanSum / kBatches;
        const double wantVar = varSum / kBatches;
        EXPECT_NEAR(out[mean + c], wantMean, 1e-6 * std::abs(wantMean) + 1e-7) << "channel " << c;
        EXPECT_NEAR(out[var + c], wantVar, 1e-6 * wantVar) << "channel " << c;
    }
}

// torch.optim.swa_utils.update_bn resets the running statistics and runs every batch through
// BatchNorm with momentum=None, whose factor for the k-th batch is 1/k: emulated here with one
// model per batch whose BN momentum is 1/k, updating one shared buffer in turn.
TEST(BnRecalibration, EqualsPyTorchsCumulativeAverageInEveryLayer) {
    const ResNet net(smallSpec());
    const ModelState state = ModelState::create(net, 3);
    constexpr std::int64_t kBatches = 4;
    const std::vector<Tensor> batches = makeBatches(net, kBatches, 4);
    const AlignedBuffer out = recalibrateBatchNorm(
        net, state.weights.span(), state.buffers.span(), kBatches, from(batches));

    AlignedBuffer torch(net.bufferCount());
    for (const ModelParam& p : net.params()) {  // reset_running_stats(): mean 0, var 1
        if (p.kind == nn::ParamKind::Buffer && p.name.ends_with("running_var")) {
            for (std::int64_t i = 0; i < p.shape.numel(); ++i) {
                torch[p.offset + static_cast<std::size_t>(i)] = 1.0F;
            }
        }
    }
    for (std::int64_t k = 1; k <= kBatches; ++k) {
        ResNetSpec spec = smallSpec();
        spec.bnMomentum = 1.0F / static_cast<float>(k);
        const ResNet step(spec);
        std::vector<UnitContext> ctxs;
        forwardUnits(step,
                     0,
                     step.unitCount(),
                     state.weights.span(),
                     torch.span(),
                     batches[static_cast<std::size_t>(k - 1)],
                     ctxs,
                     nn::Mode::Train);
    }
    int compared = 0;
    for (const ModelParam& p : net.params()) {
        if (p.kind != nn::ParamKind::Buffer) {
            continue;
        }
        for (std::int64_t i = 0; i < p.shape.numel(); ++i) {
            const std::size_t j = p.offset + static_cast<std::size_t>(i);
            const auto want = static_cast<double>(torch[j]);
            EXPECT_NEAR(out[j], want, 2e-5 * std::abs(want) + 1e-6) << p.name << "[" << i << "]";
            ++compared;
        }
    }
    EXPECT_GT(compared, 100);
}

// A Train-mode forward normalises with batch statistics, so the result cannot depend on the
// running statistics handed in (NaN here); the counters come back as given; weights are read only.
TEST(BnRecalibration, IgnoresTheGivenStatisticsAndKeepsTheCounters) {
    const ResNet net(smallSpec());
    const ModelState state = ModelState::create(net, 5);
    const std::vector<Tensor> batches = makeBatches(net, 2, 4);
    const AlignedBuffer clean =
        recalibrateBatchNorm(net, state.weights.span(), state.buffers.span(), 2, from(batches));

    AlignedBuffer broken(state.buffers);
    for (const ModelParam& p : net.params()) {
        for (std::int64_t i = 0; i < p.shape.numel(); ++i) {
            const std::size_t j = p.offset + static_cast<std::size_t>(i);
            if (p.kind == nn::ParamKind::Buffer) {
                broken[j] = std::numeric_limits<float>::quiet_NaN();
            } else if (p.kind == nn::ParamKind::Counter) {
                broken[j] = 7.0F;
            }
        }
    }
    const AlignedBuffer again =
        recalibrateBatchNorm(net, state.weights.span(), broken.span(), 2, from(batches));
    for (const ModelParam& p : net.params()) {
        for (std::int64_t i = 0; p.kind != nn::ParamKind::Weight && i < p.shape.numel(); ++i) {
            const std::size_t j = p.offset + static_cast<std::size_t>(i);
            if (p.kind == nn::ParamKind::Buffer) {
                EXPECT_EQ(again[j], clean[j]) << p.name;
                EXPECT_TRUE(std::isfinite(again[j])) << p.name;
            } else {
                EXPECT_EQ(again[j], 7.0F) << p.name;
            }
        }
    }
}

TEST(BnRecalibration, SameBitsWithOneTwoAndFourThreads) {
    const ResNet net(ResNetSpec{.width = 16, .inChannels = 3, .inSize = 16, .classes = 10});
    const ModelState state = ModelState::create(net, 11);
    const std::vector<Tensor> batches = makeBatches(net, 3, 8);
    std::vector<AlignedBuffer> results;
    for (const std::size_t threads : {1U, 2U, 4U}) {
        const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
        results.push_back(recalibrateBatchNorm(
            net, state.weights.span(), state.buffers.span(), 3, from(batches)));
    }
    EXPECT_TRUE(lp::testing::sameBits(results[0].span(), results[1].span()));
    EXPECT_TRUE(lp::testing::sameBits(results[0].span(), results[2].span()));
}

}  // namespace
}  // namespace lp::core::model
