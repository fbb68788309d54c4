// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chart_panel.hpp"

#include "core/error.hpp"
#include "ui/chart_export.hpp"
#include "ui/compare_view.hpp"
#include "ui/memory_view.hpp"
#include "ui/reconstruction_view.hpp"
#include "ui/staleness_view.hpp"
#include "ui/study_view.hpp"
#include "ui/timeline_view.hpp"
#include "ui/training_view.hpp"

#include <QDir>
#include <QEvent>
#include <QGridLayout>
#include <QMouseEvent>
#include <QStackedLayout>
#include <QTabWidget>
#include <QVBoxLayout>
#include <qcustomplot.h>

namespace lp::ui {

namespace {

// Dashboard cells: row, column, column span. The timeline is the lesson's centrepiece and gets
// the widest cell.
struct Cell {
    int row;
    int col;
    int colSpan;
};

constexpr Cell kCells[] = {{0, 0, 2}, {1, 0, 1}, {1, 1, 1}, {0, 2, 1}, {1, 2, 1}};

}  // namespace

ChartPanel::ChartPanel(QWidget* parent) : QWidget(parent) {
    timeline_ = new TimelineView(this);
    staleness_ = new StalenessView(this);
    memory_ = new MemoryView(this);
    training_ = new TrainingView(this);
    reconstruction_ = new ReconstructionView(this);
    compare_ = new CompareView(this);
    study_ = new StudyView(this);
    live_ = {timeline_, staleness_, memory_, training_, reconstruction_};
    charts_ = {
        {QStringLiteral("Timeline"), QStringLiteral("timeline"), timeline_, timeline_->plot()},
        {QStringLiteral("Staleness"), QStringLiteral("staleness"), staleness_, staleness_->plot()},
        {QStringLiteral("Memory"), QStringLiteral("memory"), memory_, memory_->plot()},
        {QStringLiteral("Training"), QStringLiteral("training"), training_, training_->plot()},
        {QStringLiteral("EMA error"),
         QStringLiteral("ema_error"),
         reconstruction_,
         reconstruction_->plot()},
        {QStringLiteral("Compare"), QStringLiteral("compare"), compare_, compare_->plot(), false},
    };
    stack_ = new QStackedLayout(this);
    tabs_ = new QTabWidget(this);
    tabs_->setDocumentMode(true);
    stack_->addWidget(tabs_);
    gridPage_ = new QWidget(this);
    grid_ = new QGridLayout(gridPage_);
    grid_->setContentsMargins(0, 0, 0, 0);
    grid_->setSpacing(4);
    stack_->addWidget(gridPage_);
    soloPage_ = new QWidget(this);
    auto* solo = new QVBoxLayout(soloPage_);
    solo->setContentsMargins(0, 0, 0, 0);
    stack_->addWidget(soloPage_);
    for (std::size_t i = 0; i < charts_.size(); ++i) {
        // Exports propose "<experiment>_<file>.png" (ui/chart_export.hpp: the plot's name).
        charts_[i].plot->setObjectName(charts_[i].file);
        charts_[i].plot->installEventFilter(this);  // last clicked chart
        // A double click on a chart's title enlarges it, or brings the panel back.
        QCustomPlot* plot = charts_[i].plot;
        const int index = static_cast<int>(i);
        connect(plot, &QCustomPlot::mouseDoubleClick, this, [this, plot, index](QMouseEvent* e) {
            if (qobject_cast<QCPTextElement*>(plot->layoutElementAt(e->position())) != nullptr) {
                setEnlarged(enlarged_ == index ? -1 : index);
            }
        });
    }
    arrange();
}

void ChartPanel::setDashboard(bool on) {
    if (on == dashboard_ && enlarged_ < 0) {
        return;
    }
    const bool changed = on != dashboard_;
    dashboard_ = on;
    const bool wasEnlarged = enlarged_ >= 0;
    enlarged_ = -1;
    arrange();
    if (wasEnlarged) {
        emit enlargedChanged(-1);
    }
    if (changed) {
        emit dashboardChanged(on);
    }
}

void ChartPanel::setEnlarged(int index) {
    if (index >= static_cast<int>(charts_.size()) || index < -1) {
        index = -1;
    }
    if (index == enlarged_) {
        return;
    }
    enlarged_ = index;
    if (index >= 0) {
        lastClicked_ = index;
    }
    arrange();
    emit enlargedChanged(index);
}

int ChartPanel::currentChart() const {
    if (enlarged_ >= 0) {
        return enlarged_;
    }
    if (dashboard_) {
        return charts_[static_cast<std::size_t>(lastClicked_)].inDashboard ? lastClicked_ : 0;
    }
    for (std::size_t i = 0; i < charts_.size(); ++i) {
        if (charts_[i].view == tabs_->currentWidget()) {
            return static_cast<int>(i);
        }
    }
    return 0;
}

void ChartPanel::arrange() {
    QWidget* currentTab = tabs_->currentWidget();
    tabs_->clear();  // removes the pages, does not delete them
    for (const Chart& chart : charts_) {
        grid_->removeWidget(chart.view);
        soloPage_->layout()->removeWidget(chart.view);
    }
    study_->hide();  // a tab only, like Compare; kept with its study for when the tabs come back
    if (enlarged_ >= 0) {
        QWidget* view = charts_[static_cast<std::size_t>(enlarged_)].view;
        soloPage_->layout()->addWidget(view);
        view->show();
        stack_->setCurrentWidget(soloPage_);
        return;
    }
    if (dashboard_) {
        std::size_t cell = 0;
        for (const Chart& chart : charts_) {
            if (!chart.inDashboard) {
                chart.view->hide();  // kept, running or not, for when the tabs come back
                continue;
            }
            const Cell c = kCells[cell++];
            grid_->addWidget(chart.view, c.row, c.col, 1, c.colSpan);
            chart.view->show();
        }
        for (int c = 0; c < 3; ++c) {
            grid_->setColumnStretch(c, 1);
        }
        // Equal rows: the bottom charts each hold two plots (bars + heatmap, history + stack).
        grid_->setRowStretch(0, 1);
        grid_->setRowStretch(1, 1);
        stack_->setCurrentWidget(gridPage_);
        return;
    }
    for (const Chart& chart : charts_) {
        tabs_->addTab(chart.view, chart.name);
    }
    tabs_->addTab(study_, QStringLiteral("Study"));
    if (currentTab != nullptr && tabs_->indexOf(currentTab) >= 0) {
        tabs_->setCurrentWidget(currentTab);
    } else if (lastClicked_ >= 0) {
        tabs_->setCurrentIndex(lastClicked_);
    }
    stack_->setCurrentWidget(tabs_);
}

bool ChartPanel::eventFilter(QObject* watched, QEvent* event) {
    if (event->type() == QEvent::MouseButtonPress) {
        for (std::size_t i = 0; i < charts_.size(); ++i) {
            if (charts_[i].plot == watched) {
                lastClicked_ = static_cast<int>(i);
            }
        }
    }
    return QWidget::eventFilter(watched, event);
}

void ChartPanel::replotAll() {
    for (const Chart& chart : charts_) {
        chart.plot->replot(QCustomPlot::rpQueuedReplot);
    }
}

void ChartPanel::setLayout(const core::telemetry::PipelineLayout& layout) {
    for (TelemetryView* view : live_) {
        view->setLayout(layout);
    }
}

void ChartPanel::append(const core::telemetry::TelemetryBatch& batch) {
    for (TelemetryView* view : live_) {
        view->append(batch);
    }
}

void ChartPanel::clear() {
    for (TelemetryView* view : live_) {
        view->clear();
    }
}

void ChartPanel::exportAll(const QString& dir) const {
    if (!QDir().mkpath(dir)) {
        throw core::InputError("cannot create the folder " + dir.toStdString());
    }
    for (const Chart& chart : charts_) {
        for (const QString& suffix :
             {QStringLiteral("png"), QStringLiteral("pdf"), QStringLiteral("svg")}) {
            const QString path = QDir(dir).filePath(chart.file + QLatin1Char('.') + suffix);
            QString error;
            // One report-friendly size for every chart, whether its tab was ever shown or not.
            if (!exportChart(chart.plot, path, &error, QSize(960, 600))) {
                throw core::InputError("exporting " + path.toStdString() +
                                       " failed: " + error.toStdString());
            }
        }
    }
}

}  // namespace lp::ui
