// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/timeline_spans.hpp"

#include "core/telemetry/exporters.hpp"
#include "ui/choice_combo.hpp"
#include "ui/palette.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lp::ui {

using core::telemetry::OpEvent;
using core::telemetry::OpKind;

namespace {

constexpr double kRowHalfHeight = 0.36;  // a row's bar covers [s - h, s + h]

}  // namespace

OpSpans::OpSpans(QCPAxis* keyAxis, QCPAxis* valueAxis, OpKind op)
    : QCPAbstractPlottable(keyAxis, valueAxis), op_(op) {
    setAntialiased(false);  // axis-aligned rectangles: crisp and faster without AA
    setSelectable(QCP::stNone);
    setPen(Qt::NoPen);
    setBrush(palette::opColor(op));
    setName(opName(op));
}

std::optional<std::pair<double, double>> OpSpans::spanOf(const OpEvent& e, TimeAxis axis) {
    if (axis == TimeAxis::WallClock) {
        return std::pair{e.startUs, std::max(e.endUs, e.startUs)};
    }
    if (e.tick < 0) {
        return std::nullopt;
    }
    // Order inside a tick follows DESIGN.md section 4: F, then B, then U.
    double offset = 0.0;
    double width = 1.0;
    switch (e.op) {
        case OpKind::Forward:
            width = 0.45;
            break;
        case OpKind::Backward:
            offset = 0.45;
            width = 0.45;
            break;
        case OpKind::Update:
            offset = 0.9;
            width = 0.1;
            break;
        case OpKind::Eval:
            break;
    }
    const double start = static_cast<double>(e.tick) + offset;
    return std::pair{start, start + width};
}

void OpSpans::place(std::size_t index) {
    const OpEvent& e = events_[index];
    const auto span = spanOf(e, axis_);
    if (!span || e.stage < 0) {
        return;
    }
    const auto row = static_cast<std::size_t>(e.stage);
    if (row >= rows_.size()) {
        rows_.resize(row + 1);
        rowUnsorted_.resize(row + 1, false);
    }
    std::vector<Span>& spans = rows_[row];
    const double prevMax =
        spans.empty() ? -std::numeric_limits<double>::infinity() : spans.back().maxEnd;
    if (!spans.empty() && span->first < spans.back().start) {
        rowUnsorted_[row] = true;  // rare: repaired in finish()
    }
    spans.push_back({span->first, span->second, std::max(prevMax, span->second), index});
}

