// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/memory_view.hpp"

#include "core/telemetry/exporters.hpp"
#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/choice_combo.hpp"
#include "ui/palette.hpp"

#include <QFontMetrics>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace lp::ui {

using core::telemetry::MemoryCategory;
using core::telemetry::MemorySample;
using core::telemetry::PipelineLayout;
using core::telemetry::TelemetryBatch;

namespace {

constexpr std::size_t kHistory = 4;  // pendingValues_ slots after the four stacked ones
constexpr std::size_t kShadow = 5;
constexpr std::array<MemoryCategory, 4> kStacked = {MemoryCategory::Weights,
                                                    MemoryCategory::WeightHistory,
                                                    MemoryCategory::Activations,
                                                    MemoryCategory::OptimizerState};

std::size_t categoryIndex(MemoryCategory c) {
    return static_cast<std::size_t>(c);
}

// The category's name in the exports, in words: "weight history" for "weight_history".
QString stackName(MemoryCategory c) {
    return tableText(core::telemetry::memoryCategoryName(c))
        .replace(QLatin1Char('_'), QLatin1Char(' '));
}

// "EMA" for ema, else the policy's own name.
QString shownName(const QString& policy) {
    return policy == QStringLiteral("ema") ? QStringLiteral("EMA") : policy;
}

QCPItemText* forecastLabel(QCustomPlot* plot, QCPAxisRect* rect, const QColor& color) {
    auto* label = new QCPItemText(plot);
    label->setClipToAxisRect(true);
    label->setClipAxisRect(rect);
    label->position->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    label->position->setType(QCPItemPosition::ptPlotCoords);
    label->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    label->setColor(color);
    QFont font;
    font.setPointSizeF(8.5);
    font.setItalic(true);
    label->setFont(font);
    return label;
}

}  // namespace

// A layout without P_s for every stage (a run record that lacks them) has no forecast: 0.
std::int64_t MemoryView::stashHistoryBytes(const PipelineLayout& layout) {
    return layout.stageParams.size() == layout.delays.size()
               ? core::telemetry::stashHistoryBytes(layout)
               : 0;
}

std::int64_t MemoryView::emaHistoryBytes(const PipelineLayout& layout, bool countScratch) {
    const std::int64_t buffers = layout.stageParams.size() == layout.delays.size()
                                     ? core::telemetry::emaHistoryBytes(layout)
                                     : 0;
    return countScratch ? 2 * buffers : buffers;
}

