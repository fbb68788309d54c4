// Presentation mode (issue 13): the View menu's actions for a lecture hall — full screen (F11),
// one chart enlarged alone (Ctrl+E or a double click on a chart's title; Esc goes back), a chart
// zoom (Ctrl+plus, Ctrl+minus, Ctrl+0) that scales chart fonts and line widths for a projector,
// the light, dark and high-contrast themes, and legends collapsed or shown (Ctrl+L). The charts
// get theme and zoom through ui/palette (restyle at each layout), the widgets through the
// application palette (Fusion style). Remembered in the studio settings. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "ui/palette.hpp"

#include <QByteArray>
#include <QObject>

#include <array>

class QAction;
class QActionGroup;
class QMainWindow;
class QMenu;
class QSettings;

namespace lp::ui {

class ChartPanel;

class Presentation : public QObject {
    Q_OBJECT

public:
    Presentation(QMainWindow* window, ChartPanel* charts);

    // Adds the actions (and a Theme submenu) to menu; they also work when the menu bar is hidden
    // (full screen), being actions of the window.
    void addToMenu(QMenu* menu);

    void setTheme(palette::Theme theme);
    palette::Theme theme() const;

    // Chart zoom, kZoomMin..kZoomMax; zoomIn/zoomOut step by 25 % of the house size.
    void setZoom(double zoom);
    double zoom() const;
    void zoomIn();
    void zoomOut();

    void setFullScreen(bool on);
    bool fullScreen() const;

    // Enlarges the chart ChartPanel::currentChart() names, hiding the docks; off restores the
    // docks as they were.
    void setEnlarged(bool on);
    bool enlarged() const;

    void setLegendsShown(bool shown);

    // Esc: leaves the enlarged chart, else full screen.
    void leave();

    QAction* fullScreenAction() const { return fullScreen_; }

    QAction* enlargeAction() const { return enlarge_; }

    QAction* zoomInAction() const { return zoomIn_; }

    QAction* zoomOutAction() const { return zoomOut_; }

    QAction* zoomResetAction() const { return zoomReset_; }

    QAction* legendsAction() const { return legends_; }

    QAction* themeAction(palette::Theme theme) const;

    // Gives the window its first size: never larger than the screen's available area (issue
    // 13): 1440 × 900 where that fits, else maximised, which fits the screen exactly whatever
    // the window frame takes; the docks at most 30 % of the width.
    void fitToScreen();

    // The window's geometry, docks, dashboard, theme, zoom and legends (keys "geometry",
    // "windowState", "dashboard", "theme", "chartZoom", "legends"). An enlarged chart is saved
    // as the panel it came from.
    void save(QSettings& settings) const;
    void restore(const QSettings& settings);

private:
    void applyLook();
    void onEnlargedChanged(int index);

    QMainWindow* window_ = nullptr;
    ChartPanel* charts_ = nullptr;
    QAction* fullScreen_ = nullptr;
    QAction* enlarge_ = nullptr;
    QAction* zoomIn_ = nullptr;
    QAction* zoomOut_ = nullptr;
    QAction* zoomReset_ = nullptr;
    QAction* legends_ = nullptr;
    QAction* leave_ = nullptr;
    QActionGroup* themes_ = nullptr;
    std::array<QAction*, 3> themeActions_{};
    QByteArray dockState_;  // the docks before a chart was enlarged
    QString lightStyle_;    // the style the application started with
    bool wasMaximized_ = false;
};

}  // namespace lp::ui
