// Issue 13 in the main window, headless: switching lesson or experiment resets every view, the
// LR scale and the status; the title and status name what runs; the window fits a 1024x768
// screen; presentation mode (full screen, enlarged chart, zoom, themes), the remembered layout
// (a scratch settings file, never the user's), Help > Shortcuts, recent experiments and start-up
// errors. STYLE.md section 7: wait with QSignalSpy, assert state, not pixels.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/presentation.hpp"

#include "core/io/config.hpp"
#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/chart_panel.hpp"
#include "ui/compare_runner.hpp"
#include "ui/compare_view.hpp"
#include "ui/lessons.hpp"
#include "ui/main_window.hpp"
#include "ui/memory_view.hpp"
#include "ui/palette.hpp"
#include "ui/reconstruction_view.hpp"
#include "ui/shortcuts_dialog.hpp"
#include "ui/staleness_view.hpp"
#include "ui/studio_settings.hpp"
#include "ui/timeline_view.hpp"
#include "ui/training_bridge.hpp"
#include "ui/transport_bar.hpp"
#include "ui/window_menus.hpp"

#include "tests/ui/default_look.hpp"
#include "tests/ui/tiny_experiment.hpp"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QSignalSpy>
#include <QSlider>
#include <QStatusBar>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>
#include <qcustomplot.h>

#include <gtest/gtest.h>

namespace lp::ui {
namespace {

using core::session::RunState;

core::io::ExperimentConfig withStages(const char* name, std::vector<std::int64_t> cuts) {
    core::io::ExperimentConfig c = test::tinyExperiment("ema");
    c.name = name;
    c.pipeline.cuts = std::move(cuts);
    c.pipeline.diagnosticStash = true;  // the EMA error chart gets a curve per delayed stage
    return c;
}

void waitFor(MainWindow& w, RunState state) {
    QSignalSpy states(w.bridge(), &TrainingBridge::stateChanged);
    ASSERT_TRUE(states.isValid());
    while (w.bridge()->status().state != state) {
        ASSERT_NE(w.bridge()->status().state, RunState::Failed) << w.bridge()->status().message;
        ASSERT_TRUE(states.wait(60000)) << "no state change";
    }
}

void runToEnd(MainWindow& w) {
    w.transport()->speedSlider()->setValue(w.transport()->speedSlider()->maximum());
    ASSERT_TRUE(w.play()) << w.lastError().toStdString();
    waitFor(w, RunState::Finished);
}

int legendEntries(QCustomPlot* plot) {
    auto* legend = qobject_cast<chart::FlowLegend*>(plot->legend);
    return legend != nullptr ? static_cast<int>(legend->entries().size()) : -1;
}

// The global look back to the defaults after each test (DefaultLook), and the window palette and
// the settings store too.
class Window : public test::DefaultLook {
protected:
    void TearDown() override {
        DefaultLook::TearDown();
        QApplication::setPalette(palette::windowPalette(palette::Theme::Light));
        settings::disable();
    }
};

TEST_F(Window, Issue13TenStagesThenFourLeavesFourRowsAndFreshAxes) {
    MainWindow w;
    w.show();
    w.loadExperiment(withStages("ten stages", {1, 2, 3, 4, 5, 6, 7, 8, 9}));
    ChartPanel* charts = w.charts();
    EXPECT_EQ(charts->timeline()->stageRows(), 10);  // before it runs: the experiment's layout
    runToEnd(w);
    EXPECT_EQ(charts->timeline()->stageRows(), 10);
    EXPECT_EQ(charts->reconstruction()->stageCount(), 10);
    charts->timeline()->setFollowLive(false);
    charts->timeline()->plot()->xAxis->setRange(5.0, 9.0);
    w.transport()->lrSlider()->setValue(w.transport()->lrSlider()->maximum());  // 10×

    const QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const QString four = dir.filePath(QStringLiteral("four.json"));
    core::io::saveConfig(four.toStdString(), withStages("four stages", {3, 5, 7}));
    w.openExperimentFile(four);
    EXPECT_EQ(charts->timeline()->stageRows(), 4);
    EXPECT_EQ(charts->timeline()->utilisation().size(), 4U);  // the mean is over 4 rows
    EXPECT_EQ(charts->timeline()->eventCount(), 0U);
    EXPECT_EQ(charts->reconstruction()->stageCount(), 4);
    EXPECT_EQ(legendEntries(charts->reconstruction()->plot()), 4);  // no stage 4..9 entries
    EXPECT_TRUE(charts->timeline()->followLive());
    EXPECT_EQ(charts->timeline()->plot()->xAxis->range(),
              QCPRange(0.0, TimelineView::kDefaultFollowTicks));
    for (const StalenessView::UnitStaleness& u : charts->staleness()->units()) {
        EXPECT_LT(u.stage, 4);
        EXPECT_EQ(u.samples, 0);
    }
    EXPECT_EQ(w.transport()->lrSlider()->value(), w.transport()->lrSlider()->maximum() / 2);
    EXPECT_FLOAT_EQ(w.bridge()->lrScale(), 1.0F);
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("four stages")));

