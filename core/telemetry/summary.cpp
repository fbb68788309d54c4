// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/summary.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace lp::core::telemetry {
namespace {

// Sets utilisation and bubble from the F and B ops over the tick model's slots.
void addUtilisation(RunSummary& out,
                    const TelemetryLog& log,
                    const PipelineLayout& layout,
                    std::int64_t stepsPerEpoch) {
    struct Span {
        std::int64_t first = 0;
        std::int64_t last = -1;
        std::int64_t ops = 0;
    };

    std::map<std::int64_t, Span> epochs;
    for (const OpEvent& e : log.ops()) {
        if ((e.op != OpKind::Forward && e.op != OpKind::Backward) || e.tick < 0) {
            continue;
        }
        Span& s = epochs[e.minibatch / stepsPerEpoch];
        if (s.ops == 0) {
            s.first = e.tick;
            s.last = e.tick;
        }
        s.first = std::min(s.first, e.tick);
        s.last = std::max(s.last, e.tick);
        ++s.ops;
    }
    const std::int64_t perTick = opSlotsPerTick(layout.schedule);
    const std::int64_t k = std::max<std::int32_t>(layout.stages(), 1);
    std::int64_t ops = 0;
    std::int64_t slots = 0;
    for (const auto& [epoch, s] : epochs) {
        ops += s.ops;
        slots += perTick * k * (s.last - s.first + 1);
    }
    if (slots == 0) {
        return;
    }
    out.utilisation = static_cast<double>(ops) / static_cast<double>(slots);
    out.bubble = static_cast<double>(slots - ops) / static_cast<double>(slots);
}

std::optional<double> meanStalenessOf(const TelemetryLog& log) {
    if (log.staleness().empty()) {
        return std::nullopt;
    }
    double sum = 0.0;
    for (const StalenessSample& s : log.staleness()) {
        sum += static_cast<double>(s.staleness);
    }
    return sum / static_cast<double>(log.staleness().size());
}

}  // namespace

std::int64_t opSlotsPerTick(std::string_view schedule) {
    return schedule == "gpipe" ? 1 : 2;
}

RunSummary summarise(const TelemetryLog& log,
                     const PipelineLayout& layout,
                     std::int64_t stepsPerEpoch,
                     std::int64_t batchSize) {
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

    out.meanStaleness = meanStalenessOf(log);
    if (stepsPerEpoch < 1) {
        return out;
    }
    addUtilisation(out, log, layout, stepsPerEpoch);
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
        out.steadyImagesPerSecond = static_cast<double>(out.steadySteps * batchSize) / seconds;
    }
    return out;
}

}  // namespace lp::core::telemetry
