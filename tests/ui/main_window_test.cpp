// The studio's main window, headless: it builds, a tiny synthetic run driven through the
// TrainingBridge feeds every chart, the lesson presets parse, and a report export writes valid
// files (STYLE.md section 7: wait with QSignalSpy, assert series, not pixels).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/main_window.hpp"

#include "core/error.hpp"
#include "core/io/config.hpp"
#include "ui/chart_panel.hpp"
#include "ui/compare_runner.hpp"
#include "ui/compare_view.hpp"
#include "ui/experiment_panel.hpp"
#include "ui/lessons.hpp"
#include "ui/memory_view.hpp"
#include "ui/pipeline_editor.hpp"
#include "ui/reconstruction_view.hpp"
#include "ui/staleness_view.hpp"
#include "ui/study_view.hpp"
#include "ui/timeline_view.hpp"
#include "ui/training_bridge.hpp"
#include "ui/training_view.hpp"
#include "ui/transport_bar.hpp"
#include "ui/unit_strip.hpp"

#include "tests/ui/tiny_experiment.hpp"
#include <nlohmann/json.hpp>

#include <QAction>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <qcustomplot.h>

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

namespace lp::ui {
namespace {

using core::session::RunState;

// A run that finishes in well under a second: synthetic 32x32 data, width 4, K = 2, EMA with the
// diagnostic so that the EMA error chart gets data too.
core::io::ExperimentConfig tinyConfig() {
    core::io::ExperimentConfig c = test::tinyExperiment("ema");
    c.pipeline.diagnosticStash = true;
    return c;
}

// Plays the window's current experiment at full speed until the bridge reports Finished.
void runToEnd(MainWindow& w) {
    w.transport()->speedSlider()->setValue(w.transport()->speedSlider()->maximum());
    ASSERT_EQ(w.bridge()->ticksPerSecond(), 0.0);
    QSignalSpy states(w.bridge(), &TrainingBridge::stateChanged);
    ASSERT_TRUE(states.isValid());
    ASSERT_TRUE(w.play()) << w.lastError().toStdString();
    while (w.bridge()->status().state != RunState::Finished) {
        ASSERT_NE(w.bridge()->status().state, RunState::Failed) << w.bridge()->status().message;
        ASSERT_TRUE(states.wait(30000))
            << "no state change; state " << core::session::toString(w.bridge()->status().state);
    }
}

QByteArray head(const QString& path, int n) {
    QFile f(path);
    EXPECT_TRUE(f.open(QIODevice::ReadOnly)) << path.toStdString();
    return f.read(n);
}

TEST(MainWindow, BuildsWithChartsDocksAndTransport) {
    MainWindow w;
    w.show();
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("LayerPipe Studio")));
    ASSERT_EQ(w.charts()->charts().size(), 6U);  // five live charts and Compare
    for (const ChartPanel::Chart& chart : w.charts()->charts()) {
        EXPECT_NE(chart.plot, nullptr) << chart.name.toStdString();
    }
    ASSERT_GE(w.lessons()->lessons().size(), 5U);  // front() below
    EXPECT_EQ(w.transport()->playPauseAction()->shortcut(), QKeySequence(Qt::Key_Space));
    EXPECT_EQ(w.transport()->stepTickAction()->shortcut(), QKeySequence(Qt::Key_Right));
    EXPECT_EQ(w.transport()->resetAction()->shortcut(), QKeySequence(Qt::Key_R));
    EXPECT_FALSE(w.nonFiniteBanner()->isVisible());
    EXPECT_FALSE(w.bridge()->hasSession());
    // The first lesson is loaded into the panels, not started.
    EXPECT_EQ(w.currentExperiment().name, w.lessons()->lessons().front().config.name);
    w.charts()->setDashboard(true);
    EXPECT_TRUE(w.charts()->timeline()->isVisible());
    EXPECT_TRUE(w.charts()->reconstruction()->isVisible());
    EXPECT_FALSE(w.charts()->compare()->isVisible());  // a tab only
    EXPECT_FALSE(w.charts()->study()->isVisible());    // a tab only
    w.charts()->setDashboard(false);
    EXPECT_EQ(w.charts()->tabs()->count(), 7);  // and the Study tab (issue 14)
    EXPECT_EQ(w.charts()->tabs()->widget(6), w.charts()->study());
    w.charts()->tabs()->setCurrentWidget(w.charts()->compare());
    EXPECT_TRUE(w.charts()->compare()->isVisible());
}

