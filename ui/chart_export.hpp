// Exporting a chart to PNG / PDF / SVG atomically, and the interactions every chart view shares
// (export context menu, legend click toggles a series, hover values, "user took over" detection).
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QPointF>
#include <QSize>
#include <QString>

#include <functional>

class QCustomPlot;
class QCPAbstractLegendItem;
class QMenu;
class QObject;
class QWidget;

namespace lp::ui {

// Writes the plot to path, the format chosen by suffix (case-insensitive): .png (rendered at
// scale 2), .pdf (vector, QCustomPlot::savePdf) or .svg (vector, QSvgGenerator + toPainter).
// size: logical pixels; empty = the widget's current size (640x400 if the widget was never laid
// out). The file appears complete or not at all (written to a temporary, then renamed over path).
// Returns false and sets *error (if given) on an unknown suffix or an I/O failure.
bool exportChart(QCustomPlot* plot,
                 const QString& path,
                 QString* error = nullptr,
                 QSize size = QSize());

// Builds the menu "Export PNG… / Export PDF… / Export SVG…" for plot; each action asks for a file
// name and calls exportChart, showing a message box on failure. The caller owns the menu.
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
void installAutoRangeToggle(QCustomPlot* plot, QObject* context, bool& autoRange,
                            std::function<void()> rescale);

// A view's chart: a QCustomPlot filling `owner` (a zero-margin vertical layout is installed on
// it), with the standard interactions below and `title` in a row above the first axis rect.
QCustomPlot* makeTitledChart(QWidget* owner, const QString& title);

// The standard chart setup: drag/zoom interactions, the house style, legend toggle, hover values
// and the export menu.
void installStandardInteractions(QCustomPlot* plot);

}  // namespace lp::ui
