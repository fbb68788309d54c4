// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/reference_runner.hpp"

#include "core/error.hpp"
#include "core/pipeline/epoch_plan.hpp"

#include <vector>

namespace lp::core::pipeline {

EpochStats ReferenceRunner::runEpoch(std::int64_t epoch,
                                     std::int64_t minibatches,
                                     const BatchSource& source,
                                     const LrFunction& lr,
                                     std::int64_t stepBase) {
    const EpochPlan plan =
        epochPlan(core_.delays(), core_.spec().schedule, minibatches, core_.spec().microBatches);
    core_.beginEpoch(epoch, minibatches, source, lr, stepBase, 0);
    std::vector<std::size_t> next(plan.size(), 0);
    // Tick by tick, stage by stage, each stage's ops of the tick in plan order.
    const std::int64_t lastTick = lastTickOf(plan);
    for (std::int64_t t = 0; t <= lastTick; ++t) {
        for (std::size_t s = 0; s < plan.size(); ++s) {
            while (next[s] < plan[s].size() && plan[s][next[s]].tick == t) {
                const StageOp& op = plan[s][next[s]];
                LP_EXPECTS(core_.ready(static_cast<std::int64_t>(s), op),
                           "reference runner: op inputs missing (schedule bug)");
                core_.execute(static_cast<std::int64_t>(s), op);
                ++next[s];
            }
        }
    }
    return core_.epochStats();
}

}  // namespace lp::core::pipeline
