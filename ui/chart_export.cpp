// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chart_export.hpp"

#include "ui/palette.hpp"

#include <QActionGroup>
#include <QBuffer>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QImage>
#include <QMenu>
#include <QMessageBox>
#include <QPointer>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTemporaryDir>
#include <QToolTip>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace lp::ui {

namespace {

constexpr QSize kFallbackSize(640, 400);
constexpr double kHoverRadiusPx = 24.0;
constexpr double kLogicalDpi = 96.0;  // logical pixels per inch

QString lastExportFolder;  // where the last chart export went (GUI thread)

bool fail(QString* error, const QString& message) {
    if (error != nullptr) {
        *error = message;
    }
    return false;
}

QSize exportSize(const QCustomPlot* plot, QSize requested) {
    if (requested.isValid() && !requested.isEmpty()) {
        return requested;
    }
    const QSize widget = plot->size();
    // A widget that was never shown still reports Qt's default 640x480 or less; anything tiny
    // would give an unreadable chart.
    if (widget.width() < 50 || widget.height() < 50) {
        return kFallbackSize;
    }
    return widget;
}

bool renderPng(QCustomPlot* plot, QSize size, double scale, QByteArray* bytes, QString* error) {
    QImage image = plot->toPixmap(size.width(), size.height(), scale).toImage();
    if (image.isNull()) {
        return fail(error, QStringLiteral("rendering the chart to an image failed"));
    }
    // 96 dpi at scale 1, so the image prints at its logical size (2x: the on-screen size).
    const int dotsPerMeter = static_cast<int>(std::lround(kLogicalDpi * scale / 0.0254));
    image.setDotsPerMeterX(dotsPerMeter);
    image.setDotsPerMeterY(dotsPerMeter);
    QBuffer buffer(bytes);
    buffer.open(QIODevice::WriteOnly);
    if (!image.save(&buffer, "PNG")) {
        return fail(error, QStringLiteral("encoding the PNG failed"));
    }
    return true;
}

bool renderPdf(QCustomPlot* plot, QSize size, QByteArray* bytes, QString* error) {
    // savePdf only writes to a file name; render into a private temporary directory and move the
    // bytes through QSaveFile like the other formats, so the target is replaced atomically.
    const QTemporaryDir dir;
    if (!dir.isValid()) {
        return fail(
            error,
            QStringLiteral("cannot create a temporary directory: %1").arg(dir.errorString()));
    }
    const QString tmpPath = dir.filePath(QStringLiteral("chart.pdf"));
    if (!plot->savePdf(tmpPath,
                       size.width(),
                       size.height(),
                       QCP::epAllowCosmetic,
                       QStringLiteral("LayerPipe Studio"),
                       plot->windowTitle())) {
        return fail(error, QStringLiteral("QCustomPlot::savePdf failed"));
    }
    QFile file(tmpPath);
    if (!file.open(QIODevice::ReadOnly)) {
        return fail(error, file.errorString());
    }
    *bytes = file.readAll();
    return true;
}

bool renderSvg(QCustomPlot* plot, QSize size, QByteArray* bytes, QString* error) {
    // QCustomPlot 2.1 has no saveSvg (STYLE.md known traps): paint through QSvgGenerator.
    QBuffer buffer(bytes);
    buffer.open(QIODevice::WriteOnly);
    QSvgGenerator generator;
    generator.setOutputDevice(&buffer);
    generator.setSize(size);
    generator.setViewBox(QRect(QPoint(0, 0), size));
    generator.setTitle(QStringLiteral("LayerPipe Studio chart"));
    generator.setDescription(QStringLiteral("Exported by LayerPipe Studio"));
    QCPPainter painter;
    if (!painter.begin(&generator)) {
        return fail(error, QStringLiteral("cannot start the SVG painter"));
    }
    painter.setMode(QCPPainter::pmVectorized);
    plot->toPainter(&painter, size.width(), size.height());
    painter.end();
    return true;
}

QString formatNumber(double v) {
    return QString::number(v, 'g', 6);
}

// The label of key on axis: the text ticker's label where there is one (unit names), else the
// number.
QString keyLabel(QCPAxis* axis, double key) {
    if (auto text = axis->ticker().dynamicCast<QCPAxisTickerText>(); !text.isNull()) {
        const auto it = text->ticks().constFind(std::round(key));
        if (it != text->ticks().constEnd()) {
            return it.value().split(QLatin1Char('\n')).front();
        }
    }
    const QString label = axis->label().isEmpty() ? QStringLiteral("x") : axis->label();
    return QStringLiteral("%1 %2").arg(label, formatNumber(key));
}

struct Nearest {
    double distance = std::numeric_limits<double>::infinity();
    QString text;
};

void nearestOnGraph(QCPGraph* graph, const QPointF& pos, Nearest* best) {
    const auto data = graph->data();
    if (data->isEmpty()) {
        return;
    }
    // Graphs here have a horizontal key axis.
    const double key = graph->keyAxis()->pixelToCoord(pos.x());
    auto it = data->findBegin(key, true);
    for (int k = 0; k < 2 && it != data->constEnd(); ++k, ++it) {
        if (std::isnan(it->value)) {
            continue;
        }
        const QPointF p = graph->coordsToPixels(it->key, it->value);
        const double d = std::hypot(p.x() - pos.x(), p.y() - pos.y());
        if (d < best->distance && d <= kHoverRadiusPx) {
            best->distance = d;
            best->text = QStringLiteral("%1\n%2: %3")
                             .arg(graph->name(),
                                  keyLabel(graph->keyAxis(), it->key),
                                  formatNumber(it->value));
        }
    }
}

void cellOnColorMap(QCPColorMap* map, const QPointF& pos, Nearest* best) {
    double key = 0.0;
    double value = 0.0;
    map->pixelsToCoords(pos, key, value);
    const QCPColorMapData* data = map->data();
    if (!data->keyRange().contains(key) || !data->valueRange().contains(value)) {
        // Cells extend half a cell beyond the ranges; close enough for a tooltip.
        return;
    }
    int keyIndex = 0;
    int valueIndex = 0;
    data->coordToCell(key, value, &keyIndex, &valueIndex);
    const double z = map->data()->cell(keyIndex, valueIndex);
    if (std::isnan(z)) {
        return;
    }
    best->distance = 0.0;
    best->text = QStringLiteral("%1\n%2, %3\nvalue: %4")
                     .arg(map->name(),
                          keyLabel(map->keyAxis(), key),
                          keyLabel(map->valueAxis(), value),
                          formatNumber(z));
}

// Bars are vertical here (key axis horizontal): a hit is inside the bar's column, between the
// base line and a little above its top.
void nearestBar(QCPBars* bars, const QPointF& pos, Nearest* best) {
    QCPAxis* keyAxis = bars->keyAxis();
    QCPAxis* valueAxis = bars->valueAxis();
    const double base = valueAxis->coordToPixel(bars->baseValue());
    for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it) {
        const double x = keyAxis->coordToPixel(it->key);
        const double halfWidth = std::abs(keyAxis->coordToPixel(it->key + bars->width() / 2.0) - x);
        const double top = valueAxis->coordToPixel(it->value);
        const double dx = std::abs(pos.x() - x);
        const bool inColumn = dx <= halfWidth;
        const bool inHeight =
            pos.y() >= std::min(top, base) - 6.0 && pos.y() <= std::max(top, base) + 6.0;
        if (inColumn && inHeight && dx < best->distance) {
            best->distance = dx;
            best->text =
                QStringLiteral("%1\n%2: %3")
                    .arg(bars->name(), keyLabel(keyAxis, it->key), formatNumber(it->value));
        }
    }
}

}  // namespace

