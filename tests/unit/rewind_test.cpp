// The momentum policy's reconstruction from the optimizer state (core/optim/rewind.hpp): cases
// where it is provably exact, SGD's closed form while the buffer warms up, the Adam-family forms
// against double formulas, thread-count independence, and the error for SGD without momentum.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/optim/rewind.hpp"

#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/random_step.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lp::core::optim {
namespace {

// Runs `steps` updates with a constant gradient g at a constant lr, keeping every version.
struct ConstantRun {
    std::vector<std::vector<float>> versions;  // W_0 .. W_steps
    std::vector<float> state;
};

ConstantRun runConstant(const OptimizerConfig& cfg,
                        const std::vector<float>& w0,
                        const std::vector<float>& g,
                        int steps,
                        float lr,
                        const std::vector<std::size_t>& ends) {
    const Optimizer opt(cfg);
    ConstantRun r{.versions = {w0}, .state = std::vector<float>(opt.stateSize(w0.size()))};
    std::vector<float> w = w0;
    for (int t = 1; t <= steps; ++t) {
        opt.step(w, g, r.state, t, lr, ends);
        r.versions.push_back(w);
    }
    return r;
}

std::vector<float> rewound(const OptimizerConfig& cfg,
                           const ConstantRun& run,
                           int t,
                           float lr,
                           std::int64_t m,
                           const std::vector<std::size_t>& ends) {
    const std::vector<float>& w = run.versions[static_cast<std::size_t>(t)];
    std::vector<float> out(w.size());
    rewind(cfg, out, w, run.state, t, lr, m, ends);
    return out;
}

// SGD with dampening τ = μ and a constant gradient: b_1 = g and b ← μ·b + (1 − μ)·g keeps b = g,
// so every update is exactly −lr·g and Ŵ = W_t + m·lr·b_t is W_{t−m}. With μ = τ = 0.5, lr 0.25
// and gradients on a 1/4 grid every value is exact in float: the reconstruction is bit-exact.
TEST(Rewind, SgdWithDampeningEqualToMomentumIsExact) {
    const OptimizerConfig cfg{.momentum = 0.5F, .dampening = 0.5F, .weightDecay = 0.0F};
    const std::vector<float> w0{1.5F, -2.0F, 0.75F, 3.0F, -0.25F};
    const std::vector<float> g{0.25F, -0.5F, 1.0F, 0.0F, -1.75F};
    const std::vector<std::size_t> ends{5};
    for (int t = 1; t <= 8; ++t) {
        const ConstantRun run = runConstant(cfg, w0, g, t, 0.25F, ends);
        for (std::int64_t m = 0; m <= t; ++m) {
            EXPECT_EQ(rewound(cfg, run, t, 0.25F, m, ends),
                      run.versions[static_cast<std::size_t>(t - m)])
                << "t " << t << " m " << m;
        }
    }
}

// SGD with a constant gradient, any dampening, heavy ball or Nesterov: b_i = c_i·g and the
// window correction κ makes Ŵ = W_{t−m} at every step, during b's warm-up too, where the plain
// m·lr·b_t would overshoot (pinned here: for μ = 0.5, τ = 0, t = m = 2 it gives W_0 + 0.5·lr·g).
TEST(Rewind, SgdIsExactForAConstantGradientFromTheFirstStep) {
    struct Case {
        float tau;
        bool nesterov;
    };

    for (const Case k : {Case{0.0F, false}, Case{0.3F, false}, Case{0.0F, true}}) {
        SCOPED_TRACE(testing::Message() << "dampening " << k.tau << " nesterov " << k.nesterov);
        const OptimizerConfig cfg{
            .momentum = 0.5F, .dampening = k.tau, .nesterov = k.nesterov, .weightDecay = 0.0F};
        const std::vector<float> w0{1.0F, -3.0F, 0.5F};
        const std::vector<float> g{0.5F, 1.0F, -2.0F};
        const std::vector<std::size_t> ends{3};
        for (const int t : {1, 2, 3, 6, 40}) {
            const ConstantRun run = runConstant(cfg, w0, g, t, 0.1F, ends);
            for (std::int64_t m = 0; m <= std::min(t, 6); ++m) {
                const std::vector<float> got = rewound(cfg, run, t, 0.1F, m, ends);
                const std::vector<float>& exact = run.versions[static_cast<std::size_t>(t - m)];
                for (std::size_t i = 0; i < g.size(); ++i) {
                    EXPECT_NEAR(got[i], exact[i], 1e-6F * (8.0F + std::abs(exact[i])))
                        << "t " << t << " m " << m << " element " << i;
                }
            }
        }
    }
    // Heavy ball, μ = 0.5, t = m = 2: b_2 = 1.5·g, so m·lr·b_2 = 3·lr·g, while the two updates were
    // lr·g + 1.5·lr·g = 2.5·lr·g: the correction, not luck, makes it exact.
    const OptimizerConfig plain{.momentum = 0.5F, .weightDecay = 0.0F};
    const ConstantRun run = runConstant(plain, {0.0F}, {1.0F}, 2, 0.25F, {1});
    EXPECT_EQ(rewound(plain, run, 2, 0.25F, 2, {1}), std::vector<float>{0.0F});
    EXPECT_EQ(run.versions.back(), std::vector<float>{-0.625F});
}

// Adam with a constant gradient and no decay steps exactly lr·g/(|g| + ε) from the first update,
// so the reconstruction is exact (to float rounding) at every step.
TEST(Rewind, AdamWithConstantGradientIsExact) {
    const OptimizerConfig cfg{.kind = OptimizerKind::Adam, .weightDecay = 0.0F};
    const std::vector<float> w0{0.5F, -1.0F, 2.0F, 0.0F};
    const std::vector<float> g{1.0F, -3.0F, 0.02F, 250.0F};
    const std::vector<std::size_t> ends{4};
    for (int t = 1; t <= 6; ++t) {
        const ConstantRun run = runConstant(cfg, w0, g, t, 0.01F, ends);
        for (std::int64_t m = 1; m <= t; ++m) {
            const std::vector<float> got = rewound(cfg, run, t, 0.01F, m, ends);
            for (std::size_t i = 0; i < g.size(); ++i) {
                EXPECT_NEAR(got[i], run.versions[static_cast<std::size_t>(t - m)][i], 2e-6)
                    << "t " << t << " m " << m;
            }
        }
    }
}

// AdamW and LAMB: Ŵ = W_t + m·lr·ratio_ℓ·(m̂/(sqrt(v̂) + ε) + λ·W_t), computed here in double
// from the optimizer's state (ratio 1 for AdamW; ‖W_t‖/‖r‖ per tensor for LAMB).
TEST(Rewind, AdamWAndLambUseTheDirectionTheirStateImplies) {
    const std::vector<std::size_t> ends{20, 23, 30};
    std::vector<float> w0(30);
    std::vector<float> g(30);
    test::fillWeightsAndGrads(w0, g, 8, 0.3F);
    for (const OptimizerKind kind : {OptimizerKind::AdamW, OptimizerKind::Lamb}) {
        SCOPED_TRACE(std::string(toString(kind)));
        const OptimizerConfig cfg{.kind = kind, .weightDecay = 0.05F};
        const int t = 5;
        const std::int64_t m = 3;
        const double lr = 0.02;
        const ConstantRun run = runConstant(cfg, w0, g, t, static_cast<float>(lr), ends);
        const std::vector<float> got = rewound(cfg, run, t, static_cast<float>(lr), m, ends);
        const std::vector<float>& w = run.versions.back();
        const std::size_t n = w.size();
        std::vector<double> r(n);
        for (std::size_t i = 0; i < n; ++i) {
            const double mHat = static_cast<double>(run.state[i]) / (1.0 - std::pow(0.9, t));
            const double vHat = static_cast<double>(run.state[n + i]) / (1.0 - std::pow(0.999, t));
            r[i] = mHat / (std::sqrt(vHat) + 1e-8) + 0.05 * static_cast<double>(w[i]);
        }
        std::size_t lo = 0;
        for (const std::size_t hi : ends) {
            double wn = 0.0, rn = 0.0;
            for (std::size_t i = lo; i < hi; ++i) {
                wn += static_cast<double>(w[i]) * static_cast<double>(w[i]);
                rn += r[i] * r[i];
            }
            const double ratio = kind == OptimizerKind::Lamb ? std::sqrt(wn / rn) : 1.0;
            for (std::size_t i = lo; i < hi; ++i) {
                const double want =
                    static_cast<double>(w[i]) + static_cast<double>(m) * lr * ratio * r[i];
                EXPECT_NEAR(got[i], want, 2e-6 * (1.0 + std::abs(want))) << "element " << i;
            }
            lo = hi;
        }
    }
}

TEST(Rewind, SameBitsForOneAndFourThreads) {
    const std::size_t n = (std::size_t{1} << 17) + 5;
    const std::vector<std::size_t> ends{1000, n - 7000, n};
    std::vector<float> w0(n);
    std::vector<float> g(n);
    test::fillWeightsAndGrads(w0, g, 3, 0.1F);
    for (const OptimizerConfig cfg :
         {OptimizerConfig{.momentum = 0.9F, .nesterov = true},
          OptimizerConfig{.kind = OptimizerKind::Adam},
          OptimizerConfig{.kind = OptimizerKind::Lamb, .weightDecay = 0.01F}}) {
        SCOPED_TRACE(std::string(toString(cfg.kind)));
        const ConstantRun run = runConstant(cfg, w0, g, 2, 0.05F, ends);
        const auto at = [&](int threads) {
            const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                            static_cast<std::size_t>(threads));
            return rewound(cfg, run, 2, 0.05F, 3, ends);
        };
        const std::vector<float> one = at(1);
        EXPECT_EQ(one, at(4));
        EXPECT_NE(one, run.versions.back());
    }
}

