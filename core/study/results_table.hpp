// results.csv of a study (docs/study.md): one row per finished run, its cells as text, read and
// written with the header row first. Plain values; functions are reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/session/run_folder.hpp"
#include "core/study/study_plan.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::study {

// The guaranteed columns (io::kStudyColumns, which readers rely on; they look columns up by
// header name):
//   run_id,label,policy,schedule,stages,delays,delay_schedule,optimizer,lr,seed,width,dataset,
//   epochs,steps,final_top1,final_top5,final_loss,best_top1,best_top5,best_loss,
//   final_recal_top1,history_bytes,history_forecast_bytes,recon_error_mean,recon_error_max,
//   utilisation,bubble,mean_staleness,wall_seconds,images_per_second,diverged,folder
// then the extra ones: delay_scales, final_recal_top5, final_recal_loss, test_samples,
// recon_error_by_stage, variant, epoch_scales (the delay scale each epoch ran with).
// Cell rules: empty = not applicable; fractions (top-1, utilisation) in 0..1; lists (delays,
// delay_scales, recon_error_by_stage, epoch_scales) separated by spaces; reals as the shortest text
// that reads back to the same bits; no cell holds a comma, a quote or a line break.
const std::vector<std::string_view>& resultColumns();

// One row: column name → cell.
using ResultRow = std::map<std::string, std::string, std::less<>>;

// The row of a run that ended (completed or diverged). folder: relative to the study folder.
//   policy: sequential (one stage), gpipe (the GPipe schedule), or the configured weight
//     policy; history_forecast_bytes: DESIGN.md section 5 for the layout's policy and delays
//     (telemetry::historyForecastBytes: stash Σ D_s·P_s·4, ema Σ_{D_s>0} P_s·4, momentum and
//     latest 0; no delay, no history);
//   final_* and best_*: over the epochs' test evaluations (best loss = lowest); empty when the
//     run diverged before its first evaluation; best_* take finite values only;
//   recon_error_*: over the diagnostic's samples (every stage and backward), empty without;
//   wall_seconds: training and evaluation; images_per_second: the steady-state rate.
ResultRow resultRow(const StudyRun& run,
                    const session::RunOutcome& outcome,
                    const std::string& folder);

// results.csv text: header, then the rows in the given order.
std::string resultsCsv(const std::vector<ResultRow>& rows);

// Reads results.csv (io::CsvReader), every column as text; nullopt when the file does not exist.
// InputError naming the file when it cannot be read, has no run_id column or a row of another
// width.
std::optional<std::vector<ResultRow>> readResultsCsv(const std::filesystem::path& file);

// Cell helpers for readers: the number in a cell, nullopt when empty or not a number.
std::optional<double> cellNumber(const ResultRow& row, std::string_view column);
std::string cell(const ResultRow& row, std::string_view column);  // "" when absent

}  // namespace lp::core::study
