// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chart_layout.hpp"

#include "ui/palette.hpp"

#include <QFontMetrics>

#include <algorithm>
#include <cmath>
#include <vector>

namespace lp::ui::chart {

namespace {

bool gLegendsShown = true;

// What a property had before we last set it: `current` unless it is still what we set then.
QString original(QObject* o, const char* key, const QString& current) {
    const QByteArray applied = QByteArray(key) + "Applied";
    if (o->property(applied.constData()).toString() != current ||
        !o->property(applied.constData()).isValid()) {
        o->setProperty(key, current);
        return current;
    }
    return o->property(key).toString();
}

void remember(QObject* o, const char* key, const QString& value) {
    o->setProperty((QByteArray(key) + "Applied").constData(), value);
}

constexpr int kTitleMinimumWidth = 120;
constexpr QSize kRectMinimum(40, 28);
constexpr QMargins kRectMinimumMargins(15, 8, 15, 12);
// Smallest size, relative to the title font, before a title takes more than two lines; notes
// and draw() may shrink further to stay inside their rect.
constexpr double kSmallestScale = 0.7;
constexpr double kDrawSmallestScale = 0.45;

QFont scaled(const QFont& font, double factor) {
    QFont f = font;
    f.setPointSizeF(std::max(1.0, font.pointSizeF() * factor));
    return f;
}

int linesHeight(const QFont& font, int lines) {
    const QFontMetrics fm(font);
    return fm.height() + std::max(0, lines - 1) * fm.lineSpacing();
}

// A " · " separated title reads better without the dot at a line break.
QString trimSeparator(QString line) {
    line = line.trimmed();
    if (line.endsWith(QStringLiteral(" ·"))) {
        line.chop(2);
    }
    if (line.startsWith(QStringLiteral("· "))) {
        line.remove(0, 2);
    }
    return line.trimmed();
}

}  // namespace

int estimatedWidth(const QCPLayoutElement* element, int reserve) {
    const QCustomPlot* plot = element->parentPlot();
    if (plot == nullptr) {
        return 0;
    }
    const int viewport = plot->viewport().width();
    const QVariant lastViewport = element->property("lpViewportWidth");
    const QVariant lastWidth = element->property("lpOuterWidth");
    if (lastViewport.isValid() && lastWidth.isValid() && lastViewport.toInt() > 0) {
        return std::max(0, viewport - (lastViewport.toInt() - lastWidth.toInt()));
    }
    const QMargins m = plot->plotLayout()->margins();
    return std::max(0, viewport - reserve - m.left() - m.right());
}

void recordWidth(QCPLayoutElement* element) {
    if (element->parentPlot() == nullptr || element->outerRect().width() <= 0) {
        return;
    }
    element->setProperty("lpViewportWidth", element->parentPlot()->viewport().width());
    element->setProperty("lpOuterWidth", element->outerRect().width());
}

QStringList wrapText(const QString& text, const QFont& font, int width) {
    const QFontMetrics fm(font);
    width = std::max(width, 1);
    QStringList out;
    for (const QString& paragraph : text.split(QLatin1Char('\n'))) {
        QString line;
        for (const QString& word : paragraph.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
            const QString candidate = line.isEmpty() ? word : line + QLatin1Char(' ') + word;
            if (fm.horizontalAdvance(trimSeparator(candidate)) <= width) {
                line = candidate;
                continue;
            }
            if (!line.isEmpty()) {
                out << trimSeparator(line);
                line.clear();
            }
            if (fm.horizontalAdvance(word) <= width) {
                line = word;
                continue;
            }
            for (const QChar ch : word) {  // a word wider than the line: break between characters
                if (!line.isEmpty() && fm.horizontalAdvance(line + ch) > width) {
                    out << line;
                    line.clear();
                }
                line += ch;
            }
        }
        out << trimSeparator(line);
    }
    return out;
}

// ---- ChartTitle ----

ChartTitle::ChartTitle(QCustomPlot* plot, const QString& text, bool hook)
    : QCPTextElement(plot, text, palette::titleFont()) {
    if (hook && !plot->property("lpLayoutHook").toBool()) {
        plot->setProperty("lpLayoutHook", true);
        hook_ = true;
    }
    fitted_ = font();
    lines_ = QStringList{text};
}

void ChartTitle::update(UpdatePhase phase) {
    if (phase == upPreparation) {
        if (hook_) {
            palette::restyle(mParentPlot);
            fitAxes(mParentPlot);
            fitHeight(mParentPlot);
        }
        fitToEstimate();
    }
    QCPTextElement::update(phase);
    if (phase == upLayout) {
        recordWidth(this);
        if (hook_) {
            mParentPlot->setProperty("lpLayoutViewport", mParentPlot->viewport().size());
        }
    }
}

void ChartTitle::fitToEstimate() {
    fit(estimatedWidth(this) - mMargins.left() - mMargins.right());
}

void ChartTitle::fit(int width) {
    width = std::max(width, 20);
    for (const double scale : {1.0, 0.9, 0.8, kSmallestScale}) {
        const QFont f = scaled(font(), scale);
        const QStringList lines = wrapText(mText, f, width);
        if (lines.size() <= maxLines_ || scale == kSmallestScale) {
            fitted_ = f;
            lines_ = lines;
            return;
        }
    }
}

QSize ChartTitle::minimumOuterSizeHint() const {
    return {
        kTitleMinimumWidth + mMargins.left() + mMargins.right(),
        linesHeight(fitted_, static_cast<int>(lines_.size())) + mMargins.top() + mMargins.bottom()};
}

QSize ChartTitle::maximumOuterSizeHint() const {
    return {QWIDGETSIZE_MAX, minimumOuterSizeHint().height()};
}

void ChartTitle::draw(QCPPainter* painter) {
    if (mText.isEmpty() || mRect.width() <= 0 || mRect.height() <= 0) {
        return;
    }
    // The rect it got may be narrower than estimated: wrap to it, and shrink rather than clip.
    QFont f = fitted_;
    QStringList lines = wrapText(mText, f, mRect.width());
    const double floor = font().pointSizeF() * kDrawSmallestScale;
    while (linesHeight(f, static_cast<int>(lines.size())) > mRect.height() + 1 &&
           f.pointSizeF() * 0.92 >= floor) {
        f = scaled(f, 0.92);
        lines = wrapText(mText, f, mRect.width());
    }
    painter->setFont(f);
    painter->setPen(QPen(mainTextColor()));
    painter->drawText(mRect,
                      static_cast<int>(Qt::AlignCenter),
                      lines.join(QLatin1Char('\n')),
                      &mTextBoundingRect);
}

// ---- NoteText ----

NoteText::NoteText(QCPAxisRect* rect, const QFont& font)
    : ChartTitle(rect->parentPlot(), QString(), false) {
    setFont(font);
    setMaxLines(1000);
    rect->insetLayout()->addElement(this, QRectF(0.05, 0.15, 0.9, 0.7));
    setLayer(QStringLiteral("legend"));
}

void NoteText::update(UpdatePhase phase) {
    // The inset hands out a fixed share of the rect; draw() fits the text to it.
    QCPTextElement::update(phase);  // NOLINT(bugprone-parent-virtual-call): no estimate needed
    fitted_ = font();
}

// ---- RowTicker ----

int RowTicker::maxLines() const {
    int lines = 1;
    for (const QString& label : mTicks) {
        lines = std::max(lines, static_cast<int>(label.count(QLatin1Char('\n'))) + 1);
    }
    return lines;
}

QString RowTicker::getTickLabel(double tick,
                                const QLocale& locale,
                                QChar formatChar,
                                int precision) {
    const QString label = QCPAxisTickerText::getTickLabel(tick, locale, formatChar, precision);
    return firstLineOnly_ ? label.section(QLatin1Char('\n'), 0, 0) : label;
}

QVector<double> RowTicker::createTickVector(double tickStep, const QCPRange& range) {
    const QVector<double> all = QCPAxisTickerText::createTickVector(tickStep, range);
    if (stride_ <= 1) {
        return all;
    }
    QVector<double> kept;
    for (const double tick : all) {
        if (std::lround(tick) % stride_ == 0) {
            kept << tick;
        }
    }
    return kept;
}

// ---- FlowLegend ----

FlowLegend::FlowLegend(int reserve) : reserve_(reserve) {
    setBrush(Qt::NoBrush);
    setBorderPen(Qt::NoPen);
    setFillOrder(foColumnsFirst, false);
    setRowSpacing(0);
    setColumnSpacing(12);
    setMargins(QMargins(4, 1, 4, 1));
}

std::vector<QCPAbstractLegendItem*> FlowLegend::entries() const {
    // itemCount() counts the grid's cells, empty ones too (after a re-wrap).
    std::vector<QCPAbstractLegendItem*> items;
    for (int i = 0; i < itemCount(); ++i) {
        if (QCPAbstractLegendItem* it = item(i)) {
            items.push_back(it);
        }
    }
    return items;
}

int FlowLegend::columnsFor(int width) const {
    const std::vector<QCPAbstractLegendItem*> items = entries();
    const int n = static_cast<int>(items.size());
    const int margins = mMargins.left() + mMargins.right();
    for (int columns = n; columns > 1; --columns) {
        int total = margins + (columns - 1) * mColumnSpacing;
        for (int c = 0; c < columns; ++c) {
            int widest = 0;
            for (int i = c; i < n; i += columns) {
                widest = std::max(
                    widest, items[static_cast<std::size_t>(i)]->minimumOuterSizeHint().width());
            }
            total += widest;
        }
        if (total <= width) {
            return columns;
        }
    }
    return 1;
}

void FlowLegend::reflow(int width) {
    const std::vector<QCPAbstractLegendItem*> items = entries();
    const auto n = static_cast<int>(items.size());
    if (n == 0) {
        return;
    }
    // An entry wider than the whole row (a dashboard cell of a small window): smaller text, down
    // to 70 % (restyle gives every pass the full size back first, so this never compounds).
    const int available = width - mMargins.left() - mMargins.right();
    for (int step = 0; step < 4; ++step) {
        int widest = 0;
        for (const QCPAbstractLegendItem* it : items) {
            widest = std::max(widest, it->minimumOuterSizeHint().width());
        }
        if (widest <= available) {
            break;
        }
        for (QCPAbstractLegendItem* it : items) {
            it->setFont(scaled(it->font(), 0.915));
        }
    }
    const int columns = columnsFor(width);
    const int rows = (n + columns - 1) / columns;
    if (wrap() == columns && columnCount() == columns && rowCount() == rows) {
        return;
    }
    setWrap(columns);
    setFillOrder(foColumnsFirst, true);  // re-wraps the entries in their order
}

void FlowLegend::prepare() {
    setVisible(gLegendsShown && !collapsed_);
    const QCPLayoutElement* cell = layout() != nullptr ? layout() : this;
    reflow(estimatedWidth(cell, reserve_));
}

void FlowLegend::update(UpdatePhase phase) {
    if (phase == upPreparation) {
        prepare();
    }
    QCPLegend::update(phase);
    if (phase == upLayout && layout() != nullptr) {
        recordWidth(layout());
    }
}

QSize FlowLegend::minimumOuterSizeHint() const {
    // The height of the current arrangement, but only the widest entry's width: the legend must
    // not make the plot (and the window: QCustomPlot's minimumSizeHint is its layout's) wider
    // than one column needs; the next pass re-flows it to the width it got.
    if (!visible() || entries().empty()) {
        return {0, 0};
    }
    int widest = 0;
    for (const QCPAbstractLegendItem* it : entries()) {
        widest = std::max(widest, it->minimumOuterSizeHint().width());
    }
    return {widest + mMargins.left() + mMargins.right(),
            QCPLegend::minimumOuterSizeHint().height()};
}

QSize FlowLegend::maximumOuterSizeHint() const {
    if (!visible() || entries().empty()) {
        return {0, 0};
    }
    return QCPLegend::minimumOuterSizeHint();  // the arrangement's own size: centred in its row
}

FlowLegend* addLegendRow(QCustomPlot* plot, int row, bool makeMain, int reserve) {
    auto* legend = new FlowLegend(reserve);
    auto* cell = new QCPLayoutGrid;
    plot->plotLayout()->insertRow(row);
    plot->plotLayout()->addElement(row, 0, cell);
    cell->setColumnSpacing(0);
    cell->setRowSpacing(0);
    cell->addElement(0, 0, new QCPLayoutElement(plot));  // flexible space either side
    cell->addElement(0, 1, legend);
    cell->addElement(0, 2, new QCPLayoutElement(plot));
    // The legend's column first grows to the width its arrangement needs (its maximum); the
    // spaces share what is left.
    cell->setColumnStretchFactors({1.0, 1e6, 1.0});
    legend->setLayer(QStringLiteral("legend"));
    palette::styleLegend(legend);
    legend->setBrush(Qt::NoBrush);
    legend->setBorderPen(Qt::NoPen);
    legend->setMargins(QMargins(4, 1, 4, 1));
    legend->setVisible(true);
    if (makeMain) {
        QCPLegend* old = plot->legend;
        std::vector<QCPAbstractPlottable*> members;
        for (int i = 0; old != nullptr && i < plot->plottableCount(); ++i) {
            if (old->hasItemWithPlottable(plot->plottable(i))) {
                members.push_back(plot->plottable(i));
            }
        }
        if (old != nullptr && old->layout() != nullptr) {
            old->layout()->remove(old);  // deletes it
        }
        plot->legend = legend;
        for (QCPAbstractPlottable* p : members) {
            p->addToLegend(legend);
        }
    }
    return legend;
}

int rowOf(const QCPLayoutElement* element) {
    QCPLayoutGrid* grid = element->parentPlot()->plotLayout();
    for (int i = 0; i < grid->elementCount(); ++i) {
        if (grid->elementAt(i) == element) {
            int row = -1;
            int column = -1;
            grid->indexToRowCol(i, row, column);
            return row;
        }
    }
    return -1;
}

FlowLegend* addLegendAbove(QCPAxisRect* rect, bool makeMain, int reserve) {
    return addLegendRow(rect->parentPlot(), std::max(0, rowOf(rect)), makeMain, reserve);
}

void fitHeight(QCustomPlot* plot) {
    // Measure with every title fitted and every legend shown and flowed as the pass will have
    // them; where that does not fit, collapse legends from the last (the bottom chart's) up until
    // it does. Deterministic (the measure never depends on the last decision), so it cannot
    // flicker.
    const bool before = legendsCollapsed(plot);
    std::vector<FlowLegend*> legends;
    for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
        if (auto* title = qobject_cast<ChartTitle*>(e); title != nullptr && title->visible()) {
            title->fitToEstimate();
        } else if (auto* legend = qobject_cast<FlowLegend*>(e)) {
            legend->setCollapsed(false);
            legend->prepare();
            legends.push_back(legend);
        }
    }
    const int available = plot->viewport().height();
    bool collapsed = false;
    for (auto it = legends.rbegin();
         gLegendsShown && it != legends.rend() &&
         plot->plotLayout()->minimumOuterSizeHint().height() > available;
         ++it) {
        if ((*it)->visible()) {
            (*it)->setCollapsed(true);
            (*it)->prepare();
            collapsed = true;
        }
    }
    if (collapsed != before) {
        plot->setToolTip(collapsed ? QStringLiteral("Legends are hidden for want of room: "
                                                    "double-click the title to enlarge the chart")
                                   : QString());
    }
    plot->setProperty("lpLegendsCollapsed", collapsed);
}

