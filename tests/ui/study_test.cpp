// The Study view and finished runs in the studio (issue 14, point 4), headless: results.csv as a
// sortable table, one chart point per run, a row opens its run in the live charts read-only,
// the headless charts of `--study DIR --write-charts`, and bad folders named.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "ui/chart_panel.hpp"
#include "ui/lessons.hpp"
#include "ui/main_window.hpp"
#include "ui/memory_view.hpp"
#include "ui/staleness_view.hpp"
#include "ui/study_charts.hpp"
#include "ui/study_table.hpp"
#include "ui/study_view.hpp"
#include "ui/timeline_view.hpp"
#include "ui/training_view.hpp"
#include "ui/transport_bar.hpp"

#include "tests/ui/study_fixture.hpp"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QProcess>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <qcustomplot.h>

#include <gtest/gtest.h>

namespace lp::ui {
namespace {

using test::fourRuns;
using test::writeStudy;

QString tableText(const StudyView& view, int row, const QString& column) {
    const int col = StudyTableModel::columnOf(column);
    return view.proxy()->index(row, col).data().toString();
}

TEST(StudyTable, LoadsResultsSortsNumbersAsNumbersAndIgnoresExtraColumns) {
    const QTemporaryDir dir;
    writeStudy(dir.path(), fourRuns());
    StudyView view;
    QAbstractItemModelTester tester(view.model(),
                                    QAbstractItemModelTester::FailureReportingMode::Warning);
    view.openStudy(dir.path());
    ASSERT_EQ(view.proxy()->rowCount(), 4);
    EXPECT_EQ(view.model()->columnCount(), static_cast<int>(core::io::kStudyColumns.size()));
    for (int c = 0; c < view.model()->columnCount(); ++c) {
        EXPECT_NE(view.model()->headerData(c, Qt::Horizontal).toString(), QStringLiteral("note"));
    }
    // Shown as the study means them: top-1 in percent, bytes in MiB.
    EXPECT_EQ(tableText(view, 0, QStringLiteral("final_top1")), QStringLiteral("80.0 %"));
    EXPECT_EQ(tableText(view, 2, QStringLiteral("history_bytes")), QStringLiteral("1.00 MiB"));
    EXPECT_EQ(tableText(view, 0, QStringLiteral("label")), QStringLiteral("sequential, K=2"));
    // Sorted by number, not by text (as text "1048576" < "20000000" < "524288").
    view.table()->sortByColumn(StudyTableModel::columnOf(QStringLiteral("history_bytes")),
                               Qt::AscendingOrder);
    QStringList order;
    for (int r = 0; r < 4; ++r) {
        order << tableText(view, r, QStringLiteral("run_id"));
    }
    EXPECT_EQ(order, (QStringList{"seq", "latest", "ema", "stash"}));
    // The row's run folder follows the sort.
    EXPECT_EQ(view.runFolder(3), QDir(dir.path()).absoluteFilePath(QStringLiteral("runs/stash")));
    // A diverged run is marked.
    const int ema = 2;
    EXPECT_TRUE(view.proxy()->index(ema, 0).data(Qt::BackgroundRole).isValid());
    EXPECT_FALSE(view.proxy()->index(0, 0).data(Qt::BackgroundRole).isValid());
    EXPECT_TRUE(view.message()->text().contains(QStringLiteral("4 of 4 runs finished")));
}

TEST(StudyTable, MissingGuaranteedColumnIsAClearErrorAndChangesNothing) {
    const QTemporaryDir good;
    writeStudy(good.path(), fourRuns());
    StudyView view;
    view.openStudy(good.path());
    const QTemporaryDir bad;
    writeStudy(bad.path(), fourRuns());
    std::string csv = test::resultsCsv(fourRuns());
    csv.replace(csv.find(",final_top1,"), 12, ",top1,");
    test::writeFile(QDir(bad.path()).filePath(QStringLiteral("results.csv")), csv);
    try {
        view.openStudy(bad.path());
        ADD_FAILURE() << "no InputError";
    } catch (const core::InputError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("results.csv"), std::string::npos) << what;
        EXPECT_NE(what.find("lacks the column(s) final_top1"), std::string::npos) << what;
    }
    EXPECT_EQ(view.studyDir(), QDir(good.path()).absolutePath());
    EXPECT_EQ(view.proxy()->rowCount(), 4);
    EXPECT_THROW(view.openStudy(QDir(bad.path()).filePath(QStringLiteral("nowhere"))),
                 core::InputError);
}

TEST(StudyCharts, OnePointPerRunAndOneLossCurvePerRun) {
    const QTemporaryDir dir;
    writeStudy(dir.path(), fourRuns());
    StudyView view;
    view.openStudy(dir.path());
    const StudyCharts* charts = view.charts();
    EXPECT_EQ(StudyCharts::markCount(charts->accuracyVsMemory()), 4);
    EXPECT_EQ(StudyCharts::markCount(charts->accuracyVsBubble()), 4);
    EXPECT_EQ(charts->curveCount(), 4);
    for (int i = 0; i < charts->lossCurves()->graphCount(); ++i) {
        EXPECT_EQ(charts->lossCurves()->graph(i)->dataCount(), test::kSteps);
    }
    // The stash run's point: 20000000 bytes, 78 %; its forecast ring at the same place.
    bool found = false;
    for (int i = 0; i < charts->accuracyVsMemory()->graphCount(); ++i) {
        const QCPGraph* g = charts->accuracyVsMemory()->graph(i);
        if (g->name() == QStringLiteral("stash") && g->dataCount() == 1) {
            EXPECT_NEAR(g->data()->at(0)->key, 20000000.0 / (1024.0 * 1024.0), 1e-9);
            EXPECT_NEAR(g->data()->at(0)->value, 78.0, 1e-9);
            found = true;
        }
    }
    EXPECT_TRUE(found);
    // A run folder without train.csv: no curve for it, and the view says which.
    QFile::remove(QDir(dir.path()).filePath(QStringLiteral("runs/latest/train.csv")));
    view.reload();
    EXPECT_EQ(charts->curveCount(), 3);
    EXPECT_TRUE(view.message()->text().contains(QStringLiteral("train.csv")));
}

// A run that diverged before its evaluation has no test top-1: it is still one mark, at the
// bottom, and the axis keeps fitting the others (quick's K = 10 latest run, 0 to 85 % otherwise).
TEST(StudyCharts, ARunWithoutTopOneSitsAtTheBottomWithoutSqueezingTheOthers) {
    const QTemporaryDir dir;
    writeStudy(dir.path(), fourRuns());
    std::string csv = test::resultsCsv(fourRuns());
    const std::size_t ema = csv.find(",0.100000,");
    ASSERT_NE(ema, std::string::npos);
    csv.replace(ema, 10, ",,");
    test::writeFile(QDir(dir.path()).filePath(QStringLiteral("results.csv")), csv);
    StudyView view;
    view.openStudy(dir.path());
    const QCustomPlot* plot = view.charts()->accuracyVsMemory();
    EXPECT_EQ(StudyCharts::markCount(plot), 4);
    EXPECT_EQ(StudyCharts::markCount(view.charts()->accuracyVsBubble()), 4);
    const QCPRange y = plot->yAxis->range();
    EXPECT_GT(y.lower, 60.0);  // fits 70..80 %, not 0..80 %
    for (int i = 0; i < plot->graphCount(); ++i) {
        const QCPGraph* g = plot->graph(i);
        if (g->name() == QStringLiteral("ema (diverged)")) {
            ASSERT_EQ(g->dataCount(), 1);
            EXPECT_TRUE(y.contains(g->data()->at(0)->value));
            EXPECT_LT(g->data()->at(0)->value, 70.0);
        }
    }
}

TEST(StudyView, SaysHowToMakeAStudyAndReloadsWhenResultsAppear) {
    const QTemporaryDir dir;
    StudyView view;
    EXPECT_TRUE(view.message()->text().contains(QStringLiteral("layerpipe study --preset quick")));
    view.openStudy(dir.path());
    EXPECT_EQ(view.proxy()->rowCount(), 0);
    EXPECT_TRUE(view.message()->text().contains(QStringLiteral("No results.csv")));
    EXPECT_TRUE(view.message()->text().contains(QStringLiteral("layerpipe study --preset quick")));
    QSignalSpy loaded(&view, &StudyView::loaded);
    ASSERT_TRUE(loaded.isValid());
    writeStudy(dir.path(), fourRuns());  // as a running study would, results.csv last
    while (view.proxy()->rowCount() != 4) {
        ASSERT_TRUE(loaded.wait(10000)) << "no reload after results.csv appeared";
    }
    // A further row (the study goes on) shows up too.
    std::vector<test::StudyRowSpec> five = fourRuns();
    five.push_back({"stash2", "stash", 0.79, "20000000", "20000000", "0.1"});
    writeStudy(dir.path(), five);
    while (view.proxy()->rowCount() != 5) {
        ASSERT_TRUE(loaded.wait(10000)) << "no reload after results.csv changed";
    }
}

TEST(StudyView, RowActivationOpensTheRunReadOnlyUntilALessonIsPicked) {
    const QTemporaryDir dir;
    writeStudy(dir.path(), fourRuns());
    MainWindow w;
    w.show();
    w.openStudyFolder(dir.path());
    EXPECT_EQ(w.charts()->tabs()->currentWidget(), w.charts()->study());
    StudyView* view = w.charts()->study();
    view->table()->sortByColumn(StudyTableModel::columnOf(QStringLiteral("run_id")),
                                Qt::AscendingOrder);  // ema, latest, seq, stash
    ASSERT_EQ(view->runFolder(3), QDir(dir.path()).absoluteFilePath(QStringLiteral("runs/stash")));
    ASSERT_TRUE(view->activateRow(3));
    EXPECT_TRUE(w.lastError().isEmpty()) << w.lastError().toStdString();
    EXPECT_EQ(w.openedRun(), QDir(dir.path()).absoluteFilePath(QStringLiteral("runs/stash")));
    // The views hold the run: its stages, its ops, its losses, its memory.
    const ChartPanel* charts = w.charts();
    EXPECT_EQ(charts->timeline()->stageRows(), 2);
    EXPECT_EQ(charts->timeline()->eventCount(), static_cast<std::size_t>(test::kOps));
    EXPECT_EQ(charts->training()->lossRaw()->dataCount(), test::kSteps);
    EXPECT_EQ(charts->training()->testAccuracy()->dataCount(), 1);
    EXPECT_GT(charts->memory()->measuredGraph()->dataCount(), 0);
    EXPECT_EQ(w.currentExperiment().name, "fixture (stash)");
    EXPECT_EQ(charts->tabs()->currentWidget(), charts->training());
    // Read-only: the title says so, the run controls are off, Play refuses.
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("read-only")))
        << w.windowTitle().toStdString();
    EXPECT_FALSE(w.transport()->playAction()->isEnabled());
    EXPECT_FALSE(w.transport()->playPauseAction()->isEnabled());
    EXPECT_FALSE(w.transport()->resetAction()->isEnabled());
    EXPECT_FALSE(w.play());
    // Picking a lesson ends it.
    ASSERT_TRUE(w.showLesson(0));
    EXPECT_TRUE(w.openedRun().isEmpty());
    EXPECT_FALSE(w.windowTitle().contains(QStringLiteral("read-only")));
    EXPECT_TRUE(w.transport()->playAction()->isEnabled());
    EXPECT_TRUE(w.transport()->playPauseAction()->isEnabled());
    EXPECT_EQ(w.currentExperiment().name, w.lessons()->lessons().front().config.name);
}

