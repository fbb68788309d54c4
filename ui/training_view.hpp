// Training curves over steps: loss (raw and EMA-smoothed, test loss per epoch), accuracy (train
// per step, test per epoch), learning rate and throughput, in three aligned charts. With BN
// recalibration (eval.recalibrateBatchNorm) the recalibrated test loss and top-1 are drawn too,
// and a note above the charts explains a test loss far above the training loss in a run with
// stale weights (issue 13). GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"
#include "ui/telemetry_view.hpp"

#include <QWidget>

#include <cstdint>
#include <map>
#include <optional>

class QCustomPlot;
class QLabel;
class QCPAxisRect;
class QCPGraph;
class QCPLegend;

namespace lp::ui {

class TrainingView : public TelemetryView {
    Q_OBJECT

public:
    explicit TrainingView(QWidget* parent = nullptr);

    // EMA smoothing of the loss line, in [0, 1): s_t = β·s_{t−1} + (1−β)·x_t, debiased by
    // 1 − β^t as TensorBoard does, so the first points are not pulled towards 0. Re-smooths
    // what is already shown.
    void setSmoothing(double beta);

    double smoothing() const { return beta_; }

    QCPAxisRect* lossRect() const { return lossRect_; }

    QCPAxisRect* accuracyRect() const { return accuracyRect_; }

    QCPAxisRect* rateRect() const { return rateRect_; }

    QCPGraph* lossRaw() const { return lossRaw_; }  // NaN where nonFinite (a gap)

    QCPGraph* lossSmoothed() const { return lossSmooth_; }  // skips non-finite losses

    QCPGraph* testLoss() const { return testLoss_; }

    QCPGraph* trainAccuracy() const { return trainAcc_; }  // percent

    QCPGraph* testAccuracy() const { return testAcc_; }  // percent (top-1)

    // Test loss and top-1 (percent) with BN statistics recalibrated under the current weights;
    // in the legend once the run has some.
    QCPGraph* testLossRecalibrated() const { return testLossRecal_; }

    QCPGraph* testAccuracyRecalibrated() const { return testAccRecal_; }

    // The note on stale BatchNorm statistics; hidden unless a test loss jumped.
    QLabel* note() const { return note_; }

    // The jump that the note explains: a finite test loss more than 3 times the epoch's mean
    // training loss and more than 1 above it. In a run with stale weights, and only while the
    // recalibrated test loss (when there is one) does not jump too, the cause is BatchNorm's
    // running statistics; otherwise it is something else (overfitting, divergence).
    static bool lossJumps(double testLoss, double trainLoss);

    QCPGraph* learningRate() const { return lr_; }

    QCPGraph* throughput() const { return throughput_; }  // images/s on the right axis

private:
    // Labels the title with the schedule and policy; whether the run has stale weights (a
    // LayerPipe stage with a delay) decides whether a test-loss jump is explained.
    void applyLayout(const core::telemetry::PipelineLayout& layout) override;
    // Adds the batch's train and eval samples.
    bool addBatch(const core::telemetry::TelemetryBatch& batch) override;
    void clearData() override;

    void rescale();
    void explainJump(const core::telemetry::EvalSample& e);

    QCPAxisRect* lossRect_ = nullptr;
    QCPAxisRect* accuracyRect_ = nullptr;
    QCPAxisRect* rateRect_ = nullptr;
    QCPGraph* lossRaw_ = nullptr;
    QCPGraph* lossSmooth_ = nullptr;
    QCPGraph* testLoss_ = nullptr;
    QCPGraph* trainAcc_ = nullptr;
    QCPGraph* testAcc_ = nullptr;
    QCPGraph* testLossRecal_ = nullptr;
    QCPGraph* testAccRecal_ = nullptr;
    QCPLegend* accLegend_ = nullptr;
    QLabel* note_ = nullptr;
    bool staleWeights_ = false;
    std::optional<std::int32_t> jumpEpoch_;  // the first epoch whose test loss jumped

    struct LossSum {
        double sum = 0.0;
        std::int64_t count = 0;
    };

    std::map<std::int32_t, LossSum> epochLoss_;  // finite training losses per epoch
    QCPGraph* lr_ = nullptr;
    QCPGraph* throughput_ = nullptr;
    double beta_ = 0.9;
    double ema_ = 0.0;
    double betaPower_ = 1.0;  // β^t over the finite losses seen so far
    bool autoRange_ = true;
};

}  // namespace lp::ui
