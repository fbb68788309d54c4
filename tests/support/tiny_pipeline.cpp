// SPDX-License-Identifier: GPL-3.0-or-later
#include "tests/support/tiny_pipeline.hpp"

#include "core/nn/loss.hpp"
#include "core/pipeline/engine.hpp"
#include "core/pipeline/reference_runner.hpp"
#include "core/tensor/rng.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace lp::test {

using namespace lp::core;
using namespace lp::core::pipeline;

model::ResNetSpec tinySpec() {
    return {.width = 4, .inChannels = 3, .inSize = 8, .classes = 4};
}

MiniBatch tinyBatch(std::int64_t epoch, std::int64_t index) {
    Rng rng(Rng::derive(99, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(index)));
    MiniBatch b{.images = Tensor(TensorShape{kTinyBatch, 3, 8, 8}), .labels = {}};
    for (std::int64_t n = 0; n < kTinyBatch; ++n) {
        const auto label = static_cast<std::int32_t>(rng.below(4));
        b.labels.push_back(label);
        for (std::int64_t c = 0; c < 3; ++c) {
            for (std::int64_t h = 0; h < 8; ++h) {
                for (std::int64_t w = 0; w < 8; ++w) {
                    const bool hot = (h / 4) * 2 + (w / 4) == label;
                    b.images.at(n, c, h, w) = (hot ? 1.0F : 0.0F) + 0.3F * rng.normal();
                }
            }
        }
    }
    return b;
}

float tinyLr(std::int64_t step) {
    return 0.05F * (1.0F + 0.1F * static_cast<float>(step % 3));
}

PipelineSpec specFor(std::vector<std::int64_t> cuts, WeightPolicy policy) {
    PipelineSpec s;
    s.cuts = std::move(cuts);
    s.policy = policy;
    s.optimizer = {.momentum = 0.9F, .weightDecay = 5e-4F};
    return s;
}

std::vector<std::int64_t> cutsFor(std::int64_t k) {
    switch (k) {
        case 1:
            return {};
        case 2:
            return {5};
        case 4:
            return {3, 5, 7};
        default:
            return {1, 2, 3, 4, 5, 6, 7, 8, 9};
    }
}

RunResult runPipeline(const PipelineSpec& spec,
                      int threads,
                      bool reference,
                      std::int64_t minibatches,
                      std::int64_t epochs,
                      const model::ResNetSpec& modelSpec) {
    const model::ResNet net(modelSpec);
    const model::ModelState init = model::ModelState::create(net, 3);
    auto recorder =
        std::make_unique<telemetry::Recorder>(static_cast<std::int32_t>(spec.cuts.size() + 1));
    PipelineCore core(net, init, spec, recorder.get());
    RunResult r;
    for (std::int64_t e = 0; e < epochs; ++e) {
        if (reference) {
            ReferenceRunner(core).runEpoch(e, minibatches, tinyBatch, tinyLr, e * minibatches);
        } else {
            Engine engine(core, threads);
            const auto out = engine.runEpoch(e, minibatches, tinyBatch, tinyLr, e * minibatches, 0);
            EXPECT_TRUE(out.completed);
        }
    }
    r.state = core.gather();
    const telemetry::TelemetryBatch batch = recorder->drain();
    for (const auto& t : batch.train) {
        r.losses.push_back(t.loss);
    }
    for (const auto& s : batch.staleness) {
        r.staleness.push_back(s.staleness);
    }
    for (const auto& c : batch.reconstruction) {
        r.reconstruction.push_back(c.relativeError);
    }
    return r;
}

bool sameBits(const AlignedBuffer& a, const AlignedBuffer& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

void wholeModelGradients(const model::ResNet& net,
                         std::span<const float> forwardWeights,
                         std::span<const float> backwardWeights,
                         std::span<float> buffers,
                         const MiniBatch& batch,
                         std::vector<model::UnitContext>& ctxs,
                         AlignedBuffer& grads) {
    const Tensor logits = model::forwardUnits(
        net, 0, net.unitCount(), forwardWeights, buffers, batch.images, ctxs, nn::Mode::Train);
    const nn::LossResult loss = nn::softmaxCrossEntropy(logits, batch.labels);
    grads.fill(0.0F);
    model::backwardUnits(
        net, 0, net.unitCount(), backwardWeights, loss.gradLogits, ctxs, grads.span());
}

DelayedSgd::DelayedSgd(const PipelineSpec& spec)
    : net(tinySpec())
    , part(static_cast<std::int64_t>(net.unitCount()), spec.cuts)
    , opt(spec.optimizer)
    , versions{model::ModelState::create(net, 3)}
    , state(opt.stateSize(net.weightCount()))
    , grads(net.weightCount())
    , forwardWeights(net.weightCount()) {}

void DelayedSgd::update(const AlignedBuffer& buffers, std::int64_t step, float lr) {
    model::ModelState next{.weights = versions.back().weights, .buffers = buffers};
    opt.step(next.weights.span(), grads.span(), state.span(), step, lr);
    versions.push_back(std::move(next));
}

void copyStageWeights(const model::ResNet& net,
                      const Partition& part,
                      std::int64_t s,
                      const AlignedBuffer& from,
                      AlignedBuffer& to) {
    const std::size_t lo = net.weightOffset(static_cast<std::size_t>(part.firstUnit(s)));
    const std::size_t hi = net.weightOffset(static_cast<std::size_t>(part.endUnit(s)));
    std::memcpy(to.data() + lo, from.data() + lo, (hi - lo) * sizeof(float));
}

}  // namespace lp::test
