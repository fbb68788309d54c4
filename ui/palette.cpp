// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/palette.hpp"

#include "ui/chart_layout.hpp"
#include "ui/choice_combo.hpp"

#include <QApplication>
#include <QFont>
#include <QStyle>
#include <qcustomplot.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

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
    // Okabe–Ito indices; stash and EMA keep the colours the memory chart always gave them.
    static constexpr std::array<std::pair<const char*, int>, 6> kPolicies = {{
        {"stash", 3},       // vermillion
        {"ema", 0},         // blue
        {"momentum", 2},    // bluish green
        {"latest", 1},      // orange
        {"sequential", 6},  // black: the reference
        {"gpipe", 4},       // reddish purple
    }};
    for (const auto& [name, index] : kPolicies) {
        if (policy == QLatin1String(name)) {
            return okabeIto(index);
        }
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

QCPTextElement* makeTitle(QCustomPlot* plot, const QString& text) {
    return new chart::ChartTitle(plot, text);
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
        if (QCPAbstractLegendItem* item = legend->item(i)) {  // null: an empty cell
            item->setFont(font);
        }
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

// ---- Themes and zoom ----

namespace {

Theme gTheme = Theme::Light;
double gZoom = 1.0;

// Base point sizes of the house look (styleAxisRect, styleLegend); restyle scales them by zoom.
constexpr double kTickPt = 8.5;
constexpr double kAxisLabelPt = 9.0;
constexpr double kLegendPt = 8.5;

// The value an object had before restyle last touched it: `current` if restyle never touched
// it or something else changed it since (it then becomes the new original), else the original
// remembered then.
template <typename T>
T original(QObject* o, const char* key, const T& current) {
    const QByteArray appliedKey = QByteArray(key) + "Applied";
    const QVariant applied = o->property(appliedKey.constData());
    if (!applied.isValid() || applied.value<T>() != current) {
        o->setProperty(key, QVariant::fromValue(current));
        return current;
    }
    return o->property(key).value<T>();
}

template <typename T>
void remember(QObject* o, const char* key, const T& applied) {
    const QByteArray appliedKey = QByteArray(key) + "Applied";
    o->setProperty(appliedKey.constData(), QVariant::fromValue(applied));
}

// Line widths grow with the zoom, and by half again in high contrast.
double lineScale() {
    return gZoom * (gTheme == Theme::HighContrast ? 1.5 : 1.0);
}

QPen themedPen(const QPen& pen) {
    if (pen.style() == Qt::NoPen) {
        return pen;
    }
    QPen out = pen;
    out.setColor(adapt(pen.color()));
    const double width = pen.widthF() > 0.0 ? pen.widthF() : 1.0;
    out.setWidthF(width * lineScale());
    return out;
}

QBrush themedBrush(const QBrush& brush) {
    if (brush.style() == Qt::NoBrush) {
        return brush;
    }
    QBrush out = brush;
    out.setColor(adapt(brush.color()));
    return out;
}

QFont sized(QFont font, double pointSize) {
    font.setPointSizeF(pointSize);
    return font;
}

template <typename Object>
void restylePenAndBrush(Object* o) {
    const QPen pen = themedPen(original(o, "lpPen", o->pen()));
    o->setPen(pen);
    remember(o, "lpPen", pen);
    const QBrush brush = themedBrush(original(o, "lpBrush", o->brush()));
    o->setBrush(brush);
    remember(o, "lpBrush", brush);
}

void restyleGraph(QCPGraph* g) {
    QCPScatterStyle scatter = g->scatterStyle();
    if (scatter.isNone()) {
        return;
    }
    const double size = original(g, "lpScatterSize", scatter.size()) * gZoom;
    scatter.setSize(size);
    remember(g, "lpScatterSize", size);
    if (scatter.isPenDefined()) {
        const QPen pen = themedPen(original(g, "lpScatterPen", scatter.pen()));
        scatter.setPen(pen);
        remember(g, "lpScatterPen", pen);
    }
    const QBrush brush = themedBrush(original(g, "lpScatterBrush", scatter.brush()));
    scatter.setBrush(brush);
    remember(g, "lpScatterBrush", brush);
    g->setScatterStyle(scatter);
}

void restyleAxis(QCPAxis* axis, const ChartColors& c) {
    const QPen axisPen = cosmeticPen(c.axis, gZoom);
    axis->setBasePen(axisPen);
    axis->setTickPen(axisPen);
    axis->setSubTickPen(axisPen);
    axis->setTickLabelFont(sized(axis->tickLabelFont(), kTickPt * gZoom));
    axis->setLabelFont(sized(axis->labelFont(), kAxisLabelPt * gZoom));
    axis->setTickLabelColor(c.text);
    axis->setLabelColor(c.text);
    QPen grid = axis->grid()->pen();
    grid.setColor(c.grid);
    axis->grid()->setPen(grid);
}

void restyleLegend(QCPLegend* legend, const ChartColors& c) {
    const QFont font = sized(legend->font(), kLegendPt * gZoom);
    legend->setFont(font);
    legend->setTextColor(c.text);
    if (legend->brush().style() != Qt::NoBrush) {
        legend->setBrush(c.legendBrush);
    }
    if (legend->borderPen().style() != Qt::NoPen) {
        legend->setBorderPen(cosmeticPen(c.legendBorder, 1.0));
    }
    legend->setIconSize(static_cast<int>(std::lround(22 * gZoom)),
                        static_cast<int>(std::lround(10 * gZoom)));
    for (int i = 0; i < legend->itemCount(); ++i) {
        QCPAbstractLegendItem* item = legend->item(i);
        if (item == nullptr) {  // an empty cell of a wrapped legend
            continue;
        }
        item->setFont(sized(item->font(), font.pointSizeF()));  // keeps a hidden series' strike-out
        auto* p = qobject_cast<QCPPlottableLegendItem*>(item);
        const bool shown = p == nullptr || p->plottable() == nullptr || p->plottable()->visible();
        item->setTextColor(shown ? c.text : c.mutedText);
    }
}

void restyleText(QCPTextElement* text, const ChartColors& c) {
    const double pt = original(text, "lpFontPt", text->font().pointSizeF()) * gZoom;
    text->setFont(sized(text->font(), pt));
    remember(text, "lpFontPt", pt);
    text->setTextColor(c.text);
}

}  // namespace

QString themeName(Theme t) {
    return choiceKey(t);
}

std::optional<Theme> themeFromName(const QString& name) {
    const QString n = name.trimmed().toLower();
    if (n == QStringLiteral("contrast") || n == QStringLiteral("high_contrast")) {
        return Theme::HighContrast;
    }
    return core::parseChoice<Theme>(n.toStdString());
}

void setTheme(Theme t) {
    gTheme = t;
}

Theme theme() {
    return gTheme;
}

void setZoom(double z) {
    gZoom = std::clamp(z, kZoomMin, kZoomMax);
}

double zoom() {
    return gZoom;
}

ChartColors chartColors() {
    switch (gTheme) {
        case Theme::Dark:
            return {QColor(0x1e, 0x1f, 0x22),
                    QColor(0xe4, 0xe4, 0xe4),
                    QColor(0x80, 0x80, 0x80),
                    QColor(0xa8, 0xa8, 0xa8),
                    QColor(0x3a, 0x3c, 0x40),
                    QColor(30, 31, 34, 215),
                    QColor(0x60, 0x60, 0x60)};
        case Theme::HighContrast:
            return {QColor(Qt::black),
                    QColor(Qt::white),
                    QColor(0xb0, 0xb0, 0xb0),
                    QColor(Qt::white),
                    QColor(0x5a, 0x5a, 0x5a),
                    QColor(Qt::black),
                    QColor(Qt::white)};
        case Theme::Light:
            break;
    }
    return {QColor(Qt::white),
            QColor(0x20, 0x20, 0x20),
            QColor(0xa0, 0xa0, 0xa0),
            QColor(0x50, 0x50, 0x50),
            QColor(0xdd, 0xdd, 0xdd),
            QColor(255, 255, 255, 215),
            QColor(0xb0, 0xb0, 0xb0)};
}

QColor adapt(const QColor& c) {
    if (gTheme == Theme::Light || !c.isValid()) {
        return c;
    }
    float h = 0.0F;
    float s = 0.0F;
    float l = 0.0F;
    float a = 0.0F;
    c.getHslF(&h, &s, &l, &a);
    if (s < 0.25F) {
        l = 1.0F - 0.85F * l;  // black and dark greys turn light, mid grey stays mid grey
    } else if (gTheme == Theme::Dark) {
        l = l < 0.55F ? 0.55F + 0.3F * (0.55F - l) : l;
    } else {
        s = std::max(s, 0.85F);
        l = std::clamp(l, 0.6F, 0.75F);
    }
    if (gTheme == Theme::HighContrast) {
        a = std::max(a, 0.6F);  // faint raw curves stay visible on black
    }
    return QColor::fromHslF(h, s, l, a);
}

QPalette windowPalette(Theme t) {
    if (t == Theme::Light) {
        return QApplication::style()->standardPalette();
    }
    const bool dark = t == Theme::Dark;
    const QColor window = dark ? QColor(0x2b, 0x2d, 0x30) : QColor(Qt::black);
    const QColor base = dark ? QColor(0x1e, 0x1f, 0x22) : QColor(Qt::black);
    const QColor text = dark ? QColor(0xe4, 0xe4, 0xe4) : QColor(Qt::white);
    const QColor button = dark ? QColor(0x3a, 0x3c, 0x40) : QColor(Qt::black);
    const QColor highlight = dark ? QColor(0x2f, 0x7f, 0xd0) : QColor(0xff, 0xff, 0x00);
    const QColor disabled = dark ? QColor(0x7a, 0x7a, 0x7a) : QColor(0xa0, 0xa0, 0xa0);
    QPalette p;
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, window);
    p.setColor(QPalette::ToolTipBase, button);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, disabled);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, button);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(0xff, 0x60, 0x60));
    p.setColor(QPalette::Light, dark ? QColor(0x50, 0x52, 0x56) : QColor(Qt::white));
    p.setColor(QPalette::Midlight, dark ? QColor(0x44, 0x46, 0x4a) : QColor(0xc0, 0xc0, 0xc0));
    p.setColor(QPalette::Mid, dark ? QColor(0x30, 0x32, 0x35) : QColor(0x80, 0x80, 0x80));
    p.setColor(QPalette::Dark, dark ? QColor(0x18, 0x19, 0x1b) : QColor(0xc0, 0xc0, 0xc0));
    p.setColor(QPalette::Shadow, Qt::black);
    p.setColor(QPalette::Highlight, highlight);
    p.setColor(QPalette::HighlightedText, dark ? QColor(Qt::white) : QColor(Qt::black));
    p.setColor(QPalette::Link, dark ? QColor(0x6c, 0xb6, 0xff) : QColor(0x00, 0xff, 0xff));
    p.setColor(QPalette::LinkVisited, dark ? QColor(0xb0, 0x90, 0xff) : QColor(0xff, 0x80, 0xff));
    for (const QPalette::ColorRole role :
         {QPalette::WindowText, QPalette::Text, QPalette::ButtonText}) {
        p.setColor(QPalette::Disabled, role, disabled);
    }
    return p;
}

