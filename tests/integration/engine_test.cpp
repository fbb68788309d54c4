// The pipelined engine against its oracles (DESIGN.md section 4): the ReferenceRunner to the bit
// for every K, policy and thread count; an independent delayed-SGD simulation for exact stashing;
// plain sequential SGD for K = 1 and all-zero delays.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/engine.hpp"

#include "core/error.hpp"
#include "core/nn/loss.hpp"
#include "core/pipeline/epoch_plan.hpp"
#include "core/pipeline/reference_runner.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/tiny_pipeline.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>

namespace lp::core::pipeline {
namespace {

using test::copyStageWeights;
using test::cutsFor;
using test::runPipeline;
using test::RunResult;
using test::sameBits;
using test::specFor;
using test::tinyBatch;
using test::tinyLr;
using test::tinySpec;
using test::wholeModelGradients;

TEST(Engine, EqualsReferenceRunnerToTheBit) {
    for (const std::int64_t k : {1, 2, 4, 10}) {
        for (const WeightPolicy policy : {WeightPolicy::Latest,
                                          WeightPolicy::Stash,
                                          WeightPolicy::Ema,
                                          WeightPolicy::Momentum}) {
            const PipelineSpec spec = specFor(cutsFor(k), policy);
            const RunResult ref = runPipeline(spec, 1, true);
            ASSERT_EQ(ref.losses.size(), 14U);
            for (const int threads : {1, 2, 4}) {
                const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                                static_cast<std::size_t>(threads));
                const RunResult eng = runPipeline(spec, threads, false);
                EXPECT_EQ(eng.losses, ref.losses)
                    << "K=" << k << " policy=" << toString(policy) << " threads=" << threads;
                EXPECT_TRUE(sameBits(eng.state.weights, ref.state.weights))
                    << "K=" << k << " policy=" << toString(policy) << " threads=" << threads;
                EXPECT_TRUE(sameBits(eng.state.buffers, ref.state.buffers));
            }
        }
    }
}

// Plain sequential SGD over the whole model: the oracle for K = 1 and for all-zero delays.
model::ModelState sequentialSgd(const PipelineSpec& spec,
                                std::int64_t minibatches,
                                const model::ResNetSpec& modelSpec = tinySpec()) {
    const model::ResNet net(modelSpec);
    model::ModelState st = model::ModelState::create(net, 3);
    const optim::Optimizer opt(spec.optimizer);
    AlignedBuffer grads(net.weightCount());
    AlignedBuffer state(opt.stateSize(net.weightCount()));
    std::vector<model::UnitContext> ctxs;
    for (std::int64_t j = 0; j < minibatches; ++j) {
        wholeModelGradients(net,
                            st.weights.span(),
                            st.weights.span(),
                            st.buffers.span(),
                            tinyBatch(0, j),
                            ctxs,
                            grads);
        opt.step(st.weights.span(), grads.span(), state.span(), j + 1, tinyLr(j));
    }
    return st;
}

TEST(Engine, OneStageAndZeroDelaysEqualSequentialSgd) {
    const std::int64_t m = 6;
    const model::ModelState seq = sequentialSgd(specFor({}, WeightPolicy::Stash), m);
    const RunResult k1 = runPipeline(specFor({}, WeightPolicy::Stash), 2, false, m, 1);
    EXPECT_TRUE(sameBits(k1.state.weights, seq.weights));
    PipelineSpec zero = specFor({3, 5, 7}, WeightPolicy::Ema);
    zero.delays = {0, 0, 0, 0};
    const RunResult z = runPipeline(zero, 2, false, m, 1);
    EXPECT_TRUE(sameBits(z.state.weights, seq.weights));
    EXPECT_TRUE(
        std::all_of(z.staleness.begin(), z.staleness.end(), [](std::int64_t s) { return s == 0; }));
}

// Exact stashing: update j of stage s applies the gradient of minibatch j computed entirely at
// the weights its forward saw, W_s^{j − min(j, D_s)} on every stage — an independent delayed-SGD
// simulation that keeps every version of the model.
TEST(Engine, StashAppliesTheExactGradientOfTheStashedVersion) {
    const std::vector<std::int64_t> cuts{3, 6};
    const PipelineSpec spec = specFor(cuts, WeightPolicy::Stash);
    const std::int64_t m = 9;
    const DelayPlan delays = DelayPlan::layerPipeDefault(3);  // (4, 2, 0)
    test::DelayedSgd sim(spec);
    AlignedBuffer scratchBuffers(sim.net.bufferCount());
    for (std::int64_t j = 0; j < m; ++j) {
        // The weights minibatch j's forward saw, stage by stage.
        for (std::int64_t s = 0; s < 3; ++s) {
            const auto& src =
                sim.versions[static_cast<std::size_t>(j - std::min(j, delays.delay(s)))];
            copyStageWeights(sim.net, sim.part, s, src.weights, sim.forwardWeights);
        }
        scratchBuffers = sim.versions.back().buffers;
        wholeModelGradients(sim.net,
                            sim.forwardWeights.span(),
                            sim.forwardWeights.span(),
                            scratchBuffers.span(),
                            tinyBatch(0, j),
                            sim.ctxs,
                            sim.grads);
        sim.update(sim.versions.back().buffers, j + 1, tinyLr(j));
    }
    const RunResult eng = runPipeline(spec, 2, false, m, 1);
    EXPECT_TRUE(sameBits(eng.state.weights, sim.versions.back().weights));
    // Staleness: min(j, D_s) for update j of stage s (recorded per stage in order).
    ASSERT_EQ(eng.staleness.size(), static_cast<std::size_t>(3 * m));
    for (std::int64_t s = 0; s < 3; ++s) {
        for (std::int64_t j = 0; j < m; ++j) {
            EXPECT_EQ(eng.staleness[static_cast<std::size_t>(s * m + j)],
                      std::min(j, delays.delay(s)));
        }
    }
}

TEST(Ema, ReconstructionIsExactForConstantUpdates) {
    const std::size_t n = 70000;  // several parallel chunks
    std::vector<float> w(n);
    std::vector<float> d(n, 0.0F);
    std::vector<std::vector<float>> history;
    Rng rng(4);
    for (float& x : w) {
        x = rng.normal();
    }
    std::vector<float> step(n);
    for (std::size_t i = 0; i < n; ++i) {
        step[i] = 0.25F * static_cast<float>(i % 7) - 0.75F;  // exactly representable
    }
    const float beta = emaBeta(EmaBetaMode::Window, 4, 0.0F);  // 0.6
    for (std::int64_t k = 1; k <= 6; ++k) {
        history.push_back(w);
        std::vector<float> next(n);
        for (std::size_t i = 0; i < n; ++i) {
            next[i] = w[i] + step[i];
        }
        emaAccumulate(d, next, w, beta);
        w = next;
        for (std::int64_t m = 1; m <= std::min<std::int64_t>(k, 4); ++m) {
            std::vector<float> out(n);
            emaReconstruct(out, w, d, beta, k, m);
            const auto& exact = history[static_cast<std::size_t>(k - m)];
            double err = 0.0;
            for (std::size_t i = 0; i < n; ++i) {
                err = std::max(err, static_cast<double>(std::abs(out[i] - exact[i])));
            }
            EXPECT_LT(err, 1e-5) << "k=" << k << " m=" << m;
        }
    }
}

TEST(Ema, BetaModes) {
    EXPECT_FLOAT_EQ(emaBeta(EmaBetaMode::Window, 6, 0.0F), 5.0F / 7.0F);
    EXPECT_FLOAT_EQ(emaBeta(EmaBetaMode::Plain, 6, 0.0F), 6.0F / 7.0F);
    EXPECT_FLOAT_EQ(emaBeta(EmaBetaMode::Fixed, 6, 0.3F), 0.3F);
    EXPECT_FLOAT_EQ(emaBeta(EmaBetaMode::Window, 0, 0.0F), 0.0F);
}

TEST(Engine, EmaDiagnosticReportsReconstructionError) {
    PipelineSpec spec = specFor({5}, WeightPolicy::Ema);
    spec.diagnostic = true;
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    telemetry::Recorder rec(2);
    PipelineCore core(net, init, spec, &rec);
    Engine(core, 2).runEpoch(0, 8, tinyBatch, tinyLr, 0, 0);
    const auto batch = rec.drain();
    ASSERT_FALSE(batch.reconstruction.empty());
    for (const auto& r : batch.reconstruction) {
        EXPECT_EQ(r.stage, 0);
        EXPECT_GE(r.relativeError, 0.0F);
        EXPECT_LT(r.relativeError, 0.5F);
    }
    // The shadow stash is reported apart from the EMA's history.
    bool sawShadow = false;
    for (const auto& m : batch.memory) {
        sawShadow =
            sawShadow || (m.category == telemetry::MemoryCategory::DiagnosticShadow && m.bytes > 0);
    }
    EXPECT_TRUE(sawShadow);
}

// Issue 14: `layerpipe study` turns the shadow stash on for its EMA and momentum runs to measure
// the reconstruction error; that must leave the training's bits exactly as without it.
TEST(Engine, DiagnosticStashDoesNotChangeTheTrainingBits) {
    for (const WeightPolicy policy : {WeightPolicy::Ema, WeightPolicy::Momentum}) {
        PipelineSpec plain = specFor({3, 6}, policy);
        PipelineSpec diagnosed = plain;
        diagnosed.diagnostic = true;
        const RunResult a = runPipeline(plain, 2, false);
        const RunResult b = runPipeline(diagnosed, 2, false);
        ASSERT_EQ(a.losses.size(), 14U);
        EXPECT_EQ(a.losses, b.losses) << toString(policy);
        EXPECT_TRUE(sameBits(a.state.weights, b.state.weights)) << toString(policy);
        EXPECT_TRUE(sameBits(a.state.buffers, b.state.buffers)) << toString(policy);
    }
}

TEST(Engine, EveryLegalDelayVectorFinishes) {
    Rng rng(17);
    for (int trial = 0; trial < 12; ++trial) {
        std::vector<std::int64_t> d(3);
        for (auto& v : d) {
            v = static_cast<std::int64_t>(rng.below(6));
        }
        std::sort(d.rbegin(), d.rend());
        PipelineSpec spec = specFor({3, 6}, WeightPolicy::Stash);
        spec.delays = d;
        const RunResult r = runPipeline(spec, 2, false, 5, 1);
        EXPECT_EQ(r.losses.size(), 5U);
    }
    PipelineSpec bad = specFor({3, 6}, WeightPolicy::Stash);
    bad.delays = {1, 2, 0};
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    EXPECT_THROW(PipelineCore(net, init, bad, nullptr), InputError);
}

TEST(Engine, GPipeHasNoStalenessAndTheExpectedBubbles) {
    PipelineSpec spec = specFor({3, 5, 7}, WeightPolicy::Latest);
    spec.schedule = ScheduleKind::GPipe;
    spec.microBatches = 4;
    const RunResult eng = runPipeline(spec, 2, false, 3, 1);
    const RunResult ref = runPipeline(spec, 1, true, 3, 1);
    EXPECT_EQ(eng.losses, ref.losses);
    EXPECT_TRUE(sameBits(eng.state.weights, ref.state.weights));
    EXPECT_TRUE(std::all_of(
        eng.staleness.begin(), eng.staleness.end(), [](std::int64_t s) { return s == 0; }));
    // Per minibatch 2(M + K − 1) ticks, of which each stage is busy 2M: idle (K−1)/(M+K−1).
    const auto plan = epochPlan(DelayPlan::custom(4, {0, 0, 0, 0}), ScheduleKind::GPipe, 1, 4);
    EXPECT_EQ(plan[0].back().tick + 1, 2 * (4 + 4 - 1));
}

// GPipe splits each minibatch into M micro-batches and accumulates their gradients (each loss
// scaled by 1/M) before one update: on a model without BatchNorm — whose batch statistics would
// differ per micro-batch — that is full-batch SGD up to the order of float additions.
TEST(Engine, GPipeEqualsFullBatchAccumulationWithoutBatchNorm) {
    model::ResNetSpec noBn = tinySpec();
    noBn.batchNorm = false;
    PipelineSpec spec = specFor({3, 5, 7}, WeightPolicy::Latest);
    spec.schedule = ScheduleKind::GPipe;
    spec.microBatches = 4;
    const std::int64_t m = 3;
    const RunResult gpipe = runPipeline(spec, 2, false, m, 1, noBn);
    const model::ModelState full = sequentialSgd(spec, m, noBn);
    ASSERT_EQ(gpipe.state.weights.size(), full.weights.size());
    double maxDiff = 0.0;
    double maxAbs = 0.0;
    for (std::size_t i = 0; i < full.weights.size(); ++i) {
        maxDiff = std::max(
            maxDiff,
            static_cast<double>(std::abs(gpipe.state.weights.data()[i] - full.weights.data()[i])));
        maxAbs = std::max(maxAbs, static_cast<double>(std::abs(full.weights.data()[i])));
    }
    EXPECT_LT(maxDiff, 1e-5 * maxAbs) << "max |GPipe - full batch| = " << maxDiff;
    EXPECT_FALSE(sameBits(gpipe.state.weights, full.weights))  // different summation order
        << "the micro-batches were not split";

    // With BatchNorm the micro-batch statistics differ, and so do the weights: the check above is
    // sharp enough to see it.
    const RunResult gpipeBn = runPipeline(spec, 2, false, m, 1);
    const model::ModelState fullBn = sequentialSgd(spec, m);
    double maxDiffBn = 0.0;
    for (std::size_t i = 0; i < fullBn.weights.size(); ++i) {
        maxDiffBn = std::max(maxDiffBn,
                             static_cast<double>(std::abs(gpipeBn.state.weights.data()[i] -
                                                          fullBn.weights.data()[i])));
    }
    EXPECT_GT(maxDiffBn, 100.0 * maxDiff);
}

TEST(Engine, StageExceptionSurfacesAndEngineStaysUsable) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    PipelineCore core(net, init, specFor({3, 5, 7}, WeightPolicy::Stash), nullptr);
    Engine engine(core, 2);
    const BatchSource failing = [](std::int64_t e, std::int64_t i) {
        if (i == 3) {
            throw InputError("dataset file is corrupt at batch 3");
        }
        return tinyBatch(e, i);
    };
    EXPECT_THROW(engine.runEpoch(0, 6, failing, tinyLr, 0, 0), InputError);
    const auto again = engine.runEpoch(0, 6, tinyBatch, tinyLr, 0, 0);
    EXPECT_TRUE(again.completed);
}

