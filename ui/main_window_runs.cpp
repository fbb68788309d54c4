// MainWindow's finished runs and studies opened from disk (issue 14, point 4): File > Open run…
// and Open study…, `--run DIR` and `--study DIR`, and a study row's run opened in the charts.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/run_reader.hpp"
#include "ui/chart_panel.hpp"
#include "ui/compare_view.hpp"
#include "ui/experiment_panel.hpp"
#include "ui/lessons.hpp"
#include "ui/main_window.hpp"
#include "ui/pipeline_editor.hpp"
#include "ui/reconstruction_view.hpp"
#include "ui/study_view.hpp"
#include "ui/timeline_view.hpp"
#include "ui/training_bridge.hpp"
#include "ui/training_view.hpp"
#include "ui/transport_bar.hpp"

#include <QApplication>
#include <QDir>
#include <QListWidget>
#include <QSignalBlocker>
#include <QTabWidget>

namespace lp::ui {

void MainWindow::openRunFolder(const QString& dir) {
    // Read everything before anything on screen changes: a broken folder leaves the window be.
    QApplication::setOverrideCursor(Qt::WaitCursor);
    core::telemetry::RunFolder run;
    try {
        run = core::telemetry::readRunFolder(dir.toStdString());
    } catch (...) {
        QApplication::restoreOverrideCursor();
        throw;
    }
    bridge_->reset();
    {
        // The run's own experiment is what is on show: no lesson stays selected.
        const QSignalBlocker block(lessons_->list());
        lessons_->list()->setCurrentRow(-1);
    }
    loadExperiment(run.config);
    openedRun_ = QDir(dir).absolutePath();
    transport_->setReadOnly(true);
    charts_->clear();
    charts_->setLayout(run.layout);
    charts_->reconstruction()->setNoDataReason(
        run.log.reconstruction().empty() ? QStringLiteral("its reconstruction.csv is empty")
                                         : QString());
    core::telemetry::TelemetryBatch all;
    all.ops = run.log.ops();
    all.staleness = run.log.staleness();
    all.memory = run.log.memory();
    all.train = run.log.train();
    all.eval = run.log.eval();
    all.reconstruction = run.log.reconstruction();
    all.delays = run.log.delays();
    charts_->append(all);
    charts_->timeline()->setLinks(run.links);  // an MPI run's mpi.json: traffic per boundary
    QApplication::restoreOverrideCursor();
    const QWidget* current = charts_->tabs()->currentWidget();
    if (current == charts_->study() || current == charts_->compare()) {
        showChart(QStringLiteral("training"));  // what a study compares first
    }
    refreshStatus();
}

void MainWindow::leaveOpenedRun() {
    if (openedRun_.isEmpty()) {
        return;
    }
    openedRun_.clear();
    transport_->setReadOnly(false);
    refreshStatus();
}

void MainWindow::openStudyFolder(const QString& dir) {
    charts_->study()->openStudy(dir);
    showChart(QStringLiteral("study"));
}

}  // namespace lp::ui
