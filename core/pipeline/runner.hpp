// The pipeline's schedule kind: LayerPipe's delayed ticks or GPipe's fill-and-flush
// (DESIGN.md section 4). Plain values; issue 16 moves it to core/choices.hpp.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <optional>
#include <string_view>

namespace lp::core::pipeline {

enum class ScheduleKind { LayerPipe, GPipe };
std::optional<ScheduleKind> parseScheduleKind(std::string_view name);
std::string_view toString(ScheduleKind kind);

}  // namespace lp::core::pipeline
