// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/model_forecast.hpp"

#include <QLocale>
#include <QStringList>

#include <vector>

namespace lp::ui {

namespace {

QString joined(const std::vector<std::int64_t>& v) {
    QStringList parts;
    for (const std::int64_t x : v) {
        parts << QString::number(x);
    }
    return parts.join(QLatin1Char(','));
}

// The forecast's line for a delay schedule: the first epochs' delays (one line: the panel is
// narrow; the forecast's tooltip says which epoch the ticks and the memory are for).
QString scheduleText(const PipelineForecast& f) {
    if (f.epochDelays.empty()) {
        return {};
    }
    QStringList epochs;
    for (const std::vector<std::int64_t>& d : f.epochDelays) {
        epochs << joined(d);
    }
    const QString then = f.adaptiveDelays            ? QStringLiteral(", then adaptive")
                         : f.epochDelays.size() == 6 ? QStringLiteral(" …")
                                                     : QString();
    return QStringLiteral("<br>By epoch: %1%2").arg(epochs.join(QStringLiteral(" → ")), then);
}

}  // namespace

QString formatBytes(std::int64_t bytes) {
    const auto b = static_cast<double>(bytes);
    if (b >= 1024.0 * 1024.0 * 1024.0) {
        return QStringLiteral("%1 GiB").arg(b / (1024.0 * 1024.0 * 1024.0), 0, 'f', 2);
    }
    if (b >= 1024.0 * 1024.0) {
        return QStringLiteral("%1 MiB").arg(b / (1024.0 * 1024.0), 0, 'f', 1);
    }
    if (b >= 1024.0) {
        return QStringLiteral("%1 KiB").arg(b / 1024.0, 0, 'f', 0);
    }
    return QStringLiteral("%1 B").arg(bytes);
}

QString forecastHtml(const PipelineForecast& f, const QString& problem) {
    const QLocale locale;
    QString text = QStringLiteral("<b>K = %1</b> stage%2")
                       .arg(f.stages)
                       .arg(f.stages == 1 ? QString() : QStringLiteral("s"));
    if (!problem.isEmpty()) {
        return text + QStringLiteral(" · cannot run: see the message above");
    }
    text += QStringLiteral(
                " · <b>%1</b> ticks per epoch (%2 minibatches) · utilisation "
                "<b>%3 %</b><br>Weight history: stash <b>%4</b> · EMA <b>%5</b> · "
                "momentum <b>%6</b>")
                .arg(locale.toString(static_cast<qlonglong>(f.ticksPerEpoch)),
                     locale.toString(static_cast<qlonglong>(f.minibatches)),
                     QString::number(100.0 * f.utilisation, 'f', 0),
                     formatBytes(f.stashHistoryBytes),
                     formatBytes(f.emaHistoryBytes),
                     formatBytes(f.momentumHistoryBytes));
    return text + scheduleText(f);
}

QString forecastToolTip(const PipelineForecast& f) {
    return f.epochDelays.empty()
               ? QString()
               : QStringLiteral(
                     "With a delay schedule the ticks and utilisation are epoch 1's, "
                     "and the weight history is that of each stage's largest delay in "
                     "the run (what the memory peaks reach).");
}

}  // namespace lp::ui
