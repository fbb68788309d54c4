// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/optim/lr_schedule.hpp"

#include "core/error.hpp"

#include <cmath>
#include <numbers>

namespace lp::core::optim {

void validate(const LrScheduleConfig& cfg) {
    if (findChoice(cfg.kind) == nullptr) {
        throw InputError(concat("lrSchedule.kind must be one of ",
                                allowedChoices<LrScheduleKind>(", "),
                                ", got ",
                                static_cast<int>(cfg.kind)));
    }
    // Negated conjunctions so that NaN is rejected too.
    if (!kBaseLrRange.contains(static_cast<double>(cfg.baseLr))) {
        throw InputError(
            concat("lrSchedule.baseLr must be ", kBaseLrRange.text(), ", got ", cfg.baseLr));
    }
    if (cfg.warmupSteps < 0) {
        throw InputError(concat("lrSchedule.warmupSteps must be >= 0, got ", cfg.warmupSteps));
    }
    if (cfg.kind == LrScheduleKind::Step) {
        if (cfg.stepSize < 1) {
            throw InputError(concat("lrSchedule.stepSize must be >= 1, got ", cfg.stepSize));
        }
        if (!kGammaRange.contains(static_cast<double>(cfg.gamma))) {
            throw InputError(
                concat("lrSchedule.gamma must be ", kGammaRange.text(), ", got ", cfg.gamma));
        }
    }
    if (cfg.kind == LrScheduleKind::Cosine) {
        if (cfg.totalSteps <= cfg.warmupSteps) {
            throw InputError(concat("lrSchedule.totalSteps must be > lrSchedule.warmupSteps (",
                                    cfg.warmupSteps,
                                    "), got ",
                                    cfg.totalSteps));
        }
        if (!(cfg.minLr >= 0.0F && cfg.minLr <= cfg.baseLr)) {
            throw InputError(concat("lrSchedule.minLr must be in [0, ",
                                    cfg.baseLr,
                                    "] (0 to lrSchedule.baseLr), got ",
                                    cfg.minLr));
        }
    }
}

float learningRate(const LrScheduleConfig& cfg, std::int64_t step) {
    LP_EXPECTS(step >= 0, concat("learningRate: step is 0-based, got ", step));
    const auto base = static_cast<double>(cfg.baseLr);
    // Linear warm-up (Goyal et al., "Accurate, Large Minibatch SGD", 2017, section 2.2), starting
    // at baseLr/W rather than 0 so that the first update is never wasted.
    if (step < cfg.warmupSteps) {
        return static_cast<float>(base * static_cast<double>(step + 1) /
                                  static_cast<double>(cfg.warmupSteps));
    }
    const std::int64_t t = step - cfg.warmupSteps;
    switch (cfg.kind) {
        case LrScheduleKind::Constant:
            return cfg.baseLr;
        case LrScheduleKind::Step: {
            // torch.optim.lr_scheduler.StepLR: baseLr·gamma^floor(t / stepSize).
            LP_EXPECTS(cfg.stepSize >= 1, "learningRate: Step schedule needs stepSize >= 1");
            const std::int64_t drops = t / cfg.stepSize;
            return static_cast<float>(
                base * std::pow(static_cast<double>(cfg.gamma), static_cast<double>(drops)));
        }
        case LrScheduleKind::Cosine: {
            // SGDR without restarts (Loshchilov & Hutter, ICLR 2017, eq. 5), as
            // torch.optim.lr_scheduler.CosineAnnealingLR's closed form; held at minLr after T.
            const std::int64_t span = cfg.totalSteps - cfg.warmupSteps;
            LP_EXPECTS(span >= 1, "learningRate: Cosine schedule needs totalSteps > warmupSteps");
            if (t >= span) {
                return cfg.minLr;
            }
            const auto minLr = static_cast<double>(cfg.minLr);
            const double phase =
                std::numbers::pi * static_cast<double>(t) / static_cast<double>(span);
            return static_cast<float>(minLr + (base - minLr) * (1.0 + std::cos(phase)) / 2.0);
        }
    }
    throw ContractError(concat("learningRate: unknown schedule kind ", static_cast<int>(cfg.kind)));
}

}  // namespace lp::core::optim
