// The forecast (core/session/forecast.hpp, issue 16) against what a tiny real run measures: the
// layout the Trainer reports, the ticks of its epoch, the utilisation and bubble the run summary
// computes from the recorded ops, and each stage's peak bytes per memory category — exact for
// weights, weight history, optimizer state and the diagnostic shadow, and for activations the
// peak is `inFlight` times one minibatch's. Several layouts, every policy, both schedules and a
// delay schedule, on the shared tiny network (tests/support/tiny_pipeline).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/forecast.hpp"

#include "core/session/trainer.hpp"
#include "core/telemetry/exporters.hpp"
#include "core/telemetry/recorder.hpp"
#include "core/telemetry/summary.hpp"

#include "tests/support/synthetic_experiment.hpp"
#include "tests/support/tiny_pipeline.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace lp::core::session {
namespace {

using telemetry::MemoryCategory;

constexpr std::int64_t kSteps = 12;  // minibatches per epoch: every stash ring fills

// The tiny network of tests/support as an experiment document: synthetic data, SGD with
// momentum, `cuts` and `policy`.
io::ExperimentConfig tinyConfig(std::vector<std::int64_t> cuts, const char* policy) {
    const model::ResNetSpec spec = test::tinySpec();
    io::ExperimentConfig c = test::syntheticExperiment({.width = spec.width,
                                                        .train = kSteps * test::kTinyBatch,
                                                        .test = test::kTinyBatch,
                                                        .batch = test::kTinyBatch,
                                                        .epochs = 1});
    c.model.inputSize = spec.inSize;
    c.model.inputChannels = spec.inChannels;
    c.model.classes = spec.classes;
    c.training.threads = 2;
    c.optimizer.lr = 0.05;
    c.pipeline.cuts = std::move(cuts);
    c.pipeline.policy = *parseChoice<WeightPolicy>(policy);
    return c;
}

struct Measured {
    telemetry::PipelineLayout layout;
    telemetry::TelemetryLog firstEpoch;  // what the first epoch recorded
    telemetry::TelemetryLog all;
    std::int64_t ticks = 0;  // the first epoch's plan
};

Measured run(const io::ExperimentConfig& c) {
    Measured m;
    telemetry::Recorder recorder(static_cast<std::int32_t>(c.pipeline.cuts.size()) + 1);
    Trainer trainer(Experiment::create(c, false), &recorder);
    m.layout = trainer.layout();
    m.ticks = trainer.ticksPerEpoch();
    trainer.runEpoch();
    const telemetry::TelemetryBatch first = recorder.drain();
    m.firstEpoch.append(first);
    m.all.append(first);
    while (!trainer.finished()) {
        trainer.runEpoch();
        m.all.append(recorder.drain());
    }
    return m;
}

void expectForecastMatchesRun(const io::ExperimentConfig& c) {
    const PipelineForecast f = forecastOrThrow(c);
    const Measured m = run(c);
    const auto fields = [](const telemetry::PipelineLayout& l) {
        return std::tie(l.unitNames,
                        l.stageOfUnit,
                        l.delays,
                        l.stageParams,
                        l.policy,
                        l.schedule,
                        l.delaySchedule);
    };
    EXPECT_EQ(fields(f.layout), fields(m.layout));  // the layout the Trainer reports
    EXPECT_EQ(f.minibatches, kSteps);
    EXPECT_EQ(f.ticksPerEpoch, m.ticks);

    const telemetry::RunSummary summary =
        telemetry::summarise(m.firstEpoch, m.layout, kSteps, test::kTinyBatch);
    ASSERT_TRUE(summary.utilisation && summary.bubble);
    EXPECT_EQ(*summary.utilisation, f.utilisation);  // the same integers, so the same bits
    EXPECT_EQ(*summary.bubble, f.bubble);

    std::map<std::pair<std::int32_t, MemoryCategory>, std::int64_t> peak;
    std::map<std::int32_t, std::int64_t> firstActivations;  // one minibatch's, after F of 0
    for (const telemetry::MemorySample& x : m.all.memory()) {
        std::int64_t& p = peak[{x.stage, x.category}];
        p = std::max(p, x.bytes);
        if (x.category == MemoryCategory::Activations && !firstActivations.contains(x.stage)) {
            firstActivations[x.stage] = x.bytes;
        }
    }
    ASSERT_EQ(f.stageMemory.size(), m.layout.delays.size());
    for (std::size_t s = 0; s < f.stageMemory.size(); ++s) {
        const auto si = static_cast<std::int32_t>(s);
        const StageForecast& st = f.stageMemory[s];
        for (const MemoryCategory cat : {MemoryCategory::Weights,
                                         MemoryCategory::WeightHistory,
                                         MemoryCategory::OptimizerState,
                                         MemoryCategory::DiagnosticShadow}) {
            ASSERT_TRUE(st.at(cat).has_value());
            EXPECT_EQ(*st.at(cat), (peak[{si, cat}]))
                << "stage " << s << " " << telemetry::memoryCategoryName(cat);
        }
        EXPECT_FALSE(st.at(MemoryCategory::Activations).has_value());
        EXPECT_EQ((peak[{si, MemoryCategory::Activations}]), st.inFlight * firstActivations[si])
            << "stage " << s;
    }
}

TEST(Forecast, MatchesRunsOfEveryPolicy) {
    expectForecastMatchesRun(tinyConfig({}, "stash"));
    expectForecastMatchesRun(tinyConfig(test::cutsFor(4), "stash"));
    expectForecastMatchesRun(tinyConfig(test::cutsFor(4), "latest"));
    io::ExperimentConfig ema = tinyConfig(test::cutsFor(4), "ema");
    ema.pipeline.diagnosticStash = true;
    expectForecastMatchesRun(ema);
    io::ExperimentConfig momentum = tinyConfig(test::cutsFor(2), "momentum");
    momentum.optimizer.kind = OptimizerKind::Adam;  // two moments of state per parameter
    momentum.optimizer.lr = 0.001;
    expectForecastMatchesRun(momentum);
}

TEST(Forecast, MatchesRunsOfCustomDelaysGPipeAndADelaySchedule) {
    io::ExperimentConfig custom = tinyConfig({2, 6}, "stash");
    custom.pipeline.delays = {3, 3, 0};
    expectForecastMatchesRun(custom);
    for (const std::int64_t m : {2, 4}) {
        io::ExperimentConfig gpipe = tinyConfig(test::cutsFor(4), "stash");
        gpipe.pipeline.schedule = ScheduleKind::GPipe;
        gpipe.pipeline.microBatches = m;
        expectForecastMatchesRun(gpipe);
    }
    io::ExperimentConfig scaled = tinyConfig({4, 7}, "ema");
    scaled.training.epochs = 2;
    scaled.pipeline.delaySchedule = DelayScheduleKind::Epochs;
    scaled.pipeline.delayScales = {1, 0.5};
    expectForecastMatchesRun(scaled);
    const PipelineForecast f = forecastOrThrow(scaled);
    EXPECT_EQ(f.epochDelays, (std::vector<std::vector<std::int64_t>>{{4, 2, 0}, {2, 1, 0}}));
}

}  // namespace
}  // namespace lp::core::session
