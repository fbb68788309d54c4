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
#include "core/telemetry/mpi_links.hpp"

#include <filesystem>
#include <vector>

namespace lp::core::telemetry {

// One series file each, as writeCsvs writes it (exporters.hpp has the columns); records in file
// order. Extra columns are ignored; a missing column, a bad number or an unknown op or memory
// category name is an InputError naming the file, the line and the column. eval.csv's recal_*
// columns are optional (a row with recal_batches 0 has none); so is ops.csv's rank (0 without
// it). ops.csv's host column is not read: run.json's "ranks" name each rank's host.
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
// without "delaySchedule", written before delay schedules, is "static"). "ranks", when there
// (in rank order), gives layout.hosts and, when it lists more than one rank,
// layout.rankOfStage; a stage it names out of range or leaves out is an InputError. InputError
// naming the file on a missing file, invalid JSON (with the line), a missing or mistyped key, or a
// config the experiment parser rejects.
RunRecord readRunRecord(const std::filesystem::path& file);

// mpi.json's "links" (core/distributed/run_gather.hpp writes it). InputError naming the file on
// invalid JSON, a missing or mistyped key, or a direction other than forward or backward.
std::vector<LinkRecord> readMpiLinks(const std::filesystem::path& file);

struct RunFolder {
    std::filesystem::path dir;
    io::ExperimentConfig config;
    PipelineLayout layout;
    TelemetryLog log;
    std::vector<LinkRecord> links;  // an MPI run's mpi.json; empty without one
};

// A whole run folder: run.json and the six CSVs (beside it, or in csv/ as the studio's report
// export puts them), and mpi.json when an MPI run left one. InputError naming the first file
// that is missing or corrupt, and saying what a run folder holds when dir is not one.
RunFolder readRunFolder(const std::filesystem::path& dir);

}  // namespace lp::core::telemetry
