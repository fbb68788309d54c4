// Issue 13, "legible at any size": every chart laid out at the sizes it gets in the dashboard and
// alone at 1024x768, 1440x900 and 1920x1080, and in exports, keeps its legends outside the axis
// rects and inside the chart, its titles whole (wrapped or smaller, never "…"), its explanations
// wrapped; themes change the chart colours and the zoom scales fonts and lines. Asserts layout
// rectangles and styles, not pixels (STYLE.md section 7).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chart_layout.hpp"

#include "ui/chart_export.hpp"
#include "ui/memory_view.hpp"
#include "ui/palette.hpp"
#include "ui/reconstruction_view.hpp"
#include "ui/staleness_view.hpp"
#include "ui/timeline_view.hpp"
#include "ui/training_view.hpp"

#include "tests/support/resnet18_units.hpp"
#include "tests/ui/default_look.hpp"

#include <QLayout>
#include <QTemporaryDir>
#include <qcustomplot.h>

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace lp::ui {
namespace {

using namespace core::telemetry;  // NOLINT(google-build-using-namespace): test brevity

// K stages, unit u on stage u * K / 10, LayerPipe delays 2(K - 1 - s).
PipelineLayout layoutOf(int stages, const std::string& policy) {
    PipelineLayout layout;
    layout.unitNames = lp::test::resnet18UnitNames();
    for (int u = 0; u < 10; ++u) {
        layout.stageOfUnit.push_back(u * stages / 10);
    }
    for (int s = 0; s < stages; ++s) {
        layout.delays.push_back(2 * (stages - 1 - s));
        layout.stageParams.push_back(100'000 * (s + 1));
    }
    layout.policy = policy;
    layout.schedule = "layerpipe";
    return layout;
}

// A bit of everything every view draws, for `steps` minibatches.
TelemetryBatch runOf(const PipelineLayout& layout, int steps) {
    TelemetryBatch b;
    const int k = layout.stages();
    for (int tau = 0; tau < steps + 2 * k - 2; ++tau) {
        for (int s = 0; s < k; ++s) {
            const double t = tau * 1000.0 + s;
            const auto d = layout.delays[static_cast<std::size_t>(s)];
            if (tau - s >= 0 && tau - s < steps) {
                b.ops.push_back({s, OpKind::Forward, tau - s, 0, tau, t, t + 300, s});
            }
            const int jb = tau - (2 * k - 2 - s);
            if (jb >= 0 && jb < steps) {
                b.ops.push_back({s, OpKind::Backward, jb, 0, tau, t + 300, t + 900, s});
                b.ops.push_back({s, OpKind::Update, jb, jb, tau, t + 900, t + 950, s});
                b.staleness.push_back({jb + 1, s, std::min<std::int64_t>(jb, d), d});
                if (d > 0 && jb > 0) {
                    b.reconstruction.push_back({jb, s, static_cast<float>(1e-3 * (s + 1))});
                }
            }
            const std::int64_t p = layout.stageParams[static_cast<std::size_t>(s)];
            b.memory.push_back({t, tau, s, MemoryCategory::Weights, p * 4});
            b.memory.push_back({t, tau, s, MemoryCategory::WeightHistory, d * p * 4});
            b.memory.push_back({t, tau, s, MemoryCategory::Activations, 65'536});
            b.memory.push_back({t, tau, s, MemoryCategory::OptimizerState, p * 4});
        }
    }
    for (int j = 0; j < steps; ++j) {
        b.train.push_back({j,
                           j / 20,
                           j * 1000.0,
                           static_cast<float>(2.0 + std::sin(j)),
                           0.3F,
                           0.05F,
                           900.0F,
                           false});
        if (j % 20 == 19) {
            b.eval.push_back({j / 20, j, 2.1F, 0.3F, 0.6F});
        }
    }
    return b;
}

std::vector<chart::FlowLegend*> legendsOf(QCustomPlot* plot) {
    std::vector<chart::FlowLegend*> out;
    for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
        if (auto* legend = qobject_cast<chart::FlowLegend*>(e)) {
            out.push_back(legend);
        }
    }
    return out;
}

// The checks of "a layout that never hides data", after a layout of plot at its current size
// (or, for an export, at `exported`).
void expectLegible(QCustomPlot* plot, const QString& what, QSize exported = QSize()) {
    SCOPED_TRACE(what.toStdString());
    const QRect viewport = exported.isValid() ? QRect(QPoint(0, 0), exported) : plot->viewport();
    for (chart::FlowLegend* legend : legendsOf(plot)) {
        if (!legend->visible()) {
            // Collapsed only for want of height (or by the user): then it takes no room at all.
            EXPECT_EQ(legend->outerRect().height(), 0);
            continue;
        }
        EXPECT_TRUE(viewport.contains(legend->outerRect())) << "legend outside the chart";
        for (QCPAxisRect* rect : plot->axisRects()) {
            EXPECT_FALSE(legend->outerRect().intersects(rect->rect())) << "legend over the data";
        }
        for (QCPAbstractLegendItem* item : legend->entries()) {
            // Every entry gets at least the room its text needs (nothing cut to "forwa…").
            EXPECT_GE(item->outerRect().width(), item->minimumOuterSizeHint().width())
                << item->metaObject()->className();
            EXPECT_TRUE(viewport.contains(item->outerRect()));
        }
    }
    for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
        auto* title = qobject_cast<chart::ChartTitle*>(e);
        if (title == nullptr || !title->visible() || qobject_cast<chart::NoteText*>(e) != nullptr) {
            continue;
        }
        EXPECT_EQ(title->fittedLines().join(QLatin1Char(' ')).remove(QStringLiteral(" ·")),
                  title->text().remove(QStringLiteral(" ·")));
        EXPECT_FALSE(title->fittedLines().join(QString()).contains(QStringLiteral("…")));
        EXPECT_LE(title->fittedLines().size(), 2);
        EXPECT_TRUE(viewport.contains(title->outerRect()));
    }
    // The axis rects do not overlap each other either (a squeezed layout would stack them).
    const QList<QCPAxisRect*> rects = plot->axisRects();
    for (int i = 0; i < rects.size(); ++i) {
        for (int j = i + 1; j < rects.size(); ++j) {
            EXPECT_FALSE(rects[i]->outerRect().intersects(rects[j]->outerRect()));
        }
    }
}

// Sizes a chart gets: alone (a tab) and in the dashboard, at 1024x768, 1440x900 and 1920x1080.
const std::vector<QSize> kChartSizes = {
    {730, 640},
    {240, 330},
    {480, 330},  // 1024x768: tab; dashboard cell; timeline cell
    {1010, 780},
    {320, 400},
    {640, 400},  // 1440x900
    {1480, 960},
    {500, 490},
    {1000, 490},  // 1920x1080
};

// Lays `view` out at `size`: two replots, the second sees the widths of the first.
template <typename View>
void layOut(View& view, QSize size) {
    view.resize(size);
    view.plot()->replot();
    view.plot()->replot();
}

// Shows `view` at `size` fed `minibatches` of `layout`, laid out.
template <typename View>
void showRun(View& view, QSize size, const PipelineLayout& layout, int minibatches) {
    view.resize(size);
    view.show();
    view.setLayout(layout);
    view.append(runOf(layout, minibatches));
    view.plot()->replot();
    view.plot()->replot();
}

template <typename View>
void checkAtEverySize(View& view, const QString& name) {
    // Exactly the size given, even below what the chart asks for (a dashboard cell of a window
    // that cannot grow).
    view.layout()->setSizeConstraint(QLayout::SetNoConstraint);
    view.show();
    for (const QSize& size : kChartSizes) {
        layOut(view, size);
        expectLegible(view.plot(),
                      QStringLiteral("%1 at %2x%3").arg(name).arg(size.width()).arg(size.height()));
    }
}

// A fresh View on `layout` fed 60 minibatches, checked at every size.
template <typename View>
void checkRunAtEverySize(const PipelineLayout& layout, const QString& name) {
    View view;
    view.setLayout(layout);
    view.append(runOf(layout, 60));
    checkAtEverySize(view, name);
}

TEST(ChartLayout, Issue13LegendsTitlesAndAxesFitEveryChartAtEverySize) {
    const PipelineLayout four = layoutOf(4, "ema");
    const PipelineLayout ten = layoutOf(10, "stash");
    checkRunAtEverySize<TimelineView>(ten, QStringLiteral("timeline"));
    checkRunAtEverySize<StalenessView>(ten, QStringLiteral("staleness"));
    checkRunAtEverySize<MemoryView>(four, QStringLiteral("memory"));
    checkRunAtEverySize<TrainingView>(four, QStringLiteral("training"));
    checkRunAtEverySize<ReconstructionView>(ten, QStringLiteral("EMA error"));
}

TEST(ChartLayout, Issue13ShortChartsCollapseTheirLastLegendsFirst) {
    TrainingView view;  // three charts, three legends
    // As in a dashboard cell of a small window: the widget gets less than it asks for.
    view.layout()->setSizeConstraint(QLayout::SetNoConstraint);
    view.show();
    view.append(runOf(layoutOf(4, "ema"), 60));
    bool anyCollapsed = false;
    for (int height = 130; height <= 700; height += 30) {
        layOut(view, QSize(300, height));
        const std::vector<chart::FlowLegend*> legends = legendsOf(view.plot());
        ASSERT_EQ(legends.size(), 3U);
        bool collapsedAbove = false;
        for (const chart::FlowLegend* legend : legends) {
            EXPECT_TRUE(!collapsedAbove || legend->collapsed()) << "height " << height;
            collapsedAbove = collapsedAbove || legend->collapsed();
        }
        anyCollapsed = anyCollapsed || collapsedAbove;
        EXPECT_EQ(chart::legendsCollapsed(view.plot()), collapsedAbove);
        expectLegible(view.plot(), QStringLiteral("training 300x%1").arg(height));
    }
    EXPECT_TRUE(anyCollapsed);
    EXPECT_FALSE(chart::legendsCollapsed(view.plot()));  // 700 px: room for all three
}

TEST(ChartLayout, Issue13TimelineTitleWrapsInsteadOfEliding) {
    TimelineView view;
    showRun(view, QSize(420, 400), layoutOf(4, "stash"), 100);
    auto* title = qobject_cast<chart::ChartTitle*>(view.plot()->plotLayout()->element(0, 0));
    ASSERT_NE(title, nullptr);
    EXPECT_TRUE(title->text().contains(QStringLiteral("mean utilisation")));
    EXPECT_EQ(title->fittedLines().size(), 2) << title->fittedLines().join('|').toStdString();
    // Wide: one line at the full size.
    layOut(view, QSize(1400, 400));
    EXPECT_EQ(title->fittedLines().size(), 1);
    EXPECT_DOUBLE_EQ(title->fittedFont().pointSizeF(), title->font().pointSizeF());
}

TEST(ChartLayout, Issue13WrapTextKeepsEveryWord) {
    QFont font;
    font.setPointSizeF(10.0);
    const QString text = QStringLiteral(
        "Timeline · LayerPipe · stash · 12,345 ops · mean "
        "utilisation 92.5%");
    const QStringList lines = chart::wrapText(text, font, 150);
    EXPECT_GT(lines.size(), 1);
    const QFontMetrics fm(font);
    for (const QString& line : lines) {
        EXPECT_LE(fm.horizontalAdvance(line), 150) << line.toStdString();
        EXPECT_FALSE(line.endsWith(QStringLiteral("·")));
    }
    EXPECT_EQ(lines.join(QLatin1Char(' ')).remove(QStringLiteral(" ·")),
              QString(text).remove(QStringLiteral(" ·")));
    // A word wider than the line breaks between characters rather than overflow.
    EXPECT_GT(chart::wrapText(QStringLiteral("‖Ŵ−Wᵥ‖/‖Wᵥ‖‖Ŵ−Wᵥ‖/‖Wᵥ‖"), font, 40).size(), 1);
}

TEST(ChartLayout, Issue13EmaErrorExplanationWrapsInsideTheChart) {
    ReconstructionView view;
    view.resize(240, 330);  // a dashboard cell at 1024x768
    view.show();
    view.setNoDataReason(QStringLiteral("the run does not use the EMA policy"));
    view.plot()->replot();
    chart::NoteText* note = nullptr;
    for (QCPLayoutElement* e : view.plot()->axisRect()->insetLayout()->elements(false)) {
        note = note != nullptr ? note : qobject_cast<chart::NoteText*>(e);
    }
    ASSERT_NE(note, nullptr);
    EXPECT_TRUE(note->visible());
    EXPECT_FALSE(note->text().contains(QLatin1Char('\n')));  // one paragraph, wrapped when drawn
    // Its rect lies inside the axis rect, so no word is cut at either side.
    EXPECT_TRUE(view.plot()->axisRect()->rect().contains(note->outerRect()));
    const QStringList lines = chart::wrapText(note->text(), note->font(), note->rect().width());
    const QFontMetrics fm(note->font());
    for (const QString& line : lines) {
        EXPECT_LE(fm.horizontalAdvance(line), note->rect().width());
    }
}

TEST(ChartLayout, Issue13StashForecastLabelIsNotUnderALegend) {
    MemoryView view;
    showRun(view, QSize(320, 400), layoutOf(4, "ema"), 60);
    QCPItemText* label = nullptr;
    for (int i = 0; i < view.plot()->itemCount(); ++i) {
        auto* text = qobject_cast<QCPItemText*>(view.plot()->item(i));
        if (text != nullptr && text->visible() &&
            text->text().startsWith(QStringLiteral("stash forecast"))) {
            label = text;
        }
    }
    ASSERT_NE(label, nullptr);
    const QPointF at = label->position->pixelPosition();  // the text's bottom right corner
    EXPECT_TRUE(view.plot()->axisRect()->rect().adjusted(-1, -1, 1, 1).contains(at.toPoint()));
    for (chart::FlowLegend* legend : legendsOf(view.plot())) {
        EXPECT_FALSE(legend->outerRect().contains(at.toPoint()));
    }
    // In a cell narrower than the label: a shorter form that fits the chart's width, above its
    // line, with room under the frame (the value axis grows for it).
    layOut(view, QSize(170, 330));
    const QFontMetrics fm(label->font());
    const QRect rect = view.plot()->axisRect()->rect();
    EXPECT_NE(label->text(), QStringLiteral("stash forecast: 0.44 MiB"));
    EXPECT_TRUE(label->text().contains(QStringLiteral("MiB"))) << label->text().toStdString();
    int lines = 0;
    for (const QString& line : label->text().split(QLatin1Char('\n'))) {
        EXPECT_LE(fm.horizontalAdvance(line), rect.width()) << line.toStdString();
        ++lines;
    }
    EXPECT_TRUE(label->positionAlignment().testFlag(Qt::AlignBottom));  // above the line
    EXPECT_GE(label->position->pixelPosition().y() - rect.top(), lines * fm.height());
}

TEST(ChartLayout, Issue13ExportsKeepTheLayout) {
    const PipelineLayout layout = layoutOf(10, "stash");
    TrainingView training;
    training.append(runOf(layout, 60));
    TimelineView timeline;  // never shown: its first layout is the export's
    timeline.setLayout(layout);
    timeline.append(runOf(layout, 60));
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    for (QCustomPlot* plot : {training.plot(), timeline.plot()}) {
        for (const QSize& size : {QSize(960, 600), QSize(480, 360)}) {
            QString error;
            ASSERT_TRUE(exportChart(plot, dir.filePath(QStringLiteral("c.png")), &error, size))
                << error.toStdString();
            // The export left the elements where its own layout (at `size`) put them.
            expectLegible(
                plot, QStringLiteral("export %1x%2").arg(size.width()).arg(size.height()), size);
        }
    }
}

// ---- Themes and zoom ----

// The colour of the chart's top left corner, where only the background is.
QColor backgroundOf(QCustomPlot* plot) {
    return plot->toPixmap(200, 150).toImage().pixelColor(1, 1);
}

using Look = test::DefaultLook;

TEST_F(Look, Issue13ThemesChangeTheChartColours) {
    TrainingView view;
    view.resize(800, 600);
    view.show();
    view.append(runOf(layoutOf(4, "ema"), 40));
    view.plot()->replot();
    const QColor lightBackground = backgroundOf(view.plot());
    const QColor lightText = view.lossRect()->axis(QCPAxis::atLeft)->tickLabelColor();
    const QColor lightLoss = view.lossSmoothed()->pen().color();
    EXPECT_EQ(lightBackground, QColor(Qt::white));

    palette::setTheme(palette::Theme::Dark);
    view.plot()->replot();
    const QColor darkBackground = backgroundOf(view.plot());
    EXPECT_LT(darkBackground.lightnessF(), 0.2);
    EXPECT_GT(view.lossRect()->axis(QCPAxis::atLeft)->tickLabelColor().lightnessF(), 0.8);
    EXPECT_NE(view.lossSmoothed()->pen().color(), lightLoss);
    EXPECT_GT(view.lossSmoothed()->pen().color().lightnessF(), lightLoss.lightnessF());
    EXPECT_GT(view.plot()->legend->textColor().lightnessF(), 0.8);

    palette::setTheme(palette::Theme::HighContrast);
    view.plot()->replot();
    EXPECT_EQ(backgroundOf(view.plot()), QColor(Qt::black));
    EXPECT_EQ(view.lossRect()->axis(QCPAxis::atLeft)->tickLabelColor(), QColor(Qt::white));
    EXPECT_GT(view.lossSmoothed()->pen().widthF(), 2.0);  // thicker lines

    // Back to light: exactly the original look (nothing compounds).
    palette::setTheme(palette::Theme::Light);
    view.plot()->replot();
    EXPECT_EQ(backgroundOf(view.plot()), lightBackground);
    EXPECT_EQ(view.lossRect()->axis(QCPAxis::atLeft)->tickLabelColor(), lightText);
    EXPECT_EQ(view.lossSmoothed()->pen().color(), lightLoss);
    EXPECT_DOUBLE_EQ(view.lossSmoothed()->pen().widthF(), 2.0);
}

TEST_F(Look, Issue13ZoomScalesChartFontsAndLineWidths) {
    StalenessView view;
    view.resize(900, 700);
    view.show();
    const PipelineLayout layout = layoutOf(4, "stash");
    view.setLayout(layout);
    view.append(runOf(layout, 40));
    view.plot()->replot();
    QCPAxis* y = view.delayBars()->valueAxis();
    const double tick = y->tickLabelFont().pointSizeF();
    const double legend = view.plot()->legend->font().pointSizeF();
    const double scatter = view.meanGraph()->scatterStyle().size();
    const double bar = view.delayBars()->pen().widthF();
    auto* title = qobject_cast<QCPTextElement*>(view.plot()->plotLayout()->element(0, 0));
    ASSERT_NE(title, nullptr);
    const double titlePt = title->font().pointSizeF();

    palette::setZoom(2.0);
    view.plot()->replot();
    view.plot()->replot();
    EXPECT_DOUBLE_EQ(y->tickLabelFont().pointSizeF(), 2.0 * tick);
    EXPECT_DOUBLE_EQ(view.plot()->legend->font().pointSizeF(), 2.0 * legend);
    EXPECT_DOUBLE_EQ(view.meanGraph()->scatterStyle().size(), 2.0 * scatter);
    EXPECT_DOUBLE_EQ(view.delayBars()->pen().widthF(), 2.0 * bar);
    EXPECT_DOUBLE_EQ(title->font().pointSizeF(), 2.0 * titlePt);
    expectLegible(view.plot(), QStringLiteral("staleness at zoom 2"));

    palette::setZoom(1.0);
    view.plot()->replot();
    EXPECT_DOUBLE_EQ(y->tickLabelFont().pointSizeF(), tick);
    EXPECT_DOUBLE_EQ(view.delayBars()->pen().widthF(), bar);
    EXPECT_DOUBLE_EQ(title->font().pointSizeF(), titlePt);
    palette::setZoom(100.0);
    EXPECT_DOUBLE_EQ(palette::zoom(), palette::kZoomMax);
}

TEST_F(Look, Issue13LegendsCollapseAndComeBack) {
    MemoryView view;
    view.resize(700, 500);
    view.show();
    view.setLayout(layoutOf(4, "stash"));
    view.plot()->replot();
    const int withLegend = view.plot()->axisRect()->rect().height();
    chart::setLegendsShown(false);
    view.plot()->replot();
    for (chart::FlowLegend* legend : legendsOf(view.plot())) {
        EXPECT_FALSE(legend->visible());
    }
    EXPECT_GT(view.plot()->axisRect()->rect().height(), withLegend);  // the room goes to the data
    chart::setLegendsShown(true);
    view.plot()->replot();
    EXPECT_TRUE(view.plot()->legend->visible());
    EXPECT_EQ(view.plot()->axisRect()->rect().height(), withLegend);
}

TEST(Palette, Issue13ThemeNamesRoundTrip) {
    for (const palette::Theme t :
         {palette::Theme::Light, palette::Theme::Dark, palette::Theme::HighContrast}) {
        EXPECT_EQ(palette::themeFromName(palette::themeName(t)), t);
    }
    EXPECT_EQ(palette::themeFromName(QStringLiteral("Contrast")), palette::Theme::HighContrast);
    EXPECT_FALSE(palette::themeFromName(QStringLiteral("sepia")).has_value());
}

}  // namespace
}  // namespace lp::ui
