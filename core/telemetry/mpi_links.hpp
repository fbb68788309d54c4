// The traffic on the links between the MPI ranks of a run (docs/mpi.md), as rank 0 writes it to
// mpi.json and the studio reads it back (run_reader.hpp). Header-only, no Eigen and no TBB.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>

namespace lp::core::telemetry {

// One direction of the link between ranks `from` and `to` (neighbours): the messages sent, their
// bytes (payload and header) and the time from each send to its completion being seen, in total
// and per training step.
struct LinkRecord {
    std::int32_t from = 0;
    std::int32_t to = 0;
    bool forward = true;  // activations (to = from + 1); false: gradients (to = from − 1)
    std::int64_t messages = 0;
    std::int64_t bytes = 0;
    double sendSeconds = 0.0;
    double bytesPerStep = 0.0;
    double sendSecondsPerStep = 0.0;
};

}  // namespace lp::core::telemetry
