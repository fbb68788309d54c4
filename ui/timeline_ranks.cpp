// TimelineView for a run over MPI ranks (docs/mpi.md; issue 15): the rows' ranks and hosts, a
// boundary line between ranks labelled with its link's traffic (mpi.json), and the messages as
// arrows (core/telemetry/trace_flows.hpp finds them in the op records).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/trace_flows.hpp"
#include "ui/message_arrows.hpp"
#include "ui/palette.hpp"
#include "ui/timeline_view.hpp"

#include <QLocale>

#include <algorithm>
#include <cmath>

namespace lp::ui {

using core::telemetry::LinkRecord;
using core::telemetry::OpEvent;
using core::telemetry::OpKind;

namespace {

// "4.04 KiB, 4.694 ms per step" for one direction of a link.
QString trafficText(const LinkRecord& l) {
    return QStringLiteral("%1, %2 ms per step")
        .arg(QLocale().formattedDataSize(std::llround(l.bytesPerStep)))
        .arg(1e3 * l.sendSecondsPerStep, 0, 'f', 3);
}

// The label of the boundary between ranks `upper` and `upper` + 1: one line each for the names
// and, with mpi.json, each direction's traffic (narrow enough to sit beside the arrows).
QString boundaryText(std::int32_t upper, const std::vector<LinkRecord>& links) {
    QString text = QStringLiteral("rank %1 | rank %2").arg(upper).arg(upper + 1);
    for (const LinkRecord& l : links) {
        if (l.forward && l.from == upper && l.to == upper + 1) {
            text += QStringLiteral("\n↓ activations %1").arg(trafficText(l));
        }
    }
    for (const LinkRecord& l : links) {
        if (!l.forward && l.from == upper + 1 && l.to == upper) {
            text += QStringLiteral("\n↑ gradients %1").arg(trafficText(l));
        }
    }
    return text;
}

}  // namespace

void TimelineView::setLinks(std::vector<LinkRecord> links) {
    links_ = std::move(links);
    updateRanks();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

QStringList TimelineView::boundaryLabels() const {
    QStringList out;
    for (const Boundary& b : boundaries_) {
        out << b.text->text();
    }
    return out;
}

QString TimelineView::rankText(int stage) const {
    if (!layout_.distributed()) {
        return {};
    }
    const std::int32_t rank = layout_.rankOf(stage);
    const std::string host = layout_.hostOf(rank);
    return host.empty()
               ? QStringLiteral("rank %1").arg(rank)
               : QStringLiteral("rank %1 · %2").arg(rank).arg(QString::fromStdString(host));
}

void TimelineView::addRankOps(const std::vector<OpEvent>& ops) {
    if (!layout_.distributed()) {
        return;
    }
    const std::size_t before = rankOps_.size();
    std::copy_if(ops.begin(), ops.end(), std::back_inserter(rankOps_), [](const OpEvent& e) {
        return e.op == OpKind::Forward || e.op == OpKind::Backward;
    });
    if (rankOps_.size() == before) {
        return;
    }
    std::vector<MessageArrows::Message> messages;
    for (const core::telemetry::Message& m : core::telemetry::findMessages(rankOps_, layout_)) {
        messages.emplace_back(rankOps_[m.from], rankOps_[m.to]);
    }
    arrows_->setMessages(std::move(messages));
}

void TimelineView::updateRanks() {
    for (const Boundary& b : boundaries_) {
        plot_->removeItem(b.line);
        plot_->removeItem(b.text);
    }
    boundaries_.clear();
    const bool ranks = layout_.distributed();
    if (ranks) {
        arrows_->addToLegend();  // false when already listed: nothing to do
    } else {
        arrows_->removeFromLegend();
    }
    arrows_->setVisible(ranks);
    if (!ranks) {
        return;
    }
    for (std::int32_t s = 1; s < layout_.stages(); ++s) {
        if (layout_.rankOf(s - 1) == layout_.rankOf(s)) {
            continue;
        }
        const double y = static_cast<double>(s) - 0.5;
        Boundary b;
        b.line = new QCPItemStraightLine(plot_);
        b.line->setPen(palette::cosmeticPen(palette::chartColors().axis, 1.0, Qt::DashLine));
        b.line->setSelectable(false);
        b.line->point1->setCoords(0.0, y);
        b.line->point2->setCoords(1.0, y);
        b.text = new QCPItemText(plot_);
        b.text->setLayer(QStringLiteral("legend"));  // above the spans and arrows
        b.text->setSelectable(false);
        b.text->setPositionAlignment(Qt::AlignRight | Qt::AlignVCenter);
        b.text->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
        b.text->position->setCoords(1.0, y);
        b.text->setPadding(QMargins(3, 1, 3, 1));
        // Opaque on the chart's background: the label sits among the arrows. The box takes the
        // current theme's colours; the text is set in the light look (black), which restyle()
        // adapts to the theme at every layout, as it does the arrows' black (a dark theme's light
        // text would be adapted to dark grey on the dark box).
        const palette::ChartColors colors = palette::chartColors();
        b.text->setBrush(palette::withAlpha(colors.background, 235));
        b.text->setPen(palette::cosmeticPen(colors.legendBorder, 1.0));
        b.text->setColor(palette::okabeIto(6));
        b.text->setText(boundaryText(layout_.rankOf(s - 1), links_));
        boundaries_.push_back(b);
    }
}

}  // namespace lp::ui
