// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/training_view.hpp"

#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/palette.hpp"

#include <QLabel>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lp::ui {

using core::telemetry::EvalSample;
using core::telemetry::PipelineLayout;
using core::telemetry::TelemetryBatch;
using core::telemetry::TrainSample;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

QCPAxisRect* addRect(QCustomPlot* plot, int row) {
    auto* rect = new QCPAxisRect(plot);
    palette::styleAxisRect(rect);
    plot->plotLayout()->addElement(row, 0, rect);
    return rect;
}

// Each chart's legend in a row of its own right above it: it never covers a curve (issue 13).
QCPLegend* addLegend(QCPAxisRect* rect) {
    return chart::addLegendAbove(rect);
}

QCPGraph* addGraph(QCustomPlot* plot,
                   QCPAxis* x,
                   QCPAxis* y,
                   QCPLegend* legend,
                   const QString& name,
                   const QPen& pen) {
    QCPGraph* g = plot->addGraph(x, y);
    g->setName(name);
    g->setPen(pen);
    g->removeFromLegend();
    g->addToLegend(legend);
    return g;
}

QCPRange valueRange(std::initializer_list<QCPGraph*> graphs) {
    QCPRange out(0.0, 0.0);
    for (QCPGraph* g : graphs) {
        bool found = false;
        const QCPRange r = g->getValueRange(found);
        if (found && g->visible()) {
            out.expand(r);
        }
    }
    return out;
}

}  // namespace

