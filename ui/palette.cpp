// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/palette.hpp"

#include <QFont>
#include <QFontMetrics>
#include <qcustomplot.h>

#include <algorithm>
#include <array>

namespace lp::ui::palette {

namespace {

// Okabe–Ito in RGB. Order: blue, orange, bluish green, vermillion, reddish purple, sky blue,
// black, yellow. Yellow (low contrast on white) and black (reads as "axis") come last.
constexpr std::array<QRgb, 8> kOkabeIto = {
    0xFF0072B2U,
    0xFFE69F00U,
    0xFF009E73U,
    0xFFD55E00U,
    0xFFCC79A7U,
    0xFF56B4E9U,
    0xFF000000U,
    0xFFF0E442U,
};

constexpr QRgb kGrey = 0xFF7F7F7FU;

}  // namespace

QColor okabeIto(int i) {
    const int n = static_cast<int>(kOkabeIto.size());
    const int k = ((i % n) + n) % n;
    return QColor::fromRgb(kOkabeIto[static_cast<std::size_t>(k)]);
}

QColor stageColor(int stage) {
    return okabeIto(stage);
}

QColor opColor(core::telemetry::OpKind op) {
    using core::telemetry::OpKind;
    switch (op) {
        case OpKind::Forward:
            return okabeIto(0);  // blue
        case OpKind::Backward:
            return okabeIto(3);  // vermillion
        case OpKind::Update:
            return okabeIto(2);  // bluish green
        case OpKind::Eval:
            return okabeIto(4);  // reddish purple
    }
    return QColor::fromRgb(kGrey);
}

QColor policyColor(const QString& policy) {
    if (policy == QStringLiteral("stash")) {
        return okabeIto(3);
    }
    if (policy == QStringLiteral("ema")) {
        return okabeIto(0);
    }
    return QColor::fromRgb(kGrey);
}

QColor memoryColor(core::telemetry::MemoryCategory category) {
    using core::telemetry::MemoryCategory;
    switch (category) {
        case MemoryCategory::Weights:
            return okabeIto(0);
        case MemoryCategory::WeightHistory:
            return okabeIto(1);
        case MemoryCategory::Activations:
            return okabeIto(2);
        case MemoryCategory::OptimizerState:
            return okabeIto(4);
        case MemoryCategory::DiagnosticShadow:
            return QColor::fromRgb(kGrey);
    }
    return QColor::fromRgb(kGrey);
}

QColor withAlpha(const QColor& c, int alpha) {
    QColor out = c;
    out.setAlpha(alpha);
    return out;
}

QPen cosmeticPen(const QColor& c, double width, Qt::PenStyle style) {
    QPen pen(c, width, style);
    pen.setCosmetic(true);
    return pen;
}

QCPColorGradient sequentialGradient() {
    // Five stops of matplotlib's viridis (van der Walt & Smith, 2015).
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.00, QColor(0x44, 0x01, 0x54));
    g.setColorStopAt(0.25, QColor(0x3b, 0x52, 0x8b));
    g.setColorStopAt(0.50, QColor(0x21, 0x91, 0x8c));
    g.setColorStopAt(0.75, QColor(0x5e, 0xc9, 0x62));
    g.setColorStopAt(1.00, QColor(0xfd, 0xe7, 0x25));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    return g;
}

namespace {

// QCPTextElement asks for its whole text's width as its minimum, so a long title widens the layout
// past the widget and gets clipped at both ends (the README screenshot did). This one asks for
// little and elides at draw time, where the rect it was given is known (also for exports, which
// lay the plot out at another size without a replot).
class ElidedTitle : public QCPTextElement {
public:
    ElidedTitle(QCustomPlot* plot, const QString& text) : QCPTextElement(plot, text, titleFont()) {}

    QSize minimumOuterSizeHint() const override {
        QSize hint = QCPTextElement::minimumOuterSizeHint();
        const QMargins m = margins();
        hint.setWidth(std::min(hint.width(), kMinimumWidth + m.left() + m.right()));
        return hint;
    }

protected:
    void draw(QCPPainter* painter) override {
        painter->setFont(mainFont());
        painter->setPen(QPen(mainTextColor()));
        const QString shown =
            QFontMetrics(mainFont()).elidedText(mText, Qt::ElideRight, mRect.width());
        painter->drawText(mRect, mTextFlags, shown, &mTextBoundingRect);
    }

private:
    static constexpr int kMinimumWidth = 120;
};

}  // namespace

QCPTextElement* makeTitle(QCustomPlot* plot, const QString& text) {
    return new ElidedTitle(plot, text);
}

QFont titleFont() {
    QFont font;
    font.setPointSizeF(10.5);
    font.setBold(true);
    return font;
}

void styleAxisRect(QCPAxisRect* rect) {
    const QPen axisPen = cosmeticPen(QColor(0x50, 0x50, 0x50), 1.0);
    const QPen gridPen = cosmeticPen(QColor(0xdd, 0xdd, 0xdd), 1.0, Qt::DotLine);
    QFont tickFont;
    tickFont.setPointSizeF(8.5);
    QFont labelFont;
    labelFont.setPointSizeF(9.0);
    for (QCPAxis* axis : rect->axes()) {
        axis->setBasePen(axisPen);
        axis->setTickPen(axisPen);
        axis->setSubTickPen(axisPen);
        axis->setTickLabelFont(tickFont);
        axis->setLabelFont(labelFont);
        axis->setTickLabelColor(QColor(0x30, 0x30, 0x30));
        axis->setLabelColor(QColor(0x20, 0x20, 0x20));
        axis->grid()->setPen(gridPen);
        axis->grid()->setZeroLinePen(Qt::NoPen);
        axis->grid()->setSubGridVisible(false);
    }
}

void styleLegend(QCPLegend* legend) {
    QFont font;
    font.setPointSizeF(8.5);
    legend->setFont(font);
    legend->setBrush(QColor(255, 255, 255, 215));
    legend->setBorderPen(cosmeticPen(QColor(0xb0, 0xb0, 0xb0), 1.0));
    legend->setIconSize(22, 10);
    legend->setRowSpacing(0);
    legend->setMargins(QMargins(6, 3, 6, 3));
    for (int i = 0; i < legend->itemCount(); ++i) {
        legend->item(i)->setFont(font);
    }
}

void applyChartStyle(QCustomPlot* plot) {
    plot->setBackground(Qt::white);
    plot->setNoAntialiasingOnDrag(true);
    if (plot->axisRect() != nullptr) {
        styleAxisRect(plot->axisRect());
    }
    styleLegend(plot->legend);
}

}  // namespace lp::ui::palette
