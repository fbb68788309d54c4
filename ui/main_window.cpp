// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/main_window.hpp"

#include "core/error.hpp"
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
#include "ui/report_index.hpp"
#include "ui/studio_settings.hpp"
#include "ui/study_view.hpp"
#include "ui/training_bridge.hpp"
#include "ui/transport_bar.hpp"
#include "ui/window_menus.hpp"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QMessageBox>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSettings>
#include <QStatusBar>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <utility>

namespace lp::ui {

namespace {

using core::session::RunState;

std::filesystem::path toPath(const QString& s) {
    return {s.toStdString()};
}

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

bool isOver(RunState s) {
    return s == RunState::Finished || s == RunState::Stopped || s == RunState::Failed ||
           s == RunState::NonFinite;
}

const QString kFinishedMessage = QStringLiteral("Finished. Press Play to run it again.");

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

bool MainWindow::runInProgress() const {
    if (!bridge_->hasSession()) {
        return false;
    }
    const RunState s = bridge_->status().state;
    return !isOver(s) && !(s == RunState::Ready && bridge_->log().train().empty());
}

void MainWindow::onLessonSelected(int row) {
    // Selecting a lesson switches to it (its panels, a fresh set of charts) unless a run is in
    // progress: that one goes on, and the title keeps naming it.
    if (switchingLesson_ || row < 0 || runInProgress()) {
        return;
    }
    showLesson(row);
}

bool MainWindow::ensureSession() {
    if (bridge_->hasSession() && !isOver(bridge_->status().state)) {
        return true;
    }
    if (!openedRun_.isEmpty()) {
        showError(QStringLiteral("A finished run is on show"),
                  QStringLiteral("%1 is shown read-only. Pick a lesson or open an experiment to "
                                 "run one.")
                      .arg(openedRun_));
        return false;
    }
    const QString problem = editor_->problem();
    if (!problem.isEmpty()) {
        showError(QStringLiteral("The pipeline cannot run"), problem);
        return false;
    }
    // Loading the data and building the model (the Session's constructor) take a moment here.
    QApplication::setOverrideCursor(Qt::WaitCursor);
    try {
        bridge_->start(currentExperiment());
        QApplication::restoreOverrideCursor();
        return true;
    } catch (const std::exception& e) {
        QApplication::restoreOverrideCursor();
        showError(QStringLiteral("Cannot start the experiment"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool MainWindow::play() {
    if (!ensureSession()) {
        return false;
    }
    bridge_->play();
    transport_->setRunning(true);
    return true;
}

bool MainWindow::stepTick() {
    if (!ensureSession()) {
        return false;
    }
    bridge_->stepTick();
    return true;
}

bool MainWindow::stepEpoch() {
    if (!ensureSession()) {
        return false;
    }
    bridge_->stepEpoch();
    return true;
}

void MainWindow::pause() {
    bridge_->pause();
    transport_->setRunning(false);
}

bool MainWindow::startCompare() {
    const QString problem = editor_->problem();
    if (!problem.isEmpty()) {
        showError(QStringLiteral("The pipeline cannot run"), problem);
        return false;
    }
    // One training at a time keeps the cores for the comparison (and its timings honest).
    pause();
    QApplication::setOverrideCursor(Qt::WaitCursor);
    try {
        charts_->compare()->start(currentExperiment());
        QApplication::restoreOverrideCursor();
    } catch (const std::exception& e) {
        QApplication::restoreOverrideCursor();
        showError(QStringLiteral("Cannot start the comparison"), QString::fromUtf8(e.what()));
        return false;
    }
    charts_->setEnlarged(-1);
    charts_->tabs()->setCurrentWidget(charts_->compare());
    refreshStatus();
    return true;
}

void MainWindow::reset() {
    bridge_->reset();
}

void MainWindow::runExperiment(const core::io::ExperimentConfig& config) {
    bridge_->reset();
    loadExperiment(config);
    // Lessons start slow enough to talk over; Max on the transport bar is one click away.
    transport_->setTeachingSpeed();
    play();
}

void MainWindow::onStatus(const core::session::SessionStatus& status) {
    const bool live = bridge_->hasSession();
    const bool readOnly = !openedRun_.isEmpty();
    transport_->setRunning(live && status.state == RunState::Running);
    experiment_->setEnabled(!readOnly && (!live || isOver(status.state)));
    editor_->setEditable(!readOnly && (!live || isOver(status.state)));
    // A run that waits (built, paused, stopped at a NaN): its pipeline stays editable, the edits
    // applying after Reset (the run keeps the stages it was built with); the editor says so.
    editor_->setPausedRun(live &&
                          (status.state == RunState::Ready || status.state == RunState::Paused ||
                           status.state == RunState::NonFinite));
    banner_->setVisible(live && status.state == RunState::NonFinite);
    banner_->setText(QStringLiteral("⚠ %1").arg(QString::fromStdString(status.message)));
    const CompareRunner* runner = charts_->compare()->runner();
    const QString comparison = charts_->compare()->statusLabel()->text();
    if (runner->running()) {
        // The comparison is what runs (the main run, if any, was paused for it).
        QString text = QStringLiteral("<b>comparing</b> · %1").arg(comparison.toHtmlEscaped());
        if (live && !isOver(status.state)) {
            text += QStringLiteral(" · main run paused");
        }
        transport_->setStatusText(text);
    } else if (readOnly) {
        transport_->setStatusText(
            QStringLiteral("<b>finished run</b> · read-only · pick a lesson or open an experiment "
                           "to run again"));
    } else if (!live && charts_->compare()->runCount() > 0) {
        transport_->setStatusText(
            QStringLiteral("<b>comparison</b> · %1 · press Play (Space) for a main run")
                .arg(comparison.toHtmlEscaped()));
    } else {
        transport_->showStatus(status, live);
    }
    if (live && status.state == RunState::Running &&
        statusBar()->currentMessage() == kFinishedMessage) {
        statusBar()->clearMessage();  // never "Finished" while a run goes on
    }
    if (!live) {
        source_->clear();
        return;
    }
    source_->setText(
        QStringLiteral("%1 · %2 parameters")
            .arg(bridge_->dataSource(),
                 QLocale().toString(static_cast<qlonglong>(bridge_->parameterCount()))));
}

void MainWindow::onState(core::session::RunState state, const QString& message) {
    if (state == RunState::Failed) {
        showError(QStringLiteral("Training failed"), message);
    } else if (state == RunState::Finished) {
        statusBar()->showMessage(kFinishedMessage, 10000);
    } else if (statusBar()->currentMessage() == kFinishedMessage) {
        statusBar()->clearMessage();
    }
    refreshTitle();
}

void MainWindow::refreshStatus() {
    onStatus(bridge_->status());
    refreshTitle();
}

void MainWindow::refreshTitle() {
    // What is running, else what is loaded: "LayerPipe Studio 0.1.0 — 3. EMA saves memory ·
    // running".
    QString what;
    if (bridge_->hasSession()) {
        what = QStringLiteral("%1 · %2").arg(
            QString::fromStdString(bridge_->config().name),
            QString::fromUtf8(core::session::toString(bridge_->status().state)));
    } else if (!openedRun_.isEmpty()) {
        what = QStringLiteral("%1 · finished run from %2 (read-only)")
                   .arg(QString::fromStdString(currentExperiment().name), openedRun_);
    } else {
        what = QString::fromStdString(currentExperiment().name);
    }
    const CompareRunner* runner = charts_->compare()->runner();
    if (runner->running()) {
        // The run's own name: "<experiment> (<variant>)".
        what = QStringLiteral("comparing · %1")
                   .arg(QString::fromStdString(
                       runner->runs()[static_cast<std::size_t>(runner->currentRun())].config.name));
    }
    setWindowTitle(
        QStringLiteral("LayerPipe Studio %1 — %2").arg(QStringLiteral(LP_VERSION), what));
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

void MainWindow::exportReport(const QString& dir) {
    const bool compared = charts_->compare()->runCount() > 0;
    if (!bridge_->hasSession() && !compared) {
        throw core::InputError("nothing to export yet: run an experiment or a comparison first");
    }
    charts_->exportAll(dir);
    const std::filesystem::path root = toPath(dir);
    if (compared) {
        charts_->compare()->writeCsv(QDir(dir).filePath(QStringLiteral("compare.csv")));
    }
    const core::io::ExperimentConfig config =
        bridge_->hasSession() ? bridge_->config() : currentExperiment();
    if (bridge_->hasSession()) {
        bridge_->writeCsvs(root / "csv");
        bridge_->writeChromeTrace(root / "trace.json");
        bridge_->writeRunRecord(root / "run.json");
    }
    core::io::saveConfig(root / "experiment.json", config);
    writeReportIndex(dir, reportPage(dir, config));
    if (bridge_->hasSession()) {
        exportedSamples_ = bridge_->log().train().size();
    }
}

ReportPage MainWindow::reportPage(const QString& dir, const core::io::ExperimentConfig& config) {
    ReportPage page;
    page.title = QString::fromStdString(config.name);
    page.summary = transport_->statusLabel()->text().remove(QRegularExpression("<[^>]*>"));
    page.experimentJson = QStringLiteral("experiment.json");
    for (const ChartPanel::Chart& chart : charts_->charts()) {
        page.charts.push_back({chart.file, chart.name, reportCaption(chart.file)});
    }
    QStringList files = QDir(QDir(dir).filePath(QStringLiteral("csv")))
                            .entryList({QStringLiteral("*.csv")}, QDir::Files, QDir::Name);
    for (QString& f : files) {
        f.prepend(QStringLiteral("csv/"));
    }
    for (const QString& f : {QStringLiteral("compare.csv"),
                             QStringLiteral("trace.json"),
                             QStringLiteral("run.json")}) {
        if (QFileInfo::exists(QDir(dir).filePath(f))) {
            files << f;
        }
    }
    page.dataFiles = files;
    return page;
}

void MainWindow::openExperimentFile(const QString& path) {
    const core::io::ExperimentConfig config = core::io::loadConfig(toPath(path));
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
