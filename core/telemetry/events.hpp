// Telemetry records: plain values that cross from the engine to the UI and the exporters
// (DESIGN.md section 6). Header-only, no Eigen and no TBB, so that ui/ may include it.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lp::core::telemetry {

// The one op vocabulary from the epoch plan (pipeline::StageOp) to the exporters: F, B, U of a
// minibatch, or an evaluation pass (which no plan holds).
enum class OpKind : std::uint8_t { Forward, Backward, Update, Eval };

// One operation of one stage: F, B or U of a minibatch, or an evaluation pass.
struct OpEvent {
    std::int32_t stage = 0;
    OpKind op = OpKind::Forward;
    std::int64_t minibatch = 0;      // global minibatch index since the start of the run
    std::int64_t weightVersion = 0;  // version of the stage's weights the op used
    std::int64_t tick = 0;           // LayerPipe tick (schedule time), -1 where not applicable
    double startUs = 0.0;            // wall clock since the run started, microseconds
    double endUs = 0.0;
    std::int32_t thread = 0;  // worker index that ran it
    // The process (MPI rank, docs/mpi.md) that ran it: 0 in a one-process run. Its host is
    // PipelineLayout::hosts[rank].
    std::int32_t rank = 0;
};

// Staleness of one update: the applied gradient was computed on weights this many versions old.
struct StalenessSample {
    std::int64_t update = 0;  // the stage's version after this update
    std::int32_t stage = 0;
    std::int64_t staleness = 0;
    std::int64_t configuredDelay = 0;
    std::int64_t tick = 0;  // the backward's tick; not exported (Recorder::cutAfter uses it)
};

enum class MemoryCategory : std::uint8_t {
    Weights,
    WeightHistory,  // stash ring, or the EMA buffer d (its scratch counts as Weights)
    Activations,    // saved for in-flight minibatches
    OptimizerState,
    DiagnosticShadow,  // the EMA diagnostic's shadow stash; never part of the EMA curve
};

// Bytes actually held by one stage in one category at one moment.
struct MemorySample {
    double timeUs = 0.0;
    std::int64_t tick = 0;
    std::int32_t stage = 0;
    MemoryCategory category = MemoryCategory::Weights;
    std::int64_t bytes = 0;
};

// One optimizer step of the whole model (after the last stage's update of that minibatch).
struct TrainSample {
    std::int64_t step = 0;  // minibatch index since the start of the run
    std::int32_t epoch = 0;
    double timeUs = 0.0;
    float loss = 0.0F;
    float accuracy = 0.0F;  // top-1 on the minibatch, in [0, 1]
    float lr = 0.0F;
    float imagesPerSecond = 0.0F;
    bool nonFinite = false;
};

// Evaluation on the test split at the end of an epoch (BN in eval mode). loss/top1/top5 use the
// running statistics training gathered; with BN recalibration on (recalBatches > 0) recalLoss/
// recalTop1/recalTop5 are the same figures with statistics recomputed under the current weights
// over recalBatches training minibatches (eval.recalibrateBatchNorm; docs/pipeline.md).
struct EvalSample {
    std::int32_t epoch = 0;
    std::int64_t step = 0;
    float loss = 0.0F;
    float top1 = 0.0F;              // in [0, 1]
    float top5 = 0.0F;              // in [0, 1]; equals top1 when there are at most 5 classes
    std::int32_t recalBatches = 0;  // 0: no recalibrated evaluation (the fields below are unset)
    float recalLoss = 0.0F;
    float recalTop1 = 0.0F;
    float recalTop5 = 0.0F;
};

// EMA diagnostic: ‖Ŵ − W_v‖ / ‖W_v‖ for one backward of one stage.
struct ReconstructionSample {
    std::int64_t minibatch = 0;
    std::int32_t stage = 0;
    float relativeError = 0.0F;
    std::int64_t tick = 0;  // the backward's tick; not exported (Recorder::cutAfter uses it)
};

