// The experiment every training test starts from: synthetic data at a chosen size. Shared by the
// engine, trainer and studio tests (header-only, core/io only). Plain functions.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include <cstdint>

namespace lp::test {

// A ResNet of `width` base channels trained on `train` synthetic images (`test` more held out)
// in minibatches of `batch`, for `epochs` epochs. Every field is given.
struct SyntheticSize {
    std::int64_t width;
    std::int64_t train;
    std::int64_t test;
    std::int64_t batch;
    std::int64_t epochs;
};

// Everything else at ExperimentConfig's defaults.
inline core::io::ExperimentConfig syntheticExperiment(const SyntheticSize& s) {
    core::io::ExperimentConfig c;
    c.model.width = s.width;
    c.data.dataset = core::DatasetKind::Synthetic;
    c.data.syntheticTrain = s.train;
    c.data.syntheticTest = s.test;
    c.training.batchSize = s.batch;
    c.training.epochs = s.epochs;
    return c;
}

}  // namespace lp::test
