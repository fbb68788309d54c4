// The pipeline layout an experiment will have, before it runs: so that the charts show the
// selected lesson's stages (rows, unit names, delays, forecasts) as soon as it is selected, not
// the previous run's (issue 13, clean state). Pure function of the config; reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/telemetry/events.hpp"

namespace lp::ui {

// The layout the Session would report for config (core::session::forecastPipeline's: unit
// names, stages from the cuts, the effective delays — a delay schedule's envelope —, stage
// parameters, policy and schedule). Empty (no stages) when the experiment cannot run.
core::telemetry::PipelineLayout previewLayout(const core::io::ExperimentConfig& config);

}  // namespace lp::ui
