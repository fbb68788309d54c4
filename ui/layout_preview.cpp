// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/layout_preview.hpp"

#include "ui/model_forecast.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lp::ui {

core::telemetry::PipelineLayout previewLayout(const core::io::ExperimentConfig& config) {
    const PipelineForecast forecast = forecastPipeline(config);
    if (!forecast.problem.empty() ||
        static_cast<std::int64_t>(forecast.delays.size()) != forecast.stages) {
        return {};
    }
    core::telemetry::PipelineLayout layout;
    layout.delays = forecast.delays;
    layout.stageParams.assign(forecast.delays.size(), 0);
    layout.policy = config.pipeline.policy;
    layout.schedule = config.pipeline.schedule;
    const std::vector<UnitInfo> units = resnetUnits(config);
    const std::vector<std::int64_t>& cuts = config.pipeline.cuts;
    std::int32_t stage = 0;
    for (std::size_t u = 0; u < units.size(); ++u) {
        while (static_cast<std::size_t>(stage) < cuts.size() &&
               static_cast<std::int64_t>(u) >= cuts[static_cast<std::size_t>(stage)]) {
            ++stage;
        }
        layout.unitNames.push_back(units[u].name);
        layout.stageOfUnit.push_back(stage);
        if (static_cast<std::size_t>(stage) < layout.stageParams.size()) {
            layout.stageParams[static_cast<std::size_t>(stage)] += units[u].params;
        }
    }
    return layout;
}

}  // namespace lp::ui
