// The spec of a pipelined run and the plain values that cross its boundary: minibatches in,
// epoch statistics and evaluations out (DESIGN.md section 4). Value types; no shared state.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/optim/optimizer.hpp"
#include "core/pipeline/runner.hpp"
#include "core/pipeline/stage.hpp"
#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace lp::core::pipeline {

// What to build: the partition, the delays, the weight policy, the schedule and the optimizer.
struct PipelineSpec {
    std::vector<std::int64_t> cuts;    // between units; empty = one stage
    std::vector<std::int64_t> delays;  // empty = LayerPipe2's 2·S(s) (GPipe: all 0)
    WeightPolicy policy = WeightPolicy::Stash;
    EmaBetaMode betaMode = EmaBetaMode::Window;
    float fixedBeta = 0.9F;
    bool diagnostic = false;
    bool measureUpdates = false;  // stages measure ‖ΔW‖/‖W‖ (delay schedules' signal)
    ScheduleKind schedule = ScheduleKind::LayerPipe;
    std::int64_t microBatches = 4;  // GPipe only
    optim::OptimizerConfig optimizer;
};

// One minibatch of the training or test split.
struct MiniBatch {
    Tensor images;  // [N, C, H, W]
    std::vector<std::int32_t> labels;
};

// Returns minibatch `index` of `epoch`: a pure function of its arguments.
using BatchSource = std::function<MiniBatch(std::int64_t epoch, std::int64_t index)>;
// Learning rate of global step `step` (0-based).
using LrFunction = std::function<float(std::int64_t step)>;

// Sums over the minibatches an epoch completed (a stopped epoch counts those before the stop).
struct EpochStats {
    double lossSum = 0.0;
    std::int64_t correct = 0;
    std::int64_t samples = 0;
    std::int64_t minibatches = 0;
    bool nonFinite = false;
};

// Test-split evaluation: mean loss, top-1 and top-5 accuracy in [0, 1].
struct EvalResult {
    double loss = 0.0;
    double top1 = 0.0;
    double top5 = 0.0;
    std::int64_t samples = 0;
};

}  // namespace lp::core::pipeline
