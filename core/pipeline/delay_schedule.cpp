// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/delay_schedule.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cmath>

namespace lp::core::pipeline {

std::vector<std::int64_t> scaledDelays(const std::vector<std::int64_t>& base, double scale) {
    LP_EXPECTS(std::isfinite(scale) && scale >= 0.0 && scale <= kMaxDelayScale,
               concat("delay scale ", scale, " is outside [0, ", kMaxDelayScale, "]"));
    std::vector<std::int64_t> out;
    out.reserve(base.size());
    for (const std::int64_t b : base) {
        // The tolerance absorbs decimal scales that are a hair below their value in binary.
        out.push_back(static_cast<std::int64_t>(std::floor(scale * static_cast<double>(b) + 1e-9)));
    }
    return out;
}

double adaptiveScale(const DelayScheduleSpec& spec,
                     const std::vector<std::int64_t>& base,
                     const std::vector<std::optional<double>>& updateSize) {
    LP_EXPECTS(updateSize.size() == base.size(), "adaptiveScale: one update size per stage");
    double drift = 0.0;  // the largest base_s · u_s
    for (std::size_t s = 0; s < base.size(); ++s) {
        if (base[s] > 0 && updateSize[s] && std::isfinite(*updateSize[s])) {
            drift = std::max(drift, static_cast<double>(base[s]) * *updateSize[s]);
        }
    }
    if (!(drift > 0.0)) {
        return 1.0;
    }
    return std::clamp(spec.adaptiveDrift / drift, spec.adaptiveMinScale, 1.0);
}

DelaySchedule::DelaySchedule(DelayScheduleSpec spec, std::vector<std::int64_t> base)
    : spec_(std::move(spec)), base_(std::move(base)) {
    LP_EXPECTS(spec_.kind != DelayScheduleKind::Epochs || !spec_.scales.empty(),
               "an epochs delay schedule needs at least one scale");
}

double DelaySchedule::firstScale() const {
    return spec_.kind == DelayScheduleKind::Epochs ? spec_.scales.front() : 1.0;
}

std::optional<double> DelaySchedule::plannedScale(std::int64_t epoch) const {
    switch (spec_.kind) {
        case DelayScheduleKind::Static:
            return 1.0;
        case DelayScheduleKind::Epochs: {
            const auto last = static_cast<std::int64_t>(spec_.scales.size()) - 1;
            return spec_.scales[static_cast<std::size_t>(std::clamp<std::int64_t>(epoch, 0, last))];
        }
        case DelayScheduleKind::Adaptive:
            break;
    }
    return std::nullopt;
}

double DelaySchedule::nextScale(std::int64_t epoch,
                                const std::vector<std::optional<double>>& updateSize) const {
    if (spec_.kind == DelayScheduleKind::Adaptive) {
        return adaptiveScale(spec_, base_, updateSize);
    }
    return *plannedScale(epoch + 1);
}

std::vector<std::int64_t> DelaySchedule::delaysAt(double scale) const {
    return isStatic() ? base_ : scaledDelays(base_, scale);
}

std::vector<std::int64_t> DelaySchedule::envelope(std::int64_t epochs) const {
    if (spec_.kind != DelayScheduleKind::Epochs) {
        return base_;
    }
    // floor(c·b) grows with c, so each stage's largest delay comes from the largest scale used.
    const auto used = static_cast<std::size_t>(
        std::clamp<std::int64_t>(epochs, 1, static_cast<std::int64_t>(spec_.scales.size())));
    const double top = *std::max_element(spec_.scales.begin(),
                                         spec_.scales.begin() + static_cast<std::ptrdiff_t>(used));
    return scaledDelays(base_, top);
}

}  // namespace lp::core::pipeline