TEST(Engine, StoppingMidEpochLeavesItRestartable) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    PipelineCore core(net, init, specFor({3, 5, 7}, WeightPolicy::Ema), nullptr);
    Engine engine(core, 2);
    // Step 4 ticks at a time, stop after 12.
    const auto stepped = engine.runEpoch(0, 10, tinyBatch, tinyLr, 0, 0, [](std::int64_t done) {
        const std::int64_t next = done < 0 ? 3 : done + 4;
        return next > 12 ? -1 : next;
    });
    EXPECT_FALSE(stepped.completed);
    const auto full = engine.runEpoch(1, 10, tinyBatch, tinyLr, 10, 0);
    EXPECT_TRUE(full.completed);
    EXPECT_EQ(full.stats.minibatches, 10);
}

TEST(Engine, SteppingByTicksGivesTheSameBitsAsRunning) {
    const PipelineSpec spec = specFor({3, 5, 7}, WeightPolicy::Stash);
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    PipelineCore core(net, init, spec, nullptr);
    Engine engine(core, 2);
    const auto out = engine.runEpoch(0, 7, tinyBatch, tinyLr, 0, 0, [](std::int64_t done) {
        return done < 0 ? 0 : done + 1;  // one tick at a time
    });
    EXPECT_TRUE(out.completed);
    const RunResult ref = runPipeline(spec, 1, true, 7, 1);
    EXPECT_TRUE(sameBits(core.gather().weights, ref.state.weights));
}

}  // namespace
}  // namespace lp::core::pipeline