TEST(Rewind, SgdWithoutMomentumIsRejected) {
    try {
        requireRewindable({.momentum = 0.0F});
        ADD_FAILURE() << "no error for SGD without momentum";
    } catch (const InputError& e) {
        EXPECT_NE(
            std::string(e.what()).find("pipeline.policy momentum needs optimizer.momentum > 0"),
            std::string::npos)
            << e.what();
    }
    EXPECT_NO_THROW(requireRewindable({.momentum = 0.9F}));
    for (const OptimizerKind k : {OptimizerKind::Adam, OptimizerKind::AdamW, OptimizerKind::Lamb}) {
        EXPECT_NO_THROW(requireRewindable({.kind = k, .momentum = 0.0F}));
    }
    std::vector<float> out(3);
    const std::vector<float> w(3, 1.0F);
    const std::vector<float> state(3, 0.5F);
    EXPECT_THROW(rewind({.momentum = 0.0F}, out, w, {}, 1, 0.1F, 1), ContractError);
    EXPECT_THROW(rewind({.momentum = 0.9F}, out, w, state, 0, 0.1F, 1), ContractError);
    EXPECT_THROW(rewind({.kind = OptimizerKind::Adam}, out, w, state, 1, 0.1F, 1), ContractError);
}

}  // namespace
}  // namespace lp::core::optim