    runToEnd(w);
    EXPECT_EQ(charts->timeline()->stageRows(), 4);
    EXPECT_EQ(charts->reconstruction()->stageCount(), 4);
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("four stages")));
}

TEST_F(Window, Issue13SelectingALessonSwitchesToItWhileNothingRuns) {
    MainWindow w;
    w.show();
    const auto& lessons = w.lessons()->lessons();
    ASSERT_GE(lessons.size(), 4U);
    // Lesson 4 has ten stages, lesson 3 four.
    w.lessons()->select(3);
    EXPECT_EQ(w.charts()->timeline()->stageRows(), 10);
    EXPECT_EQ(w.currentExperiment().name, lessons[3].config.name);
    w.transport()->lrSlider()->setValue(0);
    w.lessons()->select(2);
    EXPECT_EQ(w.charts()->timeline()->stageRows(), 4);
    EXPECT_EQ(w.charts()->reconstruction()->stageCount(), 4);
    EXPECT_EQ(w.transport()->lrSlider()->value(), w.transport()->lrSlider()->maximum() / 2);
    EXPECT_TRUE(w.windowTitle().contains(QString::fromStdString(lessons[2].config.name)));
}

TEST_F(Window, Issue13StatusAndTitleNameWhatRuns) {
    MainWindow w;
    w.show();
    w.loadExperiment(withStages("first", {5}));
    runToEnd(w);
    EXPECT_EQ(w.statusBar()->currentMessage(),
              QStringLiteral("Finished. Press Play to run it again."));
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("first · finished")))
        << w.windowTitle().toStdString();
    // A new run: never "Finished" while it goes on.
    w.transport()->speedSlider()->setValue(1);  // slow enough to catch it running
    ASSERT_TRUE(w.play());
    waitFor(w, RunState::Running);
    EXPECT_TRUE(w.statusBar()->currentMessage().isEmpty())
        << w.statusBar()->currentMessage().toStdString();
    EXPECT_TRUE(w.transport()->statusLabel()->text().contains(QStringLiteral("running")));
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("first · running")));
    w.reset();
    EXPECT_TRUE(w.transport()->statusLabel()->text().contains(QStringLiteral("no run")));

    // A comparison is what runs: the status line and the title say so (not "no run").
    ASSERT_TRUE(w.startCompare()) << w.lastError().toStdString();
    EXPECT_TRUE(w.transport()->statusLabel()->text().contains(QStringLiteral("comparing")))
        << w.transport()->statusLabel()->text().toStdString();
    EXPECT_FALSE(w.transport()->statusLabel()->text().contains(QStringLiteral("no run")));
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("comparing")));
    QSignalSpy finished(w.charts()->compare()->runner(), &CompareRunner::finished);
    while (w.charts()->compare()->runner()->running()) {
        ASSERT_TRUE(finished.wait(60000));
    }
    EXPECT_TRUE(w.transport()->statusLabel()->text().contains(QStringLiteral("comparison")));
    EXPECT_FALSE(w.windowTitle().contains(QStringLiteral("comparing")));
}

