// The flags train, run and eval share, and the experiment config they build: the config document
// (--config, or a base), every given flag on top as the config key it names, then --set.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lp::app {

// Flags shared by train, run and eval; each one that was given overrides the config document.
struct CommonFlags {
    std::string config;
    std::vector<std::string> sets;  // key=value
    std::optional<std::string> dataset;
    std::optional<std::string> dataPath;
    std::optional<std::int64_t> width;
    std::optional<std::int64_t> epochs;
    std::optional<std::int64_t> batchSize;
    std::optional<double> lr;
    std::optional<std::string> seed;  // text: checked by the config's own rule, as --set
    std::optional<std::int64_t> threads;
    std::optional<std::int64_t> maxSteps;
    std::optional<std::int64_t> trainLimit;
    std::optional<std::int64_t> testLimit;
    std::optional<std::string> optimizer;
    std::optional<std::string> schedule;
    std::optional<std::string> recalibrateBn;  // text: checked by the config's own rule
};

// Registers a subcommand that takes the shared flags (train, run, eval); returns it.
CLI::App* addCommandWithCommonFlags(CLI::App& app,
                                    const std::string& name,
                                    const std::string& description,
                                    CommonFlags& flags);

// The validated config. base: the document used when no --config is given. InputError for a bad
// flag, key or value.
core::io::ExperimentConfig buildConfig(const CommonFlags& f,
                                       const core::io::ExperimentConfig& base = {});

// --resume: the run is the checkpoint's, its stored config with the flags on top; nothing that
// changes the trained bits may differ from it (session::runDefiningDifferences). Prints a note
// when the number of epochs changed.
// pipelineFlags (layerpipe run): applied after the shared flags; the pipeline.* keys then have
// to match the checkpoint's too.
core::io::ExperimentConfig resumeConfig(
    const CommonFlags& flags,
    const std::string& checkpoint,
    const std::function<void(core::io::ExperimentConfig&)>& pipelineFlags = {});

}  // namespace lp::app
