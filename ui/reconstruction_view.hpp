// The EMA diagnostic: relative reconstruction error ‖Ŵ − W_v‖ / ‖W_v‖ per stage over minibatches,
// on a log axis. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"
#include "ui/telemetry_view.hpp"

#include <QWidget>

#include <vector>

class QCustomPlot;
class QCPGraph;

namespace lp::ui {

namespace chart {
class NoteText;
}

class ReconstructionView : public TelemetryView {
    Q_OBJECT

public:
    explicit ReconstructionView(QWidget* parent = nullptr);

    // Why this run will record no reconstruction error (e.g. "the weight policy is stash"), shown
    // across the empty chart; empty = the diagnostic is on and data will come.
    void setNoDataReason(const QString& reason);

    QString noDataNote() const;

    // The curve of stage s, created when the layout or the first sample names it; else nullptr.
    QCPGraph* stageGraph(int stage) const;

    int stageCount() const { return static_cast<int>(graphs_.size()); }

private:
    // Names the per-stage curves "stage s (units…)"; drops the (empty) curves and legend entries
    // of stages beyond the layout's (issue 13).
    void applyLayout(const core::telemetry::PipelineLayout& layout) override;
    // Adds the batch's reconstruction samples. Errors that are not finite and positive cannot
    // sit on a log axis and are skipped (an exact reconstruction, m = 0, reports 0).
    bool addBatch(const core::telemetry::TelemetryBatch& batch) override;
    // Empties the curves, drops those beyond the current layout's stages, fresh axes.
    void clearData() override;

    QCPGraph* ensureStage(int stage);
    void trimStages();
    QString stageName(int stage) const;
    void rescale();

    std::vector<QCPGraph*> graphs_;
    chart::NoteText* note_ = nullptr;
    bool autoRange_ = true;
};

}  // namespace lp::ui
