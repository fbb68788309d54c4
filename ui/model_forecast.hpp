// The forecast as the studio shows it: core/session/forecast.hpp computes every number (the
// model's units, minibatches, ticks, utilisation, memory); this file only words them for the
// pipeline editor. GUI thread only (QString).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/session/forecast.hpp"

#include <QString>

#include <cstdint>

namespace lp::ui {

using core::session::forecastPipeline;
using core::session::PipelineForecast;
using core::session::resnetUnits;
using core::session::UnitInfo;

// "12.3 MiB", "640 KiB", "1.02 GiB".
QString formatBytes(std::int64_t bytes);

// The editor's forecast box (rich text): K, then either the ticks per epoch, minibatches,
// utilisation and every policy's weight history (and a delay schedule's first epochs), or, when
// `problem` is not empty, that the pipeline cannot run.
QString forecastHtml(const PipelineForecast& forecast, const QString& problem);

// The box's tooltip: which epoch the figures are for under a delay schedule; empty otherwise.
QString forecastToolTip(const PipelineForecast& forecast);

}  // namespace lp::ui