MemoryView::MemoryView(QWidget* parent) : TelemetryView(parent) {
    plot_ = makeTitledChart(this, QStringLiteral("Weight history: stash vs EMA vs momentum"));
    // Rows: title, legend, history chart, subtitle, legend, stacked chart. The legends have rows
    // of their own, so the forecast labels at the right end of their lines stay in sight.
    chart::addLegendRow(plot_, 1, true);
    QCPAxisRect* top = plot_->axisRect();
    top->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("weight history (MiB)"));
    QCPAxis* topX = top->axis(QCPAxis::atBottom);
    QCPAxis* topY = top->axis(QCPAxis::atLeft);

    measured_ = plot_->addGraph(topX, topY);
    measured_->setPen(palette::cosmeticPen(palette::policyColor(QString()), 2.0));
    const std::array<QString, 3> policies{
        QStringLiteral("stash"), QStringLiteral("ema"), QStringLiteral("momentum")};
    for (std::size_t i = 0; i < policies.size(); ++i) {
        Forecast& f = forecasts_[i];
        f.policy = policies[i];
        f.graph = plot_->addGraph(topX, topY);
        f.graph->setName(QStringLiteral("%1 (forecast)").arg(shownName(f.policy)));
        f.graph->setPen(palette::cosmeticPen(palette::policyColor(f.policy), 2.0, Qt::DashLine));
    }
    shadow_ = plot_->addGraph(topX, topY);
    shadow_->setName(QStringLiteral("diagnostic shadow stash (not EMA)"));
    // Dark and on top: the shadow stash holds as much as a stash, so it lies on the stash curve.
    shadow_->setPen(palette::cosmeticPen(palette::okabeIto(6), 2.0, Qt::DotLine));
    shadow_->setVisible(false);
    shadow_->removeFromLegend();
    for (Forecast& f : forecasts_) {
        f.label = forecastLabel(plot_, top, palette::policyColor(f.policy));
    }

    plot_->plotLayout()->addElement(
        3, 0, palette::makeTitle(plot_, QStringLiteral("Memory held, stacked (all stages)")));
    QCPLegend* legend = chart::addLegendRow(plot_, 4, false);
    auto* bottom = new QCPAxisRect(plot_);
    palette::styleAxisRect(bottom);
    plot_->plotLayout()->addElement(5, 0, bottom);
    bottom->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("MiB"));
    bottom->axis(QCPAxis::atBottom)->setLabel(QStringLiteral("time (s)"));
    QCPGraph* below = nullptr;
    for (std::size_t i = 0; i < kStacked.size(); ++i) {
        QCPGraph* g =
            plot_->addGraph(bottom->axis(QCPAxis::atBottom), bottom->axis(QCPAxis::atLeft));
        const QColor c = palette::memoryColor(kStacked[i]);
        g->setName(stackName(kStacked[i]));
        g->setPen(palette::cosmeticPen(c.darker(115), 1.0));
        g->setBrush(palette::withAlpha(c, 150));
        g->setChannelFillGraph(below);  // nullptr: the first band fills down to zero
        g->removeFromLegend();
        stack_[i] = g;
        below = g;
    }
    // Legend top-down in the same order as the bands.
    for (std::size_t i = kStacked.size(); i-- > 0;) {
        stack_[i]->addToLegend(legend);
    }
    plot_->plotLayout()->setRowStretchFactor(2, 1.0);
    plot_->plotLayout()->setRowStretchFactor(5, 1.0);
    auto* group = new QCPMarginGroup(plot_);
    top->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    bottom->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    // Both charts share the time axis.
    QCPAxis* bottomX = bottom->axis(QCPAxis::atBottom);
    connect(topX,
            qOverload<const QCPRange&>(&QCPAxis::rangeChanged),
            bottomX,
            qOverload<const QCPRange&>(&QCPAxis::setRange));
    connect(bottomX,
            qOverload<const QCPRange&>(&QCPAxis::rangeChanged),
            topX,
            qOverload<const QCPRange&>(&QCPAxis::setRange));

    installAutoRangeToggle(plot_, this, autoRange_, [this] { rescale(); });
    // The forecast labels sit above their line, or below it where the line runs along the top
    // of the chart (a short dashboard cell): never cut off by the frame (issue 13).
    connect(plot_, &QCustomPlot::beforeReplot, this, [this] { placeForecastLabels(); });
    setLayout(PipelineLayout{});
}

void MemoryView::placeForecastLabels() {
    for (const Forecast& f : forecasts_) {
        QCPItemText* label = f.label;
        const QCPAxisRect* rect = label->clipAxisRect();
        if (rect == nullptr || !label->visible() || rect->rect().height() <= 0) {
            continue;
        }
        // "stash forecast: 0.44 MiB" where it fits, else "stash: 0.44 MiB" (the legend and the
        // dashed line say it is the forecast), else the long form on two lines.
        const QFontMetrics fm(label->font());
        const QString full = label->property("fullText").toString();
        const int colon = static_cast<int>(full.indexOf(QLatin1String(": ")));
        const QString compact =
            full.section(QLatin1Char(' '), 0, 0) + QLatin1Char(':') + full.mid(colon + 1);
        const int width = rect->rect().width() - 4;
        const QString text = fm.horizontalAdvance(full) <= width || colon < 0 ? full
                             : fm.horizontalAdvance(compact) <= width
                                 ? compact
                                 : full.left(colon + 1) + QLatin1Char('\n') + full.mid(colon + 2);
        label->setText(text);
        label->setTextAlignment(Qt::AlignRight);
        // Above its line: while the chart follows the data, the value axis grows to leave the
        // label room under the frame (a short dashboard cell); else below the line if it must.
        const int lines = static_cast<int>(text.count(QLatin1Char('\n'))) + 1;
        const double need = lines * fm.height() + 4.0;
        const double height = rect->rect().height();
        QCPAxis* y = label->position->valueAxis();
        const double value = label->position->coords().y();
        if (autoRange_ && y != nullptr && need < 0.6 * height) {
            const double r = need / height;
            const QCPRange range = y->range();
            const double upper = (value - range.lower * r) / (1.0 - r);
            if (upper > range.upper) {
                y->setRange(range.lower, upper);
            }
        }
        const double top = label->position->pixelPosition().y() - rect->rect().top();
        label->setPositionAlignment(Qt::AlignRight |
                                    (top < need - 1.0 ? Qt::AlignTop : Qt::AlignBottom));
    }
}

