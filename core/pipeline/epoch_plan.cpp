// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/epoch_plan.hpp"

#include <algorithm>

namespace lp::core::pipeline {

EpochPlan epochPlan(const DelayPlan& delays,
                    ScheduleKind schedule,
                    std::int64_t minibatches,
                    std::int64_t microBatches) {
    const std::int64_t k = delays.stageCount();
    EpochPlan plan(static_cast<std::size_t>(k));
    if (schedule == ScheduleKind::LayerPipe) {
        // The tick simulation's F/B order, each B followed by its update in the same tick.
        const TickSchedule ticks = simulateTicks(delays, minibatches);
        for (std::size_t s = 0; s < plan.size(); ++s) {
            for (const StageOp& op : ticks.stages[s]) {
                plan[s].push_back(op);
                if (op.kind == OpKind::Backward) {
                    plan[s].push_back({.kind = OpKind::Update, .unit = op.unit, .tick = op.tick});
                }
            }
        }
        return plan;
    }
    // GPipe: per minibatch, all M forwards flow down, all M backwards flow up, one update, flush.
    const std::int64_t m = microBatches;
    const std::int64_t period = 2 * (m + k - 1);
    for (std::int64_t j = 0; j < minibatches; ++j) {
        const std::int64_t base = j * period;
        for (std::int64_t s = 0; s < k; ++s) {
            auto& list = plan[static_cast<std::size_t>(s)];
            for (std::int64_t i = 0; i < m; ++i) {
                list.push_back({OpKind::Forward, j * m + i, base + i + s});
            }
            for (std::int64_t i = 0; i < m; ++i) {
                list.push_back({OpKind::Backward, j * m + i, base + (m + k - 1) + i + (k - 1 - s)});
            }
            list.push_back({OpKind::Update, j, list.back().tick});
        }
    }
    return plan;
}

std::int64_t lastTickOf(const EpochPlan& plan) {
    std::int64_t last = -1;
    for (const auto& list : plan) {
        if (!list.empty()) {
            last = std::max(last, list.back().tick);
        }
    }
    return last;
}

}  // namespace lp::core::pipeline
