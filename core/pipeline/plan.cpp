// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/plan.hpp"

#include "core/error.hpp"

#include <sstream>

namespace lp::core::pipeline {

Partition::Partition(std::int64_t unitCount, std::vector<std::int64_t> cuts)
    : unitCount_(unitCount), cuts_(std::move(cuts)) {
    if (unitCount < 1) {
        throw InputError(concat("a partition needs at least one unit, got ", unitCount));
    }
    std::int64_t prev = 0;
    for (std::int64_t c : cuts_) {
        if (c <= prev || c >= unitCount) {
            std::ostringstream os;
            os << "pipeline cuts must be strictly increasing unit indices in [1, " << unitCount - 1
               << "] (a cut c starts a new stage at unit c), got [";
            for (std::size_t i = 0; i < cuts_.size(); ++i) {
                os << (i ? ", " : "") << cuts_[i];
            }
            os << "]";
            throw InputError(os.str());
        }
        prev = c;
    }
}

Partition Partition::perUnit(std::int64_t unitCount) {
    std::vector<std::int64_t> cuts;
    for (std::int64_t c = 1; c < unitCount; ++c) {
        cuts.push_back(c);
    }
    return {unitCount, cuts};
}

std::int64_t Partition::firstUnit(std::int64_t stage) const {
    LP_EXPECTS(stage >= 0 && stage < stageCount(), "stage out of range");
    return stage == 0 ? 0 : cuts_[static_cast<std::size_t>(stage - 1)];
}

std::int64_t Partition::endUnit(std::int64_t stage) const {
    LP_EXPECTS(stage >= 0 && stage < stageCount(), "stage out of range");
    return stage == stageCount() - 1 ? unitCount_ : cuts_[static_cast<std::size_t>(stage)];
}

std::int64_t Partition::stageOfUnit(std::int64_t unit) const {
    LP_EXPECTS(unit >= 0 && unit < unitCount_, "unit out of range");
    std::int64_t s = 0;
    while (s < stageCount() - 1 && unit >= cuts_[static_cast<std::size_t>(s)]) {
        ++s;
    }
    return s;
}

DelayPlan DelayPlan::layerPipeDefault(std::int64_t stages) {
    LP_EXPECTS(stages >= 1, "a pipeline needs at least one stage");
    std::vector<std::int64_t> d(static_cast<std::size_t>(stages));
    for (std::int64_t s = 0; s < stages; ++s) {
        d[static_cast<std::size_t>(s)] = 2 * (stages - 1 - s);
    }
    return DelayPlan(std::move(d));
}

DelayPlan DelayPlan::custom(std::int64_t stages, std::vector<std::int64_t> delays) {
    const std::string why = delaysProblem(delays, stages, "delays");
    if (!why.empty()) {
        throw InputError(why);
    }
    return DelayPlan(std::move(delays));
}

std::vector<StageOp> stageOrder(std::int64_t delay, std::int64_t minibatches) {
    std::vector<StageOp> order;
    order.reserve(static_cast<std::size_t>(2 * minibatches));
    std::int64_t nextF = 0;
    // F0..F_D first (as many as there are), then every F_j right after B_{j-D-1}.
    for (; nextF < minibatches && nextF <= delay; ++nextF) {
        order.push_back({.kind = OpKind::Forward, .unit = nextF});
    }
    for (std::int64_t b = 0; b < minibatches; ++b) {
        order.push_back({.kind = OpKind::Backward, .unit = b});
        if (nextF < minibatches) {
            order.push_back({.kind = OpKind::Forward, .unit = nextF++});
        }
    }
    return order;
}

double TickSchedule::utilisation(std::int64_t stageCount) const {
    std::int64_t ops = 0;
    for (const auto& list : stages) {
        ops += static_cast<std::int64_t>(list.size());
    }
    const auto slots = static_cast<double>(2 * stageCount * tickCount());
    return slots > 0 ? static_cast<double>(ops) / slots : 0.0;
}

TickSchedule simulateTicks(const DelayPlan& plan, std::int64_t minibatches) {
    return simulateTicks(plan.delays(), minibatches);
}

namespace {

// Tick in which each stage finished F_j and B_j (-1: not yet).
struct Finished {
    std::vector<std::vector<std::int64_t>> forward;
    std::vector<std::vector<std::int64_t>> backward;
};

// Whether op may run at stage s in `tick` (DESIGN.md section 4's tick model).
bool readyInTick(const Finished& done,
                 std::size_t s,
                 std::size_t stages,
                 const StageOp& op,
                 std::int64_t tick,
                 bool ranForward) {
    const auto j = static_cast<std::size_t>(op.unit);
    if (op.kind == OpKind::Forward) {
        return !ranForward &&
               (s == 0 || (done.forward[s - 1][j] >= 0 && done.forward[s - 1][j] < tick));
    }
    if (s + 1 == stages) {
        return done.forward[s][j] >= 0;  // the last stage's B may follow its own F
    }
    return done.backward[s + 1][j] >= 0 && done.backward[s + 1][j] < tick;
}

}  // namespace

TickSchedule simulateTicks(const std::vector<std::int64_t>& delays, std::int64_t minibatches) {
    const auto ks = delays.size();
    std::vector<std::vector<StageOp>> orders(ks);
    std::size_t remaining = 0;
    for (std::size_t s = 0; s < ks; ++s) {
        orders[s] = stageOrder(delays[s], minibatches);
        remaining += orders[s].size();
    }
    std::vector<std::size_t> next(ks, 0);
    const std::vector<std::int64_t> never(static_cast<std::size_t>(minibatches), -1);
    Finished done{.forward = std::vector<std::vector<std::int64_t>>(ks, never),
                  .backward = std::vector<std::vector<std::int64_t>>(ks, never)};
    TickSchedule out{.stages = std::vector<std::vector<StageOp>>(ks)};
    for (std::int64_t tick = 0; remaining > 0; ++tick) {
        std::size_t ran = 0;
        for (std::size_t s = 0; s < ks; ++s) {
            bool ranForward = false;
            while (next[s] < orders[s].size() &&
                   readyInTick(done, s, ks, orders[s][next[s]], tick, ranForward)) {
                StageOp op = orders[s][next[s]++];
                op.tick = tick;
                out.stages[s].push_back(op);
                ++ran;
                const auto j = static_cast<std::size_t>(op.unit);
                if (op.kind == OpKind::Backward) {
                    done.backward[s][j] = tick;
                    break;  // B ends the stage's tick
                }
                done.forward[s][j] = tick;
                ranForward = true;
            }
        }
        if (ran == 0) {
            const std::string why = delaysProblem(delays, static_cast<std::int64_t>(ks), "delays");
            throw InputError(concat("pipeline schedule deadlocks at tick ",
                                    tick,
                                    why.empty() ? std::string() : ": " + why));
        }
        remaining -= ran;
        out.ticks = tick + 1;
    }
    return out;
}

}  // namespace lp::core::pipeline