bool exportChart(
    QCustomPlot* plot, const QString& path, QString* error, QSize size, double pngScale) {
    if (plot == nullptr) {
        return fail(error, QStringLiteral("no chart to export"));
    }
    const QString suffix = QFileInfo(path).suffix().toLower();
    const QSize pixels = exportSize(plot, size);
    QByteArray bytes;
    bool ok = false;
    if (suffix == QStringLiteral("png")) {
        if (!(pngScale > 0.0 && pngScale <= 16.0)) {
            return fail(error, QStringLiteral("PNG scale %1 is outside (0, 16]").arg(pngScale));
        }
        ok = renderPng(plot, pixels, pngScale, &bytes, error);
    } else if (suffix == QStringLiteral("pdf")) {
        ok = renderPdf(plot, pixels, &bytes, error);
    } else if (suffix == QStringLiteral("svg")) {
        ok = renderSvg(plot, pixels, &bytes, error);
    } else {
        return fail(error,
                    QStringLiteral("unknown chart format \"%1\" in %2: use .png, .pdf or "
                                   ".svg")
                        .arg(suffix, path));
    }
    if (!ok) {
        return false;
    }
    if (bytes.isEmpty()) {
        return fail(error, QStringLiteral("the %1 renderer produced no bytes").arg(suffix));
    }
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly)) {
        return fail(error, QStringLiteral("cannot write %1: %2").arg(path, out.errorString()));
    }
    if (out.write(bytes) != bytes.size()) {
        out.cancelWriting();
        return fail(error, QStringLiteral("cannot write %1: %2").arg(path, out.errorString()));
    }
    if (!out.commit()) {
        return fail(error, QStringLiteral("cannot write %1: %2").arg(path, out.errorString()));
    }
    return true;
}

