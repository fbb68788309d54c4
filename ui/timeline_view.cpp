// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/timeline_view.hpp"

#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/message_arrows.hpp"
#include "ui/palette.hpp"

#include <QHBoxLayout>
#include <QLocale>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lp::ui {

using core::telemetry::OpEvent;
using core::telemetry::OpKind;
using core::telemetry::PipelineLayout;
using core::telemetry::TelemetryBatch;

namespace {

constexpr int kOpKinds = 4;

std::size_t opIndex(OpKind op) {
    return static_cast<std::size_t>(op);
}

// "stem, layer1.0" or, for long groups, "layer1.0 … layer2.1 (4 units)".
QString unitSummary(const PipelineLayout& layout, int stage) {
    QStringList names;
    const std::size_t units = std::min(layout.unitNames.size(), layout.stageOfUnit.size());
    for (std::size_t u = 0; u < units; ++u) {
        if (layout.stageOfUnit[u] == stage) {
            names << QString::fromStdString(layout.unitNames[u]);
        }
    }
    if (names.size() <= 2) {
        return names.join(QStringLiteral(", "));
    }
    return QStringLiteral("%1 … %2, %3 units").arg(names.front(), names.back()).arg(names.size());
}

}  // namespace

// ---- TimelineView ----

TimelineView::TimelineView(QWidget* parent)
    : TelemetryView(parent), rowTicker_(new chart::RowTicker) {
    auto* box = new QVBoxLayout(this);
    box->setContentsMargins(0, 0, 0, 0);
    box->setSpacing(2);
    auto* bar = new QHBoxLayout;
    followButton_ = new QToolButton(this);
    followButton_->setText(QStringLiteral("Follow live"));
    followButton_->setCheckable(true);
    followButton_->setChecked(true);
    followButton_->setToolTip(
        QStringLiteral("Keep the newest events in view; drag or zoom the "
                       "chart to scrub back"));
    wallClockButton_ = new QToolButton(this);
    wallClockButton_->setText(QStringLiteral("Wall clock"));
    wallClockButton_->setCheckable(true);
    wallClockButton_->setToolTip(QStringLiteral("Measured time (µs) instead of schedule ticks"));
    bar->addWidget(followButton_);
    bar->addWidget(wallClockButton_);
    bar->addStretch(1);
    box->addLayout(bar);
    plot_ = new QCustomPlot(this);
    box->addWidget(plot_, 1);
    connect(followButton_, &QToolButton::toggled, this, &TimelineView::setFollowLive);
    connect(wallClockButton_, &QToolButton::toggled, this, [this](bool on) {
        setTimeAxis(on ? TimeAxis::WallClock : TimeAxis::Tick);
    });

    // Not installStandardInteractions: the timeline answers hover itself (showHover).
    palette::applyChartStyle(plot_);
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    installLegendToggle(plot_);
    installExportMenu(plot_);
    plot_->setMouseTracking(true);
    plot_->axisRect()->setRangeDrag(Qt::Horizontal);
    plot_->axisRect()->setRangeZoom(Qt::Horizontal);
    plot_->xAxis->setLabel(QStringLiteral("tick"));
    plot_->yAxis->setTicker(rowTicker_);
    plot_->yAxis->setRangeReversed(true);  // stage 0 (the input side) on top
    plot_->yAxis->grid()->setVisible(false);
    plot_->yAxis->setTickLength(0, 0);
    plot_->yAxis->setSubTickLength(0, 0);

    // Title on top, the legend in a row of its own below it: neither covers a stage row, and
    // both wrap rather than elide at any width (ui/chart_layout.hpp).
    title_ = palette::makeTitle(plot_, QStringLiteral("Pipeline timeline"));
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(0, 0, title_);
    chart::addLegendRow(plot_, 1, true);

    for (int k = 0; k < kOpKinds; ++k) {
        spans_[static_cast<std::size_t>(k)] =
            new OpSpans(plot_->xAxis, plot_->yAxis, static_cast<OpKind>(k));
    }
    arrows_ = new MessageArrows(plot_->xAxis, plot_->yAxis);
    arrows_->removeFromLegend();  // listed only for a run over ranks (updateRanks)

    installNavigationHooks(
        plot_, this, [this] { setFollowLive(false); }, [this] { setFollowLive(true); });
    connect(plot_, &QCustomPlot::mouseMove, this, &TimelineView::showHover);
    setRows(1);
    resetRange();
    updateLabels();
}

OpSpans* TimelineView::spans(OpKind op) const {
    return spans_[opIndex(op)];
}

void TimelineView::ensureRows(int rows) {
    if (rows > rows_) {
        setRows(rows);
    }
}

