// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/run_folder.hpp"

#include "core/error.hpp"
#include "core/io/atomic_file.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <system_error>
#include <utility>

namespace lp::core::session {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// What the progress reports carry from one epoch to the next.
struct LastSeen {
    std::int64_t stepsDone = 0;
    float loss = NAN;
    float accuracy = NAN;
};

// The budget function of one epoch: drains telemetry, reports progress, grows the chunk.
class EpochBudget {
public:
    EpochBudget(const Trainer& trainer,
                telemetry::Recorder& recorder,
                telemetry::TelemetryLog& log,
                const TrainHooks& hooks,
                Clock::time_point runStart,
                std::int64_t stepsAtStart,
                LastSeen& seen)
        : trainer_(trainer)
        , recorder_(recorder)
        , log_(log)
        , hooks_(hooks)
        , runStart_(runStart)
        , stepsAtStart_(stepsAtStart)
        , seen_(seen) {}

    std::int64_t operator()(std::int64_t doneTick) {
        if (hooks_.stopRequested && hooks_.stopRequested()) {
            return -1;  // the graph has settled: stop here, nothing half done
        }
        const auto now = Clock::now();
        if (doneTick >= 0 && std::chrono::duration<double>(now - chunkStart_).count() < 0.5) {
            chunk_ *= 2;
        }
        chunkStart_ = now;
        telemetry::TelemetryBatch b = recorder_.drain();
        for (const auto& t : b.train) {
            seen_.loss = t.loss;
            seen_.accuracy = t.accuracy;
            seen_.stepsDone = t.step + 1;
        }
        log_.append(std::move(b));
        if (seen_.stepsDone > stepsAtStart_ &&
            std::chrono::duration<double>(now - lastReport_).count() > 1.0) {
            lastReport_ = now;
            report(now);
        }
        return doneTick < 0 ? chunk_ - 1 : doneTick + chunk_;
    }

private:
    void report(Clock::time_point now) const {
        if (!hooks_.progress) {
            return;
        }
        const auto& exp = trainer_.experiment();
        const std::int64_t steps = exp.stepsPerEpoch;
        const std::int64_t total = exp.config.training.epochs * steps;
        const double elapsed = std::chrono::duration<double>(now - runStart_).count();
        const std::int64_t doneHere = seen_.stepsDone - stepsAtStart_;
        const double perStep = doneHere > 0 ? elapsed / static_cast<double>(doneHere) : 0.0;
        hooks_.progress(TrainProgress{
            .epoch = trainer_.epoch(),
            .epochs = exp.config.training.epochs,
            .epochStep = std::max<std::int64_t>(seen_.stepsDone - trainer_.epoch() * steps, 0),
            .stepsPerEpoch = steps,
            .loss = seen_.loss,
            .accuracy = seen_.accuracy,
            .imagesPerSecond =
                elapsed > 0
                    ? static_cast<double>(doneHere * exp.config.training.batchSize) / elapsed
                    : 0.0,
            .etaSeconds = perStep * static_cast<double>(total - seen_.stepsDone)});
    }

    const Trainer& trainer_;
    telemetry::Recorder& recorder_;
    telemetry::TelemetryLog& log_;
    const TrainHooks& hooks_;
    Clock::time_point runStart_;
    std::int64_t stepsAtStart_;
    LastSeen& seen_;
    std::int64_t chunk_ = 1;
    Clock::time_point chunkStart_ = Clock::now();
    Clock::time_point lastReport_ = chunkStart_;
};

}  // namespace

TrainResult trainEpochs(Trainer& trainer,
                        telemetry::Recorder& recorder,
                        telemetry::TelemetryLog& log,
                        const TrainHooks& hooks) {
    TrainResult result;
    const auto runStart = Clock::now();
    LastSeen seen{.stepsDone = trainer.step()};
    const std::int64_t stepsAtStart = seen.stepsDone;
    while (!trainer.finished()) {
        EpochBudget budget(trainer, recorder, log, hooks, runStart, stepsAtStart, seen);
        const EpochReport r = trainer.runEpoch(std::ref(budget));
        log.append(recorder.drain());
        result.last = r;
        if (hooks.epochEnded) {
            hooks.epochEnded(trainer, r);
        }
        if (r.nonFinite) {
            result.nonFinite = true;
            break;
        }
        if (!r.completed) {
            result.interrupted = true;
            break;
        }
        if (hooks.stopAfter > 0 && trainer.epoch() >= hooks.stopAfter && !trainer.finished()) {
            result.interrupted = true;
            result.stoppedAfter = true;
            break;
        }
    }
    result.seconds = secondsSince(runStart);
    return result;
}

