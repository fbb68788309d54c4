// LAMB (You et al., "Large Batch Optimization for Deep Learning", ICLR 2020, Algorithm 2) and the
// Adam-family update direction it shares with the momentum policy's rewind (core/optim/rewind).
// Internal to core/optim. Stateless functions; each call mutates only the buffers passed to it.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/optim/optimizer.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lp::core::optim::detail {

// The direction of an Adam-family update at step t (1-based):
//   r = (m / (1 − β1^t)) / (sqrt(v) / sqrt(1 − β2^t) + ε) + λ_r·w
// with λ_r = 0 for Adam (its L2 term is already inside m) and λ for AdamW and LAMB (decoupled
// decay). AdamW's step is w − lr·r exactly (to rounding), LAMB's w − lr·ratio·r.
struct Direction {
    float bc1 = 1.0F;      // 1 − β1^t (computed in double, rounded once)
    float bc2Sqrt = 1.0F;  // sqrt(1 − β2^t)
    float eps = 1e-8F;
    float decay = 0.0F;  // λ_r
};

Direction directionAt(const OptimizerConfig& cfg, std::int64_t step);
// r[0, n) from w, m, v; the same bits whichever elements Eigen vectorises.
void direction(
    const Direction& d, const float* w, const float* m, const float* v, float* r, std::int64_t n);

// [lo, hi) of a flat buffer, inside parameter tensor `tensor`.
struct Piece {
    std::int64_t lo = 0;
    std::int64_t hi = 0;
    std::size_t tensor = 0;
};

// Every tensor cut into chunks of at most `grain` floats counted from its own start, so the pieces
// depend on the layout only. Tensor i is [tensorEnds[i−1], tensorEnds[i]) (from 0 for i = 0);
// ContractError unless the ends are non-decreasing and the last is n (no ends: n must be 0).
std::vector<Piece> tensorPieces(std::span<const std::size_t> tensorEnds,
                                std::size_t n,
                                std::int64_t grain);

// LAMB's trust ratio per tensor: ‖w‖/‖r‖ over the tensor, 1 when either norm is 0, r as above.
// Squares are summed in double within a piece in index order, and the pieces of a tensor are
// added in order: the same bits for any thread count.
std::vector<double> trustRatios(const Direction& d,
                                const float* w,
                                const float* m,
                                const float* v,
                                const std::vector<Piece>& pieces,
                                std::size_t tensors);

// x rounded to float; beyond float's range ±infinity (a plain cast would be undefined there).
float toFloat(double x);

// One LAMB step: Adam's moments (no L2 term in the gradient), then per tensor
// w ← w − lr·ratio·r. state = [m (n) | v (n)]; at step 1 its previous content is ignored.
void lambStep(const OptimizerConfig& cfg,
              std::span<float> weights,
              std::span<const float> grads,
              std::span<float> state,
              std::int64_t step,
              float lr,
              std::span<const std::size_t> tensorEnds);

}  // namespace lp::core::optim::detail