TEST_F(Window, Issue13ResetStartsTheTimelineAfresh) {
    MainWindow w;
    w.show();
    w.loadExperiment(withStages("tiny", {5}));
    runToEnd(w);
    TimelineView* timeline = w.charts()->timeline();
    timeline->setFollowLive(false);
    timeline->plot()->xAxis->setRange(3.0, 7.5);
    w.reset();
    EXPECT_TRUE(timeline->followLive());
    EXPECT_EQ(timeline->plot()->xAxis->range(), QCPRange(0.0, TimelineView::kDefaultFollowTicks));
    EXPECT_EQ(timeline->stageRows(), 2);
}

TEST_F(Window, Issue13FitsA1024x768ScreenWithAndWithoutTheDashboard) {
    MainWindow w;
    w.show();
    // Never larger than the screen (the offscreen platform's is 800 x 600: smaller than the
    // window can be, so it gets a maximised window of its minimum size there).
    const QRect available = w.screen()->availableGeometry();
    if (available.width() >= 1024 && available.height() >= 768) {
        EXPECT_LE(w.width(), available.width());
        EXPECT_LE(w.height(), available.height());
    }
    for (const bool dashboard : {false, true}) {
        w.setDashboard(dashboard);
        const QSize min = w.minimumSizeHint().expandedTo(w.minimumSize());
        EXPECT_LE(min.width(), 1024) << "dashboard " << dashboard;
        EXPECT_LE(min.height(), 768) << "dashboard " << dashboard;
        w.showNormal();
        w.resize(1024, 768);
        QApplication::processEvents();
        EXPECT_EQ(w.size(), QSize(1024, 768)) << "dashboard " << dashboard;
    }
}

TEST_F(Window, Issue13PresentationModeActions) {
    MainWindow w;
    w.show();
    Presentation* p = w.presentation();
    EXPECT_EQ(p->fullScreenAction()->shortcut(), QKeySequence(Qt::Key_F11));
    EXPECT_EQ(p->enlargeAction()->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_E));
    EXPECT_TRUE(p->zoomInAction()->shortcuts().contains(QKeySequence(QKeySequence::ZoomIn)));
    EXPECT_TRUE(p->zoomOutAction()->shortcuts().contains(QKeySequence(QKeySequence::ZoomOut)));
    EXPECT_EQ(p->zoomResetAction()->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_0));

    // One chart enlarged: alone, the docks out of the way; Esc brings everything back.
    w.setDashboard(true);
    ChartPanel* charts = w.charts();
    p->enlargeAction()->trigger();
    ASSERT_EQ(charts->enlarged(), 0);  // the timeline, the dashboard's first chart
    EXPECT_TRUE(charts->timeline()->isVisible());
    EXPECT_FALSE(charts->staleness()->isVisible());
    for (QDockWidget* dock : w.findChildren<QDockWidget*>()) {
        EXPECT_FALSE(dock->isVisible()) << dock->objectName().toStdString();
    }
    p->leave();
    EXPECT_EQ(charts->enlarged(), -1);
    EXPECT_TRUE(charts->staleness()->isVisible());
    EXPECT_TRUE(w.findChild<QDockWidget*>(QStringLiteral("lessons"))->isVisible());
    // A double click on a chart's title enlarges it too.
    QCustomPlot* plot = charts->memory()->plot();
    plot->replot();
    auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0));
    ASSERT_NE(title, nullptr);
    QTest::mouseDClick(plot, Qt::LeftButton, {}, title->outerRect().center());
    EXPECT_EQ(charts->enlarged(), 2);
    EXPECT_TRUE(p->enlargeAction()->isChecked());
    p->enlargeAction()->trigger();
    EXPECT_EQ(charts->enlarged(), -1);
    EXPECT_TRUE(charts->dashboard());

    // Zoom: fonts and lines of every chart.
    QCPAxis* axis = charts->staleness()->delayBars()->valueAxis();
    const double tick = axis->tickLabelFont().pointSizeF();
    p->zoomInAction()->trigger();
    p->zoomInAction()->trigger();
    EXPECT_DOUBLE_EQ(palette::zoom(), 1.5);
    charts->staleness()->plot()->replot();
    EXPECT_DOUBLE_EQ(axis->tickLabelFont().pointSizeF(), 1.5 * tick);
    p->zoomOutAction()->trigger();
    EXPECT_DOUBLE_EQ(palette::zoom(), 1.25);
    p->zoomResetAction()->trigger();
    EXPECT_DOUBLE_EQ(palette::zoom(), 1.0);

    // Themes: charts and widgets.
    p->themeAction(palette::Theme::Dark)->trigger();
    EXPECT_EQ(palette::theme(), palette::Theme::Dark);
    EXPECT_LT(QApplication::palette().color(QPalette::Window).lightnessF(), 0.3);
    charts->staleness()->plot()->replot();
    EXPECT_GT(axis->tickLabelColor().lightnessF(), 0.8);
    p->themeAction(palette::Theme::HighContrast)->trigger();
    EXPECT_EQ(QApplication::palette().color(QPalette::Window), QColor(Qt::black));
    p->themeAction(palette::Theme::Light)->trigger();
    EXPECT_GT(QApplication::palette().color(QPalette::Window).lightnessF(), 0.7);

    // Legends collapse and come back.
    p->legendsAction()->trigger();
    EXPECT_FALSE(chart::legendsShown());
    p->legendsAction()->trigger();
    EXPECT_TRUE(chart::legendsShown());

    // Full screen and back.
    p->fullScreenAction()->trigger();
    EXPECT_TRUE(p->fullScreenAction()->isChecked());
    p->leave();
    EXPECT_FALSE(p->fullScreenAction()->isChecked());
    EXPECT_FALSE(w.isFullScreen());
}

