// The pipelined training run shared by the ReferenceRunner (a plain loop, the oracle) and the
// Engine (a oneTBB flow graph): the stages, the tensors in transit between them, and the exact
// per-stage op lists of an epoch. Both executors call PipelineCore::execute on the same op lists,
// so they produce the same bits (DESIGN.md section 4, determinism).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/model/resnet.hpp"
#include "core/pipeline/plan.hpp"
#include "core/pipeline/stage.hpp"
#include "core/telemetry/recorder.hpp"

namespace lp::core::pipeline {

enum class ScheduleKind { LayerPipe, GPipe };
std::optional<ScheduleKind> parseScheduleKind(std::string_view name);
std::string_view toString(ScheduleKind kind);

struct PipelineSpec {
    std::vector<std::int64_t> cuts;    // between units; empty = one stage
    std::vector<std::int64_t> delays;  // empty = LayerPipe2's 2·S(s) (GPipe: all 0)
    WeightPolicy policy = WeightPolicy::Stash;
    EmaBetaMode betaMode = EmaBetaMode::Window;
    float fixedBeta = 0.9F;
    bool diagnostic = false;
    bool measureUpdates = false;  // stages measure ‖ΔW‖/‖W‖ (delay schedules' signal)
    ScheduleKind schedule = ScheduleKind::LayerPipe;
    std::int64_t microBatches = 4;  // GPipe only
    optim::OptimizerConfig optimizer;
};

// One minibatch of the training or test split.
struct MiniBatch {
    Tensor images;  // [N, C, H, W]
    std::vector<std::int32_t> labels;
};
// Returns minibatch `index` of `epoch`: a pure function of its arguments.
using BatchSource = std::function<MiniBatch(std::int64_t epoch, std::int64_t index)>;
// Learning rate of global step `step` (0-based).
using LrFunction = std::function<float(std::int64_t step)>;

enum class ExecKind : std::uint8_t { Forward, Backward, Update };

// One op of one stage. `unit` is the data unit the op works on: the minibatch index within the
// epoch for LayerPipe, minibatch·M + micro-batch for GPipe; for Update, the minibatch.
struct ExecOp {
    ExecKind kind = ExecKind::Forward;
    std::int64_t unit = 0;
    std::int64_t tick = 0;  // tick within the epoch (the timeline's tick view)
};

// Per-stage op lists of one epoch of `minibatches` minibatches, with their ticks.
std::vector<std::vector<ExecOp>> epochPlan(const DelayPlan& delays, ScheduleKind schedule,
                                           std::int64_t minibatches, std::int64_t microBatches);

struct EpochStats {
    double lossSum = 0.0;
    std::int64_t correct = 0;
    std::int64_t samples = 0;
    std::int64_t minibatches = 0;
    bool nonFinite = false;
};

struct EvalResult {
    double loss = 0.0;
    double top1 = 0.0;
    double top5 = 0.0;
    std::int64_t samples = 0;
};

class PipelineCore {
public:
    // Throws InputError for an illegal partition, delay vector or GPipe micro-batch count.
    PipelineCore(const model::ResNet& net, const model::ModelState& init, const PipelineSpec& spec,
                 telemetry::Recorder* recorder);

    const model::ResNet& net() const { return *net_; }
    const PipelineSpec& spec() const { return spec_; }
    const Partition& partition() const { return partition_; }

    // The delays of the current (or next) epoch.
    const DelayPlan& delays() const { return delays_; }

    // Changes every stage's delay between epochs (delay schedules): InputError for an illegal
    // vector; only on a drained LayerPipe pipeline. Ops planned afterwards follow the new delays.
    void setDelays(const std::vector<std::int64_t>& delays);
    std::int64_t stageCount() const { return partition_.stageCount(); }
    Stage& stage(std::int64_t s) { return *stages_[static_cast<std::size_t>(s)]; }
    const Stage& stage(std::int64_t s) const { return *stages_[static_cast<std::size_t>(s)]; }

