// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/layout_preview.hpp"

#include "core/session/forecast.hpp"

#include <utility>

namespace lp::ui {

core::telemetry::PipelineLayout previewLayout(const core::io::ExperimentConfig& config) {
    core::session::PipelineForecast forecast = core::session::forecastPipeline(config);
    if (!forecast.problem.empty()) {
        return {};
    }
    return std::move(forecast.layout);
}

}  // namespace lp::ui
