// The EMA diagnostic: relative reconstruction error ‖Ŵ − W_v‖ / ‖W_v‖ per stage over minibatches,
// on a log axis. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"

#include <QWidget>

#include <vector>

class QCustomPlot;
class QCPGraph;

namespace lp::ui {

namespace chart {
class NoteText;
}

class ReconstructionView : public QWidget {
    Q_OBJECT

public:
    explicit ReconstructionView(QWidget* parent = nullptr);

    using QWidget::setLayout;
    // Names the per-stage curves "stage s (units…)"; drops the (empty) curves and legend entries
    // of stages beyond the layout's (issue 13).
    void setLayout(const core::telemetry::PipelineLayout& layout);
    // Adds the batch's reconstruction samples and queues one replot. Errors that are not finite
    // and positive cannot sit on a log axis and are skipped (an exact reconstruction, m = 0,
    // reports 0).
    void append(const core::telemetry::TelemetryBatch& batch);
    // Empties the curves, drops those beyond the current layout's stages, fresh axes.
    void clear();

    // Why this run will record no reconstruction error (e.g. "the weight policy is stash"), shown
    // across the empty chart; empty = the diagnostic is on and data will come.
    void setNoDataReason(const QString& reason);

    QString noDataNote() const;

    QCustomPlot* plot() const { return plot_; }

    // The curve of stage s, created when the layout or the first sample names it; else nullptr.
    QCPGraph* stageGraph(int stage) const;

    int stageCount() const { return static_cast<int>(graphs_.size()); }

private:
    QCPGraph* ensureStage(int stage);
    void trimStages();
    QString stageName(int stage) const;
    void rescale();

    QCustomPlot* plot_ = nullptr;
    std::vector<QCPGraph*> graphs_;
    chart::NoteText* note_ = nullptr;
    core::telemetry::PipelineLayout layout_;
    bool autoRange_ = true;
};

}  // namespace lp::ui
