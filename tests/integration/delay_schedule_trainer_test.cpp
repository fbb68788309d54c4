// Delay schedules (issue 14) in the Trainer: per-epoch delays from the config, ticks that run on
// over epochs of different lengths, the adaptive rule's decision from the measured signal,
// resume in the middle of a schedule to the bit, and the static schedule unchanged.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/safetensors.hpp"
#include "core/session/trainer.hpp"
#include "core/telemetry/exporters.hpp"
#include "core/telemetry/recorder.hpp"

#include "tests/support/tiny_trainer.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace lp::core::session {
namespace {

using Delays = std::vector<std::int64_t>;

using lp::test::sameWeights;
using lp::test::tempFile;

io::ExperimentConfig tinyConfig(const char* schedule, const char* policy) {
    io::ExperimentConfig c = lp::test::tinyTrainerConfig();  // 6 steps per epoch
    c.training.epochs = 4;
    c.pipeline.cuts = {4, 7};  // K = 3, base delays (4, 2, 0)
    c.pipeline.policy = *parseChoice<WeightPolicy>(policy);
    c.pipeline.delaySchedule = *parseChoice<DelayScheduleKind>(schedule);
    if (std::string(schedule) == "epochs") {
        c.pipeline.delayScales = {1, 0.5, 0};  // (4,2,0), (2,1,0), then (0,0,0) twice
    }
    return c;
}

std::int64_t planTicks(const Delays& d, std::int64_t steps) {
    return pipeline::simulateTicks(d, steps).tickCount();
}

TEST(DelaySchedule, EpochsScheduleSetsEachEpochsDelaysAndTicksRunOn) {
    const io::ExperimentConfig c = tinyConfig("epochs", "stash");
    telemetry::Recorder recorder(3);
    Trainer t(Experiment::create(c, false), &recorder);
    EXPECT_EQ(t.layout().delays, (Delays{4, 2, 0}));  // the envelope sizes the memory
    EXPECT_EQ(t.layout().delaySchedule, "epochs");
    const std::vector<Delays> expected = {{4, 2, 0}, {2, 1, 0}, {0, 0, 0}, {0, 0, 0}};
    std::int64_t first = 0;
    std::vector<std::int64_t> firstTicks;
    while (!t.finished()) {
        const auto e = static_cast<std::size_t>(t.epoch());
        EXPECT_EQ(t.delays(), expected[e]);
        EXPECT_EQ(t.epochFirstTick(), first);
        const EpochReport r = t.runEpoch();
        EXPECT_EQ(r.delays, expected[e]);
        EXPECT_EQ(r.delayScale, (std::vector<double>{1, 0.5, 0, 0})[e]);
        EXPECT_EQ(r.firstTick, first);
        EXPECT_EQ(r.ticks, planTicks(expected[e], 6));
        ASSERT_EQ(r.updateSize.size(), 3U);
        EXPECT_TRUE(r.updateSize[0].has_value());
        firstTicks.push_back(first);
        first += r.ticks;
    }
    EXPECT_EQ(firstTicks[1], 6 + 4);  // DESIGN.md section 4: M + 2K − 2
    const telemetry::TelemetryBatch b = recorder.drain();
    // Every op lies inside its epoch's ticks, so the timeline never overlaps two epochs.
    for (const telemetry::OpEvent& op : b.ops) {
        const auto e = static_cast<std::size_t>(op.minibatch / 6);
        EXPECT_GE(op.tick, firstTicks[e]);
        EXPECT_LT(op.tick, firstTicks[e] + planTicks(expected[e], 6));
    }
    // Each epoch's delays are recorded when it starts (no signal yet, so the timeline can show
    // them from its first tick) and when it completes, with the measured signal.
    ASSERT_EQ(b.delays.size(), 24U);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(b.delays[i].epoch, 0);
        EXPECT_TRUE(std::isnan(b.delays[i].updateSize));
    }
    const std::vector<telemetry::DelaySample> final = telemetry::finalDelays(b.delays);
    ASSERT_EQ(final.size(), 12U);
    for (const telemetry::DelaySample& d : final) {
        const auto e = static_cast<std::size_t>(d.epoch);
        EXPECT_EQ(d.delay, expected[e][static_cast<std::size_t>(d.stage)]);
        EXPECT_EQ(d.firstTick, firstTicks[e]);
        EXPECT_EQ(d.ticks, planTicks(expected[e], 6));
        EXPECT_TRUE(std::isfinite(d.updateSize) && d.updateSize > 0.0);
    }
}

// The adaptive rule decides epoch e + 1's scale from what epoch e measured.
TEST(DelaySchedule, AdaptiveRuleActsOnTheMeasuredUpdateSize) {
    io::ExperimentConfig c = tinyConfig("adaptive", "ema");
    c.pipeline.adaptiveDrift = 0.01;
    c.pipeline.adaptiveMinScale = 0.0;
    Trainer t(Experiment::create(c, false), nullptr);
    EXPECT_EQ(t.delays(), (Delays{4, 2, 0}));  // epoch 0: full delay
    EXPECT_EQ(t.delayScale(), 1.0);
    for (int e = 0; e < 3; ++e) {
        const EpochReport r = t.runEpoch();
        const double expected =
            pipeline::adaptiveScale(t.experiment().delaySchedule.spec(), {4, 2, 0}, r.updateSize);
        EXPECT_EQ(t.delayScale(), expected) << "after epoch " << e;
        EXPECT_EQ(t.delays(), pipeline::scaledDelays({4, 2, 0}, expected));
    }
    // The tiny model moves fast at lr 0.05: the rule shrinks the delays below full.
    EXPECT_LT(t.delayScale(), 1.0);
}