TEST(Lessons, EveryPresetParsesAndIsClassroomSized) {
    const std::vector<Lesson> lessons = loadLessons();
    ASSERT_GE(lessons.size(), 5U);
    for (const Lesson& l : lessons) {
        SCOPED_TRACE(l.resource.toStdString());
        QFile file(l.resource);
        ASSERT_TRUE(file.open(QIODevice::ReadOnly));
        const nlohmann::json doc = nlohmann::json::parse(file.readAll().toStdString());
        const core::io::ExperimentConfig c = core::io::parseConfig(doc);
        EXPECT_NO_THROW(core::io::validate(c));
        EXPECT_EQ(c, l.config);
        EXPECT_FALSE(c.description.empty());
        EXPECT_GT(c.training.maxSteps, 0);  // something moves within seconds
        EXPECT_GT(c.data.testLimit, 0);
    }
}

// Issue 14: a preset's "studio" object makes a comparison lesson; bad ones are named.
TEST(Lessons, ComparisonLessonsNameTheirVariants) {
    const Lesson l = parseLesson(
        R"({"name": "c", "studio": {"compare": ["sequential", "ema", "momentum"]}})", "c.json");
    EXPECT_EQ(l.config.name, "c");
    EXPECT_EQ(
        l.compare,
        (std::vector{CompareVariant::Sequential, CompareVariant::Ema, CompareVariant::Momentum}));
    EXPECT_TRUE(parseLesson(R"({"name": "plain"})", "p.json").compare.empty());
    const auto rejected = [](const char* json, const std::string& fragment) {
        try {
            parseLesson(json, QStringLiteral("bad.json"));
            ADD_FAILURE() << "accepted " << json;
        } catch (const core::InputError& e) {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
        }
    };
    rejected(R"({"studio": {"compare": ["stash", "EMA"]}})", "has \"EMA\"; allowed: sequential");
    rejected(R"({"studio": {"compare": []}})", "1 to 5 variants");
    rejected(R"({"studio": {"compare": ["stash", "stash", "stash", "stash", "stash", "ema"]}})",
             "1 to 5 variants");
    rejected(R"({"studio": {"play": true}})", "unknown key 'studio.play' (allowed: compare)");
    rejected(R"({"studio": 1})", "'studio' must be an object");
}

// Lesson 7 runs sequential, latest, stash, EMA and momentum in the Compare tab; the main run
// stays idle.
TEST(Lessons, LessonSevenComparesFivePoliciesInTheCompareTab) {
    MainWindow w;
    w.show();
    int seven = -1;
    for (std::size_t i = 0; i < w.lessons()->lessons().size(); ++i) {
        if (w.lessons()->lessons()[i].config.name.rfind("7. ", 0) == 0) {
            seven = static_cast<int>(i);
        }
    }
    ASSERT_GE(seven, 0) << "no lesson 7";
    const Lesson& lesson = w.lessons()->lessons()[static_cast<std::size_t>(seven)];
    EXPECT_EQ(lesson.config.pipeline.cuts.size(), 3U);  // K = 4
    EXPECT_EQ(lesson.config.model.width, 16);
    ASSERT_TRUE(w.runLesson(seven));
    CompareRunner* runner = w.charts()->compare()->runner();
    ASSERT_TRUE(runner->running()) << w.lastError().toStdString();
    EXPECT_FALSE(w.bridge()->hasSession());
    EXPECT_EQ(w.charts()->tabs()->currentWidget(), w.charts()->compare());
    EXPECT_EQ(w.currentExperiment().name, lesson.config.name);
    QStringList policies;
    for (const CompareRun& run : runner->runs()) {
        policies << QString::fromStdString(
            run.config.pipeline.cuts.empty()
                ? std::string("sequential")
                : std::string(core::choiceName(run.config.pipeline.policy)));
    }
    EXPECT_EQ(policies, (QStringList{"sequential", "latest", "stash", "ema", "momentum"}));
    w.charts()->compare()->stop();
    EXPECT_FALSE(runner->running());
}

