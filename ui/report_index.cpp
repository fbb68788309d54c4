// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/report_index.hpp"

#include "core/error.hpp"

#include <QDateTime>
#include <QDir>
#include <QSaveFile>

namespace lp::ui {

namespace {

struct Caption {
    const char* file;  // ChartPanel's file stem
    const char* text;  // UTF-8
};

constexpr Caption kCaptions[] = {
    {"timeline",
     "Every forward (F), backward (B) and weight update (U) of every pipeline stage, by tick "
     "or wall-clock time; the gaps are the pipeline's bubbles, and each row gives the "
     "stage's busy fraction."},
    {"staleness",
     "Gradient staleness per unit: how many weight versions old the weights were that each "
     "unit's gradient was computed with (LayerPipe2: 2·S(l), S(l) the stages after it)."},
    {"memory",
     "Weight history kept for the delayed backward passes: exact stashing (one copy per "
     "version in flight) against the pipeline-aware EMA (one average per stage), measured "
     "and forecast."},
    {"training", "Training loss and accuracy per step, test loss and accuracy per epoch."},
    {"ema_error",
     "Relative error of the EMA's reconstruction of the old weights, ‖Ŵ − W_v‖ / ‖W_v‖ per "
     "stage, measured against a diagnostic shadow stash (empty without EMA and the "
     "diagnostic)."},
    {"compare",
     "The same experiment under each weight policy (and sequentially), side by side: "
     "loss per step."},
};

}  // namespace

QString reportCaption(const QString& file) {
    for (const Caption& c : kCaptions) {
        if (file == QLatin1String(c.file)) {
            return QString::fromUtf8(c.text);
        }
    }
    return {};
}

void writeReportIndex(const QString& dir, const ReportPage& page) {
    const auto esc = [](const QString& text) {
        return text.toHtmlEscaped();
    };
    QString html;
    html += QStringLiteral(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<title>%1 — LayerPipe Studio report</title>\n"
                "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
                "color:#222}figure{margin:2em 0}img{max-width:100%%;border:1px solid #ddd}"
                "figcaption{color:#444;margin-top:.4em}pre{background:#f4f6f8;padding:.8em;"
                "overflow:auto}</style>\n</head>\n<body>\n<h1>%1</h1>\n")
                .arg(esc(page.title));
    html += QStringLiteral("<p>Exported by LayerPipe Studio on %1.")
                .arg(esc(QDateTime::currentDateTimeUtc().toString(Qt::ISODate)));
    if (!page.summary.isEmpty()) {
        html += QStringLiteral(" %1").arg(esc(page.summary));
    }
    html += QStringLiteral("</p>\n");
    int number = 0;
    for (const ReportChart& chart : page.charts) {
        ++number;
        html += QStringLiteral(
                    "<figure id=\"%1\">\n<img src=\"%1.png\" alt=\"%2\">\n<figcaption><b>Figure "
                    "%3. %2.</b> %4 <a href=\"%1.pdf\">PDF</a> · <a href=\"%1.svg\">SVG</a>"
                    "</figcaption>\n</figure>\n")
                    .arg(esc(chart.file), esc(chart.name))
                    .arg(number)
                    .arg(esc(chart.caption));
    }
    if (!page.dataFiles.isEmpty()) {
        html += QStringLiteral("<h2>Data</h2>\n<ul>\n");
        for (const QString& file : page.dataFiles) {
            html += QStringLiteral("<li><a href=\"%1\">%1</a></li>\n").arg(esc(file));
        }
        html += QStringLiteral("</ul>\n");
    }
    if (!page.experimentJson.isEmpty()) {
        html += QStringLiteral(
                    "<h2>Experiment</h2>\n<p>Open it in the studio (File &gt; Open) or run it "
                    "headless: <code>layerpipe run --config experiment.json</code>.</p>\n"
                    "<pre>%1</pre>\n")
                    .arg(esc(page.experimentJson));
    }
    html += QStringLiteral("</body>\n</html>\n");

    const QString path = QDir(dir).filePath(QStringLiteral("index.html"));
    QSaveFile out(path);
    const QByteArray bytes = html.toUtf8();
    if (!out.open(QIODevice::WriteOnly) || out.write(bytes) != bytes.size() || !out.commit()) {
        throw core::InputError("cannot write " + path.toStdString() + ": " +
                               out.errorString().toStdString());
    }
}

}  // namespace lp::ui
