// CompareRunner: runs up to five variants of one experiment (sequential, latest, stash, EMA,
// momentum, GPipe, ...) one after another, each in its own core Session, and hands their telemetry
// to the GUI tagged with the run's index. Only the pipeline section differs between the variants,
// so they share the model, the seed and the data order (issue 5, "Compare").
//
// One run at a time, at full speed, on the experiment's thread count: the runs never compete for
// cores, and each is bit-for-bit the run the CLI would make of the same config. Each run goes
// through the studio's one Session-to-Qt adapter, a TrainingBridge of its own (STYLE.md sections 1
// and 6): the GUI thread never waits on training, training never waits on the GUI. Building a
// Session (loading the data) happens on the GUI thread, as in TrainingBridge::start. GUI thread
// only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"
#include "core/io/config.hpp"
#include "core/session/session.hpp"
#include "core/telemetry/events.hpp"

#include <QObject>
#include <QString>

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace lp::ui {

class TrainingBridge;

enum class CompareVariant : std::uint8_t {
    Sequential,  // one stage, no delay: plain backprop, the reference
    Latest,      // the experiment's stages and delays, latest weights in B (no stash)
    Stash,       // ... with weight stashing (exact, PipeDream)
    Ema,         // ... with LayerPipe2's EMA reconstruction
    Momentum,    // ... rebuilding the old weights from the optimizer's momentum (no extra memory)
    GPipe,       // the experiment's stages, GPipe with its micro-batches (no staleness)
    AsEdited,    // the experiment exactly as edited
};

inline constexpr int kCompareVariants = 7;

}  // namespace lp::ui

// The variants' one name table (core/choices.hpp): the name is the variant's key in a lesson
// preset ("studio": {"compare": [...]}, ui/lessons.hpp) and in a study's policy column; the
// label is what the Compare tab shows (combo boxes, legend).
template <>
struct lp::core::ChoiceTable<lp::ui::CompareVariant> {
    using V = lp::ui::CompareVariant;
    static constexpr std::array<Choice<V>, lp::ui::kCompareVariants> kItems{{
        {V::Sequential, "sequential", "sequential"},
        {V::Latest, "latest", "latest weights"},
        {V::Stash, "stash", "stash"},
        {V::Ema, "ema", "EMA"},
        {V::Momentum, "momentum", "momentum"},
        {V::GPipe, "gpipe", "GPipe"},
        {V::AsEdited, "as-edited", "as edited"},
    }};
};

namespace lp::ui {

// The label: "sequential", "latest weights", "stash", "EMA", "momentum", "GPipe", "as edited".
QString variantName(CompareVariant variant);

// The name: "sequential", "latest", "stash", "ema", "momentum", "gpipe", "as-edited"; fromKey
// takes exactly these.
QString variantKey(CompareVariant variant);
std::optional<CompareVariant> variantFromKey(const QString& key);

// base with only its pipeline section changed to the variant (diagnostic stash off except for
// AsEdited; GPipe's micro-batches capped at the batch size). Does not validate.
core::io::ExperimentConfig variantConfig(const core::io::ExperimentConfig& base,
                                         CompareVariant variant);

struct CompareRun {
    QString label;  // legend text
    core::io::ExperimentConfig config;
};

class CompareRunner : public QObject {
    Q_OBJECT

public:
    static constexpr int kMaxRuns = 5;

    explicit CompareRunner(QObject* parent = nullptr);
    ~CompareRunner() override;
    CompareRunner(const CompareRunner&) = delete;
    CompareRunner& operator=(const CompareRunner&) = delete;
    CompareRunner(CompareRunner&&) = delete;
    CompareRunner& operator=(CompareRunner&&) = delete;

    // Stops any comparison, then checks every config (core::io::validate) and starts the first
    // run. Throws InputError, having started nothing, for 0 or more than kMaxRuns runs, configs
    // that differ outside the pipeline section, or a config that does not validate.
    void start(std::vector<CompareRun> runs);
    // Ends the comparison now: hands out what the running run recorded, then ends that run (its
    // session is destroyed at its next tick boundary, as TrainingBridge::reset); emits finished().
    void stop();

    bool running() const { return current_ >= 0; }

    // Index of the run in progress; -1 when none.
    int currentRun() const { return current_; }

    const std::vector<CompareRun>& runs() const { return runs_; }

    // How each run ended (Ready for a run that has not ended yet).
    const std::vector<core::session::RunState>& outcomes() const { return outcomes_; }

    // The bridge of the run in progress (polled by its own timer; tests may poll() it).
    TrainingBridge* bridge() const { return bridge_; }

signals:
    void runStarted(int index, const lp::core::telemetry::PipelineLayout& layout);
    void telemetry(int index, const lp::core::telemetry::TelemetryBatch& batch);
    // Finished, NonFinite (a diverged run is a result too: the next run starts), Failed (also when
    // its Session could not be built; message says why) or Stopped.
    void runEnded(int index, lp::core::session::RunState state, const QString& message);
    void finished();

private:
    void launch(int index);
    void onState(core::session::RunState state, const QString& message);

    std::vector<CompareRun> runs_;
    std::vector<core::session::RunState> outcomes_;
    TrainingBridge* bridge_ = nullptr;
    int current_ = -1;
};

}  // namespace lp::ui