void restyle(QCustomPlot* plot) {
    const ChartColors c = chartColors();
    plot->setBackground(QBrush(c.background));
    for (QCPAxisRect* rect : plot->axisRects()) {
        for (QCPAxis* axis : rect->axes()) {
            restyleAxis(axis, c);
        }
    }
    for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
        if (auto* scale = qobject_cast<QCPColorScale*>(e)) {
            restyleAxis(scale->axis(), c);
        } else if (auto* legend = qobject_cast<QCPLegend*>(e)) {
            restyleLegend(legend, c);
        } else if (auto* text = qobject_cast<QCPTextElement*>(e)) {
            restyleText(text, c);
        }
    }
    for (QCPAxisRect* rect : plot->axisRects()) {  // legends living in insets
        for (QCPLayoutElement* e : rect->insetLayout()->elements(false)) {
            if (auto* legend = qobject_cast<QCPLegend*>(e)) {
                restyleLegend(legend, c);
            } else if (auto* text = qobject_cast<QCPTextElement*>(e)) {
                restyleText(text, c);
            }
        }
    }
    for (int i = 0; i < plot->plottableCount(); ++i) {
        QCPAbstractPlottable* p = plot->plottable(i);
        restylePenAndBrush(p);
        if (auto* g = qobject_cast<QCPGraph*>(p)) {
            restyleGraph(g);
        }
    }
    for (int i = 0; i < plot->itemCount(); ++i) {
        if (auto* text = qobject_cast<QCPItemText*>(plot->item(i))) {
            const double pt = original(text, "lpFontPt", text->font().pointSizeF()) * gZoom;
            text->setFont(sized(text->font(), pt));
            remember(text, "lpFontPt", pt);
            const QColor color = adapt(original(text, "lpColor", text->color()));
            text->setColor(color);
            remember(text, "lpColor", color);
        }
    }
}

}  // namespace lp::ui::palette
