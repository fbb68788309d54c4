// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/presentation.hpp"

#include "ui/chart_layout.hpp"
#include "ui/chart_panel.hpp"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QDockWidget>
#include <QMainWindow>
#include <QMenu>
#include <QScreen>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QStyleFactory>

#include <algorithm>
#include <cmath>

namespace lp::ui {

namespace {

constexpr double kZoomStep = 0.25;
// The house size; smaller screens get a maximised window (it then fits them exactly).
constexpr QSize kPreferredSize(1440, 900);
constexpr std::array<palette::Theme, 3> kThemes = {
    palette::Theme::Light, palette::Theme::Dark, palette::Theme::HighContrast};

QString themeLabel(palette::Theme t) {
    switch (t) {
        case palette::Theme::Light:
            return QStringLiteral("&Light");
        case palette::Theme::Dark:
            return QStringLiteral("&Dark");
        case palette::Theme::HighContrast:
            return QStringLiteral("&High contrast");
    }
    return {};
}

QAction* makeAction(QMainWindow* window,
                    const QString& text,
                    const QList<QKeySequence>& keys,
                    const QString& tip) {
    auto* action = new QAction(text, window);
    action->setShortcuts(keys);
    action->setToolTip(tip);
    window->addAction(action);  // works with the menu bar hidden too
    return action;
}

}  // namespace

Presentation::Presentation(QMainWindow* window, ChartPanel* charts)
    : QObject(window), window_(window), charts_(charts) {
    lightStyle_ = QApplication::style()->name();
    fullScreen_ = makeAction(window,
                             QStringLiteral("&Full screen"),
                             {QKeySequence(Qt::Key_F11)},
                             QStringLiteral("The window fills the screen (F11; Esc leaves)"));
    fullScreen_->setCheckable(true);
    enlarge_ = makeAction(window,
                          QStringLiteral("&Enlarge chart"),
                          {QKeySequence(Qt::CTRL | Qt::Key_E)},
                          QStringLiteral("The current chart alone, without the panels (also a "
                                         "double click on its title; Esc goes back)"));
    enlarge_->setCheckable(true);
    zoomIn_ =
        makeAction(window,
                   QStringLiteral("Zoom &in (chart text and lines)"),
                   {QKeySequence(QKeySequence::ZoomIn), QKeySequence(Qt::CTRL | Qt::Key_Equal)},
                   QStringLiteral("Larger chart fonts and lines, for a projector"));
    zoomOut_ = makeAction(window,
                          QStringLiteral("Zoom &out"),
                          {QKeySequence(QKeySequence::ZoomOut)},
                          QStringLiteral("Smaller chart fonts and lines"));
    zoomReset_ = makeAction(window,
                            QStringLiteral("&Normal size"),
                            {QKeySequence(Qt::CTRL | Qt::Key_0)},
                            QStringLiteral("Chart fonts and lines at 100 %"));
    legends_ = makeAction(window,
                          QStringLiteral("&Legends"),
                          {QKeySequence(Qt::CTRL | Qt::Key_L)},
                          QStringLiteral("Show or collapse the charts' legends"));
    legends_->setCheckable(true);
    legends_->setChecked(chart::legendsShown());
    leave_ = makeAction(window,
                        QStringLiteral("Leave enlarged chart or full screen"),
                        {QKeySequence(Qt::Key_Escape)},
                        QString());
    themes_ = new QActionGroup(this);
    for (std::size_t i = 0; i < kThemes.size(); ++i) {
        QAction* a = themes_->addAction(themeLabel(kThemes[i]));
        a->setCheckable(true);
        a->setChecked(kThemes[i] == palette::theme());
        themeActions_[i] = a;
        const palette::Theme t = kThemes[i];
        connect(a, &QAction::triggered, this, [this, t] { setTheme(t); });
    }
    connect(fullScreen_, &QAction::toggled, this, &Presentation::setFullScreen);
    connect(enlarge_, &QAction::toggled, this, &Presentation::setEnlarged);
    connect(zoomIn_, &QAction::triggered, this, &Presentation::zoomIn);
    connect(zoomOut_, &QAction::triggered, this, &Presentation::zoomOut);
    connect(zoomReset_, &QAction::triggered, this, [this] { setZoom(1.0); });
    connect(legends_, &QAction::toggled, this, &Presentation::setLegendsShown);
    connect(leave_, &QAction::triggered, this, &Presentation::leave);
    connect(charts_, &ChartPanel::enlargedChanged, this, &Presentation::onEnlargedChanged);
}

void Presentation::addToMenu(QMenu* menu) {
    menu->addAction(fullScreen_);
    menu->addAction(enlarge_);
    menu->addSeparator();
    menu->addAction(zoomIn_);
    menu->addAction(zoomOut_);
    menu->addAction(zoomReset_);
    QMenu* theme = menu->addMenu(QStringLiteral("&Theme"));
    for (QAction* a : themeActions_) {
        theme->addAction(a);
    }
    menu->addAction(legends_);
}

QAction* Presentation::themeAction(palette::Theme theme) const {
    for (std::size_t i = 0; i < kThemes.size(); ++i) {
        if (kThemes[i] == theme) {
            return themeActions_[i];
        }
    }
    return nullptr;
}

void Presentation::setTheme(palette::Theme theme) {
    palette::setTheme(theme);
    if (QAction* a = themeAction(theme)) {
        a->setChecked(true);
    }
    // Fusion honours a custom palette on every platform; the light theme gets the style the
    // application started with back.
    QApplication::setStyle(theme == palette::Theme::Light ? lightStyle_ : QStringLiteral("Fusion"));
    QApplication::setPalette(palette::windowPalette(theme));
    applyLook();
}

palette::Theme Presentation::theme() const {
    return palette::theme();
}

void Presentation::setZoom(double zoom) {
    palette::setZoom(zoom);
    applyLook();
    window_->statusBar()->showMessage(
        QStringLiteral("Chart zoom %1 %").arg(std::lround(100.0 * palette::zoom())), 3000);
}

double Presentation::zoom() const {
    return palette::zoom();
}

void Presentation::zoomIn() {
    setZoom(palette::zoom() + kZoomStep);
}

void Presentation::zoomOut() {
    setZoom(palette::zoom() - kZoomStep);
}

void Presentation::setFullScreen(bool on) {
    if (on == window_->isFullScreen()) {
        fullScreen_->setChecked(on);
        return;
    }
    if (on) {
        wasMaximized_ = window_->isMaximized();
        window_->showFullScreen();
    } else if (wasMaximized_) {
        window_->showMaximized();
    } else {
        window_->showNormal();
    }
    fullScreen_->setChecked(on);
}

bool Presentation::fullScreen() const {
    return window_->isFullScreen();
}

void Presentation::setEnlarged(bool on) {
    charts_->setEnlarged(on ? charts_->currentChart() : -1);
}

bool Presentation::enlarged() const {
    return charts_->enlarged() >= 0;
}

void Presentation::onEnlargedChanged(int index) {
    const bool on = index >= 0;
    if (on && dockState_.isEmpty()) {
        dockState_ = window_->saveState();
        for (QDockWidget* dock : window_->findChildren<QDockWidget*>()) {
            dock->hide();
        }
    } else if (!on && !dockState_.isEmpty()) {
        window_->restoreState(dockState_);
        dockState_.clear();
    }
    const QSignalBlocker block(enlarge_);
    enlarge_->setChecked(on);
}

void Presentation::setLegendsShown(bool shown) {
    chart::setLegendsShown(shown);
    const QSignalBlocker block(legends_);
    legends_->setChecked(shown);
    charts_->replotAll();
}

void Presentation::leave() {
    if (enlarged()) {
        setEnlarged(false);
    } else if (fullScreen()) {
        setFullScreen(false);
    }
}

void Presentation::applyLook() {
    charts_->replotAll();
}

void Presentation::fitToScreen() {
    const QScreen* screen = QGuiApplication::primaryScreen();
    const QRect available = screen != nullptr ? screen->availableGeometry() : QRect();
    const bool small = available.isValid() && (available.width() < kPreferredSize.width() + 40 ||
                                               available.height() < kPreferredSize.height() + 60);
    const QSize size = small ? available.size() : kPreferredSize;
    window_->resize(size);
    if (small) {
        window_->setWindowState(window_->windowState() | Qt::WindowMaximized);
    }
    // The charts keep at least 70 % of the width.
    QDockWidget* lessons = window_->findChild<QDockWidget*>(QStringLiteral("lessons"));
    QDockWidget* pipeline = window_->findChild<QDockWidget*>(QStringLiteral("pipeline"));
    if (lessons != nullptr && pipeline != nullptr) {
        window_->resizeDocks({lessons}, {std::min(420, size.width() * 3 / 10)}, Qt::Horizontal);
        window_->resizeDocks({lessons, pipeline},
                             {size.height() * 43 / 100, size.height() * 45 / 100},
                             Qt::Vertical);
    }
}

void Presentation::save(QSettings& settings) const {
    settings.setValue(QStringLiteral("geometry"), window_->saveGeometry());
    // While a chart is enlarged the docks are hidden: save them as they were.
    settings.setValue(QStringLiteral("windowState"),
                      dockState_.isEmpty() ? window_->saveState() : dockState_);
    settings.setValue(QStringLiteral("dashboard"), charts_->dashboard());
    settings.setValue(QStringLiteral("theme"), palette::themeName(palette::theme()));
    settings.setValue(QStringLiteral("chartZoom"), palette::zoom());
    settings.setValue(QStringLiteral("legends"), chart::legendsShown());
}

void Presentation::restore(const QSettings& settings) {
    if (settings.contains(QStringLiteral("geometry"))) {
        window_->restoreGeometry(settings.value(QStringLiteral("geometry")).toByteArray());
        // Another screen than last time: never larger than this one.
        const QScreen* screen = QGuiApplication::primaryScreen();
        if (screen != nullptr && !window_->isMaximized() && !window_->isFullScreen()) {
            const QRect available = screen->availableGeometry();
            window_->resize(std::min(window_->width(), available.width()),
                            std::min(window_->height(), available.height()));
        }
    }
    window_->restoreState(settings.value(QStringLiteral("windowState")).toByteArray());
    charts_->setDashboard(settings.value(QStringLiteral("dashboard"), false).toBool());
    const auto t = palette::themeFromName(settings.value(QStringLiteral("theme")).toString());
    if (t && *t != palette::theme()) {
        setTheme(*t);
    }
    bool ok = false;
    const double z = settings.value(QStringLiteral("chartZoom")).toDouble(&ok);
    if (ok && z != palette::zoom()) {
        palette::setZoom(z);
        applyLook();
    }
    setLegendsShown(settings.value(QStringLiteral("legends"), true).toBool());
}

}  // namespace lp::ui
