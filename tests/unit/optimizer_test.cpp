// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/optim/optimizer.hpp"

#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/expect_input_error.hpp"
#include "tests/support/random_step.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace lp::core::optim {
namespace {

// The test quadratic f(w) = Σ ½·aᵢ·(wᵢ − cᵢ)², gradient aᵢ·(wᵢ − cᵢ): curvatures, a starting
// point, and centres (zero for the SGD closed forms; nonzero where L2 decay must change the
// direction of the gradient, since Adam is invariant to a per-coordinate gradient scale).
using Coords = std::array<double, 7>;
constexpr Coords kCurv{0.5, 1.0, 2.0, 3.5, 0.25, 1.5, 4.0};
constexpr Coords kStart{1.0, -2.0, 0.5, 0.75, -1.25, 3.0, -0.4};
constexpr Coords kZero{};
constexpr Coords kCentre{0.3, -0.5, 1.0, 0.2, 0.6, -1.0, 0.1};

// Number of elements whose bits differ (0 = bit-identical, so -0 vs +0 or NaN payloads count).
std::size_t bitDiffs(std::span<const float> a, std::span<const float> b) {
    std::size_t diffs = a.size() == b.size() ? 0 : std::max(a.size(), b.size());
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        diffs += std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]) ? 1U : 0U;
    }
    return diffs;
}

// Runs k optimizer steps on the quadratic in float, at a constant lr.
std::vector<float> runQuadratic(const OptimizerConfig& cfg,
                                int k,
                                float lr,
                                const Coords& centre = kZero) {
    const Optimizer opt(cfg);
    std::vector<float> w(kStart.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
        w[i] = static_cast<float>(kStart[i]);
    }
    std::vector<float> g(w.size());
    std::vector<float> state(opt.stateSize(w.size()));
    for (int t = 1; t <= k; ++t) {
        for (std::size_t i = 0; i < w.size(); ++i) {
            g[i] = static_cast<float>(kCurv[i]) * (w[i] - static_cast<float>(centre[i]));
        }
        opt.step(w, g, state, t, lr);
    }
    return w;
}

void expectNear(const std::vector<float>& got, const std::vector<double>& want, double relTol) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(static_cast<double>(got[i]), want[i], relTol * (1.0 + std::abs(want[i])))
            << "element " << i;
    }
}

TEST(Optimizer, SgdMomentumMatchesHandComputedSteps) {
    // f(w) = ½w², w0 = 1, lr 0.1, μ 0.9, no decay.
    // Plain: b1 = 1 → w1 = 0.9; b2 = 0.9 + 0.9 = 1.8 → w2 = 0.72.
    // Dampening 0.5: the first step is undamped (w1 = 0.9); b2 = 0.9 + 0.45 → w2 = 0.765.
    // Nesterov: b1 = 1, d1 = 1 + 0.9 → w1 = 0.81.
    const auto run = [](OptimizerConfig cfg, int k) {
        cfg.weightDecay = 0.0F;
        const Optimizer opt(cfg);
        std::vector<float> w{1.0F};
        std::vector<float> state(opt.stateSize(1));
        for (int t = 1; t <= k; ++t) {
            const std::vector<float> g{w[0]};
            opt.step(w, g, state, t, 0.1F);
        }
        return w[0];
    };
    EXPECT_FLOAT_EQ(run({.momentum = 0.9F}, 1), 0.9F);
    EXPECT_FLOAT_EQ(run({.momentum = 0.9F}, 2), 0.72F);
    EXPECT_FLOAT_EQ(run({.momentum = 0.9F, .dampening = 0.5F}, 2), 0.765F);
    EXPECT_FLOAT_EQ(run({.momentum = 0.9F, .nesterov = true}, 1), 0.81F);
    EXPECT_FLOAT_EQ(run({.momentum = 0.0F}, 2), 0.81F);
}

TEST(Optimizer, PlainSgdWithDecayMatchesClosedForm) {
    // No momentum: w_k = w0·(1 − lr·(a + λ))^k.
    const float lr = 0.1F;
    const double wd = 0.01;
    const int k = 5;
    const std::vector<float> got =
        runQuadratic({.momentum = 0.0F, .weightDecay = static_cast<float>(wd)}, k, lr);
    std::vector<double> want(kStart.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        want[i] = kStart[i] * std::pow(1.0 - static_cast<double>(lr) * (kCurv[i] + wd), k);
    }
    expectNear(got, want, 1e-5);
}

