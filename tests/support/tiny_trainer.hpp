// The Trainer tests' shared pieces (trainer_test, delay_schedule_trainer_test): a tiny synthetic
// experiment, checkpoint paths, and bit-for-bit comparison of two trainers' models. Plain
// functions; each call builds its own state.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/session/trainer.hpp"

#include "tests/support/synthetic_experiment.hpp"
#include "tests/support/tiny_pipeline.hpp"
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

namespace lp::test {

// Synthetic 3×8×8 images at `size` (by default width 4, 96 training and 32 test images in
// minibatches of 16: six steps an epoch, two epochs), lr 0.05 on a cosine schedule; sequential
// unless a test cuts it.
inline core::io::ExperimentConfig tinyTrainerConfig(
    const SyntheticSize& size = {.width = 4, .train = 96, .test = 32, .batch = 16, .epochs = 2}) {
    core::io::ExperimentConfig c = syntheticExperiment(size);
    c.model.inputSize = 8;
    c.model.inputChannels = 3;
    c.optimizer.lr = 0.05;
    c.schedule.kind = core::LrScheduleKind::Cosine;
    return c;
}

// <tmp>/<name>-<pid>.safetensors; the test removes it.
inline std::filesystem::path tempFile(const std::string& name) {
    return std::filesystem::temp_directory_path() /
           (name + "-" + std::to_string(::getpid()) + ".safetensors");
}

// The two trainers' weights and buffers are the same to the bit.
inline bool sameWeights(core::session::Trainer& a, core::session::Trainer& b) {
    const auto wa = a.core().gather();
    const auto wb = b.core().gather();
    return sameBits(wa.weights, wb.weights) && sameBits(wa.buffers, wb.buffers);
}

// A trainer of `c` (pipelined unless `sequential`) run until it has finished every epoch.
inline std::unique_ptr<core::session::Trainer> trainedToTheEnd(const core::io::ExperimentConfig& c,
                                                               bool sequential = false) {
    auto t = std::make_unique<core::session::Trainer>(
        core::session::Experiment::create(c, sequential), nullptr);
    while (!t->finished()) {
        t->runEpoch();
    }
    return t;
}

}  // namespace lp::test
