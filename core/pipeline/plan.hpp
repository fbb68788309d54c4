// Partition, DelayPlan and the tick schedule of LayerPipe (DESIGN.md section 4).
//
// Stages s = 0..K-1 from input to output; S(s) = K-1-s stages follow stage s. A stage with delay
// D_s runs its operations in the fixed order
//     F0, F1, ..., F_{D_s}, B0, F_{D_s+1}, B1, F_{D_s+2}, ...
// (every F_j right after B_{j-D_s-1}), so F_j sees weight version j - D_s and the gradient that
// update j applies is min(j, D_s) versions stale. D_s = 2·S(s) is LayerPipe2's default and fills
// the pipeline with no bubbles; smaller delays make stages wait; D = 0 everywhere is sequential
// SGD. A delay vector is legal iff it is non-increasing from input to output and every D_s ≥ 0
// (core::delaysProblem in core/choices.hpp, with the upper limit 256).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"
#include "core/telemetry/events.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lp::core::pipeline {

// Cut points between the model's units: cut c starts a new stage at unit c. K = cuts + 1.
class Partition {
public:
    // Throws InputError unless cuts are strictly increasing within [1, unitCount - 1].
    Partition(std::int64_t unitCount, std::vector<std::int64_t> cuts);
    // Every unit its own stage.
    static Partition perUnit(std::int64_t unitCount);

    std::int64_t unitCount() const { return unitCount_; }

    std::int64_t stageCount() const { return static_cast<std::int64_t>(cuts_.size()) + 1; }

    const std::vector<std::int64_t>& cuts() const { return cuts_; }

    std::int64_t firstUnit(std::int64_t stage) const;  // inclusive
    std::int64_t endUnit(std::int64_t stage) const;    // exclusive
    std::int64_t stageOfUnit(std::int64_t unit) const;

private:
    std::int64_t unitCount_ = 0;
    std::vector<std::int64_t> cuts_;
};

// Per-stage delays D_s.
class DelayPlan {
public:
    // LayerPipe2's rule: D_s = 2·S(s) = 2·(K-1-s).
    static DelayPlan layerPipeDefault(std::int64_t stages);
    // Throws InputError (core::delaysProblem's words, the one delay-vector rule) when the vector
    // would deadlock (increasing somewhere), lies outside [0, 256], or has the wrong length.
    static DelayPlan custom(std::int64_t stages, std::vector<std::int64_t> delays);

    // Why `delays` is illegal for `stages` stages, or "" when it is legal (core::delaysProblem).
    static std::string whyIllegal(std::int64_t stages, const std::vector<std::int64_t>& delays) {
        return delaysProblem(delays, stages, "delays");
    }

    std::int64_t stageCount() const { return static_cast<std::int64_t>(delays_.size()); }

    std::int64_t delay(std::int64_t stage) const {
        return delays_[static_cast<std::size_t>(stage)];
    }

    const std::vector<std::int64_t>& delays() const { return delays_; }

private:
    explicit DelayPlan(std::vector<std::int64_t> delays) : delays_(std::move(delays)) {}

    std::vector<std::int64_t> delays_;
};

// The one op vocabulary from plan to telemetry: F, B, U (and Eval, which no plan holds).
using telemetry::OpKind;

// One op of one stage. `unit` is the data unit the op works on: the minibatch counted from the
// start of the epoch (LayerPipe), minibatch·M + micro-batch (GPipe's F and B); for U, the
// minibatch. `tick` is its tick within the epoch (the timeline's tick view); -1 before the
// ticks are simulated (stageOrder).
struct StageOp {
    OpKind kind = OpKind::Forward;
    std::int64_t unit = 0;
    std::int64_t tick = -1;
};

// The fixed F/B order of one stage with delay `delay` over `minibatches` minibatches (one epoch,
// starting from and ending with a drained pipeline); ticks not yet assigned.
std::vector<StageOp> stageOrder(std::int64_t delay, std::int64_t minibatches);

// The tick view (DESIGN.md section 4's tick model): in one tick a stage runs at most one F and
// one B, F before B, each the next op of its fixed order; a stage's input must have been produced
// in an earlier tick, except that the last stage's B may follow its own F in the same tick.
struct TickSchedule {
    std::vector<std::vector<StageOp>> stages;  // each stage's F and B in order, with their ticks
    std::int64_t ticks = 0;                    // ticks the epoch spans, fill to drain

    std::int64_t tickCount() const { return ticks; }

    // Fraction of stage-ticks doing useful work: 2·K·M / (2·K·ticks) counting F and B slots.
    double utilisation(std::int64_t stageCount) const;
};

// Simulates one epoch of `minibatches` minibatches. Throws InputError if the plan deadlocks.
TickSchedule simulateTicks(const DelayPlan& plan, std::int64_t minibatches);
// The same for any delay vector, legal or not (for teaching and for the legality sweep).
TickSchedule simulateTicks(const std::vector<std::int64_t>& delays, std::int64_t minibatches);

}  // namespace lp::core::pipeline
