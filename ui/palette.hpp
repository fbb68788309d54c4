// The shared chart palette and look: Okabe–Ito colours (safe for common colour-vision
// deficiencies), fixed roles for stages, F/B/U ops, policies, memory categories; the themes
// (light, dark, high contrast) and the presentation zoom that restyle() applies to every chart.
// GUI thread only (the theme and zoom are process-wide state of the GUI thread).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"
#include "core/telemetry/events.hpp"

#include <QColor>
#include <QFont>
#include <QPalette>
#include <QPen>
#include <QString>

#include <array>
#include <cstdint>
#include <optional>

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

// Weight policies (and the study's policy column): "stash" vermillion, "ema" blue, "momentum"
// bluish green, "latest" orange, "sequential" black, "gpipe" reddish purple, anything else grey.
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

// A chart title (titleFont) that fits any width without "…": it wraps to two lines, then shrinks
// its font (chart::ChartTitle in ui/chart_layout.hpp), on screen and in every export. The first
// title made for a plot also applies the theme and zoom (restyle) and fits the tick counts
// before each layout pass. Owned by plot's layout once added.
QCPTextElement* makeTitle(QCustomPlot* plot, const QString& text);

// House look for a fresh plot: fonts, grid and axis colours, legend frame; no data touched.
void applyChartStyle(QCustomPlot* plot);

// House look for an axis rect that a view added itself (applyChartStyle only styles the first).
void styleAxisRect(QCPAxisRect* rect);

// House look for a legend (translucent white, thin grey frame, small font).
void styleLegend(QCPLegend* legend);

// ---- Themes and zoom (issue 13, presentation mode) ----
//
// Views build their charts in the light look with the colours above; restyle() maps that look
// onto the current theme and zoom every time a chart is laid out (ChartTitle calls it), so a
// theme or zoom change reaches every chart, every series added later and every export without
// the views' help. It remembers each object's own pen, brush, colour and font size (dynamic
// properties) and notices when a view changes them, so it never compounds a scaling.

enum class Theme : std::uint8_t { Light, Dark, HighContrast };

}  // namespace lp::ui::palette

// The themes' names in settings and in --theme (core/choices.hpp's table shape).
template <>
struct lp::core::ChoiceTable<lp::ui::palette::Theme> {
    using T = lp::ui::palette::Theme;
    static constexpr std::array<Choice<T>, 3> kItems{{
        {T::Light, "light", "light"},
        {T::Dark, "dark", "dark"},
        {T::HighContrast, "high-contrast", "high contrast"},
    }};
};

namespace lp::ui::palette {

// "light", "dark", "high-contrast" (settings, --theme); fromName, case-insensitive and trimmed,
// also accepts "contrast" and "high_contrast".
QString themeName(Theme theme);
std::optional<Theme> themeFromName(const QString& name);

void setTheme(Theme theme);
Theme theme();

// Presentation zoom: chart fonts, line widths, marker and legend icon sizes × zoom. Clamped to
// [kZoomMin, kZoomMax]; 1 is the house look.
constexpr double kZoomMin = 0.5;
constexpr double kZoomMax = 3.0;
void setZoom(double zoom);
double zoom();

// The current theme's chart colours.
struct ChartColors {
    QColor background;
    QColor text;
    QColor mutedText;  // legend entries of hidden series
    QColor axis;
    QColor grid;
    QColor legendBrush;
    QColor legendBorder;
};

ChartColors chartColors();

// A data colour as the current theme draws it: unchanged in the light theme; lighter in the dark
// one (black and dark greys become light); saturated and light on the high-contrast black.
QColor adapt(const QColor& c);

// Widget palette of theme (Fusion style colours; the light theme is the style's own palette).
QPalette windowPalette(Theme theme);

// Applies the current theme and zoom to every element of plot (see above). Cheap; idempotent.
void restyle(QCustomPlot* plot);

}  // namespace lp::ui::palette