const std::vector<ExportSize>& exportSizes() {
    static const std::vector<ExportSize> sizes{
        {QStringLiteral("As on screen (2x pixels)"), QSize(), 2.0},
        {QStringLiteral("Report: 960 x 600 (PNG 1920 x 1200)"), QSize(960, 600), 2.0},
        {QStringLiteral("Single column: 3.5 x 2.5 in, 300 dpi"),
         QSize(static_cast<int>(3.5 * kLogicalDpi), static_cast<int>(2.5 * kLogicalDpi)),
         300.0 / kLogicalDpi},
        {QStringLiteral("Double column: 7 x 3.5 in, 300 dpi"),
         QSize(static_cast<int>(7.0 * kLogicalDpi), static_cast<int>(3.5 * kLogicalDpi)),
         300.0 / kLogicalDpi},
        {QStringLiteral("Slide: 1920 x 1080 px"), QSize(960, 540), 2.0},
    };
    return sizes;
}

ExportSettings& exportSettings() {
    static ExportSettings settings;
    return settings;
}

QString proposedFileName(const QCustomPlot* plot, const QString& suffix) {
    const auto clean = [](QString text) {
        for (QChar& c : text) {
            const bool keep = (c >= QLatin1Char('a') && c <= QLatin1Char('z')) ||
                              (c >= QLatin1Char('A') && c <= QLatin1Char('Z')) ||
                              (c >= QLatin1Char('0') && c <= QLatin1Char('9')) ||
                              c == QLatin1Char('.') || c == QLatin1Char('_') ||
                              c == QLatin1Char('-');
            if (!keep) {
                c = QLatin1Char('-');
            }
        }
        return text;
    };
    const QString chart = plot != nullptr && !plot->objectName().isEmpty()
                              ? clean(plot->objectName())
                              : QStringLiteral("chart");
    const QString experiment = clean(exportSettings().experiment.trimmed());
    const QString stem = experiment.isEmpty() ? chart : experiment + QLatin1Char('_') + chart;
    return stem + QLatin1Char('.') + suffix;
}

