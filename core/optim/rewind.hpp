// The momentum weight policy's reconstruction (docs/pipeline.md): the weights of m updates ago,
// rebuilt from the optimizer's own state — no stored history. Stateless functions; each call
// writes only `out`.
//
// Ŵ = W_t − m·ΔW̄, where ΔW̄ is the update the state after update t implies and lr_last is the
// learning rate update t used (m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t), b: SGD's momentum buffer):
//   SGD (b ← μ·b + (1 − τ)·(g + λ·w), b_1 = g + λ·w; update i is −lr_i·b_i, or
//     −lr_i·(g_i + λ·w + μ·b_i) with Nesterov): ΔW̄ = −lr_last·b_t·κ/m, i.e.
//       Ŵ = W_t + κ·lr_last·b_t,   κ = Σ_{i=t−m+1..t} a_i / c_t,
//     with c_i = μ^(i−1) + (1 − τ)·(1 − μ^(i−1))/(1 − μ) (b_i = c_i·g for a constant g) and
//     a_i = c_i (heavy ball) or 1 + μ·c_i (Nesterov): the m updates a constant gradient would
//     have made, read off b_t. Once b has settled (μ^t ≪ 1) every a_i equals c_t ((1 − τ)/(1 − μ);
//     Nesterov, τ = 0: 1 + μ/(1 − μ) = 1/(1 − μ)), so κ = m and Ŵ = W_t + m·lr_last·b_t: the
//     last update repeated m times. The correction matters in the
//     first ~1/(1 − μ) updates, where b_t outgrows b_{t−m+1..t} and m·lr·b_t overshoots (as
//     Adam's bias correction does for its moments).
//   Adam:  ΔW̄ = −lr_last·m̂_t/(sqrt(v̂_t) + ε) — update t's own form at t's moments (Adam's L2
//     term is already inside m).
//   AdamW: ΔW̄ = −lr_last·(m̂_t/(sqrt(v̂_t) + ε) + λ·W_t) — the decoupled decay taken at W_t
//     instead of W_{t−1}.
//   LAMB:  ΔW̄ = −lr_last·ratio_ℓ·(m̂_t/(sqrt(v̂_t) + ε) + λ·W_t), each tensor's trust ratio
//     recomputed at W_t with the step's norms (double sums, fixed order).
// Exact (to rounding) with a constant gradient, a constant lr and no weight decay: SGD at every
// step, any dampening, with or without Nesterov; Adam at every step (each step is then
// lr·g/(|g| + ε)).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/optim/optimizer.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace lp::core::optim {

// Throws InputError unless `cfg` keeps the state a reconstruction needs: SGD needs momentum > 0
// (every Adam-family rule keeps its moments).
void requireRewindable(const OptimizerConfig& cfg);

// out = weights − updates·ΔW̄ (the formulas above). `state` is the optimizer state after update
// `step` (1-based, ≥ 1), lrLast that update's learning rate, tensorEnds the layout as in
// Optimizer::step (Lamb needs it). Bit-identical for any thread count. Throws ContractError on
// mismatched sizes, step < 1, updates < 0, or an SGD config without momentum.
void rewind(const OptimizerConfig& cfg,
            std::span<float> out,
            std::span<const float> weights,
            std::span<const float> state,
            std::int64_t step,
            float lrLast,
            std::int64_t updates,
            std::span<const std::size_t> tensorEnds = {});

}  // namespace lp::core::optim