QCPGraph* MemoryView::forecastGraph(const QString& policy) const {
    if (policy == QString::fromStdString(layout_.policy)) {
        return nullptr;
    }
    for (const Forecast& f : forecasts_) {
        if (f.policy == policy) {
            return f.graph;
        }
    }
    return nullptr;
}

std::int64_t MemoryView::forecastBytes(const QString& policy) const {
    if (policy == QStringLiteral("stash")) {
        return stashHistoryBytes(layout_);
    }
    if (policy == QStringLiteral("ema")) {
        return emaHistoryBytes(layout_, emaScratch_);
    }
    return 0;  // momentum rebuilds Ŵ from the optimizer state; latest keeps nothing
}

QCPGraph* MemoryView::stackGraph(MemoryCategory category) const {
    for (std::size_t i = 0; i < kStacked.size(); ++i) {
        if (kStacked[i] == category) {
            return stack_[i];
        }
    }
    return nullptr;
}

void MemoryView::applyLayout(const PipelineLayout& layout) {
    const QString running = QString::fromStdString(layout.policy);
    measured_->setName(running.isEmpty() ? QStringLiteral("measured")
                                         : QStringLiteral("%1 (measured)").arg(shownName(running)));
    measured_->setPen(palette::cosmeticPen(palette::policyColor(running), 2.0));
    shadow_->setName(
        QStringLiteral("diagnostic shadow stash (not %1)")
            .arg(running == QStringLiteral("momentum") ? running : QStringLiteral("EMA")));
    for (const Forecast& f : forecasts_) {
        const bool isRunning = f.policy == running;
        f.graph->setVisible(!isRunning);
        if (isRunning) {
            f.graph->removeFromLegend();
        } else if (!plot_->legend->hasItemWithPlottable(f.graph)) {
            f.graph->addToLegend();
        }
    }
    updateForecasts();
    rescale();
}

