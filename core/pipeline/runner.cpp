// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/runner.hpp"

namespace lp::core::pipeline {

std::optional<ScheduleKind> parseScheduleKind(std::string_view name) {
    if (name == "layerpipe") {
        return ScheduleKind::LayerPipe;
    }
    if (name == "gpipe") {
        return ScheduleKind::GPipe;
    }
    return std::nullopt;
}

std::string_view toString(ScheduleKind kind) {
    return kind == ScheduleKind::LayerPipe ? "layerpipe" : "gpipe";
}

}  // namespace lp::core::pipeline
