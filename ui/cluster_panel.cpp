// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/cluster_panel.hpp"

#include "ui/model_forecast.hpp"
#include "ui/palette.hpp"

#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>
#include <numeric>
#include <utility>

namespace lp::ui {

namespace session = core::session;

namespace {

constexpr int kPollMs = 100;

QString msText(double seconds) {
    return QStringLiteral("%1 ms").arg(1e3 * seconds, 0, 'f', seconds < 0.01 ? 2 : 1);
}

QString stagesText(const session::MachineCost& m) {
    return m.endStage - m.firstStage == 1
               ? QStringLiteral("stage %1").arg(m.firstStage)
               : QStringLiteral("stages %1–%2").arg(m.firstStage).arg(m.endStage - 1);
}

// One painted row: a label, the bar's segments (seconds, colour) and the time.
struct BarRow {
    QString label;
    std::vector<std::pair<double, QColor>> segments;
    double seconds = 0.0;
    bool bottleneck = false;
};

std::vector<BarRow> barRows(const session::ClusterForecast& f) {
    std::vector<BarRow> rows;
    for (std::size_t m = 0; m < f.machines.size(); ++m) {
        const session::MachineCost& c = f.machines[m];
        if (m > 0) {
            const session::LinkCost& l = f.links[m - 1];
            rows.push_back(
                {QStringLiteral("link %1 → %2 · %3").arg(m - 1).arg(m).arg(formatBytes(l.bytes)),
                 {{l.seconds, QColor(0x99, 0x99, 0x99)}},
                 l.seconds,
                 f.bottleneck == session::Bottleneck::Link &&
                     f.bottleneckIndex == static_cast<std::int64_t>(m - 1)});
        }
        BarRow row{QStringLiteral("machine %1 · %2").arg(m).arg(stagesText(c)), {}, 0.0, false};
        for (std::size_t s = 0; s < c.stageSeconds.size(); ++s) {
            row.segments.emplace_back(
                c.stageSeconds[s],
                palette::stageColor(static_cast<int>(c.firstStage + static_cast<std::int64_t>(s))));
        }
        // Shown per minibatch (GPipe's per-micro-batch figures are the model's, not the user's).
        row.seconds = std::accumulate(c.stageSeconds.begin(), c.stageSeconds.end(), 0.0);
        row.bottleneck = f.bottleneck == session::Bottleneck::Machine &&
                         f.bottleneckIndex == static_cast<std::int64_t>(m);
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace

ClusterPanel::ClusterPanel(QWidget* parent) : QWidget(parent) {
    auto* column = new QVBoxLayout(this);
    column->setContentsMargins(0, 0, 0, 0);
    auto* title = new QLabel(QStringLiteral("<b>On N machines</b>"), this);
    title->setToolTip(QStringLiteral(
        "Forecast of this pipeline with its stages on machines like this one, grouped as "
        "`layerpipe run --mpi` places them, joined by links of this bandwidth and latency "
        "(docs/mpi.md, \"Forecasting N machines\")."));
    column->addWidget(title);
    auto* grid = new QGridLayout;
    machines_ = new QSpinBox(this);
    machines_->setRange(1, 1);
    machines_->setToolTip(QStringLiteral("Machines (MPI ranks), 1 to the number of stages"));
    gbit_ = new QDoubleSpinBox(this);
    gbit_->setRange(0.001, 10000.0);
    gbit_->setDecimals(3);
    gbit_->setValue(10.0);
    gbit_->setSuffix(QStringLiteral(" Gbit/s"));
    gbit_->setToolTip(QStringLiteral("Link bandwidth, each direction"));
    latency_ = new QDoubleSpinBox(this);
    latency_->setRange(0.0, 1e6);
    latency_->setDecimals(1);
    latency_->setValue(50.0);
    latency_->setSuffix(QStringLiteral(" µs"));
    latency_->setToolTip(QStringLiteral("Link latency per message"));
    grid->addWidget(new QLabel(QStringLiteral("Machines"), this), 0, 0);
    grid->addWidget(machines_, 0, 1);
    grid->addWidget(new QLabel(QStringLiteral("Link"), this), 1, 0);
    auto* link = new QHBoxLayout;
    link->addWidget(gbit_, 1);
    link->addWidget(latency_, 1);
    grid->addLayout(link, 1, 1);
    grid->setColumnStretch(1, 1);
    column->addLayout(grid);
    auto* measureRow = new QHBoxLayout;
    measure_ = new QPushButton(QStringLiteral("Measure this machine"), this);
    measure_->setToolTip(QStringLiteral(
        "Times every unit's forward, backward and update at this experiment's batch size and "
        "threads (a few passes; the studio stays responsive)"));
    status_ = new QLabel(this);
    status_->setWordWrap(true);
    measureRow->addWidget(measure_);
    measureRow->addWidget(status_, 1);
    column->addLayout(measureRow);
    bars_ = new ClusterBars(this);
    column->addWidget(bars_);
    summary_ = new QLabel(this);
    summary_->setWordWrap(true);
    summary_->setTextFormat(Qt::RichText);
    column->addWidget(summary_);
    poll_ = new QTimer(this);
    poll_->setInterval(kPollMs);
    connect(poll_, &QTimer::timeout, this, [this] { poll(); });
    connect(measure_, &QPushButton::clicked, this, [this] { measure(); });
    connect(machines_, &QSpinBox::valueChanged, this, [this] { refresh(); });
    connect(gbit_, &QDoubleSpinBox::valueChanged, this, [this] { refresh(); });
    connect(latency_, &QDoubleSpinBox::valueChanged, this, [this] { refresh(); });
    refresh();
}

ClusterPanel::~ClusterPanel() = default;  // a running measurement stops between units

void ClusterPanel::setPipeline(const core::io::ExperimentConfig& config,
                               const session::PipelineForecast& forecast) {
    config_ = config;
    pipeline_ = forecast;
    {
        const QSignalBlocker block(machines_);
        const int keep = machines_->value();
        machines_->setRange(1, static_cast<int>(std::max<std::int64_t>(1, forecast.stages)));
        machines_->setValue(std::min(keep, machines_->maximum()));
    }
    refresh();
}

void ClusterPanel::setUnitCosts(const std::vector<session::UnitCost>& costs) {
    cache_[session::unitCostKey(config_)] = costs;
    error_.clear();
    refresh();
}

void ClusterPanel::setMeasurable(bool on) {
    measurable_ = on;
    measure_->setEnabled(measurable_ && measurement_ == nullptr && pipeline_.problem.empty());
}

void ClusterPanel::measure() {
    if (!measurable_ || measurement_ != nullptr || !pipeline_.problem.empty()) {
        return;
    }
    error_.clear();
    measuringKey_ = session::unitCostKey(config_);
    measurement_ = std::make_unique<session::UnitCostMeasurement>(config_);
    poll_->start();
    refresh();
}

void ClusterPanel::poll() {
    if (measurement_ == nullptr || !measurement_->done()) {
        return;
    }
    poll_->stop();
    error_ = measurement_->error();
    if (error_.empty()) {
        cache_[measuringKey_] = measurement_->costs();
    }
    measurement_.reset();
    refresh();
    emit measured();
}

void ClusterPanel::refresh() {
    const auto found = cache_.find(session::unitCostKey(config_));
    const bool have = found != cache_.end() && found->second.size() == pipeline_.units.size() &&
                      !pipeline_.units.empty();
    measure_->setEnabled(measurable_ && measurement_ == nullptr && pipeline_.problem.empty());
    forecast_.reset();
    QString summary;
    if (!pipeline_.problem.empty()) {
        summary = QStringLiteral("The pipeline cannot run: see the message above.");
    } else if (have) {
        try {
            const session::LinkSpec link{.gbitPerSecond = gbit_->value(),
                                         .latencyMicroseconds = latency_->value()};
            forecast_ = session::forecastCluster(session::pipelineShapeOf(config_, pipeline_),
                                                 found->second,
                                                 machines_->value(),
                                                 link);
        } catch (const std::exception& e) {
            summary = QString::fromStdString(e.what());
        }
    }
    if (forecast_) {
        summary = QStringLiteral(
                      "Step <b>%1</b> per minibatch · <b>%2</b> images/s<br>"
                      "<b>Bottleneck:</b> %3")
                      .arg(msText(forecast_->stepSeconds),
                           QString::number(forecast_->imagesPerSecond, 'f', 1),
                           QString::fromStdString(forecast_->bottleneckText).toHtmlEscaped());
    }
    if (measurement_ != nullptr) {
        status_->setText(QStringLiteral("Timing every unit on this machine…"));
    } else if (!error_.empty()) {
        status_->setText(
            QStringLiteral("Could not measure: %1").arg(QString::fromStdString(error_)));
    } else if (!have && pipeline_.problem.empty()) {
        status_->setText(QStringLiteral("Not measured for this model, batch and threads yet."));
    } else {
        status_->setText(have
                             ? QStringLiteral("Unit times measured here (noisy on a busy machine).")
                             : QString());
    }
    summary_->setText(summary);
    summary_->setVisible(!summary.isEmpty());
    bars_->setForecast(forecast_);
}

ClusterBars::ClusterBars(QWidget* parent) : QWidget(parent) {
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
}

void ClusterBars::setForecast(const std::optional<session::ClusterForecast>& forecast) {
    forecast_ = forecast;
    updateGeometry();
    update();
}

QStringList ClusterBars::rowLabels() const {
    QStringList labels;
    if (forecast_) {
        for (const BarRow& row : barRows(*forecast_)) {
            labels << row.label;
        }
    }
    return labels;
}

QSize ClusterBars::sizeHint() const {
    const int rows = forecast_ ? static_cast<int>(2 * forecast_->machines.size() - 1) : 0;
    return {240, rows * (fontMetrics().height() + 6) + (rows > 0 ? 4 : 0)};
}

QSize ClusterBars::minimumSizeHint() const {
    return {160, sizeHint().height()};
}

void ClusterBars::paintEvent(QPaintEvent* /*event*/) {
    if (!forecast_ || forecast_->stepSeconds <= 0.0) {
        return;
    }
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    QFont bold = font();
    bold.setBold(true);
    const QFontMetrics fm(bold);  // the widest look of every label and value
    const std::vector<BarRow> rows = barRows(*forecast_);
    int labelWidth = 0;
    for (const BarRow& row : rows) {
        labelWidth = std::max(labelWidth, fm.boundingRect(row.label).width() + 4);
    }
    const int valueWidth = fm.boundingRect(QStringLiteral("0000.00 ms ◀")).width() + 4;
    labelWidth = std::min(labelWidth, width() / 2);
    const int barLeft = labelWidth + 8;
    const int barWidth = std::max(20, width() - barLeft - valueWidth - 8);
    const int rowHeight = fm.height() + 6;
    const QColor text = palette().color(QPalette::WindowText);
    const QColor alarm = palette::adapt(palette::okabeIto(1));  // vermillion
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const BarRow& row = rows[i];
        const int y = 2 + static_cast<int>(i) * rowHeight;
        p.setFont(row.bottleneck ? bold : font());
        p.setPen(row.bottleneck ? alarm : text);
        const QString label = fm.elidedText(row.label, Qt::ElideRight, labelWidth);
        p.drawText(QRect(0, y, labelWidth, rowHeight), Qt::AlignVCenter | Qt::AlignLeft, label);
        double x = barLeft;
        for (const auto& [seconds, colour] : row.segments) {
            const double w = barWidth * seconds / forecast_->stepSeconds;
            p.fillRect(QRectF(x, y + 3, w, rowHeight - 6), palette::adapt(colour));
            x += w;
        }
        if (row.bottleneck) {
            p.setPen(QPen(alarm, 2));
            p.setBrush(Qt::NoBrush);
            p.drawRect(QRectF(barLeft - 1, y + 2, x - barLeft + 2, rowHeight - 4));
        }
        p.setPen(row.bottleneck ? alarm : text);
        p.drawText(QRect(barLeft + barWidth + 6, y, valueWidth, rowHeight),
                   Qt::AlignVCenter | Qt::AlignLeft,
                   msText(row.seconds) + (row.bottleneck ? QStringLiteral(" ◀") : QString()));
    }
}

}  // namespace lp::ui
