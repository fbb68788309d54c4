// SPDX-License-Identifier: GPL-3.0-or-later
// TelemetryLog and the names every export uses (declared in core/telemetry/exporters.hpp).
#include "core/choices.hpp"
#include "core/telemetry/exporters.hpp"

#include <array>
#include <iterator>
#include <map>
#include <string_view>
#include <utility>

namespace lp::core::telemetry {

void TelemetryLog::append(TelemetryBatch&& batch) {
    const auto take = [](auto& dst, auto& src) {
        dst.insert(
            dst.end(), std::make_move_iterator(src.begin()), std::make_move_iterator(src.end()));
        src.clear();
    };
    take(all_.ops, batch.ops);
    take(all_.staleness, batch.staleness);
    take(all_.memory, batch.memory);
    take(all_.train, batch.train);
    take(all_.eval, batch.eval);
    take(all_.reconstruction, batch.reconstruction);
    take(all_.delays, batch.delays);
}

void TelemetryLog::append(const TelemetryBatch& batch) {
    append(TelemetryBatch(batch));
}

void TelemetryLog::clear() {
    all_ = TelemetryBatch{};
}

std::vector<DelaySample> finalDelays(const std::vector<DelaySample>& records) {
    std::map<std::pair<std::int32_t, std::int32_t>, DelaySample> last;
    for (const DelaySample& d : records) {
        last[{d.epoch, d.stage}] = d;
    }
    std::vector<DelaySample> out;
    out.reserve(last.size());
    for (const auto& [key, d] : last) {
        out.push_back(d);
    }
    return out;
}

// In OpKind's order: the short name of ops.csv and the trace's category.
constexpr std::array<std::string_view, 4> kOpKindNames{"F", "B", "U", "eval"};
constexpr std::array<std::string_view, 4> kOpKindCategories{
    "forward", "backward", "update", "eval"};
static_assert(kOpKindNames.size() == static_cast<std::size_t>(OpKind::Eval) + 1);

// In MemoryCategory's order.
constexpr std::array<std::string_view, 5> kMemoryCategoryNames{
    "weights", "weight_history", "activations", "optimizer_state", "diagnostic_shadow"};
static_assert(kMemoryCategoryNames.size() ==
              static_cast<std::size_t>(MemoryCategory::DiagnosticShadow) + 1);

std::string_view opKindName(OpKind op) {
    return indexedName(kOpKindNames, op);
}

std::string_view opKindCategory(OpKind op) {
    return indexedName(kOpKindCategories, op);
}

std::string_view memoryCategoryName(MemoryCategory cat) {
    return indexedName(kMemoryCategoryNames, cat);
}

}  // namespace lp::core::telemetry