TrainingView::TrainingView(QWidget* parent) : TelemetryView(parent) {
    plot_ = makeTitledChart(this, QStringLiteral("Training"));
    lossRect_ = plot_->axisRect();
    accuracyRect_ = addRect(plot_, 2);
    rateRect_ = addRect(plot_, 3);
    // Every chart's step axis is named, so hover text reads "step 120: …" in all three.
    for (QCPAxisRect* rect : {lossRect_, accuracyRect_, rateRect_}) {
        rect->axis(QCPAxis::atBottom)->setLabel(QStringLiteral("step"));
    }

    const QColor blue = palette::okabeIto(0);
    const QColor vermillion = palette::okabeIto(3);
    QCPLegend* lossLegend = chart::addLegendAbove(lossRect_, true);
    QCPAxis* x = lossRect_->axis(QCPAxis::atBottom);
    QCPAxis* y = lossRect_->axis(QCPAxis::atLeft);
    y->setLabel(QStringLiteral("loss"));
    // Logarithmic: cross-entropy is positive, and an early spike (a first-epoch test loss of
    // 100+, a stale-weight blow-up) would otherwise flatten the curve that matters.
    y->setScaleType(QCPAxis::stLogarithmic);
    y->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    lossRaw_ = addGraph(plot_,
                        x,
                        y,
                        lossLegend,
                        QStringLiteral("loss (minibatch)"),
                        palette::cosmeticPen(palette::withAlpha(blue, 80), 1.0));
    lossSmooth_ = addGraph(plot_, x, y, lossLegend, QString(), palette::cosmeticPen(blue, 2.0));
    testLoss_ = addGraph(plot_,
                         x,
                         y,
                         lossLegend,
                         QStringLiteral("test loss (epoch)"),
                         palette::cosmeticPen(vermillion, 1.5));
    testLoss_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 7));
    // BN recalibration's results: dashed, diamonds; in the legend from their first point on.
    const QColor green = palette::okabeIto(2);
    testLossRecal_ = addGraph(plot_,
                              x,
                              y,
                              lossLegend,
                              QStringLiteral("test loss (BN recal.)"),
                              palette::cosmeticPen(green, 1.5, Qt::DashLine));
    testLossRecal_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, 8));
    testLossRecal_->removeFromLegend();

    QCPLegend* accLegend = addLegend(accuracyRect_);
    accLegend_ = accLegend;
    x = accuracyRect_->axis(QCPAxis::atBottom);
    y = accuracyRect_->axis(QCPAxis::atLeft);
    y->setLabel(QStringLiteral("accuracy (%)"));
    trainAcc_ = addGraph(plot_,
                         x,
                         y,
                         accLegend,
                         QStringLiteral("train top-1 (minibatch)"),
                         palette::cosmeticPen(palette::withAlpha(blue, 130), 1.0));
    testAcc_ = addGraph(plot_,
                        x,
                        y,
                        accLegend,
                        QStringLiteral("test top-1 (epoch)"),
                        palette::cosmeticPen(vermillion, 1.5));
    testAcc_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 7));
    testAccRecal_ = addGraph(plot_,
                             x,
                             y,
                             accLegend,
                             QStringLiteral("test top-1 (BN recal.)"),
                             palette::cosmeticPen(green, 1.5, Qt::DashLine));
    testAccRecal_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, 8));
    testAccRecal_->removeFromLegend(accLegend);

    QCPLegend* rateLegend = addLegend(rateRect_);
    x = rateRect_->axis(QCPAxis::atBottom);
    y = rateRect_->axis(QCPAxis::atLeft);
    QCPAxis* y2 = rateRect_->axis(QCPAxis::atRight);
    y->setLabel(QStringLiteral("learning rate"));
    y2->setVisible(true);
    y2->setLabel(QStringLiteral("images/s"));
    lr_ = addGraph(plot_,
                   x,
                   y,
                   rateLegend,
                   QStringLiteral("learning rate"),
                   palette::cosmeticPen(palette::okabeIto(2), 2.0));
    throughput_ = addGraph(plot_,
                           x,
                           y2,
                           rateLegend,
                           QStringLiteral("images/s (right axis)"),
                           palette::cosmeticPen(palette::okabeIto(1), 1.5));
    rateRect_->setRangeDragAxes({x}, {y, y2});
    rateRect_->setRangeZoomAxes({x}, {y, y2});

    auto* group = new QCPMarginGroup(plot_);
    for (QCPAxisRect* rect : {lossRect_, accuracyRect_, rateRect_}) {
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
        // One shared step axis: dragging or zooming one chart moves all three.
        for (QCPAxisRect* other : {lossRect_, accuracyRect_, rateRect_}) {
            if (other != rect) {
                connect(rect->axis(QCPAxis::atBottom),
                        qOverload<const QCPRange&>(&QCPAxis::rangeChanged),
                        other->axis(QCPAxis::atBottom),
                        qOverload<const QCPRange&>(&QCPAxis::setRange));
            }
        }
    }
    plot_->plotLayout()->setRowStretchFactor(chart::rowOf(lossRect_), 1.4);
    plot_->plotLayout()->setRowStretchFactor(chart::rowOf(accuracyRect_), 1.0);
    plot_->plotLayout()->setRowStretchFactor(chart::rowOf(rateRect_), 1.0);
    accuracyRect_->axis(QCPAxis::atLeft)->setRange(0.0, 100.0);

    // Above the charts, in words that wrap: it never covers a curve.
    note_ = new QLabel(this);
    note_->setObjectName(QStringLiteral("staleStatisticsNote"));
    note_->setWordWrap(true);
    note_->setTextFormat(Qt::RichText);
    note_->setStyleSheet(
        QStringLiteral("background: #FFF4D6; color: #3A2E00; border: 1px solid "
                       "#E0B84C; border-radius: 3px; padding: 4px 6px;"));
    note_->hide();
    if (auto* box = qobject_cast<QVBoxLayout*>(QWidget::layout())) {
        box->insertWidget(0, note_);
        box->setStretchFactor(plot_, 1);  // the note takes only the lines it needs
    }

    installAutoRangeToggle(plot_, this, autoRange_, [this] { rescale(); });
    setSmoothing(beta_);
}

bool TrainingView::lossJumps(double testLoss, double trainLoss) {
    return std::isfinite(testLoss) && std::isfinite(trainLoss) && testLoss > 3.0 * trainLoss &&
           testLoss > trainLoss + 1.0;
}

