// Learning-rate schedules (constant, step decay, cosine) with an optional linear warm-up: a pure
// function of the config and the 0-based step, so safe to call from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lp::core::optim {

using LrScheduleKind = core::LrScheduleKind;

inline constexpr auto kLrScheduleKinds = choiceValues<LrScheduleKind>();

// "constant", "step", "cosine" (core/choices.hpp's table, used by configs and the CLI).
inline std::string_view toString(LrScheduleKind kind) {
    return choiceName(kind);
}

// Inverse of toString (exact, lower case); nullopt for an unknown name.
inline std::optional<LrScheduleKind> parseLrScheduleKind(std::string_view name) {
    return parseChoice<LrScheduleKind>(name);
}

// stepSize and gamma are used by Step; totalSteps and minLr by Cosine (totalSteps counts the
// warm-up steps too). Steps are optimizer updates.
struct LrScheduleConfig {
    LrScheduleKind kind = LrScheduleKind::Constant;
    float baseLr = 0.1F;
    std::int64_t warmupSteps = 0;
    std::int64_t stepSize = 0;
    float gamma = 0.1F;
    std::int64_t totalSteps = 0;
    float minLr = 0.0F;
};

// baseLr's and gamma's ranges (also the config's optimizer.lr and schedule.gamma).
inline constexpr Interval kBaseLrRange{'(', 0, 10, ']'};
inline constexpr Interval kGammaRange{'(', 0, 1, ']'};

// Throws InputError naming the field, the value and the allowed range, e.g.
// "lrSchedule.baseLr must be in (0, 10], got -0.1". Always: baseLr (0, 10], warmupSteps >= 0.
// Step: stepSize >= 1, gamma (0, 1]. Cosine: totalSteps > warmupSteps, minLr [0, baseLr].
void validate(const LrScheduleConfig& cfg);

// The learning rate of 0-based update `step` (>= 0) for a validated cfg. With W = warmupSteps:
// steps 0..W-1 ramp linearly, lr = baseLr·(step+1)/W (baseLr/W first, baseLr at W-1); then with
// t = step − W:
//   Constant: baseLr
//   Step:     baseLr·gamma^floor(t / stepSize)
//   Cosine:   minLr + (baseLr − minLr)·(1 + cos(π·t/T))/2 with T = totalSteps − W, and minLr
//             for t >= T.
// Throws ContractError for step < 0 or a zero stepSize / empty cosine span.
float learningRate(const LrScheduleConfig& cfg, std::int64_t step);

}  // namespace lp::core::optim
