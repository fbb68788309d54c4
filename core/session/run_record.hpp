// The run record (run.json) of a run, built the same way for the CLI (`layerpipe run`,
// core/session/run_folder.cpp) and the GUI (ui/training_bridge.cpp): one set of summary keys
// (README: run.json), whoever trained. Plain C++ header (no TBB, no Eigen), so that ui/ may
// include it.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/session/session.hpp"
#include "core/telemetry/exporters.hpp"
#include "core/telemetry/summary.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lp::core::session {

// What the one who trained knows about the run, beyond its telemetry.
struct RunFacts {
    RunState state = RunState::Ready;  // NonFinite: the loss became NaN or infinite
    std::string message;               // why it stopped or failed, or ""
    std::int64_t epochsDone = 0;       // epochs completed
    std::int64_t epochsConfigured = 0;
    std::int64_t stepsPerEpoch = 0;
    std::string dataSource;  // data::DatasetPair::source
    std::int64_t parameters = 0;
    std::vector<EpochSummary> history;  // the completed epochs, in order
    std::optional<EpochSummary> last;   // the last epoch that ran (completed or not)
    double seconds = 0.0;               // training time (CLI: wall time, evaluation included)
    bool interrupted = false;           // a stop (signal, --stop-after, Stop) ended it early
    std::string stopSignal;             // "SIGINT", "SIGTERM" or ""
};

// A Session's run as the GUI saw it: its status (state, message, epochs, history), its data
// source and parameter count. The seconds are its epochs' seconds summed (pauses excluded);
// interrupted means the run was stopped.
RunFacts sessionRunFacts(const SessionStatus& status,
                         const std::string& dataSource,
                         std::int64_t parameters);

// The record's "summary" object: the run's facts, the steady-state rate and the memory peaks of
// `summary`, next to DESIGN.md section 5's formulas. Keys: README (run.json).
nlohmann::json runSummaryJson(const RunFacts& facts, const telemetry::RunSummary& summary);

// Summarises the log and writes run.json (telemetry::writeRunRecord: config, layout, memory
// forecast, runSummaryJson, every series) to `file`; returns the summary. InputError when the
// file cannot be written.
telemetry::RunSummary writeRunRecord(const io::ExperimentConfig& config,
                                     const telemetry::PipelineLayout& layout,
                                     const telemetry::TelemetryLog& log,
                                     const RunFacts& facts,
                                     const std::filesystem::path& file);

}  // namespace lp::core::session
