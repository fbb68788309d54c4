// One pipeline stage: a contiguous group of units with its own flat buffers — weights, gradients,
// optimizer state, weight history — and its in-flight minibatches (DESIGN.md sections 2, 4, 5).
//
// A Stage is driven one op at a time, in the stage's fixed order, by exactly one caller at a time
// (the ReferenceRunner's loop or the engine's serial node for this stage): it needs no locks.
//
// Weight policies — which weights the backward of a minibatch uses (DESIGN.md section 4), where
// t = updates applied so far and v = the version its forward used, m = t − v:
//   latest: W_t.
//   stash:  W_v, kept exactly in a ring of the last D versions (plus the live W_t).
//   ema:    Ŵ = W_t − m·d̂, with d ← β·d + (1−β)·ΔW after every update (ΔW = W_new − W_old, so it
//           covers momentum, weight decay, schedules and Adam alike) and d̂ = d / (1 − β^k) after
//           k updates. Built in a scratch buffer, never by subtracting and re-adding in place.
//   momentum: Ŵ = W_t − m·ΔW̄ with ΔW̄ the update the optimizer's own state implies (SGD:
//           −lr_last·b, Adam family: −lr_last·(ratio·)r; core/optim/rewind.hpp), lr_last the LR
//           of the last applied update. No history at all; built in the scratch buffer.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"
#include "core/model/resnet.hpp"
#include "core/optim/optimizer.hpp"
#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

namespace lp::core::pipeline {

// The vocabulary's enums and names (core/choices.hpp holds the one table of each).
using WeightPolicy = core::WeightPolicy;
using EmaBetaMode = core::EmaBetaMode;

inline std::optional<WeightPolicy> parseWeightPolicy(std::string_view name) {
    return parseChoice<WeightPolicy>(name);
}

inline std::string_view toString(WeightPolicy policy) {
    return choiceName(policy);
}

inline std::optional<EmaBetaMode> parseEmaBetaMode(std::string_view name) {
    return parseChoice<EmaBetaMode>(name);
}

inline std::string_view toString(EmaBetaMode mode) {
    return choiceName(mode);
}

// β for a stage with delay `delay` (0 when the delay is 0: no EMA is kept).
float emaBeta(EmaBetaMode mode, std::int64_t delay, float fixedBeta);

// The EMA's two vector operations, used by Stage (exposed for tests):
// d ← β·d + (1 − β)·(wNew − wOld)
void emaAccumulate(std::span<float> d,
                   std::span<const float> wNew,
                   std::span<const float> wOld,
                   float beta);
// out = w − m·d / (1 − β^k): the reconstruction of the weights m updates ago after k updates.
void emaReconstruct(std::span<float> out,
                    std::span<const float> w,
                    std::span<const float> d,
                    float beta,
                    std::int64_t k,
                    std::int64_t m);

struct StageSettings {
    std::int64_t delay = 0;
    WeightPolicy policy = WeightPolicy::Stash;
    EmaBetaMode betaMode = EmaBetaMode::Window;
    float fixedBeta = 0.9F;
    bool diagnostic = false;  // ema, momentum: shadow stash to measure the reconstruction error
    // Measure ‖ΔW‖/‖W‖ after every update (delay schedules' signal; costs a copy of W_old into
    // the scratch buffer, counted under weights).
    bool measureUpdates = false;
    optim::OptimizerConfig optimizer;
};

// Bytes actually allocated by one stage (DESIGN.md section 5). Every allocated buffer is in
// exactly one field. `history` is what the policy keeps of old weights — the stash ring
// (D·P·4 bytes at steady state), the EMA buffer d (P·4 bytes when D > 0), nothing for momentum
// (it reuses the optimizer state) — so the curves match DESIGN.md's formulas; the scratch for Ŵ
// (ema, momentum) is a working buffer like the gradient and is counted in `weights`.
struct StageMemory {
    std::int64_t weights = 0;      // weights + BN buffers + gradient buffer + Ŵ scratch
    std::int64_t history = 0;      // stash ring, or the EMA buffer d (momentum: 0)
    std::int64_t activations = 0;  // saved for in-flight minibatches
    std::int64_t optimizer = 0;    // optimizer state
    std::int64_t shadow = 0;       // the ema/momentum diagnostic's shadow stash, reported apart
};

struct BackwardInfo {
    std::int64_t weightVersion = 0;  // version the forward used (v)
    std::int64_t staleness = 0;      // m = t − v
    std::optional<float> reconstruction;  // ‖Ŵ − W_v‖/‖W_v‖ (ema, momentum: diagnostic, m > 0)
};

class Stage {
public:
    // Units [firstUnit, endUnit) of `net`, initialised from the model-wide weights and buffers.
    // Throws InputError for the momentum policy with an optimizer that keeps no state (SGD
    // without momentum).
    Stage(const model::ResNet& net,
          std::int64_t index,
          std::int64_t firstUnit,
          std::int64_t endUnit,
          const StageSettings& settings,
          std::span<const float> modelWeights,
          std::span<const float> modelBuffers);

