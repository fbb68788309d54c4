// `layerpipe train`: sequential training (one stage, no delay), with checkpoints: --save, --init
// (a new run from a checkpoint's weights), --resume (the checkpoint's run, continued exactly) and
// --stop-after.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "app/cli_config.hpp"
#include "core/session/trainer.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace lp::app {

struct TrainOptions {
    CommonFlags flags;
    std::string saveFile;
    std::string initFile;
    std::string resumeFile;
    std::int64_t stopAfter = 0;
};

// Registers the "train" subcommand on app; returns it so main can test parsed().
CLI::App* addTrainCommand(CLI::App& app, TrainOptions& options);

// InputError when both --init and --resume are given.
void checkCheckpointFlags(const std::string& resumeFile, const std::string& initFile);

// --resume (resumeFile) or --init (initFile), or neither: the checkpoint's weights, and for
// --resume its place, into the trainer, with a line saying so. Shared with `run`.
void loadCheckpoint(const std::string& resumeFile,
                    const std::string& initFile,
                    core::session::Trainer& trainer);

// Trains, printing to stdout; returns the process exit code (0, 3 for a non-finite loss, 128 +
// signal after a stop). Throws InputError for bad options, config or checkpoint.
int runTrain(const TrainOptions& options);

}  // namespace lp::app
