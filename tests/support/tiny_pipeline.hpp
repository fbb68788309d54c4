// A tiny ResNet, learnable toy data and a pipelined run of it, shared by the engine tests
// (engine_test, weight_policy_test). Plain functions; each call builds its own state.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/model/resnet.hpp"
#include "core/optim/optimizer.hpp"
#include "core/pipeline/plan.hpp"
#include "core/pipeline/spec.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace lp::test {

inline constexpr std::int64_t kTinyBatch = 8;

// Width 4, 3×8×8 inputs, 4 classes.
core::model::ResNetSpec tinySpec();
// Learnable toy data: the label is the quadrant holding a bright blob. Pure in (epoch, index).
core::pipeline::MiniBatch tinyBatch(std::int64_t epoch, std::int64_t index);
// A learning rate that changes every step: 0.05·(1 + 0.1·(step mod 3)).
float tinyLr(std::int64_t step);
// SGD with momentum 0.9 and weight decay 5e-4, the given cuts and policy.
core::pipeline::PipelineSpec specFor(std::vector<std::int64_t> cuts,
                                     core::pipeline::WeightPolicy policy);
// Cuts giving K = 1, 2, 4 or (anything else) 10 stages.
std::vector<std::int64_t> cutsFor(std::int64_t k);

struct RunResult {
    core::model::ModelState state;
    std::vector<float> losses;
    std::vector<std::int64_t> staleness;
    std::vector<float> reconstruction;  // relative errors, in recording order
};

// `epochs` epochs of `minibatches` on the ReferenceRunner (reference) or the Engine with
// `threads` threads, from ModelState::create(net, 3).
RunResult runPipeline(const core::pipeline::PipelineSpec& spec,
                      int threads,
                      bool reference,
                      std::int64_t minibatches = 7,
                      std::int64_t epochs = 2,
                      const core::model::ResNetSpec& modelSpec = tinySpec());

bool sameBits(const core::AlignedBuffer& a, const core::AlignedBuffer& b);

// The oracles' whole-model step (one pass of the delayed-SGD simulations): forward through every
// unit of `net` in Train mode at `forwardWeights` (running statistics into `buffers`), softmax
// cross-entropy on `batch`, backward at `backwardWeights`. `grads` is zeroed, then holds the
// gradient.
void wholeModelGradients(const core::model::ResNet& net,
                         std::span<const float> forwardWeights,
                         std::span<const float> backwardWeights,
                         std::span<float> buffers,
                         const core::pipeline::MiniBatch& batch,
                         std::vector<core::model::UnitContext>& ctxs,
                         core::AlignedBuffer& grads);

// The state of an independent delayed-SGD simulation of `spec` on the tiny model (the engine
// tests' oracle): every version of the model so far, from ModelState::create(net, 3), the
// optimizer and its state, a gradient and the forward's weights. The test's loop picks the
// weights each minibatch sees; update() appends the next version.
struct DelayedSgd {
    explicit DelayedSgd(const core::pipeline::PipelineSpec& spec);

    // Appends the newest version's weights after one optimizer step with `grads` (update number
    // `step`, from 1, at `lr`), with `buffers` as its running statistics.
    void update(const core::AlignedBuffer& buffers, std::int64_t step, float lr);

    const core::model::ResNet net;
    const core::pipeline::Partition part;
    const core::optim::Optimizer opt;
    std::vector<core::model::ModelState> versions;
    core::AlignedBuffer state;
    core::AlignedBuffer grads;
    core::AlignedBuffer forwardWeights;
    std::vector<core::model::UnitContext> ctxs;
};

// Copies stage `s`'s weights (its units under `part`) from `from` into `to`; the rest of `to` is
// left as it is.
void copyStageWeights(const core::model::ResNet& net,
                      const core::pipeline::Partition& part,
                      std::int64_t s,
                      const core::AlignedBuffer& from,
                      core::AlignedBuffer& to);

}  // namespace lp::test
