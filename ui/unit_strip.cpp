// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/unit_strip.hpp"

#include "ui/palette.hpp"

#include <QHelpEvent>
#include <QKeyEvent>
#include <QLocale>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace lp::ui {

namespace {

constexpr int kMargin = 4;
constexpr int kGap = 10;
constexpr int kLabelBand = 18;
constexpr int kBlockHeight = 34;

// Black text on light stage colours (orange, sky blue, yellow), white on the dark ones.
QColor textOn(const QColor& fill) {
    const double luma = 0.299 * static_cast<double>(fill.redF()) +
                        0.587 * static_cast<double>(fill.greenF()) +
                        0.114 * static_cast<double>(fill.blueF());
    return luma > 0.55 ? QColor(Qt::black) : QColor(Qt::white);
}

}  // namespace

UnitStrip::UnitStrip(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setAccessibleName(QStringLiteral("Model units and stage cuts"));
    setAccessibleDescription(QStringLiteral(
        "Left and Right move between the gaps of units; Space or Enter cuts or joins there."));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void UnitStrip::setUnits(const QStringList& names, const std::vector<std::int64_t>& params) {
    names_ = names;
    params_ = params;
    params_.resize(static_cast<std::size_t>(names_.size()), 0);
    focusGap_ = unitCount() > 1 ? std::clamp(focusGap_, 1, unitCount() - 1) : 0;
    setCuts(cuts_);
    update();
}

void UnitStrip::setCuts(std::vector<std::int64_t> cuts) {
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    const auto n = static_cast<std::int64_t>(names_.size());
    std::erase_if(cuts, [n](std::int64_t c) { return c < 1 || c >= n; });
    if (cuts == cuts_) {
        return;
    }
    cuts_ = std::move(cuts);
    update();
    emit cutsChanged();
}

void UnitStrip::toggleCut(std::int64_t cut) {
    std::vector<std::int64_t> next = cuts_;
    const auto it = std::find(next.begin(), next.end(), cut);
    if (it != next.end()) {
        next.erase(it);
    } else {
        next.push_back(cut);
    }
    setCuts(std::move(next));
}

int UnitStrip::stageOfUnit(int unit) const {
    return static_cast<int>(
        std::count_if(cuts_.begin(), cuts_.end(), [unit](std::int64_t c) { return c <= unit; }));
}

double UnitStrip::blockWidth() const {
    const int n = std::max(unitCount(), 1);
    return std::max(4.0, static_cast<double>(width() - 2 * kMargin - (n - 1) * kGap) / n);
}

QRect UnitStrip::blockRect(int unit) const {
    const double bw = blockWidth();
    const double x = kMargin + unit * (bw + kGap);
    return {static_cast<int>(std::lround(x)),
            kLabelBand,
            static_cast<int>(std::lround(bw)),
            kBlockHeight};
}

QPoint UnitStrip::gapCenter(int cut) const {
    const double x = kMargin + cut * (blockWidth() + kGap) - kGap / 2.0;
    return {static_cast<int>(std::lround(x)), kLabelBand + kBlockHeight / 2};
}

int UnitStrip::cutAt(const QPoint& pos) const {
    if (pos.y() < kLabelBand - 4 || pos.y() > kLabelBand + kBlockHeight + 4) {
        return 0;
    }
    for (int c = 1; c < unitCount(); ++c) {
        if (std::abs(pos.x() - gapCenter(c).x()) <= kGap / 2 + 2) {
            return c;
        }
    }
    return 0;
}

QSize UnitStrip::sizeHint() const {
    return {std::max(unitCount(), 1) * 40, kLabelBand + kBlockHeight + 4};
}

QSize UnitStrip::minimumSizeHint() const {
    return {std::max(unitCount(), 1) * 20, kLabelBand + kBlockHeight + 4};
}

QString UnitStrip::shortName(const QString& name) {
    // "layer2.1" -> "2.1": the blocks are narrow; the full name is in the tooltip.
    if (name.startsWith(QStringLiteral("layer"))) {
        return name.mid(5);
    }
    return name;
}

void UnitStrip::paintEvent(QPaintEvent* /*event*/) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    QFont small = font();
    small.setPointSizeF(std::max(6.5, font().pointSizeF() - 1.0));
    p.setFont(small);
    // Stage labels over each stage's span of units.
    for (int s = 0; s < stageCount(); ++s) {
        const int first = s == 0 ? 0 : static_cast<int>(cuts_[static_cast<std::size_t>(s - 1)]);
        const int last = s + 1 < stageCount() ? static_cast<int>(cuts_[static_cast<std::size_t>(s)])
                                              : unitCount();
        if (last <= first) {
            continue;
        }
        const QRect span(blockRect(first).left(),
                         0,
                         blockRect(last - 1).right() - blockRect(first).left(),
                         kLabelBand - 2);
        // "stage 3", or "S3" / "3" where a one-unit stage is too narrow for it.
        QString label = QStringLiteral("stage %1").arg(s);
        for (const QString& shorter : {QStringLiteral("S%1").arg(s), QString::number(s)}) {
            if (p.fontMetrics().horizontalAdvance(label) <= span.width()) {
                break;
            }
            label = shorter;
        }
        p.setPen(palette::stageColor(s).darker(115));
        p.drawText(span, Qt::AlignCenter, label);
    }
    for (int u = 0; u < unitCount(); ++u) {
        const QRect r = blockRect(u);
        const QColor fill = palette::stageColor(stageOfUnit(u));
        QPainterPath path;
        path.addRoundedRect(QRectF(r), 4, 4);
        p.fillPath(path, fill);
        p.setPen(textOn(fill));
        p.drawText(r, Qt::AlignCenter, shortName(names_[u]));
    }
    for (int c = 1; c < unitCount(); ++c) {
        const QPoint mid = gapCenter(c);
        const bool cut = std::find(cuts_.begin(), cuts_.end(), c) != cuts_.end();
        if (cut) {
            p.setPen(QPen(QColor(40, 40, 40), 3, Qt::SolidLine, Qt::RoundCap));
            p.drawLine(mid.x(), kLabelBand - 6, mid.x(), kLabelBand + kBlockHeight + 2);
        } else if (c == hoverCut_) {
            p.setPen(QPen(QColor(120, 120, 120), 2, Qt::DashLine));
            p.drawLine(mid.x(), kLabelBand - 2, mid.x(), kLabelBand + kBlockHeight);
        }
    }
    // The keyboard's gap: a highlight-coloured frame around it while the strip has focus.
    if (hasFocus() && focusGap_ > 0) {
        const QPoint mid = gapCenter(focusGap_);
        p.setPen(QPen(palette().color(QPalette::Highlight), 2));
        p.setBrush(Qt::NoBrush);
        p.drawRoundedRect(
            QRect(mid.x() - kGap / 2 - 1, kLabelBand - 5, kGap + 2, kBlockHeight + 9), 3, 3);
    }
}

