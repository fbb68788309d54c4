// Live Gantt chart of the pipeline: one row per stage, F/B/U/eval spans, tick or wall-clock axis,
// follow-live and scrub-back, per-stage utilisation. GUI thread only; fed by value from batches.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"
#include "core/telemetry/mpi_links.hpp"
#include "ui/chart_layout.hpp"
#include "ui/telemetry_view.hpp"
#include "ui/timeline_spans.hpp"

#include <QWidget>
#include <qcustomplot.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

class QToolButton;

namespace lp::ui {
class MessageArrows;
}

namespace lp::ui {

// Busy time over the run's span for one stage. Tick axis: a stage does `capacity` ops per tick at
// most, the largest number of F and B ops any stage ran in one tick (U rides with B): 2 for
// LayerPipe, where a tick holds one F and one B (DESIGN.md section 4: K = 4, 40 minibatches take
// 46 ticks, utilisation 40/46), 1 for GPipe, one micro-batch op per tick (idle fraction
// (K−1)/(M+K−1), section 4). busy = (#F + #B) / capacity ticks; span = ticks from the first to
// the last F/B/U of any stage. The schedule-wide maximum, not each stage's own, because a stage
// may not yet have had a full tick (stage 0's first B comes at tick 2K − 2). Wall clock:
// busy = Σ(end − start) of F/B/U, span = first start to last end over all stages. Eval is not
// pipeline work and counts as idle. bubble = 1 − utilisation.
struct StageUtilisation {
    std::int32_t stage = 0;
    double busy = 0.0;
    double span = 0.0;
    int capacity = 1;  // ops per tick (tick axis); 1 on the wall clock
    double utilisation = 0.0;
    double bubbleFraction = 0.0;
};

class TimelineView : public TelemetryView {
    Q_OBJECT

public:
    explicit TimelineView(QWidget* parent = nullptr);

    static constexpr double kDefaultFollowTicks = 48.0;

    OpSpans* spans(core::telemetry::OpKind op) const;

    void setTimeAxis(TimeAxis axis);

    // Follow-live: the x range slides with the newest event, keeping its width. Dragging or
    // zooming turns it off (scrub-back); turning it on keeps the current width.
    bool followLive() const { return followLive_; }

    void setFollowLive(bool on);

    std::size_t eventCount() const;

    int stageRows() const { return rows_; }

    std::vector<StageUtilisation> utilisation() const;
    QString rowLabel(int stage) const;

    // Delay schedules: one dashed line per epoch at its first tick, labelled "epoch e · D …" with
    // its delays, from the batches' DelaySamples (drawn on the tick axis when the layout's delay
    // schedule is not static).
    struct EpochMark {
        std::int32_t epoch = 0;
        std::int64_t firstTick = 0;
        std::vector<std::int64_t> delays;  // by stage
        QString label;
    };

    std::vector<EpochMark> epochMarks() const;

    // The event under pixel pos (plot widget coordinates), within 3 px horizontally.
    std::optional<core::telemetry::OpEvent> eventAt(const QPointF& pos) const;
    // Tooltip text: op, stage, minibatch, weight version, tick, times, thread.
    static QString describe(const core::telemetry::OpEvent& e);

    // A run over MPI ranks (layout.distributed(), timeline_ranks.cpp): the rows name their
    // rank and host, a dashed line with a label parts the ranks, and arrows show the messages
    // between them. setLinks gives the labels each link's bytes and send time per step, each
    // way (mpi.json); clear() forgets them.
    void setLinks(std::vector<core::telemetry::LinkRecord> links);
    // The labels of the rank boundaries, top to bottom; for tests.
    QStringList boundaryLabels() const;

    const MessageArrows* messageArrows() const { return arrows_; }

signals:
    void followLiveChanged(bool on);

private:
    // Stage rows and their labels ("stage s (units…)"): exactly the layout's stages while the
    // view is empty; keeps recorded events (and their rows) otherwise.
    void applyLayout(const core::telemetry::PipelineLayout& layout) override;
    // Adds the batch's ops.
    bool addBatch(const core::telemetry::TelemetryBatch& batch) override;
    // Forgets every event; back to the layout's rows, following live from tick 0 with the
    // default window (issue 13: nothing of the previous run shows).
    void clearData() override;

    struct StageStats {
        double busyUs = 0.0;
        std::int64_t forwardBackward = 0;
        std::int64_t tick = -1;  // the tick of the newest F/B seen
        int opsInTick = 0;       // F/B ops seen in that tick
        int maxOpsPerTick = 0;
    };

    void ensureRows(int rows);  // grows only (events of a stage beyond the layout)
    void setRows(int rows);     // exactly
    // Follow live from the start with the default window (a fresh view).
    void resetRange();
    void updateLabels();
    int tickCapacity() const;
    void applyFollow();
    double followWindow() const;
    void showHover(QMouseEvent* event);
    void addEpochMarks(const std::vector<core::telemetry::DelaySample>& records);
    void updateEpochMarks();  // visibility: the tick axis, a non-static delay schedule

    struct MarkItems {
        EpochMark mark;
        QCPItemStraightLine* line = nullptr;
        QCPItemText* text = nullptr;
    };

    // timeline_ranks.cpp: the rank boundaries for layout_ and links_ (items remade).
    void updateRanks();
    // Keeps a distributed run's F/B ops and finds its messages again.
    void addRankOps(const std::vector<core::telemetry::OpEvent>& ops);
    QString rankText(int stage) const;  // "rank 1 · node2", or "" in one process

    struct Boundary {
        QCPItemStraightLine* line = nullptr;
        QCPItemText* text = nullptr;
    };

    std::vector<core::telemetry::LinkRecord> links_;
    std::vector<core::telemetry::OpEvent> rankOps_;
    std::vector<Boundary> boundaries_;
    MessageArrows* arrows_ = nullptr;
    QToolButton* followButton_ = nullptr;
    QToolButton* wallClockButton_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QSharedPointer<chart::RowTicker> rowTicker_;
    std::array<OpSpans*, 4> spans_{};
    TimeAxis axis_ = TimeAxis::Tick;
    bool followLive_ = true;
    double followTicks_ = kDefaultFollowTicks;
    double followUs_ = 0.0;  // 0: derived from the mean tick duration
    int rows_ = 0;
    std::vector<StageStats> stats_;
    double firstStartUs_ = 0.0;
    double lastEndUs_ = 0.0;
    std::int64_t firstTick_ = 0;
    std::int64_t lastTick_ = -1;
    bool anyPipelineOp_ = false;
    bool anyTick_ = false;
    std::map<std::int32_t, MarkItems> marks_;  // by epoch
};

}  // namespace lp::ui
