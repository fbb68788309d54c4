// Layout pieces that keep every chart's text legible and off the data at any size, on screen and
// in every export (issue 13): titles that wrap to two lines or shrink (never "…"), legends in
// rows of their own outside the axis rects that flow into as many lines as the width needs (or
// collapse), notes that wrap inside an empty chart, and tick counts that fit the axis length.
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QFont>
#include <QString>
#include <QStringList>
#include <qcustomplot.h>

#include <algorithm>
#include <vector>

namespace lp::ui::chart {

// Width, in pixels, that `element` will get in the layout pass about to run. QCustomPlot asks
// for minimum sizes before it hands out rects, so a width-dependent height (a wrapped title, a
// flowing legend) needs an estimate: the viewport's width less what the rest of the layout took
// beside the element in the previous pass (exports lay the plot out at their own size), or,
// before any pass, less the layout's margins and `reserve`.
int estimatedWidth(const QCPLayoutElement* element, int reserve = 0);

// Records the width `element` got in the pass that just ran (for estimatedWidth).
void recordWidth(QCPLayoutElement* element);

// Greedy word wrap of text into lines no wider than width at font; a word wider than the line is
// broken between characters. Explicit '\n' are kept.
QStringList wrapText(const QString& text, const QFont& font, int width);

// A chart title. Fitting, before each layout pass: the full text on one line at font(); else two
// lines; else two lines at 90, 80 or 70 % of the size; else as many lines as needed at 70 %.
// draw() fits again to the rect it actually got (the estimate can be off on a first layout) and
// shrinks rather than clip. text() is always the full title. The first title made for a plot is
// that plot's layout hook: before fitting itself it applies the theme and zoom
// (palette::restyle) and fits the axes (fitAxes) and the height (fitHeight) to the size being
// laid out.
class ChartTitle : public QCPTextElement {
    Q_OBJECT

public:
    // hook: whether this title may become the plot's layout hook (the first one that may does).
    ChartTitle(QCustomPlot* plot, const QString& text, bool hook = true);

    void update(UpdatePhase phase) override;

    // The font and lines of the last fit (for tests).
    QFont fittedFont() const { return fitted_; }

    QStringList fittedLines() const { return lines_; }

    // Wrapped notes (NoteText) fit any number of lines; titles at most two before shrinking.
    void setMaxLines(int lines) { maxLines_ = lines; }

    // Fits the title to the width estimatedWidth() gives for the coming layout pass.
    void fitToEstimate();

protected:
    QSize minimumOuterSizeHint() const override;
    QSize maximumOuterSizeHint() const override;
    void draw(QCPPainter* painter) override;

    void fit(int width);

    QFont fitted_;
    QStringList lines_;

private:
    bool hook_ = false;
    int maxLines_ = 2;
};

// An explanation across an empty chart (e.g. why the EMA error chart has no data): placed in the
// axis rect's inset layout over the middle of the rect, word-wrapped to its width, shrunk to fit
// its height, never clipped at the sides.
class NoteText : public ChartTitle {
    Q_OBJECT

public:
    // Adds itself to rect's inset layout (free placement, the middle 90 % × 70 %).
    NoteText(QCPAxisRect* rect, const QFont& font);

protected:
    QSize minimumOuterSizeHint() const override { return {0, 0}; }

    QSize maximumOuterSizeHint() const override { return {QWIDGETSIZE_MAX, QWIDGETSIZE_MAX}; }

    void update(UpdatePhase phase) override;
};

// Text tick labels (unit names, stage rows) that make room for themselves: fitAxes shows only
// their first line (the timeline's "92 % busy" line) or every k-th label when the axis is too
// short for all of them, instead of letting them run together.
class RowTicker : public QCPAxisTickerText {
public:
    void setStride(int stride) { stride_ = std::max(1, stride); }

    int stride() const { return stride_; }

    void setFirstLineOnly(bool on) { firstLineOnly_ = on; }

    // Lines of the longest label.
    int maxLines() const;

protected:
    QString getTickLabel(double tick,
                         const QLocale& locale,
                         QChar formatChar,
                         int precision) override;
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override;

private:
    int stride_ = 1;
    bool firstLineOnly_ = false;
};

// A legend that lives in a layout row of its own (never over the data): its entries flow into as
// many columns as the estimated width allows, the rest into further lines, and the block is
// centred; an entry wider than the whole row gets smaller text (down to 70 %). Its row takes
// exactly its height; no height at all while it is empty or legends are collapsed
// (setLegendsShown). Frameless.
class FlowLegend : public QCPLegend {
    Q_OBJECT

public:
    // reserve: pixels of the plot's width that other columns of the plot layout take (e.g. a
    // colour scale), for the estimate before the first layout.
    explicit FlowLegend(int reserve = 0);

    void update(UpdatePhase phase) override;
    QSize minimumOuterSizeHint() const override;
    QSize maximumOuterSizeHint() const override;

    // Columns the entries flow into at width (pixels, the legend's outer width).
    int columnsFor(int width) const;

    // What each layout pass does first: shown unless legends are collapsed (setLegendsShown, or
    // this one for want of height: see fitHeight), re-flowed to the estimated width.
    void prepare();

    void setCollapsed(bool on) { collapsed_ = on; }

    bool collapsed() const { return collapsed_; }

    // The legend's items in order (item(i) is null for an empty cell of a wrapped grid).
    std::vector<QCPAbstractLegendItem*> entries() const;

private:
    void reflow(int width);

    int reserve_ = 0;
    bool collapsed_ = false;
};

// Puts a new FlowLegend into a new row `row` of plot's main layout (rows from there on move
// down), centred in a grid with flexible space on both sides. If makeMain, it replaces
// plot->legend (which must still be empty), so that plottables added later join it.
FlowLegend* addLegendRow(QCustomPlot* plot, int row, bool makeMain, int reserve = 0);

// The same, in a new row right above rect (a direct child of plot's main layout).
FlowLegend* addLegendAbove(QCPAxisRect* rect, bool makeMain = false, int reserve = 0);

// Row of element in plot's main layout; -1 if it is not a direct child.
int rowOf(const QCPLayoutElement* element);

// View > Legends: collapse every FlowLegend (they then take no room) or show them. Takes effect at
// each plot's next replot.
void setLegendsShown(bool shown);
bool legendsShown();

// When plot is too short for its legends (its layout's minimum height with them exceeds the
// viewport: a dashboard cell of a small window), collapses them for this layout pass, the last
// (bottom) one first, until it fits, so that nothing overlaps; they come back when there is room.
// A double click on the title enlarges the chart, legends included. Run by the layout hook.
void fitHeight(QCustomPlot* plot);

// Whether the last layout of plot collapsed any of its legends for want of height.
bool legendsCollapsed(const QCustomPlot* plot);

// Fits every axis of plot to the length it is about to get: numeric tick counts so that labels
// do not run together (one tick per label width plus 2 em horizontally, per 3 line heights
// vertically, 2 to 6 ticks; colour scales and log axes too); text tick labels (unit names) flat, at
// 45° or upright, and for a RowTicker first lines only or every k-th label where even that does not
// fit; axis labels longer than their axis on two lines.
void fitAxes(QCustomPlot* plot);

}  // namespace lp::ui::chart