TEST_F(Window, Issue13RemembersLayoutThemeAndZoomInItsOwnSettings) {
    const QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const QString file = dir.filePath(QStringLiteral("studio.ini"));
    {
        settings::disable();  // the test main's default: nothing is read or written
        MainWindow w;
        w.setDashboard(true);
        w.saveSettings();
        EXPECT_FALSE(QFileInfo::exists(file));
    }
    settings::useFile(file);
    {
        MainWindow w;
        w.show();
        EXPECT_FALSE(w.charts()->dashboard());  // an empty file: the defaults
        w.setDashboard(true);
        w.presentation()->setTheme(palette::Theme::Dark);
        w.presentation()->setZoom(1.5);
        w.close();  // saves
    }
    ASSERT_TRUE(QFileInfo::exists(file));
    palette::setTheme(palette::Theme::Light);
    palette::setZoom(1.0);
    {
        MainWindow w;
        w.show();
        EXPECT_TRUE(w.charts()->dashboard());
        EXPECT_EQ(palette::theme(), palette::Theme::Dark);
        EXPECT_DOUBLE_EQ(palette::zoom(), 1.5);
        EXPECT_TRUE(w.presentation()->themeAction(palette::Theme::Dark)->isChecked());
    }
}

TEST_F(Window, Issue13ShortcutsPageListsEveryShortcut) {
    MainWindow w;
    const QString html = shortcutsHtml(&w);
    int listed = 0;
    for (const QAction* action : w.findChildren<QAction*>()) {
        for (const QKeySequence& key : action->shortcuts()) {
            EXPECT_TRUE(html.contains(key.toString(QKeySequence::NativeText).toHtmlEscaped()))
                << key.toString().toStdString() << " (" << action->text().toStdString() << ")";
            ++listed;
        }
    }
    EXPECT_GE(listed, 12);
    for (const char* key : {"F11", "Space", "Ctrl+E", "Ctrl+D", "Ctrl+0", "F1"}) {
        EXPECT_TRUE(html.contains(QLatin1String(key))) << key;
    }
    EXPECT_TRUE(html.contains(QStringLiteral("Double click on a title")));
    ShortcutsDialog* dialog = w.menus()->shortcutsDialog();
    w.menus()->shortcutsAction()->trigger();
    EXPECT_TRUE(dialog->isVisible());
    EXPECT_FALSE(dialog->isModal());
    EXPECT_TRUE(dialog->page()->toPlainText().contains(QStringLiteral("Full screen")));
}

