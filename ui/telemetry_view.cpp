// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/telemetry_view.hpp"

#include <qcustomplot.h>

namespace lp::ui {

TelemetryView::TelemetryView(QWidget* parent) : QWidget(parent) {}

void TelemetryView::setLayout(const core::telemetry::PipelineLayout& layout) {
    layout_ = layout;
    applyLayout(layout_);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void TelemetryView::append(const core::telemetry::TelemetryBatch& batch) {
    if (addBatch(batch)) {
        plot_->replot(QCustomPlot::rpQueuedReplot);
    }
}

void TelemetryView::clear() {
    clearData();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace lp::ui
