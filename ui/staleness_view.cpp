// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/staleness_view.hpp"

#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/palette.hpp"

#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lp::ui {

using core::telemetry::PipelineLayout;
using core::telemetry::StalenessSample;
using core::telemetry::TelemetryBatch;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Width of the colour scale's column, for the legend's first width estimate.
constexpr int kScaleReserve = 70;

// Unit names that thin out where the axis is short (chart::fitAxes).
QSharedPointer<chart::RowTicker> unitTicker(const std::vector<QString>& names) {
    QSharedPointer<chart::RowTicker> ticker(new chart::RowTicker);
    for (std::size_t u = 0; u < names.size(); ++u) {
        ticker->addTick(static_cast<double>(u), names[u]);
    }
    return ticker;
}

}  // namespace

StalenessView::StalenessView(QWidget* parent) : TelemetryView(parent) {
    plot_ = makeTitledChart(this, QStringLiteral("Gradient staleness per unit"));
    // Rows: title, legend (outside the bars: it never covers one), bars, heatmap + colour scale.
    chart::addLegendRow(plot_, 1, true, kScaleReserve);
    QCPAxisRect* top = plot_->axisRect();
    top->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("versions"));

    delayBars_ = new QCPBars(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
    delayBars_->setName(QStringLiteral("configured delay Dₛ"));
    delayBars_->setWidth(0.6);
    delayBars_->setBrush(palette::withAlpha(palette::okabeIto(5), 150));
    delayBars_->setPen(palette::cosmeticPen(palette::okabeIto(0), 1.0));

    mean_ = plot_->addGraph(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
    mean_->setName(QStringLiteral("measured staleness (mean)"));
    mean_->setLineStyle(QCPGraph::lsNone);
    mean_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, palette::okabeIto(3), 9));
    last_ = plot_->addGraph(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
    last_->setName(QStringLiteral("measured staleness (last)"));
    last_->setLineStyle(QCPGraph::lsNone);
    last_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross,
                                           palette::cosmeticPen(palette::okabeIto(6), 2.0),
                                           QBrush(Qt::NoBrush),
                                           11));

    earlier_ = plot_->addGraph(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
    earlier_->setName(QStringLiteral("configured in earlier epochs"));
    earlier_->setLineStyle(QCPGraph::lsNone);
    QPainterPath dash;  // a bar-wide horizontal stroke
    dash.moveTo(-9.0, 0.0);
    dash.lineTo(9.0, 0.0);
    earlier_->setScatterStyle(
        QCPScatterStyle(dash, palette::cosmeticPen(palette::okabeIto(0), 2.0, Qt::DotLine)));
    earlier_->removeFromLegend();  // listed only while a delay schedule has changed the delays

    auto* bottom = new QCPAxisRect(plot_);
    palette::styleAxisRect(bottom);
    plot_->plotLayout()->addElement(3, 0, bottom);
    bottom->axis(QCPAxis::atBottom)->setLabel(QStringLiteral("update (stage weight version)"));
    bottom->axis(QCPAxis::atLeft)->setRangeReversed(true);
    bottom->axis(QCPAxis::atLeft)->grid()->setVisible(false);
    heatmap_ = new QCPColorMap(bottom->axis(QCPAxis::atBottom), bottom->axis(QCPAxis::atLeft));
    heatmap_->setName(QStringLiteral("staleness"));
    heatmap_->setInterpolate(false);
    heatmap_->removeFromLegend();
    auto* scale = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(3, 1, scale);
    scale->setType(QCPAxis::atRight);
    scale->axis()->setLabel(QStringLiteral("staleness (versions)"));
    scale->setBarWidth(12);
    heatmap_->setColorScale(scale);
    scale->setGradient(palette::sequentialGradient());  // after linking: the map adopts it
    auto* group = new QCPMarginGroup(plot_);
    top->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    bottom->setMarginGroup(QCP::msLeft | QCP::msRight | QCP::msTop | QCP::msBottom, group);
    scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    plot_->plotLayout()->setRowStretchFactor(2, 1.0);
    plot_->plotLayout()->setRowStretchFactor(3, 1.2);

    installNavigationHooks(
        plot_,
        this,
        [this] { autoRange_ = false; },
        [this] {
            autoRange_ = true;
            refresh();
        });
    refresh();
}

