// core/study: presets, results.csv rows and the report's noise rule (issue 14).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "core/io/atomic_file.hpp"
#include "core/study/results_table.hpp"
#include "core/study/study_plan.hpp"
#include "core/study/study_report.hpp"

#include "tests/support/expect_input_error.hpp"
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lp::core::study {
namespace {

using lp::test::expectInputError;

StudyPlan plan(const std::string& preset,
               std::vector<std::string> only = {},
               std::int64_t seeds = 1,
               std::vector<std::string> sets = {}) {
    return planStudy({.preset = preset,
                      .dataPath = "",
                      .seeds = seeds,
                      .threads = 2,
                      .sets = std::move(sets),
                      .only = std::move(only)});
}

// "section.key" → JSON text of every field.
std::map<std::string, std::string> flat(const io::ExperimentConfig& c) {
    std::map<std::string, std::string> out;
    const nlohmann::json doc = io::toJson(c);
    for (const auto& [section, value] : doc.items()) {
        if (!value.is_object()) {
            out[section] = value.dump();
            continue;
        }
        for (const auto& [key, v] : value.items()) {
            out[section + "." + key] = v.dump();
        }
    }
    return out;
}

// The runs of a study share the model, the data, the seed and the training settings: only
// pipeline.*, optimizer.* and the name may differ between them.
TEST(StudyPlan, RunsDifferOnlyInPipelineAndOptimizerSettings) {
    // Every preset with its number of runs.
    const std::map<std::string, std::size_t> presets = {
        {"quick", 6}, {"paper", 10}, {"optimizers", 12}, {"delays", 7}};
    for (const auto& [name, count] : presets) {
        SCOPED_TRACE(name);
        const StudyPlan p = plan(name);
        ASSERT_EQ(p.runs.size(), count);
        std::set<std::string> ids;
        const auto first = flat(p.runs.front().config);
        for (const StudyRun& r : p.runs) {
            EXPECT_TRUE(ids.insert(r.id).second) << r.id;
            EXPECT_EQ(r.id, r.variant + "-s1");
            EXPECT_EQ(r.config.training.seed, 1U);
            EXPECT_EQ(r.config.training.threads, 2);
            for (const auto& [key, value] : flat(r.config)) {
                if (key.rfind("pipeline.", 0) == 0 || key.rfind("optimizer.", 0) == 0 ||
                    key == "name") {
                    continue;
                }
                EXPECT_EQ(value, first.at(key)) << r.id << " " << key;
            }
        }
    }
    // The EMA and momentum runs measure their reconstruction error; the others hold no shadow
    // stash.
    for (const StudyRun& r : plan("quick").runs) {
        EXPECT_EQ(r.config.pipeline.diagnosticStash,
                  r.config.pipeline.policy == WeightPolicy::Ema ||
                      r.config.pipeline.policy == WeightPolicy::Momentum)
            << r.id;
    }
}

TEST(StudyPlan, SeedsRepeatEveryRunAndSetsApplyToAllLast) {
    const StudyPlan p = plan("quick",
                             {"seq", "k4-ema"},
                             3,
                             {"data.dataset=synthetic", "optimizer.lr=0.02", "training.seed=9"});
    ASSERT_EQ(p.runs.size(), 6U);
    const std::vector<std::string> ids = {
        "seq-s1", "k4-ema-s1", "seq-s2", "k4-ema-s2", "seq-s3", "k4-ema-s3"};
    for (std::size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(p.runs[i].id, ids[i]);
        EXPECT_EQ(p.runs[i].config.data.dataset, DatasetKind::Synthetic);
        EXPECT_DOUBLE_EQ(p.runs[i].config.optimizer.lr, 0.02);
        EXPECT_EQ(p.runs[i].config.training.seed, 9U);  // --set comes after the seed
    }
    const StudyPlan seeded = plan("quick", {"seq"}, 2);
    EXPECT_EQ(seeded.runs[1].config.training.seed, 2U);
    EXPECT_EQ(seeded.runs[0].config.model.width, 16);
    EXPECT_EQ(seeded.runs[0].config.data.dataset, DatasetKind::FashionMnist);
}

TEST(StudyPlan, PaperSaysWhenFashionMnistReplacesCifar100) {
    const std::string empty =
        (std::filesystem::temp_directory_path() / "lp-study-no-cifar").string();
    std::filesystem::create_directories(empty);
    const StudyPlan p = planStudy({.preset = "paper",
                                   .dataPath = empty,
                                   .seeds = 1,
                                   .threads = 0,
                                   .sets = {},
                                   .only = {"seq"}});
    EXPECT_EQ(p.runs[0].config.data.dataset, DatasetKind::FashionMnist);
    EXPECT_EQ(p.datasetNote,
              "CIFAR-100 was not found in " + empty +
                  " (train.bin, test.bin); Fashion-MNIST "
                  "replaced it");
    EXPECT_EQ(p.runs[0].config.eval.recalibrateBatchNorm, 50);
    const StudyPlan synthetic = planStudy({.preset = "paper",
                                           .dataPath = empty,
                                           .seeds = 1,
                                           .threads = 0,
                                           .sets = {"data.dataset=synthetic"},
                                           .only = {"seq"}});
    EXPECT_EQ(synthetic.datasetNote, "");
    std::filesystem::remove_all(empty);
}

TEST(StudyPlan, BadOptionsNameWhatIsAllowed) {
    expectInputError([] { plan("fast"); },
                     {"--preset must be one of quick, paper, optimizers, delays, got 'fast'"});
    expectInputError(
        [] {
            plan("quick", {"seq", "k5-ema"});
        },
        {"--runs: 'k5-ema' is not a run of preset quick; its runs are seq, "});
    expectInputError([] { plan("quick", {"seq"}, 101); }, {"--seeds must be in [1, 100], got 101"});
    expectInputError([] { plan("quick", {"seq"}, 1, {"model.width"}); },
                     {"--set expects key=value, got 'model.width'"});
    expectInputError([] { plan("quick", {"seq"}, 1, {"model.width=0"}); },
                     {"study run seq-s1: 'model.width' must be in [1, 256], got 0"});
}

// A finished run's outcome as trainRunFolder returns it: K = 4 EMA, two epochs.
session::RunOutcome emaOutcome() {
    session::RunOutcome o;
    o.layout.delays = {6, 4, 2, 0};
    o.layout.stageParams = {100, 200, 300, 400};
    o.layout.policy = "ema";
    o.layout.schedule = "layerpipe";
    o.summary.emaFormulaBytes = (100 + 200 + 300) * 4;
    o.summary.stashFormulaBytes = (600 + 800 + 600) * 4;
    o.summary.peakBytes[static_cast<std::size_t>(telemetry::MemoryCategory::WeightHistory)] = 2400;
    o.summary.utilisation = 0.8;
    o.summary.bubble = 0.2;
    o.summary.meanStaleness = 2.5;
    o.summary.steadyImagesPerSecond = 123.5;
    telemetry::TelemetryBatch b;
    b.eval = {{.epoch = 0, .step = 10, .loss = 0.5F, .top1 = 0.75F, .top5 = 0.9F},
              {.epoch = 1,
               .step = 20,
               .loss = 0.75F,
               .top1 = 0.625F,
               .top5 = 0.95F,
               .recalBatches = 4,
               .recalLoss = 0.25F,
               .recalTop1 = 0.875F,
               .recalTop5 = 1.0F}};
    b.reconstruction = {{.stage = 0, .relativeError = 0.25F},
                        {.stage = 0, .relativeError = 0.75F},
                        {.stage = 2, .relativeError = 0.125F}};
    b.train.resize(20);
    o.log.append(std::move(b));
    o.train.seconds = 3.5;
    o.datasetName = "fashion-mnist";
    o.epochsDone = 2;
    o.testSamples = 1000;
    return o;
}

TEST(ResultsTable, RowOfARunHasEveryColumn) {
    StudyRun run{.id = "k4-ema-s1", .variant = "k4-ema", .label = "K=4 EMA", .config = {}};
    run.config.pipeline.cuts = {3, 5, 7};
    run.config.pipeline.policy = WeightPolicy::Ema;
    const ResultRow row = resultRow(run, emaOutcome(), "runs/k4-ema-s1");
    for (const std::string_view col : resultColumns()) {
        EXPECT_TRUE(row.contains(col)) << col;
    }
    const std::map<std::string, std::string> expected = {{"run_id", "k4-ema-s1"},
                                                         {"policy", "ema"},
                                                         {"stages", "4"},
                                                         {"delays", "6 4 2 0"},
                                                         {"delay_schedule", "static"},
                                                         {"optimizer", "sgd"},
                                                         {"lr", "0.1"},
                                                         {"epochs", "2"},
                                                         {"steps", "20"},
                                                         {"final_top1", "0.625"},
                                                         {"final_loss", "0.75"},
                                                         {"best_top1", "0.75"},
                                                         {"best_top5", "0.95"},
                                                         {"best_loss", "0.5"},
                                                         {"final_recal_top1", "0.875"},
                                                         {"history_bytes", "2400"},
                                                         {"history_forecast_bytes", "2400"},
                                                         {"recon_error_mean", "0.375"},
                                                         {"recon_error_max", "0.75"},
                                                         {"recon_error_by_stage", "0.5 - 0.125 -"},
                                                         {"utilisation", "0.8"},
                                                         {"bubble", "0.2"},
                                                         {"mean_staleness", "2.5"},
                                                         {"images_per_second", "123.5"},
                                                         {"diverged", "no"},
                                                         {"folder", "runs/k4-ema-s1"},
                                                         {"test_samples", "1000"},
                                                         {"variant", "k4-ema"}};
    for (const auto& [col, value] : expected) {
        EXPECT_EQ(cell(row, col), value) << col;
    }
    // The forecast follows the layout's policy: stash its ring, momentum nothing.
    session::RunOutcome stash = emaOutcome();
    stash.layout.policy = "stash";
    EXPECT_EQ(cell(resultRow(run, stash, "f"), "history_forecast_bytes"), "8000");
    stash.layout.policy = "momentum";
    EXPECT_EQ(cell(resultRow(run, stash, "f"), "history_forecast_bytes"), "0");
    run.config.pipeline.schedule = ScheduleKind::GPipe;
    EXPECT_EQ(cell(resultRow(run, emaOutcome(), "f"), "policy"), "gpipe");
    session::RunOutcome one = emaOutcome();
    one.layout.delays = {0};
    one.layout.stageParams = {1000};
    run.config.pipeline.schedule = ScheduleKind::LayerPipe;
    EXPECT_EQ(cell(resultRow(run, one, "f"), "policy"), "sequential");
    // A delay schedule: the scale each epoch ran with, from the last record of each epoch.
    session::RunOutcome scheduled = emaOutcome();
    telemetry::TelemetryBatch d;
    d.delays = {{.epoch = 0, .stage = 0, .delay = 6, .scale = 1.0},
                {.epoch = 0, .stage = 1, .delay = 4, .scale = 1.0},
                {.epoch = 1, .stage = 0, .delay = 6, .scale = 1.0},
                {.epoch = 1, .stage = 0, .delay = 3, .scale = 0.5}};
    scheduled.log.append(std::move(d));
    EXPECT_EQ(cell(resultRow(run, scheduled, "f"), "epoch_scales"), "1 0.5");
    EXPECT_EQ(cell(resultRow(run, emaOutcome(), "f"), "epoch_scales"), "");
    // A run that diverged before its first evaluation has no accuracy.
    session::RunOutcome nan = emaOutcome();
    nan.log.clear();
    nan.train.nonFinite = true;
    const ResultRow diverged = resultRow(run, nan, "f");
    EXPECT_EQ(cell(diverged, "diverged"), "yes");
    EXPECT_EQ(cell(diverged, "final_top1"), "");
    EXPECT_EQ(cell(diverged, "recon_error_mean"), "");
}

TEST(ResultsTable, CsvReadsBackWhatItWrote) {
    StudyRun run{.id = "k4-ema-s1", .variant = "k4-ema", .label = "K=4 EMA", .config = {}};
    run.config.pipeline.cuts = {3, 5, 7};
    const ResultRow row = resultRow(run, emaOutcome(), "runs/k4-ema-s1");
    const std::string text = resultsCsv({row, row});
    EXPECT_EQ(text.rfind("run_id,label,policy,schedule,stages,delays,delay_schedule,", 0), 0U);
    const auto file = std::filesystem::temp_directory_path() / "lp-study-results-test.csv";
    io::writeFileAtomically(file, text);
    const auto back = readResultsCsv(file);
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(back->size(), 2U);
    EXPECT_EQ(back->at(1), row);
    EXPECT_EQ(cellNumber(row, "final_top1"), 0.625);
    EXPECT_FALSE(cellNumber(row, "label").has_value());
    EXPECT_FALSE(readResultsCsv(file.string() + ".absent").has_value());
    io::writeFileAtomically(file, "a,b\n1,2\n");
    expectInputError([&] { readResultsCsv(file); }, {"no column 'run_id'"});
    std::filesystem::remove(file);
}

ResultRow rowWith(const std::string& variant,
                  double top1,
                  std::int64_t tests,
                  const std::string& recal = "") {
    return {{"variant", variant},
            {"final_top1", std::to_string(top1)},
            {"final_recal_top1", recal},
            {"test_samples", std::to_string(tests)},
            {"diverged", "no"}};
}

// The noise rule: |Δ| ≤ 2·sqrt(SE_a² + SE_b²), SE binomial with one seed.
TEST(StudyReport, NoiseRuleUsesTheBinomialErrorForOneSeed) {
    const Estimate a = *top1Estimate({rowWith("a", 0.80, 10000)});
    const Estimate b = *top1Estimate({rowWith("b", 0.82, 10000)});
    EXPECT_NEAR(a.stdError, std::sqrt(0.8 * 0.2 / 10000.0), 1e-12);
    EXPECT_FALSE(withinNoise(a, b));  // 2 points against a band of 1.1
    const Estimate c = *top1Estimate({rowWith("c", 0.80, 1000)});
    const Estimate d = *top1Estimate({rowWith("d", 0.82, 1000)});
    EXPECT_TRUE(withinNoise(c, d));  // against a band of 3.5
    // With BN recalibration the recalibrated top-1 is the one compared.
    EXPECT_DOUBLE_EQ(top1Estimate({rowWith("e", 0.1, 1000, "0.9")})->mean, 0.9);
    // Seeds: the spread over seeds, never below the pooled binomial error.
    const Estimate s = *top1Estimate({rowWith("f", 0.70, 1000), rowWith("f", 0.80, 1000)});
    EXPECT_NEAR(s.mean, 0.75, 1e-12);
    EXPECT_NEAR(s.std, std::sqrt(0.005), 1e-12);
    EXPECT_NEAR(s.stdError, std::sqrt(0.005) / std::sqrt(2.0), 1e-12);
    const Estimate same = *top1Estimate({rowWith("g", 0.75, 1000), rowWith("g", 0.75, 1000)});
    EXPECT_NEAR(same.stdError, std::sqrt(0.75 * 0.25 / 2000.0), 1e-12);
}

TEST(StudyReport, MarkdownHasTheTableComparisonsAndCharts) {
    StudyPlan p = plan("quick", {"seq", "k4-stash", "k4-ema"}, 1, {"training.epochs=2"});
    ResultRow seq = rowWith("seq", 0.80, 10000);
    seq["label"] = "sequential";
    seq["run_id"] = "seq-s1";
    ResultRow stash = rowWith("k4-stash", 0.799, 10000);
    stash["run_id"] = "k4-stash-s1";
    ResultRow ema = rowWith("k4-ema", 0.70, 10000);
    ema["run_id"] = "k4-ema-s1";
    ema["history_bytes"] = "10";
    ema["history_forecast_bytes"] = "12";
    ReportInput in{.plan = p,
                   .rows = {seq, stash, ema},
                   .firstCommand = "layerpipe study --preset quick --out d",
                   .command = "layerpipe study --preset quick --out d --threads 1",
                   .machine = "CPU: x\nkernels: y",
                   .chartsMade = true,
                   .chartsNote = ""};
    const std::string md = reportMarkdown(in);
    for (const char* fragment :
         {"- Command: `layerpipe study --preset quick --out d`",
          "- Continued with: `layerpipe study --preset quick --out d --threads 1`",
          "- Machine: CPU: x; kernels: y",
          "- Runs: 3 of 3 finished.",
          "- Changed from the preset in every run (--set): `training.epochs=2`",
          "- Runs of the preset selected (--runs): `seq`, `k4-stash`, `k4-ema`",
          "- **K=4 stash vs sequential**: test top-1 79.90 % vs 80.00 % (−0.10 points; noise "
          "band ±1.13): within noise.",
          "- **K=4 EMA vs sequential**: test top-1 70.00 % vs 80.00 % (−10.00 points; noise band "
          "±1.22): worse, outside noise.",
          "differ from the forecast in: k4-ema-s1 (10 B measured, 12 B forecast); a run with fewer "
          "steps per epoch than its largest delay never fills the stash ring",
          "![Test top-1 against weight-history memory](charts/accuracy_vs_memory.png)",
          "![Training loss per run](charts/loss_curves.png)"}) {
        EXPECT_NE(md.find(fragment), std::string::npos) << fragment << "\n" << md;
    }
    in.chartsMade = false;
    in.chartsNote = "--no-charts was given.";
    in.rows = {seq};
    const std::string partial = reportMarkdown(in);
    EXPECT_NE(partial.find("The charts were not made: --no-charts was given."), std::string::npos);
    EXPECT_NE(partial.find("1 of 3 finished; run the same command again to continue"),
              std::string::npos);
    EXPECT_NE(partial.find("| K=4 EMA | not run yet |"), std::string::npos) << partial;
}

}  // namespace
}  // namespace lp::core::study