void UnitStrip::keyPressEvent(QKeyEvent* event) {
    if (unitCount() < 2) {
        QWidget::keyPressEvent(event);
        return;
    }
    const int last = unitCount() - 1;
    int gap = focusGap_;
    switch (event->key()) {
        case Qt::Key_Left:
            gap = std::max(1, gap - 1);
            break;
        case Qt::Key_Right:
            gap = std::min(last, gap + 1);
            break;
        case Qt::Key_Home:
            gap = 1;
            break;
        case Qt::Key_End:
            gap = last;
            break;
        case Qt::Key_Space:
        case Qt::Key_Return:
        case Qt::Key_Enter:
            if (isEnabled()) {
                toggleCut(focusGap_);
            }
            event->accept();
            return;
        default:
            QWidget::keyPressEvent(event);
            return;
    }
    event->accept();
    if (gap != focusGap_) {
        focusGap_ = gap;
        update();
    }
}

void UnitStrip::mousePressEvent(QMouseEvent* event) {
    const int cut = cutAt(event->position().toPoint());
    if (event->button() == Qt::LeftButton && cut > 0 && isEnabled()) {
        focusGap_ = cut;
        toggleCut(cut);
        event->accept();
        return;
    }
    QWidget::mousePressEvent(event);
}

void UnitStrip::mouseMoveEvent(QMouseEvent* event) {
    const int cut = cutAt(event->position().toPoint());
    if (cut != hoverCut_) {
        hoverCut_ = cut;
        setCursor(cut > 0 ? Qt::PointingHandCursor : Qt::ArrowCursor);
        update();
    }
    QWidget::mouseMoveEvent(event);
}

void UnitStrip::leaveEvent(QEvent* event) {
    hoverCut_ = 0;
    update();
    QWidget::leaveEvent(event);
}

bool UnitStrip::event(QEvent* event) {
    if (event->type() == QEvent::FocusIn || event->type() == QEvent::FocusOut) {
        update();  // shows or hides the keyboard's gap
    }
    if (event->type() != QEvent::ToolTip) {
        return QWidget::event(event);
    }
    const auto* help = static_cast<QHelpEvent*>(event);
    const int cut = cutAt(help->pos());
    QString text;
    if (cut > 0) {
        const bool isCut = std::find(cuts_.begin(), cuts_.end(), cut) != cuts_.end();
        text = isCut
                   ? QStringLiteral("Click (or Space) to join the stages at %1").arg(names_[cut])
                   : QStringLiteral("Click (or Space) to start a new stage at %1").arg(names_[cut]);
    }
    for (int u = 0; u < unitCount() && text.isEmpty(); ++u) {
        if (blockRect(u).contains(help->pos())) {
            text = QStringLiteral("%1: %2 parameters, stage %3")
                       .arg(names_[u],
                            QLocale().toString(
                                static_cast<qlonglong>(params_[static_cast<std::size_t>(u)])))
                       .arg(stageOfUnit(u));
        }
    }
    if (text.isEmpty()) {
        QToolTip::hideText();
        event->ignore();
    } else {
        QToolTip::showText(help->globalPos(), text, this);
    }
    return true;
}

}  // namespace lp::ui