TEST_F(Window, Issue13RecentExperiments) {
    const QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    settings::useFile(dir.filePath(QStringLiteral("studio.ini")));
    MainWindow w;
    const QString path = dir.filePath(QStringLiteral("mine.json"));
    core::io::saveConfig(path.toStdString(), withStages("mine", {5}));
    w.openExperimentFile(path);
    ASSERT_FALSE(settings::recentFiles().isEmpty());
    EXPECT_EQ(settings::recentFiles().front(), QFileInfo(path).absoluteFilePath());
    w.menus()->refreshRecent();
    QAction* entry = nullptr;
    for (QAction* a : w.menus()->recentMenu()->actions()) {
        entry = a->text().contains(QStringLiteral("mine.json")) ? a : entry;
    }
    ASSERT_NE(entry, nullptr);
    w.loadExperiment(withStages("other", {5}));
    entry->trigger();
    EXPECT_EQ(w.currentExperiment().name, "mine");
    // A file that is gone is said so and leaves the list.
    ASSERT_TRUE(QFile::remove(path));
    w.menus()->refreshRecent();
    for (QAction* a : w.menus()->recentMenu()->actions()) {
        if (a->text().contains(QStringLiteral("mine.json"))) {
            a->trigger();
            break;
        }
    }
    EXPECT_TRUE(w.lastError().contains(QStringLiteral("no longer exists")));
    EXPECT_TRUE(settings::recentFiles().isEmpty());
}

// The export hooks of ui/chart_export.hpp and ui/report_index.hpp: plots named by their file
// stem, the experiment's name for proposed file names, index.html in the report folder.
TEST_F(Window, Issue13ReportFolderGetsAnIndexAndChartsTheirNames) {
    MainWindow w;
    w.show();
    w.loadExperiment(withStages("named run", {5}));
    EXPECT_EQ(exportSettings().experiment, QStringLiteral("named run"));
    for (const ChartPanel::Chart& chart : w.charts()->charts()) {
        EXPECT_EQ(chart.plot->objectName(), chart.file);
    }
    runToEnd(w);
    const QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    ASSERT_NO_THROW(w.exportReport(dir.path()));
    QFile index(QDir(dir.path()).filePath(QStringLiteral("index.html")));
    ASSERT_TRUE(index.open(QIODevice::ReadOnly));
    const QString html = QString::fromUtf8(index.readAll());
    EXPECT_TRUE(html.contains(QStringLiteral("named run")));
    for (const char* file :
         {"timeline.png", "ema_error.svg", "run.json", "csv/", "experiment.json"}) {
        EXPECT_TRUE(html.contains(QLatin1String(file))) << file;
    }
}

TEST_F(Window, Issue13StartUpErrorsShowANonBlockingDialog) {
    MainWindow w;
    w.show();
    w.showStartupError(QStringLiteral("/tmp/x.json: training.epochs must be in [1, 10000], got 0"));
    EXPECT_TRUE(w.lastError().contains(QStringLiteral("training.epochs")));
    EXPECT_TRUE(w.statusBar()->currentMessage().contains(QStringLiteral("training.epochs")));
    QMessageBox* box = w.findChild<QMessageBox*>();
    ASSERT_NE(box, nullptr);
    EXPECT_TRUE(box->isVisible());
    EXPECT_NE(box->windowModality(), Qt::ApplicationModal);  // open(), not exec()
    box->close();
}

}  // namespace
}  // namespace lp::ui
