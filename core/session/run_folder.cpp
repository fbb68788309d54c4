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
        const EpochReport r =
            hooks.wholeEpochs ? trainer.runEpoch() : trainer.runEpoch(std::ref(budget));
        log.append(recorder.drain());
        result.last = r;
        if (r.completed && !r.nonFinite) {
            result.history.push_back(epochSummary(r));
        }
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
        if (hooks.wholeEpochs && !trainer.finished() && hooks.stopRequested &&
            hooks.stopRequested()) {
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

EpochSummary epochSummary(const EpochReport& r) {
    EpochSummary e{.epoch = static_cast<std::int32_t>(r.epoch),
                   .trainLoss = r.trainLoss,
                   .trainAccuracy = r.trainAccuracy,
                   .testLoss = r.test.loss,
                   .testTop1 = r.test.top1,
                   .testTop5 = r.test.top5,
                   .seconds = r.seconds,
                   .imagesPerSecond = r.imagesPerSecond};
    if (r.recalibrated) {
        e.recalibrationBatches = r.recalibrated->batches;
        e.recalibratedTestLoss = r.recalibrated->test.loss;
        e.recalibratedTestTop1 = r.recalibrated->test.top1;
        e.recalibratedTestTop5 = r.recalibrated->test.top5;
    }
    return e;
}

RunFacts runFacts(const Trainer& trainer, const TrainResult& r, const std::string& stopSignal) {
    const Experiment& exp = trainer.experiment();
    const RunState state = r.nonFinite     ? RunState::NonFinite
                           : r.interrupted ? RunState::Stopped
                                           : RunState::Finished;
    return RunFacts{
        .state = state,
        .message = r.nonFinite ? concat("the loss became non-finite (NaN or infinity) in epoch ",
                                        r.last.epoch + 1,
                                        "; the run stopped. Lower the learning rate.")
                               : std::string(),
        .epochsDone = trainer.epoch(),
        .epochsConfigured = exp.config.training.epochs,
        .stepsPerEpoch = exp.stepsPerEpoch,
        .dataSource = exp.data.source,
        .parameters = static_cast<std::int64_t>(trainer.net().weightCount()),
        .history = r.history,
        .last = epochSummary(r.last),
        .seconds = r.seconds,
        .interrupted = r.interrupted,
        .stopSignal = stopSignal};
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
    const DistributedRun& dist = hooks.distributed;
    if (dist.writer) {
        prepareRunFolder(folder);  // before the first step: a typo must not cost the run
    }
    Experiment exp = Experiment::create(config, false);
    const auto stageCount = static_cast<std::int32_t>(exp.pipeline.cuts.size() + 1);
    telemetry::Recorder recorder(stageCount, config.pipeline.telemetry);
    Trainer trainer(std::move(exp), &recorder);
    if (dist.transport != nullptr) {
        trainer.core().setTransport(dist.transport);
    }
    if (hooks.prepare) {
        hooks.prepare(trainer);
    }
    if (hooks.started) {
        hooks.started(trainer);
    }
    if (dist.startTogether) {
        recorder.restartClock(dist.startTogether());
    }
    RunOutcome out;
    out.train = trainEpochs(trainer, recorder, out.log, hooks.train);
    if (hooks.finished) {
        hooks.finished(trainer, out.train);
    }
    if (dist.gatherLog) {
        dist.gatherLog(out.log, recorder.cutTick());
    }
    out.layout = trainer.layout();
    if (dist.transport != nullptr) {
        out.layout.hosts = dist.hosts;
        out.layout.rankOfStage = dist.rankOfStage;
    }
    out.stepsPerEpoch = trainer.experiment().stepsPerEpoch;
    out.epochsDone = trainer.epoch();
    out.dataSource = trainer.experiment().data.source;
    out.datasetName = trainer.experiment().data.test.name;
    out.testSamples = trainer.experiment().data.test.count();
    if (!dist.writer) {
        return out;
    }
    telemetry::writeCsvs(out.log, folder, out.layout.hosts);
    telemetry::writeChromeTrace(out.log, out.layout, folder / "trace.json");
    const std::string signal = hooks.stopSignal ? hooks.stopSignal() : std::string();
    out.summary = writeRunRecord(
        config, out.layout, out.log, runFacts(trainer, out.train, signal), folder / "run.json");
    io::saveConfig(folder / "experiment.json", config);
    return out;
}

}  // namespace lp::core::session
