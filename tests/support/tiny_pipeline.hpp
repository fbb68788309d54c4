// A tiny ResNet, learnable toy data and a pipelined run of it, shared by the engine tests
// (engine_test, weight_policy_test). Plain functions; each call builds its own state.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/model/resnet.hpp"
#include "core/pipeline/spec.hpp"

#include <cstdint>
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

}  // namespace lp::test
