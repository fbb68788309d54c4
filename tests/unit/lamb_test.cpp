// LAMB (You et al. 2019): a double-precision reference of a few steps over several tensors, a
// hand-computed trust ratio, the zero-norm rules, and norms that do not depend on the thread
// count or on the other tensors in the buffer.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "core/optim/optimizer.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/random_step.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lp::core::optim {
namespace {

// LAMB in double, straight from Algorithm 2 of the paper (φ = identity, bias correction,
// decoupled decay inside r, ratio 1 when a norm is 0).
struct LambReference {
    OptimizerConfig cfg;
    std::vector<std::size_t> ends;
    std::vector<double> w, m, v;

    void step(const std::vector<double>& g, int t, double lr) {
        const double b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps, wd = cfg.weightDecay;
        std::vector<double> r(w.size());
        for (std::size_t i = 0; i < w.size(); ++i) {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            const double mHat = m[i] / (1.0 - std::pow(b1, t));
            const double vHat = v[i] / (1.0 - std::pow(b2, t));
            r[i] = mHat / (std::sqrt(vHat) + eps) + wd * w[i];
        }
        std::size_t lo = 0;
        for (const std::size_t hi : ends) {
            double wn = 0.0, rn = 0.0;
            for (std::size_t i = lo; i < hi; ++i) {
                wn += w[i] * w[i];
                rn += r[i] * r[i];
            }
            const double ratio = wn > 0.0 && rn > 0.0 ? std::sqrt(wn) / std::sqrt(rn) : 1.0;
            for (std::size_t i = lo; i < hi; ++i) {
                w[i] -= lr * ratio * r[i];
            }
            lo = hi;
        }
    }
};

TEST(Lamb, MatchesDoubleReferenceOverSeveralTensors) {
    // Four tensors of different sizes (a "conv weight", a bias, BN γ and β), a gradient that
    // depends on w (a quadratic) and on the step, decay on.
    const OptimizerConfig cfg{.kind = OptimizerKind::Lamb, .weightDecay = 0.01F};
    const std::vector<std::size_t> ends{24, 28, 31, 34};
    Rng rng(5);
    std::vector<float> w(34);
    for (float& x : w) {
        x = rng.normal();
    }
    LambReference ref{.cfg = cfg,
                      .ends = ends,
                      .w = {},
                      .m = std::vector<double>(34),
                      .v = std::vector<double>(34)};
    ref.w.assign(w.begin(), w.end());
    const Optimizer opt(cfg);
    std::vector<float> state(opt.stateSize(w.size()));
    for (int t = 1; t <= 5; ++t) {
        std::vector<float> g(w.size());
        std::vector<double> gd(w.size());
        for (std::size_t i = 0; i < w.size(); ++i) {
            g[i] = 0.5F * w[i] +
                   0.1F * static_cast<float>((i * 7 + static_cast<std::size_t>(t)) % 5) - 0.2F;
            gd[i] = static_cast<double>(g[i]);
        }
        opt.step(w, g, state, t, 0.02F, ends);
        ref.step(gd, t, static_cast<double>(0.02F));
        for (std::size_t i = 0; i < w.size(); ++i) {
            EXPECT_NEAR(static_cast<double>(w[i]), ref.w[i], 2e-6 * (1.0 + std::abs(ref.w[i])))
                << "t " << t << " element " << i;
        }
    }
}

TEST(Lamb, TrustRatioByHand) {
    // Step 1: m̂ = g, v̂ = g², so with no decay r = g/(|g| + ε) ≈ sign(g).
    //   tensor 0: w = (3, 4), g = (2, −0.5): ‖w‖ = 5, r ≈ (1, −1), ‖r‖ = √2,
    //             w1 = w − lr·(5/√2)·(1, −1)
    //   tensor 1: w = (0, 0) (a zero-initialised bias): ‖w‖ = 0 → ratio 1, w1 = −lr·sign(g)
    //   tensor 2: g = 0: r = 0 → ratio 1, and w stays
    const OptimizerConfig cfg{.kind = OptimizerKind::Lamb, .weightDecay = 0.0F, .eps = 1e-12F};
    const Optimizer opt(cfg);
    std::vector<float> w{3.0F, 4.0F, 0.0F, 0.0F, 1.5F, -2.5F};
    const std::vector<float> g{2.0F, -0.5F, -3.0F, 0.25F, 0.0F, 0.0F};
    const std::vector<std::size_t> ends{2, 4, 6};
    std::vector<float> state(opt.stateSize(w.size()));
    const double lr = 0.1;
    opt.step(w, g, state, 1, static_cast<float>(lr), ends);
    const double ratio = 5.0 / std::sqrt(2.0);
    EXPECT_NEAR(w[0], 3.0 - lr * ratio, 1e-6);
    EXPECT_NEAR(w[1], 4.0 + lr * ratio, 1e-6);
    EXPECT_NEAR(w[2], lr, 1e-7);
    EXPECT_NEAR(w[3], -lr, 1e-7);
    EXPECT_EQ(w[4], 1.5F);
    EXPECT_EQ(w[5], -2.5F);

    // With decay, r = sign(g) + λ·w and the ratio follows: tensor (3, 4), λ = 0.5:
    // r = (1 + 1.5, −1 + 2) = (2.5, 1), ‖r‖ = √7.25.
    const Optimizer decayed({.kind = OptimizerKind::Lamb, .weightDecay = 0.5F, .eps = 1e-12F});
    std::vector<float> w2{3.0F, 4.0F};
    const std::vector<float> g2{2.0F, -0.5F};
    std::vector<float> s2(decayed.stateSize(2));
    const std::vector<std::size_t> one{2};
    decayed.step(w2, g2, s2, 1, static_cast<float>(lr), one);
    const double ratio2 = 5.0 / std::sqrt(7.25);
    EXPECT_NEAR(w2[0], 3.0 - lr * ratio2 * 2.5, 1e-6);
    EXPECT_NEAR(w2[1], 4.0 - lr * ratio2 * 1.0, 1e-6);
}

std::size_t bitDiffs(std::span<const float> a, std::span<const float> b) {
    std::size_t diffs = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        diffs += std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]) ? 1U : 0U;
    }
    return diffs;
}

