// The momentum weight policy and the EMA under every optimizer (issue 14): engine = reference to
// the bit for 1/2/4 threads, an independent simulation whose backwards use the rewound weights,
// memory accounting, the diagnostic, the error for SGD without momentum, and what the EMA
// averages (the applied update ΔW, whatever the optimizer).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "core/nn/loss.hpp"
#include "core/optim/rewind.hpp"
#include "core/pipeline/engine.hpp"
#include "core/pipeline/reference_runner.hpp"

#include "tests/support/expect_input_error.hpp"
#include "tests/support/tiny_pipeline.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>

namespace lp::core::pipeline {
namespace {

using test::runPipeline;
using test::sameBits;
using test::specFor;
using test::tinyBatch;
using test::tinyLr;
using test::tinySpec;

std::vector<optim::OptimizerConfig> everyOptimizer() {
    return {{.momentum = 0.9F, .weightDecay = 5e-4F},
            {.momentum = 0.9F, .nesterov = true, .weightDecay = 5e-4F},
            {.kind = optim::OptimizerKind::Adam, .weightDecay = 5e-4F},
            {.kind = optim::OptimizerKind::AdamW, .weightDecay = 1e-2F},
            {.kind = optim::OptimizerKind::Lamb, .weightDecay = 1e-2F}};
}

TEST(WeightPolicy, MomentumAndEmaEqualTheReferenceUnderEveryOptimizer) {
    for (const WeightPolicy policy : {WeightPolicy::Momentum, WeightPolicy::Ema}) {
        for (const optim::OptimizerConfig& opt : everyOptimizer()) {
            PipelineSpec spec = specFor({3, 5, 7}, policy);
            spec.optimizer = opt;
            const std::string what = std::string(toString(policy)) + " / " +
                                     std::string(optim::toString(opt.kind)) +
                                     (opt.nesterov ? " nesterov" : "");
            const test::RunResult ref = runPipeline(spec, 1, true, 6, 2);
            ASSERT_EQ(ref.losses.size(), 12U) << what;
            for (const int threads : {1, 2, 4}) {
                const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                                static_cast<std::size_t>(threads));
                const test::RunResult eng = runPipeline(spec, threads, false, 6, 2);
                EXPECT_EQ(eng.losses, ref.losses) << what << " threads=" << threads;
                EXPECT_TRUE(sameBits(eng.state.weights, ref.state.weights))
                    << what << " threads=" << threads;
            }
        }
    }
}

// An independent delayed-SGD simulation of the momentum policy: the forward of minibatch j on
// stage s uses W_s^{j − m_s} (m_s = min(j, D_s)); its backward uses
// rewind(W_s^j, b_s^j, step j, lr of update j − 1, m_s) — the weights rebuilt from SGD's own
// momentum buffer. The engine must reproduce it to the bit.
TEST(WeightPolicy, MomentumBackwardUsesTheWeightsRewoundFromTheOptimizerState) {
    for (const bool nesterov : {false, true}) {
        const std::vector<std::int64_t> cuts{3, 6};
        PipelineSpec spec = specFor(cuts, WeightPolicy::Momentum);
        spec.optimizer.nesterov = nesterov;
        const std::int64_t m = 9;
        const DelayPlan delays = DelayPlan::layerPipeDefault(3);  // (4, 2, 0)
        test::DelayedSgd sim(spec);
        const model::ResNet& net = sim.net;
        AlignedBuffer backwardWeights(net.weightCount());
        AlignedBuffer scratchBuffers(net.bufferCount());
        for (std::int64_t j = 0; j < m; ++j) {
            const model::ModelState& now = sim.versions.back();
            for (std::int64_t s = 0; s < 3; ++s) {
                const std::int64_t stale = std::min(j, delays.delay(s));
                const auto& old = sim.versions[static_cast<std::size_t>(j - stale)];
                test::copyStageWeights(net, sim.part, s, old.weights, sim.forwardWeights);
                const std::size_t lo =
                    net.weightOffset(static_cast<std::size_t>(sim.part.firstUnit(s)));
                const std::size_t hi =
                    net.weightOffset(static_cast<std::size_t>(sim.part.endUnit(s)));
                const std::span<float> out = backwardWeights.span().subspan(lo, hi - lo);
                const std::span<const float> w = now.weights.span().subspan(lo, hi - lo);
                if (stale == 0) {
                    std::copy(w.begin(), w.end(), out.begin());
                } else {
                    optim::rewind(spec.optimizer,
                                  out,
                                  w,
                                  sim.state.span().subspan(lo, hi - lo),
                                  j,
                                  tinyLr(j - 1),
                                  stale);
                }
            }
            scratchBuffers = now.buffers;
            test::wholeModelGradients(net,
                                      sim.forwardWeights.span(),
                                      backwardWeights.span(),
                                      scratchBuffers.span(),
                                      tinyBatch(0, j),
                                      sim.ctxs,
                                      sim.grads);
            sim.update(now.buffers, j + 1, tinyLr(j));
        }
        const test::RunResult eng = runPipeline(spec, 2, false, m, 1);
        EXPECT_TRUE(sameBits(eng.state.weights, sim.versions.back().weights))
            << (nesterov ? "nesterov" : "heavy ball");
        // Not a policy in disguise: the same run with the latest weights differs.
        const test::RunResult latest =
            runPipeline(specFor(cuts, WeightPolicy::Latest), 2, false, m, 1);
        EXPECT_FALSE(sameBits(eng.state.weights, latest.state.weights));
    }
}

// Momentum keeps no weight history: 0 bytes under `history`, its Ŵ scratch (P·4 bytes on a stage
// with D > 0) under `weights`; the diagnostic adds a shadow stash reported apart and measures
// ‖Ŵ − W_v‖/‖W_v‖.
TEST(WeightPolicy, MomentumHoldsNoHistoryAndItsDiagnosticMeasuresTheError) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    for (const bool diagnostic : {false, true}) {
        PipelineSpec spec = specFor({3, 5, 7}, WeightPolicy::Momentum);
        spec.diagnostic = diagnostic;
        telemetry::Recorder rec(4);
        PipelineCore core(net, init, spec, &rec);
        PipelineCore latest(net, init, specFor({3, 5, 7}, WeightPolicy::Latest), nullptr);
        Engine(core, 2).runEpoch(0, 8, tinyBatch, tinyLr, 0, 0);
        for (std::int64_t s = 0; s < 4; ++s) {
            const StageMemory mm = core.stage(s).memory();
            const StageMemory ml = latest.stage(s).memory();
            const auto p = static_cast<std::int64_t>(core.stage(s).paramCount() * sizeof(float));
            EXPECT_EQ(mm.history, 0) << "stage " << s;
            EXPECT_EQ(mm.weights - ml.weights, core.delays().delay(s) > 0 ? p : 0) << s;
            EXPECT_EQ(mm.optimizer, ml.optimizer);
            EXPECT_EQ(mm.shadow > 0, diagnostic && core.delays().delay(s) > 0) << s;
        }
        const telemetry::TelemetryBatch batch = rec.drain();
        bool sawHistory = false;
        for (const auto& sample : batch.memory) {
            sawHistory =
                sawHistory ||
                (sample.category == telemetry::MemoryCategory::WeightHistory && sample.bytes != 0);
        }
        EXPECT_FALSE(sawHistory);
        EXPECT_EQ(batch.reconstruction.empty(), !diagnostic);
        for (const auto& r : batch.reconstruction) {
            EXPECT_LT(r.stage, 3);  // the last stage has D = 0
            EXPECT_TRUE(std::isfinite(r.relativeError));
            if (r.minibatch == 1) {
                // One update back is the last update itself: b_1 = g_1, Ŵ = W_1 + lr·b_1 = W_0.
                EXPECT_LT(r.relativeError, 1e-6F) << "stage " << r.stage;
            } else {
                EXPECT_GT(r.relativeError, 1e-4F) << "stage " << r.stage;
            }
        }
    }
}