void MemoryView::setEmaScratchCounted(bool on) {
    emaScratch_ = on;
    updateForecasts();
    rescale();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void MemoryView::flushPoint(double timeUs) {
    pendingKeys_ << timeUs / 1e6;
    double running = 0.0;
    for (std::size_t i = 0; i < kStacked.size(); ++i) {
        running += static_cast<double>(totals_[categoryIndex(kStacked[i])]) / kBytesPerMiB;
        pendingValues_[i] << running;
    }
    pendingValues_[kHistory] << static_cast<double>(
                                    totals_[categoryIndex(MemoryCategory::WeightHistory)]) /
                                    kBytesPerMiB;
    pendingValues_[kShadow] << static_cast<double>(
                                   totals_[categoryIndex(MemoryCategory::DiagnosticShadow)]) /
                                   kBytesPerMiB;
}

void MemoryView::commitPending() {
    if (pendingKeys_.isEmpty()) {
        return;
    }
    const bool sorted = (!anyPoint_ || pendingKeys_.front() >= lastSeconds_) &&
                        std::is_sorted(pendingKeys_.begin(), pendingKeys_.end());
    for (std::size_t i = 0; i < kStacked.size(); ++i) {
        stack_[i]->addData(pendingKeys_, pendingValues_[i], sorted);
    }
    measured_->addData(pendingKeys_, pendingValues_[kHistory], sorted);
    shadow_->addData(pendingKeys_, pendingValues_[kShadow], sorted);
    const bool anyShadow = std::any_of(pendingValues_[kShadow].begin(),
                                       pendingValues_[kShadow].end(),
                                       [](double v) { return v > 0.0; });
    if (anyShadow && !shadow_->visible()) {
        shadow_->setVisible(true);
        shadow_->addToLegend();
    }
    const auto [lo, hi] = std::minmax_element(pendingKeys_.begin(), pendingKeys_.end());
    firstSeconds_ = anyPoint_ ? std::min(firstSeconds_, *lo) : *lo;
    lastSeconds_ = anyPoint_ ? std::max(lastSeconds_, *hi) : *hi;
    anyPoint_ = true;
    pendingKeys_.clear();
    for (auto& v : pendingValues_) {
        v.clear();
    }
}

bool MemoryView::addBatch(const TelemetryBatch& batch) {
    if (batch.memory.empty()) {
        return false;
    }
    // Samples of one moment (one per stage and category) become one point of totals.
    bool pending = false;
    double pendingTime = 0.0;
    for (const MemorySample& m : batch.memory) {
        const std::size_t c = categoryIndex(m.category);
        if (m.stage < 0 || c >= latest_.size()) {
            continue;
        }
        if (pending && m.timeUs != pendingTime) {
            flushPoint(pendingTime);
        }
        const auto s = static_cast<std::size_t>(m.stage);
        if (s >= latest_[c].size()) {
            latest_[c].resize(s + 1, 0);
        }
        totals_[c] += m.bytes - latest_[c][s];
        latest_[c][s] = m.bytes;
        pendingTime = m.timeUs;
        pending = true;
    }
    if (pending) {
        flushPoint(pendingTime);
    }
    commitPending();
    updateForecasts();
    rescale();
    return true;
}

void MemoryView::clearData() {
    for (QCPGraph* g : {measured_, shadow_}) {
        g->data()->clear();
    }
    for (QCPGraph* g : stack_) {
        g->data()->clear();
    }
    for (auto& v : latest_) {
        v.clear();
    }
    totals_.fill(0);
    anyPoint_ = false;
    autoRange_ = true;  // fresh axes (issue 13)
    firstSeconds_ = 0.0;
    lastSeconds_ = 0.0;
    shadow_->setVisible(false);
    shadow_->removeFromLegend();
    updateForecasts();
    rescale();
}

void MemoryView::updateForecasts() {
    // The forecast is a steady-state constant: a horizontal line across the measured time span.
    const double x0 = anyPoint_ ? firstSeconds_ : 0.0;
    const double x1 = anyPoint_ ? std::max(lastSeconds_, firstSeconds_ + 1e-3) : 1.0;
    for (const Forecast& f : forecasts_) {
        const double mib = static_cast<double>(forecastBytes(f.policy)) / kBytesPerMiB;
        f.graph->setData({x0, x1}, {mib, mib}, true);
        f.label->setVisible(f.graph->visible());
        f.label->position->setCoords(x1, mib);
        const QString text =
            QStringLiteral("%1 forecast: %2 MiB").arg(shownName(f.policy)).arg(mib, 0, 'f', 2);
        f.label->setProperty("fullText", text);  // placeForecastLabels picks the form that fits
        f.label->setText(text);
    }
}

void MemoryView::rescale() {
    if (!autoRange_) {
        return;
    }
    const double x0 = anyPoint_ ? firstSeconds_ : 0.0;
    const double x1 = anyPoint_ ? std::max(lastSeconds_, firstSeconds_ + 1e-3) : 1.0;
    measured_->keyAxis()->setRange(x0, x1);
    double top = 0.0;
    std::vector<QCPGraph*> lines{measured_, shadow_};
    for (const Forecast& f : forecasts_) {
        lines.push_back(f.graph);
    }
    for (QCPGraph* g : lines) {
        bool found = false;
        const QCPRange r = g->getValueRange(found);
        if (found && g->visible()) {
            top = std::max(top, r.upper);
        }
    }
    measured_->valueAxis()->setRange(0.0, top > 0.0 ? top * 1.3 : 1.0);
    bool found = false;
    const QCPRange stackRange = stack_.back()->getValueRange(found);
    stack_.back()->valueAxis()->setRange(
        0.0, found && stackRange.upper > 0.0 ? stackRange.upper * 1.1 : 1.0);
}

}  // namespace lp::ui
