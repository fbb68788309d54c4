// lp_ui_bench: how long full replots of the TimelineView take with 100,000+ events at 1600x900,
// with all events visible and with a zoomed window. Not a test; run it offscreen and read the
// numbers: `QT_QPA_PLATFORM=offscreen lp_ui_bench [replots]`.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/timeline_view.hpp"

#include <QApplication>
#include <QElapsedTimer>
#include <QPixmap>
#include <qcustomplot.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

namespace {

using lp::core::telemetry::OpKind;
using lp::core::telemetry::TelemetryBatch;

// The bubble-free LayerPipe schedule for K stages (DESIGN.md section 4), with a little
// deterministic jitter on the wall-clock durations.
TelemetryBatch schedule(int stages, int minibatches) {
    TelemetryBatch b;
    const double tickUs = 1500.0;
    for (int tau = 0; tau < minibatches + 2 * stages - 2; ++tau) {
        for (int s = 0; s < stages; ++s) {
            double t = tau * tickUs + 5.0 * s;
            const double f = 200.0 + 50.0 * s + static_cast<double>((tau * 7 + s * 13) % 17);
            const int jf = tau - s;
            if (jf >= 0 && jf < minibatches) {
                b.ops.push_back({s, OpKind::Forward, jf, jf, tau, t, t + f, s});
                t += f;
            }
            const int jb = tau - (2 * stages - 2 - s);
            if (jb >= 0 && jb < minibatches) {
                b.ops.push_back({s, OpKind::Backward, jb, jb, tau, t, t + 2.0 * f, s});
                b.ops.push_back(
                    {s, OpKind::Update, jb, jb, tau, t + 2.0 * f, t + 2.0 * f + 40.0, s});
            }
        }
    }
    return b;
}

struct Stats {
    double meanMs = 0.0;
    double medianMs = 0.0;
};

Stats summarise(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    Stats s;
    s.meanMs = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
    const std::size_t n = ms.size();
    s.medianMs = n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    return s;
}

std::size_t drawnRects(const lp::ui::TimelineView& view) {
    std::size_t n = 0;
    for (const OpKind op : {OpKind::Forward, OpKind::Backward, OpKind::Update, OpKind::Eval}) {
        n += view.spans(op)->lastDrawnRects();
    }
    return n;
}

void measure(lp::ui::TimelineView& view, const char* name, int replots) {
    QCustomPlot* plot = view.plot();
    std::vector<double> replotMs;
    std::vector<double> pixmapMs;
    QElapsedTimer timer;
    plot->replot(QCustomPlot::rpImmediateRefresh);  // warm-up: layout, caches
    for (int i = 0; i < replots; ++i) {
        timer.start();
        plot->replot(QCustomPlot::rpImmediateRefresh);
        replotMs.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
    }
    const std::size_t rects = drawnRects(view);
    for (int i = 0; i < replots; ++i) {
        timer.start();
        const QPixmap pixmap = plot->toPixmap(1600, 900);
        pixmapMs.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
        if (pixmap.isNull()) {
            std::fprintf(stderr, "toPixmap failed\n");
        }
    }
    const Stats r = summarise(replotMs);
    const Stats p = summarise(pixmapMs);
    std::printf(
        "%-28s x=[%.1f, %.1f]  rects drawn %6zu  replot mean %7.2f ms median %7.2f ms  "
        "toPixmap mean %7.2f ms median %7.2f ms\n",
        name,
        plot->xAxis->range().lower,
        plot->xAxis->range().upper,
        rects,
        r.meanMs,
        r.medianMs,
        p.meanMs,
        p.medianMs);
}

}  // namespace

int main(int argc, char** argv) {
    // Qt's environment functions are locked, unlike getenv/setenv (concurrency-mt-unsafe).
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM")) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
    }
    QApplication app(argc, argv);
    const int replots = argc > 1 ? std::max(1, std::atoi(argv[1])) : 30;
    const int minibatches = argc > 2 ? std::max(1, std::atoi(argv[2])) : 8'334;

    lp::ui::TimelineView view;
    view.plot()->setFixedSize(1600, 900);
    view.show();
    QElapsedTimer timer;
    const TelemetryBatch batch = schedule(4, minibatches);
    timer.start();
    view.append(batch);
    std::printf("appended %zu events in %.1f ms (K = 4, %d minibatches), %d replots each\n",
                view.eventCount(),
                static_cast<double>(timer.nsecsElapsed()) / 1e6,
                minibatches,
                replots);

    view.setFollowLive(false);
    for (const lp::ui::TimeAxis axis : {lp::ui::TimeAxis::Tick, lp::ui::TimeAxis::WallClock}) {
        view.setTimeAxis(axis);
        const char* axisName = axis == lp::ui::TimeAxis::Tick ? "tick" : "wall";
        view.plot()->rescaleAxes();
        view.plot()->yAxis->setRange(-0.6, 3.6);
        measure(view, (std::string(axisName) + ": all visible").c_str(), replots);
        const double mid = view.plot()->xAxis->range().center();
        const double width = view.plot()->xAxis->range().size() / 128.0;  // ~65 ticks
        view.plot()->xAxis->setRange(mid, mid + width);
        measure(view, (std::string(axisName) + ": zoomed 1/128").c_str(), replots);
    }
    return 0;
}
