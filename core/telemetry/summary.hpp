// Figures a run is judged by, computed from its telemetry: the steady-state training rate (fill
// and drain excluded) and the peak bytes held per memory category (DESIGN.md section 5), next to
// the section-5 formulas for the weight history, the schedule's utilisation and the mean
// staleness. The CLI prints them after `layerpipe run`; `layerpipe study` tabulates them.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"
#include "core/telemetry/exporters.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lp::core::telemetry {

struct RunSummary {
    // Images per second between the pipeline being full and the last loss of each epoch, summed
    // over epochs: in epoch e, steps [e·n + fill, e·n + n − 1] with fill = min(2K − 2, n / 2)
    // (stage 0's first backward comes at tick 2K − 2). 0 when no epoch has two such steps.
    double steadyImagesPerSecond = 0.0;
    std::int64_t steadySteps = 0;  // steps inside the windows
    // Per category (indexed by MemoryCategory): Σ over stages of that stage's largest sample.
    std::array<std::int64_t, 5> peakBytes{};
    std::int64_t stashFormulaBytes = 0;  // Σ_s D_s·P_s·4
    std::int64_t emaFormulaBytes = 0;    // Σ_{s: D_s > 0} P_s·4

    // Fraction of the tick model's op slots (DESIGN.md section 4) that did a forward or a
    // backward: per epoch, the F and B ops recorded over slots · K · (last tick − first tick + 1),
    // summed over epochs; slots = 2 per stage and tick for the LayerPipe schedule (one F and one
    // B) and 1 for GPipe (one op per tick). So D = 2·S(s) gives M / (M + 2K − 2), GPipe
    // M / (M + K − 1), one stage 1. Deterministic (ticks, not wall time); nullopt when no F or B
    // op was recorded (pipeline.telemetry off).
    std::optional<double> utilisation;
    std::optional<double> bubble;  // the idle slots' share, 1 − utilisation (computed as such)
    // Mean of every staleness sample (one per stage and update): the versions by which applied
    // gradients were stale. nullopt without samples.
    std::optional<double> meanStaleness;

    std::int64_t peak(MemoryCategory c) const { return peakBytes[static_cast<std::size_t>(c)]; }
};

// The tick model's op slots per stage and tick (DESIGN.md section 4): 2 for the LayerPipe
// schedule (one F and one B), 1 for "gpipe" (one op per tick). Utilisation is the F and B ops
// over slots · K · ticks, here and in the forecast (core/session/forecast.hpp).
std::int64_t opSlotsPerTick(std::string_view schedule);

// stepsPerEpoch and batchSize as the run was configured; train samples may come from several
// epochs, in any order.
RunSummary summarise(const TelemetryLog& log,
                     const PipelineLayout& layout,
                     std::int64_t stepsPerEpoch,
                     std::int64_t batchSize);

}  // namespace lp::core::telemetry
