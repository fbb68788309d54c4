// ChartPanel: the studio's five live charts (Timeline, Staleness, Memory, Training, EMA error)
// as tabs or as one dashboard grid, plus the Compare tab (its own runs; not in the dashboard) and
// the Study tab (a study folder's table and charts, ui/study_view.hpp; a tab only, not a chart:
// not in charts(), exported from its own charts' menus);
// any one chart can be enlarged to fill the panel alone (presentation mode: View > Enlarge chart,
// or a double click on a chart's title). Fans the main run's layouts and telemetry batches out to
// the five views and exports all six charts. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"

#include <QString>
#include <QWidget>

#include <array>
#include <vector>

class QCustomPlot;
class QGridLayout;
class QStackedLayout;
class QTabWidget;

namespace lp::ui {

class CompareView;
class MemoryView;
class ReconstructionView;
class StalenessView;
class StudyView;
class TimelineView;
class TelemetryView;
class TrainingView;

class ChartPanel : public QWidget {
    Q_OBJECT

public:
    explicit ChartPanel(QWidget* parent = nullptr);

    using QWidget::setLayout;
    void setLayout(const core::telemetry::PipelineLayout& layout);
    void append(const core::telemetry::TelemetryBatch& batch);
    void clear();

    // Dashboard: the five live charts at once in a grid; otherwise one tab per chart. Leaves an
    // enlarged chart.
    void setDashboard(bool on);

    bool dashboard() const { return dashboard_; }

    // Shows chart `index` (into charts()) alone, filling the panel; -1 goes back to the tabs or
    // the dashboard, as before. Emits enlargedChanged.
    void setEnlarged(int index);

    int enlarged() const { return enlarged_; }

    // The chart a presentation action means: the current tab; in the dashboard the chart last
    // clicked (the timeline at first); the enlarged one while one is.
    int currentChart() const;

    // Asks every chart to draw again (after a theme, zoom or legend change).
    void replotAll();

    struct Chart {
        QString name;  // "Timeline", ...
        QString file;  // "timeline", ... (export file stem)
        QWidget* view = nullptr;
        QCustomPlot* plot = nullptr;
        bool inDashboard = true;  // Compare has its own controls: a tab only
    };

    const std::vector<Chart>& charts() const { return charts_; }

    // Writes every chart as <file>.png, .pdf and .svg into dir (created if missing); each file
    // appears atomically (exportChart). Throws InputError naming the first file that failed.
    void exportAll(const QString& dir) const;

    TimelineView* timeline() const { return timeline_; }

    StalenessView* staleness() const { return staleness_; }

    MemoryView* memory() const { return memory_; }

    TrainingView* training() const { return training_; }

    ReconstructionView* reconstruction() const { return reconstruction_; }

    CompareView* compare() const { return compare_; }

    StudyView* study() const { return study_; }

    QTabWidget* tabs() const { return tabs_; }

signals:
    void enlargedChanged(int index);
    void dashboardChanged(bool on);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    // Puts the views into the tabs, the grid or the enlarged page, as the state says.
    void arrange();

    TimelineView* timeline_ = nullptr;
    StalenessView* staleness_ = nullptr;
    MemoryView* memory_ = nullptr;
    TrainingView* training_ = nullptr;
    ReconstructionView* reconstruction_ = nullptr;
    CompareView* compare_ = nullptr;
    StudyView* study_ = nullptr;
    std::array<TelemetryView*, 5> live_{};  // the views fed with the main run's telemetry
    std::vector<Chart> charts_;
    QStackedLayout* stack_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    QWidget* gridPage_ = nullptr;
    QGridLayout* grid_ = nullptr;
    QWidget* soloPage_ = nullptr;
    bool dashboard_ = false;
    int enlarged_ = -1;
    int lastClicked_ = 0;
};

}  // namespace lp::ui
