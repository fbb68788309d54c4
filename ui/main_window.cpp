// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/main_window.hpp"

#include <QAction>
#include <QApplication>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <qcustomplot.h>

namespace lp::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("LayerPipe Studio %1").arg(QStringLiteral(LP_VERSION)));
    resize(1200, 800);

    lossPlot_ = new QCustomPlot(this);
    lossPlot_->xAxis->setLabel(QStringLiteral("step"));
    lossPlot_->yAxis->setLabel(QStringLiteral("loss"));
    lossPlot_->addGraph();
    lossPlot_->graph(0)->setName(QStringLiteral("training loss"));
    lossPlot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setCentralWidget(lossPlot_);

    QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
    QAction* quit = file->addAction(QStringLiteral("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);
    QMenu* help = menuBar()->addMenu(QStringLiteral("&Help"));
    connect(help->addAction(QStringLiteral("&About")), &QAction::triggered, this, [this] {
        QMessageBox::about(this, QStringLiteral("About LayerPipe Studio"),
                           QStringLiteral("LayerPipe Studio %1\nPipelined backpropagation for "
                                          "ResNet-18, live.\nGPL-3.0-or-later.")
                               .arg(QStringLiteral(LP_VERSION)));
    });
    statusBar()->showMessage(QStringLiteral("Ready"));
}

}  // namespace lp::ui