// Norms over several chunks of a tensor: the same bits for 1 and 4 threads, and a tensor updated
// on its own gets the bits it gets inside the whole buffer (its norms ignore its neighbours and
// its chunking counts from its own start).
TEST(Lamb, NormsAreDeterministicAndPerTensor) {
    const std::size_t big = (std::size_t{1} << 16) + 333;  // several chunks
    const std::vector<std::size_t> ends{big, big + 64, 2 * big + 64, 2 * big + 100};
    const std::size_t n = ends.back();
    std::vector<float> w0(n);
    std::vector<float> g(n);
    test::fillWeightsAndGrads(w0, g, 77, 0.01F);
    const Optimizer opt({.kind = OptimizerKind::Lamb, .weightDecay = 0.01F});
    const auto run = [&](int threads) {
        const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                        static_cast<std::size_t>(threads));
        std::vector<float> w = w0;
        std::vector<float> state(opt.stateSize(n));
        for (int t = 1; t <= 3; ++t) {
            opt.step(w, g, state, t, 0.01F, ends);
        }
        return w;
    };
    const std::vector<float> w1 = run(1);
    const std::vector<float> w4 = run(4);
    EXPECT_EQ(bitDiffs(w1, w4), 0U);
    EXPECT_GT(bitDiffs(w1, w0), n / 2);
    // Tensor 2 alone.
    const std::size_t lo = ends[1];
    const std::size_t len = ends[2] - ends[1];
    std::vector<float> w(w0.begin() + static_cast<std::ptrdiff_t>(lo),
                         w0.begin() + static_cast<std::ptrdiff_t>(lo + len));
    std::vector<float> state(opt.stateSize(len));
    const std::vector<std::size_t> alone{len};
    for (int t = 1; t <= 3; ++t) {
        opt.step(w, std::span<const float>(g).subspan(lo, len), state, t, 0.01F, alone);
    }
    EXPECT_EQ(bitDiffs(w, std::span<const float>(w1).subspan(lo, len)), 0U);
}

TEST(Lamb, NeedsTheTensorLayout) {
    const Optimizer opt({.kind = OptimizerKind::Lamb});
    std::vector<float> w(6, 1.0F);
    const std::vector<float> g(6, 0.5F);
    std::vector<float> state(opt.stateSize(6));
    EXPECT_THROW(opt.step(w, g, state, 1, 0.1F), ContractError);  // no layout
    const std::vector<std::size_t> shortEnds{2, 5};
    EXPECT_THROW(opt.step(w, g, state, 1, 0.1F, shortEnds), ContractError);
    const std::vector<std::size_t> unordered{4, 2, 6};
    EXPECT_THROW(opt.step(w, g, state, 1, 0.1F, unordered), ContractError);
    const std::vector<std::size_t> ok{2, 6};
    EXPECT_NO_THROW(opt.step(w, g, state, 1, 0.1F, ok));
    EXPECT_NO_THROW(opt.step({}, {}, {}, 1, 0.1F));  // an empty buffer needs no layout
    EXPECT_EQ(opt.stateSize(6), 12U);
    EXPECT_EQ(parseOptimizerKind("lamb"), OptimizerKind::Lamb);
    EXPECT_EQ(toString(OptimizerKind::Lamb), "lamb");
}

TEST(Lamb, FirstStepIgnoresStaleState) {
    const Optimizer opt({.kind = OptimizerKind::Lamb});
    const std::vector<float> g{0.3F, -1.0F, 2.0F};
    const std::vector<std::size_t> ends{1, 3};
    std::vector<float> wClean{1.0F, 2.0F, 3.0F};
    std::vector<float> wDirty = wClean;
    std::vector<float> clean(opt.stateSize(3), 0.0F);
    std::vector<float> dirty(opt.stateSize(3), std::nanf(""));
    for (int t = 1; t <= 2; ++t) {
        opt.step(wClean, g, clean, t, 0.1F, ends);
        opt.step(wDirty, g, dirty, t, 0.1F, ends);
    }
    EXPECT_EQ(wClean, wDirty);
    EXPECT_EQ(clean, dirty);
}

}  // namespace
}  // namespace lp::core::optim
