// Learning-rate schedules (constant, step decay, cosine) with an optional linear warm-up: a pure
// function of the config and the 0-based step, so safe to call from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lp::core::optim {

enum class LrScheduleKind { Constant, Step, Cosine };

inline constexpr std::array<LrScheduleKind, 3> kLrScheduleKinds{
    LrScheduleKind::Constant, LrScheduleKind::Step, LrScheduleKind::Cosine};

// "constant", "step", "cosine" (the names used by configs and the CLI).
std::string_view toString(LrScheduleKind kind);
// Inverse of toString (exact, lower case); nullopt for an unknown name.
std::optional<LrScheduleKind> parseLrScheduleKind(std::string_view name);

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
