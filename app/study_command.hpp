// `layerpipe study`: runs a preset's grid of experiments into a study folder (lp::core::study),
// resumably, then has layerpipe-studio draw the charts headless and writes report.md
// (docs/study.md). The CLI links lp_core only: the studio is a separate process.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/session/run_folder.hpp"
#include "core/study/study_plan.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace lp::app {

struct StudyCommandOptions {
    core::study::StudyOptions study;
    std::string out;
    bool noCharts = false;
    std::string studio;  // layerpipe-studio to run; empty: the one next to this program
};

// Registers the "study" subcommand on app; returns it so main can test parsed().
CLI::App* addStudyCommand(CLI::App& app, StudyCommandOptions& options);

// What main lends the study: its printing of training and how it learns of a stop signal.
struct StudyConsole {
    core::session::TrainHooks train;  // progress lines, epoch lines, stop
    std::function<void(const core::session::Trainer&)> describe;  // data, model, pipeline
    std::function<std::string()> stopSignal;                      // "SIGINT", "SIGTERM" or ""
};

// Runs the study, printing to stdout; returns true when a stop signal ended it early (the report
// is written either way). commandLine: the exact command, for study.json and the report.
// Throws InputError for bad options or a study folder of another study.
bool runStudyCommand(const StudyCommandOptions& options,
                     const std::string& commandLine,
                     const StudyConsole& console);

// The command line as a shell would take it back: arguments joined by spaces, quoted where
// they hold anything but letters, digits and -_./=:,+@%.
std::string shellCommandLine(int argc, const char* const* argv);

}  // namespace lp::app
