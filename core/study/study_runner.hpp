// Runs a study plan into a study folder, resumably (docs/study.md):
//   DIR/study.json    {"format", "preset", "command", "runs": [{"id", "label", "config"}...]}
//   DIR/results.csv   one row per finished run (results_table.hpp), rewritten atomically after
//                     every run
//   DIR/runs/<id>/    what `layerpipe run --out` writes
// One thread: the hooks run on the caller's thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/session/run_folder.hpp"
#include "core/study/results_table.hpp"
#include "core/study/study_plan.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lp::core::study {

struct StudyHooks {
    // Training hooks of every run; its stopRequested also ends the study after that run.
    session::TrainHooks train;
    // Before the runs: how many are already finished (skipped) and how many remain.
    std::function<void(std::size_t skipped, std::size_t remaining)> planned;
    // A run starts (index counts the runs this call trains, from 1) / has ended with its row.
    std::function<void(const StudyRun&, std::size_t index, std::size_t count)> runStarted;
    std::function<void(const session::Trainer&)> trainerBuilt;
    std::function<void(const StudyRun&, const ResultRow&)> runEnded;
    std::function<std::string()> stopSignal;  // the name for run.json once stopped
};

struct StudyOutcome {
    std::vector<ResultRow> rows;  // every finished run, in plan order
    std::size_t skipped = 0;      // finished before this call
    std::size_t ran = 0;          // finished by this call
    std::size_t diverged = 0;     // of those, with a non-finite loss
    bool interrupted = false;     // a stop request ended it; the run in progress was not recorded
    std::string firstCommand;     // study.json's command (the one that started the study)
};

// Prepares DIR (study.json written, or checked against the plan when it exists), then trains
// every run without a row in results.csv, in plan order. A run's folder is emptied before it
// starts (a half-done run is redone from scratch). A run whose loss becomes non-finite gets a
// row with diverged = yes and the study goes on; a stop request ends the study after the
// current step, leaving that run unrecorded. InputError when DIR cannot be made, holds other
// files but no study.json, or holds a study of another preset or other runs or options (the
// message names the differences; training.threads and data.path may differ).
StudyOutcome runStudy(const StudyPlan& plan,
                      const std::filesystem::path& dir,
                      const std::string& command,
                      const StudyHooks& hooks);

// study.json's document for a plan.
nlohmann::json studyDocument(const StudyPlan& plan, const std::string& command);

}  // namespace lp::core::study