    // Its delays are those the core was built with (never changed by setDelays, so reading the
    // layout needs no synchronisation with a running epoch).
    telemetry::PipelineLayout layout() const;

    // Starts an epoch: ops then read minibatches from `source`; step numbers start at stepBase.
    // Resets the stages' update-size statistics.
    void beginEpoch(std::int64_t epoch, std::int64_t minibatches, BatchSource source,
                    LrFunction lr, std::int64_t stepBase, std::int64_t tickBase);
    // Whether op's inputs have arrived (only F of stage > 0 and B of non-last stages wait).
    bool ready(std::int64_t s, const ExecOp& op) const;
    // Runs one op of stage s. Ops of one stage must come in its plan order, one at a time.
    void execute(std::int64_t s, const ExecOp& op);
    EpochStats epochStats() const;
    // Drops everything in flight after an epoch stopped midway, leaving a drained pipeline.
    void abortEpoch();

    // Test-split evaluation with the current weights, BN in eval mode.
    EvalResult evaluate(const BatchSource& test, std::int64_t batches);
    // The same with the model-wide BN buffers `buffers` (ModelState's layout) in place of the
    // stages' running statistics, which are put back afterwards, also when it throws (BN
    // recalibration). Only between epochs.
    EvalResult evaluateWith(std::span<const float> buffers,
                            const BatchSource& test,
                            std::int64_t batches);
    // The model-wide weights and buffers, gathered from the stages.
    model::ModelState gather() const;
    // Writes model-wide weights/buffers/optimizer state into the stages (drained pipeline).
    void scatter(const model::ModelState& state);
    // Latest memory of every stage, as telemetry samples.
    void sampleMemory(std::int64_t s, std::int64_t tick);

private:
    struct Transit {  // tensors waiting for the next op, keyed by data unit
        mutable std::mutex mutex;
        std::map<std::int64_t, Tensor> tensors;
        void put(std::int64_t unit, Tensor t);
        Tensor take(std::int64_t unit);
        bool has(std::int64_t unit) const;
    };
    struct PendingBatch {
        MiniBatch batch;
        std::int64_t microsLeft = 0;
    };

    MiniBatch microBatch(std::int64_t unit, bool labelsOnly);
    void finishLoss(std::int64_t unit, const Tensor& logits);

    const model::ResNet* net_;
    PipelineSpec spec_;
    Partition partition_;
    DelayPlan builtDelays_;  // for layout()
    DelayPlan delays_;
    std::vector<std::unique_ptr<Stage>> stages_;
    telemetry::Recorder* recorder_;
    std::int64_t micro_ = 1;  // micro-batches per minibatch (1 for LayerPipe)

    // Per-epoch state.
    std::int64_t epoch_ = 0;
    std::int64_t stepBase_ = 0;
    std::int64_t tickBase_ = 0;
    BatchSource source_;
    LrFunction lr_;
    std::vector<std::unique_ptr<Transit>> activations_;  // into stage s (from s − 1)
    std::vector<std::unique_ptr<Transit>> gradients_;    // into stage s (from s + 1, or the loss)
    std::mutex batchMutex_;
    std::map<std::int64_t, PendingBatch> batches_;
    std::mutex statsMutex_;
    std::map<std::int64_t, EpochStats> perMinibatch_;
    EpochStats stats_;
    double epochStartUs_ = 0.0;
};

// The oracle: one epoch's ticks in a plain single-threaded loop (parallelism only inside ops).
class ReferenceRunner {
public:
    explicit ReferenceRunner(PipelineCore& core) : core_(core) {}
    // Runs one whole epoch; returns its statistics. Stops early on a non-finite loss.
    EpochStats runEpoch(std::int64_t epoch, std::int64_t minibatches, const BatchSource& source,
                        const LrFunction& lr, std::int64_t stepBase);

private:
    PipelineCore& core_;
};

}  // namespace lp::core::pipeline