void TimelineView::setRows(int rows) {
    rows_ = rows;
    stats_.resize(static_cast<std::size_t>(rows));
    plot_->yAxis->setRange(-0.6, static_cast<double>(rows) - 0.4);
}

void TimelineView::resetRange() {
    followTicks_ = kDefaultFollowTicks;
    followUs_ = 0.0;
    setFollowLive(true);
    plot_->xAxis->setRange(0.0, axis_ == TimeAxis::Tick ? followTicks_ : 1.0);
}

void TimelineView::applyLayout(const PipelineLayout& layout) {
    updateEpochMarks();
    // Exactly the layout's stages: a 4-stage run after a 10-stage one shows 4 rows (issue 13).
    if (eventCount() == 0) {
        setRows(std::max(1, layout.stages()));
    } else {
        ensureRows(std::max(1, layout.stages()));
    }
    updateRanks();
    updateLabels();
}

bool TimelineView::addBatch(const TelemetryBatch& batch) {
    addEpochMarks(batch.delays);
    if (batch.ops.empty()) {
        return !batch.delays.empty();
    }
    int rows = rows_;
    for (const OpEvent& e : batch.ops) {
        if (e.stage < 0) {
            continue;
        }
        rows = std::max(rows, e.stage + 1);
    }
    ensureRows(rows);
    for (const OpEvent& e : batch.ops) {
        if (e.stage < 0) {
            continue;
        }
        spans_[opIndex(e.op)]->add(e);
        if (e.op == OpKind::Eval) {
            continue;
        }
        StageStats& s = stats_[static_cast<std::size_t>(e.stage)];
        s.busyUs += std::max(0.0, e.endUs - e.startUs);
        if (e.op != OpKind::Update) {
            ++s.forwardBackward;
            // A stage's ops arrive in its plan order, so its ticks never decrease: counting runs
            // of equal ticks is enough.
            if (e.tick >= 0) {
                s.opsInTick = e.tick == s.tick ? s.opsInTick + 1 : 1;
                s.tick = e.tick;
                s.maxOpsPerTick = std::max(s.maxOpsPerTick, s.opsInTick);
            }
        }
        if (!anyPipelineOp_) {
            firstStartUs_ = e.startUs;
            lastEndUs_ = e.endUs;
        }
        firstStartUs_ = std::min(firstStartUs_, e.startUs);
        lastEndUs_ = std::max(lastEndUs_, e.endUs);
        anyPipelineOp_ = true;
        if (e.tick >= 0) {
            firstTick_ = anyTick_ ? std::min(firstTick_, e.tick) : e.tick;
            lastTick_ = anyTick_ ? std::max(lastTick_, e.tick) : e.tick;
            anyTick_ = true;
        }
    }
    for (OpSpans* s : spans_) {
        s->finish();
    }
    addRankOps(batch.ops);
    updateLabels();
    if (followLive_) {
        applyFollow();
    }
    return true;
}

void TimelineView::clearData() {
    for (OpSpans* s : spans_) {
        s->clear();
    }
    for (auto& [epoch, items] : marks_) {
        plot_->removeItem(items.line);
        plot_->removeItem(items.text);
    }
    marks_.clear();
    links_.clear();
    rankOps_.clear();
    arrows_->setMessages({});
    std::fill(stats_.begin(), stats_.end(), StageStats{});
    anyPipelineOp_ = false;
    anyTick_ = false;
    firstTick_ = 0;
    lastTick_ = -1;
    firstStartUs_ = 0.0;
    lastEndUs_ = 0.0;
    // A fresh view (issue 13): the current layout's rows, following live from tick 0.
    setRows(std::max(1, layout_.stages()));
    resetRange();
    updateRanks();
    updateLabels();
}

std::size_t TimelineView::eventCount() const {
    std::size_t n = 0;
    for (const OpSpans* s : spans_) {
        n += s->eventCount();
    }
    return n;
}