void StalenessView::applyLayout(const PipelineLayout& /*layout*/) {
    autoRange_ = true;
    refresh();
}

bool StalenessView::addBatch(const TelemetryBatch& batch) {
    if (batch.staleness.empty()) {
        return false;
    }
    for (const StalenessSample& s : batch.staleness) {
        if (s.stage < 0) {
            continue;
        }
        const auto k = static_cast<std::size_t>(s.stage);
        if (k >= stages_.size()) {
            stages_.resize(k + 1);
        }
        StageSeries& series = stages_[k];
        series.updates.push_back(s.update);
        series.staleness.push_back(s.staleness);
        series.sum += static_cast<double>(s.staleness);
        series.last = s.staleness;
        if (series.delayChanges.empty() || series.configuredDelay != s.configuredDelay) {
            series.delayChanges.emplace_back(s.update, s.configuredDelay);
        }
        series.configuredDelay = s.configuredDelay;
    }
    refresh();
    return true;
}

void StalenessView::clearData() {
    stages_.clear();
    autoRange_ = true;  // fresh axes (issue 13)
    refresh();
}

std::vector<StalenessView::Unit> StalenessView::unitList() const {
    std::vector<Unit> list;
    const std::size_t n = std::min(layout_.unitNames.size(), layout_.stageOfUnit.size());
    for (std::size_t u = 0; u < n; ++u) {
        list.push_back({QString::fromStdString(layout_.unitNames[u]), layout_.stageOfUnit[u]});
    }
    if (list.empty()) {
        const std::size_t stages =
            std::max(stages_.size(), static_cast<std::size_t>(std::max(0, layout_.stages())));
        for (std::size_t s = 0; s < stages; ++s) {
            const auto stage = static_cast<std::int32_t>(s);
            list.push_back({QStringLiteral("stage %1").arg(stage), stage});
        }
    }
    return list;
}

std::vector<StalenessView::UnitStaleness> StalenessView::units() const {
    std::vector<UnitStaleness> out;
    for (const Unit& unit : unitList()) {
        UnitStaleness u;
        u.name = unit.name;
        u.stage = unit.stage;
        const auto s = static_cast<std::size_t>(std::max(0, unit.stage));
        const StageSeries* series = s < stages_.size() ? &stages_[s] : nullptr;
        // The samples' delay is the current epoch's (a delay schedule changes it; the layout
        // holds the run's largest); before any sample, the layout's.
        if (series != nullptr && series->configuredDelay >= 0) {
            u.configuredDelay = static_cast<double>(series->configuredDelay);
        } else if (s < layout_.delays.size()) {
            u.configuredDelay = static_cast<double>(layout_.delays[s]);
        }
        u.samples = series != nullptr ? static_cast<std::int64_t>(series->staleness.size()) : 0;
        u.meanStaleness = u.samples > 0 ? series->sum / static_cast<double>(u.samples) : kNaN;
        u.lastStaleness = u.samples > 0 ? static_cast<double>(series->last) : kNaN;
        out.push_back(u);
    }
    return out;
}

std::vector<StalenessView::DelayChange> StalenessView::delayChanges() const {
    std::vector<std::int64_t> updates;  // where some stage's configured delay changed
    for (const StageSeries& s : stages_) {
        for (std::size_t i = 1; i < s.delayChanges.size(); ++i) {
            updates.push_back(s.delayChanges[i].first);
        }
    }
    std::sort(updates.begin(), updates.end());
    updates.erase(std::unique(updates.begin(), updates.end()), updates.end());
    std::vector<DelayChange> out;
    for (const std::int64_t u : updates) {
        DelayChange c{.update = u, .delays = {}};
        for (const StageSeries& s : stages_) {
            std::int64_t d = s.delayChanges.empty() ? 0 : s.delayChanges.front().second;
            for (const auto& [from, delay] : s.delayChanges) {
                d = from <= u ? delay : d;
            }
            c.delays.push_back(d);
        }
        out.push_back(std::move(c));
    }
    return out;
}