TEST(MainWindow, TinyRunThroughTheBridgeFeedsEveryChart) {
    MainWindow w;
    w.show();
    const core::io::ExperimentConfig config = tinyConfig();
    w.loadExperiment(config);
    EXPECT_EQ(w.currentExperiment(), config);  // the panels round-trip the whole config
    QSignalSpy batches(w.bridge(), &TrainingBridge::telemetry);
    ASSERT_TRUE(batches.isValid());
    runToEnd(w);
    EXPECT_GT(batches.count(), 0);
    EXPECT_EQ(w.bridge()->config(), config);
    EXPECT_EQ(w.bridge()->layout().stages(), 2);
    EXPECT_EQ(w.bridge()->log().train().size(), 4U);
    EXPECT_EQ(w.bridge()->log().eval().size(), 1U);

    const ChartPanel* charts = w.charts();
    EXPECT_GT(charts->timeline()->eventCount(), 0U);
    EXPECT_EQ(charts->timeline()->stageRows(), 2);
    std::int64_t stalenessSamples = 0;
    for (const StalenessView::UnitStaleness& u : charts->staleness()->units()) {
        stalenessSamples += u.samples;
    }
    EXPECT_GT(stalenessSamples, 0);
    EXPECT_GT(charts->memory()->measuredGraph()->dataCount(), 0);
    EXPECT_GT(charts->training()->lossRaw()->dataCount(), 0);
    EXPECT_GT(charts->training()->testLoss()->dataCount(), 0);
    ASSERT_NE(charts->reconstruction()->stageGraph(0), nullptr);
    EXPECT_GT(charts->reconstruction()->stageGraph(0)->dataCount(), 0);
    EXPECT_TRUE(charts->reconstruction()->noDataNote().isEmpty());  // EMA with the diagnostic

    EXPECT_TRUE(w.transport()->statusLabel()->text().contains(QStringLiteral("finished")));
    EXPECT_TRUE(w.experimentPanel()->isEnabled());  // a finished run frees the panels

    QSignalSpy cleared(w.bridge(), &TrainingBridge::cleared);
    w.reset();
    EXPECT_EQ(cleared.count(), 1);
    EXPECT_FALSE(w.bridge()->hasSession());
    EXPECT_TRUE(w.bridge()->log().empty());
    EXPECT_EQ(charts->timeline()->eventCount(), 0U);
    EXPECT_EQ(charts->training()->lossRaw()->dataCount(), 0);
}

TEST(MainWindow, KeysDriveTheTransport) {
    MainWindow w;
    w.show();
    w.activateWindow();
    ASSERT_TRUE(QTest::qWaitForWindowActive(&w));
    w.loadExperiment(tinyConfig());
    w.transport()->speedSlider()->setValue(1);  // slow: the run is still going when checked
    QTest::keyClick(&w, Qt::Key_Right);         // → builds the session and runs one tick
    ASSERT_TRUE(w.bridge()->hasSession());
    EXPECT_FALSE(w.transport()->running());
    QTest::keyClick(&w, Qt::Key_Space);  // play
    EXPECT_TRUE(w.transport()->running());
    QTest::keyClick(&w, Qt::Key_Space);  // pause
    EXPECT_FALSE(w.transport()->running());
    QTest::keyClick(&w, Qt::Key_R);  // reset
    EXPECT_FALSE(w.bridge()->hasSession());
}

// Issue 13: a paused run leaves the pipeline editable, with a note that the edits wait for Reset;
// while it runs the editor is locked.
TEST(MainWindow, PausedRunLeavesThePipelineEditableUntilReset) {
    MainWindow w;
    w.loadExperiment(tinyConfig());
    w.transport()->speedSlider()->setValue(1);  // slow: the run is still going when checked
    auto* editor = w.findChild<PipelineEditor*>();
    ASSERT_NE(editor, nullptr);
    const auto waitFor = [](const std::function<bool()>& done) {
        for (int i = 0; i < 250 && !done(); ++i) {
            QTest::qWait(20);
        }
        return done();
    };
    ASSERT_TRUE(w.play()) << w.lastError().toStdString();
    EXPECT_TRUE(waitFor([&] { return !editor->strip()->isEnabled(); }));
    EXPECT_FALSE(editor->pausedNote()->isVisibleTo(editor));
    w.pause();
    EXPECT_TRUE(waitFor([&] { return editor->pausedNote()->isVisibleTo(editor); }));
    EXPECT_TRUE(editor->strip()->isEnabled());
    w.reset();
    EXPECT_TRUE(waitFor([&] { return !editor->pausedNote()->isVisibleTo(editor); }));
    EXPECT_TRUE(editor->strip()->isEnabled());
}

