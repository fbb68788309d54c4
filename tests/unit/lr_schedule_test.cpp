// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/optim/lr_schedule.hpp"

#include "core/error.hpp"

#include "tests/support/expect_input_error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

namespace lp::core::optim {
namespace {

TEST(LrSchedule, ConstantWithoutWarmupIsBaseLr) {
    const LrScheduleConfig cfg{.baseLr = 0.05F};
    for (const std::int64_t s : {0, 1, 17, 100000}) {
        EXPECT_EQ(learningRate(cfg, s), 0.05F) << s;
    }
}

TEST(LrSchedule, LinearWarmupRampsFromBaseOverWToBase) {
    // W = 5: baseLr·(step + 1)/5 for steps 0..4, then the schedule.
    const LrScheduleConfig cfg{.baseLr = 0.1F, .warmupSteps = 5};
    EXPECT_FLOAT_EQ(learningRate(cfg, 0), 0.02F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 2), 0.06F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 4), 0.1F);
    EXPECT_EQ(learningRate(cfg, 5), 0.1F);
    EXPECT_EQ(learningRate(cfg, 50), 0.1F);
}

TEST(LrSchedule, StepDecaysAtBoundaries) {
    const LrScheduleConfig cfg{
        .kind = LrScheduleKind::Step, .baseLr = 0.1F, .stepSize = 10, .gamma = 0.1F};
    EXPECT_EQ(learningRate(cfg, 0), 0.1F);
    EXPECT_EQ(learningRate(cfg, 9), 0.1F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 10), 0.01F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 19), 0.01F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 20), 0.001F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 35), 1e-4F);
}

TEST(LrSchedule, StepCountsFromTheEndOfWarmup) {
    const LrScheduleConfig cfg{.kind = LrScheduleKind::Step,
                               .baseLr = 0.2F,
                               .warmupSteps = 4,
                               .stepSize = 3,
                               .gamma = 0.5F};
    EXPECT_FLOAT_EQ(learningRate(cfg, 0), 0.05F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 3), 0.2F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 4 + 2), 0.2F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 4 + 3), 0.1F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 4 + 6), 0.05F);
}

TEST(LrSchedule, CosineHitsStartMidpointAndEnd) {
    // W = 10, T = 100 cosine steps after the warm-up.
    const LrScheduleConfig cfg{.kind = LrScheduleKind::Cosine,
                               .baseLr = 0.1F,
                               .warmupSteps = 10,
                               .totalSteps = 110,
                               .minLr = 0.001F};
    EXPECT_FLOAT_EQ(learningRate(cfg, 0), 0.01F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 9), 0.1F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 10), 0.1F);
    EXPECT_FLOAT_EQ(learningRate(cfg, 60), 0.0505F);
    const double quarter = 0.001 + (0.1 - 0.001) * (1.0 + std::cos(std::numbers::pi / 4.0)) / 2.0;
    EXPECT_FLOAT_EQ(learningRate(cfg, 35), static_cast<float>(quarter));
    EXPECT_GT(learningRate(cfg, 109), 0.001F);
    EXPECT_EQ(learningRate(cfg, 110), 0.001F);
    EXPECT_EQ(learningRate(cfg, 1000), 0.001F);
    for (std::int64_t s = 10; s < 110; ++s) {
        ASSERT_GE(learningRate(cfg, s), learningRate(cfg, s + 1)) << s;
    }
}

TEST(LrSchedule, NegativeStepIsAContractError) {
    EXPECT_THROW(learningRate(LrScheduleConfig{}, -1), ContractError);
}

TEST(LrSchedule, InvalidConfigsThrowInputErrorNamingTheField) {
    const float nan = std::numeric_limits<float>::quiet_NaN();

    const std::vector<test::BadConfig<LrScheduleConfig>> cases{
        {{.baseLr = 0.0F}, "lrSchedule.baseLr"},
        {{.baseLr = nan}, "lrSchedule.baseLr"},
        {{.baseLr = 11.0F}, "lrSchedule.baseLr"},
        {{.warmupSteps = -1}, "lrSchedule.warmupSteps"},
        {{.kind = LrScheduleKind::Step}, "lrSchedule.stepSize"},
        {{.kind = LrScheduleKind::Step, .stepSize = 5, .gamma = 0.0F}, "lrSchedule.gamma"},
        {{.kind = LrScheduleKind::Step, .stepSize = 5, .gamma = 1.5F}, "lrSchedule.gamma"},
        {{.kind = LrScheduleKind::Cosine}, "lrSchedule.totalSteps"},
        {{.kind = LrScheduleKind::Cosine, .warmupSteps = 10, .totalSteps = 10},
         "lrSchedule.totalSteps"},
        {{.kind = LrScheduleKind::Cosine, .baseLr = 0.1F, .totalSteps = 10, .minLr = 0.2F},
         "lrSchedule.minLr"},
        {{.kind = LrScheduleKind::Cosine, .totalSteps = 10, .minLr = -0.1F}, "lrSchedule.minLr"},
        {{.kind = static_cast<LrScheduleKind>(9)}, "lrSchedule.kind"},
    };
    test::expectEachRefused(cases, [](const LrScheduleConfig& cfg) { validate(cfg); });
    EXPECT_EQ(test::expectInputError([] { validate({.baseLr = -0.1F}); }, {}),
              "lrSchedule.baseLr must be in (0, 10], got -0.1");
    EXPECT_NO_THROW(validate({}));
    EXPECT_NO_THROW(validate({.kind = LrScheduleKind::Step, .stepSize = 1}));
    EXPECT_NO_THROW(validate({.kind = LrScheduleKind::Cosine, .totalSteps = 1}));
}

TEST(LrSchedule, KindNamesRoundTrip) {
    for (const LrScheduleKind k : kLrScheduleKinds) {
        EXPECT_EQ(parseLrScheduleKind(toString(k)), k);
    }
    EXPECT_EQ(toString(LrScheduleKind::Cosine), "cosine");
    EXPECT_EQ(parseLrScheduleKind("step"), LrScheduleKind::Step);
    EXPECT_FALSE(parseLrScheduleKind("linear").has_value());
}

}  // namespace
}  // namespace lp::core::optim
