// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/reconstruction_view.hpp"

#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/palette.hpp"

#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace lp::ui {

using core::telemetry::PipelineLayout;
using core::telemetry::ReconstructionSample;
using core::telemetry::TelemetryBatch;

ReconstructionView::ReconstructionView(QWidget* parent) : TelemetryView(parent) {
    plot_ = makeTitledChart(this, QStringLiteral("EMA reconstruction error per stage"));
    // Outside the curves: one entry per stage, in as many lines as the width needs.
    chart::addLegendRow(plot_, 1, true);
    plot_->xAxis->setLabel(QStringLiteral("minibatch"));
    plot_->yAxis->setLabel(QStringLiteral("relative error ‖Ŵ − Wᵥ‖ / ‖Wᵥ‖"));
    plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
    QSharedPointer<QCPAxisTickerLog> ticker(new QCPAxisTickerLog);
    ticker->setLogBase(10.0);
    ticker->setSubTickCount(8);
    plot_->yAxis->setTicker(ticker);
    plot_->yAxis->setNumberFormat(QStringLiteral("eb"));  // 10^k as a power
    plot_->yAxis->setNumberPrecision(0);
    plot_->yAxis->setRange(1e-4, 1.0);
    // Why a run has no data, across the empty chart, wrapped to its width.
    QFont noteFont = palette::titleFont();
    noteFont.setBold(false);
    note_ = new chart::NoteText(plot_->axisRect(), noteFont);
    note_->setVisible(false);
    installAutoRangeToggle(plot_, this, autoRange_, [this] { rescale(); });
}

void ReconstructionView::setNoDataReason(const QString& reason) {
    // One paragraph: NoteText wraps it to the chart's width (never clipped at the sides).
    note_->setText(
        reason.isEmpty()
            ? QString()
            : QStringLiteral("No reconstruction error in this run: %1. It is measured with the EMA "
                             "or momentum policy and the diagnostic on (Pipeline panel: "
                             "\"diagnostic: measure ‖Ŵ − W‖/‖W‖\").")
                  .arg(reason));
    note_->setVisible(!reason.isEmpty());
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

QString ReconstructionView::noDataNote() const {
    return note_->visible() ? note_->text() : QString();
}

QString ReconstructionView::stageName(int stage) const {
    QStringList units;
    const std::size_t n = std::min(layout_.unitNames.size(), layout_.stageOfUnit.size());
    for (std::size_t u = 0; u < n; ++u) {
        if (layout_.stageOfUnit[u] == stage) {
            units << QString::fromStdString(layout_.unitNames[u]);
        }
    }
    QString name = QStringLiteral("stage %1").arg(stage);
    if (!units.isEmpty()) {
        name += units.size() <= 2 ? QStringLiteral(" (%1)").arg(units.join(QStringLiteral(", ")))
                                  : QStringLiteral(" (%1 … %2)").arg(units.front(), units.back());
    }
    const auto s = static_cast<std::size_t>(stage);
    if (s < layout_.delays.size()) {
        name += QStringLiteral(", D = %1").arg(layout_.delays[s]);
    }
    return name;
}

QCPGraph* ReconstructionView::ensureStage(int stage) {
    while (static_cast<int>(graphs_.size()) <= stage) {
        const int s = static_cast<int>(graphs_.size());
        QCPGraph* g = plot_->addGraph();
        g->setPen(palette::cosmeticPen(palette::stageColor(s), 1.5));
        g->setName(stageName(s));
        graphs_.push_back(g);
    }
    return graphs_[static_cast<std::size_t>(stage)];
}

void ReconstructionView::trimStages() {
    // Curves (and legend entries) of stages the layout does not have, from an earlier run with
    // more stages, go; only empty ones (a run's own stages are never dropped mid-run).
    const auto keep = static_cast<std::size_t>(std::max(0, layout_.stages()));
    while (graphs_.size() > keep && graphs_.back()->data()->isEmpty()) {
        plot_->removeGraph(graphs_.back());
        graphs_.pop_back();
    }
}

QCPGraph* ReconstructionView::stageGraph(int stage) const {
    if (stage < 0 || stage >= static_cast<int>(graphs_.size())) {
        return nullptr;
    }
    return graphs_[static_cast<std::size_t>(stage)];
}

void ReconstructionView::applyLayout(const PipelineLayout& layout) {
    if (auto* title = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0))) {
        title->setText(layout.policy == "momentum"
                           ? QStringLiteral("Momentum reconstruction error per stage")
                           : QStringLiteral("EMA reconstruction error per stage"));
    }
    trimStages();
    if (layout.stages() > 0) {
        ensureStage(layout.stages() - 1);
    }
    for (std::size_t s = 0; s < graphs_.size(); ++s) {
        graphs_[s]->setName(stageName(static_cast<int>(s)));
    }
}

bool ReconstructionView::addBatch(const TelemetryBatch& batch) {
    if (batch.reconstruction.empty()) {
        return false;
    }
    // Group by stage so that each curve gets one addData for the whole batch.
    std::map<int, std::pair<QVector<double>, QVector<double>>> perStage;
    for (const ReconstructionSample& r : batch.reconstruction) {
        const auto error = static_cast<double>(r.relativeError);
        if (r.stage < 0 || !std::isfinite(error) || error <= 0.0) {
            continue;
        }
        auto& [keys, values] = perStage[r.stage];
        keys << static_cast<double>(r.minibatch);
        values << error;
    }
    for (auto& [stage, series] : perStage) {
        QCPGraph* g = ensureStage(stage);
        const bool sorted =
            std::is_sorted(series.first.begin(), series.first.end()) &&
            (g->data()->isEmpty() || series.first.front() >= (g->data()->constEnd() - 1)->key);
        g->addData(series.first, series.second, sorted);
    }
    rescale();
    return true;
}

void ReconstructionView::clearData() {
    for (QCPGraph* g : graphs_) {
        g->data()->clear();
    }
    trimStages();
    autoRange_ = true;  // fresh axes (issue 13)
    plot_->xAxis->setRange(0.0, 1.0);
    plot_->yAxis->setRange(1e-4, 1.0);
    rescale();
}

void ReconstructionView::rescale() {
    if (!autoRange_) {
        return;
    }
    bool any = false;
    QCPRange keys;
    QCPRange values;
    for (QCPGraph* g : graphs_) {
        bool found = false;
        const QCPRange k = g->getKeyRange(found);
        if (!found || !g->visible()) {
            continue;
        }
        const QCPRange v = g->getValueRange(found, QCP::sdPositive);
        keys = any ? QCPRange(std::min(keys.lower, k.lower), std::max(keys.upper, k.upper)) : k;
        values =
            any ? QCPRange(std::min(values.lower, v.lower), std::max(values.upper, v.upper)) : v;
        any = true;
    }
    if (!any) {
        return;
    }
    plot_->xAxis->setRange(keys.lower, std::max(keys.upper, keys.lower + 1.0));
    // Whole decades around the data, at least two: QCPAxisTickerLog falls back to linear ticks
    // on a range of fewer than about two decades.
    // A decade of headroom when the data come close to the top (the legend lives there).
    double hi = std::pow(10.0, std::ceil(std::log10(values.upper)));
    if (values.upper > 0.2 * hi) {
        hi *= 10.0;
    }
    const double lo = std::min(std::pow(10.0, std::floor(std::log10(values.lower))), hi / 100.0);
    plot_->yAxis->setRange(lo, hi);
}

}  // namespace lp::ui
