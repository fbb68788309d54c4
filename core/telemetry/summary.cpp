// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/summary.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace lp::core::telemetry {

RunSummary summarise(const TelemetryLog& log, const PipelineLayout& layout,
                     std::int64_t stepsPerEpoch, std::int64_t batchSize) {
    RunSummary out;
    out.stashFormulaBytes = stashHistoryBytes(layout);
    out.emaFormulaBytes = emaHistoryBytes(layout);

    std::map<std::pair<std::int32_t, MemoryCategory>, std::int64_t> stagePeak;
    for (const MemorySample& m : log.memory()) {
        std::int64_t& p = stagePeak[{m.stage, m.category}];
        p = std::max(p, m.bytes);
    }
    for (const auto& [key, bytes] : stagePeak) {
        out.peakBytes[static_cast<std::size_t>(key.second)] += bytes;
    }

    if (stepsPerEpoch < 1) {
        return out;
    }
    const std::int64_t k = std::max<std::int32_t>(layout.stages(), 1);
    const std::int64_t fill = std::min<std::int64_t>(2 * k - 2, stepsPerEpoch / 2);
    // Per epoch: the time of its window's first and last loss.
    std::map<std::int64_t, std::pair<const TrainSample*, const TrainSample*>> windows;
    for (const TrainSample& t : log.train()) {
        if (t.step % stepsPerEpoch < fill) {
            continue;
        }
        auto& [first, last] = windows[t.step / stepsPerEpoch];
        if (first == nullptr || t.step < first->step) {
            first = &t;
        }
        if (last == nullptr || t.step > last->step) {
            last = &t;
        }
    }
    double seconds = 0.0;
    for (const auto& [epoch, w] : windows) {
        if (w.second->step > w.first->step) {
            out.steadySteps += w.second->step - w.first->step;
            seconds += (w.second->timeUs - w.first->timeUs) * 1e-6;
        }
    }
    if (seconds > 0.0) {
        out.steadyImagesPerSecond =
            static_cast<double>(out.steadySteps * batchSize) / seconds;
    }
    return out;
}

}  // namespace lp::core::telemetry