// Issue 13: lessons start at a teaching speed, and "as fast as possible" is one click away.
TEST(MainWindow, LessonsStartAtTeachingSpeedAndMaxIsOneClick) {
    MainWindow w;
    w.show();
    emit w.lessons()->lessonActivated(tinyConfig());  // as the lesson list's "Run lesson"
    ASSERT_TRUE(w.bridge()->hasSession());
    EXPECT_NEAR(w.transport()->ticksPerSecond(), 5.0, 0.05);
    EXPECT_NEAR(w.bridge()->ticksPerSecond(), 5.0, 0.05);
    w.transport()->fastestAction()->trigger();
    EXPECT_EQ(w.transport()->ticksPerSecond(), 0.0);
    EXPECT_EQ(w.bridge()->ticksPerSecond(), 0.0);
    EXPECT_EQ(w.transport()->speedSlider()->value(), w.transport()->speedSlider()->maximum());
    w.reset();
}

// Issue 13: BN recalibration set in the Experiment panel reaches the run and the training chart.
TEST(MainWindow, BnRecalibrationFromTheExperimentPanelDrawsBothTestResults) {
    MainWindow w;
    w.show();
    w.loadExperiment(tinyConfig());
    EXPECT_EQ(w.experimentPanel()->recalibrationSpin()->value(), 0);
    EXPECT_EQ(w.experimentPanel()->recalibrationSpin()->text(), QStringLiteral("off"));
    w.experimentPanel()->recalibrationSpin()->setValue(2);
    EXPECT_EQ(w.currentExperiment().eval.recalibrateBatchNorm, 2);
    runToEnd(w);
    ASSERT_EQ(w.bridge()->log().eval().size(), 1U);
    EXPECT_EQ(w.bridge()->log().eval()[0].recalBatches, 2);
    EXPECT_EQ(w.charts()->training()->testLoss()->dataCount(), 1);
    EXPECT_EQ(w.charts()->training()->testLossRecalibrated()->dataCount(), 1);
    EXPECT_EQ(w.charts()->training()->testAccuracyRecalibrated()->dataCount(), 1);
}

TEST(MainWindow, OpensSavedExperimentsAndRefusesBadOnes) {
    MainWindow w;
    const QTemporaryDir tmp;
    ASSERT_TRUE(tmp.isValid());
    core::io::ExperimentConfig c = tinyConfig();
    c.pipeline.cuts = {3, 5, 7};
    c.pipeline.policy = core::WeightPolicy::Stash;
    c.pipeline.diagnosticStash = false;
    const QString path = tmp.filePath(QStringLiteral("saved.json"));
    core::io::saveConfig(path.toStdString(), c);
    w.openExperimentFile(path);
    EXPECT_EQ(w.currentExperiment(), c);
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("tiny")));
    QFile bad(tmp.filePath(QStringLiteral("bad.json")));
    ASSERT_TRUE(bad.open(QIODevice::WriteOnly));
    bad.write(R"({"training": {"epochs": "three"}})");
    bad.close();
    EXPECT_THROW(w.openExperimentFile(bad.fileName()), core::InputError);
    EXPECT_EQ(w.currentExperiment(), c);  // unchanged
}

TEST(MainWindow, ExportReportWritesValidFiles) {
    MainWindow w;
    w.show();
    w.loadExperiment(tinyConfig());
    runToEnd(w);
    const QTemporaryDir tmp;
    ASSERT_TRUE(tmp.isValid());
    const QString dir = tmp.filePath(QStringLiteral("report"));
    ASSERT_NO_THROW(w.exportReport(dir));
    for (const ChartPanel::Chart& chart : w.charts()->charts()) {
        const QString stem = QDir(dir).filePath(chart.file);
        EXPECT_EQ(head(stem + QStringLiteral(".png"), 8), QByteArray("\x89PNG\r\n\x1a\n", 8));
        EXPECT_EQ(head(stem + QStringLiteral(".pdf"), 5), QByteArray("%PDF-"));
        EXPECT_TRUE(head(stem + QStringLiteral(".svg"), 4096).contains("<svg"));
    }
    for (const char* csv : {"ops", "staleness", "memory", "train", "eval", "reconstruction"}) {
        const QString path = QDir(dir).filePath(QStringLiteral("csv/%1.csv").arg(csv));
        EXPECT_GT(QFileInfo(path).size(), 0) << path.toStdString();
    }
    for (const char* json : {"trace.json", "run.json"}) {
        std::ifstream in(QDir(dir).filePath(QString::fromUtf8(json)).toStdString());
        ASSERT_TRUE(in.good()) << json;
        const nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
        EXPECT_FALSE(doc.is_discarded()) << json;
        EXPECT_TRUE(doc.is_object()) << json;
    }
    EXPECT_EQ(
        core::io::loadConfig(QDir(dir).filePath(QStringLiteral("experiment.json")).toStdString()),
        tinyConfig());
}

