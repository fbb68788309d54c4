// Trainer: an experiment document turned into a running training — data, model, pipeline, LR
// schedule — advanced one epoch at a time on the Engine, with evaluation, checkpoints and resume.
// The CLI drives it directly; the Session drives it from its driver thread.
//
// The sequential trainer is the same code with one stage (K = 1, D = 0): plain minibatch SGD,
// checked bit for bit against an independent loop in tests/integration/engine_test.cpp.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/data/batches.hpp"
#include "core/data/dataset.hpp"
#include "core/io/config.hpp"
#include "core/io/safetensors.hpp"
#include "core/model/resnet.hpp"
#include "core/optim/lr_schedule.hpp"
#include "core/pipeline/delay_schedule.hpp"
#include "core/pipeline/engine.hpp"
#include "core/pipeline/pipeline_core.hpp"
#include "core/pipeline/spec.hpp"
#include "core/session/experiment.hpp"
#include "core/telemetry/recorder.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lp::core::session {

// A test-split evaluation with BatchNorm statistics recalibrated under the current weights
// (eval.recalibrateBatchNorm; docs/pipeline.md).
struct RecalibratedEval {
    pipeline::EvalResult test;
    std::int64_t batches = 0;  // training minibatches the statistics were averaged over
};

struct EpochReport {
    std::int64_t epoch = 0;
    double trainLoss = 0.0;
    double trainAccuracy = 0.0;
    pipeline::EvalResult test;                     // with the running statistics training gathered
    std::optional<RecalibratedEval> recalibrated;  // when eval.recalibrateBatchNorm > 0
    double seconds = 0.0;
    double imagesPerSecond = 0.0;
    bool completed = false;
    bool nonFinite = false;
    // The delays the epoch ran with (delay schedules), its scale c_e, each stage's mean relative
    // update size (nullopt: not measured), and its ticks [firstTick, firstTick + ticks).
    std::vector<std::int64_t> delays;
    double delayScale = 1.0;
    std::vector<std::optional<double>> updateSize;
    std::int64_t firstTick = 0;
    std::int64_t ticks = 0;
};

class Trainer {
public:
    // Builds the model (initialised from the config's seed) and the pipeline. The recorder may be
    // null (no telemetry) and must outlive the trainer.
    Trainer(Experiment experiment, telemetry::Recorder* recorder);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;
    Trainer(Trainer&&) = delete;
    Trainer& operator=(Trainer&&) = delete;

    const Experiment& experiment() const { return experiment_; }

    const model::ResNet& net() const { return *net_; }

    pipeline::PipelineCore& core() { return *core_; }

    pipeline::Engine& engine() { return *engine_; }

    // Delays: the configured ones, or with a delay schedule its envelope (thread-safe: built once).
    // Hosts: this machine's (one process; an MPI run sets its ranks, run_folder.hpp).
    telemetry::PipelineLayout layout() const;

    std::int64_t epoch() const { return epoch_; }  // epochs completed

    // Minibatches of the next epoch already trained: a sequential run (one stage) stopped midway
    // keeps its place, and the next runEpoch() continues from there. Always 0 with several
    // stages, whose stopped epoch is not counted (its in-flight minibatches were dropped).
    std::int64_t epochStep() const { return partial_.minibatches; }

    std::int64_t step() const { return epoch_ * experiment_.stepsPerEpoch + epochStep(); }

    bool finished() const { return epoch_ >= experiment_.config.training.epochs; }

    // Ticks the next epoch's plan spans (fill to drain). With the static delay schedule every
    // epoch spans as many, so epoch e starts at e·ticksPerEpoch(); in general see epochFirstTick().
    std::int64_t ticksPerEpoch() const;

    // The first tick of the next epoch: the ticks of the epochs before it, summed (a sequential
    // epoch stopped midway continues epochStep() ticks further on).
    std::int64_t epochFirstTick() const { return tickBase_; }

    // The next epoch's delays and scale c_e (delay schedules; static: the configured delays, 1).
    const std::vector<std::int64_t>& delays() const { return core_->delays().delays(); }

    double delayScale() const { return scale_; }

    // Learning rate multiplier applied on top of the schedule (the GUI's live LR control).
    void setLrScale(float scale) { lrScale_.store(scale); }

    // Trains the next epoch (budget: see Engine::runEpoch), then evaluates on the test split.
    // An epoch that was stopped midway is not counted and is not evaluated; with one stage the
    // minibatches it did are kept (epochStep()) and the next call trains the rest, so that an
    // epoch stopped and continued ends with the same bits as one run through.
    // With eval.recalibrateBatchNorm > 0 it also evaluates with recalibrated BN statistics.
    EpochReport runEpoch(const pipeline::Engine::BudgetFunction& budget = {});
    // Test-split evaluation with the current weights and BN running statistics.
    pipeline::EvalResult evaluate();
    // The same with BN statistics recalibrated under the current weights over the first
    // min(eval.recalibrateBatchNorm, batches per pass) training minibatches of epoch 0's order
    // (augmented as in training), model::recalibrateBatchNorm's average; nullopt when the key is
    // 0 or the model has no BatchNorm. The trained running statistics are restored afterwards,
    // so training, checkpoints and evaluate() are exactly as without it, and the training data
    // order and random streams are untouched (batches are a pure function of epoch and index).
    // Needs a drained pipeline (between epochs).
    std::optional<RecalibratedEval> evaluateRecalibrated();