void TrainingView::explainJump(const EvalSample& e) {
    const auto it = epochLoss_.find(e.epoch);
    if (!staleWeights_ || jumpEpoch_ || it == epochLoss_.end() || it->second.count == 0) {
        return;
    }
    const double train = it->second.sum / static_cast<double>(it->second.count);
    const bool recalibrated = e.recalBatches > 0;
    if (!lossJumps(static_cast<double>(e.loss), train) ||
        (recalibrated && lossJumps(static_cast<double>(e.recalLoss), train))) {
        return;  // no jump, or one that recalibration does not explain
    }
    jumpEpoch_ = e.epoch;
    const auto num = [](double v) {  // "44.5", "1.62", "1076" (no exponent)
        return v >= 100.0 ? QString::number(v, 'f', 0) : QString::number(v, 'g', 3);
    };
    QString text = QStringLiteral(
                       "<b>Test loss %1 after epoch %2, training loss %3:</b> BatchNorm's running "
                       "statistics were gathered during the epoch under the stale weights each "
                       "stage's forward used, and no longer fit the current weights. ")
                       .arg(num(static_cast<double>(e.loss)))
                       .arg(e.epoch + 1)
                       .arg(num(train));
    if (recalibrated) {
        text += QStringLiteral(
                    "Recomputed under the current weights over %1 training batches, "
                    "they give a test loss of %2 and top-1 %3 % (dashed).")
                    .arg(e.recalBatches)
                    .arg(num(static_cast<double>(e.recalLoss)))
                    .arg(100.0 * static_cast<double>(e.recalTop1), 0, 'f', 1);
    } else {
        text += QStringLiteral(
            "Remedy: recompute them under the current weights before "
            "evaluating: <i>BN recalibration</i> in the Experiment panel "
            "(eval.recalibrateBatchNorm) draws both results.");
    }
    note_->setText(text);
    note_->show();
}

void TrainingView::applyLayout(const PipelineLayout& layout) {
    auto* title = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0));
    if (title != nullptr) {
        // As the timeline's title: GPipe has no stale weights, so no weight policy to name.
        QString text = QStringLiteral("Training");
        if (layout.schedule == "gpipe") {
            text += QStringLiteral(" · GPipe");
        } else if (!layout.schedule.empty()) {
            text += QStringLiteral(" · LayerPipe · %1").arg(QString::fromStdString(layout.policy));
        }
        title->setText(text);
    }
    staleWeights_ = layout.schedule != "gpipe" && std::any_of(layout.delays.begin(),
                                                              layout.delays.end(),
                                                              [](std::int64_t d) { return d > 0; });
}

bool TrainingView::addBatch(const TelemetryBatch& batch) {
    if (batch.train.empty() && batch.eval.empty()) {
        return false;
    }
    QVector<double> steps;
    QVector<double> raw;
    QVector<double> smoothSteps;
    QVector<double> smooth;
    QVector<double> acc;
    QVector<double> lr;
    QVector<double> ips;
    for (const TrainSample& t : batch.train) {
        const auto step = static_cast<double>(t.step);
        const auto loss = static_cast<double>(t.loss);
        const bool finite = !t.nonFinite && std::isfinite(loss);
        steps << step;
        raw << (finite ? loss : kNaN);
        if (finite) {
            LossSum& epochSum = epochLoss_[t.epoch];
            epochSum.sum += loss;
            ++epochSum.count;
            ema_ = beta_ * ema_ + (1.0 - beta_) * loss;
            betaPower_ *= beta_;
            smoothSteps << step;
            smooth << ema_ / (1.0 - betaPower_);
        }
        acc << 100.0 * static_cast<double>(t.accuracy);
        lr << static_cast<double>(t.lr);
        ips << static_cast<double>(t.imagesPerSecond);
    }
    const bool sorted = std::is_sorted(steps.begin(), steps.end()) &&
                        (lossRaw_->data()->isEmpty() || steps.isEmpty() ||
                         steps.front() >= (lossRaw_->data()->constEnd() - 1)->key);
    lossRaw_->addData(steps, raw, sorted);
    lossSmooth_->addData(smoothSteps, smooth, sorted);
    trainAcc_->addData(steps, acc, sorted);
    lr_->addData(steps, lr, sorted);
    throughput_->addData(steps, ips, sorted);
    for (const EvalSample& e : batch.eval) {
        const auto step = static_cast<double>(e.step);
        testAcc_->addData(step, 100.0 * static_cast<double>(e.top1));
        testLoss_->addData(step, static_cast<double>(e.loss));
        if (e.recalBatches > 0) {
            testLossRecal_->addData(step, static_cast<double>(e.recalLoss));
            testAccRecal_->addData(step, 100.0 * static_cast<double>(e.recalTop1));
            testLossRecal_->addToLegend(plot_->legend);  // false (no-op) once it is there
            testAccRecal_->addToLegend(accLegend_);
        }
        explainJump(e);
    }
    rescale();
    return true;
}

