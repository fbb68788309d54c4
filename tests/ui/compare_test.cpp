// The Compare tab, headless: variants differ only in their pipeline, a comparison of four tiny
// runs (synthetic data, width 4) overlays one curve per run with data in the loss, accuracy and
// weight-history charts, and the runner refuses unfair or oversized comparisons.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "core/io/config.hpp"
#include "ui/chart_panel.hpp"
#include "ui/compare_runner.hpp"
#include "ui/compare_view.hpp"
#include "ui/main_window.hpp"
#include "ui/training_bridge.hpp"

#include "tests/ui/tiny_experiment.hpp"

#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <qcustomplot.h>

#include <gtest/gtest.h>

#include <cmath>

namespace lp::ui {
namespace {

using core::session::RunState;

// K = 2 (stage 0 = stem … layer2.1, default delays 2, 0); four steps of eight images.
core::io::ExperimentConfig tinyConfig() {
    return test::tinyExperiment("stash");
}

void waitForEnd(CompareRunner* runner) {
    QSignalSpy finished(runner, &CompareRunner::finished);
    ASSERT_TRUE(finished.isValid());
    while (runner->running()) {
        ASSERT_TRUE(finished.wait(60000)) << "the comparison did not finish";
    }
}

TEST(CompareVariants, OnlyThePipelineChanges) {
    core::io::ExperimentConfig base = tinyConfig();
    base.pipeline.diagnosticStash = true;
    base.pipeline.microBatches = 64;  // more than the batch size: GPipe caps it
    const core::io::ExperimentConfig seq = variantConfig(base, CompareVariant::Sequential);
    EXPECT_TRUE(seq.pipeline.cuts.empty());
    EXPECT_EQ(seq.pipeline.policy, core::WeightPolicy::Latest);
    EXPECT_FALSE(seq.pipeline.diagnosticStash);
    EXPECT_EQ(variantConfig(base, CompareVariant::Ema).pipeline.policy, core::WeightPolicy::Ema);
    EXPECT_EQ(variantConfig(base, CompareVariant::Momentum).pipeline.policy,
              core::WeightPolicy::Momentum);
    EXPECT_EQ(variantConfig(base, CompareVariant::Momentum).pipeline.cuts, base.pipeline.cuts);
    EXPECT_EQ(variantConfig(base, CompareVariant::Latest).pipeline.cuts, base.pipeline.cuts);
    const core::io::ExperimentConfig gpipe = variantConfig(base, CompareVariant::GPipe);
    EXPECT_EQ(gpipe.pipeline.schedule, core::ScheduleKind::GPipe);
    EXPECT_EQ(gpipe.pipeline.microBatches, base.training.batchSize);
    EXPECT_NO_THROW(core::io::validate(gpipe));
    EXPECT_EQ(variantConfig(base, CompareVariant::AsEdited).pipeline, base.pipeline);
    for (int v = 0; v < kCompareVariants; ++v) {
        core::io::ExperimentConfig c = variantConfig(base, static_cast<CompareVariant>(v));
        EXPECT_EQ(c.training, base.training);  // same seed, same data order
        EXPECT_EQ(c.data, base.data);
        EXPECT_EQ(c.model, base.model);
        c.pipeline = base.pipeline;
        c.name = base.name;
        EXPECT_EQ(c, base) << variantName(static_cast<CompareVariant>(v)).toStdString();
    }
}

// Issue 14: lesson presets and studies name the variants by key.
TEST(CompareVariants, KeysRoundTrip) {
    for (int v = 0; v < kCompareVariants; ++v) {
        const auto variant = static_cast<CompareVariant>(v);
        EXPECT_EQ(variantFromKey(variantKey(variant)), variant) << v;
    }
    EXPECT_EQ(variantKey(CompareVariant::Ema), QStringLiteral("ema"));
    EXPECT_EQ(variantKey(CompareVariant::Momentum), QStringLiteral("momentum"));
    EXPECT_EQ(variantFromKey(QStringLiteral("EMA")), std::nullopt);
}

TEST(CompareRunner, RefusesUnfairOrOversizedComparisons) {
    CompareRunner runner;
    const core::io::ExperimentConfig base = tinyConfig();
    EXPECT_THROW(runner.start({}), core::InputError);
    std::vector<CompareRun> six(6, CompareRun{QStringLiteral("stash"), base});
    EXPECT_THROW(runner.start(six), core::InputError);
    core::io::ExperimentConfig otherSeed = base;
    otherSeed.training.seed = 2;
    EXPECT_THROW(runner.start({{QStringLiteral("a"), base}, {QStringLiteral("b"), otherSeed}}),
                 core::InputError);
    core::io::ExperimentConfig bad = base;
    bad.pipeline.delays = {0, 3};  // increasing: deadlocks, refused before anything runs
    EXPECT_THROW(runner.start({{QStringLiteral("a"), base}, {QStringLiteral("b"), bad}}),
                 core::InputError);
    EXPECT_FALSE(runner.running());
}

TEST(CompareRunner, StopEndsTheRunInProgress) {
    CompareRunner runner;
    core::io::ExperimentConfig base = tinyConfig();
    base.training.maxSteps = 0;  // whole epochs: far longer than this test waits
    QSignalSpy ended(&runner, &CompareRunner::runEnded);
    runner.start({{QStringLiteral("stash"), variantConfig(base, CompareVariant::Stash)},
                  {QStringLiteral("EMA"), variantConfig(base, CompareVariant::Ema)}});
    ASSERT_TRUE(runner.running());
    EXPECT_EQ(runner.currentRun(), 0);
    runner.stop();
    EXPECT_FALSE(runner.running());
    ASSERT_EQ(ended.count(), 1);
    EXPECT_EQ(runner.outcomes()[0], RunState::Stopped);
    EXPECT_EQ(runner.outcomes()[1], RunState::Ready);  // never started
}

TEST(CompareView, OverlaysOneCurvePerRunWithData) {
    MainWindow w;
    w.show();
    w.loadExperiment(tinyConfig());
    CompareView* view = w.charts()->compare();
    ASSERT_NE(view, nullptr);
    ASSERT_EQ(view->variants().size(), 5U);  // sequential, latest, stash, EMA by default
    EXPECT_EQ(view->variants()[0], CompareVariant::Sequential);
    EXPECT_EQ(view->variants()[3], CompareVariant::Ema);
    EXPECT_EQ(view->variants()[4], std::nullopt);  // the fifth slot starts off
    QSignalSpy started(view->runner(), &CompareRunner::runStarted);
    ASSERT_TRUE(w.startCompare()) << w.lastError().toStdString();
    EXPECT_EQ(w.charts()->tabs()->currentWidget(), view);
    waitForEnd(view->runner());
    EXPECT_FALSE(w.bridge()->hasSession());  // the main run was never started
    EXPECT_EQ(started.count(), 4);

    ASSERT_EQ(view->runCount(), 4);
    EXPECT_EQ(view->plot()->legend->itemCount(), 4);  // one entry per run
    for (int r = 0; r < 4; ++r) {
        SCOPED_TRACE(r);
        EXPECT_EQ(view->runner()->outcomes()[static_cast<std::size_t>(r)], RunState::Finished);
        EXPECT_EQ(view->lossGraph(r)->dataCount(), 4);
        EXPECT_EQ(view->accuracyGraph(r)->dataCount(), 4);
        EXPECT_EQ(view->testAccuracyGraph(r)->dataCount(), 1);
        EXPECT_GT(view->historyGraph(r)->dataCount(), 0);
        EXPECT_NE(view->lossGraph(r)->pen().color(), view->lossGraph((r + 1) % 4)->pen().color());
        // Same seed, same data order: minibatch 0 meets the same initial weights in every run.
        const double first = view->lossGraph(r)->data()->constBegin()->value;
        const double reference = view->lossGraph(0)->data()->constBegin()->value;
        EXPECT_TRUE(std::isfinite(first));
        EXPECT_NEAR(first, reference, 1e-5 * std::abs(reference));
    }
    // Weight history: none without delays (sequential) or without a stash (latest); stash keeps
    // D_0 = 2 copies of stage 0, EMA one buffer.
    EXPECT_EQ(view->historyBytes(0), 0);
    EXPECT_EQ(view->historyBytes(1), 0);
    EXPECT_GT(view->historyBytes(2), 0);
    EXPECT_GT(view->historyBytes(3), 0);
    EXPECT_EQ(view->historyBytes(2), 2 * view->historyBytes(3));
    EXPECT_DOUBLE_EQ((view->historyGraph(2)->data()->constEnd() - 1)->value,
                     static_cast<double>(view->historyBytes(2)) / (1024.0 * 1024.0));
    EXPECT_TRUE(view->statusLabel()->text().contains(QStringLiteral("4 finished")))
        << view->statusLabel()->text().toStdString();

    // Export report without a main run: the charts, compare.csv and the experiment.
    const QTemporaryDir tmp;
    ASSERT_TRUE(tmp.isValid());
    ASSERT_NO_THROW(w.exportReport(tmp.path()));
    EXPECT_GT(QFileInfo(tmp.filePath(QStringLiteral("compare.png"))).size(), 0);
    QFile csv(tmp.filePath(QStringLiteral("compare.csv")));
    ASSERT_TRUE(csv.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = csv.readAll().split('\n');
    EXPECT_EQ(lines.front(), QByteArray("run,label,series,x,y"));
    const QCPGraphData test = *view->testAccuracyGraph(2)->data()->at(0);
    EXPECT_TRUE(lines.contains("2,stash,test_top1," + QByteArray::number(test.key, 'g', 17) + ',' +
                               QByteArray::number(test.value, 'g', 17)));
    EXPECT_FALSE(QFileInfo::exists(tmp.filePath(QStringLiteral("run.json"))));

    // The legend toggles a run's curves in all three charts.
    QCPAbstractLegendItem* item = view->plot()->legend->item(2);
    emit view->plot()->legendClick(view->plot()->legend, item, nullptr);
    EXPECT_FALSE(view->lossGraph(2)->visible());
    EXPECT_FALSE(view->accuracyGraph(2)->visible());
    EXPECT_FALSE(view->historyGraph(2)->visible());
    EXPECT_TRUE(view->lossGraph(1)->visible());
}

TEST(CompareView, NothingPickedIsAnErrorDialog) {
    MainWindow w;
    w.show();
    w.loadExperiment(tinyConfig());
    w.charts()->compare()->setVariants({std::nullopt, std::nullopt});
    EXPECT_FALSE(w.startCompare());
    EXPECT_TRUE(w.lastError().contains(QStringLiteral("variant"))) << w.lastError().toStdString();
    EXPECT_FALSE(w.charts()->compare()->runner()->running());
}

}  // namespace
}  // namespace lp::ui
