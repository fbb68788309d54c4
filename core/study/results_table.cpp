// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/study/results_table.hpp"

#include "core/error.hpp"
#include "core/io/csv_reader.hpp"
#include "core/io/study_results.hpp"
#include "core/telemetry/summary.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

namespace lp::core::study {
namespace {

// Shortest text that reads back to the same bits, whatever the C locale (as the exporters).
template <typename T>
std::string real(T v) {
    if (std::isnan(v)) {
        return "nan";
    }
    std::array<char, 64> buf{};
    const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return {buf.data(), r.ptr};
}

std::string joined(const std::vector<std::int64_t>& v) {
    std::string out;
    for (const std::int64_t x : v) {
        out += (out.empty() ? "" : " ") + std::to_string(x);
    }
    return out;
}

// A config value that other branches' keys may add (pipeline.delaySchedule, delayScales): read
// from the document so that it is "" where the key does not exist.
std::string configText(const io::ExperimentConfig& c, const char* section, const char* key) {
    const nlohmann::json doc = io::toJson(c);
    if (!doc.contains(section) || !doc[section].contains(key)) {
        return "";
    }
    const nlohmann::json& v = doc[section][key];
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_array()) {
        std::string out;
        for (const nlohmann::json& x : v) {
            out +=
                (out.empty() ? "" : " ") + (x.is_number_float() ? real(x.get<double>()) : x.dump());
        }
        return out;
    }
    return v.dump();
}

std::string policyOf(const telemetry::PipelineLayout& layout, const io::ExperimentConfig& c) {
    if (c.pipeline.schedule == ScheduleKind::GPipe) {
        return std::string(choiceName(ScheduleKind::GPipe));
    }
    return layout.stages() <= 1 ? "sequential" : std::string(choiceName(c.pipeline.policy));
}

void addEvaluations(ResultRow& row, const telemetry::TelemetryLog& log) {
    if (log.eval().empty()) {
        return;
    }
    const telemetry::EvalSample& last = log.eval().back();
    row["final_top1"] = real(last.top1);
    row["final_top5"] = real(last.top5);
    row["final_loss"] = real(last.loss);
    if (last.recalBatches > 0) {
        row["final_recal_top1"] = real(last.recalTop1);
        row["final_recal_top5"] = real(last.recalTop5);
        row["final_recal_loss"] = real(last.recalLoss);
    }
    std::optional<float> top1;
    std::optional<float> top5;
    std::optional<float> loss;
    for (const telemetry::EvalSample& e : log.eval()) {
        if (std::isfinite(e.top1)) {
            top1 = std::max(top1.value_or(e.top1), e.top1);
        }
        if (std::isfinite(e.top5)) {
            top5 = std::max(top5.value_or(e.top5), e.top5);
        }
        if (std::isfinite(e.loss)) {
            loss = std::min(loss.value_or(e.loss), e.loss);
        }
    }
    row["best_top1"] = top1 ? real(*top1) : "";
    row["best_top5"] = top5 ? real(*top5) : "";
    row["best_loss"] = loss ? real(*loss) : "";
}

void addReconstruction(ResultRow& row, const telemetry::TelemetryLog& log, std::int32_t stages) {
    const auto& samples = log.reconstruction();
    if (samples.empty()) {
        return;
    }
    double sum = 0.0;
    float worst = 0.0F;
    std::vector<double> stageSum(static_cast<std::size_t>(std::max(stages, 1)), 0.0);
    std::vector<std::int64_t> stageCount(stageSum.size(), 0);
    for (const telemetry::ReconstructionSample& r : samples) {
        sum += static_cast<double>(r.relativeError);
        worst = std::max(worst, r.relativeError);
        const auto s = static_cast<std::size_t>(r.stage);
        if (s < stageSum.size()) {
            stageSum[s] += static_cast<double>(r.relativeError);
            ++stageCount[s];
        }
    }
    row["recon_error_mean"] = real(sum / static_cast<double>(samples.size()));
    row["recon_error_max"] = real(worst);
    std::string byStage;
    for (std::size_t s = 0; s < stageSum.size(); ++s) {
        byStage += (s == 0 ? "" : " ") +
                   (stageCount[s] > 0 ? real(stageSum[s] / static_cast<double>(stageCount[s]))
                                      : std::string("-"));
    }
    row["recon_error_by_stage"] = byStage;
}

// The delay scale c_e each epoch ran with (delay schedules): stage 0's final record per epoch.
std::string epochScales(const telemetry::TelemetryLog& log) {
    std::string out;
    for (const telemetry::DelaySample& d : telemetry::finalDelays(log.delays())) {
        if (d.stage == 0) {
            out += (out.empty() ? "" : " ") + real(d.scale);
        }
    }
    return out;
}

}  // namespace