// Issue 12: closing with a run that was not exported asks first; Cancel keeps the window and
// resumes nothing lost, "Export and quit" writes the report, an exported run closes at once.
TEST(MainWindow, ClosingWithAnUnexportedRunAsksAndCanExport) {
    const QTemporaryDir tmp;
    ASSERT_TRUE(tmp.isValid());
    int asked = 0;
    MainWindow::CloseChoice answer = MainWindow::CloseChoice::Cancel;
    QString question;
    const QString dir = tmp.filePath(QStringLiteral("on-close"));
    {
        MainWindow w;
        w.setCloseQuestions(
            [&](const QString& text) {
                ++asked;
                question = text;
                return answer;
            },
            [&] { return dir; });
        w.show();
        EXPECT_TRUE(w.close());  // nothing run: nothing to lose, no question
        EXPECT_EQ(asked, 0);
        w.show();
        w.loadExperiment(tinyConfig());
        runToEnd(w);
        EXPECT_FALSE(w.close());
        EXPECT_EQ(asked, 1);
        EXPECT_TRUE(w.isVisible());
        EXPECT_TRUE(question.contains(QStringLiteral("not exported"))) << question.toStdString();
        answer = MainWindow::CloseChoice::ExportAndQuit;
        EXPECT_TRUE(w.close());
        EXPECT_EQ(asked, 2);
        EXPECT_GT(QFileInfo(QDir(dir).filePath(QStringLiteral("run.json"))).size(), 0);
        EXPECT_GT(QFileInfo(QDir(dir).filePath(QStringLiteral("csv/train.csv"))).size(), 0);
        w.show();
        EXPECT_TRUE(w.close());  // exported: no question
        EXPECT_EQ(asked, 2);
    }
    MainWindow w;
    answer = MainWindow::CloseChoice::Quit;
    w.setCloseQuestions(
        [&](const QString&) {
            ++asked;
            return answer;
        },
        [] { return QString(); });
    w.show();
    w.loadExperiment(tinyConfig());
    runToEnd(w);
    EXPECT_TRUE(w.close());
    EXPECT_EQ(asked, 3);
}

TEST(MainWindow, NonFiniteLossShowsTheBannerAndFreesThePanels) {
    MainWindow w;
    w.show();
    core::io::ExperimentConfig c = tinyConfig();
    c.pipeline.policy =
        core::WeightPolicy::Latest;  // stale weights at the largest learning rate: NaN at step 5
    c.pipeline.diagnosticStash = false;
    c.optimizer.lr = 10.0;
    c.training.maxSteps = 8;
    w.loadExperiment(c);
    w.transport()->speedSlider()->setValue(w.transport()->speedSlider()->maximum());
    QSignalSpy states(w.bridge(), &TrainingBridge::stateChanged);
    ASSERT_TRUE(w.play());
    while (w.bridge()->status().state != RunState::NonFinite) {
        ASSERT_NE(w.bridge()->status().state, RunState::Finished) << "expected a NaN loss";
        ASSERT_TRUE(states.wait(30000));
    }
    EXPECT_TRUE(w.nonFiniteBanner()->isVisible());
    // Policy latest: the EMA error chart says why it stays empty.
    EXPECT_TRUE(w.charts()->reconstruction()->noDataNote().contains(
        QStringLiteral("neither the EMA nor the momentum policy")));
    EXPECT_TRUE(w.nonFiniteBanner()->text().contains(QStringLiteral("non-finite")));
    EXPECT_TRUE(w.experimentPanel()->isEnabled());
    ASSERT_FALSE(w.bridge()->log().train().empty());
    EXPECT_TRUE(w.bridge()->log().train().back().nonFinite);
    w.reset();
    EXPECT_FALSE(w.nonFiniteBanner()->isVisible());
}

TEST(MainWindow, BadConfigShowsAnErrorAndKeepsRunning) {
    MainWindow w;
    w.show();
    core::io::ExperimentConfig c = tinyConfig();
    c.training.batchSize = 128;  // more than the 64 synthetic training samples
    w.loadExperiment(c);
    EXPECT_FALSE(w.play());
    EXPECT_FALSE(w.bridge()->hasSession());
    EXPECT_TRUE(w.lastError().contains(QStringLiteral("batchSize"))) << w.lastError().toStdString();
    EXPECT_THROW(w.exportReport(QDir::tempPath()), core::InputError);
}

}  // namespace
}  // namespace lp::ui
