// TelemetryView: the base of the studio's five live charts (Timeline, Staleness, Memory,
// Training, EMA error). It owns the chart's QCustomPlot and the run's layout, and keeps the one
// contract through which ChartPanel feeds every chart: setLayout, append and clear each end in
// one queued replot (never one per sample: STYLE.md section 6); a view says what each step means
// for its chart. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"

#include <QWidget>

class QCustomPlot;

namespace lp::ui {

class TelemetryView : public QWidget {
    Q_OBJECT

public:
    using QWidget::setLayout;
    // The run's pipeline (stages, units, delays, policy, schedule), kept as layout_; comes before
    // the run's first batch, and again whenever the pipeline editor changes the experiment.
    void setLayout(const core::telemetry::PipelineLayout& layout);
    // Adds the batch's samples of this chart; replots only if there were any.
    void append(const core::telemetry::TelemetryBatch& batch);
    // Forgets every sample and keeps the layout: nothing of the previous run shows, and the axes
    // start afresh (issue 13).
    void clear();

    QCustomPlot* plot() const { return plot_; }

protected:
    explicit TelemetryView(QWidget* parent);

    QCustomPlot* plot_ = nullptr;  // made by the view's constructor
    core::telemetry::PipelineLayout layout_;

private:
    // What each step means for the chart; the replot follows. applyLayout runs with layout_
    // already set; addBatch returns false when the batch held nothing for the chart.
    virtual void applyLayout(const core::telemetry::PipelineLayout& layout) = 0;
    virtual bool addBatch(const core::telemetry::TelemetryBatch& batch) = 0;
    virtual void clearData() = 0;
};

}  // namespace lp::ui
