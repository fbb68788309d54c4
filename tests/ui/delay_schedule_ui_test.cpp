// Delay schedules in the studio (issue 14): the pipeline editor's compact schedule choice, the
// timeline's epoch marks with each epoch's delays, and the staleness chart's configured delays
// per epoch.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/exporters.hpp"
#include "ui/chart_panel.hpp"
#include "ui/delay_schedule_row.hpp"
#include "ui/main_window.hpp"
#include "ui/pipeline_editor.hpp"
#include "ui/staleness_view.hpp"
#include "ui/timeline_view.hpp"

#include "tests/ui/tiny_experiment.hpp"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QLineEdit>
#include <QTemporaryDir>
#include <QUndoStack>
#include <qcustomplot.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

namespace lp::ui {
namespace {

using core::telemetry::DelaySample;
using core::telemetry::PipelineLayout;
using core::telemetry::StalenessSample;
using core::telemetry::TelemetryBatch;

core::io::ExperimentConfig fourStages() {
    core::io::ExperimentConfig c = test::fortyMinibatches();
    c.training.epochs = 3;
    c.pipeline.cuts = {3, 5, 7};
    return c;
}

void choose(QComboBox* combo, const char* key) {
    combo->setCurrentIndex(combo->findData(QString::fromUtf8(key)));
}

TEST(DelayScheduleRow, EditorPicksStaticScaledOrAdaptive) {
    PipelineEditor editor;
    editor.setConfig(fourStages());
    DelayScheduleRow* row = editor.delayScheduleRow();
    EXPECT_EQ(editor.pipelineConfig().delaySchedule, core::DelayScheduleKind::Static);
    EXPECT_TRUE(row->scalesEdit()->isHidden());
    EXPECT_TRUE(row->driftSpin()->isHidden());

    choose(row->combo(), "epochs");
    EXPECT_FALSE(row->scalesEdit()->isHidden());
    EXPECT_NE(editor.problem().indexOf(QStringLiteral("give one scale per epoch")), -1);
    row->scalesEdit()->setText(QStringLiteral("1, 0.5 0.25"));
    core::io::PipelineConfig p = editor.pipelineConfig();
    EXPECT_EQ(p.delaySchedule, core::DelayScheduleKind::Epochs);
    EXPECT_EQ(p.delayScales, (std::vector<double>{1, 0.5, 0.25}));
    EXPECT_TRUE(editor.problem().isEmpty()) << editor.problem().toStdString();
    EXPECT_NE(editor.forecastLabel()->text().indexOf(
                  QStringLiteral("By epoch: 6,4,2,0 → 3,2,1,0 → 1,1,0,0")),
              -1)
        << editor.forecastLabel()->text().toStdString();
    // Bad input is explained before anything runs: not a number, or out of range.
    row->scalesEdit()->setText(QStringLiteral("1, x"));
    EXPECT_NE(editor.problem().indexOf(QStringLiteral("'x' is not a number")), -1);
    row->scalesEdit()->setText(QStringLiteral("1, 5"));
    EXPECT_NE(
        editor.problem().indexOf(QStringLiteral("'pipeline.delayScales[1]' must be in [0, 4]")), -1)
        << editor.problem().toStdString();
    row->scalesEdit()->setText(QStringLiteral("0.5"));

    choose(row->combo(), "adaptive");
    EXPECT_FALSE(row->driftSpin()->isHidden());
    row->driftSpin()->setValue(0.05);
    p = editor.pipelineConfig();
    EXPECT_EQ(p.delaySchedule, core::DelayScheduleKind::Adaptive);
    EXPECT_TRUE(p.delayScales.empty());
    EXPECT_DOUBLE_EQ(p.adaptiveDrift, 0.05);
    EXPECT_NE(
        editor.forecastLabel()->text().indexOf(QStringLiteral("By epoch: 6,4,2,0, then adaptive")),
        -1);
    // Undo walks back through the schedule edits; "scaled" again brings the typed scales back.
    editor.undoStack()->undo();
    editor.undoStack()->undo();
    EXPECT_EQ(editor.pipelineConfig().delaySchedule, core::DelayScheduleKind::Epochs);
    EXPECT_EQ(editor.pipelineConfig().delayScales, std::vector<double>{0.5});

    // GPipe has no delays: the row is off and the section is static.
    choose(editor.scheduleCombo(), "gpipe");
    EXPECT_FALSE(row->isEnabled());
    EXPECT_EQ(editor.pipelineConfig().delaySchedule, core::DelayScheduleKind::Static);
    EXPECT_TRUE(editor.pipelineConfig().delayScales.empty());
    EXPECT_TRUE(editor.problem().isEmpty());

    core::io::ExperimentConfig loaded = fourStages();
    loaded.pipeline.delaySchedule = core::DelayScheduleKind::Adaptive;
    loaded.pipeline.adaptiveDrift = 0.03;
    editor.setConfig(loaded);
    EXPECT_EQ(row->combo()->currentData().toString(), QStringLiteral("adaptive"));
    EXPECT_DOUBLE_EQ(row->driftSpin()->value(), 0.03);
    EXPECT_EQ(editor.pipelineConfig(), loaded.pipeline);
}

PipelineLayout threeStages(const char* schedule) {
    PipelineLayout l;
    l.unitNames = {"stem", "layer1.0", "head"};
    l.stageOfUnit = {0, 1, 2};
    l.delays = {4, 2, 0};
    l.stageParams = {10, 20, 30};
    l.policy = "stash";
    l.schedule = "layerpipe";
    l.delaySchedule = schedule;
    return l;
}

// Two epochs of 6 minibatches: (4, 2, 0) from tick 0, then (2, 1, 0) from tick 10.
TelemetryBatch twoEpochs() {
    TelemetryBatch b;
    const std::vector<std::vector<std::int64_t>> delays = {{4, 2, 0}, {2, 1, 0}};
    const std::vector<std::int64_t> first = {0, 10};
    for (std::int32_t e = 0; e < 2; ++e) {
        for (std::int32_t s = 0; s < 3; ++s) {
            const std::int64_t d = delays[static_cast<std::size_t>(e)][static_cast<std::size_t>(s)];
            b.delays.push_back({.epoch = e,
                                .stage = s,
                                .delay = d,
                                .scale = e == 0 ? 1.0 : 0.5,
                                .updateSize = 0.01,
                                .firstTick = first[static_cast<std::size_t>(e)],
                                .ticks = 10});
            for (std::int64_t j = 0; j < 6; ++j) {
                b.staleness.push_back({.update = e * 6 + j + 1,
                                       .stage = s,
                                       .staleness = std::min(j, d),
                                       .configuredDelay = d});
            }
            b.ops.push_back({.stage = s,
                             .op = core::telemetry::OpKind::Forward,
                             .minibatch = e * 6,
                             .tick = first[static_cast<std::size_t>(e)] + s});
        }
    }
    return b;
}

TEST(DelayScheduleViews, TimelineMarksEachEpochWithItsDelays) {
    TimelineView view;
    view.setLayout(threeStages("epochs"));
    view.append(twoEpochs());
    const std::vector<TimelineView::EpochMark> marks = view.epochMarks();
    ASSERT_EQ(marks.size(), 2U);
    EXPECT_EQ(marks[0].firstTick, 0);
    EXPECT_EQ(marks[1].firstTick, 10);
    EXPECT_EQ(marks[1].delays, (std::vector<std::int64_t>{2, 1, 0}));
    EXPECT_EQ(marks[1].label, QStringLiteral("epoch 2 · D 2,1,0"));
    // Only on the tick axis, and only for a schedule that changes the delays.
    view.setTimeAxis(TimeAxis::WallClock);
    EXPECT_TRUE(view.epochMarks().empty());
    view.setTimeAxis(TimeAxis::Tick);
    EXPECT_EQ(view.epochMarks().size(), 2U);
    view.setLayout(threeStages("static"));
    EXPECT_TRUE(view.epochMarks().empty());
    view.setLayout(threeStages("epochs"));
    view.clear();
    EXPECT_TRUE(view.epochMarks().empty());
}

TEST(DelayScheduleViews, StalenessShowsEachEpochsConfiguredDelays) {
    StalenessView view;
    view.setLayout(threeStages("epochs"));
    view.append(twoEpochs());
    const auto changes = view.delayChanges();
    ASSERT_EQ(changes.size(), 1U);
    EXPECT_EQ(changes[0].update, 7);  // epoch 2's first update
    EXPECT_EQ(changes[0].delays, (std::vector<std::int64_t>{2, 1, 0}));
    // The bars show the current epoch's delays, dashes the earlier ones.
    const auto units = view.units();
    EXPECT_DOUBLE_EQ(units[0].configuredDelay, 2.0);
    EXPECT_DOUBLE_EQ(units[1].configuredDelay, 1.0);
    QCPGraph* earlier = view.earlierDelaysGraph();
    ASSERT_EQ(earlier->data()->size(), 2);  // stages 0 and 1 ran with 4 and 2 before
    EXPECT_DOUBLE_EQ(earlier->data()->at(0)->value, 4.0);
    EXPECT_DOUBLE_EQ(earlier->data()->at(1)->value, 2.0);
    EXPECT_NE(view.plot()->legend->itemWithPlottable(earlier), nullptr);
    view.clear();
    EXPECT_TRUE(view.delayChanges().empty());
    EXPECT_EQ(view.plot()->legend->itemWithPlottable(earlier), nullptr);
}

// A finished run opened in the studio reads delays.csv: the same epoch marks as live.
TEST(DelayScheduleViews, OpenedRunFolderShowsTheEpochMarks) {
    const QTemporaryDir dir;
    const std::filesystem::path run = dir.path().toStdString();
    core::io::ExperimentConfig c;
    c.data.dataset = core::DatasetKind::Synthetic;
    c.model.arch = core::Arch::ResNet10;  // units stem, layer1.0 ... head: cut into three stages
    c.pipeline.cuts = {1, 5};
    c.pipeline.delaySchedule = core::DelayScheduleKind::Epochs;
    c.pipeline.delayScales = {1, 0.5};
    core::telemetry::TelemetryLog log;
    log.append(twoEpochs());
    PipelineLayout layout = threeStages("epochs");
    layout.unitNames = {"stem", "layer1.0", "layer2.0", "layer3.0", "layer4.0", "head"};
    layout.stageOfUnit = {0, 1, 1, 1, 1, 2};
    core::telemetry::writeCsvs(log, run);
    core::telemetry::writeRunRecord(core::io::toJson(c), layout, log, {}, run / "run.json");
    MainWindow w;
    w.openRunFolder(dir.path());
    const std::vector<TimelineView::EpochMark> marks = w.charts()->timeline()->epochMarks();
    ASSERT_EQ(marks.size(), 2U);
    EXPECT_EQ(marks[1].label, QStringLiteral("epoch 2 · D 2,1,0"));
    EXPECT_EQ(w.charts()->staleness()->delayChanges().size(), 1U);
}

}  // namespace
}  // namespace lp::ui
