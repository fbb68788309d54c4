// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/message_arrows.hpp"

#include "ui/palette.hpp"

#include <QLineF>

#include <algorithm>
#include <cmath>

namespace lp::ui {

namespace {

constexpr double kRowEdge = 0.36;  // arrows leave and enter a row at its bar's edge (OpSpans)
constexpr double kHeadPx = 5.0;

QColor arrowColor() {
    return palette::adapt(palette::okabeIto(6));  // black; light on the dark themes
}

}  // namespace

MessageArrows::MessageArrows(QCPAxis* keyAxis, QCPAxis* valueAxis)
    : QCPAbstractPlottable(keyAxis, valueAxis) {
    setSelectable(QCP::stNone);
    setAntialiased(true);
    setName(QStringLiteral("messages between ranks"));
}

void MessageArrows::setMessages(std::vector<Message> messages) {
    messages_ = std::move(messages);
}

std::optional<std::pair<QPointF, QPointF>> MessageArrows::ends(const Message& m) const {
    const auto from = OpSpans::spanOf(m.first, axis_);
    const auto to = OpSpans::spanOf(m.second, axis_);
    if (!from || !to) {
        return std::nullopt;
    }
    const double down = m.second.stage > m.first.stage ? 1.0 : -1.0;
    return std::pair{QPointF(from->second, m.first.stage + down * kRowEdge),
                     QPointF(to->first, m.second.stage - down * kRowEdge)};
}

void MessageArrows::draw(QCPPainter* painter) {
    lastDrawn_ = 0;
    if (messages_.empty() || keyAxis() == nullptr) {
        return;
    }
    const QCPRange visible = keyAxis()->range();
    QPen pen = palette::cosmeticPen(arrowColor(), 1.0);
    painter->setPen(pen);
    applyDefaultAntialiasingHint(painter);
    for (const Message& m : messages_) {
        const auto e = ends(m);
        if (!e || std::max(e->first.x(), e->second.x()) < visible.lower ||
            std::min(e->first.x(), e->second.x()) > visible.upper) {
            continue;
        }
        const QPointF a = coordsToPixels(e->first.x(), e->first.y());
        const QPointF b = coordsToPixels(e->second.x(), e->second.y());
        painter->drawLine(QLineF(a, b));
        // The head: two short strokes back from b, 25° either side of the shaft.
        const QLineF shaft(b, a);
        for (const double turn : {-25.0, 25.0}) {
            QLineF head = shaft;
            head.setLength(std::min(kHeadPx, shaft.length()));
            head.setAngle(shaft.angle() + turn);
            painter->drawLine(head);
        }
        ++lastDrawn_;
    }
}

void MessageArrows::drawLegendIcon(QCPPainter* painter, const QRectF& rect) const {
    painter->setPen(palette::cosmeticPen(arrowColor(), 1.0));
    const QPointF a(rect.left(), rect.center().y());
    const QPointF b(rect.right(), rect.center().y());
    painter->drawLine(QLineF(a, b));
    painter->drawLine(QLineF(b, b + QPointF(-kHeadPx, -kHeadPx / 2)));
    painter->drawLine(QLineF(b, b + QPointF(-kHeadPx, kHeadPx / 2)));
}

double MessageArrows::selectTest(const QPointF&, bool, QVariant*) const {
    return -1.0;  // hover answers come from the spans
}

QCPRange MessageArrows::getKeyRange(bool& foundRange, QCP::SignDomain) const {
    QCPRange r;
    foundRange = false;
    for (const Message& m : messages_) {
        const auto e = ends(m);
        if (!e) {
            continue;
        }
        const double lo = std::min(e->first.x(), e->second.x());
        const double hi = std::max(e->first.x(), e->second.x());
        r = foundRange ? QCPRange(std::min(r.lower, lo), std::max(r.upper, hi)) : QCPRange(lo, hi);
        foundRange = true;
    }
    return r;
}

QCPRange MessageArrows::getValueRange(bool& foundRange, QCP::SignDomain, const QCPRange&) const {
    foundRange = false;  // the rows are the spans' business
    return {};
}

}  // namespace lp::ui
