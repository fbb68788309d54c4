// The experiments the studio tests drive: a tiny run that finishes in well under a second
// (tinyExperiment) and the editor tests' 40-minibatch epoch (fortyMinibatches). Plain functions.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include "tests/support/synthetic_experiment.hpp"

namespace lp::ui::test {

// Synthetic 32x32 data, width 4, K = 2 (cut before unit 5, default delays 2, 0), four steps of
// eight images, with the pipeline policy `policy`.
inline core::io::ExperimentConfig tinyExperiment(const char* policy) {
    core::io::ExperimentConfig c = lp::test::syntheticExperiment(
        {.width = 4, .train = 64, .test = 16, .batch = 8, .epochs = 1});
    c.name = "tiny";
    c.training.maxSteps = 4;
    c.training.threads = 2;
    c.pipeline.cuts = {5};
    c.pipeline.policy = *core::parseChoice<core::WeightPolicy>(policy);
    return c;
}

// The editor tests' experiment: synthetic data, 40 minibatches of 32 per epoch (DESIGN.md
// section 4's worked example), everything else at the defaults. Tests set the layout on top.
inline core::io::ExperimentConfig fortyMinibatches() {
    core::io::ExperimentConfig c;
    c.data.dataset = core::DatasetKind::Synthetic;
    c.training.batchSize = 32;
    c.training.maxSteps = 40;
    return c;
}

}  // namespace lp::ui::test
