// The forecast's pure parts (issue 16): DESIGN.md section 4's worked tick numbers from the real
// epoch plan, the units of the real ResNet, "auto" resolved as core/data loads, the problems in
// the order the editor explains them, and the dry-run text. Against real runs:
// tests/integration/forecast_test.cpp.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/forecast.hpp"

#include "core/data/dataset.hpp"
#include "core/error.hpp"
#include "core/model/resnet.hpp"

#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

namespace lp::core::session {
namespace {

using Delays = std::vector<std::int64_t>;

// Synthetic CIFAR-shaped data, ResNet-18 for 100 classes, 40 minibatches per epoch.
io::ExperimentConfig cifarLike() {
    io::ExperimentConfig c;
    c.data.dataset = DatasetKind::Synthetic;
    c.model.classes = 100;
    c.training.batchSize = 32;
    c.training.maxSteps = 40;
    return c;
}

TEST(Forecast, EpochTicksAreDesignsWorkedNumbers) {
    // DESIGN.md section 4: K = 4, 40 minibatches.
    const std::vector<std::pair<Delays, std::int64_t>> cases = {{{6, 4, 2, 0}, 46},
                                                                {{8, 6, 4, 0}, 48},
                                                                {{3, 2, 1, 0}, 75},
                                                                {{2, 2, 2, 0}, 194},
                                                                {{0, 0, 0, 0}, 280}};
    for (const auto& [delays, ticks] : cases) {
        const EpochForecast f = forecastEpoch(delays, "layerpipe", 40, 1);
        EXPECT_EQ(f.ticks, ticks);
        EXPECT_EQ(f.ops, 2 * 4 * 40);
        EXPECT_EQ(f.opSlots, 2 * 4 * ticks);
        EXPECT_DOUBLE_EQ(f.utilisation, 320.0 / static_cast<double>(2 * 4 * ticks));
        EXPECT_DOUBLE_EQ(f.bubble, 1.0 - f.utilisation);
    }
    // The default delays keep D_s + 1 minibatches in flight at stage s.
    EXPECT_EQ(forecastEpoch({6, 4, 2, 0}, "layerpipe", 40, 1).inFlight, (Delays{7, 5, 3, 1}));
    EXPECT_EQ(forecastEpoch({0, 0, 0, 0}, "layerpipe", 40, 1).inFlight, (Delays{1, 1, 1, 1}));
    // GPipe: 2·(M + K − 1) ticks per minibatch, one op per tick, idle (K − 1)/(M + K − 1).
    const EpochForecast g = forecastEpoch({0, 0, 0, 0}, "gpipe", 40, 4);
    EXPECT_EQ(g.ticks, 40 * 2 * (4 + 3));
    EXPECT_DOUBLE_EQ(g.utilisation, 4.0 / 7.0);
    EXPECT_EQ(g.inFlight, (Delays{4, 4, 4, 4}));
    EXPECT_THROW(forecastEpoch({1, 2, 0, 0}, "layerpipe", 40, 1), InputError);
    EXPECT_EQ(defaultDelays(4), (Delays{6, 4, 2, 0}));
}

TEST(Forecast, UnitsAreTheRealResNets) {
    const std::vector<UnitInfo> units = resnetUnits({2, 2, 2, 2}, false, 64, 3, 100);
    ASSERT_EQ(units.size(), 10U);
    const std::int64_t total =
        std::accumulate(units.begin(), units.end(), std::int64_t{0}, [](auto s, const auto& u) {
            return s + u.params;
        });
    EXPECT_EQ(total, 11'220'132);  // STYLE.md section 7: the bench/ reference
    const model::ResNet net(model::ResNetSpec{.classes = 100});
    for (std::size_t u = 0; u < units.size(); ++u) {
        EXPECT_EQ(units[u].name, net.unit(u).name());
        EXPECT_EQ(units[u].buffers, static_cast<std::int64_t>(net.unit(u).bufferCount()));
    }
    EXPECT_EQ(resnetUnits({3, 4, 6, 3}, true, 8, 1, 10).size(), 18U);
    EXPECT_THROW(resnetUnits({2, 2, 2}, false, 8, 3, 10), InputError);
    // A model without BatchNorm has no γ, β: the config's norm reaches the units.
    io::ExperimentConfig c = cifarLike();
    c.model.norm = Norm::None;
    const std::vector<UnitInfo> bare = forecastUnits(c);
    EXPECT_LT(bare[0].params, units[0].params);
    EXPECT_EQ(bare[0].buffers, 0);
}

TEST(Forecast, AutoDatasetResolvesAsCoreDataLoadsIt) {
    const testing::TempDir tmp;
    const std::filesystem::path& dir = tmp.path();
    std::filesystem::create_directories(dir / "cifar");
    data::DataSource source;
    source.useEnvironment = false;
    source.systemFashionMnistDir = dir / "none";
    EXPECT_EQ(data::resolveKind(source), data::DatasetKind::Synthetic);
    EXPECT_TRUE(data::outlineDataset(source).exactCounts);
    for (const char* f : {"data_batch_1.bin", "test_batch.bin"}) {
        std::ofstream(dir / "cifar" / f) << "x";
    }
    source.path = dir / "cifar";
    EXPECT_EQ(data::resolveKind(source), data::DatasetKind::Cifar10);
    const data::DatasetOutline cifar = data::outlineDataset(source);
    EXPECT_EQ(cifar.classes, 10);
    EXPECT_EQ(cifar.trainCount, 50'000);
    EXPECT_FALSE(cifar.exactCounts);
    source.path = dir / "missing";
    EXPECT_THROW(data::resolveKind(source), InputError);
}

TEST(Forecast, ProblemsComeInTheEditorsOrder) {
    io::ExperimentConfig c = cifarLike();
    c.pipeline.cuts = {3, 5, 7};
    PipelineForecast f = forecastPipeline(c);
    EXPECT_TRUE(f.problem.empty()) << f.problem;
    EXPECT_EQ(f.ticksPerEpoch, 46);
    EXPECT_EQ(f.layout.stageOfUnit, (std::vector<std::int32_t>{0, 0, 0, 1, 1, 2, 2, 3, 3, 3}));
    EXPECT_EQ(f.stashHistoryBytes, 4 * (6 * 149'824 + 4 * 525'568 + 2 * 2'099'712));

    c.pipeline.delays = {1, 2, 0, 0};
    f = forecastPipeline(c);
    EXPECT_NE(f.problem.find("deadlock"), std::string::npos) << f.problem;
    EXPECT_EQ(f.units.size(), 10U);  // the editor still shows the model
    EXPECT_EQ(f.ticksPerEpoch, 0);
    EXPECT_THROW(forecastOrThrow(c), InputError);

    c.pipeline.delays.clear();
    c.pipeline.policy = WeightPolicy::Momentum;
    c.optimizer.momentum = 0.0;
    f = forecastPipeline(c);
    EXPECT_NE(f.problem.find("pipeline.policy momentum needs optimizer.momentum > 0"),
              std::string::npos)
        << f.problem;

    c = cifarLike();
    c.data.dataset = DatasetKind::Auto;
    c.data.path = "/nonexistent/lp-data";
    f = forecastPipeline(c);
    EXPECT_NE(f.problem.find("/nonexistent/lp-data"), std::string::npos) << f.problem;
    EXPECT_TRUE(f.units.empty());
}

TEST(Forecast, DryRunTextStatesTheForecastsNumbers) {
    io::ExperimentConfig c = cifarLike();
    c.pipeline.cuts = {3, 5, 7};
    c.pipeline.policy = WeightPolicy::Ema;
    const PipelineForecast f = forecastOrThrow(c);
    const std::string text = forecastText(c, f);
    for (const std::string& line :
         {std::string("data: synthetic, 2048 training images, batch 32: 40 minibatches per epoch"),
          std::string("schedule: layerpipe, delays 6,4,2,0, delay schedule static"),
          std::string("epoch: 46 ticks, utilisation 0.869565, bubble 0.130435"),
          std::string("stage params delay weights weight_history activations optimizer_state "
                      "diagnostic_shadow in_flight"),
          "0 149824 6 " + std::to_string(*f.stageMemory[0].at(telemetry::MemoryCategory::Weights)) +
              " 599296 - 599296 0 7",
          "weight history by policy: stash " + std::to_string(f.stashHistoryBytes) + ", ema " +
              std::to_string(f.emaHistoryBytes) + ", momentum 0, latest 0"}) {
        EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << "\n---\n" << text;
    }
}

}  // namespace
}  // namespace lp::core::session