bool legendsCollapsed(const QCustomPlot* plot) {
    return plot != nullptr && plot->property("lpLegendsCollapsed").toBool();
}

void setLegendsShown(bool shown) {
    gLegendsShown = shown;
}

bool legendsShown() {
    return gLegendsShown;
}

namespace {

// The label on one or two lines, whichever fits length at font (two: split at the space nearest
// the middle).
QString fittedLabel(const QString& label, const QFont& font, int length) {
    const QFontMetrics fm(font);
    if (label.contains(QLatin1Char('\n')) || fm.horizontalAdvance(label) <= length) {
        return label;
    }
    int best = -1;
    for (int i = 0; i < label.size(); ++i) {
        if (label.at(i) == QLatin1Char(' ') &&
            (best < 0 || std::abs(i - label.size() / 2) < std::abs(best - label.size() / 2))) {
            best = i;
        }
    }
    if (best < 0) {
        return label;
    }
    return label.left(best) + QLatin1Char('\n') + label.mid(best + 1);
}

// Text tick labels along `length` pixels: horizontal ones flat if they fit side by side, else at
// 45°, else upright; a RowTicker also drops to first lines and then to every k-th label.
void fitTextTicks(QCPAxis* axis,
                  const QSharedPointer<QCPAxisTickerText>& text,
                  bool horizontal,
                  int length) {
    const QFontMetrics fm(axis->tickLabelFont());
    const auto ticks = static_cast<int>(std::max<qsizetype>(1, text->ticks().size()));
    const double per = static_cast<double>(length) / ticks;
    const double line = fm.height();
    const auto rows = text.dynamicCast<RowTicker>();
    int stride = 1;
    bool firstLine = false;
    if (horizontal) {
        int widest = 0;
        for (const QString& label : text->ticks()) {
            widest = std::max(widest, fm.horizontalAdvance(label.section(QLatin1Char('\n'), 0, 0)));
        }
        const double rotation = widest + line <= per ? 0.0 : per >= 1.6 * line ? 45.0 : 90.0;
        axis->setTickLabelRotation(rotation);
        // Rotated labels side by side need about a line height each (more at 45°).
        const double footprint = rotation == 0.0    ? widest + line
                                 : rotation == 45.0 ? 1.5 * line
                                                    : 1.1 * line;
        stride = static_cast<int>(std::ceil(footprint / std::max(per, 1.0)));
    } else if (!rows.isNull()) {
        if (per < rows->maxLines() * line) {
            firstLine = true;
            stride = static_cast<int>(std::ceil(line / std::max(per, 1.0)));
        }
    }
    if (!rows.isNull()) {
        rows->setFirstLineOnly(firstLine);
        rows->setStride(stride);
    }
}

}  // namespace