const std::vector<std::string_view>& resultColumns() {
    static const std::vector<std::string_view> kColumns = [] {
        std::vector<std::string_view> c(io::kStudyColumns.begin(), io::kStudyColumns.end());
        for (const std::string_view extra : {"delay_scales",
                                             "final_recal_top5",
                                             "final_recal_loss",
                                             "test_samples",
                                             "recon_error_by_stage",
                                             "variant",
                                             "epoch_scales"}) {
            c.push_back(extra);
        }
        return c;
    }();
    return kColumns;
}

ResultRow resultRow(const StudyRun& run, const session::RunOutcome& o, const std::string& folder) {
    const io::ExperimentConfig& c = run.config;
    ResultRow row;
    for (const std::string_view col : resultColumns()) {
        row[std::string(col)] = "";
    }
    const std::string policy = policyOf(o.layout, c);
    row["run_id"] = run.id;
    row["variant"] = run.variant;
    row["label"] = run.label;
    row["policy"] = policy;
    row["schedule"] = choiceName(c.pipeline.schedule);
    row["stages"] = std::to_string(o.layout.stages());
    row["delays"] = joined(o.layout.delays);
    row["delay_schedule"] = configText(c, "pipeline", "delaySchedule");
    if (row["delay_schedule"].empty()) {
        row["delay_schedule"] = "static";
    }
    row["delay_scales"] = configText(c, "pipeline", "delayScales");
    row["epoch_scales"] = epochScales(o.log);
    row["optimizer"] = choiceName(c.optimizer.kind);
    row["lr"] = real(c.optimizer.lr);
    row["seed"] = std::to_string(c.training.seed);
    row["width"] = std::to_string(c.model.width);
    row["dataset"] = o.datasetName;
    row["epochs"] = std::to_string(o.epochsDone);
    row["steps"] = std::to_string(o.log.train().size());
    row["test_samples"] = std::to_string(o.testSamples);
    addEvaluations(row, o.log);
    row["history_bytes"] = std::to_string(o.summary.peak(telemetry::MemoryCategory::WeightHistory));
    row["history_forecast_bytes"] = std::to_string(telemetry::historyForecastBytes(o.layout));
    addReconstruction(row, o.log, o.layout.stages());
    if (o.summary.utilisation) {
        row["utilisation"] = real(*o.summary.utilisation);
        row["bubble"] = real(o.summary.bubble.value_or(1.0 - *o.summary.utilisation));
    }
    if (o.summary.meanStaleness) {
        row["mean_staleness"] = real(*o.summary.meanStaleness);
    }
    row["wall_seconds"] = real(o.train.seconds);
    row["images_per_second"] = real(o.summary.steadyImagesPerSecond);
    row["diverged"] = o.train.nonFinite ? "yes" : "no";
    row["folder"] = folder;
    return row;
}

std::string resultsCsv(const std::vector<ResultRow>& rows) {
    std::string out;
    const auto& cols = resultColumns();
    for (std::size_t i = 0; i < cols.size(); ++i) {
        out += (i ? "," : "") + std::string(cols[i]);
    }
    out += '\n';
    for (const ResultRow& row : rows) {
        for (std::size_t i = 0; i < cols.size(); ++i) {
            const std::string v = cell(row, cols[i]);
            LP_EXPECTS(v.find_first_of(",\"\n\r") == std::string::npos,
                       "results.csv cell " + std::string(cols[i]) + " holds a separator: " + v);
            out += (i ? "," : "") + v;
        }
        out += '\n';
    }
    return out;
}

std::optional<std::vector<ResultRow>> readResultsCsv(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
        return std::nullopt;
    }
    io::CsvReader csv(file);
    csv.column("run_id");  // InputError naming the file when it is not a study's table
    std::vector<ResultRow> rows;
    while (csv.next()) {
        ResultRow row;
        for (std::size_t i = 0; i < csv.header().size(); ++i) {
            row[csv.header()[i]] = std::string(csv.cell(i));
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string cell(const ResultRow& row, std::string_view column) {
    const auto it = row.find(column);
    return it == row.end() ? std::string() : it->second;
}

std::optional<double> cellNumber(const ResultRow& row, std::string_view column) {
    const std::string text = cell(row, column);
    if (text.empty()) {
        return std::nullopt;
    }
    double v = 0.0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc{} || r.ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

}  // namespace lp::core::study
