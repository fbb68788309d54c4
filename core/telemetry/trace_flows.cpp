// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/trace_flows.hpp"

#include "core/error.hpp"
#include "core/telemetry/exporters.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

namespace lp::core::telemetry {

namespace {

using nlohmann::json;

// The ops of `kind` on `stage`, by data unit, in log order.
std::map<std::int64_t, std::vector<std::size_t>> opsOf(const std::vector<OpEvent>& ops,
                                                       std::int32_t stage,
                                                       OpKind kind) {
    std::map<std::int64_t, std::vector<std::size_t>> out;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        if (ops[i].stage == stage && ops[i].op == kind) {
            out[ops[i].minibatch].push_back(i);
        }
    }
    return out;
}

// Pairs the k-th sending op of each unit with the k-th receiving one.
void pairUp(const std::vector<OpEvent>& ops,
            std::int32_t fromStage,
            std::int32_t toStage,
            OpKind kind,
            std::vector<Message>& out) {
    const auto senders = opsOf(ops, fromStage, kind);
    const auto receivers = opsOf(ops, toStage, kind);
    std::vector<Message> found;
    for (const auto& [unit, from] : senders) {
        const auto it = receivers.find(unit);
        if (it == receivers.end()) {
            continue;
        }
        for (std::size_t k = 0; k < std::min(from.size(), it->second.size()); ++k) {
            found.push_back({from[k], it->second[k]});
        }
    }
    std::sort(found.begin(), found.end(), [](const Message& a, const Message& b) {
        return a.from < b.from;
    });
    out.insert(out.end(), found.begin(), found.end());
}

json flowEvent(const OpEvent& op, std::int32_t pid, std::size_t id, bool start) {
    // Inside the op's slice, so that the arrow binds to it: just before a sending op ends, just
    // after a receiving op starts.
    const double inset = std::min(1.0, std::max(0.0, op.endUs - op.startUs) / 2.0);
    json e = {{"ph", start ? "s" : "f"},
              {"id", id},
              {"name", concat(opKindName(op.op), " ", op.minibatch)},
              {"cat", "message"},
              {"ts", start ? op.endUs - inset : op.startUs + inset},
              {"pid", pid},
              {"tid", op.stage}};
    if (!start) {
        e["bp"] = "e";
    }
    return e;
}

}  // namespace

std::vector<Message> findMessages(const std::vector<OpEvent>& ops, const PipelineLayout& layout) {
    std::vector<Message> out;
    if (!layout.distributed()) {
        return out;
    }
    const auto stages = static_cast<std::int32_t>(layout.rankOfStage.size());
    for (std::int32_t b = 1; b < stages; ++b) {
        if (layout.rankOf(b - 1) == layout.rankOf(b)) {
            continue;
        }
        pairUp(ops, b - 1, b, OpKind::Forward, out);
        pairUp(ops, b, b - 1, OpKind::Backward, out);
    }
    return out;
}

std::vector<json> flowEvents(const std::vector<OpEvent>& ops,
                             const PipelineLayout& layout,
                             const std::vector<Message>& messages) {
    std::vector<json> out;
    out.reserve(2 * messages.size());
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const OpEvent& from = ops[messages[i].from];
        const OpEvent& to = ops[messages[i].to];
        if (!std::isfinite(from.endUs) || !std::isfinite(to.startUs)) {
            continue;  // the trace leaves such ops out too
        }
        out.push_back(flowEvent(from, layout.rankOf(from.stage) + 1, i + 1, true));
        out.push_back(flowEvent(to, layout.rankOf(to.stage) + 1, i + 1, false));
    }
    return out;
}

}  // namespace lp::core::telemetry