namespace {

// Fits one axis to the `length` pixels it is about to get (see fitAxes).
void fitAxis(QCPAxis* axis, int length) {
    if (!axis->visible() || length <= 0) {
        return;
    }
    const bool horizontal = axis->orientation() == Qt::Horizontal;
    // A label longer than its axis (a rotated "learning rate" on a short chart) takes two lines
    // rather than run into the legend above.
    const QString label =
        fittedLabel(original(axis, "lpLabel", axis->label()), axis->labelFont(), length);
    axis->setLabel(label);
    remember(axis, "lpLabel", label);
    const QSharedPointer<QCPAxisTicker> ticker = axis->ticker();
    if (!axis->tickLabels() || ticker.isNull()) {
        return;
    }
    if (const auto text = ticker.dynamicCast<QCPAxisTickerText>(); !text.isNull()) {
        fitTextTicks(axis, text, horizontal, length);
        return;
    }
    const QFontMetrics fm(axis->tickLabelFont());
    int widest = fm.horizontalAdvance(QStringLiteral("0000"));
    for (const QString& text : axis->tickVectorLabels()) {
        widest = std::max(widest, fm.horizontalAdvance(text));
    }
    const int spacing = horizontal ? widest + 2 * fm.height() : 3 * fm.height();
    const int count = std::clamp(length / std::max(spacing, 1), 2, 6);
    if (ticker->tickCount() != count) {
        ticker->setTickCount(count);
    }
}

}  // namespace

