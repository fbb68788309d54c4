// OpSpans: the timeline's custom plottable (one per op kind) that draws 100,000+ spans smoothly by
// painting only the visible window and merging sub-pixel runs. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"

#include <qcustomplot.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace lp::ui {

// "forward", "backward", "update", "eval": the op's category in every export
// (core::telemetry::opKindCategory).
QString opName(core::telemetry::OpKind op);

enum class TimeAxis : std::uint8_t {
    Tick,       // schedule time: F in [τ, τ+0.45), B in [τ+0.45, τ+0.9), U in [τ+0.9, τ+1)
    WallClock,  // measured startUs..endUs
};

// All spans of one op kind on every stage row. Keeps each row sorted by start with a running
// maximum of the ends, so draw() binary-searches the visible window and paints only it, merging
// runs of spans that start within one pixel of the previous run's end (one rectangle per pixel
// column at most, whatever the event count). Filled rectangles, no outline pen. A span at least
// 2 px wide fills the row's height; a merged or narrower run fills only this op's lane (F top
// third, B middle, U bottom), so an overview of a dense run still shows all three kinds.
class OpSpans : public QCPAbstractPlottable {
    Q_OBJECT

public:
    OpSpans(QCPAxis* keyAxis, QCPAxis* valueAxis, core::telemetry::OpKind op);

    core::telemetry::OpKind op() const { return op_; }

    // Stores e; call finish() after a run of add()s to restore sorted rows. Events without a
    // tick (tick < 0) are kept but not shown on the tick axis.
    void add(const core::telemetry::OpEvent& e);
    void finish();
    void clear();
    void setTimeAxis(TimeAxis axis);

    std::size_t eventCount() const { return events_.size(); }

    // Spans shown on the current axis, over all rows.
    std::size_t spanCount() const;

    // Rectangles painted by the last draw() (after merging); for tests and the benchmark.
    std::size_t lastDrawnRects() const { return lastDrawnRects_; }

    // The event on row stage nearest to key within tolerance (axis units), if any; *distance is
    // 0 inside a span.
    const core::telemetry::OpEvent* eventNear(std::int32_t stage,
                                              double key,
                                              double tolerance,
                                              double* distance) const;

    // Span [start, end) of e on axis; nullopt where e has no tick on the tick axis.
    static std::optional<std::pair<double, double>> spanOf(const core::telemetry::OpEvent& e,
                                                           TimeAxis axis);

    double selectTest(const QPointF& pos, bool onlySelectable, QVariant* details) const override;
    QCPRange getKeyRange(bool& foundRange, QCP::SignDomain inSignDomain) const override;
    QCPRange getValueRange(bool& foundRange,
                           QCP::SignDomain inSignDomain,
                           const QCPRange& inKeyRange) const override;

protected:
    void draw(QCPPainter* painter) override;
    void drawLegendIcon(QCPPainter* painter, const QRectF& rect) const override;

private:
    struct Span {
        double start = 0.0;
        double end = 0.0;
        double maxEnd = 0.0;  // max(end) over this span and all before it in the row
        std::size_t event = 0;
    };

    void place(std::size_t index);
    void sortRow(std::vector<Span>& row);

    core::telemetry::OpKind op_;
    TimeAxis axis_ = TimeAxis::Tick;
    std::vector<core::telemetry::OpEvent> events_;
    std::vector<std::vector<Span>> rows_;
    std::vector<bool> rowUnsorted_;
    std::size_t lastDrawnRects_ = 0;
};

}  // namespace lp::ui