// "one epoch, save, resume" equals an uninterrupted run to the bit, ticks included, in the
// middle of a schedule; the adaptive rule's state travels in the checkpoint.
TEST(DelaySchedule, ResumeInTheMiddleOfAScheduleIsBitIdentical) {
    for (const char* schedule : {"epochs", "adaptive"}) {
        for (const char* policy : {"stash", "ema", "latest", "momentum"}) {
            SCOPED_TRACE(std::string(schedule) + " / " + policy);
            io::ExperimentConfig c = tinyConfig(schedule, policy);
            c.pipeline.adaptiveDrift = 0.01;
            telemetry::Recorder straightRec(3);
            Trainer straight(Experiment::create(c, false), &straightRec);
            std::vector<EpochReport> reports;
            while (!straight.finished()) {
                reports.push_back(straight.runEpoch());
            }
            Trainer first(Experiment::create(c, false), nullptr);
            first.runEpoch();
            first.runEpoch();
            const auto file = tempFile(std::string("delay-resume-") + schedule + policy);
            first.save(file);
            telemetry::Recorder resumedRec(3);
            Trainer resumed(Experiment::create(checkpointConfig(file), false), &resumedRec);
            resumed.load(file, true);
            EXPECT_EQ(resumed.delays(), reports[2].delays);
            EXPECT_EQ(resumed.delayScale(), reports[2].delayScale);
            EXPECT_EQ(resumed.epochFirstTick(), reports[2].firstTick);
            while (!resumed.finished()) {
                const EpochReport r = resumed.runEpoch();
                EXPECT_EQ(r.delays, reports[static_cast<std::size_t>(r.epoch)].delays);
                EXPECT_EQ(r.firstTick, reports[static_cast<std::size_t>(r.epoch)].firstTick);
            }
            EXPECT_TRUE(sameWeights(straight, resumed));
            // The resumed epochs' ops carry exactly the uninterrupted run's ticks.
            std::map<std::pair<std::int64_t, int>, std::int64_t> ticks;
            for (const auto& op : straightRec.drain().ops) {
                if (op.minibatch >= 12) {
                    ticks[{op.minibatch * 4 + static_cast<int>(op.op), op.stage}] = op.tick;
                }
            }
            const auto resumedOps = resumedRec.drain().ops;
            ASSERT_EQ(resumedOps.size(), ticks.size());
            for (const auto& op : resumedOps) {
                EXPECT_EQ(op.tick, (ticks[{op.minibatch * 4 + static_cast<int>(op.op), op.stage}]));
            }
            std::filesystem::remove(file);
        }
    }
}

TEST(DelaySchedule, AdaptiveRunHasTheSameBitsWithOneTwoAndFourThreads) {
    std::vector<std::unique_ptr<Trainer>> trainers;
    for (const std::int64_t threads : {1, 2, 4}) {
        const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                        static_cast<std::size_t>(threads));
        io::ExperimentConfig c = tinyConfig("adaptive", "ema");
        c.pipeline.adaptiveDrift = 0.01;
        c.training.threads = threads;
        trainers.push_back(lp::test::trainedToTheEnd(c));
        EXPECT_EQ(trainers.back()->delayScale(), trainers.front()->delayScale());
    }
    EXPECT_TRUE(sameWeights(*trainers[0], *trainers[1]));
    EXPECT_TRUE(sameWeights(*trainers[0], *trainers[2]));
}

// Static is today's run: a schedule of scale 1 in every epoch changes nothing in the bits, and a
// static run's checkpoint carries no schedule metadata.
TEST(DelaySchedule, StaticIsUnchangedAndScaleOneChangesNoBits) {
    io::ExperimentConfig c = tinyConfig("static", "ema");
    c.training.epochs = 2;
    Trainer fixed(Experiment::create(c, false), nullptr);
    fixed.runEpoch();
    fixed.runEpoch();
    c.pipeline.delaySchedule = DelayScheduleKind::Epochs;
    c.pipeline.delayScales = {1};
    Trainer ones(Experiment::create(c, false), nullptr);
    ones.runEpoch();
    const EpochReport r = ones.runEpoch();
    EXPECT_EQ(r.delays, (Delays{4, 2, 0}));
    EXPECT_TRUE(sameWeights(fixed, ones));
    EXPECT_EQ(fixed.epochFirstTick(), 2 * fixed.ticksPerEpoch());

    const auto file = tempFile("delay-static");
    fixed.save(file);
    const auto meta = io::readSafetensors(file).metadata;
    EXPECT_EQ(meta.count("delay_scale"), 0U);
    EXPECT_EQ(meta.count("tick"), 0U);
    EXPECT_EQ(meta.count("ema_updates_per_stage"), 0U);
    std::filesystem::remove(file);
}

}  // namespace
}  // namespace lp::core::session
