// MessageArrows: the timeline's arrows for the messages between the MPI ranks of a run opened
// from its folder (core/telemetry/trace_flows.hpp): from the end of the sending op's span to the
// start of the receiving op's span, on either time axis. Paints only the arrows that cross the
// visible window. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"
#include "ui/timeline_spans.hpp"

#include <qcustomplot.h>

#include <cstddef>
#include <utility>
#include <vector>

namespace lp::ui {

class MessageArrows : public QCPAbstractPlottable {
    Q_OBJECT

public:
    // (sending op, receiving op) of each message.
    using Message = std::pair<core::telemetry::OpEvent, core::telemetry::OpEvent>;

    MessageArrows(QCPAxis* keyAxis, QCPAxis* valueAxis);

    void setMessages(std::vector<Message> messages);

    const std::vector<Message>& messages() const { return messages_; }

    void setTimeAxis(TimeAxis axis) { axis_ = axis; }

    // Arrows painted by the last draw(); for tests.
    std::size_t lastDrawnArrows() const { return lastDrawn_; }

    double selectTest(const QPointF& pos, bool onlySelectable, QVariant* details) const override;
    QCPRange getKeyRange(bool& foundRange, QCP::SignDomain inSignDomain) const override;
    QCPRange getValueRange(bool& foundRange,
                           QCP::SignDomain inSignDomain,
                           const QCPRange& inKeyRange) const override;

protected:
    void draw(QCPPainter* painter) override;
    void drawLegendIcon(QCPPainter* painter, const QRectF& rect) const override;

private:
    // The arrow's ends in plot coordinates (key, row), or nothing on an axis it has no place on.
    std::optional<std::pair<QPointF, QPointF>> ends(const Message& m) const;

    std::vector<Message> messages_;
    TimeAxis axis_ = TimeAxis::Tick;
    std::size_t lastDrawn_ = 0;
};

}  // namespace lp::ui
