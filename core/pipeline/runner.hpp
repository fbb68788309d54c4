// The pipeline's schedule kind: LayerPipe's delayed ticks or GPipe's fill-and-flush
// (DESIGN.md section 4), named by core/choices.hpp's table. Plain values.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"

#include <optional>
#include <string_view>

namespace lp::core::pipeline {

using ScheduleKind = core::ScheduleKind;  // names: core/choices.hpp

inline std::optional<ScheduleKind> parseScheduleKind(std::string_view name) {
    return parseChoice<ScheduleKind>(name);
}

inline std::string_view toString(ScheduleKind kind) {
    return choiceName(kind);
}

// GPipe's micro-batches per minibatch (PipelineSpec::microBatches; also the config's range).
inline constexpr Interval kMicroBatchesRange{'[', 1, 1024, ']'};

}  // namespace lp::core::pipeline
