// The studio's main window. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QMainWindow>

class QCustomPlot;

namespace lp::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);

    QCustomPlot* lossPlot() const { return lossPlot_; }

private:
    QCustomPlot* lossPlot_ = nullptr;
};

}  // namespace lp::ui
