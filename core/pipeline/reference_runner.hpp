// ReferenceRunner: the oracle the Engine is tested against — one epoch's ticks in a plain
// single-threaded loop (parallelism only inside ops). Not thread-safe.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/pipeline/pipeline_core.hpp"
#include "core/pipeline/spec.hpp"

#include <cstdint>

namespace lp::core::pipeline {

class ReferenceRunner {
public:
    explicit ReferenceRunner(PipelineCore& core) : core_(core) {}

    // Runs one whole epoch; returns its statistics. Stops early on a non-finite loss.
    EpochStats runEpoch(std::int64_t epoch,
                        std::int64_t minibatches,
                        const BatchSource& source,
                        const LrFunction& lr,
                        std::int64_t stepBase);

private:
    PipelineCore& core_;
};

}  // namespace lp::core::pipeline