bool exportChartWithSettings(QCustomPlot* plot,
                             const QString& path,
                             const ExportSettings& settings,
                             QString* error) {
    if (plot == nullptr) {
        return fail(error, QStringLiteral("no chart to export"));
    }
    const std::vector<ExportSize>& sizes = exportSizes();
    const ExportSize& size = sizes[static_cast<std::size_t>(
        std::clamp<int>(settings.size, 0, static_cast<int>(sizes.size()) - 1))];
    // Whole range: each axis rect's bottom axis takes its plottables' key range for the export.
    std::vector<std::pair<QCPAxis*, QCPRange>> saved;
    if (settings.wholeRange) {
        for (QCPAxisRect* rect : plot->axisRects()) {
            QCPAxis* axis = rect->axis(QCPAxis::atBottom);
            if (axis == nullptr || rect->plottables().isEmpty()) {
                continue;
            }
            saved.emplace_back(axis, axis->range());
            axis->rescale(true);
        }
    }
    const bool ok = exportChart(plot, path, error, size.logical, size.pngScale);
    for (const auto& [axis, range] : saved) {
        axis->setRange(range);
    }
    if (!saved.empty()) {
        plot->replot(QCustomPlot::rpQueuedReplot);
    }
    return ok;
}

QMenu* buildExportMenu(QCustomPlot* plot, QWidget* parent) {
    auto* menu = new QMenu(parent);
    const QPointer<QCustomPlot> target(plot);
    const std::pair<QString, QString> formats[] = {
        {QStringLiteral("PNG"), QStringLiteral("png")},
        {QStringLiteral("PDF"), QStringLiteral("pdf")},
        {QStringLiteral("SVG"), QStringLiteral("svg")},
    };
    for (const auto& format : formats) {
        // Named copies, not structured bindings: clang 14 (clang-tidy) cannot capture those.
        const QString name = format.first;
        const QString suffix = format.second;
        QAction* action = menu->addAction(QStringLiteral("Export %1…").arg(name));
        QObject::connect(action, &QAction::triggered, menu, [target, parent, name, suffix] {
            if (target.isNull()) {
                return;
            }
            const QString proposed =
                QDir(lastExportFolder.isEmpty() ? QDir::currentPath() : lastExportFolder)
                    .filePath(proposedFileName(target.data(), suffix));
            const QString path =
                QFileDialog::getSaveFileName(parent,
                                             QStringLiteral("Export chart as %1").arg(name),
                                             proposed,
                                             QStringLiteral("%1 (*.%2)").arg(name, suffix));
            if (path.isEmpty()) {
                return;
            }
            lastExportFolder = QFileInfo(path).absolutePath();
            QString error;
            if (!exportChartWithSettings(target.data(), path, exportSettings(), &error)) {
                QMessageBox::warning(parent, QStringLiteral("Export failed"), error);
            }
        });
    }
    menu->addSeparator();
    QMenu* sizeMenu = menu->addMenu(QStringLiteral("Export size"));
    auto* group = new QActionGroup(sizeMenu);
    const std::vector<ExportSize>& sizes = exportSizes();
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        QAction* choice = sizeMenu->addAction(sizes[i].label);
        choice->setCheckable(true);
        choice->setChecked(static_cast<int>(i) == exportSettings().size);
        group->addAction(choice);
        QObject::connect(choice, &QAction::triggered, menu, [i] {
            exportSettings().size = static_cast<int>(i);
        });
    }
    QAction* whole = menu->addAction(QStringLiteral("Whole recorded range (not only the view)"));
    whole->setCheckable(true);
    whole->setChecked(exportSettings().wholeRange);
    QObject::connect(
        whole, &QAction::toggled, menu, [](bool on) { exportSettings().wholeRange = on; });
    return menu;
}

void installExportMenu(QCustomPlot* plot) {
    plot->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(plot, &QWidget::customContextMenuRequested, plot, [plot](const QPoint& at) {
        QMenu* menu = buildExportMenu(plot, plot);
        menu->setAttribute(Qt::WA_DeleteOnClose);
        menu->popup(plot->mapToGlobal(at));
    });
}

