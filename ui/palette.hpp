// The shared chart palette and look: Okabe–Ito colours (safe for common colour-vision
// deficiencies), fixed roles for stages, F/B/U ops, policies, memory categories. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"

#include <QColor>
#include <QFont>
#include <QPen>

class QCPColorGradient;
class QCPTextElement;
class QCustomPlot;
class QCPAxisRect;
class QCPLegend;

namespace lp::ui::palette {

// The eight Okabe–Ito colours (Okabe & Ito 2008, "Color Universal Design"), in an order that keeps
// the low-contrast yellow last; i is taken modulo 8.
QColor okabeIto(int i);

// Colour of pipeline stage s (cycles through the palette, black and yellow last).
QColor stageColor(int stage);

// Forward blue, backward vermillion, update bluish green, eval reddish purple.
QColor opColor(core::telemetry::OpKind op);

// Weight policies: "stash" vermillion, "ema" blue, anything else grey.
QColor policyColor(const QString& policy);

// Memory categories: weights blue, history orange, activations green, optimizer purple,
// diagnostic shadow grey.
QColor memoryColor(core::telemetry::MemoryCategory category);

// A translucent copy of c, for fills and raw (unsmoothed) curves.
QColor withAlpha(const QColor& c, int alpha);

// A cosmetic pen (width in device pixels, independent of export scale): keeps dense series fast
// to draw (STYLE.md known traps: 1M points took 11 s with a non-cosmetic pen, 0.23 s with one).
QPen cosmeticPen(const QColor& c, double width = 1.5, Qt::PenStyle style = Qt::SolidLine);

// A viridis-like sequential gradient (perceptually ordered, readable in grey and by
// colour-blind viewers); NaN cells are transparent.
QCPColorGradient sequentialGradient();

// Bold chart title font in the application's family (QFont(QString(), …) would fall back to a
// serif face).
QFont titleFont();

// A chart title (titleFont) that never pushes the plot wider than it is: its minimum width is
// small, and text longer than the width it gets is elided with "…" when drawn, on screen and in
// every export. Its text() stays the full title. Owned by plot's layout once added.
QCPTextElement* makeTitle(QCustomPlot* plot, const QString& text);

// House look for a fresh plot: fonts, grid and axis colours, legend frame; no data touched.
void applyChartStyle(QCustomPlot* plot);

// House look for an axis rect that a view added itself (applyChartStyle only styles the first).
void styleAxisRect(QCPAxisRect* rect);

// House look for a legend (translucent white, thin grey frame, small font).
void styleLegend(QCPLegend* legend);

}  // namespace lp::ui::palette
