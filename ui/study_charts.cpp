// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/study_charts.hpp"

#include "core/error.hpp"
#include "core/telemetry/run_reader.hpp"
#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/compare_view.hpp"
#include "ui/palette.hpp"

#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <utility>

namespace lp::ui {

namespace {

using core::io::StudyRow;

constexpr double kBytesPerMiB = 1024.0 * 1024.0;
constexpr const char* kMarkProperty = "lpStudyMark";  // "row" | "forecast" | "key"

struct ChartText {
    QString title;
    QString file;  // export file stem (chart_export.hpp)
    QString xLabel;
    QString yLabel;
};

QCustomPlot* addChart(QWidget* parent, QHBoxLayout* row, const ChartText& text) {
    auto* owner = new QWidget(parent);
    row->addWidget(owner, 1);
    QCustomPlot* plot = makeTitledChart(owner, text.title);
    plot->setObjectName(text.file);
    chart::addLegendRow(plot, 1, true);
    plot->xAxis->setLabel(text.xLabel);
    plot->yAxis->setLabel(text.yLabel);
    return plot;
}

QString policyOf(const StudyRow& row) {
    return QString::fromStdString(row.at("policy").text);
}

QString labelOf(const StudyRow& row) {
    const std::string& label = row.at("label").text;
    return QString::fromStdString(label.empty() ? row.at("run_id").text : label);
}

// Test top-1 in percent; none for a run without a finite figure (it diverged first).
std::optional<double> top1Percent(const StudyRow& row) {
    const auto v = row.at("final_top1").number;
    if (v && std::isfinite(*v)) {
        return 100.0 * *v;
    }
    return std::nullopt;
}

// The graphs one policy has in a scatter plot: measured marks (in the legend), hollow forecast
// marks and crosses for diverged runs (not in the legend: the key entries explain them).
struct PolicyMarks {
    QCPGraph* measured = nullptr;
    QCPGraph* forecast = nullptr;
    QCPGraph* diverged = nullptr;
};

QCPGraph* markGraph(QCustomPlot* plot,
                    const QString& name,
                    const QColor& colour,
                    QCPScatterStyle::ScatterShape shape,
                    const char* kind) {
    QCPGraph* g = plot->addGraph();
    g->setName(name);
    g->setLineStyle(QCPGraph::lsNone);
    g->setPen(palette::cosmeticPen(colour, 1.5));
    const bool filled = shape == QCPScatterStyle::ssDisc;
    g->setScatterStyle(QCPScatterStyle(
        shape, colour, filled ? colour : QColor(Qt::transparent), filled ? 9.0 : 15.0));
    g->setProperty(kMarkProperty, QString::fromLatin1(kind));
    return g;
}

PolicyMarks& marksFor(QCustomPlot* plot, std::map<QString, PolicyMarks>& marks, const QString& p) {
    auto it = marks.find(p);
    if (it != marks.end()) {
        return it->second;
    }
    const QColor c = palette::policyColor(p);
    PolicyMarks m;
    m.measured = markGraph(plot, p, c, QCPScatterStyle::ssDisc, "row");
    m.forecast = markGraph(
        plot, p + QStringLiteral(" (forecast)"), c, QCPScatterStyle::ssCircle, "forecast");
    m.diverged =
        markGraph(plot, p + QStringLiteral(" (diverged)"), c, QCPScatterStyle::ssCross, "row");
    m.forecast->removeFromLegend();
    m.diverged->removeFromLegend();
    return marks.emplace(p, m).first->second;
}

// Legend-only entries saying what the hollow and crossed marks mean.
void addKeyEntries(QCustomPlot* plot, bool forecasts, bool diverged, bool pinned) {
    const QColor grey = palette::policyColor(QString());
    if (forecasts) {
        markGraph(plot, QStringLiteral("hollow: forecast"), grey, QCPScatterStyle::ssCircle, "key");
    }
    if (diverged) {
        markGraph(plot,
                  pinned ? QStringLiteral("×: diverged (no top-1: at the bottom)")
                         : QStringLiteral("×: diverged"),
                  grey,
                  QCPScatterStyle::ssCross,
                  "key");
    }
}

// The training loss as the Compare tab smooths it (debiased EMA, CompareView::kSmoothing) over
// steps; a diverged run's curve ends where its loss stopped being a number.
void setSmoothedLoss(QCPGraph* g, const std::vector<core::telemetry::TrainSample>& train) {
    QVector<double> steps;
    QVector<double> losses;
    double ema = 0.0;
    double power = 1.0;
    for (const core::telemetry::TrainSample& t : train) {
        if (t.nonFinite || !std::isfinite(t.loss)) {
            continue;
        }
        ema = CompareView::kSmoothing * ema +
              (1.0 - CompareView::kSmoothing) * static_cast<double>(t.loss);
        power *= CompareView::kSmoothing;
        steps << static_cast<double>(t.step);
        losses << ema / (1.0 - power);
    }
    g->setData(steps, losses, true);
}

// The data's range [lo, hi] (at least minSpan wide) with 10 % room, kept within [floor, ceiling],
// plus 4 % on both sides so that a mark on the edge (0 MiB, 100 %) is not cut in half.
void fitAxis(QCPAxis* axis, double lo, double hi, double floor, double ceiling, double minSpan) {
    if (lo > hi) {
        lo = floor;
        hi = floor + minSpan;
    }
    const double span = std::max(hi - lo, minSpan);
    lo = std::max(floor, lo - 0.1 * span);
    hi = std::min(ceiling, hi + 0.1 * span);
    const double margin = 0.04 * (hi - lo);
    axis->setRange(lo - margin, hi + margin);
}

}  // namespace

StudyCharts::StudyCharts(QWidget* parent) : QWidget(parent) {
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    row->setSpacing(4);
    memory_ = addChart(this,
                       row,
                       {QStringLiteral("Test top-1 vs weight-history memory"),
                        QStringLiteral("accuracy_vs_memory"),
                        QStringLiteral("weight history (MiB)"),
                        QStringLiteral("test top-1 (%)")});
    bubble_ = addChart(this,
                       row,
                       {QStringLiteral("Test top-1 vs bubble"),
                        QStringLiteral("accuracy_vs_bubble"),
                        QStringLiteral("bubble (% of stage time idle)"),
                        QStringLiteral("test top-1 (%)")});
    loss_ = addChart(this,
                     row,
                     {QStringLiteral("Training loss per run (smoothed)"),
                      QStringLiteral("loss_curves"),
                      QStringLiteral("step"),
                      QStringLiteral("training loss")});
    loss_->yAxis->setScaleType(QCPAxis::stLogarithmic);
    loss_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    clear();
}

std::vector<std::pair<QCustomPlot*, QString>> StudyCharts::plots() const {
    return {{memory_, memory_->objectName()},
            {bubble_, bubble_->objectName()},
            {loss_, loss_->objectName()}};
}

void StudyCharts::clear() {
    for (const auto& [plot, file] : plots()) {
        plot->clearGraphs();
        plot->replot(QCustomPlot::rpQueuedReplot);
    }
    memory_->xAxis->setRange(0.0, 1.0);
    bubble_->xAxis->setRange(0.0, 10.0);
    memory_->yAxis->setRange(0.0, 100.0);
    bubble_->yAxis->setRange(0.0, 100.0);
    loss_->xAxis->setRange(0.0, 1.0);
    loss_->yAxis->setRange(0.1, 10.0);
}

QStringList StudyCharts::show(const std::vector<StudyRow>& rows, const QString& studyDir) {
    clear();
    QStringList problems;
    drawScatters(rows, problems);
    drawLossCurves(rows, studyDir, problems);
    for (const auto& [plot, name] : plots()) {
        plot->replot(QCustomPlot::rpQueuedReplot);
    }
    return problems;
}

void StudyCharts::drawScatters(const std::vector<StudyRow>& rows, QStringList& problems) {
    // One mark per run in each chart. The axes fit the runs with a test top-1; a run without one
    // (it diverged before its evaluation) sits at the bottom, so it neither hides nor
    // squeezes the others.
    struct Mark {
        QString policy;
        bool diverged = false;
        std::optional<double> top1;  // percent
        double mib = 0.0;
        std::optional<double> forecastMiB;
        std::optional<double> bubble;  // percent
    };

    std::vector<Mark> marks;
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();
    double maxMiB = 0.0;
    double maxBubble = 0.0;
    bool anyForecast = false;
    bool anyDiverged = false;
    bool anyPinned = false;
    for (const StudyRow& row : rows) {
        Mark m;
        m.policy = policyOf(row);
        m.diverged = row.diverged();
        m.top1 = top1Percent(row);
        m.mib = row.at("history_bytes").number.value_or(0.0) / kBytesPerMiB;
        if (const auto f = row.at("history_forecast_bytes").number) {
            m.forecastMiB = *f / kBytesPerMiB;
        }
        m.bubble = row.at("bubble").number;
        if (!m.bubble && row.at("utilisation").number) {
            m.bubble = 1.0 - *row.at("utilisation").number;
        }
        if (m.bubble && std::isfinite(*m.bubble)) {
            m.bubble = 100.0 * *m.bubble;
            maxBubble = std::max(maxBubble, *m.bubble);
        } else {
            m.bubble.reset();
            problems << QStringLiteral("%1: no bubble or utilisation figure").arg(labelOf(row));
        }
        if (m.top1) {
            lo = std::min(lo, *m.top1);
            hi = std::max(hi, *m.top1);
        }
        maxMiB = std::max({maxMiB, m.mib, m.forecastMiB.value_or(0.0)});
        anyForecast = anyForecast || m.forecastMiB.has_value();
        anyDiverged = anyDiverged || m.diverged;
        anyPinned = anyPinned || !m.top1;
        marks.push_back(std::move(m));
    }
    constexpr double kNoCeiling = std::numeric_limits<double>::infinity();
    fitAxis(memory_->xAxis, 0.0, maxMiB, 0.0, kNoCeiling, std::max(0.01, maxMiB));
    fitAxis(bubble_->xAxis, 0.0, maxBubble, 0.0, 100.0, 5.0);
    fitAxis(memory_->yAxis, lo, hi, 0.0, 100.0, 5.0);
    fitAxis(bubble_->yAxis, lo, hi, 0.0, 100.0, 5.0);
    // Room at the bottom for the runs without a top-1, whose marks sit in it.
    double edge = memory_->yAxis->range().lower;
    if (anyPinned) {
        const QCPRange r = memory_->yAxis->range();
        edge = r.lower - 0.04 * r.size();
        for (QCPAxis* y : {memory_->yAxis, bubble_->yAxis}) {
            y->setRange(r.lower - 0.08 * r.size(), r.upper);
        }
    }
    std::map<QString, PolicyMarks> memoryMarks;
    std::map<QString, PolicyMarks> bubbleMarks;
    for (const Mark& m : marks) {
        const double y = m.top1.value_or(edge);
        PolicyMarks& g = marksFor(memory_, memoryMarks, m.policy);
        (m.diverged || !m.top1 ? g.diverged : g.measured)->addData(m.mib, y);
        if (m.forecastMiB) {
            g.forecast->addData(*m.forecastMiB, y);
        }
        if (m.bubble) {
            PolicyMarks& b = marksFor(bubble_, bubbleMarks, m.policy);
            (m.diverged || !m.top1 ? b.diverged : b.measured)->addData(*m.bubble, y);
        }
    }
    addKeyEntries(memory_, anyForecast, anyDiverged || anyPinned, anyPinned);
    addKeyEntries(bubble_, false, anyDiverged || anyPinned, anyPinned);
}

void StudyCharts::drawLossCurves(const std::vector<StudyRow>& rows,
                                 const QString& studyDir,
                                 QStringList& problems) {
    // One loss curve per run; runs of one policy share its colour and differ in dash.
    std::map<QString, int> perPolicy;
    constexpr std::array<Qt::PenStyle, 4> kDashes = {
        Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine};
    double maxStep = 1.0;
    for (const StudyRow& row : rows) {
        const QString policy = policyOf(row);
        const QString file = QDir(studyDir).filePath(QString::fromStdString(row.at("folder").text) +
                                                     QStringLiteral("/train.csv"));
        std::vector<core::telemetry::TrainSample> train;
        try {
            train = core::telemetry::readTrainCsv(file.toStdString());
        } catch (const std::exception& e) {
            problems << QStringLiteral("%1: %2").arg(labelOf(row), QString::fromUtf8(e.what()));
            continue;
        }
        const int k = perPolicy[policy]++;
        QCPGraph* g = loss_->addGraph();
        g->setName(labelOf(row));
        g->setPen(palette::cosmeticPen(palette::policyColor(policy),
                                       2.0,
                                       kDashes[static_cast<std::size_t>(k) % kDashes.size()]));
        setSmoothedLoss(g, train);
        if (!g->data()->isEmpty()) {
            maxStep = std::max(maxStep, g->data()->constEnd()[-1].key);
        }
    }
    loss_->xAxis->setRange(0.0, maxStep);
    bool found = false;
    QCPRange range;
    for (int i = 0; i < loss_->graphCount(); ++i) {
        bool f = false;
        const QCPRange r = loss_->graph(i)->getValueRange(f, QCP::sdBoth);
        if (f) {
            range = found ? QCPRange(std::min(range.lower, r.lower), std::max(range.upper, r.upper))
                          : r;
            found = true;
        }
    }
    if (found && range.lower > 0.0) {
        loss_->yAxis->setRange(range.lower / 1.2, range.upper * 1.2);  // log axis: a factor
    }
}

int StudyCharts::markCount(const QCustomPlot* plot) {
    int n = 0;
    for (int i = 0; i < plot->graphCount(); ++i) {
        const QCPGraph* g = plot->graph(i);
        if (g->property(kMarkProperty).toString() == QStringLiteral("row")) {
            n += g->dataCount();
        }
    }
    return n;
}

int StudyCharts::curveCount() const {
    return loss_->graphCount();
}

QSize StudyCharts::reportSize() {
    return {960, 600};  // exportSizes()' "Report" preset
}

QStringList StudyCharts::exportPngs(const QString& dir) const {
    if (!QDir().mkpath(dir)) {
        throw core::InputError("cannot create the folder " + dir.toStdString());
    }
    QStringList files;
    for (const auto& [plot, stem] : plots()) {
        const QString path = QDir(dir).filePath(stem + QStringLiteral(".png"));
        QString error;
        if (!exportChart(plot, path, &error, reportSize(), 2.0)) {
            throw core::InputError("writing " + path.toStdString() +
                                   " failed: " + error.toStdString());
        }
        files << path;
    }
    return files;
}

QStringList writeStudyCharts(const QString& studyDir, QStringList* warnings) {
    const QFileInfo dir(studyDir);
    if (!dir.isDir()) {
        throw core::InputError(studyDir.toStdString() + " is not a folder");
    }
    const QString results = QDir(studyDir).filePath(QStringLiteral("results.csv"));
    if (!QFileInfo::exists(results)) {
        throw core::InputError(studyDir.toStdString() +
                               " has no results.csv: it is not a study folder, or its study has "
                               "not finished a run yet (make one with `layerpipe study --preset "
                               "quick --out DIR`)");
    }
    const std::vector<StudyRow> rows = core::io::readStudyResults(results.toStdString());
    if (rows.empty()) {
        throw core::InputError(results.toStdString() +
                               " has no runs yet (the study has not finished one)");
    }
    StudyCharts charts;
    const QStringList problems = charts.show(rows, studyDir);
    if (warnings != nullptr) {
        *warnings = problems;
    }
    return charts.exportPngs(QDir(studyDir).filePath(QStringLiteral("charts")));
}

}  // namespace lp::ui