void toggleLegendItem(QCustomPlot* plot, QCPAbstractLegendItem* item) {
    auto* plottableItem = qobject_cast<QCPPlottableLegendItem*>(item);
    if (plottableItem == nullptr || plottableItem->plottable() == nullptr) {
        return;
    }
    QCPAbstractPlottable* plottable = plottableItem->plottable();
    const bool visible = !plottable->visible();
    plottable->setVisible(visible);
    QFont font = plottableItem->font();
    font.setStrikeOut(!visible);
    plottableItem->setFont(font);
    plottableItem->setTextColor(visible ? QColor(Qt::black) : QColor(0xa0, 0xa0, 0xa0));
    plot->replot(QCustomPlot::rpQueuedReplot);
}

void installLegendToggle(QCustomPlot* plot) {
    QObject::connect(plot,
                     &QCustomPlot::legendClick,
                     plot,
                     [plot](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
                         toggleLegendItem(plot, item);
                     });
}

QString hoverText(QCustomPlot* plot, const QPointF& pos) {
    QCPAxisRect* rect = plot->axisRectAt(pos);
    if (rect == nullptr || !rect->rect().contains(pos.toPoint())) {
        return {};
    }
    Nearest best;
    for (QCPAbstractPlottable* plottable : rect->plottables()) {
        if (!plottable->realVisibility()) {
            continue;
        }
        if (auto* graph = qobject_cast<QCPGraph*>(plottable)) {
            nearestOnGraph(graph, pos, &best);
        } else if (auto* map = qobject_cast<QCPColorMap*>(plottable)) {
            cellOnColorMap(map, pos, &best);
        } else if (auto* bars = qobject_cast<QCPBars*>(plottable)) {
            nearestBar(bars, pos, &best);
        }
    }
    return best.text;
}

void installHoverValues(QCustomPlot* plot) {
    plot->setMouseTracking(true);
    QObject::connect(plot, &QCustomPlot::mouseMove, plot, [plot](QMouseEvent* event) {
        if (event->buttons() != Qt::NoButton) {
            return;
        }
        const QString text = hoverText(plot, event->position());
        if (text.isEmpty()) {
            QToolTip::hideText();
        } else {
            QToolTip::showText(event->globalPosition().toPoint(), text, plot);
        }
    });
}

void installNavigationHooks(QCustomPlot* plot,
                            QObject* context,
                            std::function<void()> onNavigate,
                            std::function<void()> onReset) {
    QObject::connect(plot, &QCustomPlot::mouseMove, context, [onNavigate](QMouseEvent* event) {
        if ((event->buttons() & Qt::LeftButton) != 0) {
            onNavigate();
        }
    });
    QObject::connect(plot,
                     &QCustomPlot::mouseWheel,
                     context,
                     [onNavigate = std::move(onNavigate)](QWheelEvent*) { onNavigate(); });
    QObject::connect(
        plot, &QCustomPlot::mouseDoubleClick, context, [reset = std::move(onReset)](QMouseEvent*) {
            reset();
        });
}

void installAutoRangeToggle(QCustomPlot* plot,
                            QObject* context,
                            bool& autoRange,
                            std::function<void()> rescale) {
    installNavigationHooks(
        plot,
        context,
        [&autoRange] { autoRange = false; },
        [&autoRange, plot, rescale = std::move(rescale)] {
            autoRange = true;
            rescale();
            plot->replot(QCustomPlot::rpQueuedReplot);
        });
}

QCustomPlot* makeTitledChart(QWidget* owner, const QString& title) {
    auto* box = new QVBoxLayout(owner);
    box->setContentsMargins(0, 0, 0, 0);
    auto* plot = new QCustomPlot(owner);
    box->addWidget(plot);
    installStandardInteractions(plot);
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(0, 0, palette::makeTitle(plot, title));
    return plot;
}

void installStandardInteractions(QCustomPlot* plot) {
    palette::applyChartStyle(plot);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    installLegendToggle(plot);
    installHoverValues(plot);
    installExportMenu(plot);
}

}  // namespace lp::ui
