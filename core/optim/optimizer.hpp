// Optimizers (SGD with momentum/Nesterov/weight decay, Adam, AdamW, LAMB) as plain vector
// operations on a stage's flat parameter buffer (DESIGN.md section 2). Optimizer is an immutable
// rule and is safe to share between threads; each call mutates only the buffers passed to it.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace lp::core::optim {

using OptimizerKind = core::OptimizerKind;

inline constexpr auto kOptimizerKinds = choiceValues<OptimizerKind>();

// "sgd", "adam", "adamw", "lamb" (core/choices.hpp's table, used by configs and the CLI).
inline std::string_view toString(OptimizerKind kind) {
    return choiceName(kind);
}

// Inverse of toString (exact, lower case); nullopt for an unknown name.
inline std::optional<OptimizerKind> parseOptimizerKind(std::string_view name) {
    return parseChoice<OptimizerKind>(name);
}

// Hyper-parameters of torch.optim.SGD / Adam / AdamW and of LAMB (the learning rate comes from the
// schedule). momentum, dampening and nesterov are used by Sgd; beta1, beta2 and eps by Adam, AdamW
// and Lamb; weightDecay by all (L2 added to the gradient for Sgd and Adam, decoupled for AdamW,
// inside the trust-ratio direction for Lamb).
//
// LAMB (You et al., ICLR 2020, Algorithm 2), per parameter tensor ℓ (a weight, a bias, a BN γ or
// β: every tensor gets the decay and the trust ratio, no exclusions), at step t:
//   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,  m̂ = m/(1 − β1^t),  v̂ = v/(1 − β2^t)
//   r = m̂/(sqrt(v̂) + ε) + λ·w
//   w ← w − lr·(‖w_ℓ‖/‖r_ℓ‖)·r     (ratio 1 when either norm is 0; φ = identity, no clipping)
// Norms: squares summed in double over fixed pieces in a fixed order (thread-count independent).
struct OptimizerConfig {
    OptimizerKind kind = OptimizerKind::Sgd;
    float momentum = 0.9F;
    float dampening = 0.0F;
    bool nesterov = false;
    float weightDecay = 5e-4F;
    float beta1 = 0.9F;
    float beta2 = 0.999F;
    float eps = 1e-8F;
};

// The hyper-parameters' ranges: validate's, and the config's optimizer.* keys' (one definition,
// so both layers accept the same values; issue 16).
inline constexpr Interval kMomentumRange{'[', 0, 1, ')'};
inline constexpr Interval kDampeningRange{'[', 0, 1, ']'};
inline constexpr Interval kWeightDecayRange{'[', 0, 1, ')'};
inline constexpr Interval kBetaRange{'[', 0, 1, ')'};  // beta1 and beta2
inline constexpr Interval kEpsRange{'(', 0, 1, ']'};

// Throws InputError naming the field, the value and the allowed range, e.g.
// "optimizer.momentum must be in [0, 1), got 1.5". Ranges: the constants above. For Sgd,
// nesterov needs momentum > 0 and dampening 0 (as torch.optim.SGD requires).
void validate(const OptimizerConfig& cfg);

// A stateless update rule; the optimizer state lives in a flat float buffer owned by the caller
// (the pipeline stage), next to the weights. Results are bit-identical whatever the thread count.
class Optimizer {
public:
    // Validates cfg (throws InputError).
    explicit Optimizer(OptimizerConfig cfg);

    const OptimizerConfig& config() const { return cfg_; }

    // Floats of state for paramCount parameters: Sgd n (momentum > 0) or 0; Adam/AdamW/Lamb 2n,
    // laid out as [first moment m (n) | second moment v (n)].
    std::size_t stateSize(std::size_t paramCount) const;

    // One update of `weights` with gradient `grads` (same size) at learning rate lr >= 0.
    // `step` is 1-based: the number of updates applied to this buffer including this one; it
    // drives PyTorch's first-step momentum rule and Adam's bias correction. At step 1 the previous
    // content of `state` is ignored (it need not be initialised); state.size() == stateSize(n).
    // `tensorEnds` is the parameter tensors' layout in the buffer: tensor i is
    // [tensorEnds[i−1], tensorEnds[i]) (from 0 for i = 0), the last end is n. Lamb needs it (its
    // trust ratio is per tensor); the other rules are elementwise and ignore it.
    // Throws ContractError on mismatched sizes, step < 1, a negative or non-finite lr, or (Lamb)
    // a layout that does not cover the buffer.
    void step(std::span<float> weights,
              std::span<const float> grads,
              std::span<float> state,
              std::int64_t step,
              float lr,
              std::span<const std::size_t> tensorEnds = {}) const;

private:
    OptimizerConfig cfg_;
};

}  // namespace lp::core::optim