    // Checkpoints (safetensors, torchvision names; optimizer state under "optimizer."; metadata:
    // format, config, epoch, step, epoch_step, ema_updates and the stopped epoch's partial
    // statistics). Written atomically. load() checks every name and shape and lists every
    // mismatch in one InputError; with withOptimizerAndEpoch it also restores the run's position
    // and refuses metadata that is not a whole number in range or does not fit this experiment
    // (another number of steps per epoch).
    void save(const std::filesystem::path& file) const;
    void load(const std::filesystem::path& file, bool withOptimizerAndEpoch);
    // About how many bytes save() writes (tensor data; the header is small beside it).
    std::uintmax_t checkpointBytes() const;
    // Checkpoint names of the weights, buffers and EMA tensors (not the optimizer state) that
    // hold a NaN or an infinity: a diverged run's checkpoint.
    std::vector<std::string> nonFiniteTensors() const;

private:
    float lrAt(std::int64_t step) const;
    // Delay schedules (trainer_delays.cpp): records the next epoch's delays (DelaySample per
    // stage) when it starts, without update sizes, and again when it completes, with them.
    void recordDelays(std::int64_t epoch,
                      const std::vector<std::optional<double>>& updateSize) const;
    // After a completed epoch: its report's delay fields, its records, the next tick base and
    // the next epoch's delays.
    void finishEpochDelays(EpochReport& report);
    // Checkpoint metadata of the schedule's state, and its restoration before the tensors are
    // read (the EMA buffers that exist depend on the delays).
    void saveDelayState(std::map<std::string, std::string>& metadata) const;
    void restoreDelayState(const io::SafetensorsFile& file, const std::filesystem::path& path);
    // Each stage's EMA update count k from a checkpoint: `k` (stage 0's "ema_updates") for every
    // stage with an EMA buffer, or, with a delay schedule, the per-stage list.
    std::vector<std::int64_t> restoredEmaUpdates(const io::SafetensorsFile& file,
                                                 const std::filesystem::path& path,
                                                 std::int64_t k,
                                                 std::int64_t step) const;
    // load's two halves: copies every tensor the model needs from the checkpoint (all problems
    // listed in one InputError first, nothing copied then), and the training position (epoch,
    // step, the stopped epoch's partial sums, each stage's version and EMA count).
    void loadTensors(const io::SafetensorsFile& f,
                     const std::filesystem::path& file,
                     bool withOptimizerAndEpoch);
    void restorePosition(const io::SafetensorsFile& f, const std::filesystem::path& file);
    pipeline::BatchSource testSource() const;  // the test split's minibatches

    Experiment experiment_;
    std::unique_ptr<model::ResNet> net_;
    std::unique_ptr<pipeline::PipelineCore> core_;
    std::unique_ptr<pipeline::Engine> engine_;
    std::unique_ptr<data::BatchLoader> trainLoader_;
    std::unique_ptr<data::BatchLoader> testLoader_;
    std::unique_ptr<data::Prefetcher> prefetcher_;
    telemetry::Recorder* recorder_;
    std::int64_t epoch_ = 0;
    // The stopped epoch's minibatches so far (partial_.minibatches is epochStep()).
    pipeline::EpochStats partial_;
    std::atomic<float> lrScale_{1.0F};
    double scale_ = 1.0;         // the delay scale of the next epoch
    std::int64_t tickBase_ = 0;  // the next epoch's first tick
};

// The experiment config a checkpoint was trained with (its "config" metadata), for --resume and
// eval. InputError naming the checkpoint when the metadata is absent or not a valid config.
io::ExperimentConfig checkpointConfig(const std::filesystem::path& file);

// One key whose value differs, with both values as JSON text ("0.1", "\"cosine\"", "[3,5]").
struct ConfigDifference {
    std::string key;  // e.g. "optimizer.lr"
    std::string stored;
    std::string given;
};

// The keys whose values differ between a checkpoint's config and the one a resumed run would
// use, leaving out what does not change the trained bits: name, description, data.path (where
// the same data lives), data.testLimit, training.threads (same bits with any thread count),
// training.epochs (a resumed run may be extended), eval.* (evaluation does not change training),
// and with sequential = true every pipeline.* key (layerpipe train ignores them). In document
// order.
std::vector<ConfigDifference> runDefiningDifferences(const io::ExperimentConfig& stored,
                                                     const io::ExperimentConfig& given,
                                                     bool sequential);

// A one-line progress report: "epoch 1/3  step 120/468  loss 0.512  acc 81.2%  1234 img/s  ETA
// 2m10s".
std::string formatDuration(double seconds);

}  // namespace lp::core::session