TEST(Optimizer, HeavyBallSgdMatchesSecondOrderRecurrence) {
    // With c = a + λ, eliminating the buffer (lr·b_t = w_{t−1} − w_t) gives Polyak's form
    //   w1 = (1 − lr·c)·w0                                 (first step: b1 = g, undamped)
    //   w_{t+1} = (1 + μ − lr·(1 − τ)·c)·w_t − μ·w_{t−1}   (t ≥ 1)
    // an independent check of the buffer update and of the first-step rule, with and without
    // dampening τ.
    const double lr = 0.05;
    const double wd = 0.01;
    const double mu = 0.9;
    for (const double tau : {0.0, 0.3}) {
        const int k = 5;
        const std::vector<float> got = runQuadratic({.momentum = static_cast<float>(mu),
                                                     .dampening = static_cast<float>(tau),
                                                     .weightDecay = static_cast<float>(wd)},
                                                    k,
                                                    static_cast<float>(lr));
        std::vector<double> want(kStart.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            // Constants rounded through float as the optimizer sees them.
            const double c = kCurv[i] + static_cast<double>(static_cast<float>(wd));
            const auto lrF = static_cast<double>(static_cast<float>(lr));
            const auto muF = static_cast<double>(static_cast<float>(mu));
            const auto tauF = static_cast<double>(static_cast<float>(tau));
            double prev = kStart[i];
            double cur = (1.0 - lrF * c) * prev;
            for (int t = 1; t < k; ++t) {
                const double next = (1.0 + muF - lrF * (1.0 - tauF) * c) * cur - muF * prev;
                prev = cur;
                cur = next;
            }
            want[i] = cur;
        }
        SCOPED_TRACE(tau);
        expectNear(got, want, 1e-5);
    }
}

TEST(Optimizer, NesterovSgdMatchesDoubleRecurrence) {
    // PyTorch's Nesterov rule in double: b ← μ·b + g (b1 = g), w ← w − lr·(g + μ·b).
    const double lr = 0.05;
    const double wd = 0.01;
    const double mu = 0.9;
    const int k = 5;
    const std::vector<float> got = runQuadratic({.momentum = static_cast<float>(mu),
                                                 .nesterov = true,
                                                 .weightDecay = static_cast<float>(wd)},
                                                k,
                                                static_cast<float>(lr));
    std::vector<double> want(kStart.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        double w = kStart[i];
        double b = 0.0;
        for (int t = 1; t <= k; ++t) {
            const double g = (kCurv[i] + wd) * w;
            b = t == 1 ? g : mu * b + g;
            w -= lr * (g + mu * b);
        }
        want[i] = w;
    }
    expectNear(got, want, 1e-5);
}

TEST(Optimizer, AdamConstantGradientStepsExactlyLrTimesSign) {
    // With a constant g and no decay, m_t = (1 − β1^t)·g and v_t = (1 − β2^t)·g², so after bias
    // correction every step is lr·g/(|g| + ε) (Kingma & Ba 2015, section 2.1).
    const std::vector<float> g{1.0F, -3.0F, 0.02F, -1e-6F, 250.0F};
    const float lr = 0.01F;
    const double eps = 1e-6;
    const Optimizer opt(
        {.kind = OptimizerKind::Adam, .weightDecay = 0.0F, .eps = static_cast<float>(eps)});
    std::vector<float> w(g.size(), 0.5F);
    std::vector<float> state(opt.stateSize(g.size()));
    for (int t = 1; t <= 6; ++t) {
        opt.step(w, g, state, t, lr);
        for (std::size_t i = 0; i < g.size(); ++i) {
            const auto gi = static_cast<double>(g[i]);
            const double want = 0.5 - t * static_cast<double>(lr) * gi / (std::abs(gi) + eps);
            EXPECT_NEAR(static_cast<double>(w[i]), want, 1e-6) << "t " << t << " element " << i;
        }
    }
}

TEST(Optimizer, AdamWDecayIsDecoupledClosedForm) {
    // AdamW with constant g: w_t = q·w_{t−1} − s with q = 1 − lr·λ, s = lr·g/(|g| + ε), so
    //   w_t = q^t·w0 − s·(1 − q^t)/(1 − q).
    // With g = 0 this is pure decay, w0·q^t (the Adam part adds 0/(0 + ε) = 0).
    const double lr = 0.01;
    const double wd = 0.1;
    const double eps = 1e-8;
    const std::vector<float> g{0.0F, 2.0F, -0.5F};
    const Optimizer opt({.kind = OptimizerKind::AdamW, .weightDecay = static_cast<float>(wd)});
    std::vector<float> w{1.5F, -1.0F, 0.25F};
    const std::vector<double> w0{1.5, -1.0, 0.25};
    std::vector<float> state(opt.stateSize(w.size()));
    const int k = 8;
    for (int t = 1; t <= k; ++t) {
        opt.step(w, g, state, t, static_cast<float>(lr));
    }
    const double q = 1.0 - lr * wd;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const auto gi = static_cast<double>(g[i]);
        const double s = lr * gi / (std::abs(gi) + eps);
        const double want = std::pow(q, k) * w0[i] - s * (1.0 - std::pow(q, k)) / (1.0 - q);
        EXPECT_NEAR(static_cast<double>(w[i]), want, 2e-6) << "element " << i;
    }
}

