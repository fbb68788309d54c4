// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/optim/rewind.hpp"

#include "core/error.hpp"
#include "core/optim/lamb.hpp"
#include "core/tensor/parallel.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace lp::core::optim {
namespace {

constexpr std::int64_t kGrain = std::int64_t{1} << 14;
constexpr std::int64_t kBlock = 1024;

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Adam, AdamW and LAMB: out = w + (updates·lr·ratio_ℓ)·r, r the Adam-family direction.
void rewindAdamFamily(const OptimizerConfig& cfg,
                      float* out,
                      const float* w,
                      const float* m,
                      const float* v,
                      std::int64_t step,
                      double scale,
                      std::span<const std::size_t> tensorEnds,
                      std::size_t n) {
    const std::array<std::size_t, 1> whole{n};
    const bool lamb = cfg.kind == OptimizerKind::Lamb;
    const std::span<const std::size_t> ends =
        lamb ? tensorEnds : std::span<const std::size_t>(whole.data(), n > 0 ? 1 : 0);
    const std::vector<detail::Piece> pieces = detail::tensorPieces(ends, n, kGrain);
    const detail::Direction d = detail::directionAt(cfg, step);
    const std::vector<double> ratios = lamb ? detail::trustRatios(d, w, m, v, pieces, ends.size())
                                            : std::vector<double>(ends.size(), 1.0);
    parallelFor(
        0, static_cast<std::int64_t>(pieces.size()), 1, [&](std::int64_t k0, std::int64_t k1) {
            std::array<float, kBlock> r{};
            for (auto k = static_cast<std::size_t>(k0); k < static_cast<std::size_t>(k1); ++k) {
                const detail::Piece& p = pieces[k];
                const float s = detail::toFloat(scale * ratios[p.tensor]);
                for (std::int64_t lo = p.lo; lo < p.hi; lo += kBlock) {
                    const std::int64_t len = std::min(kBlock, p.hi - lo);
                    detail::direction(d, w + lo, m + lo, v + lo, r.data(), len);
                    ArrayMap(out + lo, len) =
                        ConstArrayMap(w + lo, len) + s * ConstArrayMap(r.data(), len);
                }
            }
        });
}

// κ(t, m): SGD's updates t−m+1..t in units of lr·b_t, assuming a constant gradient g. Then
// b_i = c_i·g with c_1 = 1, c_i = μ·c_{i−1} + (1 − τ), i.e. c_i = μ^(i−1) + (1 − τ)·(1 −
// μ^(i−1))/(1 − μ), and update i is lr·a_i·g with a_i = c_i (heavy ball) or 1 + μ·c_i (Nesterov):
// κ = Σ_{i=t−m+1..t} a_i / c_t, which tends to m as b settles.
double sgdWindow(const OptimizerConfig& cfg, std::int64_t step, std::int64_t updates) {
    const auto mu = static_cast<double>(cfg.momentum);
    const double oneMinusTau = 1.0 - static_cast<double>(cfg.dampening);
    const auto c = [&](std::int64_t i) {
        const double p = std::pow(mu, static_cast<double>(i - 1));
        return p + oneMinusTau * (1.0 - p) / (1.0 - mu);
    };
    double sum = 0.0;
    for (std::int64_t i = step - updates + 1; i <= step; ++i) {
        sum += cfg.nesterov ? 1.0 + mu * c(i) : c(i);
    }
    return sum / c(step);
}

}  // namespace

void requireRewindable(const OptimizerConfig& cfg) {
    if (cfg.kind == OptimizerKind::Sgd && !(cfg.momentum > 0.0F)) {
        throw InputError(concat(
            "pipeline.policy momentum needs optimizer.momentum > 0: it rebuilds the weights a "
            "forward used from SGD's momentum buffer, which SGD without momentum does not keep; "
            "got optimizer.momentum = ",
            cfg.momentum,
            " (set a momentum such as 0.9, or choose the stash, ema or latest "
            "policy)"));
    }
}

void rewind(const OptimizerConfig& cfg,
            std::span<float> out,
            std::span<const float> weights,
            std::span<const float> state,
            std::int64_t step,
            float lrLast,
            std::int64_t updates,
            std::span<const std::size_t> tensorEnds) {
    const std::size_t n = weights.size();
    const std::size_t stateFloats = cfg.kind == OptimizerKind::Sgd ? n : 2 * n;
    LP_EXPECTS(out.size() == n, concat("rewind: output has ", out.size(), " floats for ", n));
    LP_EXPECTS(cfg.kind != OptimizerKind::Sgd || cfg.momentum > 0.0F,
               "rewind: SGD without momentum keeps no state to rewind from");
    LP_EXPECTS(state.size() == stateFloats,
               concat("rewind: state has ", state.size(), " floats, expected ", stateFloats));
    LP_EXPECTS(step >= 1, concat("rewind: needs an applied update, step is ", step));
    LP_EXPECTS(updates >= 0, concat("rewind: updates must be >= 0, got ", updates));
    // In double, rounded once: m·lr_last (·ratio).
    const double scale = static_cast<double>(updates) * static_cast<double>(lrLast);
    const float* w = weights.data();
    float* o = out.data();
    if (cfg.kind == OptimizerKind::Sgd) {
        const float* b = state.data();
        const float s = detail::toFloat(sgdWindow(cfg, step, std::min(updates, step)) *
                                        static_cast<double>(lrLast));
        parallelFor(0, static_cast<std::int64_t>(n), kGrain, [&](std::int64_t lo, std::int64_t hi) {
            ArrayMap(o + lo, hi - lo) =
                ConstArrayMap(w + lo, hi - lo) + s * ConstArrayMap(b + lo, hi - lo);
        });
        return;
    }
    rewindAdamFamily(cfg, o, w, state.data(), state.data() + n, step, scale, tensorEnds, n);
}

}  // namespace lp::core::optim
