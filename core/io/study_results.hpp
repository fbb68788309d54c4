// Reading a study folder (`layerpipe study --out DIR`, issue 14): DIR/results.csv, one row per
// finished run, read by header name (a study may add columns; the guaranteed ones below must be
// there), and DIR/study.json's preset, command line and planned runs. The studio's Study view and
// its headless charts read studies through this. Reentrant; no shared state.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::io {

// The columns every results.csv has, in the order the study writes them. Fractions (top-1,
// top-5, utilisation, bubble) are in [0, 1]; bytes are bytes; an empty cell means "not
// applicable"; policy is sequential | latest | stash | ema | momentum | gpipe; diverged is yes |
// no; folder is the run's folder relative to the study (runs/<run_id>), holding what `layerpipe
// run --out` writes.
inline constexpr std::array<std::string_view, 32> kStudyColumns = {
    "run_id",
    "label",
    "policy",
    "schedule",
    "stages",
    "delays",
    "delay_schedule",
    "optimizer",
    "lr",
    "seed",
    "width",
    "dataset",
    "epochs",
    "steps",
    "final_top1",
    "final_top5",
    "final_loss",
    "best_top1",
    "best_top5",
    "best_loss",
    "final_recal_top1",
    "history_bytes",
    "history_forecast_bytes",
    "recon_error_mean",
    "recon_error_max",
    "utilisation",
    "bubble",
    "mean_staleness",
    "wall_seconds",
    "images_per_second",
    "diverged",
    "folder",
};

// Index of a guaranteed column in kStudyColumns (ContractError for another name).
std::size_t studyColumn(std::string_view name);

// Whether the guaranteed column i holds numbers (text otherwise: ids, names, delays, yes/no).
bool studyColumnIsNumeric(std::size_t i);

struct StudyCell {
    std::string text;              // as written
    std::optional<double> number;  // numeric columns: the value; nullopt when empty (or text)
};

struct StudyRow {
    std::vector<StudyCell> cells;  // one per kStudyColumns entry, in that order
    std::size_t line = 0;          // line in results.csv

    const StudyCell& at(std::string_view column) const { return cells[studyColumn(column)]; }

    bool diverged() const { return at("diverged").text == "yes"; }
};

// Reads results.csv. InputError naming the file (and line and column) when it is missing, lacks a
// guaranteed column (all missing ones named), has a numeric cell that is not a number, or a
// diverged cell other than yes / no. Extra columns are ignored.
std::vector<StudyRow> readStudyResults(const std::filesystem::path& file);

// What study.json says about the study (issue 14's layout: {"preset", "command", "runs":[...]}).
struct StudyInfo {
    std::string preset;
    std::string command;              // the exact command line that made the study
    std::vector<std::string> runIds;  // "id" of each entry of "runs": the runs planned
};

// Reads study.json; InputError naming the file when it is missing, not JSON (with the line) or
// holds a key of the wrong type. Keys not listed above are ignored; absent ones stay empty.
StudyInfo readStudyInfo(const std::filesystem::path& file);

}  // namespace lp::core::io
