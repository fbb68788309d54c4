// Partition, DelayPlan and the tick model, against DESIGN.md section 4's worked numbers.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/plan.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace lp::core::pipeline {
namespace {

TEST(Partition, CutsGiveStages) {
    const Partition p(10, {3, 5, 7});
    EXPECT_EQ(p.stageCount(), 4);
    EXPECT_EQ(p.firstUnit(1), 3);
    EXPECT_EQ(p.endUnit(1), 5);
    EXPECT_EQ(p.endUnit(3), 10);
    EXPECT_EQ(p.stageOfUnit(0), 0);
    EXPECT_EQ(p.stageOfUnit(6), 2);
    EXPECT_EQ(p.stageOfUnit(9), 3);
    EXPECT_EQ(Partition(10, {}).stageCount(), 1);
    EXPECT_EQ(Partition::perUnit(10).stageCount(), 10);
}

TEST(Partition, RejectsBadCuts) {
    EXPECT_THROW(Partition(10, {5, 3}), InputError);
    EXPECT_THROW(Partition(10, {0}), InputError);
    EXPECT_THROW(Partition(10, {10}), InputError);
    EXPECT_THROW(Partition(10, {4, 4}), InputError);
}

TEST(DelayPlan, DefaultIsTwiceTheStagesAfter) {
    EXPECT_EQ(DelayPlan::layerPipeDefault(4).delays(), (std::vector<std::int64_t>{6, 4, 2, 0}));
    EXPECT_EQ(DelayPlan::layerPipeDefault(1).delays(), (std::vector<std::int64_t>{0}));
}

TEST(DelayPlan, RejectsIncreasingNegativeAndWrongLength) {
    EXPECT_THROW(DelayPlan::custom(3, {2, 4, 0}), InputError);
    EXPECT_THROW(DelayPlan::custom(3, {2, 1, -1}), InputError);
    EXPECT_THROW(DelayPlan::custom(3, {2, 1}), InputError);
    try {
        DelayPlan::custom(3, {2, 4, 0});
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("deadlock"), std::string::npos) << msg;
        EXPECT_NE(msg.find("non-increasing"), std::string::npos) << msg;
    }
    EXPECT_NO_THROW(DelayPlan::custom(4, {3, 2, 1, 0}));
    EXPECT_NO_THROW(DelayPlan::custom(4, {8, 8, 1, 1}));
}

TEST(StageOrder, EveryForwardFollowsTheRightBackward) {
    const auto order = stageOrder(2, 6);
    // F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 B4 B5
    const std::string expected = "F0F1F2B0F3B1F4B2F5B3B4B5";
    std::string got;
    for (const StageOp& o : order) {
        got += (o.kind == OpKind::Forward ? "F" : "B") + std::to_string(o.unit);
    }
    EXPECT_EQ(got, expected);
}

// DESIGN.md section 4: K = 4, 40 minibatches.
TEST(TickSchedule, ReproducesTheWorkedNumbers) {
    EXPECT_EQ(simulateTicks(DelayPlan::custom(4, {6, 4, 2, 0}), 40).tickCount(), 46);
    EXPECT_EQ(simulateTicks(DelayPlan::custom(4, {8, 6, 4, 0}), 40).tickCount(), 48);
    EXPECT_EQ(simulateTicks(DelayPlan::custom(4, {3, 2, 1, 0}), 40).tickCount(), 75);
    EXPECT_EQ(simulateTicks(DelayPlan::custom(4, {2, 2, 2, 0}), 40).tickCount(), 194);
    EXPECT_EQ(simulateTicks(DelayPlan::custom(4, {0, 0, 0, 0}), 40).tickCount(), 280);
    EXPECT_NEAR(
        simulateTicks(DelayPlan::custom(4, {6, 4, 2, 0}), 40).utilisation(4), 40.0 / 46.0, 1e-12);
}

// Forward j at stage s sees version (number of B before it) = j - min(j, D_s).
std::int64_t stalenessOf(const std::vector<StageOp>& order, std::int64_t j) {
    std::int64_t updates = 0;
    for (const StageOp& o : order) {
        if (o.kind == OpKind::Forward && o.unit == j) {
            return j - updates;
        }
        updates += o.kind == OpKind::Backward ? 1 : 0;
    }
    return -1;
}

// For K <= 5 and every delay 0..8 (DESIGN.md section 4): the order finishes exactly when D is
// non-increasing, and minibatch j's update at stage s is exactly min(j, D_s) stale.
TEST(TickSchedule, FinishesExactlyWhenNonIncreasing) {
    const std::int64_t m = 12;
    int legal = 0;
    int illegal = 0;
    for (std::int64_t k = 1; k <= 4; ++k) {
        std::vector<std::int64_t> d(static_cast<std::size_t>(k), 0);
        while (true) {
            const bool nonIncreasing = std::is_sorted(d.rbegin(), d.rend());
            bool finished = true;
            try {
                static_cast<void>(simulateTicks(d, m));
            } catch (const InputError&) {
                finished = false;
            }
            EXPECT_EQ(finished, nonIncreasing) << "k=" << k << " d0=" << d[0];
            if (nonIncreasing) {
                ++legal;
                for (std::size_t s = 0; s < d.size(); ++s) {
                    const auto order = stageOrder(d[s], m);
                    for (std::int64_t j = 0; j < m; ++j) {
                        ASSERT_EQ(stalenessOf(order, j), std::min(j, d[s]));
                    }
                }
            } else {
                ++illegal;
            }
            std::size_t i = 0;
            while (i < d.size() && ++d[i] > 8) {
                d[i++] = 0;
            }
            if (i == d.size()) {
                break;
            }
        }
    }
    EXPECT_GT(legal, 100);
    EXPECT_GT(illegal, 100);
}

TEST(TickSchedule, FiveStagesRandomisedSweep) {
    // K = 5 over a deterministic pseudo-random sample of delay vectors in 0..8.
    std::uint64_t x = 12345;
    for (int trial = 0; trial < 300; ++trial) {
        std::vector<std::int64_t> d(5);
        for (auto& v : d) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            v = static_cast<std::int64_t>((x >> 33U) % 9U);
        }
        if (trial % 2 == 0) {
            std::sort(d.rbegin(), d.rend());
        }
        const bool nonIncreasing = std::is_sorted(d.rbegin(), d.rend());
        bool finished = true;
        try {
            static_cast<void>(simulateTicks(d, 10));
        } catch (const InputError&) {
            finished = false;
        }
        EXPECT_EQ(finished, nonIncreasing);
    }
}

}  // namespace
}  // namespace lp::core::pipeline