TEST(StudyView, ABrokenRunFolderIsNamedAndChangesNothing) {
    const QTemporaryDir dir;
    writeStudy(dir.path(), fourRuns());
    MainWindow w;
    const std::string before = w.currentExperiment().name;
    QFile::remove(QDir(dir.path()).filePath(QStringLiteral("runs/ema/ops.csv")));
    try {
        w.openRunFolder(QDir(dir.path()).filePath(QStringLiteral("runs/ema")));
        ADD_FAILURE() << "no InputError";
    } catch (const core::InputError& e) {
        EXPECT_NE(std::string(e.what()).find("ops.csv does not exist"), std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(w.openedRun().isEmpty());
    EXPECT_EQ(w.currentExperiment().name, before);
    EXPECT_TRUE(w.transport()->playAction()->isEnabled());
}

TEST(StudyCharts, WriteChartsWritesThreeDecodablePngs) {
    const QTemporaryDir dir;
    writeStudy(dir.path(), fourRuns());
    const QStringList files = writeStudyCharts(dir.path());
    ASSERT_EQ(files.size(), 3);
    for (const QString& name : {QStringLiteral("accuracy_vs_memory.png"),
                                QStringLiteral("accuracy_vs_bubble.png"),
                                QStringLiteral("loss_curves.png")}) {
        const QString path = QDir(dir.path()).filePath(QStringLiteral("charts/") + name);
        EXPECT_TRUE(files.contains(path)) << path.toStdString();
        const QImage image(path);
        ASSERT_FALSE(image.isNull()) << path.toStdString();
        EXPECT_EQ(image.size(), QSize(1920, 1200));
    }
    EXPECT_THROW(writeStudyCharts(QDir(dir.path()).filePath(QStringLiteral("runs"))),
                 core::InputError);  // no results.csv there
}

// The executable itself: no display needed, exit 0 with the PNGs, 2 with a message on a bad
// folder (what `layerpipe study` relies on).
TEST(StudioExecutable, WriteChartsRunsHeadlessAndExitsTwoOnABadFolder) {
    const QTemporaryDir dir;
    writeStudy(dir.path(), fourRuns());
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const QString& v : {QStringLiteral("DISPLAY"),
                             QStringLiteral("WAYLAND_DISPLAY"),
                             QStringLiteral("QT_QPA_PLATFORM")}) {
        env.remove(v);
    }
    const auto run = [&env](const QStringList& args) {
        QProcess p;
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(LP_STUDIO_PATH), args);
        EXPECT_TRUE(p.waitForFinished(60000));
        return std::pair{p.exitCode(), QString::fromUtf8(p.readAllStandardError())};
    };
    const auto [ok, okErr] =
        run({QStringLiteral("--study"), dir.path(), QStringLiteral("--write-charts")});
    EXPECT_EQ(ok, 0) << okErr.toStdString();
    for (const char* png :
         {"accuracy_vs_memory.png", "accuracy_vs_bubble.png", "loss_curves.png"}) {
        const QFileInfo f(
            QDir(dir.path()).filePath(QStringLiteral("charts/") + QLatin1String(png)));
        EXPECT_TRUE(f.exists() && f.size() > 1000) << png;
    }
    const QString missing = QDir(dir.path()).filePath(QStringLiteral("missing"));
    const auto [bad, badErr] =
        run({QStringLiteral("--study"), missing, QStringLiteral("--write-charts")});
    EXPECT_EQ(bad, 2);
    EXPECT_TRUE(badErr.contains(missing + QStringLiteral(" is not a folder")))
        << badErr.toStdString();
    const auto [noStudy, noStudyErr] = run({QStringLiteral("--write-charts")});
    EXPECT_EQ(noStudy, 2);
    EXPECT_TRUE(noStudyErr.contains(QStringLiteral("needs --study"))) << noStudyErr.toStdString();
}

}  // namespace
}  // namespace lp::ui
