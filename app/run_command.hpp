// `layerpipe run`: pipelined training with telemetry, into a run folder (CSVs, run.json,
// trace.json, experiment.json), then the steady-state rate and the memory peaks.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "app/cli_config.hpp"
#include "core/session/run_folder.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace lp::app {

struct RunOptions {
    CommonFlags flags;
    std::string outDir = "layerpipe-out";
    bool noTelemetry = false;
    bool dryRun = false;  // print the forecast, train nothing
    // With dryRun: also forecast the stages on this many machines (unit times measured here)
    // joined by links of this bandwidth (Gbit/s each way) and latency (µs per message).
    std::optional<std::int64_t> machines;
    std::optional<double> linkGbit;
    std::optional<double> linkLatencyUs;
    // Stages as MPI ranks (started by mpirun; docs/mpi.md), and how long a rank waits for a
    // tensor from a neighbour before it ends the run.
    bool mpi = false;
    double mpiTimeout = 300.0;
    // Checkpoints as `train` has them (under --mpi rank 0 saves the whole model).
    std::string saveFile;
    std::string initFile;
    std::string resumeFile;
    // Each given flag overrides its pipeline.* key: the layout and the schedule,
    std::optional<std::string> stages;
    std::optional<std::string> delays;
    std::optional<std::string> pipeSchedule;
    std::optional<std::int64_t> micro;
    // the weights a backward uses,
    std::optional<std::string> policy;
    bool diagnostic = false;
    std::optional<std::string> emaBeta;
    // and the delays per epoch.
    std::optional<std::string> delaySchedule;
    std::optional<std::string> delayScales;
};

// Registers the "run" subcommand on app; returns it so main can test parsed().
CLI::App* addRunCommand(CLI::App& app, RunOptions& options);

// The validated config: the shared flags, then the pipeline flags as their config keys; with
// --resume on top of the checkpoint's config, which nothing run-defining may contradict.
core::io::ExperimentConfig runConfig(const RunOptions& options);

// The checkpoint hooks of a run (--init/--resume when built, --save when trained); `saves`:
// this process writes the checkpoint (rank 0 under --mpi).
void addCheckpointHooks(const RunOptions& options,
                        bool saves,
                        core::session::RunFolderHooks& hooks);

// After a run: where its files are and the steady-state rate and memory peaks.
void printRunOutcome(const core::session::RunOutcome& outcome, const std::string& outDir);

// Trains into the run folder, printing to stdout; returns the process exit code (0, 3 for a
// non-finite loss, 128 + signal after a stop). With dryRun: prints the forecast
// (core::session::forecastText; with machines, then core::session::clusterText from unit times
// measured here) and returns 0, loading and writing nothing. Throws InputError for bad options
// (--machines or a --link-* flag without --dry-run, a --link-* flag without --machines, machines
// outside [1, stages], a bandwidth <= 0, a negative latency), config, data or folder.
int runRun(const RunOptions& options);

}  // namespace lp::app
