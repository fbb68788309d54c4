// The messages of a run over MPI ranks (docs/mpi.md) found in its op records, for the Chrome
// trace's flow arrows and the studio's timeline. A message is not recorded itself: it is the
// tensor that crosses a rank boundary, sent when the sending op ends and consumed by the
// receiving op. Reentrant; no shared state.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <vector>

namespace lp::core::telemetry {

// One message: the op whose result was sent and the op that consumed it, as indices into the
// log's ops. Forward of data unit m: from the forward of m on the last stage b − 1 of a rank to
// the forward of m on stage b, the first stage of the next rank; backward: from the backward of
// m on stage b to the backward of m on stage b − 1.
struct Message {
    std::size_t from = 0;
    std::size_t to = 0;
};

// Every message of `ops` under `layout` (none unless layout.distributed()): for each rank
// boundary and direction, the k-th op of the sending kind and unit is paired with the k-th of
// the receiving one (GPipe's micro-batches share a minibatch index and run in order). Ops
// without a partner (a run stopped midway) give no message. Ordered by boundary, direction
// (forward first), then the sending op's place in the log.
std::vector<Message> findMessages(const std::vector<OpEvent>& ops, const PipelineLayout& layout);

// The Trace Event Format flow events of `messages`: per message a start {"ph":"s"} on the
// sending op's track (pid rank + 1, tid stage) just before that op ends, and a finish
// {"ph":"f","bp":"e"} on the receiving op's track just after it starts, with one shared id
// (1, 2, ...), name "F m" or "B m" and category "message".
std::vector<nlohmann::json> flowEvents(const std::vector<OpEvent>& ops,
                                       const PipelineLayout& layout,
                                       const std::vector<Message>& messages);

}  // namespace lp::core::telemetry