TEST(Optimizer, AdamL2DecayMatchesDoubleRecurrence) {
    // torch.optim.Adam with weight_decay: λ·w is added to the gradient before the moments.
    const double lr = 0.01;
    const double wd = 0.2;
    const double b1 = 0.9;
    const double b2 = 0.999;
    const double eps = 1e-8;
    const int k = 6;
    const std::vector<float> got =
        runQuadratic({.kind = OptimizerKind::Adam, .weightDecay = static_cast<float>(wd)},
                     k,
                     static_cast<float>(lr),
                     kCentre);
    std::vector<double> want(kStart.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        double w = kStart[i];
        double m = 0.0;
        double v = 0.0;
        for (int t = 1; t <= k; ++t) {
            const double g = kCurv[i] * (w - kCentre[i]) + wd * w;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            const double mHat = m / (1.0 - std::pow(b1, t));
            const double vHat = v / (1.0 - std::pow(b2, t));
            w -= lr * mHat / (std::sqrt(vHat) + eps);
        }
        want[i] = w;
    }
    expectNear(got, want, 1e-5);
}

TEST(Optimizer, StateSizes) {
    EXPECT_EQ(Optimizer({.momentum = 0.9F}).stateSize(10), 10U);
    EXPECT_EQ(Optimizer({.momentum = 0.0F}).stateSize(10), 0U);
    EXPECT_EQ(Optimizer({.kind = OptimizerKind::Adam}).stateSize(10), 20U);
    EXPECT_EQ(Optimizer({.kind = OptimizerKind::AdamW}).stateSize(10), 20U);
    EXPECT_EQ(Optimizer({.kind = OptimizerKind::AdamW}).stateSize(0), 0U);
}

TEST(Optimizer, FirstStepIgnoresStaleState) {
    // A recycled state buffer full of NaN must give the same result as a zeroed one at step 1.
    for (const OptimizerConfig cfg : {OptimizerConfig{.momentum = 0.9F, .dampening = 0.2F},
                                      OptimizerConfig{.kind = OptimizerKind::Adam},
                                      OptimizerConfig{.kind = OptimizerKind::AdamW}}) {
        const Optimizer opt(cfg);
        const std::vector<float> g{0.3F, -1.0F, 2.0F};
        std::vector<float> wClean{1.0F, 2.0F, 3.0F};
        std::vector<float> wDirty = wClean;
        std::vector<float> clean(opt.stateSize(3), 0.0F);
        std::vector<float> dirty(opt.stateSize(3), std::numeric_limits<float>::quiet_NaN());
        for (int t = 1; t <= 2; ++t) {
            opt.step(wClean, g, clean, t, 0.1F);
            opt.step(wDirty, g, dirty, t, 0.1F);
        }
        SCOPED_TRACE(std::string(toString(cfg.kind)));
        EXPECT_EQ(wClean, wDirty);
        EXPECT_EQ(clean, dirty);
    }
}

TEST(Optimizer, StepContractViolationsThrow) {
    const Optimizer opt({.momentum = 0.9F});
    std::vector<float> w(4, 1.0F);
    std::vector<float> state(4);
    const std::vector<float> g(4, 1.0F);
    const std::vector<float> gShort(3, 1.0F);
    std::vector<float> stateShort(3);
    EXPECT_THROW(opt.step(w, gShort, state, 1, 0.1F), ContractError);
    EXPECT_THROW(opt.step(w, g, stateShort, 1, 0.1F), ContractError);
    EXPECT_THROW(opt.step(w, g, state, 0, 0.1F), ContractError);
    EXPECT_THROW(opt.step(w, g, state, 1, -0.1F), ContractError);
    EXPECT_THROW(opt.step(w, g, state, 1, std::numeric_limits<float>::infinity()), ContractError);
    EXPECT_NO_THROW(opt.step(w, g, state, 1, 0.0F));
    EXPECT_NO_THROW(opt.step({}, {}, {}, 1, 0.1F));  // an empty stage buffer is a no-op
}

