// `layerpipe eval`: test loss and accuracy of a checkpoint (and with --recalibrate-bn the same
// with BN statistics recomputed under its weights).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "app/cli_config.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace lp::app {

struct EvalOptions {
    CommonFlags flags;
    std::string checkpoint;
};

// Registers the "eval" subcommand on app; returns it so main can test parsed().
CLI::App* addEvalCommand(CLI::App& app, EvalOptions& options);

// Evaluates, printing to stdout; returns the process exit code (0, or 3 for non-finite weights or
// a non-finite test loss). Throws InputError for bad options, config or checkpoint.
int runEval(const EvalOptions& options);

}  // namespace lp::app
