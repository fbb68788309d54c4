// MainWindow's run control and what the window says about it: Play, the steps, Pause, Reset and
// the comparison's start on the transport bar, and the status line, the NaN banner and the title
// that follow the run's state.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chart_panel.hpp"
#include "ui/compare_runner.hpp"
#include "ui/compare_view.hpp"
#include "ui/experiment_panel.hpp"
#include "ui/main_window.hpp"
#include "ui/pipeline_editor.hpp"
#include "ui/training_bridge.hpp"
#include "ui/transport_bar.hpp"

#include <QApplication>
#include <QLabel>
#include <QLocale>
#include <QStatusBar>

#include <exception>

namespace lp::ui {

namespace {

using core::session::RunState;

bool isOver(RunState s) {
    return s == RunState::Finished || s == RunState::Stopped || s == RunState::Failed ||
           s == RunState::NonFinite;
}

const QString kFinishedMessage = QStringLiteral("Finished. Press Play to run it again.");

}  // namespace

bool MainWindow::runInProgress() const {
    if (!bridge_->hasSession()) {
        return false;
    }
    const RunState s = bridge_->status().state;
    return !isOver(s) && !(s == RunState::Ready && bridge_->log().train().empty());
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

}  // namespace lp::ui
