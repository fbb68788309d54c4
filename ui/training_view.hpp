// Training curves over steps: loss (raw and EMA-smoothed, test loss per epoch), accuracy (train
// per step, test per epoch), learning rate and throughput, in three aligned charts.
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"

#include <QWidget>

class QCustomPlot;
class QCPAxisRect;
class QCPGraph;

namespace lp::ui {

class TrainingView : public QWidget {
    Q_OBJECT

public:
    explicit TrainingView(QWidget* parent = nullptr);

    using QWidget::setLayout;
    // Only labels the title with the schedule and policy.
    void setLayout(const core::telemetry::PipelineLayout& layout);
    // Adds the batch's train and eval samples and queues one replot.
    void append(const core::telemetry::TelemetryBatch& batch);
    void clear();

    // EMA smoothing of the loss line, in [0, 1): s_t = β·s_{t−1} + (1−β)·x_t, debiased by
    // 1 − β^t as TensorBoard does, so the first points are not pulled towards 0. Re-smooths
    // what is already shown.
    void setSmoothing(double beta);

    double smoothing() const { return beta_; }

    QCustomPlot* plot() const { return plot_; }

    QCPAxisRect* lossRect() const { return lossRect_; }

    QCPAxisRect* accuracyRect() const { return accuracyRect_; }

    QCPAxisRect* rateRect() const { return rateRect_; }

    QCPGraph* lossRaw() const { return lossRaw_; }  // NaN where nonFinite (a gap)

    QCPGraph* lossSmoothed() const { return lossSmooth_; }  // skips non-finite losses

    QCPGraph* testLoss() const { return testLoss_; }

    QCPGraph* trainAccuracy() const { return trainAcc_; }  // percent

    QCPGraph* testAccuracy() const { return testAcc_; }  // percent (top-1)

    QCPGraph* learningRate() const { return lr_; }

    QCPGraph* throughput() const { return throughput_; }  // images/s on the right axis

private:
    void rescale();

    QCustomPlot* plot_ = nullptr;
    QCPAxisRect* lossRect_ = nullptr;
    QCPAxisRect* accuracyRect_ = nullptr;
    QCPAxisRect* rateRect_ = nullptr;
    QCPGraph* lossRaw_ = nullptr;
    QCPGraph* lossSmooth_ = nullptr;
    QCPGraph* testLoss_ = nullptr;
    QCPGraph* trainAcc_ = nullptr;
    QCPGraph* testAcc_ = nullptr;
    QCPGraph* lr_ = nullptr;
    QCPGraph* throughput_ = nullptr;
    double beta_ = 0.9;
    double ema_ = 0.0;
    double betaPower_ = 1.0;  // β^t over the finite losses seen so far
    bool autoRange_ = true;
};

}  // namespace lp::ui
