// MainWindow's report export (the Export menu's "Export report (all of it)…", and the question
// on closing an unexported run): every chart, the run's series, trace and run record, the
// experiment, and an index page that shows them.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "ui/chart_panel.hpp"
#include "ui/compare_view.hpp"
#include "ui/main_window.hpp"
#include "ui/report_index.hpp"
#include "ui/training_bridge.hpp"
#include "ui/transport_bar.hpp"

#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QRegularExpression>

#include <filesystem>

namespace lp::ui {

void MainWindow::exportReport(const QString& dir) {
    const bool compared = charts_->compare()->runCount() > 0;
    if (!bridge_->hasSession() && !compared) {
        throw core::InputError("nothing to export yet: run an experiment or a comparison first");
    }
    charts_->exportAll(dir);
    const std::filesystem::path root(dir.toStdString());
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

}  // namespace lp::ui
