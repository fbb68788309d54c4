// A small study folder made by hand, as `layerpipe study --out DIR` lays it out (issue 14's
// shared contract): study.json, results.csv (the guaranteed columns, plus an extra one) and one
// run folder per row with what `layerpipe run --out` writes, from a synthetic two-stage run with
// known counts (kSteps train samples, kOps op events, two stages).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/io/study_results.hpp"
#include "core/telemetry/exporters.hpp"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QString>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lp::ui::test {

inline constexpr int kSteps = 24;
inline constexpr int kOps = 3 * kSteps;  // F, B and U of every step, over both stages

struct StudyRowSpec {
    std::string id;
    std::string policy;
    double top1 = 0.5;
    std::string historyBytes;  // text as written: "" = not applicable
    std::string forecastBytes;
    std::string bubble;
    bool diverged = false;
};

inline core::telemetry::PipelineLayout fixtureLayout(const std::string& policy) {
    core::telemetry::PipelineLayout l;
    l.unitNames = {"stem", "layer1.0", "head"};
    l.stageOfUnit = {0, 0, 1};
    l.delays = {2, 0};
    l.stageParams = {2000, 500};
    l.policy = policy;
    l.schedule = "layerpipe";
    return l;
}

// A two-stage run: kSteps minibatches, a falling loss (scaled by `lossScale`), one evaluation.
inline core::telemetry::TelemetryLog fixtureLog(double lossScale) {
    using namespace core::telemetry;  // NOLINT(google-build-using-namespace): test brevity
    TelemetryBatch b;
    for (int j = 0; j < kSteps; ++j) {
        const double t = 1000.0 * j;
        const std::int32_t stage = j % 2;
        b.ops.push_back({stage, OpKind::Forward, j, std::max(0, j - 2), j, t, t + 300.0, 0});
        b.ops.push_back(
            {stage, OpKind::Backward, j, std::max(0, j - 2), j + 2, t + 300, t + 700, 1});
        b.ops.push_back({stage, OpKind::Update, j, j, j + 2, t + 700, t + 800, 1});
        b.staleness.push_back({j + 1, 0, std::min(j, 2), 2});
        b.memory.push_back({t, j, 0, MemoryCategory::WeightHistory, 8000});
        b.train.push_back({j,
                           0,
                           t + 900.0,
                           static_cast<float>(lossScale * 2.3 / (1.0 + 0.1 * j)),
                           0.1F + 0.02F * static_cast<float>(j),
                           0.05F,
                           500.0F,
                           false});
    }
    b.eval.push_back({0, kSteps - 1, 1.1F, 0.6F, 0.9F});
    TelemetryLog log;
    log.append(std::move(b));
    return log;
}

inline void writeFile(const QString& path, const std::string& text) {
    QFile f(path);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate)) << path.toStdString();
    f.write(text.data(), static_cast<qint64>(text.size()));
}

// results.csv text: an extra first column "note", then the guaranteed ones.
inline std::string resultsCsv(const std::vector<StudyRowSpec>& rows) {
    std::string csv = "note";
    for (const std::string_view c : core::io::kStudyColumns) {
        csv += "," + std::string(c);
    }
    csv += "\n";
    for (const StudyRowSpec& r : rows) {
        csv += "extra," + r.id + ",\"" + r.policy + ", K=2\"," + r.policy +
               ",layerpipe,2,\"2,0\",static,sgd,0.05,1,4,synthetic,1,24," + std::to_string(r.top1) +
               ",0.9,1.1,0.7,0.95,1.0,," + r.historyBytes + "," + r.forecastBytes +
               ",0.01,0.02,0.9," + r.bubble + ",1.5,2.5,480," + (r.diverged ? "yes" : "no") +
               ",runs/" + r.id + "\n";
    }
    return csv;
}

// Writes the study into dir: study.json, results.csv and runs/<id>/ for every row.
inline void writeStudy(const QString& dir, const std::vector<StudyRowSpec>& rows) {
    ASSERT_TRUE(QDir().mkpath(dir));
    nlohmann::json runs = nlohmann::json::array();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const StudyRowSpec& r = rows[i];
        core::io::ExperimentConfig c;
        c.name = "fixture (" + r.policy + ")";
        c.pipeline.cuts = {2};
        c.pipeline.policy =
            *core::parseChoice<core::WeightPolicy>(r.policy == "sequential" ? "latest" : r.policy);
        const std::filesystem::path run = std::filesystem::path(dir.toStdString()) / "runs" / r.id;
        const core::telemetry::TelemetryLog log = fixtureLog(1.0 + 0.2 * static_cast<double>(i));
        const core::telemetry::PipelineLayout layout =
            fixtureLayout(std::string(core::choiceName(c.pipeline.policy)));
        core::telemetry::writeCsvs(log, run);
        core::telemetry::writeChromeTrace(log, layout, run / "trace.json");
        core::telemetry::writeRunRecord(core::io::toJson(c), layout, log, {}, run / "run.json");
        core::io::saveConfig(run / "experiment.json", c);
        runs.push_back({{"id", r.id}, {"label", r.policy}, {"config", core::io::toJson(c)}});
    }
    const nlohmann::json study = {
        {"preset", "fixture"}, {"command", "layerpipe study --preset fixture"}, {"runs", runs}};
    writeFile(QDir(dir).filePath(QStringLiteral("study.json")), study.dump(2));
    writeFile(QDir(dir).filePath(QStringLiteral("results.csv")), resultsCsv(rows));
}

// Four runs: history bytes chosen so that text order (1048576 < 20000000 < 524288) differs from
// numeric order; the EMA run diverged.
inline std::vector<StudyRowSpec> fourRuns() {
    return {{"seq", "sequential", 0.80, "0", "0", "0"},
            {"stash", "stash", 0.78, "20000000", "20000000", "0.1"},
            {"ema", "ema", 0.10, "1048576", "1048576", "0.1", true},
            {"latest", "latest", 0.70, "524288", "", "0.1"}};
}

}  // namespace lp::ui::test
