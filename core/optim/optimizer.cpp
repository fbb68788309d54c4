// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/optim/optimizer.hpp"

#include "core/error.hpp"
#include "core/optim/exact_sqrt.hpp"
#include "core/optim/lamb.hpp"
#include "core/tensor/parallel.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>

namespace lp::core::optim {
namespace {

// Floats per parallel chunk. The updates are elementwise, so any fixed chunking gives the same
// bits; 16384 floats (64 KiB per array) keeps ResNet-18's 11M parameters at ~700 chunks.
constexpr std::int64_t kGrain = std::int64_t{1} << 14;

// Throws "optimizer.<field> must be in [lo, hi), got v" (NaN fails too).
void requireIn(const char* field, float value, const Interval& range) {
    if (!range.contains(static_cast<double>(value))) {
        throw InputError(concat("optimizer.", field, " must be ", range.text(), ", got ", value));
    }
}

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

struct SgdRule {
    float lr;
    float weightDecay;
    float momentum;
    float oneMinusDampening;
    bool nesterov;
};

// torch.optim.SGD, the single-tensor path (PyTorch docs, torch.optim.SGD algorithm box), with
// heavy-ball momentum (Polyak 1964; Sutskever et al., ICML 2013, eq. 1-2) and PyTorch's form of
// Nesterov momentum (Sutskever et al. 2013, eq. 3-4, rewritten in terms of the look-ahead point):
//   g ← ∇f(w) + λ·w
//   b ← g                        at the first step (no dampening on the first step)
//   b ← μ·b + (1 − τ)·g          afterwards
//   g ← g + μ·b  (Nesterov)  or  g ← b
//   w ← w − γ·g
// Same operation order as PyTorch's in-place ops. Eigen array expressions because GCC 12 at -O2
// (its very-cheap vectoriser cost model) leaves plain loops scalar; each expression is one pass
// over a chunk that stays in L2, and g is recomputed rather than stored. `buf` is null when μ = 0
// (no state).
void sgdChunk(
    const SgdRule& r, float* w, const float* grad, float* buf, std::int64_t n, bool first) {
    ArrayMap wa(w, n);
    const ConstArrayMap ga(grad, n);
    if (buf == nullptr) {
        wa -= r.lr * (ga + r.weightDecay * wa);
        return;
    }
    ArrayMap ba(buf, n);
    if (first) {
        // The buffer's previous content is never read (it may be garbage).
        ba = ga + r.weightDecay * wa;
    } else {
        ba = r.momentum * ba + r.oneMinusDampening * (ga + r.weightDecay * wa);
    }
    if (r.nesterov) {
        wa -= r.lr * ((ga + r.weightDecay * wa) + r.momentum * ba);
    } else {
        wa -= r.lr * ba;
    }
}

struct AdamRule {
    float l2;           // λ for Adam's L2 term added to the gradient; 0 for AdamW
    float decayFactor;  // 1 − γ·λ for AdamW's decoupled decay; exactly 1 for Adam
    float beta2;
    float oneMinusBeta1;
    float oneMinusBeta2;
    float stepSize;  // γ / (1 − β1^t)
    float bc2Sqrt;   // sqrt(1 − β2^t)
    float eps;
};

// Adam (Kingma & Ba, ICLR 2015, Algorithm 1) and AdamW (Loshchilov & Hutter, ICLR 2019,
// Algorithm 2) as torch.optim.Adam / AdamW compute them (single-tensor path):
//   Adam:  g ← g + λ·w            (L2 penalty folded into the gradient)
//   AdamW: w ← w·(1 − γ·λ)        (decoupled decay, scaled by the lr as PyTorch does)
//   m ← m + (1 − β1)·(g − m)      (PyTorch's lerp_; = β1·m + (1 − β1)·g in exact arithmetic)
//   v ← β2·v + (1 − β2)·g·g
//   w ← w − (γ / (1 − β1^t))·m / (sqrt(v) / sqrt(1 − β2^t) + ε)
// ε is added after the bias correction of v, i.e. to sqrt(v̂) as in Algorithm 1. The L2 term
// reads w before the decay: for Adam the decay factor is exactly 1, for AdamW λ_L2 is 0.
void adamChunk(const AdamRule& r, float* w, const float* grad, float* m, float* v, std::int64_t n) {
    ArrayMap wa(w, n);
    const ConstArrayMap ga(grad, n);
    ArrayMap ma(m, n);
    ArrayMap va(v, n);
    ma += r.oneMinusBeta1 * ((ga + r.l2 * wa) - ma);
    va = r.beta2 * va + (r.oneMinusBeta2 * (ga + r.l2 * wa)) * (ga + r.l2 * wa);
    wa = wa * r.decayFactor -
         (r.stepSize * ma) / (va.unaryExpr(detail::ExactSqrtOp{}) / r.bc2Sqrt + r.eps);
}

}  // namespace

void validate(const OptimizerConfig& cfg) {
    if (findChoice(cfg.kind) == nullptr) {
        throw InputError(concat("optimizer.kind must be one of ",
                                allowedChoices<OptimizerKind>(", "),
                                ", got ",
                                static_cast<int>(cfg.kind)));
    }
    requireIn("momentum", cfg.momentum, kMomentumRange);
    requireIn("dampening", cfg.dampening, kDampeningRange);
    requireIn("weightDecay", cfg.weightDecay, kWeightDecayRange);
    requireIn("beta1", cfg.beta1, kBetaRange);
    requireIn("beta2", cfg.beta2, kBetaRange);
    requireIn("eps", cfg.eps, kEpsRange);
    // torch.optim.SGD rejects the same combinations ("Nesterov momentum requires a momentum and
    // zero dampening"); only SGD reads these fields.
    if (cfg.kind == OptimizerKind::Sgd && cfg.nesterov) {
        if (cfg.momentum <= 0.0F) {
            throw InputError(
                concat("optimizer.nesterov needs optimizer.momentum > 0, got ", cfg.momentum));
        }
        if (cfg.dampening != 0.0F) {
            throw InputError(
                concat("optimizer.nesterov needs optimizer.dampening = 0, got ", cfg.dampening));
        }
    }
}

Optimizer::Optimizer(OptimizerConfig cfg) : cfg_(cfg) {
    validate(cfg_);
}

std::size_t Optimizer::stateSize(std::size_t paramCount) const {
    switch (cfg_.kind) {
        case OptimizerKind::Sgd:
            return cfg_.momentum > 0.0F ? paramCount : 0;
        case OptimizerKind::Adam:
        case OptimizerKind::AdamW:
        case OptimizerKind::Lamb:
            return 2 * paramCount;
    }
    return 0;
}

void Optimizer::step(std::span<float> weights,
                     std::span<const float> grads,
                     std::span<float> state,
                     std::int64_t step,
                     float lr,
                     std::span<const std::size_t> tensorEnds) const {
    const std::size_t n = weights.size();
    LP_EXPECTS(grads.size() == n,
               concat("optimizer: ", grads.size(), " gradients for ", n, " weights"));
    LP_EXPECTS(state.size() == stateSize(n),
               concat("optimizer: state has ", state.size(), " floats, expected ", stateSize(n)));
    LP_EXPECTS(step >= 1, concat("optimizer: step is 1-based, got ", step));
    LP_EXPECTS(std::isfinite(lr) && lr >= 0.0F, concat("optimizer: lr must be >= 0, got ", lr));

    const auto count = static_cast<std::int64_t>(n);
    float* w = weights.data();
    const float* g = grads.data();
    if (cfg_.kind == OptimizerKind::Sgd) {
        const SgdRule rule{.lr = lr,
                           .weightDecay = cfg_.weightDecay,
                           .momentum = cfg_.momentum,
                           .oneMinusDampening = 1.0F - cfg_.dampening,
                           .nesterov = cfg_.nesterov};
        float* buf = state.empty() ? nullptr : state.data();
        const bool first = step == 1;
        parallelFor(0, count, kGrain, [&](std::int64_t lo, std::int64_t hi) {
            sgdChunk(rule, w + lo, g + lo, buf == nullptr ? nullptr : buf + lo, hi - lo, first);
        });
        return;
    }
    if (cfg_.kind == OptimizerKind::Lamb) {
        detail::lambStep(cfg_, weights, grads, state, step, lr, tensorEnds);
        return;
    }

    // Scalars in double as PyTorch computes them in Python, rounded once to float.
    const auto t = static_cast<double>(step);
    const auto lrD = static_cast<double>(lr);
    const double bc1 = 1.0 - std::pow(static_cast<double>(cfg_.beta1), t);
    const double bc2 = 1.0 - std::pow(static_cast<double>(cfg_.beta2), t);
    const bool decoupled = cfg_.kind == OptimizerKind::AdamW;
    const AdamRule rule{
        .l2 = decoupled ? 0.0F : cfg_.weightDecay,
        .decayFactor = decoupled
                           ? static_cast<float>(1.0 - lrD * static_cast<double>(cfg_.weightDecay))
                           : 1.0F,
        .beta2 = cfg_.beta2,
        .oneMinusBeta1 = 1.0F - cfg_.beta1,
        .oneMinusBeta2 = 1.0F - cfg_.beta2,
        .stepSize = static_cast<float>(lrD / bc1),
        .bc2Sqrt = static_cast<float>(std::sqrt(bc2)),
        .eps = cfg_.eps};
    float* m = state.data();
    float* v = state.data() + count;
    const bool first = step == 1;
    parallelFor(0, count, kGrain, [&](std::int64_t lo, std::int64_t hi) {
        // Moments start at zero (PyTorch's initial state); zeroing here instead of asking the
        // caller keeps a recycled buffer from leaking into a fresh run.
        if (first) {
            std::fill(m + lo, m + hi, 0.0F);
            std::fill(v + lo, v + hi, 0.0F);
        }
        adamChunk(rule, w + lo, g + lo, m + lo, v + lo, hi - lo);
    });
}

}  // namespace lp::core::optim
