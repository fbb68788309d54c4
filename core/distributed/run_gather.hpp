// What rank 0 gathers from every rank of a `layerpipe run --mpi` for the run folder
// (docs/mpi.md): the telemetry each rank recorded for its stages, and the traffic on its links.
// Collective: every rank calls each function, on its main thread, after training.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/distributed/mpi_transport.hpp"
#include "core/distributed/mpi_world.hpp"
#include "core/telemetry/exporters.hpp"

#include <cstdint>
#include <filesystem>

namespace lp::core::distributed {

// Replaces rank 0's log with every rank's records: the ops, staleness, memory and
// reconstruction samples of each rank's own stages (in rank order, so stage order), the train
// samples of the rank that runs the last stage (each op marked with the rank that ran it), and rank
// 0's evaluation and delay records (every rank holds the same). The other ranks' logs are left as
// they are. The ranks' binaries must be the same build (the records travel as bytes; checked by
// MpiWorld::checkSame at start).
// `cutTick`: this rank's Recorder::cutTick(). A diverged epoch runs whole on every rank, and only
// the rank of the last stage sees the loss and cuts its records; every rank's records are cut at
// the earliest cut of any rank before they travel, so the run folder holds the one-process
// record of the same run (docs/pipeline.md "Non-finite values").
void gatherTelemetry(MpiWorld& world, telemetry::TelemetryLog& log, std::int64_t cutTick);

// Rank 0 writes `file` (mpi.json, atomically): the ranks, their hosts and stages, and each
// link's messages, bytes and send time in total and per training step (`steps` steps ran).
void writeMpiRecord(MpiWorld& world,
                    const MpiTransport& transport,
                    std::int64_t steps,
                    const std::filesystem::path& file);

}  // namespace lp::core::distributed
