// The index page of an exported report folder: one HTML file that shows every chart with its
// caption, links to its vector versions and to the data files, and names the experiment, so
// that a report folder opened in a browser (or attached to a lab write-up) explains itself.
// GUI-free (QtCore only); written atomically.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>
#include <QStringList>

#include <vector>

namespace lp::ui {

struct ReportChart {
    QString file;     // the charts' file stem in the folder: "<file>.png/.pdf/.svg"
    QString name;     // "Timeline"
    QString caption;  // what the chart shows, one or two sentences
};

struct ReportPage {
    QString title;           // the experiment's name
    QString summary;         // a line about the run (epochs, loss, ...); may be empty
    QString experimentJson;  // the experiment file as written beside the charts
    std::vector<ReportChart> charts;
    QStringList dataFiles;  // relative paths that exist in the folder (CSV, trace, run record)
};

// The caption of a chart file stem of ChartPanel ("timeline", "staleness", "memory",
// "training", "ema_error", "compare"); empty for an unknown one.
QString reportCaption(const QString& file);

// Writes dir/index.html (UTF-8, self-contained apart from the chart and data files it links,
// every text HTML-escaped). Throws core::InputError naming the file if it cannot be written.
void writeReportIndex(const QString& dir, const ReportPage& page);

}  // namespace lp::ui