// The delays one stage runs one epoch with (delay schedules; docs/pipeline.md), recorded when the
// epoch starts (updateSize NaN) and again when it completes, with the adaptive rule's signal
// measured in it: the last record of an (epoch, stage) is the final one (finalDelays()).
struct DelaySample {
    std::int32_t epoch = 0;
    std::int32_t stage = 0;
    std::int64_t delay = 0;  // D_s(e)
    double scale = 1.0;      // c_e (1 with the static schedule)
    // Mean ‖ΔW‖/‖W‖ of the stage's updates in the epoch; NaN: not yet (the epoch's start) or
    // not measured (static schedule).
    double updateSize = 0.0;
    std::int64_t firstTick = 0;  // the epoch's first tick (ticks run on over a whole run)
    std::int64_t ticks = 0;      // ticks the epoch's plan spans, fill to drain
};

// Everything recorded since the previous drain, in recording order per series.
struct TelemetryBatch {
    std::vector<OpEvent> ops;
    std::vector<StalenessSample> staleness;
    std::vector<MemorySample> memory;
    std::vector<TrainSample> train;
    std::vector<EvalSample> eval;
    std::vector<ReconstructionSample> reconstruction;
    std::vector<DelaySample> delays;

    bool empty() const {
        return ops.empty() && staleness.empty() && memory.empty() && train.empty() &&
               eval.empty() && reconstruction.empty() && delays.empty();
    }
};

// Drops the op, staleness, memory and reconstruction records of a tick after `tick`: the cut of
// a diverged run (Recorder::cutAfter, docs/pipeline.md "Non-finite values").
inline void dropAfterTick(TelemetryBatch& batch, std::int64_t tick) {
    const auto late = [tick](const auto& record) {
        return record.tick > tick;
    };
    std::erase_if(batch.ops, late);
    std::erase_if(batch.staleness, late);
    std::erase_if(batch.memory, late);
    std::erase_if(batch.reconstruction, late);
}

// How the model is cut into stages, for labelling charts.
struct PipelineLayout {
    std::vector<std::string> unitNames;     // e.g. "stem", "layer1.0", ..., "head"
    std::vector<std::int32_t> stageOfUnit;  // stage index of each unit
    // D_s per stage; with a delay schedule each stage's largest delay over the run (what sizes
    // the weight history: the memory forecasts use it). Per-epoch delays: DelaySample and
    // StalenessSample::configuredDelay.
    std::vector<std::int64_t> delays;
    std::vector<std::int64_t> stageParams;  // P_s: trainable floats per stage
    std::string policy;                     // "latest" | "stash" | "ema" | "momentum"
    std::string schedule;                   // "layerpipe" | "gpipe"
    std::string delaySchedule = "static";   // "static" | "epochs" | "adaptive"
    // Where the stages ran (docs/mpi.md): the host of each process, by MPI rank (one entry for a
    // one-process run; empty when not known, as in a folder written before ranks were
    // recorded), and the rank of each stage (empty: every stage in one process, rank 0).
    std::vector<std::string> hosts;
    std::vector<std::int32_t> rankOfStage;

    std::int32_t stages() const { return static_cast<std::int32_t>(delays.size()); }

    // Whether the stages ran in several processes (MPI ranks).
    bool distributed() const { return !rankOfStage.empty(); }

    std::int32_t rankOf(std::int32_t stage) const {
        const auto s = static_cast<std::size_t>(stage);
        return stage >= 0 && s < rankOfStage.size() ? rankOfStage[s] : 0;
    }

    // The host of `rank`, or "" when the layout does not name it.
    std::string hostOf(std::int32_t rank) const {
        const auto r = static_cast<std::size_t>(rank);
        return rank >= 0 && r < hosts.size() ? hosts[r] : std::string();
    }
};

}  // namespace lp::core::telemetry
