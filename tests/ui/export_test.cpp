// Exports for reports: size presets (a 300 dpi single-column PNG has the pixels and dpi it
// says), the whole recorded range instead of the visible window, file names from chart and
// experiment, and the report folder's index page.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "ui/chart_export.hpp"
#include "ui/report_index.hpp"

#include <QFile>
#include <QImage>
#include <QMenu>
#include <QTemporaryDir>
#include <qcustomplot.h>

#include <gtest/gtest.h>

#include <cmath>

namespace lp::ui {
namespace {

// A line over keys 0..10 only, while the view shows keys 500..600.
void fillPlot(QCustomPlot& plot) {
    plot.resize(600, 400);
    QCPGraph* graph = plot.addGraph();
    graph->setPen(QPen(QColor(255, 0, 0), 3));
    for (int k = 0; k <= 10; ++k) {
        graph->addData(k, k % 2 == 0 ? 0.2 : 0.8);
    }
    plot.xAxis->setRange(500, 600);
    plot.yAxis->setRange(0, 1);
}

int redPixels(const QString& path) {
    const QImage image(path);
    int count = 0;
    for (int y = 0; y < image.height(); ++y) {
        for (int x = 0; x < image.width(); ++x) {
            const QColor c = image.pixelColor(x, y);
            count += c.red() > 200 && c.green() < 60 && c.blue() < 60 ? 1 : 0;
        }
    }
    return count;
}

TEST(ChartExport, SizePresetsGiveTheirPixelsAndDpi) {
    QCustomPlot plot;
    fillPlot(plot);
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const std::vector<ExportSize>& sizes = exportSizes();
    ASSERT_GE(sizes.size(), 4U);
    ExportSettings settings;
    for (int i = 0; i < static_cast<int>(sizes.size()); ++i) {
        if (sizes[static_cast<std::size_t>(i)].label.startsWith(QStringLiteral("Single column"))) {
            settings.size = i;
        }
    }
    const QString path = dir.filePath(QStringLiteral("single.png"));
    QString error;
    ASSERT_TRUE(exportChartWithSettings(&plot, path, settings, &error)) << error.toStdString();
    const QImage image(path);
    EXPECT_EQ(image.width(), 1050);  // 3.5 in at 300 dpi
    EXPECT_EQ(image.height(), 750);  // 2.5 in
    EXPECT_NEAR(image.dotsPerMeterX() * 0.0254, 300.0, 0.5);

    settings.size = 0;  // as on screen: the widget's size, 2x
    ASSERT_TRUE(exportChartWithSettings(&plot, path, settings, &error)) << error.toStdString();
    EXPECT_EQ(QImage(path).width(), 1200);
    EXPECT_FALSE(exportChart(&plot, path, &error, QSize(100, 100), 0.0));
}

TEST(ChartExport, WholeRangeExportsAllDataAndRestoresTheView) {
    QCustomPlot plot;
    fillPlot(plot);
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    ExportSettings settings;
    const QString visible = dir.filePath(QStringLiteral("visible.png"));
    const QString whole = dir.filePath(QStringLiteral("whole.png"));
    ASSERT_TRUE(exportChartWithSettings(&plot, visible, settings));
    settings.wholeRange = true;
    ASSERT_TRUE(exportChartWithSettings(&plot, whole, settings));
    EXPECT_EQ(redPixels(visible), 0);  // the data lies left of the view
    EXPECT_GT(redPixels(whole), 500);
    EXPECT_EQ(plot.xAxis->range().lower, 500.0);  // the user's view is back
    EXPECT_EQ(plot.xAxis->range().upper, 600.0);
}

TEST(ChartExport, FileNamesComeFromExperimentAndChart) {
    QCustomPlot plot;
    const QString saved = exportSettings().experiment;
    exportSettings().experiment = QString();
    EXPECT_EQ(proposedFileName(&plot, QStringLiteral("png")), QStringLiteral("chart.png"));
    plot.setObjectName(QStringLiteral("timeline"));
    exportSettings().experiment = QStringLiteral("3. EMA saves memory / K=4");
    EXPECT_EQ(proposedFileName(&plot, QStringLiteral("svg")),
              QStringLiteral("3.-EMA-saves-memory---K-4_timeline.svg"));
    exportSettings().experiment = saved;

    QMenu* menu = buildExportMenu(&plot, nullptr);
    ASSERT_GE(menu->actions().size(), 3);
    EXPECT_EQ(menu->actions()[0]->text(), QStringLiteral("Export PNG…"));
    bool hasSizes = false;
    bool hasWhole = false;
    for (QAction* a : menu->actions()) {
        hasSizes = hasSizes || a->text() == QStringLiteral("Export size");
        hasWhole = hasWhole || (a->isCheckable() && a->text().startsWith(QStringLiteral("Whole")));
    }
    EXPECT_TRUE(hasSizes);
    EXPECT_TRUE(hasWhole);
    delete menu;  // NOLINT(cppcoreguidelines-owning-memory): no parent
}

TEST(ReportIndex, ShowsEveryChartWithItsCaptionAndEscapesText) {
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    ReportPage page;
    page.title = QStringLiteral("Lesson <3> & co");
    page.summary = QStringLiteral("2 epochs");
    page.experimentJson = QStringLiteral("{\"name\": \"a<b\"}");
    for (const char* file : {"timeline", "memory", "training"}) {
        page.charts.push_back({QString::fromLatin1(file),
                               QString::fromLatin1(file).toUpper(),
                               reportCaption(QString::fromLatin1(file))});
    }
    page.dataFiles = {QStringLiteral("csv/train.csv"), QStringLiteral("trace.json")};
    writeReportIndex(dir.path(), page);
    QFile file(dir.filePath(QStringLiteral("index.html")));
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    const QString html = QString::fromUtf8(file.readAll());
    EXPECT_TRUE(html.contains(QStringLiteral("<h1>Lesson &lt;3&gt; &amp; co</h1>")));
    EXPECT_TRUE(html.contains(QStringLiteral("<img src=\"timeline.png\"")));
    EXPECT_TRUE(html.contains(QStringLiteral("href=\"memory.pdf\"")));
    EXPECT_TRUE(html.contains(QStringLiteral("Figure 3. TRAINING.")));
    EXPECT_TRUE(html.contains(reportCaption(QStringLiteral("timeline")).toHtmlEscaped()));
    EXPECT_TRUE(html.contains(QStringLiteral("href=\"csv/train.csv\"")));
    EXPECT_TRUE(html.contains(QStringLiteral("a&lt;b")));
    for (const char* known :
         {"timeline", "staleness", "memory", "training", "ema_error", "compare"}) {
        EXPECT_FALSE(reportCaption(QString::fromLatin1(known)).isEmpty()) << known;
    }
    EXPECT_THROW(writeReportIndex(QStringLiteral("/nonexistent-dir/x"), page), core::InputError);
}

}  // namespace
}  // namespace lp::ui
