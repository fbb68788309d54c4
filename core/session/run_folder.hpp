// One run, start to finish: train a Trainer epoch by epoch (trainEpochs, shared by `layerpipe
// train`, `run` and `study`) and turn an experiment into a run folder (trainRunFolder: what
// `layerpipe run --out` writes). Reports through callbacks, prints nothing. One thread: the
// callbacks run on the caller's thread, between chunks of ticks.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/pipeline/transport.hpp"
#include "core/session/run_record.hpp"
#include "core/session/session.hpp"
#include "core/session/trainer.hpp"
#include "core/telemetry/exporters.hpp"
#include "core/telemetry/recorder.hpp"
#include "core/telemetry/summary.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lp::core::session {

// Where training stands, reported about once a second while an epoch runs.
struct TrainProgress {
    std::int64_t epoch = 0;      // the epoch being trained, 0-based
    std::int64_t epochs = 0;     // configured
    std::int64_t epochStep = 0;  // minibatches of this epoch done
    std::int64_t stepsPerEpoch = 0;
    float loss = 0.0F;             // of the last minibatch
    float accuracy = 0.0F;         // of the last minibatch, in [0, 1]
    double imagesPerSecond = 0.0;  // since this call of trainEpochs started
    double etaSeconds = 0.0;       // to the end of the run at that rate
};

struct TrainHooks {
    // Polled between chunks of ticks; true stops the epoch once the graph has settled (a
    // pipelined epoch stopped midway is not counted, Trainer::runEpoch).
    std::function<bool()> stopRequested;
    std::function<void(const TrainProgress&)> progress;
    // After every Trainer::runEpoch, completed, stopped or non-finite.
    std::function<void(const Trainer&, const EpochReport&)> epochEnded;
    std::int64_t stopAfter = 0;  // > 0: stop once the run has this many epochs complete
    // Each epoch in one go, without a tick budget (a run over several processes, which must all
    // reach the same ticks): no progress reports; stopRequested is asked after each completed
    // epoch instead (on every process, so it may be a collective vote).
    bool wholeEpochs = false;
};

struct TrainResult {
    EpochReport last;                   // the last runEpoch's report
    std::vector<EpochSummary> history;  // the epochs this call completed, in order
    double seconds = 0.0;               // wall time of this call, evaluation included
    bool nonFinite = false;             // the loss became NaN or infinite; training stopped there
    bool interrupted = false;           // stopRequested or stopAfter ended the run early
    bool stoppedAfter = false;          // ... and it was stopAfter
};

// Trains from the trainer's place to its last epoch (or a stop), in chunks of ticks that double
// until one takes ~0.5 s, appending every telemetry batch drained from `recorder` to `log`.
TrainResult trainEpochs(Trainer& trainer,
                        telemetry::Recorder& recorder,
                        telemetry::TelemetryLog& log,
                        const TrainHooks& hooks);

// An epoch's figures as the Session's status and the run record keep them.
EpochSummary epochSummary(const EpochReport& report);

// The run record's facts of a trainEpochs run (core/session/run_record.hpp). stopSignal:
// "SIGINT", "SIGTERM" or "".
RunFacts runFacts(const Trainer& trainer, const TrainResult& result, const std::string& stopSignal);

// Creates `folder` (and its parents) and checks that a file can be written in it. InputError
// "cannot create the output folder '<folder>': <reason>" or probeWritable's errors.
void prepareRunFolder(const std::filesystem::path& folder);

// A run whose stages are spread over processes (`layerpipe run --mpi`, core/distributed): every
// process calls trainRunFolder with the same config; the callbacks are collective.
struct DistributedRun {
    pipeline::Transport* transport = nullptr;  // this process's stages and links
    bool writer = true;                        // this process writes the run folder
    // Before the first step: waits for every process and returns the run's time origin (one
    // clock for every process's telemetry).
    std::function<std::chrono::steady_clock::time_point()> startTogether;
    // Every process's telemetry into the writer's log (the others' logs are left as they are).
    // `cutTick`: this process's Recorder::cutTick() (a diverged run's cut, seen only by the
    // process that runs the last stage; every process's records are cut at the earliest).
    std::function<void(telemetry::TelemetryLog&, std::int64_t cutTick)> gatherLog;
    // Where the stages run, for the run folder's ranks (PipelineLayout::hosts, rankOfStage).
    std::vector<std::string> hosts;         // of each process
    std::vector<std::int32_t> rankOfStage;  // the process of each stage
};

struct RunFolderHooks {
    TrainHooks train;
    DistributedRun distributed;                   // transport null: one process
    std::function<void(Trainer&)> prepare;        // built: e.g. load a checkpoint (--init)
    std::function<void(const Trainer&)> started;  // prepared, before the first step
    // Trained, before the files are written: e.g. save a checkpoint (--save).
    std::function<void(const Trainer&, const TrainResult&)> finished;
    std::function<std::string()> stopSignal;  // the name for run.json once stopped
};

// What trainRunFolder leaves besides the files.
struct RunOutcome {
    TrainResult train;
    telemetry::RunSummary summary;
    telemetry::PipelineLayout layout;
    telemetry::TelemetryLog log;
    std::string dataSource;   // data::DatasetPair::source
    std::string datasetName;  // "fashion-mnist", "cifar100", ...
    std::int64_t epochsDone = 0;
    std::int64_t stepsPerEpoch = 0;
    std::int64_t testSamples = 0;  // images in the test split used for evaluation
};

// `layerpipe run`: prepares `folder` (before anything trains; with hooks.distributed only the
// writer touches it), builds the experiment (pipelined),
// trains it and writes train.csv, eval.csv, ops.csv, staleness.csv, memory.csv,
// reconstruction.csv, delays.csv, trace.json, run.json and experiment.json, also after a stop or a
// non-finite loss. InputError for a bad config, data or folder.
RunOutcome trainRunFolder(const io::ExperimentConfig& config,
                          const std::filesystem::path& folder,
                          const RunFolderHooks& hooks);

}  // namespace lp::core::session
