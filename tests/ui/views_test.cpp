// Live chart views fed with a synthetic LayerPipe schedule (K = 4, D = 2S(s)); asserts series,
// ranges and labels, not pixels (STYLE.md section 7). Set LP_UI_SHOT_DIR to also render one PNG per
// view there (ViewsDemo.RendersScreenshots).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/memory_view.hpp"
#include "ui/message_arrows.hpp"
#include "ui/palette.hpp"
#include "ui/reconstruction_view.hpp"
#include "ui/staleness_view.hpp"
#include "ui/timeline_view.hpp"
#include "ui/training_view.hpp"

#include "tests/support/resnet18_units.hpp"

#include <QDir>
#include <QFile>
#include <QLabel>
#include <QMenu>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QWheelEvent>
#include <qcustomplot.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

namespace lp::ui {
namespace {

using namespace core::telemetry;  // NOLINT(google-build-using-namespace): test brevity

constexpr int kStages = 4;
constexpr double kTickUs = 1500.0;

PipelineLayout resnetLayout(const std::string& policy) {
    PipelineLayout layout;
    layout.unitNames = lp::test::resnet18UnitNames();
    layout.stageOfUnit = {0, 0, 0, 1, 1, 2, 2, 3, 3, 3};
    layout.delays = {6, 4, 2, 0};  // 2·S(s): the bubble-free LayerPipe delays
    layout.stageParams = {149'824, 525'568, 2'099'712, 8'445'028};
    layout.policy = policy;
    layout.schedule = "layerpipe";
    return layout;
}

double forwardUs(int s) {
    return 200.0 + 50.0 * s;
}

// DESIGN.md section 4: in tick τ stage s does F of τ−s, then B (and U) of τ−(2K−2−s).
// minibatches M take M + 2K − 2 ticks. Also emits staleness, memory, training, eval and
// reconstruction samples the way the engine will.
TelemetryBatch layerpipeRun(int minibatches, const PipelineLayout& layout) {
    TelemetryBatch b;
    const int ticks = minibatches + 2 * kStages - 2;
    const bool ema = layout.policy == "ema";
    for (int tau = 0; tau < ticks; ++tau) {
        const double t0 = tau * kTickUs;
        for (int s = 0; s < kStages; ++s) {
            const std::int64_t d = layout.delays[static_cast<std::size_t>(s)];
            const std::int64_t p = layout.stageParams[static_cast<std::size_t>(s)];
            double t = t0 + 5.0 * s;
            const int jf = tau - s;
            if (jf >= 0 && jf < minibatches) {
                const double dur = forwardUs(s);
                b.ops.push_back({s,
                                 OpKind::Forward,
                                 jf,
                                 std::max<std::int64_t>(0, jf - d),
                                 tau,
                                 t,
                                 t + dur,
                                 s});
                t += dur;
            }
            const int jb = tau - (2 * kStages - 2 - s);
            if (jb >= 0 && jb < minibatches) {
                const double dur = 2.0 * forwardUs(s);
                const std::int64_t v = std::max<std::int64_t>(0, jb - d);
                b.ops.push_back({s, OpKind::Backward, jb, v, tau, t, t + dur, s});
                b.ops.push_back({s, OpKind::Update, jb, jb, tau, t + dur, t + dur + 40.0, s});
                b.staleness.push_back({jb + 1, s, std::min<std::int64_t>(jb, d), d});
                if (ema && d > 0 && jb > 0) {
                    const double err = 2e-3 * (1.0 + s) * (1.0 + 0.5 * std::sin(0.3 * jb));
                    b.reconstruction.push_back({jb, s, static_cast<float>(err)});
                }
            }
            const std::int64_t versions = std::min<std::int64_t>(std::max(0, tau - s), d);
            const std::int64_t history = ema ? (d > 0 ? 2 * p * 4 : 0) : versions * p * 4;
            const std::int64_t inFlight =
                std::min<std::int64_t>(2 * (kStages - 1 - s) + 1, tau + 1);
            b.memory.push_back({t0, tau, s, MemoryCategory::Weights, p * 4});
            b.memory.push_back({t0, tau, s, MemoryCategory::WeightHistory, history});
            b.memory.push_back({t0, tau, s, MemoryCategory::Activations, inFlight * 65'536});
            b.memory.push_back({t0, tau, s, MemoryCategory::OptimizerState, p * 4});
            if (ema) {
                b.memory.push_back({t0, tau, s, MemoryCategory::DiagnosticShadow, d * p * 4});
            }
        }
    }
    for (int j = 0; j < minibatches; ++j) {
        const double loss = 0.6 + 4.0 * std::exp(-j / 60.0) + 0.25 * std::sin(1.7 * j);
        const double acc = std::min(0.95, 0.01 + j / 400.0 + 0.05 * std::sin(2.3 * j));
        const double lr = 0.1 * 0.5 * (1.0 + std::cos(std::numbers::pi * j / minibatches));
        b.train.push_back({j,
                           j / 50,
                           (j + 2 * kStages - 2) * kTickUs,
                           static_cast<float>(loss),
                           static_cast<float>(std::max(0.0, acc)),
                           static_cast<float>(lr),
                           static_cast<float>(800.0 + 40.0 * std::sin(0.2 * j)),
                           false});
        if (j % 50 == 49) {
            b.eval.push_back({j / 50,
                              j,
                              static_cast<float>(loss * 1.1),
                              static_cast<float>(std::max(0.0, acc - 0.05)),
                              static_cast<float>(std::min(1.0, acc + 0.2))});
        }
    }
    return b;
}

// Shows `view` at `size` with a run of `minibatches` on resnetLayout("stash"); returns the layout.
PipelineLayout showStashRun(TimelineView& view, QSize size, int minibatches) {
    view.resize(size);
    view.show();
    const PipelineLayout layout = resnetLayout("stash");
    view.setLayout(layout);
    view.append(layerpipeRun(minibatches, layout));
    return layout;
}

double lastValue(const QCPGraph* g) {
    return (g->data()->constEnd() - 1)->value;
}

TEST(Palette, OkabeItoCyclesAndOpColoursDiffer) {
    EXPECT_EQ(palette::okabeIto(8), palette::okabeIto(0));
    EXPECT_EQ(palette::okabeIto(-1), palette::okabeIto(7));
    EXPECT_EQ(palette::okabeIto(0), QColor(0x00, 0x72, 0xB2));
    const QColor ops[] = {palette::opColor(OpKind::Forward),
                          palette::opColor(OpKind::Backward),
                          palette::opColor(OpKind::Update),
                          palette::opColor(OpKind::Eval)};
    for (int i = 0; i < 4; ++i) {
        for (int j = i + 1; j < 4; ++j) {
            EXPECT_NE(ops[i], ops[j]);
        }
    }
    EXPECT_TRUE(palette::cosmeticPen(Qt::red).isCosmetic());
}

TEST(TimelineView, HoldsOneSpanPlottablePerOpKindAndEveryEvent) {
    TimelineView view;
    view.setLayout(resnetLayout("stash"));
    view.append(layerpipeRun(40, resnetLayout("stash")));
    // One per op kind, and the messages between MPI ranks: hidden and unlisted in one process.
    EXPECT_EQ(view.plot()->plottableCount(), 5);
    EXPECT_FALSE(view.messageArrows()->visible());
    EXPECT_EQ(view.eventCount(), 40U * 4U * 3U);
    EXPECT_EQ(view.spans(OpKind::Forward)->spanCount(), 160U);
    EXPECT_EQ(view.spans(OpKind::Update)->spanCount(), 160U);
    EXPECT_EQ(view.stageRows(), 4);
    EXPECT_EQ(view.plot()->legend->itemCount(), 4);
    EXPECT_TRUE(view.rowLabel(0).startsWith(QStringLiteral("stage 0 (stem … layer1.1, 3 units)")));
    EXPECT_TRUE(view.rowLabel(1).startsWith(QStringLiteral("stage 1 (layer2.0, layer2.1)")));
}

TEST(TimelineView, UtilisationMatchesTheSchedule) {
    TimelineView view;
    const PipelineLayout layout = resnetLayout("stash");
    view.setLayout(layout);
    const TelemetryBatch run = layerpipeRun(40, layout);
    view.append(run);
    // DESIGN.md section 4: D = (6,4,2,0), 40 minibatches take 46 ticks, utilisation 40/46.
    for (const StageUtilisation& u : view.utilisation()) {
        EXPECT_EQ(u.capacity, 2) << u.stage;  // one F and one B per tick
        EXPECT_DOUBLE_EQ(u.span, 46.0) << u.stage;
        EXPECT_DOUBLE_EQ(u.busy, 40.0) << u.stage;
        EXPECT_NEAR(u.utilisation, 40.0 / 46.0, 1e-12);
        EXPECT_NEAR(u.bubbleFraction, 6.0 / 46.0, 1e-12);
    }
    EXPECT_TRUE(view.rowLabel(2).contains(QStringLiteral("87.0% busy · 13.0% bubble")));
    view.setTimeAxis(TimeAxis::WallClock);
    double lastEnd = 0.0;
    for (const OpEvent& e : run.ops) {
        lastEnd = std::max(lastEnd, e.endUs);
    }
    for (const StageUtilisation& u : view.utilisation()) {
        const double busy = 40.0 * (3.0 * forwardUs(u.stage) + 40.0);
        EXPECT_NEAR(u.busy, busy, 1e-6);
        EXPECT_NEAR(u.span, lastEnd, 1e-6);
        EXPECT_NEAR(u.utilisation, busy / lastEnd, 1e-12);
    }
}

// GPipe as core/pipeline/runner.cpp's epochPlan lays it out: per minibatch a period of
// 2(M + K − 1) ticks; stage s runs F of micro-batch i at tick i + s and B of it at
// (M + K − 1) + i + (K − 1 − s), one op per tick; U in the tick of its last B.
TelemetryBatch gpipeRun(int minibatches, int microBatches) {
    TelemetryBatch b;
    const int m = microBatches;
    const int period = 2 * (m + kStages - 1);
    for (int j = 0; j < minibatches; ++j) {
        const int base = j * period;
        for (int s = 0; s < kStages; ++s) {
            for (int i = 0; i < m; ++i) {
                const int tick = base + i + s;
                b.ops.push_back({s,
                                 OpKind::Forward,
                                 j * m + i,
                                 j,
                                 tick,
                                 tick * kTickUs,
                                 tick * kTickUs + 500.0,
                                 s});
            }
            int last = 0;
            for (int i = 0; i < m; ++i) {
                last = base + (m + kStages - 1) + i + (kStages - 1 - s);
                b.ops.push_back({s,
                                 OpKind::Backward,
                                 j * m + i,
                                 j,
                                 last,
                                 last * kTickUs,
                                 last * kTickUs + 900.0,
                                 s});
            }
            b.ops.push_back(
                {s, OpKind::Update, j, j, last, last * kTickUs + 900.0, last * kTickUs + 950.0, s});
        }
    }
    return b;
}

TEST(TimelineView, GPipeUtilisationHasOneOpPerTick) {
    TimelineView view;
    PipelineLayout layout = resnetLayout("stash");
    layout.schedule = "gpipe";
    layout.delays = {0, 0, 0, 0};
    view.setLayout(layout);
    // K = 4, M = 4, 10 minibatches: 140 ticks, 80 ops per stage; idle (K−1)/(M+K−1) = 3/7.
    view.append(gpipeRun(10, 4));
    const std::vector<StageUtilisation> util = view.utilisation();
    ASSERT_EQ(util.size(), 4U);
    for (const StageUtilisation& u : util) {
        EXPECT_EQ(u.capacity, 1) << u.stage;
        EXPECT_DOUBLE_EQ(u.span, 140.0) << u.stage;
        EXPECT_DOUBLE_EQ(u.busy, 80.0) << u.stage;
        EXPECT_NEAR(u.utilisation, 4.0 / 7.0, 1e-12);
        EXPECT_NEAR(u.bubbleFraction, 3.0 / 7.0, 1e-12);
    }
    EXPECT_TRUE(view.rowLabel(1).contains(QStringLiteral("57.1% busy · 42.9% bubble")))
        << view.rowLabel(1).toStdString();
}

// Issue 13: the title wraps (never "…") and the legend has a row of its own, off the stage rows.
TEST(TimelineView, LongTitleWrapsAndTheLegendHasARowOfItsOwn) {
    TimelineView view;
    showStashRun(view, QSize(560, 360), 400);  // narrower than title and legend together
    view.plot()->replot();
    view.plot()->replot();
    const QCPLegend* legend = view.plot()->legend;
    auto* title = qobject_cast<chart::ChartTitle*>(view.plot()->plotLayout()->element(0, 0));
    ASSERT_NE(title, nullptr);
    EXPECT_TRUE(title->text().contains(QStringLiteral("mean utilisation")));  // full text kept
    EXPECT_LE(title->fittedLines().size(), 2);
    EXPECT_GE(legend->outerRect().width(), legend->minimumOuterSizeHint().width());
    EXPECT_LE(legend->outerRect().right(), view.plot()->width());
    EXPECT_GE(legend->outerRect().top(), title->outerRect().bottom());
    EXPECT_FALSE(legend->outerRect().intersects(view.plot()->axisRect()->rect()));
    view.resize(330, 360);
    view.plot()->replot();
    view.plot()->replot();
    EXPECT_EQ(title->fittedLines().size(), 2);
    EXPECT_TRUE(title->fittedLines().last().contains(QStringLiteral("utilisation")));
    EXPECT_FALSE(legend->outerRect().intersects(view.plot()->axisRect()->rect()));
}

TEST(TimelineView, FollowLiveSlidesUntilTheUserScrubsBack) {
    TimelineView view;
    const PipelineLayout layout = showStashRun(view, QSize(1200, 600), 200);
    ASSERT_TRUE(view.followLive());
    const QCPRange followed = view.plot()->xAxis->range();
    EXPECT_DOUBLE_EQ(followed.upper, 206.0);  // tick 205 is the last, ending at 206
    EXPECT_DOUBLE_EQ(followed.size(), 48.0);

    QSignalSpy followSpy(&view, &TimelineView::followLiveChanged);
    const QPointF centre = view.plot()->axisRect()->center();
    QWheelEvent wheel(centre,
                      view.plot()->mapToGlobal(centre),
                      QPoint(),
                      QPoint(0, 120),
                      Qt::NoButton,
                      Qt::NoModifier,
                      Qt::NoScrollPhase,
                      false);
    QApplication::sendEvent(view.plot(), &wheel);
    EXPECT_FALSE(view.followLive());
    ASSERT_EQ(followSpy.count(), 1);
    const QCPRange scrubbed = view.plot()->xAxis->range();
    EXPECT_LT(scrubbed.size(), 48.0);       // zoomed in
    view.append(layerpipeRun(10, layout));  // more data does not move a scrubbed view
    EXPECT_EQ(view.plot()->xAxis->range(), scrubbed);

    view.setFollowLive(true);
    EXPECT_DOUBLE_EQ(view.plot()->xAxis->range().upper, 206.0);
    EXPECT_NEAR(view.plot()->xAxis->range().size(), scrubbed.size(), 1e-9);
}

TEST(TimelineView, WallClockAxisShowsEvalOpsWithoutTicks) {
    TimelineView view;
    const PipelineLayout layout = resnetLayout("stash");
    view.setLayout(layout);
    TelemetryBatch run = layerpipeRun(40, layout);
    run.ops.push_back({0, OpKind::Eval, 0, 40, -1, 80'000.0, 90'000.0, 0});
    view.append(run);
    EXPECT_EQ(view.spans(OpKind::Eval)->eventCount(), 1U);
    EXPECT_EQ(view.spans(OpKind::Eval)->spanCount(), 0U);  // no tick: not on the tick axis
    view.setTimeAxis(TimeAxis::WallClock);
    EXPECT_EQ(view.spans(OpKind::Eval)->spanCount(), 1U);
    EXPECT_EQ(view.plot()->xAxis->label(), QStringLiteral("wall clock (µs)"));
    EXPECT_DOUBLE_EQ(view.plot()->xAxis->range().upper, 90'000.0);
}

TEST(TimelineView, HoverFindsMinibatchAndWeightVersion) {
    TimelineView view;
    showStashRun(view, QSize(1600, 900), 40);
    view.setFollowLive(false);
    view.plot()->xAxis->setRange(0.0, 30.0);
    view.plot()->replot();
    // F of minibatch 10 at stage 1 runs in tick 11, first 45 % of the tick; it used version 6.
    const QPointF at(view.plot()->xAxis->coordToPixel(11.2), view.plot()->yAxis->coordToPixel(1.0));
    const auto e = view.eventAt(at);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->op, OpKind::Forward);
    EXPECT_EQ(e->minibatch, 10);
    EXPECT_EQ(e->weightVersion, 6);
    const QString text = TimelineView::describe(*e);
    EXPECT_TRUE(text.contains(QStringLiteral("minibatch 10 · weight version 6")))
        << text.toStdString();
    EXPECT_TRUE(text.contains(QStringLiteral("tick 11")));
    EXPECT_FALSE(view.eventAt(QPointF(-5.0, -5.0)).has_value());

    // Hiding "update" through its legend item hides its spans from hover too.
    QCPAbstractLegendItem* item =
        view.plot()->legend->itemWithPlottable(view.spans(OpKind::Update));
    toggleLegendItem(view.plot(), item);
    EXPECT_FALSE(view.spans(OpKind::Update)->visible());
    const QPointF onUpdate(view.plot()->xAxis->coordToPixel(11.95),
                           view.plot()->yAxis->coordToPixel(3.0));
    const auto near = view.eventAt(onUpdate);
    EXPECT_TRUE(!near.has_value() || near->op != OpKind::Update);
}

TEST(TimelineView, DrawsAtMostAboutOneRectanglePerPixelColumn) {
    TimelineView view;
    showStashRun(view, QSize(1600, 900), 8'334);  // 100,008 events
    ASSERT_GE(view.eventCount(), 100'000U);
    view.setFollowLive(false);
    view.plot()->rescaleAxes();
    view.plot()->replot();
    std::size_t drawn = 0;
    for (const OpKind op : {OpKind::Forward, OpKind::Backward, OpKind::Update}) {
        drawn += view.spans(op)->lastDrawnRects();
    }
    const auto width = static_cast<std::size_t>(view.plot()->axisRect()->width());
    EXPECT_GT(drawn, 0U);
    EXPECT_LE(drawn,
              std::size_t{3} * 4 * width);  // merged: never more than a pixel column per row and op
    view.plot()->xAxis->setRange(1000.0, 1020.0);
    view.plot()->replot();
    EXPECT_EQ(view.spans(OpKind::Forward)->lastDrawnRects(), 4U * 21U);  // only the window
}

TEST(Views, AppendQueuesOneReplotForManyBatches) {
    TimelineView view;
    const PipelineLayout layout = resnetLayout("stash");
    QSignalSpy replots(view.plot(), &QCustomPlot::afterReplot);
    view.append(layerpipeRun(5, layout));
    view.append(layerpipeRun(5, layout));
    view.append(layerpipeRun(5, layout));
    EXPECT_EQ(replots.count(), 0);  // queued, not immediate
    ASSERT_TRUE(replots.wait(5000));
    EXPECT_EQ(replots.count(), 1);
}

TEST(StalenessView, ComparesConfiguredDelayWithMeasuredStalenessPerUnit) {
    StalenessView view;
    const PipelineLayout layout = resnetLayout("stash");
    view.setLayout(layout);
    view.append(layerpipeRun(40, layout));
    const auto units = view.units();
    ASSERT_EQ(units.size(), 10U);
    EXPECT_EQ(units[0].name, QStringLiteral("stem"));
    EXPECT_DOUBLE_EQ(units[0].configuredDelay, 6.0);
    // Staleness of update j is min(j, D_s): stage 0 gives 0..5 then 34 × 6.
    EXPECT_DOUBLE_EQ(units[0].meanStaleness, (15.0 + 34.0 * 6.0) / 40.0);
    EXPECT_DOUBLE_EQ(units[0].lastStaleness, 6.0);
    EXPECT_DOUBLE_EQ(units[9].configuredDelay, 0.0);
    EXPECT_DOUBLE_EQ(units[9].meanStaleness, 0.0);
    EXPECT_EQ(view.delayBars()->data()->size(), 10);
    EXPECT_EQ(view.meanGraph()->data()->size(), 10);
    EXPECT_DOUBLE_EQ(view.meanGraph()->data()->at(3)->value, (1.0 + 2 + 3 + 36 * 4) / 40.0);
    QCPColorMapData* map = view.heatmap()->data();
    EXPECT_EQ(map->keySize(), 40);  // updates 1..40, one bin each
    EXPECT_EQ(map->valueSize(), 10);
    EXPECT_DOUBLE_EQ(map->cell(39, 0), 6.0);
    EXPECT_DOUBLE_EQ(map->cell(0, 0), 0.0);
    EXPECT_DOUBLE_EQ(map->cell(39, 5), 2.0);  // layer3.0 sits on stage 2
    EXPECT_EQ(view.heatmap()->dataRange(), QCPRange(0.0, 6.0));
    view.append(layerpipeRun(2000, layout));
    EXPECT_EQ(view.heatmap()->data()->keySize(), StalenessView::kMaxHeatmapBins);
    view.clear();
    EXPECT_TRUE(std::isnan(view.units()[0].meanStaleness));
}

TEST(MemoryView, ForecastsThePolicyThatIsNotRunning) {
    const PipelineLayout layout = resnetLayout("stash");
    const std::int64_t stash = (6 * 149'824LL + 4 * 525'568LL + 2 * 2'099'712LL) * 4;
    const std::int64_t emaBuffer = (149'824LL + 525'568LL + 2'099'712LL) * 4;
    EXPECT_EQ(MemoryView::stashHistoryBytes(layout), stash);
    EXPECT_EQ(MemoryView::emaHistoryBytes(layout, false), emaBuffer);
    EXPECT_EQ(MemoryView::emaHistoryBytes(layout, true), 2 * emaBuffer);

    MemoryView view;
    view.setLayout(layout);
    view.append(layerpipeRun(40, layout));
    EXPECT_EQ(view.forecastGraph(QStringLiteral("stash")), nullptr);  // running: measured
    QCPGraph* ema = view.forecastGraph(QStringLiteral("ema"));
    ASSERT_NE(ema, nullptr);
    EXPECT_EQ(ema->name(), QStringLiteral("EMA (forecast)"));
    EXPECT_EQ(ema->pen().style(), Qt::DashLine);
    EXPECT_DOUBLE_EQ(lastValue(ema), static_cast<double>(emaBuffer) / MemoryView::kBytesPerMiB);
    view.setEmaScratchCounted(true);
    EXPECT_DOUBLE_EQ(lastValue(ema), static_cast<double>(2 * emaBuffer) / MemoryView::kBytesPerMiB);
    view.setEmaScratchCounted(false);
    EXPECT_EQ(view.measuredGraph()->name(), QStringLiteral("stash (measured)"));
    EXPECT_EQ(view.measuredGraph()->data()->size(), 46);  // one point per tick
    EXPECT_DOUBLE_EQ(lastValue(view.measuredGraph()),
                     static_cast<double>(stash) / MemoryView::kBytesPerMiB);
    EXPECT_FALSE(view.shadowGraph()->visible());
    const double total =
        static_cast<double>(2 * (149'824LL + 525'568LL + 2'099'712LL + 8'445'028LL) * 4 + stash +
                            16LL * 65'536) /
        MemoryView::kBytesPerMiB;
    EXPECT_NEAR(lastValue(view.stackGraph(MemoryCategory::OptimizerState)), total, 1e-9);
    EXPECT_EQ(view.stackGraph(MemoryCategory::WeightHistory)->channelFillGraph(),
              view.stackGraph(MemoryCategory::Weights));
}

TEST(MemoryView, ShadowStashNeverJoinsTheEmaCurve) {
    const PipelineLayout layout = resnetLayout("ema");
    MemoryView view;
    view.setLayout(layout);
    view.append(layerpipeRun(40, layout));
    EXPECT_EQ(view.forecastGraph(QStringLiteral("ema")), nullptr);
    ASSERT_NE(view.forecastGraph(QStringLiteral("stash")), nullptr);
    EXPECT_EQ(view.measuredGraph()->name(), QStringLiteral("EMA (measured)"));
    EXPECT_DOUBLE_EQ(
        lastValue(view.measuredGraph()),
        static_cast<double>(MemoryView::emaHistoryBytes(layout, true)) / MemoryView::kBytesPerMiB);
    EXPECT_TRUE(view.shadowGraph()->visible());
    EXPECT_EQ(view.shadowGraph()->pen().style(), Qt::DotLine);
    EXPECT_DOUBLE_EQ(
        lastValue(view.shadowGraph()),
        static_cast<double>(MemoryView::stashHistoryBytes(layout)) / MemoryView::kBytesPerMiB);
    EXPECT_TRUE(view.plot()->legend->hasItemWithPlottable(view.shadowGraph()));
}

// Issue 14: the momentum policy keeps no weight history: its forecast is a line at 0 in its own
// colour, and while it runs the stash and EMA forecasts stand beside its measured (zero) curve.
TEST(MemoryView, MomentumForecastIsZeroInItsOwnColour) {
    MemoryView view;
    view.setLayout(resnetLayout("ema"));
    QCPGraph* momentum = view.forecastGraph(QStringLiteral("momentum"));
    ASSERT_NE(momentum, nullptr);
    EXPECT_EQ(momentum->name(), QStringLiteral("momentum (forecast)"));
    EXPECT_EQ(momentum->pen().color(), palette::policyColor(QStringLiteral("momentum")));
    EXPECT_EQ(momentum->pen().style(), Qt::DashLine);
    EXPECT_TRUE(momentum->visible());
    EXPECT_DOUBLE_EQ(lastValue(momentum), 0.0);
    EXPECT_EQ(view.forecastBytes(QStringLiteral("momentum")), 0);

    view.setLayout(resnetLayout("momentum"));
    EXPECT_EQ(view.forecastGraph(QStringLiteral("momentum")), nullptr);  // running: measured
    EXPECT_EQ(view.measuredGraph()->name(), QStringLiteral("momentum (measured)"));
    EXPECT_EQ(view.measuredGraph()->pen().color(),
              palette::policyColor(QStringLiteral("momentum")));
    EXPECT_FALSE(momentum->visible());
    EXPECT_FALSE(view.plot()->legend->hasItemWithPlottable(momentum));
    for (const char* other : {"stash", "ema"}) {
        QCPGraph* g = view.forecastGraph(QString::fromLatin1(other));
        ASSERT_NE(g, nullptr) << other;
        EXPECT_TRUE(g->visible()) << other;
        EXPECT_GT(lastValue(g), 0.0) << other;
    }
    const std::set<QRgb> colours{palette::policyColor(QStringLiteral("stash")).rgb(),
                                 palette::policyColor(QStringLiteral("ema")).rgb(),
                                 palette::policyColor(QStringLiteral("momentum")).rgb(),
                                 palette::policyColor(QStringLiteral("latest")).rgb()};
    EXPECT_EQ(colours.size(), 4U);
}

TEST(TrainingView, PlotsLossAccuracyRateAndThroughput) {
    TrainingView view;
    TelemetryBatch run = layerpipeRun(300, resnetLayout("stash"));
    run.train[100].nonFinite = true;
    view.append(run);
    EXPECT_EQ(view.plot()->axisRectCount(), 3);
    EXPECT_EQ(view.lossRaw()->data()->size(), 300);
    EXPECT_TRUE(std::isnan(view.lossRaw()->data()->at(100)->value));
    EXPECT_EQ(view.lossSmoothed()->data()->size(), 299);
    EXPECT_EQ(view.testAccuracy()->data()->size(), 6);
    EXPECT_EQ(view.testLoss()->data()->size(), 6);
    EXPECT_EQ(view.throughput()->valueAxis(), view.rateRect()->axis(QCPAxis::atRight));
    EXPECT_EQ(view.accuracyRect()->axis(QCPAxis::atLeft)->range(), QCPRange(0.0, 100.0));
    const QCPRange x = view.lossRect()->axis(QCPAxis::atBottom)->range();
    EXPECT_DOUBLE_EQ(x.lower, 0.0);
    EXPECT_DOUBLE_EQ(x.upper, 299.0);
    EXPECT_EQ(view.rateRect()->axis(QCPAxis::atBottom)->range(), x);  // shared step axis
    // Loss on a log axis that spans every positive loss shown (raw, smoothed, test).
    const QCPAxis* lossAxis = view.lossRect()->axis(QCPAxis::atLeft);
    EXPECT_EQ(lossAxis->scaleType(), QCPAxis::stLogarithmic);
    bool found = false;
    const QCPRange raw = view.lossRaw()->getValueRange(found, QCP::sdPositive);
    ASSERT_TRUE(found);
    EXPECT_GT(lossAxis->range().lower, 0.0);
    EXPECT_LT(lossAxis->range().lower, raw.lower);
    EXPECT_GT(lossAxis->range().upper, raw.upper);
    EXPECT_NEAR(view.testAccuracy()->data()->at(0)->value,
                100.0 * static_cast<double>(run.eval[0].top1),
                1e-4);
}

TEST(TrainingView, SmoothedLossOfAConstantIsTheConstant) {
    TrainingView view;
    TelemetryBatch b;
    for (int j = 0; j < 20; ++j) {
        b.train.push_back({j, 0, 0.0, 2.5F, 0.5F, 0.1F, 100.0F, false});
    }
    view.append(b);
    for (int i = 0; i < 20; ++i) {
        EXPECT_NEAR(view.lossSmoothed()->data()->at(i)->value, 2.5, 1e-12) << i;
    }
    view.setSmoothing(0.0);  // no smoothing: the raw losses
    EXPECT_EQ(view.lossSmoothed()->name(), QStringLiteral("loss (EMA 0)"));
    EXPECT_DOUBLE_EQ(view.lossSmoothed()->data()->at(5)->value, 2.5);
}

// Issue 13: a test loss far above the training loss in a run with stale weights is explained
// above the charts; BN recalibration's results are drawn beside the plain ones.
TEST(TrainingView, ExplainsATestLossJumpAndDrawsRecalibratedResults) {
    EXPECT_TRUE(TrainingView::lossJumps(44.5, 2.25));
    EXPECT_FALSE(TrainingView::lossJumps(1.2, 0.9));
    EXPECT_FALSE(TrainingView::lossJumps(0.5, 0.1));  // three times, but less than 1 above
    EXPECT_FALSE(TrainingView::lossJumps(std::nan(""), 2.0));

    const auto epoch = [](float trainLoss, EvalSample e) {
        TelemetryBatch b;
        for (int j = 0; j < 40; ++j) {
            b.train.push_back(
                {e.epoch * 40 + j, e.epoch, 0.0, trainLoss, 0.2F, 0.1F, 100.0F, false});
        }
        b.eval.push_back(e);
        return b;
    };
    const EvalSample jump{.epoch = 0, .step = 40, .loss = 44.5F, .top1 = 0.09F, .top5 = 0.5F};
    TrainingView view;
    view.setLayout(resnetLayout("stash"));
    view.append(epoch(2.25F, jump));
    ASSERT_FALSE(view.note()->isHidden());
    EXPECT_TRUE(view.note()->text().contains(QStringLiteral("Test loss 44.5 after epoch 1")));
    EXPECT_TRUE(view.note()->text().contains(QStringLiteral("stale weights")));
    EXPECT_TRUE(view.note()->text().contains(QStringLiteral("BN recalibration")));
    EXPECT_TRUE(view.testLossRecalibrated()->data()->isEmpty());
    EXPECT_FALSE(view.plot()->legend->hasItemWithPlottable(view.testLossRecalibrated()));

    view.clear();
    EXPECT_TRUE(view.note()->isHidden());
    EvalSample recalibrated = jump;
    recalibrated.recalBatches = 20;
    recalibrated.recalLoss = 1.62F;
    recalibrated.recalTop1 = 0.332F;
    view.append(epoch(2.25F, recalibrated));
    ASSERT_EQ(view.testLossRecalibrated()->data()->size(), 1);
    EXPECT_FLOAT_EQ(static_cast<float>(view.testLossRecalibrated()->data()->at(0)->value), 1.62F);
    EXPECT_NEAR(view.testAccuracyRecalibrated()->data()->at(0)->value, 33.2, 1e-4);
    EXPECT_TRUE(view.plot()->legend->hasItemWithPlottable(view.testLossRecalibrated()));
    EXPECT_EQ(view.testLoss()->data()->size(), 1);  // the plain result stays
    ASSERT_FALSE(view.note()->isHidden());
    EXPECT_TRUE(view.note()->text().contains(QStringLiteral("test loss of 1.62 and top-1 33.2 %")));
    // The loss axis shows both.
    const QCPRange y = view.lossRect()->axis(QCPAxis::atLeft)->range();
    EXPECT_LT(y.lower, 1.62);
    EXPECT_GT(y.upper, 44.5);

    // No note where recalibration does not explain the jump, without a jump, or without stale
    // weights (GPipe; K = 1).
    view.clear();
    recalibrated.recalLoss = 40.0F;
    view.append(epoch(2.25F, recalibrated));
    EXPECT_TRUE(view.note()->isHidden());
    view.clear();
    view.append(epoch(2.25F, EvalSample{.epoch = 0, .step = 40, .loss = 2.0F}));
    EXPECT_TRUE(view.note()->isHidden());
    PipelineLayout gpipe = resnetLayout("stash");
    gpipe.schedule = "gpipe";
    view.clear();
    view.setLayout(gpipe);
    view.append(epoch(2.25F, jump));
    EXPECT_TRUE(view.note()->isHidden());
}

TEST(ReconstructionView, OneLogCurvePerStage) {
    ReconstructionView view;
    const PipelineLayout layout = resnetLayout("ema");
    view.setLayout(layout);
    TelemetryBatch run = layerpipeRun(60, layout);
    run.reconstruction.push_back({61, 0, 0.0F});  // exact: cannot sit on a log axis
    view.append(run);
    EXPECT_EQ(view.stageCount(), 4);
    EXPECT_EQ(view.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
    EXPECT_EQ(view.stageGraph(0)->data()->size(), 59);
    EXPECT_EQ(view.stageGraph(3)->data()->size(), 0);  // D = 0: nothing to reconstruct
    EXPECT_TRUE(view.stageGraph(0)->name().startsWith(QStringLiteral("stage 0 (stem")));
    EXPECT_GT(view.plot()->yAxis->range().lower, 0.0);
    EXPECT_LE(view.plot()->yAxis->range().lower, 2e-3 * 0.5);
}

TEST(ChartExport, WritesPngPdfAndSvg) {
    TrainingView view;
    view.resize(800, 500);
    view.append(layerpipeRun(100, resnetLayout("stash")));
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const std::pair<QString, QByteArray> cases[] = {
        {QStringLiteral("chart.png"), QByteArray("\x89PNG", 4)},
        {QStringLiteral("chart.PDF"), QByteArray("%PDF")},
        {QStringLiteral("chart.svg"), QByteArray("<svg")},
    };
    for (const auto& [name, magic] : cases) {
        const QString path = dir.filePath(name);
        QString error;
        ASSERT_TRUE(exportChart(view.plot(), path, &error)) << error.toStdString();
        QFile file(path);
        ASSERT_TRUE(file.open(QIODevice::ReadOnly));
        const QByteArray bytes = file.readAll();
        ASSERT_GT(bytes.size(), 100);
        if (magic == "<svg") {
            EXPECT_TRUE(bytes.contains(magic)) << name.toStdString();
        } else {
            EXPECT_TRUE(bytes.startsWith(magic)) << name.toStdString();
        }
    }
    EXPECT_EQ(QDir(dir.path()).entryList(QDir::Files).size(), 3);  // no temporaries left
}

TEST(ChartExport, ReportsFailures) {
    TrainingView view;
    QString error;
    EXPECT_FALSE(exportChart(view.plot(), QStringLiteral("/tmp/chart.bmp"), &error));
    EXPECT_TRUE(error.contains(QStringLiteral("bmp")));
    error.clear();
    EXPECT_FALSE(exportChart(view.plot(), QStringLiteral("/nonexistent-dir/x/chart.png"), &error));
    EXPECT_FALSE(error.isEmpty());
    QMenu* menu = buildExportMenu(view.plot(), &view);
    ASSERT_GE(menu->actions().size(), 3);
    EXPECT_EQ(menu->actions()[2]->text(), QStringLiteral("Export SVG…"));
}

TEST(ChartInteractions, HoverAndLegendToggle) {
    TrainingView view;
    view.resize(1000, 700);
    view.show();
    view.append(layerpipeRun(100, resnetLayout("stash")));
    view.plot()->replot();
    const auto point = view.testAccuracy()->data()->at(0);
    const QPointF at = view.testAccuracy()->coordsToPixels(point->key, point->value);
    const QString text = hoverText(view.plot(), at);
    EXPECT_TRUE(text.startsWith(QStringLiteral("test top-1 (epoch)"))) << text.toStdString();
    EXPECT_TRUE(text.contains(QStringLiteral("step 49")));
    QCPLegend* legend = nullptr;  // the accuracy chart's, in its row above the chart
    for (QCPLayoutElement* e : view.plot()->plotLayout()->elements(true)) {
        auto* l = qobject_cast<QCPLegend*>(e);
        legend = l != nullptr && l->hasItemWithPlottable(view.testAccuracy()) ? l : legend;
    }
    ASSERT_NE(legend, nullptr);
    toggleLegendItem(view.plot(), legend->itemWithPlottable(view.testAccuracy()));
    EXPECT_FALSE(view.testAccuracy()->visible());
    EXPECT_TRUE(hoverText(view.plot(), at).isEmpty() ||
                !hoverText(view.plot(), at).startsWith(QStringLiteral("test top-1")));
    toggleLegendItem(view.plot(), legend->itemWithPlottable(view.testAccuracy()));
    EXPECT_TRUE(view.testAccuracy()->visible());
}

// Demo mode: LP_UI_SHOT_DIR=/tmp/ui_shots lp_ui_tests --gtest_filter=ViewsDemo.*
TEST(ViewsDemo, RendersScreenshots) {
    if (!qEnvironmentVariableIsSet("LP_UI_SHOT_DIR")) {
        GTEST_SKIP() << "set LP_UI_SHOT_DIR to render screenshots";
    }
    const QString dir = qEnvironmentVariable("LP_UI_SHOT_DIR");
    ASSERT_TRUE(QDir().mkpath(dir));
    const PipelineLayout stash = resnetLayout("stash");
    const PipelineLayout ema = resnetLayout("ema");
    const QSize size(1600, 900);
    auto shoot = [&](auto& view, const PipelineLayout& layout, int minibatches, const char* name) {
        view.resize(size);
        view.setLayout(layout);
        view.append(layerpipeRun(minibatches, layout));
        QString error;
        EXPECT_TRUE(
            exportChart(view.plot(), dir + QLatin1Char('/') + QLatin1String(name), &error, size))
            << error.toStdString();
    };
    TimelineView timeline;
    timeline.show();
    shoot(timeline, stash, 60, "timeline_tick.png");
    timeline.setFollowLive(false);
    timeline.setTimeAxis(TimeAxis::WallClock);
    EXPECT_TRUE(exportChart(
        timeline.plot(), dir + QStringLiteral("/timeline_wallclock.png"), nullptr, size));
    TimelineView dense;  // 100,008 events, all visible: the decimated drawing
    dense.show();
    shoot(dense, stash, 8'334, "timeline_100k.png");
    dense.setFollowLive(false);
    dense.plot()->rescaleAxes();
    dense.plot()->yAxis->setRange(-0.6, 3.6);
    EXPECT_TRUE(
        exportChart(dense.plot(), dir + QStringLiteral("/timeline_100k.png"), nullptr, size));
    StalenessView staleness;
    shoot(staleness, stash, 120, "staleness.png");
    MemoryView memory;
    shoot(memory, stash, 120, "memory_stash.png");
    MemoryView memoryEma;
    shoot(memoryEma, ema, 120, "memory_ema.png");
    TrainingView training;
    shoot(training, stash, 600, "training.png");
    ReconstructionView reconstruction;
    shoot(reconstruction, ema, 300, "reconstruction.png");
    // At least two decades, so the log ticker shows powers of ten, not linear ticks.
    EXPECT_GE(
        reconstruction.plot()->yAxis->range().upper / reconstruction.plot()->yAxis->range().lower,
        99.0);
    EXPECT_TRUE(exportChart(
        reconstruction.plot(), dir + QStringLiteral("/reconstruction.svg"), nullptr, size));
}

}  // namespace
}  // namespace lp::ui
