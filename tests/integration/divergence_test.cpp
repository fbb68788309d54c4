// A diverged run records the same bits whatever the driver's budget (docs/pipeline.md,
// "Non-finite values"): the engine notices a non-finite loss only when the graph settles, after
// the other stages ran ahead by as many ticks as the budget allowed, so the record is cut at the
// tick of the first non-finite loss.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/trainer.hpp"
#include "core/telemetry/recorder.hpp"

#include "tests/support/synthetic_experiment.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace lp::core::session {
namespace {

using telemetry::TelemetryBatch;

// Three stages, no BatchNorm and a learning rate no run survives: the first minibatches' losses
// are finite, the weights blow up with their updates, and a few minibatches later the loss is not.
io::ExperimentConfig divergingConfig() {
    io::ExperimentConfig c =
        test::syntheticExperiment({.width = 4, .train = 256, .test = 16, .batch = 8, .epochs = 1});
    c.model.inputSize = 8;
    c.model.inputChannels = 3;
    c.model.norm = Norm::None;
    c.training.threads = 2;
    c.optimizer.lr = 10.0;
    c.schedule.kind = LrScheduleKind::Constant;
    c.pipeline.cuts = {4, 7};
    return c;
}

struct Diverged {
    EpochReport report;
    TelemetryBatch record;  // every drain of the run, in order
};

void appendTo(TelemetryBatch& all, TelemetryBatch&& b) {
    const auto add = [](auto& to, auto& from) {
        to.insert(to.end(), from.begin(), from.end());
    };
    add(all.ops, b.ops);
    add(all.staleness, b.staleness);
    add(all.memory, b.memory);
    add(all.train, b.train);
    add(all.reconstruction, b.reconstruction);
}

// budgetStep 0: no budget (the whole epoch at once); n > 0: settle every n ticks, draining the
// recorder at each settle as the CLI and the studio do.
Diverged runDiverging(io::ExperimentConfig c, std::int64_t budgetStep) {
    telemetry::Recorder recorder(3);
    Trainer t(Experiment::create(c, false), &recorder);
    Diverged out;
    if (budgetStep == 0) {
        out.report = t.runEpoch();
    } else {
        out.report = t.runEpoch([&](std::int64_t done) {
            appendTo(out.record, recorder.drain());
            return done < 0 ? budgetStep - 1 : done + budgetStep;
        });
    }
    appendTo(out.record, recorder.drain());
    return out;
}

// Each stage's records in recording order (drains interleave the stages differently), without
// wall-clock times and thread numbers.
template <typename Row>
std::vector<Row> byStage(std::vector<Row> v) {
    std::stable_sort(v.begin(), v.end(), [](const Row& x, const Row& y) {
        return std::get<0>(x) < std::get<0>(y);
    });
    return v;
}

using OpKey = std::tuple<int, int, std::int64_t, std::int64_t, std::int64_t>;

std::vector<OpKey> opsOf(const TelemetryBatch& b) {
    std::vector<OpKey> v;
    for (const auto& e : b.ops) {
        v.emplace_back(e.stage, static_cast<int>(e.op), e.minibatch, e.weightVersion, e.tick);
    }
    return byStage(std::move(v));
}

std::vector<std::tuple<int, std::int64_t, std::int64_t, std::int64_t>> stalenessOf(
    const TelemetryBatch& b) {
    std::vector<std::tuple<int, std::int64_t, std::int64_t, std::int64_t>> v;
    for (const auto& s : b.staleness) {
        v.emplace_back(s.stage, s.update, s.staleness, s.tick);
    }
    return byStage(std::move(v));
}

std::vector<std::tuple<int, std::int64_t, int, std::int64_t>> memoryOf(const TelemetryBatch& b) {
    std::vector<std::tuple<int, std::int64_t, int, std::int64_t>> v;
    for (const auto& m : b.memory) {
        v.emplace_back(m.stage, m.tick, static_cast<int>(m.category), m.bytes);
    }
    return byStage(std::move(v));
}

std::vector<std::tuple<std::int64_t, std::uint32_t, std::uint32_t, bool>> trainOf(
    const TelemetryBatch& b) {
    std::vector<std::tuple<std::int64_t, std::uint32_t, std::uint32_t, bool>> v;
    for (const auto& t : b.train) {
        v.emplace_back(t.step,
                       std::bit_cast<std::uint32_t>(t.loss),
                       std::bit_cast<std::uint32_t>(t.accuracy),
                       t.nonFinite);
    }
    return v;
}

TEST(Divergence, RecordIsTheSameWhateverTheBudget) {
    const Diverged whole = runDiverging(divergingConfig(), 0);
    ASSERT_TRUE(whole.report.nonFinite);
    ASSERT_FALSE(whole.record.train.empty());
    // The record ends at the first non-finite step, after at least one finite one.
    const auto& last = whole.record.train.back();
    EXPECT_TRUE(last.nonFinite);
    EXPECT_GE(last.step, 1) << "the loss should be finite before the weights blow up";
    for (std::size_t i = 0; i + 1 < whole.record.train.size(); ++i) {
        EXPECT_FALSE(whole.record.train[i].nonFinite) << "step " << i;
    }
    std::int64_t cut = -1;
    for (const auto& e : whole.record.ops) {
        if (e.stage == 2 && e.minibatch == last.step && e.op == telemetry::OpKind::Forward) {
            cut = e.tick;
        }
    }
    ASSERT_GE(cut, 0) << "the diverged minibatch's forward on the last stage is recorded";
    for (const auto& e : whole.record.ops) {
        EXPECT_LE(e.tick, cut) << "stage " << e.stage << " minibatch " << e.minibatch;
    }
    // Every op up to the cut ran: stage 0 is 2K-2 = 4 ticks ahead of the last stage.
    EXPECT_TRUE(std::any_of(whole.record.ops.begin(), whole.record.ops.end(), [&](const auto& e) {
        return e.stage == 0 && e.tick == cut && e.op == telemetry::OpKind::Forward;
    }));

    for (const std::int64_t step : {1, 3, 7}) {
        SCOPED_TRACE("a settle every " + std::to_string(step) + " ticks");
        const Diverged d = runDiverging(divergingConfig(), step);
        EXPECT_TRUE(d.report.nonFinite);
        EXPECT_EQ(opsOf(d.record), opsOf(whole.record));
        EXPECT_EQ(stalenessOf(d.record), stalenessOf(whole.record));
        EXPECT_EQ(memoryOf(d.record), memoryOf(whole.record));
        EXPECT_EQ(trainOf(d.record), trainOf(whole.record));
        EXPECT_EQ(std::bit_cast<std::uint64_t>(d.report.trainAccuracy),
                  std::bit_cast<std::uint64_t>(whole.report.trainAccuracy));
    }
}

}  // namespace
}  // namespace lp::core::session
