// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/main_window.hpp"

#include "core/error.hpp"
#include "core/tensor/isa.hpp"
#include "ui/chart_export.hpp"
#include "ui/chart_panel.hpp"
#include "ui/compare_view.hpp"
#include "ui/experiment_panel.hpp"
#include "ui/lessons.hpp"
#include "ui/pipeline_editor.hpp"
#include "ui/reconstruction_view.hpp"
#include "ui/training_bridge.hpp"
#include "ui/transport_bar.hpp"

#include <QAction>
#include <QCloseEvent>
#include <QPushButton>
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QLabel>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QScrollArea>
#include <QStatusBar>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <functional>
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

}  // namespace

template <typename F>
void MainWindow::guarded(const QString& what, F&& action) {
    try {
        action();
    } catch (const std::exception& e) {
        showError(what, QString::fromUtf8(e.what()));
    }
}

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    initResources();
    setWindowTitle(QStringLiteral("LayerPipe Studio %1").arg(QStringLiteral(LP_VERSION)));
    setWindowIcon(QIcon(QStringLiteral(":/icons/layerpipe.svg")));
    resize(1440, 900);
    bridge_ = new TrainingBridge(this);
    // A new or reset run has exported nothing yet.
    connect(bridge_, &TrainingBridge::sessionStarted, this, [this] { exportedSamples_ = 0; });
    connect(bridge_, &TrainingBridge::cleared, this, [this] { exportedSamples_ = 0; });
    transport_ = new TransportBar(this);
    addToolBar(Qt::TopToolBarArea, transport_);
    addAction(transport_->playPauseAction());

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
    buildDocks();
    buildMenus();

    connect(transport_, &TransportBar::playRequested, this, [this] { play(); });
    connect(transport_, &TransportBar::pauseRequested, this, [this] { pause(); });
    connect(transport_->stepTickAction(), &QAction::triggered, this, [this] { stepTick(); });
    connect(transport_->stepEpochAction(), &QAction::triggered, this, [this] { stepEpoch(); });
    connect(transport_->resetAction(), &QAction::triggered, this, [this] { reset(); });
    connect(transport_, &TransportBar::speedChanged, bridge_, &TrainingBridge::setTicksPerSecond);
    connect(transport_, &TransportBar::lrScaleChanged, bridge_, &TrainingBridge::setLrScale);
    bridge_->setTicksPerSecond(transport_->ticksPerSecond());
    bridge_->setLrScale(transport_->lrScale());

    connect(bridge_,
            &TrainingBridge::sessionStarted,
            charts_,
            [this](const core::telemetry::PipelineLayout& layout) {
                charts_->setLayout(layout);
                const core::io::PipelineConfig& p = bridge_->config().pipeline;
                charts_->reconstruction()->setNoDataReason(
                    p.policy != "ema" || p.schedule == "gpipe"
                        ? QStringLiteral("the run does not use the EMA policy")
                    : !p.diagnosticStash ? QStringLiteral("the diagnostic is off")
                                         : QString());
            });
    connect(bridge_, &TrainingBridge::telemetry, charts_, &ChartPanel::append);
    connect(bridge_, &TrainingBridge::cleared, charts_, [this] {
        charts_->clear();
        charts_->reconstruction()->setNoDataReason(QString());
    });
    connect(bridge_, &TrainingBridge::statusChanged, this, &MainWindow::onStatus);
    connect(bridge_, &TrainingBridge::stateChanged, this, &MainWindow::onState);
    connect(experiment_, &ExperimentPanel::changed, this, [this] {
        editor_->setContext(experiment_->config());
    });
    connect(lessons_, &LessonsPanel::lessonActivated, this, &MainWindow::runExperiment);
    connect(charts_->compare(), &CompareView::startRequested, this, [this] { startCompare(); });

    if (!lessons_->lessons().empty()) {
        lessons_->select(0);
        loadExperiment(lessons_->lessons().front().config);
    }
    onStatus(bridge_->status());
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
    resizeDocks({lessonsDock}, {420}, Qt::Horizontal);
    resizeDocks({lessonsDock, pipelineDock}, {390, 410}, Qt::Vertical);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
    file->addAction(
        QStringLiteral("&Open experiment…"), QKeySequence::Open, this, &MainWindow::openExperiment);
    file->addAction(
        QStringLiteral("&Save experiment…"), QKeySequence::Save, this, &MainWindow::saveExperiment);
    file->addAction(QStringLiteral("Save &checkpoint…"), this, &MainWindow::saveCheckpoint);
    file->addSeparator();
    file->addAction(QStringLiteral("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    menuBar()->addMenu(buildExportMenu());

    QMenu* view = menuBar()->addMenu(QStringLiteral("&View"));
    QAction* dash = view->addAction(QStringLiteral("&Dashboard (all charts at once)"),
                                    QKeySequence(Qt::CTRL | Qt::Key_D));
    dash->setCheckable(true);
    connect(dash, &QAction::toggled, charts_, &ChartPanel::setDashboard);
    dashboardAction_ = dash;
    view->addSeparator();
    for (QDockWidget* dock : findChildren<QDockWidget*>()) {
        view->addAction(dock->toggleViewAction());
    }

    QMenu* help = menuBar()->addMenu(QStringLiteral("&Help"));
    help->addAction(QStringLiteral("&About"), this, [this] {
        QMessageBox::about(
            this,
            QStringLiteral("About LayerPipe Studio"),
            QStringLiteral("<b>LayerPipe Studio %1</b><p>Pipelined backpropagation for ResNet-18, "
                           "live.</p><p>Keys: Space play/pause · → one tick · R reset · "
                           "Ctrl+D dashboard.</p><p>%2</p><p>GPL-3.0-or-later.</p>")
                .arg(QStringLiteral(LP_VERSION),
                     QString::fromStdString(core::cpuReport()).toHtmlEscaped()));
    });
}

QMenu* MainWindow::buildExportMenu() {
    auto* menu = new QMenu(QStringLiteral("E&xport"), this);
    for (const ChartPanel::Chart& chart : charts_->charts()) {
        QMenu* sub = ui::buildExportMenu(chart.plot, this);
        sub->setTitle(chart.name);
        menu->addMenu(sub);
    }
    menu->addSeparator();
    addExportAction(
        menu, QStringLiteral("All series to &CSV…"), QString(), [this](const QString& dir) {
            bridge_->writeCsvs(toPath(dir));
        });
    addExportAction(menu,
                    QStringLiteral("Timeline to Chrome &trace…"),
                    QStringLiteral("trace.json"),
                    [this](const QString& file) { bridge_->writeChromeTrace(toPath(file)); });
    addExportAction(menu,
                    QStringLiteral("&Run record (JSON)…"),
                    QStringLiteral("run.json"),
                    [this](const QString& file) { bridge_->writeRunRecord(toPath(file)); });
    menu->addSeparator();
    addExportAction(
        menu, QStringLiteral("Export &report (all of it)…"), QString(), [this](const QString& dir) {
            exportReport(dir);
        });
    return menu;
}

void MainWindow::addExportAction(QMenu* menu,
                                 const QString& text,
                                 const QString& file,
                                 const std::function<void(const QString&)>& write) {
    menu->addAction(text, this, [this, text, file, write] {
        guarded(text, [&] {
            // An empty default file name asks for a folder (CSV files, the report).
            const QString path = file.isEmpty()
                                     ? QFileDialog::getExistingDirectory(this, text)
                                     : QFileDialog::getSaveFileName(
                                           this, text, file, QStringLiteral("JSON (*.json)"));
            if (!path.isEmpty()) {
                write(path);
                statusBar()->showMessage(QStringLiteral("Written: %1").arg(path), 8000);
            }
        });
    });
}

void MainWindow::loadExperiment(const core::io::ExperimentConfig& config) {
    experiment_->setConfig(config);
    editor_->setConfig(config);
    setWindowTitle(QStringLiteral("LayerPipe Studio %1 — %2")
                       .arg(QStringLiteral(LP_VERSION), QString::fromStdString(config.name)));
}

core::io::ExperimentConfig MainWindow::currentExperiment() const {
    core::io::ExperimentConfig c = experiment_->config();
    c.pipeline = editor_->pipelineConfig();
    return c;
}

bool MainWindow::ensureSession() {
    if (bridge_->hasSession() && !isOver(bridge_->status().state)) {
        return true;
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
    charts_->tabs()->setCurrentWidget(charts_->compare());
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
    transport_->setRunning(live && status.state == RunState::Running);
    experiment_->setEnabled(!live || isOver(status.state));
    editor_->setEditable(!live || isOver(status.state));
    banner_->setVisible(live && status.state == RunState::NonFinite);
    banner_->setText(QStringLiteral("⚠ %1").arg(QString::fromStdString(status.message)));
    transport_->showStatus(status, live);
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
        statusBar()->showMessage(QStringLiteral("Finished. Press Play to run it again."), 10000);
    }
}

void MainWindow::showError(const QString& title, const QString& text) {
    lastError_ = text;
    auto* box = new QMessageBox(QMessageBox::Warning, title, text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();  // not exec(): the GUI keeps polling and drawing while the box is up
}

void MainWindow::setCloseQuestions(std::function<CloseChoice(const QString&)> ask,
                                   std::function<QString()> folder) {
    askOnClose_ = std::move(ask);
    folderOnClose_ = std::move(folder);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    bridge_->poll();
    const std::size_t trained = bridge_->hasSession() ? bridge_->log().train().size() : 0;
    if (trained <= exportedSamples_) {
        event->accept();
        return;
    }
    const bool wasRunning = bridge_->status().state == RunState::Running;
    bridge_->pause();  // the session stops after the step in progress
    const core::session::SessionStatus& st = bridge_->status();
    const QString text =
        QStringLiteral("The run of \u201c%1\u201d has trained %2 steps (epoch %3 of %4) that "
                       "are not exported. Export its report (charts, CSV, trace, run record) "
                       "before quitting?")
            .arg(QString::fromStdString(bridge_->config().name))
            .arg(static_cast<qlonglong>(trained))
            .arg(static_cast<qlonglong>(std::min(st.epoch + 1, st.epochs)))
            .arg(static_cast<qlonglong>(st.epochs));
    CloseChoice choice = CloseChoice::Cancel;
    if (askOnClose_) {
        choice = askOnClose_(text);
    } else {
        QMessageBox box(QMessageBox::Question, QStringLiteral("Quit LayerPipe Studio"), text,
                        QMessageBox::NoButton, this);
        QPushButton* save = box.addButton(QStringLiteral("Export and quit"),
                                          QMessageBox::AcceptRole);
        QPushButton* quit = box.addButton(QStringLiteral("Quit without exporting"),
                                          QMessageBox::DestructiveRole);
        box.addButton(QMessageBox::Cancel);
        box.setDefaultButton(save);
        box.exec();
        choice = box.clickedButton() == save   ? CloseChoice::ExportAndQuit
                 : box.clickedButton() == quit ? CloseChoice::Quit
                                               : CloseChoice::Cancel;
    }
    if (choice == CloseChoice::ExportAndQuit) {
        const QString dir =
            folderOnClose_ ? folderOnClose_()
                           : QFileDialog::getExistingDirectory(
                                 this, QStringLiteral("Export the report into a folder"));
        bool written = false;
        if (!dir.isEmpty()) {
            guarded(QStringLiteral("Export report"), [&] {
                bridge_->poll();  // everything the last step produced
                exportReport(dir);
                written = true;
            });
        }
        choice = written ? CloseChoice::Quit : CloseChoice::Cancel;
    }
    if (choice == CloseChoice::Quit) {
        event->accept();
        return;
    }
    if (wasRunning) {
        bridge_->play();
    }
    event->ignore();
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
    if (!bridge_->hasSession()) {
        core::io::saveConfig(root / "experiment.json", currentExperiment());
        return;
    }
    bridge_->writeCsvs(root / "csv");
    bridge_->writeChromeTrace(root / "trace.json");
    bridge_->writeRunRecord(root / "run.json");
    core::io::saveConfig(root / "experiment.json", bridge_->config());
    exportedSamples_ = bridge_->log().train().size();
}

void MainWindow::openExperimentFile(const QString& path) {
    const core::io::ExperimentConfig config = core::io::loadConfig(toPath(path));
    bridge_->reset();
    loadExperiment(config);
}

bool MainWindow::runLesson(int index) {
    if (index < 0 || index >= static_cast<int>(lessons_->lessons().size())) {
        return false;
    }
    lessons_->select(index);
    runExperiment(lessons_->lessons()[static_cast<std::size_t>(index)].config);
    return true;
}

bool MainWindow::showLesson(int index) {
    if (index < 0 || index >= static_cast<int>(lessons_->lessons().size())) {
        return false;
    }
    lessons_->select(index);
    bridge_->reset();
    loadExperiment(lessons_->lessons()[static_cast<std::size_t>(index)].config);
    return true;
}

bool MainWindow::showChart(const QString& file) {
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
    dashboardAction_->setChecked(on);  // toggled() switches the chart panel
    charts_->setDashboard(on);         // (also when the action was already in that state)
}

void MainWindow::openExperiment() {
    guarded(QStringLiteral("Open experiment"), [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, QStringLiteral("Open experiment"), QString(), QStringLiteral("JSON (*.json)"));
        if (!path.isEmpty()) {
            openExperimentFile(path);
        }
    });
}

void MainWindow::saveExperiment() {
    guarded(QStringLiteral("Save experiment"), [this] {
        const core::io::ExperimentConfig config = currentExperiment();
        const QString path = QFileDialog::getSaveFileName(
            this,
            QStringLiteral("Save experiment"),
            QString::fromStdString(config.name) + QStringLiteral(".json"),
            QStringLiteral("JSON (*.json)"));
        if (!path.isEmpty()) {
            core::io::saveConfig(toPath(path), config);
        }
    });
}

void MainWindow::saveCheckpoint() {
    guarded(QStringLiteral("Save checkpoint"), [this] {
        if (!bridge_->hasSession()) {
            throw core::InputError("no run to save: start an experiment first");
        }
        const QString path =
            QFileDialog::getSaveFileName(this,
                                         QStringLiteral("Save checkpoint"),
                                         QStringLiteral("checkpoint.safetensors"),
                                         QStringLiteral("safetensors (*.safetensors)"));
        if (!path.isEmpty()) {
            bridge_->saveCheckpoint(toPath(path));
        }
    });
}

}  // namespace lp::ui
