// Exporting a chart to PNG / PDF / SVG atomically, and the interactions every chart view shares
// (export context menu, legend click toggles a series, hover values, "user took over" detection).
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QPointF>
#include <QSize>
#include <QString>

#include <functional>
#include <vector>

class QCustomPlot;
class QCPAbstractLegendItem;
class QMenu;
class QObject;
class QWidget;

namespace lp::ui {

// Writes the plot to path, the format chosen by suffix (case-insensitive): .png (rendered at
// pngScale pixels per logical pixel, its dpi set to 96 × pngScale), .pdf (vector,
// QCustomPlot::savePdf) or .svg (vector, QSvgGenerator + toPainter). size: logical pixels; empty =
// the widget's current size (640x400 if the widget was never laid out). The file appears complete
// or not at all (written to a temporary, then renamed over path). Returns false and sets *error (if
// given) on an unknown suffix or an I/O failure.
bool exportChart(QCustomPlot* plot,
                 const QString& path,
                 QString* error = nullptr,
                 QSize size = QSize(),
                 double pngScale = 2.0);

// A size to export charts at, for reports. `logical` is in logical pixels, 96 per inch, and
// chart fonts keep their point size within it: a figure exported at 3.5 in has the 9 pt labels
// of the screen as 9 pt on paper (38 px tall in the 300 dpi PNG), which is the size a journal's
// single column wants, rather than a screen capture shrunk to an unreadable 3 pt. PNG pixels =
// logical × pngScale (300 dpi = 3.125 per logical pixel); PDF and SVG are vector, `logical`
// sets their page/viewBox. An empty `logical` takes the chart's on-screen size.
struct ExportSize {
    QString label;
    QSize logical;
    double pngScale = 2.0;
};

// The presets of the export menu, in order: as on screen (2x pixels), report 960 x 600 (2x),
// single column 3.5 x 2.5 in at 300 dpi, double column 7 x 3.5 in at 300 dpi, slide 1920 x 1080.
const std::vector<ExportSize>& exportSizes();

// What the export menus do, shared by every chart (GUI thread): the size preset, whether a chart
// exports its whole recorded range instead of the visible window (the timeline while following
// live shows only the last ticks), and the experiment name that begins proposed file names.
struct ExportSettings {
    int size = 0;  // index into exportSizes()
    bool wholeRange = false;
    QString experiment;
};

ExportSettings& exportSettings();

// "<experiment>_<chart>.<suffix>" with every character outside [A-Za-z0-9._-] as '-' ("chart"
// for a plot without an objectName, no prefix without an experiment name).
QString proposedFileName(const QCustomPlot* plot, const QString& suffix);

// exportChart with the settings' size (and its PNG scale) and, if wholeRange, every axis rect's
// horizontal axis rescaled to its data for the export (restored afterwards; vertical axes and
// what the user sees are untouched).
bool exportChartWithSettings(QCustomPlot* plot,
                             const QString& path,
                             const ExportSettings& settings,
                             QString* error = nullptr);

// Builds the menu "Export PNG… / Export PDF… / Export SVG…", the size presets (checkable) and
// "Whole recorded range" for plot; each export asks for a file name (proposedFileName, in the
// folder of the last export) and calls exportChartWithSettings, showing a message box on
// failure. The caller owns the menu.
QMenu* buildExportMenu(QCustomPlot* plot, QWidget* parent);

// Right-click on the plot pops up buildExportMenu.
void installExportMenu(QCustomPlot* plot);

// Clicking a legend item hides/shows its plottable (the item text greys out while hidden).
void installLegendToggle(QCustomPlot* plot);

// What a legend click does; public so that tests and keyboard actions can drive it.
void toggleLegendItem(QCustomPlot* plot, QCPAbstractLegendItem* item);

// Text for a tooltip at pixel pos: the nearest visible QCPGraph point (within 24 px) in the axis
// rect under pos, or the colour-map cell under pos, as "name\nkey: …  value: …". Empty if none.
QString hoverText(QCustomPlot* plot, const QPointF& pos);

// Shows hoverText as a tooltip while the mouse moves without a button pressed.
void installHoverValues(QCustomPlot* plot);

// Calls onNavigate whenever the user drags or wheel-zooms the plot (not on programmatic range
// changes), and onReset on a double click. Used to switch live following off and back on.
void installNavigationHooks(QCustomPlot* plot,
                            QObject* context,
                            std::function<void()> onNavigate,
                            std::function<void()> onReset);

// The common use of the hooks above: a chart that follows its data (autoRange = true) until the
// user drags or zooms, and rescales to its data again on a double click. `autoRange` must outlive
// the plot's connections (a member of the view that owns the plot).
void installAutoRangeToggle(QCustomPlot* plot,
                            QObject* context,
                            bool& autoRange,
                            std::function<void()> rescale);

// A view's chart: a QCustomPlot filling `owner` (a zero-margin vertical layout is installed on
// it), with the standard interactions below and `title` in a row above the first axis rect.
QCustomPlot* makeTitledChart(QWidget* owner, const QString& title);

// The standard chart setup: drag/zoom interactions, the house style, legend toggle, hover values
// and the export menu.
void installStandardInteractions(QCustomPlot* plot);

}  // namespace lp::ui