TEST(Optimizer, InvalidConfigsThrowInputErrorNamingTheField) {
    const float nan = std::numeric_limits<float>::quiet_NaN();

    const std::vector<test::BadConfig<OptimizerConfig>> cases{
        {{.momentum = 1.5F}, "optimizer.momentum"},
        {{.momentum = -0.1F}, "optimizer.momentum"},
        {{.momentum = 1.0F}, "optimizer.momentum"},
        {{.dampening = 1.5F}, "optimizer.dampening"},
        {{.weightDecay = -1e-4F}, "optimizer.weightDecay"},
        {{.weightDecay = nan}, "optimizer.weightDecay"},
        {{.kind = OptimizerKind::Adam, .beta1 = 1.0F}, "optimizer.beta1"},
        {{.kind = OptimizerKind::Adam, .beta2 = nan}, "optimizer.beta2"},
        {{.kind = OptimizerKind::AdamW, .eps = 0.0F}, "optimizer.eps"},
        {{.momentum = 0.0F, .nesterov = true}, "optimizer.momentum"},
        {{.dampening = 0.1F, .nesterov = true}, "optimizer.dampening"},
        {{.kind = static_cast<OptimizerKind>(7)}, "optimizer.kind"},
    };
    test::expectEachRefused(cases, [](const OptimizerConfig& cfg) { validate(cfg); });
    for (const test::BadConfig<OptimizerConfig>& c : cases) {
        EXPECT_THROW(Optimizer{c.cfg}, InputError) << c.field;
    }
    EXPECT_EQ(test::expectInputError([] { validate({.momentum = 1.5F}); }, {}),
              "optimizer.momentum must be in [0, 1), got 1.5");
    // Nesterov's constraints concern SGD only; the defaults of every kind are valid.
    EXPECT_NO_THROW(validate({.kind = OptimizerKind::Adam, .momentum = 0.0F, .nesterov = true}));
    for (const OptimizerKind k : kOptimizerKinds) {
        EXPECT_NO_THROW(validate({.kind = k}));
    }
}

TEST(Optimizer, KindNamesRoundTrip) {
    for (const OptimizerKind k : kOptimizerKinds) {
        EXPECT_EQ(parseOptimizerKind(toString(k)), k);
    }
    EXPECT_EQ(toString(OptimizerKind::AdamW), "adamw");
    EXPECT_EQ(parseOptimizerKind("sgd"), OptimizerKind::Sgd);
    EXPECT_FALSE(parseOptimizerKind("rmsprop").has_value());
    EXPECT_FALSE(parseOptimizerKind("").has_value());
}

// A buffer larger than many chunks, updated with 1 and 4 threads, must give the same bits; and
// since the update is elementwise, any slice updated on its own must give those bits too (this
// catches a rule that depends on the chunk, which a thread sweep alone cannot see).
TEST(Optimizer, LargeStepIsIdenticalForOneAndFourThreadsAndPerSlice) {
    const std::size_t n = (std::size_t{1} << 18) + 77;  // 17 chunks
    std::vector<float> w0(n);
    std::vector<float> g(n);
    test::fillWeightsAndGrads(w0, g, 1234, 0.1F);
    for (const OptimizerConfig cfg :
         {OptimizerConfig{.momentum = 0.9F, .nesterov = true},
          OptimizerConfig{.kind = OptimizerKind::Adam, .weightDecay = 1e-2F},
          OptimizerConfig{.kind = OptimizerKind::AdamW, .weightDecay = 1e-2F}}) {
        const Optimizer opt(cfg);
        const auto run = [&](int threads, std::vector<float>& w, std::vector<float>& state) {
            const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                            static_cast<std::size_t>(threads));
            w = w0;
            state.assign(opt.stateSize(n), 0.0F);
            for (int t = 1; t <= 3; ++t) {
                opt.step(w, g, state, t, 0.05F);
            }
        };
        std::vector<float> w1;
        std::vector<float> s1;
        std::vector<float> w4;
        std::vector<float> s4;
        run(1, w1, s1);
        run(4, w4, s4);
        SCOPED_TRACE(std::string(toString(cfg.kind)));
        EXPECT_EQ(bitDiffs(w1, w4), 0U);
        EXPECT_EQ(bitDiffs(s1, s4), 0U);
        EXPECT_GT(bitDiffs(w1, w0), n / 2);
        for (const std::size_t lo : {std::size_t{0}, std::size_t{20000}, n - 1001}) {
            const std::size_t len = 1001;
            std::vector<float> w(w0.begin() + static_cast<std::ptrdiff_t>(lo),
                                 w0.begin() + static_cast<std::ptrdiff_t>(lo + len));
            const std::span<const float> gs(g.data() + lo, len);
            std::vector<float> state(opt.stateSize(len), 0.0F);
            for (int t = 1; t <= 3; ++t) {
                opt.step(w, gs, state, t, 0.05F);
            }
            EXPECT_EQ(bitDiffs(w, std::span<const float>(w1).subspan(lo, len)), 0U) << lo;
        }
    }
}

}  // namespace
}  // namespace lp::core::optim
