// The experiment the studio's run tests drive: synthetic 32x32 data, width 4, K = 2 (cut before
// unit 5, default delays 2, 0), four steps of eight images — a run that finishes in well under a
// second. Tests set the pipeline policy they need on top.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include "tests/support/synthetic_experiment.hpp"

namespace lp::ui::test {

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

}  // namespace lp::ui::test
