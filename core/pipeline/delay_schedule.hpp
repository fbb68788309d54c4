// Delay schedules (issue 14; docs/pipeline.md "Delay schedules"): the per-stage delays of each
// epoch — static, from a per-epoch scale list, or chosen by an adaptive rule from the relative
// update size the stages measure. Plain values; every function is pure and reentrant.
//
// Epoch e's delays are D_s(e) = floor(c_e · base_s) with base = pipeline.delays (or 2·S(s)):
// for c_e ≥ 0 a non-increasing base stays non-increasing, so every epoch's vector is legal.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace lp::core::pipeline {

// Static: every epoch uses base (today's behaviour, bit for bit). Epochs: epoch e uses scale c_e
// from a list; epochs past its end keep the last. Adaptive: epoch 0 uses scale 1; each next scale
// comes from the update-size rule below. Names: core/choices.hpp.
using DelayScheduleKind = core::DelayScheduleKind;

inline std::optional<DelayScheduleKind> parseDelayScheduleKind(std::string_view name) {
    return parseChoice<DelayScheduleKind>(name);
}

inline std::string_view toString(DelayScheduleKind kind) {
    return choiceName(kind);
}

constexpr double kMaxDelayScale = 4.0;  // scales lie in [0, kMaxDelayScale]
inline constexpr Interval kDelayScaleRange{'[', 0, kMaxDelayScale, ']'};

struct DelayScheduleSpec {
    DelayScheduleKind kind = DelayScheduleKind::Static;
    std::vector<double> scales{};    // Epochs: c_0, c_1, ... (non-empty, each in [0, 4])
    double adaptiveDrift = 0.02;     // Adaptive: target drift τ over a stage's delay window
    double adaptiveMinScale = 0.25;  // Adaptive: the smallest scale the rule may choose
};

// floor(scale · base_s) per stage (a 1e-9 tolerance keeps 0.7 · 10 at 7, not 6).
std::vector<std::int64_t> scaledDelays(const std::vector<std::int64_t>& base, double scale);

// The adaptive rule. u_s = the mean relative update size ‖ΔW_s‖/‖W_s‖ stage s measured over an
// epoch (nullopt: not measured). At scale c the weights a stage's backward differs from its
// forward's by about c·base_s·u_s (relative, m ≤ D_s updates of size u_s): the drift. The next
// scale keeps the largest drift at τ:
//     c' = clamp(τ / max_s(base_s · u_s), adaptiveMinScale, 1)
// (1 when no delayed stage moved). Scale 1 is the base delay, which already fills the pipeline;
// a larger one would only add staleness.
double adaptiveScale(const DelayScheduleSpec& spec,
                     const std::vector<std::int64_t>& base,
                     const std::vector<std::optional<double>>& updateSize);

class DelaySchedule {
public:
    DelaySchedule() = default;
    DelaySchedule(DelayScheduleSpec spec, std::vector<std::int64_t> base);

    const DelayScheduleSpec& spec() const { return spec_; }

    const std::vector<std::int64_t>& base() const { return base_; }

    bool isStatic() const { return spec_.kind == DelayScheduleKind::Static; }

    // Whether the stages must measure their update size (every non-static schedule, so that
    // delays.csv shows the signal next to the delays it led to).
    bool measures() const { return !isStatic(); }

    // The scale of epoch 0.
    double firstScale() const;
    // The scale of epoch `epoch` + 1, given what epoch `epoch` measured (the adaptive rule is
    // memoryless: its whole state is the scale it last chose).
    double nextScale(std::int64_t epoch,
                     const std::vector<std::optional<double>>& updateSize) const;
    // The delays at `scale` (static: base itself).
    std::vector<std::int64_t> delaysAt(double scale) const;
    // The planned scale of epoch e for the schedules that do not depend on measurements (static
    // and epochs); nullopt for adaptive.
    std::optional<double> plannedScale(std::int64_t epoch) const;
    // Each stage's largest delay over epochs [0, epochs): what sizes the weight history, so the
    // memory forecasts use it. Adaptive: base (epoch 0 runs at scale 1).
    std::vector<std::int64_t> envelope(std::int64_t epochs) const;

private:
    DelayScheduleSpec spec_;
    std::vector<std::int64_t> base_;
};

}  // namespace lp::core::pipeline