void StalenessView::refresh() {
    const std::vector<Unit> list = unitList();
    refreshBars(list);
    refreshHeatmap(list);
    refreshDelayChanges();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void StalenessView::refreshBars(const std::vector<Unit>& list) {
    const std::vector<UnitStaleness> stats = units();
    QVector<double> keys;
    QVector<double> delays;
    QVector<double> means;
    QVector<double> lasts;
    std::vector<QString> names;
    double top = 1.0;
    for (std::size_t u = 0; u < stats.size(); ++u) {
        keys << static_cast<double>(u);
        delays << stats[u].configuredDelay;
        means << stats[u].meanStaleness;
        lasts << stats[u].lastStaleness;
        names.push_back(stats[u].name);
        for (const double v :
             {stats[u].configuredDelay, stats[u].meanStaleness, stats[u].lastStaleness}) {
            if (!std::isnan(v)) {
                top = std::max(top, v);
            }
        }
    }
    // The configured delays of earlier epochs, where a delay schedule changed them.
    QVector<double> earlierKeys;
    QVector<double> earlierDelays;
    for (std::size_t u = 0; u < list.size(); ++u) {
        const auto s = static_cast<std::size_t>(std::max(0, list[u].stage));
        if (s >= stages_.size()) {
            continue;
        }
        for (const auto& [from, delay] : stages_[s].delayChanges) {
            if (delay != stages_[s].configuredDelay) {
                earlierKeys << static_cast<double>(u);
                earlierDelays << static_cast<double>(delay);
                top = std::max(top, static_cast<double>(delay));
            }
        }
    }
    earlier_->setData(earlierKeys, earlierDelays);
    if (earlierKeys.isEmpty()) {
        earlier_->removeFromLegend();
    } else if (plot_->legend->itemWithPlottable(earlier_) == nullptr) {
        earlier_->addToLegend();
    }
    // A handful of points per unit, replaced whole: the summary, not a stream.
    delayBars_->setData(keys, delays, true);
    mean_->setData(keys, means, true);
    last_->setData(keys, lasts, true);
    QCPAxis* x = delayBars_->keyAxis();
    x->setTicker(unitTicker(names));
    // Flat, 45° or upright as the width allows: chart::fitAxes, at each layout.
    x->grid()->setVisible(false);
    if (autoRange_) {
        x->setRange(-0.6, static_cast<double>(list.size()) - 0.4);
        // A little headroom above the tallest bar (the legend has a row of its own).
        delayBars_->valueAxis()->setRange(0.0, std::ceil(top * 1.1) + 0.5);
    }
}

void StalenessView::refreshDelayChanges() {
    for (QCPAbstractItem* item : changeItems_) {
        plot_->removeItem(item);
    }
    changeItems_.clear();
    QCPAxis* x = heatmap_->keyAxis();
    QCPAxis* y = heatmap_->valueAxis();
    for (const DelayChange& c : delayChanges()) {
        const double at = static_cast<double>(c.update) - 0.5;  // between two updates' cells
        auto* line = new QCPItemStraightLine(plot_);
        line->setClipAxisRect(x->axisRect());
        line->point1->setAxes(x, y);
        line->point2->setAxes(x, y);
        line->point1->setCoords(at, 0.0);
        line->point2->setCoords(at, 1.0);
        line->setPen(palette::cosmeticPen(palette::okabeIto(0), 1.0, Qt::DashLine));
        QStringList parts;
        for (const std::int64_t d : c.delays) {
            parts << QString::number(d);
        }
        auto* text = new QCPItemText(plot_);
        text->setClipAxisRect(x->axisRect());
        text->position->setAxes(x, y);
        text->position->setAxisRect(x->axisRect());
        text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        text->position->setCoords(at, 0.0);
        text->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
        text->setPadding(QMargins(3, 1, 3, 1));
        text->setBrush(palette::withAlpha(palette::chartColors().legendBrush, 210));
        text->setColor(palette::okabeIto(0));
        text->setText(QStringLiteral("D %1").arg(parts.join(QLatin1Char(','))));
        changeItems_.push_back(line);
        changeItems_.push_back(text);
    }
}

void StalenessView::refreshHeatmap(const std::vector<Unit>& list) {
    std::int64_t lo = std::numeric_limits<std::int64_t>::max();
    std::int64_t hi = std::numeric_limits<std::int64_t>::min();
    double maxDelay = 1.0;
    for (const StageSeries& s : stages_) {
        for (const std::int64_t u : s.updates) {
            lo = std::min(lo, u);
            hi = std::max(hi, u);
        }
        maxDelay = std::max(maxDelay, static_cast<double>(s.configuredDelay));
    }
    for (const std::int64_t d : layout_.delays) {
        maxDelay = std::max(maxDelay, static_cast<double>(d));
    }
    const int rows = std::max(2, static_cast<int>(list.size()));  // QCPColorMap needs 2 cells
    std::vector<QString> names;
    names.reserve(list.size());
    for (const Unit& u : list) {
        names.push_back(u.name);
    }
    QCPAxis* y = heatmap_->valueAxis();
    y->setTicker(unitTicker(names));
    if (lo > hi) {
        heatmap_->data()->setSize(2, rows);
        heatmap_->data()->fill(kNaN);
        heatmap_->data()->setRange(QCPRange(0.0, 1.0), QCPRange(0.0, rows - 1.0));
        y->setRange(-0.5, rows - 0.5);
        return;
    }
    // Bin updates so the map never exceeds kMaxHeatmapBins columns; each cell is the mean of its
    // bin's samples, NaN (transparent) where a bin got none.
    const std::int64_t extent = hi - lo + 1;
    const int bins = static_cast<int>(std::clamp<std::int64_t>(extent, 2, kMaxHeatmapBins));
    const double width = static_cast<double>(extent) / bins;
    const double origin = static_cast<double>(lo) - 0.5;
    std::vector<std::vector<double>> stageBins(stages_.size());
    for (std::size_t s = 0; s < stages_.size(); ++s) {
        std::vector<double> sum(static_cast<std::size_t>(bins), 0.0);
        std::vector<int> count(static_cast<std::size_t>(bins), 0);
        for (std::size_t i = 0; i < stages_[s].updates.size(); ++i) {
            const double pos = (static_cast<double>(stages_[s].updates[i]) - origin) / width;
            const auto b = static_cast<std::size_t>(std::clamp(static_cast<int>(pos), 0, bins - 1));
            sum[b] += static_cast<double>(stages_[s].staleness[i]);
            ++count[b];
        }
        stageBins[s].assign(static_cast<std::size_t>(bins), kNaN);
        for (std::size_t b = 0; b < sum.size(); ++b) {
            if (count[b] > 0) {
                stageBins[s][b] = sum[b] / count[b];
            }
        }
    }
    QCPColorMapData* mapData = heatmap_->data();
    mapData->setSize(bins, rows);
    mapData->setRange(QCPRange(origin + width / 2.0, origin + width * (bins - 0.5)),
                      QCPRange(0.0, rows - 1.0));
    mapData->fill(kNaN);
    for (std::size_t u = 0; u < list.size(); ++u) {
        const auto s = static_cast<std::size_t>(std::max(0, list[u].stage));
        if (s >= stageBins.size()) {
            continue;
        }
        for (int b = 0; b < bins; ++b) {
            mapData->setCell(b, static_cast<int>(u), stageBins[s][static_cast<std::size_t>(b)]);
        }
    }
    // Fixed colour range 0..max D so that colours compare across runs and with the bars.
    heatmap_->setDataRange(QCPRange(0.0, maxDelay));
    if (autoRange_) {
        heatmap_->keyAxis()->setRange(origin, origin + static_cast<double>(extent));
        y->setRange(-0.5, rows - 0.5);
    }
}

}  // namespace lp::ui
