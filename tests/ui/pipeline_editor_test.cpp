// The pipeline editor and its forecasts: clicks on the unit strip make cuts, the delay boxes
// follow 2·S(s), illegal delays are explained before anything runs, and the tick and memory
// forecasts match DESIGN.md's worked numbers.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/pipeline_editor.hpp"

#include "ui/model_forecast.hpp"
#include "ui/unit_strip.hpp"

#include "tests/ui/tiny_experiment.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>
#include <QUndoStack>

#include <gtest/gtest.h>

#include <numeric>

namespace lp::ui {
namespace {

// Synthetic CIFAR-shaped data (3 channels) with 100 classes, so the units are ResNet-18's for
// CIFAR-100; 40 minibatches per epoch, DESIGN.md section 4's worked example.
core::io::ExperimentConfig cifarLike() {
    core::io::ExperimentConfig c = test::fortyMinibatches();
    c.model.classes = 100;
    return c;
}

std::vector<std::int64_t> shownDelays(const PipelineEditor& e) {
    std::vector<std::int64_t> d;
    for (int s = 0; e.delaySpin(s) != nullptr; ++s) {
        d.push_back(e.delaySpin(s)->value());
    }
    return d;
}

void setDelays(PipelineEditor& e, const std::vector<int>& d) {
    e.defaultDelaysBox()->setChecked(false);
    for (std::size_t s = 0; s < d.size(); ++s) {
        e.delaySpin(static_cast<int>(s))->setValue(d[s]);
    }
}

TEST(ModelForecast, ResNet18UnitsMatchTheReferenceParameterCount) {
    const std::vector<UnitInfo> units = resnetUnits({2, 2, 2, 2}, false, 64, 3, 100);
    ASSERT_EQ(units.size(), 10U);
    EXPECT_EQ(units.front().name, "stem");
    EXPECT_EQ(units[3].name, "layer2.0");
    EXPECT_EQ(units.back().name, "head");
    const std::int64_t total = std::accumulate(
        units.begin(), units.end(), std::int64_t{0}, [](std::int64_t sum, const UnitInfo& u) {
            return sum + u.params;
        });
    EXPECT_EQ(total, 11'220'132);  // STYLE.md section 7: the bench/ reference
    EXPECT_EQ(units[0].params + units[1].params + units[2].params, 149'824);
    EXPECT_EQ(resnetUnits({1, 1, 1, 1}, false, 8, 1, 10).size(), 6U);
    EXPECT_EQ(resnetUnits({3, 4, 6, 3}, true, 8, 1, 10).size(), 18U);
}

TEST(PipelineEditor, ClicksOnGapsToggleCutsAndDefaultDelaysFollow) {
    PipelineEditor editor;
    editor.setConfig(cifarLike());
    editor.resize(420, 420);
    editor.show();
    UnitStrip* strip = editor.strip();
    ASSERT_EQ(strip->unitCount(), 10);
    QSignalSpy changed(&editor, &PipelineEditor::changed);
    QTest::mouseClick(strip, Qt::LeftButton, {}, strip->gapCenter(7));
    QTest::mouseClick(strip, Qt::LeftButton, {}, strip->gapCenter(3));
    EXPECT_EQ(strip->cuts(), (std::vector<std::int64_t>{3, 7}));
    EXPECT_GE(changed.count(), 2);
    EXPECT_EQ(strip->stageOfUnit(2), 0);
    EXPECT_EQ(strip->stageOfUnit(3), 1);
    EXPECT_EQ(strip->stageOfUnit(9), 2);
    EXPECT_EQ(shownDelays(editor), (std::vector<std::int64_t>{4, 2, 0}));
    EXPECT_FALSE(editor.delaySpin(0)->isEnabled());  // default delays are not editable
    core::io::PipelineConfig p = editor.pipelineConfig();
    EXPECT_EQ(p.cuts, (std::vector<std::int64_t>{3, 7}));
    EXPECT_TRUE(p.delays.empty());  // empty = the default 2·S(s)

    // Clicking on a block does nothing; clicking a cut again removes it.
    QTest::mouseClick(strip, Qt::LeftButton, {}, strip->blockRect(5).center());
    EXPECT_EQ(strip->cuts().size(), 2U);
    QTest::mouseClick(strip, Qt::LeftButton, {}, strip->gapCenter(3));
    EXPECT_EQ(strip->cuts(), (std::vector<std::int64_t>{7}));
    EXPECT_EQ(shownDelays(editor), (std::vector<std::int64_t>{2, 0}));
}

TEST(PipelineEditor, ExplainsAnIllegalDelayVectorBeforeAnythingRuns) {
    core::io::ExperimentConfig c = cifarLike();
    c.pipeline.cuts = {3, 5, 7};
    PipelineEditor editor;
    editor.setConfig(c);
    editor.show();
    EXPECT_TRUE(editor.problem().isEmpty());
    EXPECT_FALSE(editor.problemLabel()->isVisible());
    EXPECT_EQ(editor.forecast().ticksPerEpoch, 46);  // 40 + 2K − 2
    EXPECT_NEAR(editor.forecast().utilisation, 40.0 / 46.0, 1e-9);

    setDelays(editor, {1, 2, 0, 0});  // increases from stage 0 to 1: deadlock
    EXPECT_TRUE(editor.problemLabel()->isVisible());
    EXPECT_TRUE(editor.problemLabel()->text().contains(QStringLiteral("deadlock")))
        << editor.problemLabel()->text().toStdString();
    EXPECT_EQ(editor.problem(), editor.problemLabel()->text());
    EXPECT_EQ(editor.forecast().ticksPerEpoch, 0);
    EXPECT_EQ(editor.pipelineConfig().delays, (std::vector<std::int64_t>{1, 2, 0, 0}));

    setDelays(editor, {3, 2, 1, 0});  // legal, fewer than 2·S(s): bubbles
    EXPECT_FALSE(editor.problemLabel()->isVisible());
    EXPECT_EQ(editor.forecast().ticksPerEpoch, 75);  // DESIGN.md section 4
    setDelays(editor, {0, 0, 0, 0});
    EXPECT_EQ(editor.forecast().ticksPerEpoch, 280);  // 2K − 1 ticks per minibatch
    EXPECT_TRUE(editor.forecastLabel()->text().contains(QStringLiteral("280")));

    editor.defaultDelaysBox()->setChecked(true);
    EXPECT_EQ(shownDelays(editor), (std::vector<std::int64_t>{6, 4, 2, 0}));
    EXPECT_TRUE(editor.pipelineConfig().delays.empty());
}

TEST(PipelineEditor, ForecastsStashAgainstEmaMemory) {
    core::io::ExperimentConfig c = cifarLike();
    c.pipeline.cuts = {3, 5, 7};
    c.model.width = 64;
    PipelineEditor editor;
    editor.setConfig(c);
    // Stage sizes 149,824 / 525,568 / 2,099,712 / 8,445,028 floats; delays 6, 4, 2, 0.
    EXPECT_EQ(editor.forecast().stashHistoryBytes, 4 * (6 * 149'824 + 4 * 525'568 + 2 * 2'099'712));
    EXPECT_EQ(editor.forecast().emaHistoryBytes, 4 * (149'824 + 525'568 + 2'099'712));
}

// Issue 14: momentum is offered, keeps no history (0 B in the forecast text), has the diagnostic,
// and SGD without momentum is explained before anything runs.
TEST(PipelineEditor, MomentumPolicyForecastsNoHistory) {
    core::io::ExperimentConfig c = cifarLike();
    c.pipeline.cuts = {3, 5, 7};
    PipelineEditor editor;
    editor.setConfig(c);
    const int index = editor.policyCombo()->findData(QStringLiteral("momentum"));
    ASSERT_GE(index, 0);
    editor.policyCombo()->setCurrentIndex(index);
    EXPECT_EQ(editor.pipelineConfig().policy, core::WeightPolicy::Momentum);
    EXPECT_EQ(editor.forecast().momentumHistoryBytes, 0);
    EXPECT_GT(editor.forecast().emaHistoryBytes, 0);
    EXPECT_TRUE(editor.problem().isEmpty()) << editor.problem().toStdString();
    EXPECT_TRUE(editor.forecastLabel()->text().contains(QStringLiteral("momentum <b>0 B</b>")))
        << editor.forecastLabel()->text().toStdString();
    QCheckBox* diagnostic = nullptr;
    for (QCheckBox* box : editor.findChildren<QCheckBox*>()) {
        if (box->text().startsWith(QStringLiteral("diagnostic"))) {
            diagnostic = box;
        }
    }
    ASSERT_NE(diagnostic, nullptr);
    EXPECT_TRUE(diagnostic->isEnabled());
    editor.policyCombo()->setCurrentIndex(editor.policyCombo()->findData(QStringLiteral("latest")));
    EXPECT_FALSE(diagnostic->isEnabled());

    c.pipeline.policy = core::WeightPolicy::Momentum;
    c.optimizer.momentum = 0.0;
    editor.setConfig(c);
    EXPECT_TRUE(editor.problem().contains(
        QStringLiteral("pipeline.policy momentum needs optimizer.momentum > 0")))
        << editor.problem().toStdString();
    c.optimizer.kind = core::OptimizerKind::Lamb;  // the Adam family's moments are state enough
    editor.setConfig(c);
    EXPECT_TRUE(editor.problem().isEmpty()) << editor.problem().toStdString();
}

TEST(PipelineEditor, GPipeForecastAndMicroBatchLimit) {
    core::io::ExperimentConfig c = cifarLike();
    c.pipeline.cuts = {3, 5, 7};
    c.pipeline.schedule = core::ScheduleKind::GPipe;
    c.pipeline.microBatches = 4;
    PipelineEditor editor;
    editor.setConfig(c);
    EXPECT_EQ(editor.forecast().ticksPerEpoch, 40 * 2 * (4 + 3));
    EXPECT_NEAR(editor.forecast().utilisation, 4.0 / 7.0, 1e-9);
    EXPECT_EQ(editor.forecast().stashHistoryBytes, 0);
    c.pipeline.microBatches = 64;  // more than the batch size 32
    editor.setConfig(c);
    EXPECT_FALSE(editor.problem().isEmpty());
}

TEST(PipelineEditor, LoadedConfigRoundTrips) {
    core::io::ExperimentConfig c = cifarLike();
    c.pipeline.cuts = {2, 6};
    c.pipeline.delays = {3, 3, 0};
    c.pipeline.policy = core::WeightPolicy::Ema;
    c.pipeline.emaBeta = core::EmaBetaMode::Fixed;
    c.pipeline.emaBetaValue = 0.8;
    c.pipeline.diagnosticStash = true;
    c.pipeline.telemetry = false;
    PipelineEditor editor;
    editor.setConfig(c);
    EXPECT_EQ(editor.pipelineConfig(), c.pipeline);
    EXPECT_FALSE(editor.defaultDelaysBox()->isChecked());
    EXPECT_TRUE(editor.delaySpin(0)->isEnabled());

    // A model with fewer units keeps only the cuts that still fit.
    c.model.arch = core::Arch::ResNet10;  // 6 units: cuts in [1, 5]
    editor.setContext(c);
    EXPECT_EQ(editor.strip()->cuts(), (std::vector<std::int64_t>{2}));
}

// The unit strip from the keyboard: Left/Right/Home/End move between the gaps, Space and Enter
// toggle a cut; nothing changes while the editor is not editable.
TEST(PipelineEditor, KeyboardMovesBetweenGapsAndTogglesCuts) {
    PipelineEditor editor;
    editor.setConfig(cifarLike());
    editor.show();
    UnitStrip* strip = editor.strip();
    EXPECT_EQ(strip->focusPolicy(), Qt::StrongFocus);
    EXPECT_EQ(strip->focusedGap(), 1);
    QTest::keyClick(strip, Qt::Key_Right);
    QTest::keyClick(strip, Qt::Key_Right);
    EXPECT_EQ(strip->focusedGap(), 3);
    QTest::keyClick(strip, Qt::Key_Space);
    EXPECT_EQ(strip->cuts(), (std::vector<std::int64_t>{3}));
    QTest::keyClick(strip, Qt::Key_End);
    EXPECT_EQ(strip->focusedGap(), 9);
    QTest::keyClick(strip, Qt::Key_Right);  // stays on the last gap
    EXPECT_EQ(strip->focusedGap(), 9);
    QTest::keyClick(strip, Qt::Key_Return);
    EXPECT_EQ(strip->cuts(), (std::vector<std::int64_t>{3, 9}));
    EXPECT_EQ(shownDelays(editor), (std::vector<std::int64_t>{4, 2, 0}));
    QTest::keyClick(strip, Qt::Key_Home);
    QTest::keyClick(strip, Qt::Key_Left);  // stays on the first gap
    EXPECT_EQ(strip->focusedGap(), 1);

    editor.setEditable(false);
    QTest::keyClick(strip, Qt::Key_Space);
    EXPECT_EQ(strip->cuts(), (std::vector<std::int64_t>{3, 9}));
}

// Every kind of edit is undone and redone as a whole; steps of one spin box are one entry;
// loading an experiment starts a fresh history; while a run uses the pipeline, undo is off.
TEST(PipelineEditor, UndoAndRedoRestoreEachEdit) {
    PipelineEditor editor;
    editor.setConfig(cifarLike());
    editor.show();
    const core::io::PipelineConfig start = editor.pipelineConfig();
    EXPECT_FALSE(editor.undoAction()->isEnabled());

    editor.strip()->toggleCut(5);
    const core::io::PipelineConfig cut = editor.pipelineConfig();
    editor.policyCombo()->setCurrentIndex(editor.policyCombo()->findData(QStringLiteral("ema")));
    editor.defaultDelaysBox()->setChecked(false);
    editor.delaySpin(0)->setValue(1);
    editor.delaySpin(0)->setValue(0);  // merges with the step before
    const core::io::PipelineConfig edited = editor.pipelineConfig();
    EXPECT_EQ(edited.delays, (std::vector<std::int64_t>{0, 0}));
    // cut, policy, the untick (own delays {2, 0}), the two steps of D0 as one entry
    EXPECT_EQ(editor.undoStack()->count(), 4);
    EXPECT_TRUE(editor.undoAction()->isEnabled());
    EXPECT_TRUE(editor.undoAction()->toolTip().contains(QStringLiteral("delays 0,0")))
        << editor.undoAction()->toolTip().toStdString();

    QSignalSpy changed(&editor, &PipelineEditor::changed);
    editor.undoAction()->trigger();
    EXPECT_EQ(editor.pipelineConfig().delays, (std::vector<std::int64_t>{2, 0}));
    EXPECT_FALSE(editor.defaultDelaysBox()->isChecked());
    editor.undoAction()->trigger();
    EXPECT_TRUE(editor.pipelineConfig().delays.empty());
    EXPECT_TRUE(editor.defaultDelaysBox()->isChecked());
    editor.undoAction()->trigger();
    EXPECT_EQ(editor.pipelineConfig().policy, start.policy);
    editor.undoAction()->trigger();
    EXPECT_EQ(editor.pipelineConfig(), start);
    EXPECT_EQ(editor.strip()->cuts(), start.cuts);
    EXPECT_FALSE(editor.undoAction()->isEnabled());
    EXPECT_GE(changed.count(), 4);  // the window re-forecasts after each

    editor.redoAction()->trigger();
    EXPECT_EQ(editor.pipelineConfig(), cut);
    editor.redoAction()->trigger();
    editor.redoAction()->trigger();
    editor.redoAction()->trigger();
    EXPECT_EQ(editor.pipelineConfig(), edited);
    EXPECT_EQ(shownDelays(editor), (std::vector<std::int64_t>{0, 0}));
    EXPECT_FALSE(editor.redoAction()->isEnabled());

    // A new edit after an undo drops the redo branch.
    editor.undoAction()->trigger();
    editor.strip()->toggleCut(2);
    EXPECT_FALSE(editor.redoAction()->isEnabled());

    editor.setEditable(false);
    EXPECT_FALSE(editor.undoAction()->isEnabled());
    editor.setEditable(true);
    EXPECT_TRUE(editor.undoAction()->isEnabled());

    editor.setConfig(cifarLike());
    EXPECT_EQ(editor.undoStack()->count(), 0);
    EXPECT_FALSE(editor.undoAction()->isEnabled());
}

// A paused run: the pipeline is editable again, and a note says the edits wait for Reset.
TEST(PipelineEditor, PausedRunStaysEditableWithANote) {
    PipelineEditor editor;
    editor.setConfig(cifarLike());
    editor.show();
    editor.setEditable(false);
    EXPECT_FALSE(editor.strip()->isEnabled());
    editor.setPausedRun(true);
    EXPECT_TRUE(editor.strip()->isEnabled());
    EXPECT_TRUE(editor.pausedNote()->isVisible());
    EXPECT_TRUE(editor.pausedNote()->text().contains(QStringLiteral("after Reset")));
    editor.setPausedRun(false);
    EXPECT_FALSE(editor.pausedNote()->isVisible());
}

// Issue 16: a data folder that holds no dataset is explained, and the strip keeps the model's
// units and cuts meanwhile (the forecast comes from core, which cannot build the model then).
TEST(PipelineEditor, Issue16UnresolvableDataKeepsTheCutsAndSaysWhy) {
    core::io::ExperimentConfig c = cifarLike();
    c.pipeline.cuts = {3, 5, 7};
    PipelineEditor editor;
    editor.setConfig(c);
    c.data.dataset = core::DatasetKind::Auto;
    c.data.path = "/nonexistent/lp-editor-data";
    editor.setContext(c);
    EXPECT_TRUE(editor.problem().contains(QStringLiteral("/nonexistent/lp-editor-data")))
        << editor.problem().toStdString();
    EXPECT_EQ(editor.strip()->unitCount(), 10);
    EXPECT_EQ(editor.pipelineConfig().cuts, (std::vector<std::int64_t>{3, 5, 7}));
}

}  // namespace
}  // namespace lp::ui
