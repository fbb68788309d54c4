// Delay schedules (issue 14) in the engine: delays changed between epochs keep the semantics
// exact — staleness min(j, D_s(e)) in every epoch, exact stashing equal to an independent
// delayed-SGD simulation, the engine equal to the ReferenceRunner to the bit for 1, 2 and 4
// threads — and the measured update size is what it says.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "core/nn/loss.hpp"
#include "core/pipeline/engine.hpp"
#include "core/pipeline/reference_runner.hpp"

#include "tests/support/tiny_pipeline.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace lp::core::pipeline {
namespace {

using Delays = std::vector<std::int64_t>;
constexpr std::int64_t kSteps = 9;  // minibatches per epoch

// The tiny ResNet, its toy data and the step-varying LR shared by the engine tests.
using lp::test::tinyBatch;
using lp::test::tinySpec;

float lrOf(std::int64_t step) {
    return lp::test::tinyLr(step);
}

// K = 4 (base 6, 4, 2, 0): full delay, half, none, the full delay again, a third.
const std::vector<Delays> kEpochDelays = {
    {6, 4, 2, 0}, {3, 2, 1, 0}, {0, 0, 0, 0}, {6, 4, 2, 0}, {2, 1, 0, 0}};
const std::vector<std::int64_t> kCuts = {3, 5, 7};

PipelineSpec specFor(WeightPolicy policy) {
    PipelineSpec s;
    s.cuts = kCuts;
    s.policy = policy;
    s.optimizer = {.momentum = 0.9F, .weightDecay = 5e-4F};
    return s;
}

struct ScheduleRun {
    model::ModelState state;
    std::vector<float> losses;
    telemetry::TelemetryBatch telemetry;
};

// One epoch per entry of kEpochDelays, the delays set between epochs.
ScheduleRun runSchedule(const PipelineSpec& spec, int threads, bool reference) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    telemetry::Recorder recorder(static_cast<std::int32_t>(spec.cuts.size() + 1));
    PipelineCore core(net, init, spec, &recorder);
    for (std::size_t e = 0; e < kEpochDelays.size(); ++e) {
        core.setDelays(kEpochDelays[e]);
        const auto epoch = static_cast<std::int64_t>(e);
        if (reference) {
            ReferenceRunner(core).runEpoch(epoch, kSteps, tinyBatch, lrOf, epoch * kSteps);
        } else {
            Engine engine(core, threads);
            EXPECT_TRUE(
                engine.runEpoch(epoch, kSteps, tinyBatch, lrOf, epoch * kSteps, 0).completed);
        }
    }
    ScheduleRun r{.state = core.gather(), .losses = {}, .telemetry = recorder.drain()};
    for (const auto& t : r.telemetry.train) {
        r.losses.push_back(t.loss);
    }
    return r;
}

bool sameBits(const AlignedBuffer& a, const AlignedBuffer& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

TEST(DelayChange, StalenessIsMinOfJAndEachEpochsDelay) {
    for (const WeightPolicy policy :
         {WeightPolicy::Latest, WeightPolicy::Stash, WeightPolicy::Ema, WeightPolicy::Momentum}) {
        SCOPED_TRACE(toString(policy));
        const ScheduleRun r = runSchedule(specFor(policy), 1, true);
        std::vector<std::int64_t> seen(4, 0);  // updates per stage so far
        for (const telemetry::StalenessSample& s : r.telemetry.staleness) {
            const auto si = static_cast<std::size_t>(s.stage);
            const std::int64_t e = seen[si] / kSteps;
            const std::int64_t j = seen[si] % kSteps;
            const std::int64_t d = kEpochDelays[static_cast<std::size_t>(e)][si];
            EXPECT_EQ(s.update, seen[si] + 1);
            EXPECT_EQ(s.staleness, std::min(j, d)) << "stage " << s.stage << " epoch " << e;
            EXPECT_EQ(s.configuredDelay, d) << "stage " << s.stage << " epoch " << e;
            ++seen[si];
        }
        EXPECT_EQ(seen, std::vector<std::int64_t>(4, 5 * kSteps));
    }
}

TEST(DelayChange, EngineEqualsReferenceRunnerForEveryThreadCount) {
    for (const WeightPolicy policy :
         {WeightPolicy::Latest, WeightPolicy::Stash, WeightPolicy::Ema, WeightPolicy::Momentum}) {
        PipelineSpec spec = specFor(policy);
        spec.measureUpdates = true;
        spec.diagnostic = policy == WeightPolicy::Ema || policy == WeightPolicy::Momentum;
        const ScheduleRun ref = runSchedule(spec, 1, true);
        ASSERT_EQ(ref.losses.size(), 5U * kSteps);
        for (const int threads : {1, 2, 4}) {
            const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                            static_cast<std::size_t>(threads));
            const ScheduleRun eng = runSchedule(spec, threads, false);
            EXPECT_EQ(eng.losses, ref.losses) << toString(policy) << " threads=" << threads;
            EXPECT_TRUE(sameBits(eng.state.weights, ref.state.weights))
                << toString(policy) << " threads=" << threads;
            EXPECT_TRUE(sameBits(eng.state.buffers, ref.state.buffers));
        }
    }
}

