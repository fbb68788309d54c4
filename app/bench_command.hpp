// `layerpipe bench`: training throughput of ResNet on synthetic data (no data loading), per-layer
// forward/backward times and GFLOP/s, and the peak resident memory, as text or JSON
// (scripts/compare_pytorch.py reads the JSON).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace lp::app {

struct BenchOptions {
    std::int64_t width = 64;
    std::int64_t batchSize = 32;
    std::string image = "3x32x32";  // CxHxW, square
    std::int64_t classes = 100;
    std::int64_t threads = 2;           // 0 = all cores
    std::int64_t steps = 5;             // timed training steps
    std::int64_t warmup = 1;            // untimed steps first (scratch buffers, page faults)
    std::optional<std::string> stages;  // cut points between units, e.g. "3,5,7"
    std::optional<std::string> policy;  // latest | stash | ema (with stages)
    bool noTelemetry = false;
    bool layers = true;          // also time every layer alone
    std::int64_t layerReps = 2;  // timed whole passes for the layer table (after one warm-up)
    bool json = false;
    std::uint64_t seed = 1;
};

// Registers the "bench" subcommand on app; returns it so main can test parsed().
CLI::App* addBenchCommand(CLI::App& app, BenchOptions& options);

// Runs the benchmark, printing to stdout; returns the process exit code. Throws InputError for
// an inconsistent option.
int runBench(const BenchOptions& options);

}  // namespace lp::app
