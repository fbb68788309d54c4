// The experiment the studio's run tests drive: synthetic 32x32 data, width 4, K = 2 (cut before
// unit 5, default delays 2, 0), four steps of eight images — a run that finishes in well under a
// second. Tests set the pipeline policy they need on top.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

namespace lp::ui::test {

inline core::io::ExperimentConfig tinyExperiment(const char* policy) {
    core::io::ExperimentConfig c;
    c.name = "tiny";
    c.model.width = 4;
    c.data.dataset = core::DatasetKind::Synthetic;
    c.data.syntheticTrain = 64;
    c.data.syntheticTest = 16;
    c.training.batchSize = 8;
    c.training.maxSteps = 4;
    c.training.epochs = 1;
    c.training.threads = 2;
    c.pipeline.cuts = {5};
    c.pipeline.policy = *core::parseChoice<core::WeightPolicy>(policy);
    return c;
}

}  // namespace lp::ui::test