void fitAxes(QCustomPlot* plot) {
    // QCustomPlot's defaults (a 50 × 50 inner rect, 15 px margins) make a plot of three charts
    // taller than a dashboard cell at 1024 × 768; the top margin only needs room for half a tick
    // label.
    for (QCPAxisRect* rect : plot->axisRects()) {
        rect->setMinimumSize(kRectMinimum);
        rect->setMinimumMargins(kRectMinimumMargins);
    }
    const QSize last = plot->property("lpLayoutViewport").toSize();
    if (!last.isValid() || last.isEmpty()) {
        return;  // no layout yet: nothing to measure, keep the defaults
    }
    // Lengths from the last pass, grown or shrunk with the viewport.
    const int dw = plot->viewport().width() - last.width();
    const int dh = plot->viewport().height() - last.height();
    for (QCPAxisRect* rect : plot->axisRects()) {
        for (QCPAxis* axis : rect->axes()) {
            fitAxis(
                axis,
                axis->orientation() == Qt::Horizontal ? rect->width() + dw : rect->height() + dh);
        }
    }
    for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
        auto* scale = qobject_cast<QCPColorScale*>(e);
        QCPAxis* axis = scale != nullptr ? scale->axis() : nullptr;
        if (axis != nullptr) {
            const bool horizontal = axis->orientation() == Qt::Horizontal;
            fitAxis(axis, horizontal ? scale->rect().width() + dw : scale->rect().height() + dh);
        }
    }
}

}  // namespace lp::ui::chart
