// The N-machine forecast's model (core/session/cluster_forecast.hpp, issue 15) on hand-computed
// cases: a compute-bound and a link-bound grouping, R < K (two stages on one machine), a delay
// too small for the links, GPipe, the bytes of a real ResNet's boundary as the MPI transport
// sends them (mpi.json: 2,097,192 B per step at width 16, batch 32, after layer1.1) and the
// refusals of bad machine counts and links.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/cluster_forecast.hpp"

#include "core/error.hpp"

#include "tests/support/expect_input_error.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lp::core::session {
namespace {

// Four units, one per stage, 1000 floats per image out of each; batch 10, delays 2·S(s).
PipelineShape fourStages() {
    PipelineShape s;
    for (int u = 0; u < 4; ++u) {
        UnitInfo unit;
        unit.name = "u" + std::to_string(u);
        unit.outputFloats = 1000;
        s.units.push_back(unit);
        s.stageOfUnit.push_back(u);
    }
    s.delays = {6, 4, 2, 0};
    s.batchSize = 10;
    return s;
}

// Unit u: forward f[u] ms, backward 2·f[u] ms, no update.
std::vector<UnitCost> costsMs(const std::vector<double>& f) {
    std::vector<UnitCost> c;
    for (std::size_t u = 0; u < f.size(); ++u) {
        c.push_back({"u" + std::to_string(u), f[u] * 1e-3, 2 * f[u] * 1e-3, 0.0});
    }
    return c;
}

LinkSpec linkOf(double gbitPerSecond, double latencyMicroseconds) {
    LinkSpec l;
    l.gbitPerSecond = gbitPerSecond;
    l.latencyMicroseconds = latencyMicroseconds;
    return l;
}

// 10 images × 1000 floats × 4 B + the 40-byte header, per direction.
constexpr std::int64_t kBoundaryBytes = 40040;

TEST(ClusterForecast, ComputeBoundNamesTheSlowestStage) {
    // 10 Gbit/s, 0 latency: 40,040 B take 32.032 µs, far below stage 2's 3·5 = 15 ms.
    const ClusterForecast f =
        forecastCluster(fourStages(), costsMs({1, 2, 5, 1}), 4, linkOf(10.0, 0.0));
    ASSERT_EQ(f.machines.size(), 4U);
    ASSERT_EQ(f.links.size(), 3U);
    EXPECT_EQ(f.links[1].bytes, kBoundaryBytes);
    EXPECT_EQ(f.links[1].messages, 1);
    EXPECT_DOUBLE_EQ(f.links[1].seconds, kBoundaryBytes * 8 / 10e9);
    EXPECT_EQ(f.bottleneck, Bottleneck::Machine);
    EXPECT_EQ(f.bottleneckIndex, 2);
    EXPECT_DOUBLE_EQ(f.stepSeconds, 15e-3);
    EXPECT_DOUBLE_EQ(f.imagesPerSecond, 10 / 15e-3);
    EXPECT_EQ(f.bottleneckText, "stage 2 (machine 2): 15.0 ms of compute per minibatch");
}

TEST(ClusterForecast, LinkBoundNamesTheBoundary) {
    // 0.01 Gbit/s and 100 µs: 100 µs + 40,040·8 / 1e7 s = 32.132 ms per direction, above every
    // stage's 3 ms; stage 0's round trip (12 ms of compute + 6 link crossings) / 7 = 29.256 ms.
    const ClusterForecast f =
        forecastCluster(fourStages(), costsMs({1, 1, 1, 1}), 4, linkOf(0.01, 100));
    EXPECT_EQ(f.bottleneck, Bottleneck::Link);
    EXPECT_EQ(f.bottleneckIndex, 0);  // the first of three equal links
    EXPECT_NEAR(f.stepSeconds, 32.132e-3, 1e-12);
    EXPECT_NEAR(f.roundTripSeconds[0], (12e-3 + 6 * 32.132e-3) / 7, 1e-12);
    EXPECT_EQ(f.bottleneckText,
              "the link machine 0 -> 1 (after stage 0, u0): 40040 B each way, 32.1 ms per "
              "minibatch");
}

TEST(ClusterForecast, TwoMachinesForFourStagesShareCores) {
    // R = 2: machine 0 runs stages 0-1, machine 1 stages 2-3; one link, after stage 1.
    const ClusterForecast f = forecastCluster(fourStages(), costsMs({1, 2, 5, 1}), 2, {});
    ASSERT_EQ(f.machines.size(), 2U);
    EXPECT_EQ(f.machines[1].firstStage, 2);
    EXPECT_EQ(f.machines[1].endStage, 4);
    EXPECT_DOUBLE_EQ(f.machines[0].computeSeconds, 9e-3);
    EXPECT_DOUBLE_EQ(f.machines[1].computeSeconds, 18e-3);
    ASSERT_EQ(f.links.size(), 1U);
    EXPECT_EQ(f.links[0].stage, 1);
    EXPECT_EQ(f.links[0].unit, "u1");
    EXPECT_EQ(f.bottleneck, Bottleneck::Machine);
    EXPECT_EQ(f.bottleneckIndex, 1);
    EXPECT_DOUBLE_EQ(f.stepSeconds, 18e-3);
    EXPECT_EQ(f.bottleneckText, "machine 1 (stages 2-3): 18.0 ms of compute per minibatch");
    // Three machines for four stages: floor(rK/R) gives stages {0}, {1}, {2,3}.
    const ClusterForecast three = forecastCluster(fourStages(), costsMs({1, 2, 5, 1}), 3, {});
    EXPECT_EQ(three.machines[1].firstStage, 1);
    EXPECT_EQ(three.machines[2].firstStage, 2);
    EXPECT_EQ(three.machines[2].endStage, 4);
}

TEST(ClusterForecast, RoundTripBindsWhenTheDelayIsTooSmall) {
    // All delays 0: stage 0 waits for its own backward. 1 ms latency: round trip = 12 ms of
    // compute + 6 crossings of (1 ms + 32.032 µs).
    PipelineShape shape = fourStages();
    shape.delays = {0, 0, 0, 0};
    const ClusterForecast f = forecastCluster(shape, costsMs({1, 1, 1, 1}), 4, linkOf(10, 1000));
    EXPECT_EQ(f.bottleneck, Bottleneck::RoundTrip);
    EXPECT_EQ(f.bottleneckIndex, 0);
    EXPECT_NEAR(f.stepSeconds, 12e-3 + 6 * (1e-3 + 32.032e-6), 1e-12);
    EXPECT_EQ(f.bottleneckText,
              "stage 0's round trip (to the last stage and back, links included): 18.2 ms over "
              "D + 1 = 1 minibatches; a longer delay would hide it");
}

TEST(ClusterForecast, GPipeFlushesEveryMinibatch) {
    // M = 5 micro-batches of 2 images: 5 messages, 5 headers. Per micro-batch the slowest
    // machine takes 15 / 5 = 3 ms; T = (M + R − 1) · 3 ms = 24 ms.
    PipelineShape shape = fourStages();
    shape.gpipe = true;
    shape.microBatches = 5;
    const ClusterForecast f = forecastCluster(shape, costsMs({1, 2, 5, 1}), 4, {});
    EXPECT_EQ(f.links[0].messages, 5);
    EXPECT_EQ(f.links[0].bytes, 40000 + 5 * 40);
    EXPECT_EQ(f.bottleneck, Bottleneck::Machine);
    EXPECT_EQ(f.bottleneckIndex, 2);
    EXPECT_NEAR(f.stepSeconds, 24e-3, 1e-12);
    EXPECT_TRUE(f.roundTripSeconds.empty());
}

TEST(ClusterForecast, BoundaryBytesAreTheTransportsMessages) {
    // ResNet-18, width 16, CIFAR: layer1.1's output is 16×32×32 floats per image; at batch 32 one
    // message of 2,097,152 B of floats and the 40-byte shape header, as mpi.json measured.
    const std::vector<UnitInfo> units = resnetUnits({2, 2, 2, 2}, false, 16, 3, 10);
    PipelineShape shape;
    shape.units = units;
    shape.delays = {6, 4, 2, 0};
    shape.batchSize = 32;
    for (std::int32_t u = 0; u < static_cast<std::int32_t>(units.size()); ++u) {
        shape.stageOfUnit.push_back(u < 3 ? 0 : u < 5 ? 1 : u < 7 ? 2 : 3);  // --stages 3,5,7
    }
    const ClusterForecast f =
        forecastCluster(shape, std::vector<UnitCost>(units.size()), 4, linkOf(1, 50));
    EXPECT_EQ(f.links[0].unit, "layer1.1");
    EXPECT_EQ(f.links[0].bytes, 2097192);
    EXPECT_EQ(f.links[1].bytes, 32 * 32 * 16 * 16 * 4 + 40);  // layer2.1: 32×16×16
    EXPECT_EQ(f.links[2].bytes, 32 * 64 * 8 * 8 * 4 + 40);    // layer3.1: 64×8×8
}

TEST(ClusterForecast, BadMachinesAndLinksAreRefused) {
    const PipelineShape shape = fourStages();
    const std::vector<UnitCost> costs = costsMs({1, 1, 1, 1});
    test::expectInputError([&] { forecastCluster(shape, costs, 5, {}); },
                           {"machines must be between 1 and the number of stages (4"});
    test::expectInputError([&] { forecastCluster(shape, costs, 0, {}); }, {"got 0"});
    test::expectInputError([&] { forecastCluster(shape, costs, 2, linkOf(0, 50)); },
                           {"bandwidth must be a positive number of Gbit/s, got 0"});
    test::expectInputError([&] { forecastCluster(shape, costs, 2, linkOf(-1, 50)); }, {"got -1"});
    test::expectInputError([&] { forecastCluster(shape, costs, 2, linkOf(10, -5)); },
                           {"latency must be 0 or more microseconds, got -5"});
    EXPECT_THROW(forecastCluster(shape, costsMs({1, 1}), 2, {}), ContractError);
}

}  // namespace
}  // namespace lp::core::session