// Exact stashing across delay changes equals an independent delayed-SGD simulation that keeps
// every version: update j of epoch e at stage s applies minibatch j's gradient computed at
// W_s^{t_e + j − min(j, D_s(e))} (t_e: updates before the epoch) on every stage.
TEST(DelayChange, StashEqualsDelayedSgdWithEachEpochsDelays) {
    const PipelineSpec spec = specFor(WeightPolicy::Stash);
    lp::test::DelayedSgd sim(spec);
    for (std::size_t e = 0; e < kEpochDelays.size(); ++e) {
        const auto t0 = static_cast<std::int64_t>(e) * kSteps;
        for (std::int64_t j = 0; j < kSteps; ++j) {
            for (std::int64_t s = 0; s < 4; ++s) {
                const std::int64_t d = kEpochDelays[e][static_cast<std::size_t>(s)];
                const auto& src = sim.versions[static_cast<std::size_t>(t0 + j - std::min(j, d))];
                lp::test::copyStageWeights(sim.net, sim.part, s, src.weights, sim.forwardWeights);
            }
            AlignedBuffer buffers = sim.versions.back().buffers;
            lp::test::wholeModelGradients(sim.net,
                                          sim.forwardWeights.span(),
                                          sim.forwardWeights.span(),
                                          buffers.span(),
                                          tinyBatch(static_cast<std::int64_t>(e), j),
                                          sim.ctxs,
                                          sim.grads);
            sim.update(buffers, t0 + j + 1, lrOf(t0 + j));
        }
    }
    const ScheduleRun eng = runSchedule(spec, 2, false);
    EXPECT_TRUE(sameBits(eng.state.weights, sim.versions.back().weights));
}

// The delays follow into memory: a shrunk stash ring gives its buffers back, the EMA buffer
// exists exactly while the delay is positive and restarts (k = 0) when the delay changes.
TEST(DelayChange, HistoryMemoryFollowsTheDelays) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    for (const WeightPolicy policy : {WeightPolicy::Stash, WeightPolicy::Ema}) {
        SCOPED_TRACE(toString(policy));
        PipelineCore core(net, init, specFor(policy), nullptr);
        for (const Delays& d : kEpochDelays) {
            core.setDelays(d);
            for (std::int64_t s = 0; s < 4; ++s) {
                const Stage& st = core.stage(s);
                const auto bytes = static_cast<std::int64_t>(st.paramCount() * sizeof(float));
                const std::int64_t ds = d[static_cast<std::size_t>(s)];
                EXPECT_EQ(st.settings().delay, ds);
                if (policy == WeightPolicy::Ema) {
                    EXPECT_EQ(st.memory().history, ds > 0 ? bytes : 0) << "stage " << s;
                    EXPECT_EQ(st.emaUpdates(), 0);
                } else {
                    EXPECT_LE(st.memory().history, ds * bytes) << "stage " << s;
                }
            }
            ReferenceRunner(core).runEpoch(0, kSteps, tinyBatch, lrOf, 0);
            for (std::int64_t s = 0; s < 4; ++s) {
                const Stage& st = core.stage(s);
                const auto bytes = static_cast<std::int64_t>(st.paramCount() * sizeof(float));
                const std::int64_t ds = d[static_cast<std::size_t>(s)];
                // A full ring (kSteps > D + 1) holds D versions: DESIGN.md section 5's formula.
                EXPECT_EQ(st.memory().history,
                          policy == WeightPolicy::Stash ? ds * bytes : (ds > 0 ? bytes : 0));
            }
        }
    }
}