void TimelineView::setTimeAxis(TimeAxis axis) {
    if (axis == axis_) {
        return;
    }
    axis_ = axis;
    {
        const QSignalBlocker block(wallClockButton_);
        wallClockButton_->setChecked(axis == TimeAxis::WallClock);
    }
    for (OpSpans* s : spans_) {
        s->setTimeAxis(axis);
    }
    arrows_->setTimeAxis(axis);
    plot_->xAxis->setLabel(axis == TimeAxis::Tick ? QStringLiteral("tick")
                                                  : QStringLiteral("wall clock (µs)"));
    updateLabels();
    updateEpochMarks();
    // The visible window cannot be carried across axes exactly: follow, or show everything.
    if (followLive_) {
        applyFollow();
    } else {
        plot_->rescaleAxes();
        plot_->yAxis->setRange(-0.6, static_cast<double>(rows_) - 0.4);
    }
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void TimelineView::setFollowLive(bool on) {
    if (on == followLive_) {
        return;
    }
    followLive_ = on;
    {
        const QSignalBlocker block(followButton_);
        followButton_->setChecked(on);
    }
    if (on) {
        // Keep the width the user zoomed to.
        const double width = plot_->xAxis->range().size();
        if (width > 0.0 && eventCount() > 0) {
            (axis_ == TimeAxis::Tick ? followTicks_ : followUs_) = width;
        }
        applyFollow();
        plot_->replot(QCustomPlot::rpQueuedReplot);
    }
    emit followLiveChanged(on);
}

double TimelineView::followWindow() const {
    if (axis_ == TimeAxis::Tick) {
        return followTicks_;
    }
    if (followUs_ > 0.0) {
        return followUs_;
    }
    const double span = lastEndUs_ - firstStartUs_;
    if (anyTick_ && lastTick_ >= firstTick_) {
        const auto ticks = static_cast<double>(lastTick_ - firstTick_ + 1);
        return std::min(span, span / ticks * followTicks_);
    }
    return span;
}

void TimelineView::applyFollow() {
    bool found = false;
    QCPRange extent;
    for (const OpSpans* s : spans_) {
        bool f = false;
        const QCPRange r = s->getKeyRange(f, QCP::sdBoth);
        if (f) {
            extent =
                found ? QCPRange(std::min(extent.lower, r.lower), std::max(extent.upper, r.upper))
                      : r;
            found = true;
        }
    }
    if (!found) {
        return;
    }
    const double window = std::max(followWindow(), 1e-9);
    double lower = extent.upper - window;
    if (lower < extent.lower) {
        lower = extent.lower;
    }
    plot_->xAxis->setRange(lower, lower + window);
}

int TimelineView::tickCapacity() const {
    int capacity = 1;
    for (const StageStats& st : stats_) {
        capacity = std::max(capacity, st.maxOpsPerTick);
    }
    return capacity;
}

std::vector<StageUtilisation> TimelineView::utilisation() const {
    std::vector<StageUtilisation> out;
    const bool ticks = axis_ == TimeAxis::Tick;
    const double span = ticks ? (anyTick_ ? static_cast<double>(lastTick_ - firstTick_ + 1) : 0.0)
                              : lastEndUs_ - firstStartUs_;
    const int capacity = ticks ? tickCapacity() : 1;
    for (int s = 0; s < rows_; ++s) {
        const StageStats& st = stats_[static_cast<std::size_t>(s)];
        StageUtilisation u;
        u.stage = s;
        u.capacity = capacity;
        u.busy = ticks ? static_cast<double>(st.forwardBackward) / static_cast<double>(capacity)
                       : st.busyUs;
        u.span = span;
        u.utilisation = span > 0.0 ? std::min(1.0, u.busy / span) : 0.0;
        u.bubbleFraction = span > 0.0 ? 1.0 - u.utilisation : 0.0;
        out.push_back(u);
    }
    return out;
}

QString TimelineView::rowLabel(int stage) const {
    return rowTicker_->ticks().value(static_cast<double>(stage));
}

void TimelineView::updateLabels() {
    const std::vector<StageUtilisation> util = utilisation();
    QMap<double, QString> ticks;
    double meanBusy = 0.0;
    for (const StageUtilisation& u : util) {
        const QString units = unitSummary(layout_, u.stage);
        QString label = units.isEmpty() ? QStringLiteral("stage %1").arg(u.stage)
                                        : QStringLiteral("stage %1 (%2)").arg(u.stage).arg(units);
        QString second = rankText(u.stage);
        if (u.span > 0.0) {
            second += QStringLiteral("%1%2% busy · %3% bubble")
                          .arg(second.isEmpty() ? QString() : QStringLiteral(" · "))
                          .arg(100.0 * u.utilisation, 0, 'f', 1)
                          .arg(100.0 * u.bubbleFraction, 0, 'f', 1);
        }
        if (!second.isEmpty()) {
            label += QLatin1Char('\n') + second;
        }
        ticks.insert(static_cast<double>(u.stage), label);
        meanBusy += u.utilisation;
    }
    rowTicker_->setTicks(ticks);
    // Wraps to two lines (then shrinks) where the chart is narrow; never elided.
    QString title = QStringLiteral("Timeline");
    if (!layout_.schedule.empty()) {
        // GPipe has no stale weights, so no weight policy to name.
        title +=
            layout_.schedule == "gpipe"
                ? QStringLiteral(" · GPipe")
                : QStringLiteral(" · LayerPipe · %1").arg(QString::fromStdString(layout_.policy));
    }
    if (!util.empty() && eventCount() > 0) {
        title += QStringLiteral(" · %1 ops · mean utilisation %2%")
                     .arg(QLocale().toString(static_cast<qulonglong>(eventCount())))
                     .arg(100.0 * meanBusy / static_cast<double>(util.size()), 0, 'f', 1);
    }
    title_->setText(title);
}

void TimelineView::addEpochMarks(const std::vector<core::telemetry::DelaySample>& records) {
    for (const core::telemetry::DelaySample& d : records) {
        if (d.stage < 0 || d.epoch < 0) {
            continue;
        }
        MarkItems& items = marks_[d.epoch];
        EpochMark& m = items.mark;
        m.epoch = d.epoch;
        m.firstTick = d.firstTick;
        if (m.delays.size() <= static_cast<std::size_t>(d.stage)) {
            m.delays.resize(static_cast<std::size_t>(d.stage) + 1, 0);
        }
        m.delays[static_cast<std::size_t>(d.stage)] = d.delay;
        QStringList parts;
        for (const std::int64_t v : m.delays) {
            parts << QString::number(v);
        }
        m.label =
            QStringLiteral("epoch %1 · D %2").arg(d.epoch + 1).arg(parts.join(QLatin1Char(',')));
        if (items.line == nullptr) {
            items.line = new QCPItemStraightLine(plot_);
            items.line->setPen(palette::cosmeticPen(palette::okabeIto(0), 1.0, Qt::DashLine));
            items.line->setSelectable(false);
            items.text = new QCPItemText(plot_);
            items.text->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
            items.text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
            items.text->setPadding(QMargins(3, 1, 3, 1));
            items.text->setBrush(palette::withAlpha(palette::chartColors().legendBrush, 210));
            items.text->setColor(palette::okabeIto(0));
            items.text->setSelectable(false);
        }
        const auto x = static_cast<double>(m.firstTick);
        items.line->point1->setCoords(x, 0.0);
        items.line->point2->setCoords(x, 1.0);
        items.text->position->setCoords(x, 0.0);
        items.text->setText(m.label);
    }
    if (!records.empty()) {
        updateEpochMarks();
    }
}

void TimelineView::updateEpochMarks() {
    const bool show = axis_ == TimeAxis::Tick && layout_.delaySchedule != "static";
    for (auto& [epoch, items] : marks_) {
        items.line->setVisible(show);
        items.text->setVisible(show);
    }
}

std::vector<TimelineView::EpochMark> TimelineView::epochMarks() const {
    std::vector<EpochMark> out;
    for (const auto& [epoch, items] : marks_) {
        if (items.line->visible()) {
            out.push_back(items.mark);
        }
    }
    return out;
}

std::optional<OpEvent> TimelineView::eventAt(const QPointF& pos) const {
    if (!plot_->axisRect()->rect().contains(pos.toPoint())) {
        return std::nullopt;
    }
    const double key = plot_->xAxis->pixelToCoord(pos.x());
    const double row = plot_->yAxis->pixelToCoord(pos.y());
    const auto stage = static_cast<std::int32_t>(std::lround(row));
    if (std::abs(row - static_cast<double>(stage)) > 0.5) {
        return std::nullopt;
    }
    const double tolerance = std::abs(plot_->xAxis->pixelToCoord(pos.x() + 3.0) - key);
    const OpEvent* best = nullptr;
    double bestDistance = std::numeric_limits<double>::infinity();
    for (const OpSpans* s : spans_) {
        if (!s->visible()) {
            continue;
        }
        double d = 0.0;
        const OpEvent* e = s->eventNear(stage, key, tolerance, &d);
        if (e != nullptr && d < bestDistance) {
            best = e;
            bestDistance = d;
        }
    }
    return best != nullptr ? std::optional<OpEvent>(*best) : std::nullopt;
}

QString TimelineView::describe(const OpEvent& e) {
    QString text = QStringLiteral("%1 · stage %2\nminibatch %3 · weight version %4")
                       .arg(opName(e.op))
                       .arg(e.stage)
                       .arg(e.minibatch)
                       .arg(e.weightVersion);
    if (e.tick >= 0) {
        text += QStringLiteral("\ntick %1").arg(e.tick);
    }
    text += QStringLiteral("\n%1 – %2 µs (%3 µs) · thread %4")
                .arg(e.startUs, 0, 'f', 1)
                .arg(e.endUs, 0, 'f', 1)
                .arg(e.endUs - e.startUs, 0, 'f', 1)
                .arg(e.thread);
    return text;
}

void TimelineView::showHover(QMouseEvent* event) {
    if (event->buttons() != Qt::NoButton) {
        return;
    }
    const auto e = eventAt(event->position());
    if (e) {
        QToolTip::showText(event->globalPosition().toPoint(), describe(*e), plot_);
    } else {
        QToolTip::hideText();
    }
}

}  // namespace lp::ui