nlohmann::json runSummaryJson(const TrainResult& r,
                              std::int64_t epochsDone,
                              const telemetry::RunSummary& s,
                              const std::string& stopSignal) {
    using telemetry::MemoryCategory;
    nlohmann::json out = {{"epochs", epochsDone},
                          {"steady_images_per_second", s.steadyImagesPerSecond},
                          {"steady_steps", s.steadySteps},
                          {"peak_bytes",
                           {{"weights", s.peak(MemoryCategory::Weights)},
                            {"weight_history", s.peak(MemoryCategory::WeightHistory)},
                            {"activations", s.peak(MemoryCategory::Activations)},
                            {"optimizer_state", s.peak(MemoryCategory::OptimizerState)},
                            {"diagnostic_shadow", s.peak(MemoryCategory::DiagnosticShadow)}}},
                          {"weight_history_formula_bytes",
                           {{"stash", s.stashFormulaBytes}, {"ema", s.emaFormulaBytes}}},
                          {"seconds", r.seconds},
                          {"train_loss", r.last.trainLoss},
                          {"train_accuracy", r.last.trainAccuracy},
                          {"test_loss", r.last.test.loss},
                          {"test_top1", r.last.test.top1},
                          {"test_top5", r.last.test.top5},
                          {"images_per_second_last_epoch", r.last.imagesPerSecond},
                          {"non_finite", r.nonFinite},
                          {"interrupted", r.interrupted},
                          {"stop_signal", stopSignal}};
    if (r.last.recalibrated) {
        const RecalibratedEval& rc = *r.last.recalibrated;
        out["test_recalibrated"] = {{"batches", rc.batches},
                                    {"loss", rc.test.loss},
                                    {"top1", rc.test.top1},
                                    {"top5", rc.test.top5}};
    }
    return out;
}

void prepareRunFolder(const std::filesystem::path& folder) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) {
        throw InputError("cannot create the output folder '" + folder.string() +
                         "': " + ec.message());
    }
    io::probeWritable(folder / "run.json");
}

RunOutcome trainRunFolder(const io::ExperimentConfig& config,
                          const std::filesystem::path& folder,
                          const RunFolderHooks& hooks) {
    prepareRunFolder(folder);  // before the first step: a typo must not cost the run
    Experiment exp = Experiment::create(config, false);
    const auto stageCount = static_cast<std::int32_t>(exp.pipeline.cuts.size() + 1);
    telemetry::Recorder recorder(stageCount, config.pipeline.telemetry);
    Trainer trainer(std::move(exp), &recorder);
    if (hooks.started) {
        hooks.started(trainer);
    }
    RunOutcome out;
    out.train = trainEpochs(trainer, recorder, out.log, hooks.train);
    out.layout = trainer.layout();
    out.stepsPerEpoch = trainer.experiment().stepsPerEpoch;
    out.epochsDone = trainer.epoch();
    out.dataSource = trainer.experiment().data.source;
    out.datasetName = trainer.experiment().data.test.name;
    out.testSamples = trainer.experiment().data.test.count();
    telemetry::writeCsvs(out.log, folder);
    telemetry::writeChromeTrace(out.log, out.layout, folder / "trace.json");
    out.summary =
        telemetry::summarise(out.log, out.layout, out.stepsPerEpoch, config.training.batchSize);
    const std::string signal = hooks.stopSignal ? hooks.stopSignal() : std::string();
    telemetry::writeRunRecord(io::toJson(config),
                              out.layout,
                              out.log,
                              runSummaryJson(out.train, out.epochsDone, out.summary, signal),
                              folder / "run.json");
    io::saveConfig(folder / "experiment.json", config);
    return out;
}

}  // namespace lp::core::session