// The adaptive rule's signal: mean ‖W_new − W_old‖ / ‖W_old‖ over a stage's updates.
TEST(DelayChange, UpdateSizeIsTheRelativeChangeOfTheStagesWeights) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    PipelineSpec spec = specFor(WeightPolicy::Latest);
    spec.measureUpdates = true;
    PipelineCore core(net, init, spec, nullptr);
    const model::ModelState before = core.gather();
    ReferenceRunner(core).runEpoch(0, 1, tinyBatch, lrOf, 0);  // one update per stage
    const model::ModelState after = core.gather();
    for (std::int64_t s = 0; s < 4; ++s) {
        const std::size_t lo =
            net.weightOffset(static_cast<std::size_t>(core.stage(s).firstUnit()));
        double num = 0.0;
        double den = 0.0;
        for (std::size_t i = lo; i < lo + core.stage(s).paramCount(); ++i) {
            const double w0 = static_cast<double>(before.weights[i]);
            const double d = static_cast<double>(after.weights[i]) - w0;
            num += d * d;
            den += w0 * w0;
        }
        ASSERT_TRUE(core.stage(s).meanUpdateSize().has_value());
        EXPECT_NEAR(*core.stage(s).meanUpdateSize(), std::sqrt(num / den), 1e-9) << "stage " << s;
        EXPECT_GT(*core.stage(s).meanUpdateSize(), 0.0);
    }
    // A new epoch starts a new mean; without measuring there is none.
    core.beginEpoch(1, 1, tinyBatch, lrOf, 1, 0);
    EXPECT_FALSE(core.stage(0).meanUpdateSize().has_value());
    core.abortEpoch();
    PipelineCore plain(net, init, specFor(WeightPolicy::Latest), nullptr);
    ReferenceRunner(plain).runEpoch(0, 1, tinyBatch, lrOf, 0);
    EXPECT_FALSE(plain.stage(0).meanUpdateSize().has_value());
}

TEST(DelayChange, IllegalOrMidEpochChangesAreRefused) {
    const model::ResNet net(tinySpec());
    const model::ModelState init = model::ModelState::create(net, 3);
    PipelineCore core(net, init, specFor(WeightPolicy::Stash), nullptr);
    EXPECT_THROW(core.setDelays({2, 3, 1, 0}), InputError);  // increasing: deadlock
    EXPECT_THROW(core.setDelays({2, 1, 0}), InputError);     // wrong length
    EXPECT_EQ(core.delays().delays(), (Delays{6, 4, 2, 0}));
    // A minibatch in flight: the delays cannot change until the pipeline is drained.
    core.beginEpoch(0, kSteps, tinyBatch, lrOf, 0, 0);
    core.execute(0, {.kind = OpKind::Forward, .unit = 0, .tick = 0});
    EXPECT_THROW(core.setDelays({1, 1, 1, 0}), ContractError);
    core.abortEpoch();
    core.setDelays({1, 1, 1, 0});
    EXPECT_EQ(core.delays().delays(), (Delays{1, 1, 1, 0}));
    EXPECT_EQ(core.layout().delays, (Delays{6, 4, 2, 0}));  // the layout keeps the built delays
    PipelineSpec gpipe = specFor(WeightPolicy::Stash);
    gpipe.schedule = ScheduleKind::GPipe;
    PipelineCore g(net, init, gpipe, nullptr);
    EXPECT_THROW(g.setDelays({0, 0, 0, 0}), ContractError);
}

}  // namespace
}  // namespace lp::core::pipeline
