// Figures a run is judged by, computed from its telemetry: the steady-state training rate (fill
// and drain excluded) and the peak bytes held per memory category (DESIGN.md section 5), next to
// the section-5 formulas for the weight history. The CLI prints them after `layerpipe run`.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <cstdint>

#include "core/telemetry/events.hpp"
#include "core/telemetry/exporters.hpp"

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

    std::int64_t peak(MemoryCategory c) const { return peakBytes[static_cast<std::size_t>(c)]; }
};

// stepsPerEpoch and batchSize as the run was configured; train samples may come from several
// epochs, in any order.
RunSummary summarise(const TelemetryLog& log, const PipelineLayout& layout,
                     std::int64_t stepsPerEpoch, std::int64_t batchSize);

}  // namespace lp::core::telemetry
