// Delay schedules (issue 14): the per-epoch delays, the adaptive rule's decision on constructed
// signals, and the config keys' validation (bad scales named with the allowed range).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/delay_schedule.hpp"

#include "core/io/config.hpp"
#include "core/pipeline/plan.hpp"
#include "core/telemetry/exporters.hpp"
#include "core/telemetry/run_reader.hpp"

#include "tests/support/expect_input_error.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <vector>

namespace lp::core::pipeline {
namespace {

using lp::test::expectInputError;
using Delays = std::vector<std::int64_t>;

TEST(DelaySchedule, ScaledDelaysAreFlooredAndStayLegal) {
    const Delays base = {6, 4, 2, 0};
    EXPECT_EQ(scaledDelays(base, 1.0), base);
    EXPECT_EQ(scaledDelays(base, 0.5), (Delays{3, 2, 1, 0}));
    EXPECT_EQ(scaledDelays(base, 0.3), (Delays{1, 1, 0, 0}));
    EXPECT_EQ(scaledDelays(base, 0.0), (Delays{0, 0, 0, 0}));
    EXPECT_EQ(scaledDelays(base, 2.0), (Delays{12, 8, 4, 0}));
    // 0.7 is a hair below 7/10 in binary: the floor must still give 7.
    EXPECT_EQ(scaledDelays({10}, 0.7), Delays{7});
    EXPECT_EQ(scaledDelays({100}, 0.29), Delays{29});
    // Every scale of a non-increasing base gives a legal (non-increasing) vector.
    const Delays custom = {18, 16, 9, 9, 7, 3, 2, 2, 1, 0};
    for (int i = 0; i <= 400; ++i) {
        const double c = 0.01 * i;
        EXPECT_EQ(DelayPlan::whyIllegal(10, scaledDelays(custom, c)), "") << "scale " << c;
    }
    EXPECT_THROW(scaledDelays(base, -0.1), ContractError);
    EXPECT_THROW(scaledDelays(base, 4.5), ContractError);
}

TEST(DelaySchedule, EpochsKeepTheLastScaleAndTheEnvelopeCoversTheRun) {
    const DelaySchedule s({.kind = DelayScheduleKind::Epochs, .scales = {0.5, 1.0, 0.25}},
                          {6, 4, 2, 0});
    EXPECT_EQ(s.firstScale(), 0.5);
    EXPECT_EQ(*s.plannedScale(1), 1.0);
    EXPECT_EQ(*s.plannedScale(2), 0.25);
    EXPECT_EQ(*s.plannedScale(9), 0.25);  // past the end: the last
    EXPECT_EQ(s.nextScale(0, {}), 1.0);
    EXPECT_EQ(s.nextScale(5, {}), 0.25);
    EXPECT_EQ(s.delaysAt(0.25), (Delays{1, 1, 0, 0}));
    // A one-epoch run never reaches scale 1: its envelope is epoch 0's delays.
    EXPECT_EQ(s.envelope(1), (Delays{3, 2, 1, 0}));
    EXPECT_EQ(s.envelope(2), (Delays{6, 4, 2, 0}));
    EXPECT_EQ(s.envelope(50), (Delays{6, 4, 2, 0}));
    EXPECT_TRUE(s.measures());

    const DelaySchedule fixed({}, {6, 4, 2, 0});
    EXPECT_TRUE(fixed.isStatic());
    EXPECT_FALSE(fixed.measures());
    EXPECT_EQ(fixed.delaysAt(fixed.firstScale()), (Delays{6, 4, 2, 0}));
    EXPECT_EQ(fixed.envelope(3), (Delays{6, 4, 2, 0}));
}

// The adaptive rule on constructed signals: c' = clamp(τ / max_s(base_s·u_s), min, 1).
TEST(DelaySchedule, AdaptiveRuleKeepsTheLargestDriftAtTheTarget) {
    const Delays base = {6, 4, 2, 0};
    DelayScheduleSpec spec{
        .kind = DelayScheduleKind::Adaptive, .adaptiveDrift = 0.02, .adaptiveMinScale = 0.0};
    // Drifts at full delay: 6·0.001 = 0.006, 4·0.004 = 0.016, 2·0.008 = 0.016; the last stage
    // (no delay) moves most but has no staleness and does not count.
    using U = std::vector<std::optional<double>>;
    EXPECT_EQ(adaptiveScale(spec, base, U{0.001, 0.004, 0.008, 0.5}), 1.0);  // 0.02/0.016 > 1
    EXPECT_DOUBLE_EQ(adaptiveScale(spec, base, U{0.01, 0.004, 0.008, 0.5}), 0.02 / 0.06);
    EXPECT_DOUBLE_EQ(adaptiveScale(spec, base, U{0.001, 0.001, 0.05, 0.0}), 0.02 / 0.1);
    // The floor, and nothing measured.
    spec.adaptiveMinScale = 0.25;
    EXPECT_EQ(adaptiveScale(spec, base, U{0.001, 0.001, 0.05, 0.0}), 0.25);
    EXPECT_EQ(adaptiveScale(spec, base, U{std::nullopt, std::nullopt, std::nullopt, 0.1}), 1.0);
    EXPECT_EQ(adaptiveScale(spec, base, U{0.0, 0.0, 0.0, 0.0}), 1.0);

    const DelaySchedule s(spec, base);
    EXPECT_EQ(s.firstScale(), 1.0);  // epoch 0 runs at full delay
    EXPECT_FALSE(s.plannedScale(0).has_value());
    const double c = s.nextScale(0, U{0.01, 0.004, 0.008, 0.5});
    EXPECT_DOUBLE_EQ(c, 1.0 / 3.0);
    EXPECT_EQ(s.delaysAt(c), (Delays{2, 1, 0, 0}));
    EXPECT_EQ(s.envelope(10), base);
}

void expectRejected(const nlohmann::json& pipeline, std::initializer_list<std::string> fragments) {
    SCOPED_TRACE(pipeline.dump());
    expectInputError([&] { io::parseConfig({{"pipeline", pipeline}}); }, fragments);
}

TEST(DelaySchedule, ConfigKeysAreValidatedByName) {
    using nlohmann::json;
    expectRejected({{"delaySchedule", "epochs"}, {"delayScales", {1, 0.5, 5}}},
                   {"'pipeline.delayScales[2]' must be in [0, 4], got 5"});
    expectRejected({{"delaySchedule", "epochs"}, {"delayScales", {-0.5}}},
                   {"'pipeline.delayScales[0]' must be in [0, 4], got -0.5"});
    expectRejected({{"delaySchedule", "epochs"}, {"delayScales", {1, "a"}}},
                   {"'pipeline.delayScales[1]' must be a number, got string"});
    expectRejected({{"delaySchedule", "epochs"}},
                   {"'pipeline.delayScales' must list at least one scale", "[0, 4]"});
    expectRejected(
        {{"delayScales", {0.5}}},
        {"'pipeline.delayScales' is only used with pipeline.delaySchedule = epochs", "'static'"});
    expectRejected({{"delaySchedule", "sometimes"}},
                   {"'pipeline.delaySchedule' must be one of static, epochs, adaptive"});
    expectRejected({{"delaySchedule", "adaptive"}, {"schedule", "gpipe"}},
                   {"'pipeline.delaySchedule' must be static with the gpipe schedule"});
    expectRejected({{"adaptiveDrift", 0}}, {"'pipeline.adaptiveDrift' must be in (0, 1], got 0"});
    expectRejected({{"adaptiveMinScale", 1.5}},
                   {"'pipeline.adaptiveMinScale' must be in [0, 1], got 1.5"});
    // A scale that pushes a delay past 256 names the stage's delay and the largest scale.
    expectRejected(
        {{"cuts", {5}}, {"delays", {100, 0}}, {"delaySchedule", "epochs"}, {"delayScales", {1, 3}}},
        {"'pipeline.delayScales[1]' (3)", "floor(3 * 100) = 300", "<= 2.56"});

    const io::ExperimentConfig ok = io::parseConfig({{"pipeline",
                                                      {{"cuts", {3, 5, 7}},
                                                       {"delaySchedule", "epochs"},
                                                       {"delayScales", {1, 0.5, 0.25}},
                                                       {"adaptiveDrift", 0.05}}}});
    EXPECT_EQ(ok.pipeline.delayScales, (std::vector<double>{1, 0.5, 0.25}));
    EXPECT_EQ(io::parseConfig(io::toJson(ok)), ok);
    EXPECT_EQ(io::parseConfigText(io::toJson(ok).dump(4)), ok);
}

TEST(DelaySchedule, OverridesTakeAListOfNumbers) {
    io::ExperimentConfig c;
    io::applyOverride(c, "pipeline.delaySchedule", "epochs");
    io::applyOverride(c, "pipeline.delayScales", "1,0.5, 0.25");
    EXPECT_EQ(c.pipeline.delayScales, (std::vector<double>{1, 0.5, 0.25}));
    io::applyOverride(c, "pipeline.delayScales", "[0.75]");
    EXPECT_EQ(c.pipeline.delayScales, std::vector<double>{0.75});
    io::validate(c);
    expectInputError([&] { io::applyOverride(c, "pipeline.delayScales", "1,x"); },
                     {"'pipeline.delayScales' must be a list of numbers, e.g. 1,0.5", "'1,x'"});
    expectInputError([&] { io::applyOverride(c, "pipeline.delayScales", "1,9"); },
                     {"'pipeline.delayScales[1]' must be in [0, 4], got 9"});
    EXPECT_EQ(c.pipeline.delayScales, std::vector<double>{0.75});  // unchanged on error
}

// delays.csv: the final record of each (epoch, stage), read back bit for bit; a run folder from
// before delay schedules (no delays.csv, no layout.delaySchedule) still reads.
TEST(DelaySchedule, DelaysCsvRoundTripsAndOldRunFoldersStillRead) {
    namespace fs = std::filesystem;
    using telemetry::DelaySample;
    const fs::path dir = fs::temp_directory_path() / concat("lp_delays_csv_", ::getpid());
    fs::remove_all(dir);
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    telemetry::TelemetryBatch b;
    // Epoch 0 starts (no signal yet) and completes; epoch 1 starts and is stopped.
    b.delays = {{0, 0, 2, 1.0, kNaN, 0, 9},
                {0, 1, 0, 1.0, kNaN, 0, 9},
                {0, 0, 2, 1.0, 0.1 / 3.0, 0, 9},
                {0, 1, 0, 1.0, 2e-7, 0, 9},
                {1, 0, 1, 0.7, kNaN, 9, 12},
                {1, 1, 0, 0.7, kNaN, 9, 12}};
    telemetry::TelemetryLog log;
    log.append(b);
    telemetry::writeCsvs(log, dir);
    const std::vector<DelaySample> want = telemetry::finalDelays(log.delays());
    ASSERT_EQ(want.size(), 4U);
    const std::vector<DelaySample> got = telemetry::readCsvs(dir).delays();
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].epoch, want[i].epoch);
        EXPECT_EQ(got[i].stage, want[i].stage);
        EXPECT_EQ(got[i].delay, want[i].delay);
        EXPECT_EQ(got[i].scale, want[i].scale);
        EXPECT_EQ(std::isnan(got[i].updateSize), std::isnan(want[i].updateSize));
        if (!std::isnan(want[i].updateSize)) {
            EXPECT_EQ(got[i].updateSize, want[i].updateSize);  // shortest text, same bits
        }
        EXPECT_EQ(got[i].firstTick, want[i].firstTick);
        EXPECT_EQ(got[i].ticks, want[i].ticks);
    }
    EXPECT_EQ(got[1].updateSize, 2e-7);
    EXPECT_TRUE(std::isnan(got[2].updateSize));  // epoch 1 never completed
    fs::remove(dir / "delays.csv");
    EXPECT_TRUE(telemetry::readCsvs(dir).delays().empty());

    telemetry::PipelineLayout layout;
    layout.unitNames = {"stem", "head"};
    layout.stageOfUnit = {0, 1};
    layout.delays = {2, 0};
    layout.stageParams = {10, 20};
    layout.policy = "stash";
    layout.schedule = "layerpipe";
    layout.delaySchedule = "adaptive";
    telemetry::writeRunRecord(
        io::toJson(io::ExperimentConfig{}), layout, log, {}, dir / "run.json");
    EXPECT_EQ(telemetry::readRunRecord(dir / "run.json").layout.delaySchedule, "adaptive");
    // Before delay schedules the layout had no such key: static.
    nlohmann::json doc = nlohmann::json::parse(std::ifstream(dir / "run.json"), nullptr, true);
    doc["layout"].erase("delaySchedule");
    std::ofstream(dir / "old.json") << doc.dump();
    EXPECT_EQ(telemetry::readRunRecord(dir / "old.json").layout.delaySchedule, "static");
    fs::remove_all(dir);
}

}  // namespace
}  // namespace lp::core::pipeline
