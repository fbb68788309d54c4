// PipelineCore: the pipelined training run shared by the ReferenceRunner (a plain loop, the
// oracle) and the Engine (a oneTBB flow graph): the stages, the tensors in transit between them,
// loss and statistics. Both executors call execute() on the same epoch plan, so they produce the
// same bits (DESIGN.md section 4, determinism). Ops of different stages may run concurrently;
// each stage's ops come one at a time, in its plan order.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/model/resnet.hpp"
#include "core/pipeline/plan.hpp"
#include "core/pipeline/spec.hpp"
#include "core/pipeline/stage.hpp"
#include "core/pipeline/transport.hpp"
#include "core/telemetry/recorder.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace lp::core::pipeline {

class PipelineCore {
public:
    // Throws InputError for an illegal partition, delay vector or GPipe micro-batch count.
    PipelineCore(const model::ResNet& net,
                 const model::ModelState& init,
                 const PipelineSpec& spec,
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

    // Runs only the stages the transport calls local, sending the tensors that cross to other
    // processes through it (null, the default: every stage is local). Set before the first
    // epoch; the transport must outlive the core.
    void setTransport(Transport* transport) { transport_ = transport; }

    Transport* transport() const { return transport_; }

    bool isLocal(std::int64_t s) const { return transport_ == nullptr || transport_->isLocal(s); }

    // A tensor that arrived through the transport: the input of local stage `to`.
    void deliver(Direction dir, std::int64_t to, std::int64_t unit, Tensor tensor);

    // Starts an epoch: ops then read minibatches from `source`; step numbers start at stepBase.
    // Resets the stages' update-size statistics.
    void beginEpoch(std::int64_t epoch,
                    std::int64_t minibatches,
                    BatchSource source,
                    LrFunction lr,
                    std::int64_t stepBase,
                    std::int64_t tickBase);
    // Whether op's inputs have arrived (only F of stage > 0 and B of non-last stages wait).
    bool ready(std::int64_t s, const StageOp& op) const;
    // Runs one op of stage s. Ops of one stage must come in its plan order, one at a time.
    void execute(std::int64_t s, const StageOp& op);
    EpochStats epochStats() const;
    // The epoch's statistics as the process that ran the last stage counted them (transports).
    void setEpochStats(const EpochStats& stats);
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
        std::int64_t usesLeft = 0;  // fetches still to come: images and labels of each micro
    };

    MiniBatch microBatch(std::int64_t unit, bool labelsOnly);
    // The loss of one micro-batch (the last stage's F at plan tick `tick`). The first minibatch
    // whose loss is non-finite ends the epoch's figures: later minibatches are not counted or
    // recorded, and the recorder is cut at its tick (Recorder::cutAfter).
    void finishLoss(std::int64_t unit, std::int64_t tick, const Tensor& logits);

    const model::ResNet* net_;
    PipelineSpec spec_;
    Partition partition_;
    DelayPlan builtDelays_;  // for layout()
    DelayPlan delays_;
    std::vector<std::unique_ptr<Stage>> stages_;
    telemetry::Recorder* recorder_;
    std::int64_t micro_ = 1;  // micro-batches per minibatch (1 for LayerPipe)
    Transport* transport_ = nullptr;

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

}  // namespace lp::core::pipeline
