// What an experiment will look like before it runs: the model's units and their parameter counts,
// the minibatches per epoch, and the pipeline's tick count, utilisation and weight-history memory.
// Pure functions of the config (plus whether Debian's Fashion-MNIST is installed); reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lp::ui {

// One pipeline unit of the ResNet (DESIGN.md section 3) and its trainable floats.
struct UnitInfo {
    std::string name;  // "stem", "layer1.0", ..., "head"
    std::int64_t params = 0;
};

// The units of a ResNet of the family: the stem, one BasicBlock per entry of `blocks`
// ({2,2,2,2} ResNet-18), the head. Computed here because ui/ may not include core/model (it pulls
// in Eigen); the formula mirrors core/model/resnet.cpp (convs without bias, BN γ and β):
//   stem  = c_in·w·k² + 2w                      (k = 3 CIFAR stem, 7 ImageNet stem)
//   block = 9·c_in·c + 2c + 9·c² + 2c  [+ c_in·c + 2c when stride 2 or c_in ≠ c: the 1x1 shortcut]
//   head  = 8w·classes + classes                (fc on 8w pooled features)
// ResNet-18, width 64, 3 channels, 100 classes gives 11,220,132 in total (the bench/ reference).
std::vector<UnitInfo> resnetUnits(const std::vector<std::int64_t>& blocks,
                                  bool imagenetStem,
                                  std::int64_t width,
                                  std::int64_t inChannels,
                                  std::int64_t classes);

// The units the Session will build for config: the architecture's block counts, and input
// channels and classes from the model section or, where 0, from the dataset the config names
// ("auto" means Fashion-MNIST when installed, else synthetic, as core/data does without a folder).
// An unknown architecture gives ResNet-18's units.
std::vector<UnitInfo> resnetUnits(const core::io::ExperimentConfig& config);

// Minibatches per epoch the Session will run: the training split's known size (after trainLimit)
// divided by the batch size, capped by maxSteps. An estimate for CIFAR/MNIST folders (assumes
// the standard 50,000/60,000 training images); exact for synthetic data and Fashion-MNIST.
std::int64_t estimatedStepsPerEpoch(const core::io::ExperimentConfig& config);

struct PipelineForecast {
    std::int64_t stages = 1;
    std::vector<std::int64_t> delays;  // effective D_s (the 2·S(s) default when none are set)
    std::int64_t minibatches = 0;      // per epoch
    std::int64_t ticksPerEpoch = 0;
    double utilisation = 0.0;  // useful stage-ticks / all stage-ticks
    std::int64_t stashHistoryBytes = 0;
    std::int64_t emaHistoryBytes = 0;  // EMA buffers only (the scratch Ŵ counts as weights)
    // The momentum policy's, from core's forecast: 0 (it rebuilds Ŵ from the optimizer state).
    std::int64_t momentumHistoryBytes = 0;
    // Delay schedules: the delays of the first epochs (at most 6; empty when static), the ticks
    // and utilisation above being epoch 1's; the history bytes are those of each stage's largest
    // delay over the run (the envelope), what the memory peaks reach.
    std::vector<std::vector<std::int64_t>> epochDelays;
    bool adaptiveDelays = false;  // epochDelays holds epoch 1's only; the rest are measured
    std::string problem;  // why the pipeline section cannot run; empty when it can
};

// Forecast of one epoch of config's pipeline (LayerPipe: simulateTicks on the delays; GPipe:
// 2·(M + K − 1) ticks per minibatch, utilisation M / (M + K − 1)). Never throws: an illegal
// partition or delay vector is reported in `problem` (DelayPlan::whyIllegal's words) with the
// tick fields left 0, and so is the momentum policy with an optimizer that keeps no state (SGD
// without momentum; optim::requireRewindable's words).
PipelineForecast forecastPipeline(const core::io::ExperimentConfig& config);

}  // namespace lp::ui
