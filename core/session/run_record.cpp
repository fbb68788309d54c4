// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/run_record.hpp"

namespace lp::core::session {

RunFacts sessionRunFacts(const SessionStatus& status,
                         const std::string& dataSource,
                         std::int64_t parameters) {
    RunFacts f{.state = status.state,
               .message = status.message,
               .epochsDone = status.epoch,
               .epochsConfigured = status.epochs,
               .stepsPerEpoch = status.stepsPerEpoch,
               .dataSource = dataSource,
               .parameters = parameters,
               .history = status.history,
               .last = std::nullopt,
               .seconds = 0.0,
               .interrupted = status.state == RunState::Stopped,
               .stopSignal = ""};
    for (const EpochSummary& e : status.history) {
        f.seconds += e.seconds;
    }
    if (!status.history.empty()) {
        f.last = status.history.back();
    }
    return f;
}

namespace {

// An epoch's training and test figures, under the same keys in the summary and its history.
nlohmann::json epochFiguresJson(const EpochSummary& e) {
    return {{"train_loss", e.trainLoss},
            {"train_accuracy", e.trainAccuracy},
            {"test_loss", e.testLoss},
            {"test_top1", e.testTop1},
            {"test_top5", e.testTop5}};
}

nlohmann::json historyJson(const std::vector<EpochSummary>& history) {
    nlohmann::json out = nlohmann::json::array();
    for (const EpochSummary& e : history) {
        nlohmann::json entry = epochFiguresJson(e);
        entry["epoch"] = e.epoch;
        entry["seconds"] = e.seconds;
        entry["images_per_second"] = e.imagesPerSecond;
        out.push_back(entry);
    }
    return out;
}

nlohmann::json memoryJson(const telemetry::RunSummary& s) {
    using telemetry::MemoryCategory;
    return {{"weights", s.peak(MemoryCategory::Weights)},
            {"weight_history", s.peak(MemoryCategory::WeightHistory)},
            {"activations", s.peak(MemoryCategory::Activations)},
            {"optimizer_state", s.peak(MemoryCategory::OptimizerState)},
            {"diagnostic_shadow", s.peak(MemoryCategory::DiagnosticShadow)}};
}

}  // namespace

nlohmann::json runSummaryJson(const RunFacts& f, const telemetry::RunSummary& s) {
    const EpochSummary last = f.last.value_or(EpochSummary{});
    nlohmann::json out = {
        {"epochs", f.epochsDone},
        {"steady_images_per_second", s.steadyImagesPerSecond},
        {"steady_steps", s.steadySteps},
        {"peak_bytes", memoryJson(s)},
        {"weight_history_formula_bytes",
         {{"stash", s.stashFormulaBytes}, {"ema", s.emaFormulaBytes}}},
        {"seconds", f.seconds},
        {"images_per_second_last_epoch", last.imagesPerSecond},
        {"non_finite", f.state == RunState::NonFinite},
        {"interrupted", f.interrupted},
        {"stop_signal", f.stopSignal},
        // The run as a session reports it (the GUI's keys, written by the CLI too since issue 16).
        {"state", toString(f.state)},
        {"message", f.message},
        {"epochs_completed", f.epochsDone},
        {"epochs_configured", f.epochsConfigured},
        {"steps_per_epoch", f.stepsPerEpoch},
        {"data_source", f.dataSource},
        {"parameters", f.parameters},
        {"epoch_history", historyJson(f.history)}};
    out.update(epochFiguresJson(last));
    if (last.recalibrationBatches > 0) {
        out["test_recalibrated"] = {{"batches", last.recalibrationBatches},
                                    {"loss", last.recalibratedTestLoss},
                                    {"top1", last.recalibratedTestTop1},
                                    {"top5", last.recalibratedTestTop5}};
    }
    return out;
}

telemetry::RunSummary writeRunRecord(const io::ExperimentConfig& config,
                                     const telemetry::PipelineLayout& layout,
                                     const telemetry::TelemetryLog& log,
                                     const RunFacts& facts,
                                     const std::filesystem::path& file) {
    const telemetry::RunSummary summary =
        telemetry::summarise(log, layout, facts.stepsPerEpoch, config.training.batchSize);
    telemetry::writeRunRecord(
        io::toJson(config), layout, log, runSummaryJson(facts, summary), file);
    return summary;
}

}  // namespace lp::core::session
