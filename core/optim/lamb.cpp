// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/optim/lamb.hpp"

#include "core/error.hpp"
#include "core/optim/exact_sqrt.hpp"
#include "core/tensor/parallel.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace lp::core::optim::detail {
namespace {

constexpr std::int64_t kGrain = std::int64_t{1} << 14;  // floats per piece, as the other rules
constexpr std::int64_t kBlock = 1024;                   // r is built a block at a time, on stack

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Σ x² in double, four interleaved accumulators combined as (a0 + a1) + (a2 + a3): a fixed order.
double sumSquares(const float* x, std::int64_t n) {
    std::array<double, 4> acc{};
    std::int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (std::size_t k = 0; k < 4; ++k) {
            const auto xi = static_cast<double>(x[i + static_cast<std::int64_t>(k)]);
            acc[k] += xi * xi;
        }
    }
    for (; i < n; ++i) {
        acc[0] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

struct NormPair {
    double w = 0.0;
    double r = 0.0;
};

}  // namespace

float toFloat(double x) {
    constexpr auto kMax = static_cast<double>(std::numeric_limits<float>::max());
    if (x > kMax || x < -kMax) {
        return x > 0.0 ? std::numeric_limits<float>::infinity()
                       : -std::numeric_limits<float>::infinity();
    }
    return static_cast<float>(x);  // NaN stays NaN
}

Direction directionAt(const OptimizerConfig& cfg, std::int64_t step) {
    const auto t = static_cast<double>(step);
    return {
        .bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(cfg.beta1), t)),
        .bc2Sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(cfg.beta2), t))),
        .eps = cfg.eps,
        .decay = cfg.kind == OptimizerKind::Adam ? 0.0F : cfg.weightDecay};
}

void direction(
    const Direction& d, const float* w, const float* m, const float* v, float* r, std::int64_t n) {
    const ConstArrayMap wa(w, n);
    const ConstArrayMap ma(m, n);
    const ConstArrayMap va(v, n);
    ArrayMap ra(r, n);
    ra = (ma / d.bc1) / (va.unaryExpr(ExactSqrtOp{}) / d.bc2Sqrt + d.eps) + d.decay * wa;
}

std::vector<Piece> tensorPieces(std::span<const std::size_t> tensorEnds,
                                std::size_t n,
                                std::int64_t grain) {
    LP_EXPECTS(tensorEnds.empty() ? n == 0 : tensorEnds.back() == n,
               concat("optimizer: the tensor layout must end at the buffer's ", n, " floats"));
    std::vector<Piece> pieces;
    std::size_t begin = 0;
    for (std::size_t t = 0; t < tensorEnds.size(); ++t) {
        LP_EXPECTS(tensorEnds[t] >= begin, "optimizer: tensor ends must be non-decreasing");
        const auto hi = static_cast<std::int64_t>(tensorEnds[t]);
        for (auto lo = static_cast<std::int64_t>(begin); lo < hi; lo += grain) {
            pieces.push_back({.lo = lo, .hi = std::min(lo + grain, hi), .tensor = t});
        }
        begin = tensorEnds[t];
    }
    return pieces;
}

std::vector<double> trustRatios(const Direction& d,
                                const float* w,
                                const float* m,
                                const float* v,
                                const std::vector<Piece>& pieces,
                                std::size_t tensors) {
    std::vector<NormPair> parts(pieces.size());
    parallelFor(
        0, static_cast<std::int64_t>(pieces.size()), 1, [&](std::int64_t k0, std::int64_t k1) {
            std::array<float, kBlock> r{};
            for (auto k = static_cast<std::size_t>(k0); k < static_cast<std::size_t>(k1); ++k) {
                const Piece& p = pieces[k];
                for (std::int64_t lo = p.lo; lo < p.hi; lo += kBlock) {
                    const std::int64_t len = std::min(kBlock, p.hi - lo);
                    direction(d, w + lo, m + lo, v + lo, r.data(), len);
                    parts[k].w += sumSquares(w + lo, len);
                    parts[k].r += sumSquares(r.data(), len);
                }
            }
        });
    std::vector<NormPair> sums(tensors);
    for (std::size_t k = 0; k < pieces.size(); ++k) {  // in piece order: fixed
        sums[pieces[k].tensor].w += parts[k].w;
        sums[pieces[k].tensor].r += parts[k].r;
    }
    std::vector<double> ratios(tensors, 1.0);
    for (std::size_t t = 0; t < tensors; ++t) {
        if (sums[t].w > 0.0 && sums[t].r > 0.0) {
            ratios[t] = std::sqrt(sums[t].w) / std::sqrt(sums[t].r);
        }
    }
    return ratios;
}

void lambStep(const OptimizerConfig& cfg,
              std::span<float> weights,
              std::span<const float> grads,
              std::span<float> state,
              std::int64_t step,
              float lr,
              std::span<const std::size_t> tensorEnds) {
    const std::size_t n = weights.size();
    const std::vector<Piece> pieces = tensorPieces(tensorEnds, n, kGrain);
    float* w = weights.data();
    const float* g = grads.data();
    float* m = state.data();
    float* v = state.data() + n;
    const bool first = step == 1;
    const float oneMinusBeta1 = 1.0F - cfg.beta1;
    const float oneMinusBeta2 = 1.0F - cfg.beta2;
    // Moments as Adam's (PyTorch's lerp_ form for m), with the plain gradient.
    parallelFor(
        0, static_cast<std::int64_t>(pieces.size()), 1, [&](std::int64_t k0, std::int64_t k1) {
            for (auto k = static_cast<std::size_t>(k0); k < static_cast<std::size_t>(k1); ++k) {
                const Piece& p = pieces[k];
                const std::int64_t len = p.hi - p.lo;
                if (first) {
                    std::fill(m + p.lo, m + p.hi, 0.0F);
                    std::fill(v + p.lo, v + p.hi, 0.0F);
                }
                const ConstArrayMap ga(g + p.lo, len);
                ArrayMap ma(m + p.lo, len);
                ArrayMap va(v + p.lo, len);
                ma += oneMinusBeta1 * (ga - ma);
                va = cfg.beta2 * va + (oneMinusBeta2 * ga) * ga;
            }
        });
    const Direction d = directionAt(cfg, step);
    const std::vector<double> ratios = trustRatios(d, w, m, v, pieces, tensorEnds.size());
    // r is rebuilt from the same w, m and v with the same code: the bits the norms saw.
    parallelFor(
        0, static_cast<std::int64_t>(pieces.size()), 1, [&](std::int64_t k0, std::int64_t k1) {
            std::array<float, kBlock> r{};
            for (auto k = static_cast<std::size_t>(k0); k < static_cast<std::size_t>(k1); ++k) {
                const Piece& p = pieces[k];
                const float scale = toFloat(static_cast<double>(lr) * ratios[p.tensor]);
                for (std::int64_t lo = p.lo; lo < p.hi; lo += kBlock) {
                    const std::int64_t len = std::min(kBlock, p.hi - lo);
                    direction(d, w + lo, m + lo, v + lo, r.data(), len);
                    ArrayMap wa(w + lo, len);
                    wa -= scale * ConstArrayMap(r.data(), len);
                }
            }
        });
}

}  // namespace lp::core::optim::detail