void TrainingView::clearData() {
    for (QCPGraph* g : {lossRaw_,
                        lossSmooth_,
                        testLoss_,
                        testLossRecal_,
                        trainAcc_,
                        testAcc_,
                        testAccRecal_,
                        lr_,
                        throughput_}) {
        g->data()->clear();
    }
    testLossRecal_->removeFromLegend();
    testAccRecal_->removeFromLegend(accLegend_);
    epochLoss_.clear();
    jumpEpoch_.reset();
    note_->hide();
    ema_ = 0.0;
    betaPower_ = 1.0;
    autoRange_ = true;  // fresh axes (issue 13)
    rescale();
}

void TrainingView::setSmoothing(double beta) {
    beta_ = std::clamp(beta, 0.0, 0.999);
    lossSmooth_->setName(QStringLiteral("loss (EMA %1)").arg(beta_, 0, 'g', 3));
    ema_ = 0.0;
    betaPower_ = 1.0;
    QVector<double> keys;
    QVector<double> values;
    for (auto it = lossRaw_->data()->constBegin(); it != lossRaw_->data()->constEnd(); ++it) {
        if (std::isnan(it->value)) {
            continue;
        }
        ema_ = beta_ * ema_ + (1.0 - beta_) * it->value;
        betaPower_ *= beta_;
        keys << it->key;
        values << ema_ / (1.0 - betaPower_);
    }
    lossSmooth_->setData(keys, values, true);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void TrainingView::rescale() {
    if (!autoRange_) {
        return;
    }
    bool found = false;
    QCPRange keys = lossRaw_->getKeyRange(found);
    bool foundEval = false;
    const QCPRange evalKeys = testAcc_->getKeyRange(foundEval);
    if (foundEval) {
        keys = found ? QCPRange(std::min(keys.lower, evalKeys.lower),
                                std::max(keys.upper, evalKeys.upper))
                     : evalKeys;
        found = true;
    }
    if (!found) {
        return;
    }
    if (keys.size() <= 0.0) {
        keys.upper = keys.lower + 1.0;
    }
    lossRect_->axis(QCPAxis::atBottom)->setRange(keys);  // the others follow (shared axis)
    // Positive values only (log axis), with a little room at both ends.
    bool anyLoss = false;
    QCPRange loss;
    for (QCPGraph* g : {lossRaw_, lossSmooth_, testLoss_, testLossRecal_}) {
        bool positive = false;
        const QCPRange r = g->getValueRange(positive, QCP::sdPositive);
        if (positive && g->visible()) {
            loss = anyLoss ? QCPRange(std::min(loss.lower, r.lower), std::max(loss.upper, r.upper))
                           : r;
            anyLoss = true;
        }
    }
    lossRect_->axis(QCPAxis::atLeft)
        ->setRange(anyLoss ? QCPRange(loss.lower / 1.3, loss.upper * 1.3) : QCPRange(0.1, 10.0));
    accuracyRect_->axis(QCPAxis::atLeft)->setRange(0.0, 100.0);
    const QCPRange lr = valueRange({lr_});
    // A little headroom above both curves (the legend has a row of its own).
    rateRect_->axis(QCPAxis::atLeft)->setRange(0.0, lr.upper > 0.0 ? lr.upper * 1.1 : 1.0);
    const QCPRange ips = valueRange({throughput_});
    rateRect_->axis(QCPAxis::atRight)->setRange(0.0, ips.upper > 0.0 ? ips.upper * 1.1 : 1.0);
}

}  // namespace lp::ui
