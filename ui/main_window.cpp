// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/main_window.hpp"

#include "ui/chart_export.hpp"
#include "ui/chart_panel.hpp"
#include "ui/close_question.hpp"
#include "ui/compare_runner.hpp"
#include "ui/compare_view.hpp"
#include "ui/experiment_panel.hpp"
#include "ui/layout_preview.hpp"
#include "ui/lessons.hpp"
#include "ui/pipeline_editor.hpp"
#include "ui/presentation.hpp"
#include "ui/reconstruction_view.hpp"
#include "ui/studio_settings.hpp"
#include "ui/study_view.hpp"
#include "ui/training_bridge.hpp"
#include "ui/transport_bar.hpp"
#include "ui/window_menus.hpp"

#include <QAction>
#include <QCloseEvent>
#include <QDockWidget>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QScrollArea>
#include <QSettings>
#include <QStatusBar>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>
#include <utility>

namespace lp::ui {

namespace {

using core::session::RunState;

QDockWidget* makeDock(QMainWindow* window, const QString& title, QWidget* content, bool scroll) {
    auto* dock = new QDockWidget(title, window);
    dock->setObjectName(title.toLower());
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    content->setContentsMargins(6, 6, 6, 6);
    if (!scroll) {
        dock->setWidget(content);
        return dock;
    }
    auto* area = new QScrollArea(dock);
    area->setWidgetResizable(true);
    area->setFrameShape(QFrame::NoFrame);
    area->setWidget(content);
    dock->setWidget(area);
    return dock;
}

// Why the EMA error chart stays empty for p (shown across it), or empty if it will get data.
QString noReconstructionReason(const core::io::PipelineConfig& p) {
    using core::WeightPolicy;
    if ((p.policy != WeightPolicy::Ema && p.policy != WeightPolicy::Momentum) ||
        p.schedule == core::ScheduleKind::GPipe) {
        return QStringLiteral("the run uses neither the EMA nor the momentum policy");
    }
    return p.diagnosticStash ? QString() : QStringLiteral("the diagnostic is off");
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    initResources();
    setWindowIcon(QIcon(QStringLiteral(":/icons/layerpipe.svg")));
    bridge_ = new TrainingBridge(this);
    transport_ = new TransportBar(this);
    addToolBar(Qt::TopToolBarArea, transport_);
    addAction(transport_->playPauseAction());
    buildCentre();
    buildDocks();
    presentation_ = new Presentation(this, charts_);
    menus_ = new WindowMenus(this);
    connectSignals();
    bridge_->setTicksPerSecond(transport_->ticksPerSecond());
    bridge_->setLrScale(transport_->lrScale());
    presentation_->fitToScreen();
    if (!lessons_->lessons().empty()) {
        lessons_->select(0);
        loadExperiment(lessons_->lessons().front().config);
    }
    restoreSettings();
    refreshStatus();
}

void MainWindow::buildCentre() {
    auto* centre = new QWidget(this);
    auto* column = new QVBoxLayout(centre);
    column->setContentsMargins(4, 4, 4, 4);
    banner_ = new QLabel(centre);
    banner_->setWordWrap(true);
    banner_->setStyleSheet(QStringLiteral(
        "background: #C0392B; color: white; font-weight: bold; padding: 6px; border-radius: 3px;"));
    banner_->hide();
    column->addWidget(banner_);
    charts_ = new ChartPanel(centre);
    column->addWidget(charts_, 1);
    setCentralWidget(centre);
    source_ = new QLabel(this);
    statusBar()->addPermanentWidget(source_);
}

void MainWindow::buildDocks() {
    lessons_ = new LessonsPanel;
    experiment_ = new ExperimentPanel;
    editor_ = new PipelineEditor;
    QDockWidget* lessonsDock = makeDock(this, QStringLiteral("Lessons"), lessons_, false);
    QDockWidget* experimentDock = makeDock(this, QStringLiteral("Experiment"), experiment_, true);
    QDockWidget* pipelineDock = makeDock(this, QStringLiteral("Pipeline"), editor_, true);
    addDockWidget(Qt::LeftDockWidgetArea, lessonsDock);
    addDockWidget(Qt::LeftDockWidgetArea, pipelineDock);
    tabifyDockWidget(lessonsDock, experimentDock);
    lessonsDock->raise();
}

void MainWindow::connectSignals() {
    // A new or reset run has exported nothing yet.
    connect(bridge_, &TrainingBridge::sessionStarted, this, [this] { exportedSamples_ = 0; });
    connect(bridge_, &TrainingBridge::cleared, this, [this] { exportedSamples_ = 0; });
    connect(transport_, &TransportBar::playRequested, this, [this] { play(); });
    connect(transport_, &TransportBar::pauseRequested, this, [this] { pause(); });
    connect(transport_->stepTickAction(), &QAction::triggered, this, [this] { stepTick(); });
    connect(transport_->stepEpochAction(), &QAction::triggered, this, [this] { stepEpoch(); });
    connect(transport_->resetAction(), &QAction::triggered, this, [this] { reset(); });
    connect(transport_, &TransportBar::speedChanged, bridge_, &TrainingBridge::setTicksPerSecond);
    connect(transport_, &TransportBar::lrScaleChanged, bridge_, &TrainingBridge::setLrScale);
    connect(bridge_,
            &TrainingBridge::sessionStarted,
            charts_,
            [this](const core::telemetry::PipelineLayout& layout) {
                charts_->clear();
                charts_->setLayout(layout);
                charts_->reconstruction()->setNoDataReason(
                    noReconstructionReason(bridge_->config().pipeline));
                refreshTitle();
            });
    connect(bridge_, &TrainingBridge::telemetry, charts_, &ChartPanel::append);
    // After Reset the charts start afresh, with the experiment in the panels.
    connect(bridge_, &TrainingBridge::cleared, this, [this] {
        previewCharts(currentExperiment());
        statusBar()->clearMessage();
        refreshTitle();
    });
    connect(bridge_, &TrainingBridge::statusChanged, this, &MainWindow::onStatus);
    connect(bridge_, &TrainingBridge::stateChanged, this, &MainWindow::onState);
    connect(experiment_, &ExperimentPanel::changed, this, [this] {
        editor_->setContext(experiment_->config());
    });
    connect(lessons_, &LessonsPanel::lessonActivated, this, &MainWindow::runExperiment);
    connect(lessons_, &LessonsPanel::compareLessonActivated, this, &MainWindow::runLesson);
    connect(lessons_->list(), &QListWidget::currentRowChanged, this, &MainWindow::onLessonSelected);
    connect(charts_->compare(), &CompareView::startRequested, this, [this] { startCompare(); });
    connect(charts_->study(), &StudyView::runActivated, this, [this](const QString& folder) {
        runGuarded(QStringLiteral("Open run"), [this, &folder] { openRunFolder(folder); });
    });
    // The comparison's progress reaches the status line and the title too.
    CompareRunner* runner = charts_->compare()->runner();
    connect(runner, &CompareRunner::runStarted, this, &MainWindow::refreshStatus);
    connect(runner, &CompareRunner::runEnded, this, &MainWindow::refreshStatus);
    connect(runner, &CompareRunner::finished, this, &MainWindow::refreshStatus);
}

void MainWindow::loadExperiment(const core::io::ExperimentConfig& config) {
    leaveOpenedRun();  // picking a lesson or an experiment ends the read-only view of a run
    experiment_->setConfig(config);
    editor_->setConfig(config);
    exportSettings().experiment = QString::fromStdString(config.name);  // export file names
    // A new lesson or experiment starts at its own learning rate (issue 13: lesson 6 ran at 10×
    // after lesson 5's slider and diverged).
    transport_->resetLrScale();
    if (!bridge_->hasSession()) {
        previewCharts(config);
    }
    refreshTitle();
}

void MainWindow::previewCharts(const core::io::ExperimentConfig& config) {
    charts_->clear();
    charts_->setLayout(previewLayout(config));
    charts_->reconstruction()->setNoDataReason(noReconstructionReason(config.pipeline));
}

core::io::ExperimentConfig MainWindow::currentExperiment() const {
    core::io::ExperimentConfig c = experiment_->config();
    c.pipeline = editor_->pipelineConfig();
    return c;
}

void MainWindow::onLessonSelected(int row) {
    // Selecting a lesson switches to it (its panels, a fresh set of charts) unless a run is in
    // progress: that one goes on, and the title keeps naming it.
    if (switchingLesson_ || row < 0 || runInProgress()) {
        return;
    }
    showLesson(row);
}

void MainWindow::showError(const QString& title, const QString& text) {
    lastError_ = text;
    auto* box = new QMessageBox(QMessageBox::Warning, title, text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();  // not exec(): the GUI keeps polling and drawing while the box is up
}

void MainWindow::showStartupError(const QString& text) {
    statusBar()->showMessage(text, 30000);
    showError(QStringLiteral("LayerPipe Studio could not do what the command line asked"), text);
}

void MainWindow::runGuarded(const QString& what, const std::function<void()>& action) {
    try {
        action();
    } catch (const std::exception& e) {
        showError(what, QString::fromUtf8(e.what()));
    }
}

void MainWindow::setCloseQuestions(std::function<CloseChoice(const QString&)> ask,
                                   std::function<QString()> folder) {
    closeQuestions_ = {std::move(ask), std::move(folder)};
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (mayClose(*this, closeQuestions_, exportedSamples_)) {
        saveSettings();
        event->accept();
    } else {
        event->ignore();
    }
}

void MainWindow::openExperimentFile(const QString& path) {
    const core::io::ExperimentConfig config = core::io::loadConfig(path.toStdString());
    bridge_->reset();
    {
        // The file is the experiment now: no lesson stays selected.
        const QSignalBlocker block(lessons_->list());
        lessons_->list()->setCurrentRow(-1);
    }
    loadExperiment(config);
    settings::addRecentFile(path);
}

bool MainWindow::runLesson(int index) {
    if (index < 0 || index >= static_cast<int>(lessons_->lessons().size())) {
        return false;
    }
    const Lesson& lesson = lessons_->lessons()[static_cast<std::size_t>(index)];
    if (!lesson.compare.empty()) {
        // A comparison lesson runs its variants in the Compare tab; the main run stays idle.
        showLesson(index);
        startCompare();
        return true;
    }
    switchingLesson_ = true;
    lessons_->select(index);
    switchingLesson_ = false;
    runExperiment(lesson.config);
    return true;
}

bool MainWindow::showLesson(int index) {
    if (index < 0 || index >= static_cast<int>(lessons_->lessons().size())) {
        return false;
    }
    switchingLesson_ = true;
    lessons_->select(index);
    switchingLesson_ = false;
    bridge_->reset();
    const Lesson& lesson = lessons_->lessons()[static_cast<std::size_t>(index)];
    loadExperiment(lesson.config);
    if (!lesson.compare.empty()) {
        charts_->compare()->setVariants({lesson.compare.begin(), lesson.compare.end()});
    }
    return true;
}

bool MainWindow::showChart(const QString& file) {
    if (file == QStringLiteral("study")) {
        setDashboard(false);
        charts_->setEnlarged(-1);
        charts_->tabs()->setCurrentWidget(charts_->study());
        return true;
    }
    for (const ChartPanel::Chart& chart : charts_->charts()) {
        if (chart.file == file) {
            setDashboard(false);
            charts_->tabs()->setCurrentWidget(chart.view);
            return true;
        }
    }
    return false;
}

void MainWindow::setDashboard(bool on) {
    charts_->setDashboard(on);  // the menu's check mark follows (ChartPanel::dashboardChanged)
}

void MainWindow::restoreSettings() {
    if (const auto s = settings::open()) {
        presentation_->restore(*s);
    }
}

void MainWindow::saveSettings() const {
    if (const auto s = settings::open()) {
        presentation_->save(*s);
    }
}

}  // namespace lp::ui
