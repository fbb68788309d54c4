// The study's three charts, side by side (issue 14, point 4), made with the house chart code
// (ui/chart_layout.hpp, ui/palette.hpp, ui/chart_export.hpp): test top-1 against weight-history
// memory (one colour per policy; filled marks measured, hollow marks the forecast, a cross for a
// diverged run, at the bottom when it has no test top-1), test top-1 against the bubble
// (idle fraction of stage time), and each run's training loss (smoothed as in
// the Compare tab) overlaid, read from the run's train.csv. The same charts, exported headless,
// are the study report's PNGs (writeStudyCharts). GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/study_results.hpp"

#include <QSize>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

class QCustomPlot;

namespace lp::ui {

class StudyCharts : public QWidget {
    Q_OBJECT

public:
    explicit StudyCharts(QWidget* parent = nullptr);

    // Shows rows (a study's results.csv) of the study in folder studyDir (each row's train.csv is
    // studyDir/<folder>/train.csv). Returns what could not be shown, one line each (a run without
    // a readable train.csv, a run without a bubble figure); the rest is drawn.
    QStringList show(const std::vector<core::io::StudyRow>& rows, const QString& studyDir);
    void clear();

    QCustomPlot* accuracyVsMemory() const { return memory_; }

    QCustomPlot* accuracyVsBubble() const { return bubble_; }

    QCustomPlot* lossCurves() const { return loss_; }

    // Every plot, with its export file stem: accuracy_vs_memory, accuracy_vs_bubble, loss_curves.
    std::vector<std::pair<QCustomPlot*, QString>> plots() const;

    // Points of measured (not forecast) marks in a scatter plot, over all policies; loss curves
    // (one per run with a train.csv) in lossCurves().
    static int markCount(const QCustomPlot* plot);
    int curveCount() const;

    // Size the report's PNGs are written at: ExportSize "Report: 960 x 600" (PNG 1920 x 1200).
    static QSize reportSize();

    // Writes the three charts as <stem>.png into dir (created if missing), at reportSize(), each
    // atomically; returns the files. Throws InputError naming the file that failed.
    QStringList exportPngs(const QString& dir) const;

private:
    void drawScatters(const std::vector<core::io::StudyRow>& rows, QStringList& problems);
    void drawLossCurves(const std::vector<core::io::StudyRow>& rows,
                        const QString& studyDir,
                        QStringList& problems);

    QCustomPlot* memory_ = nullptr;
    QCustomPlot* bubble_ = nullptr;
    QCustomPlot* loss_ = nullptr;
};

// `layerpipe-studio --study DIR --write-charts`: reads DIR/results.csv, draws the three charts
// and writes them to DIR/charts/*.png; returns the files written and, in warnings, what could not
// be drawn. Throws InputError for a folder that is not a study (no folder, no results.csv, a
// results.csv the reader rejects, or one without any run yet). Needs a QApplication (offscreen is
// enough); reads and writes no settings.
QStringList writeStudyCharts(const QString& studyDir, QStringList* warnings = nullptr);

}  // namespace lp::ui