void OpSpans::sortRow(std::vector<Span>& row) {
    std::stable_sort(
        row.begin(), row.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
    double running = -std::numeric_limits<double>::infinity();
    for (Span& s : row) {
        running = std::max(running, s.end);
        s.maxEnd = running;
    }
}

void OpSpans::add(const OpEvent& e) {
    events_.push_back(e);
    place(events_.size() - 1);
}

void OpSpans::finish() {
    for (std::size_t r = 0; r < rows_.size(); ++r) {
        if (rowUnsorted_[r]) {
            sortRow(rows_[r]);
            rowUnsorted_[r] = false;
        }
    }
}

void OpSpans::clear() {
    events_.clear();
    rows_.clear();
    rowUnsorted_.clear();
    lastDrawnRects_ = 0;
}

void OpSpans::setTimeAxis(TimeAxis axis) {
    if (axis == axis_) {
        return;
    }
    axis_ = axis;
    rows_.clear();
    rowUnsorted_.clear();
    for (std::size_t i = 0; i < events_.size(); ++i) {
        place(i);
    }
    finish();
}

std::size_t OpSpans::spanCount() const {
    std::size_t n = 0;
    for (const auto& row : rows_) {
        n += row.size();
    }
    return n;
}

const OpEvent* OpSpans::eventNear(std::int32_t stage,
                                  double key,
                                  double tolerance,
                                  double* distance) const {
    if (stage < 0 || static_cast<std::size_t>(stage) >= rows_.size()) {
        return nullptr;
    }
    const std::vector<Span>& row = rows_[static_cast<std::size_t>(stage)];
    auto it =
        std::lower_bound(row.begin(), row.end(), key - tolerance, [](const Span& s, double k) {
            return s.maxEnd < k;
        });
    const OpEvent* best = nullptr;
    double bestDistance = std::numeric_limits<double>::infinity();
    // Spans in a row of one op kind rarely overlap; a handful of candidates at most.
    for (int n = 0; it != row.end() && it->start <= key + tolerance && n < 64; ++it, ++n) {
        const double d = key < it->start ? it->start - key : (key > it->end ? key - it->end : 0.0);
        if (d < bestDistance) {
            bestDistance = d;
            best = &events_[it->event];
        }
    }
    if (best != nullptr && distance != nullptr) {
        *distance = bestDistance;
    }
    return best;
}

double OpSpans::selectTest(const QPointF& /*pos*/,
                           bool /*onlySelectable*/,
                           QVariant* /*details*/) const {
    // Not selectable: hover is answered by TimelineView::eventAt, and returning -1 leaves mouse
    // presses to the axis rect so dragging works anywhere on the chart.
    return -1.0;
}

QCPRange OpSpans::getKeyRange(bool& foundRange, QCP::SignDomain /*inSignDomain*/) const {
    // Plain doubles: QCPRange's constructor swaps lower > upper, so it cannot hold a sentinel.
    double lower = std::numeric_limits<double>::infinity();
    double upper = -std::numeric_limits<double>::infinity();
    foundRange = false;
    for (const auto& row : rows_) {
        if (!row.empty()) {
            lower = std::min(lower, row.front().start);
            upper = std::max(upper, row.back().maxEnd);
            foundRange = true;
        }
    }
    return foundRange ? QCPRange(lower, upper) : QCPRange();
}

QCPRange OpSpans::getValueRange(bool& foundRange,
                                QCP::SignDomain /*inSignDomain*/,
                                const QCPRange& /*inKeyRange*/) const {
    foundRange = !rows_.empty();
    return {-0.5, static_cast<double>(rows_.size()) - 0.5};
}

void OpSpans::draw(QCPPainter* painter) {
    QCPAxis* keyAxis = mKeyAxis.data();
    QCPAxis* valueAxis = mValueAxis.data();
    lastDrawnRects_ = 0;
    if (keyAxis == nullptr || valueAxis == nullptr) {
        return;
    }
    const QCPRange visible = keyAxis->range();
    const bool reversed = keyAxis->rangeReversed();
    // One pixel further along the axis, in key units (the merge threshold).
    const double pixelKey = std::abs(keyAxis->pixelToCoord(1.0) - keyAxis->pixelToCoord(0.0));
    applyDefaultAntialiasingHint(painter);
    painter->setPen(Qt::NoPen);
    painter->setBrush(mBrush);
    std::vector<QRectF> rects;
    for (std::size_t r = 0; r < rows_.size(); ++r) {
        const std::vector<Span>& row = rows_[r];
        const double y0 = valueAxis->coordToPixel(static_cast<double>(r) - kRowHalfHeight);
        const double y1 = valueAxis->coordToPixel(static_cast<double>(r) + kRowHalfHeight);
        const double top = std::min(y0, y1);
        const double height = std::abs(y1 - y0);
        // Merged runs (overview zoom) go into this op's lane, a third of the row, so that F, B
        // and U stay side by side instead of the last-drawn kind covering the others.
        const double laneHeight = height / 3.0;
        const double laneTop = op_ == OpKind::Eval
                                   ? top
                                   : top + laneHeight * static_cast<double>(static_cast<int>(op_));
        auto it =
            std::lower_bound(row.begin(), row.end(), visible.lower, [](const Span& s, double k) {
                return s.maxEnd < k;
            });
        rects.clear();
        while (it != row.end() && it->start <= visible.upper) {
            const auto first = it;
            const double runStart = it->start;
            double runEnd = it->maxEnd;
            // Decimation: everything that starts within one pixel of the run's end joins the
            // run; one binary search jumps over all of it, so a dense row costs O(pixels·log n).
            for (;;) {
                auto next = std::upper_bound(
                    it + 1, row.end(), runEnd + pixelKey, [](double k, const Span& s) {
                        return k < s.start;
                    });
                if (next == it + 1) {
                    break;
                }
                it = next - 1;
                runEnd = std::max(runEnd, it->maxEnd);
            }
            double p0 = keyAxis->coordToPixel(runStart);
            double p1 = keyAxis->coordToPixel(runEnd);
            if (reversed) {
                std::swap(p0, p1);
            }
            // Whole pixels: neighbouring F/B spans then touch instead of leaving a hairline gap
            // from rounding, and a sub-pixel run still shows as one pixel column.
            p0 = std::floor(p0);
            p1 = std::max(std::ceil(p1), p0 + 1.0);
            const bool overview = it != first || p1 - p0 < 2.0;
            if (overview && op_ != OpKind::Eval) {
                rects.emplace_back(p0, laneTop, p1 - p0, laneHeight);
            } else {
                rects.emplace_back(p0, top, p1 - p0, height);
            }
            ++it;
        }
        painter->drawRects(rects.data(), static_cast<int>(rects.size()));
        lastDrawnRects_ += rects.size();
    }
}

void OpSpans::drawLegendIcon(QCPPainter* painter, const QRectF& rect) const {
    painter->setPen(Qt::NoPen);
    painter->setBrush(mBrush);
    painter->drawRect(rect.adjusted(0.0, rect.height() * 0.15, 0.0, -rect.height() * 0.15));
}

QString opName(OpKind op) {
    return tableText(core::telemetry::opKindCategory(op));
}

}  // namespace lp::ui