TEST(WeightPolicy, MomentumWithoutOptimizerStateIsAnInputError) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    PipelineSpec spec = specFor({3, 5, 7}, WeightPolicy::Momentum);
    spec.optimizer.momentum = 0.0F;
    test::expectInputError([&] { PipelineCore core(net, init, spec, nullptr); },
                           {"pipeline.policy momentum needs optimizer.momentum > 0", "got"});
    spec.optimizer.kind = optim::OptimizerKind::Adam;  // Adam's moments are state enough
    EXPECT_NO_THROW(PipelineCore(net, init, spec, nullptr));
}

// What the EMA averages: the update actually applied, ΔW = W_new − W_old, not the gradient —
// so the same rule serves SGD, Adam, AdamW and LAMB. One stage (the whole net, D = 2) driven op
// by op; after every update its buffer d must equal, to the bit, the EMA of the weight changes
// recorded here: d ← β·d + (1 − β)·(W_new − W_old), β = (D − 1)/(D + 1).
TEST(WeightPolicy, EmaAveragesTheAppliedUpdateUnderEveryOptimizer) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    for (const optim::OptimizerConfig& opt : everyOptimizer()) {
        SCOPED_TRACE(std::string(optim::toString(opt.kind)));
        const StageSettings settings{.delay = 2, .policy = WeightPolicy::Ema, .optimizer = opt};
        Stage stage(net,
                    0,
                    0,
                    static_cast<std::int64_t>(net.unitCount()),
                    settings,
                    init.weights.span(),
                    init.buffers.span());
        const float beta = emaBeta(EmaBetaMode::Window, 2, 0.0F);
        std::vector<float> expected(stage.paramCount(), 0.0F);
        std::map<std::int64_t, Tensor> gradLogits;
        for (const StageOp& op : stageOrder(2, 6)) {
            const MiniBatch b = tinyBatch(0, op.unit);
            if (op.kind == OpKind::Forward) {
                const Tensor logits = stage.forward(op.unit, b.images);
                gradLogits[op.unit] = nn::softmaxCrossEntropy(logits, b.labels).gradLogits;
                continue;
            }
            stage.backward(op.unit, gradLogits.at(op.unit));
            const std::vector<float> before(stage.weights().begin(), stage.weights().end());
            stage.update(tinyLr(op.unit));
            for (std::size_t i = 0; i < expected.size(); ++i) {
                expected[i] = beta * expected[i] + (1.0F - beta) * (stage.weights()[i] - before[i]);
            }
            const std::span<float> d = stage.mutableEma();
            ASSERT_EQ(d.size(), expected.size());
            EXPECT_EQ(std::memcmp(d.data(), expected.data(), d.size_bytes()), 0)
                << "after update " << stage.version();
        }
        EXPECT_EQ(stage.emaUpdates(), 6);
    }
}

}  // namespace
}  // namespace lp::core::pipeline
