// Reading a finished run back: the folder `layerpipe run --out DIR` writes (writeCsvs' six series
// CSVs and the run record run.json; trace.json and experiment.json are not needed) turned back
// into the PipelineLayout, ExperimentConfig and TelemetryLog that the studio's live views
// consume, so a finished run (or one run of a study) can be looked at again. Columns are found by
// header name (core/io/csv_reader.hpp); every problem is an InputError naming the file and line.
// Reentrant; no shared state.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/telemetry/events.hpp"
#include "core/telemetry/exporters.hpp"

#include <filesystem>
#include <vector>

namespace lp::core::telemetry {

// One series file each, as writeCsvs writes it (exporters.hpp has the columns); records in file
// order. Extra columns are ignored; a missing column, a bad number or an unknown op or memory
// category name is an InputError naming the file, the line and the column. eval.csv's recal_*
// columns are optional (a row with recal_batches 0 has none).
std::vector<OpEvent> readOpsCsv(const std::filesystem::path& file);
std::vector<StalenessSample> readStalenessCsv(const std::filesystem::path& file);
std::vector<MemorySample> readMemoryCsv(const std::filesystem::path& file);
std::vector<TrainSample> readTrainCsv(const std::filesystem::path& file);
std::vector<EvalSample> readEvalCsv(const std::filesystem::path& file);
std::vector<ReconstructionSample> readReconstructionCsv(const std::filesystem::path& file);
// delays.csv (delay schedules): one record per stage and epoch; an empty update_size is NaN.
std::vector<DelaySample> readDelaysCsv(const std::filesystem::path& file);

// The inverse of writeCsvs: all six files of dir, and delays.csv when it is there (folders
// written before delay schedules have none). readCsvs(d) after writeCsvs(log, d) holds the same
// records, bit for bit (floats are written as their shortest round-trip text; the delays as
// finalDelays() keeps them).
TelemetryLog readCsvs(const std::filesystem::path& dir);

// What a run record (writeRunRecord) says about the run, without its series.
struct RunRecord {
    io::ExperimentConfig config;  // "config", checked as the CLI checks an experiment file
    PipelineLayout layout;        // "layout"
};

// Reads run.json's config and layout (its "series" are skipped: the CSVs hold the same; a layout
// without "delaySchedule", written before delay schedules, is "static"). InputError
// naming the file on a missing file, invalid JSON (with the line), a missing or mistyped key, or a
// config the experiment parser rejects.
RunRecord readRunRecord(const std::filesystem::path& file);

struct RunFolder {
    std::filesystem::path dir;
    io::ExperimentConfig config;
    PipelineLayout layout;
    TelemetryLog log;
};

// A whole run folder: run.json and the six CSVs (beside it, or in csv/ as the studio's report
// export puts them). InputError naming the first file that is
// missing or corrupt, and saying what a run folder holds when dir is not one.
RunFolder readRunFolder(const std::filesystem::path& dir);

}  // namespace lp::core::telemetry
