// The epoch plan: the exact op list of every stage for one epoch, fill to drain, with ticks —
// LayerPipe's from the tick simulation of the delays, GPipe's fill-and-flush per minibatch
// (DESIGN.md section 4). The Engine, the ReferenceRunner and the timeline all follow it. Pure.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/pipeline/plan.hpp"
#include "core/pipeline/runner.hpp"

#include <cstdint>
#include <vector>

namespace lp::core::pipeline {

// One list per stage, in the order the stage runs its ops; every B is followed by its U
// (LayerPipe) or the M backwards of a minibatch by one U (GPipe).
using EpochPlan = std::vector<std::vector<StageOp>>;

// The plan of one epoch of `minibatches` minibatches (microBatches: GPipe's M; ignored by
// LayerPipe). Throws InputError if the delays deadlock.
EpochPlan epochPlan(const DelayPlan& delays,
                    ScheduleKind schedule,
                    std::int64_t minibatches,
                    std::int64_t microBatches);

// The plan's last tick (-1 for a plan without ops): it spans lastTickOf(plan) + 1 ticks.
std::int64_t lastTickOf(const EpochPlan& plan);

}  // namespace lp::core::pipeline