    std::int64_t index() const { return index_; }

    std::int64_t firstUnit() const { return first_; }

    std::int64_t endUnit() const { return end_; }

    std::int64_t version() const { return version_; }  // updates applied so far

    const StageSettings& settings() const { return settings_; }

    std::size_t paramCount() const { return weights_.size(); }

    std::size_t inFlight() const { return inFlight_.size(); }

    // F of minibatch mb with the current weights (Train mode): saves its activations and the
    // version used. x: the previous stage's output (or the images). Returns this stage's output.
    Tensor forward(std::int64_t mb, const Tensor& x);
    // Inference with the current weights and BN running statistics; saves nothing.
    Tensor evaluate(const Tensor& x);
    // B of minibatch mb: returns dL/dx and ADDS the weight gradient into the stage's gradient
    // buffer, using the weights the policy selects. Releases mb's activations.
    Tensor backward(std::int64_t mb, const Tensor& dy, BackwardInfo* info = nullptr);
    // U: one optimizer step with the accumulated gradient, then clears it.
    void update(float lr);

    StageMemory memory() const;

    std::span<const float> weights() const { return weights_.span(); }

    std::span<const float> buffers() const { return buffers_.span(); }

    std::span<float> mutableWeights() { return weights_.span(); }

    std::span<float> mutableBuffers() { return buffers_.span(); }

    std::span<float> mutableOptimizerState() { return optimizerState_.span(); }

    // The EMA buffer d (empty unless policy ema with D > 0) and its update count k, for
    // checkpoints.
    std::span<float> mutableEma() { return ema_.span(); }

    std::int64_t emaUpdates() const { return emaUpdates_; }

    void setEmaUpdates(std::int64_t k) { emaUpdates_ = k; }

    // The learning rate of the last applied update (the momentum policy's lr_last; 0 before the
    // first), for checkpoints.
    float lastLr() const { return lrLast_; }

    void setLastLr(float lr) { lrLast_ = lr; }

    // The parameter tensors' ends in the flat weight buffer (Optimizer::step's layout).
    const std::vector<std::size_t>& tensorEnds() const { return tensorEnds_; }

    // Forgets every in-flight minibatch (an epoch stopped midway); weights stay as updated.
    void dropInFlight() { inFlight_.clear(); }

    // Restores the update count (checkpoint resume). Only on a drained stage.
    void setVersion(std::int64_t version);
    // Changes the delay between epochs (delay schedules; only on a drained stage; no effect when
    // it is unchanged). An epoch starts drained, so no backward reaches behind its first update:
    // the stash ring's old versions are dropped (at most the new D buffers are kept for reuse),
    // and the EMA restarts, d ← 0 and k ← 0 with the new β (docs/pipeline.md).
    void setDelay(std::int64_t delay);
    // Mean ‖W_new − W_old‖ / ‖W_old‖ over the updates since resetUpdateStats(); nullopt when
    // measureUpdates is off or no update ran. The adaptive delay rule's signal.
    std::optional<double> meanUpdateSize() const;
    void resetUpdateStats();

private:
    struct InFlight {
        std::vector<model::UnitContext> ctxs;
        std::int64_t version = 0;
    };

    struct Stashed {
        std::int64_t version = 0;
        AlignedBuffer weights;
    };

    bool keepsStash() const;
    bool reconstructs() const;  // ema or momentum with D > 0: Ŵ is built in scratch_
    const AlignedBuffer* stashed(std::int64_t version) const;
    void stashCurrent();

    const model::ResNet* net_;
    std::int64_t index_;
    std::int64_t first_;
    std::int64_t end_;
    StageSettings settings_;
    optim::Optimizer optimizer_;
    float beta_ = 0.0F;

    AlignedBuffer weights_;
    AlignedBuffer buffers_;
    AlignedBuffer grads_;
    AlignedBuffer optimizerState_;
    std::int64_t version_ = 0;

    std::deque<Stashed> stash_;         // versions [t − D, t − 1], oldest first
    std::vector<AlignedBuffer> spare_;  // recycled stash buffers (no per-step allocation)
    AlignedBuffer ema_;                 // d
    AlignedBuffer scratch_;             // Ŵ for backward, W_old during update
    std::int64_t emaUpdates_ = 0;       // k
    float lrLast_ = 0.0F;               // LR of the last update (momentum policy)
    std::vector<std::size_t> tensorEnds_;
    double updateSizeSum_ = 0.0;  // Σ ‖ΔW‖/‖W_old‖ since resetUpdateStats()
    std::int64_t updateSizeCount_ = 0;

    std::map<std::int64_t, InFlight> inFlight_;
};

}  // namespace lp::core::pipeline
