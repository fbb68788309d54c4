// `layerpipe study` end to end (issue 14): a smoke study on synthetic data, resume after SIGKILL
// and SIGTERM, refused folders and bad names. Every study here takes a few seconds at most.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "tests/support/cli_run.hpp"
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using lp::testing::fileBytes;
using lp::testing::Result;
using lp::testing::runShell;
using lp::testing::TempDir;

Result runCli(const std::string& args) {
    return runShell(std::string(LP_CLI_PATH) + " " + args + " 2>&1");
}

// The columns results.csv guarantees, in order (issue 14's shared contract).
const std::string kGuaranteedHeader =
    "run_id,label,policy,schedule,stages,delays,delay_schedule,optimizer,lr,seed,width,dataset,"
    "epochs,steps,final_top1,final_top5,final_loss,best_top1,best_top5,best_loss,"
    "final_recal_top1,history_bytes,history_forecast_bytes,recon_error_mean,recon_error_max,"
    "utilisation,bubble,mean_staleness,wall_seconds,images_per_second,diverged,folder";

// The quick preset on tiny synthetic data (~0.2 s a run), without charts.
const std::string kTiny =
    "--preset quick --threads 2 --no-charts "
    "--set data.dataset=synthetic --set model.width=4 --set model.inputSize=8 "
    "--set data.syntheticTrain=1280 --set data.syntheticTest=64 --set training.batchSize=16 "
    "--set eval.recalibrateBatchNorm=2 --set data.trainLimit=0 ";
const std::vector<std::pair<std::string, std::string>> kRunPolicies = {
    {"seq-s1", "sequential"},
    {"k4-latest-s1", "latest"},
    {"k4-stash-s1", "stash"},
    {"k4-ema-s1", "ema"},
    {"k4-momentum-s1", "momentum"},
    {"k10-latest-s1", "latest"}};
// The same runs about five times longer (~1 s each), for stopping a study midway.
const std::string kSlower = kTiny + "--set model.inputSize=16 --set data.syntheticTrain=2560 ";

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, sep)) {
        out.push_back(item);
    }
    if (!text.empty() && text.back() == sep && sep == ',') {
        out.emplace_back();
    }
    return out;
}

// results.csv as run_id → (column → cell), parsed here independently of the code under test.
std::map<std::string, std::map<std::string, std::string>> readResults(const std::string& file) {
    const std::vector<std::string> lines = split(fileBytes(file), '\n');
    std::map<std::string, std::map<std::string, std::string>> rows;
    if (lines.empty()) {
        return rows;
    }
    const std::vector<std::string> header = split(lines[0], ',');
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const std::vector<std::string> cells = split(lines[i], ',');
        EXPECT_EQ(cells.size(), header.size()) << lines[i];
        std::map<std::string, std::string> row;
        for (std::size_t c = 0; c < header.size() && c < cells.size(); ++c) {
            row[header[c]] = cells[c];
        }
        rows[row["run_id"]] = row;
    }
    return rows;
}

std::size_t rowCount(const std::string& file) {
    return readResults(file).size();
}

// Starts the study in the background and sends `signal` once results.csv has its first row;
// returns the study's output followed by "exit=<status>".
std::string studyStoppedAfterFirstRun(const std::string& args,
                                      const std::string& out,
                                      const std::string& log,
                                      const char* signal) {
    const std::string script =
        "sh -c '" + std::string(LP_CLI_PATH) + " study " + args + "--out " + out + " > " + log +
        " 2>&1 & p=$!; until [ \"$(cat " + out + "/results.csv 2>/dev/null | wc -l)\" -ge 2 ]; " +
        "do sleep 0.01; done; kill -" + signal + " $p; wait $p 2>/dev/null; echo \"exit=$?\"'";
    return runShell(script).out;
}

TEST(Study, SmokeWritesResultsReportAndRunFolders) {
    const TempDir dir("lp-study-smoke");
    const std::string out = dir / "study";
    const Result r = runCli("study " + kTiny + "--out " + out);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("6 runs, 0 already finished (skipped), 6 to run"), std::string::npos);

    const std::string csv = fileBytes(out + "/results.csv");
    EXPECT_EQ(csv.rfind(kGuaranteedHeader + ",", 0), 0U) << csv.substr(0, 400);
    const auto rows = readResults(out + "/results.csv");
    ASSERT_EQ(rows.size(), kRunPolicies.size()) << csv;
    for (const auto& [id, policy] : kRunPolicies) {
        SCOPED_TRACE(id);
        ASSERT_TRUE(rows.contains(id));
        const auto& row = rows.at(id);
        EXPECT_EQ(row.at("policy"), policy);
        EXPECT_EQ(row.at("seed"), "1");
        EXPECT_EQ(row.at("dataset"), "synthetic");
        EXPECT_EQ(row.at("folder"), "runs/" + id);
        EXPECT_TRUE(row.at("diverged") == "yes" || row.at("diverged") == "no");
        for (const char* f : {"train.csv",
                              "eval.csv",
                              "staleness.csv",
                              "memory.csv",
                              "reconstruction.csv",
                              "ops.csv",
                              "run.json",
                              "trace.json",
                              "experiment.json"}) {
            EXPECT_TRUE(fs::is_regular_file(fs::path(out) / row.at("folder") / f)) << f;
        }
        if (row.at("diverged") == "no") {
            const double top1 = std::stod(row.at("final_top1"));
            EXPECT_GE(top1, 0.0);
            EXPECT_LE(top1, 1.0);
            EXPECT_FALSE(row.at("final_recal_top1").empty());
        }
    }
    // Weight history: measured = forecast, stash > EMA > 0 = latest = sequential.
    const auto bytes = [&](const char* id) {
        return std::stoll(rows.at(id).at("history_bytes"));
    };
    for (const char* id :
         {"k4-stash-s1", "k4-ema-s1", "k4-latest-s1", "seq-s1", "k4-momentum-s1"}) {
        EXPECT_EQ(rows.at(id).at("history_bytes"), rows.at(id).at("history_forecast_bytes")) << id;
    }
    EXPECT_GT(bytes("k4-stash-s1"), bytes("k4-ema-s1"));
    EXPECT_GT(bytes("k4-ema-s1"), 0);
    EXPECT_EQ(bytes("k4-latest-s1"), 0);
    EXPECT_FALSE(rows.at("k4-ema-s1").at("recon_error_mean").empty());
    // Momentum: no history at all, its reconstruction measured like the EMA's.
    EXPECT_EQ(rows.at("k4-momentum-s1").at("history_bytes"), "0");
    EXPECT_EQ(rows.at("k4-momentum-s1").at("history_forecast_bytes"), "0");
    EXPECT_FALSE(rows.at("k4-momentum-s1").at("recon_error_max").empty());
    EXPECT_TRUE(rows.at("k4-stash-s1").at("recon_error_mean").empty());
    EXPECT_EQ(rows.at("seq-s1").at("utilisation"), "1");
    EXPECT_EQ(rows.at("k4-ema-s1").at("delays"), "6 4 2 0");
    EXPECT_LT(std::stod(rows.at("k4-ema-s1").at("utilisation")), 1.0);
    EXPECT_GT(std::stod(rows.at("k4-ema-s1").at("mean_staleness")), 0.0);

    const std::string report = fileBytes(out + "/report.md");
    for (const char* fragment : {"# Study `quick`",
                                 "| run | policy | K | delays | optimizer | top-1 % |",
                                 "| K=4 EMA | ema | 4 | 6 4 2 0 | sgd | ",
                                 "| sequential | sequential | 1 | 0 | sgd | ",
                                 "Rule: a difference is within noise when",
                                 "- **K=4 EMA vs K=4 stash**: ",
                                 "Machine: ",
                                 "Data: synthetic (64 test images)",
                                 "The charts were not made: --no-charts was given; make them with "
                                 "`QT_QPA_PLATFORM=offscreen layerpipe-studio --study "}) {
        EXPECT_NE(report.find(fragment), std::string::npos) << fragment << "\n" << report;
    }
    EXPECT_NE(report.find("- Command: `" + std::string(LP_CLI_PATH) + " study " + kTiny + "--out " +
                          out + "`"),
              std::string::npos)
        << report;

    const nlohmann::json study = nlohmann::json::parse(fileBytes(out + "/study.json"));
    EXPECT_EQ(study["preset"], "quick");
    EXPECT_NE(study["command"].get<std::string>().find(" study --preset quick "),
              std::string::npos);
    ASSERT_EQ(study["runs"].size(), kRunPolicies.size());
    EXPECT_EQ(study["runs"][3]["id"], "k4-ema-s1");
    EXPECT_EQ(study["runs"][3]["config"]["pipeline"]["policy"], "ema");
    EXPECT_EQ(study["runs"][3]["config"]["pipeline"]["diagnosticStash"], true);
}

// A study killed (SIGKILL) after its first run's row appeared continues where it stopped: the
// finished runs are skipped and their files left untouched, the half-done run starts again,
// and the results equal an uninterrupted study's to the bit.
TEST(Study, KilledStudyResumesWithoutRedoingFinishedRuns) {
    const TempDir dir("lp-study-kill");
    const std::string straight = dir / "straight";
    ASSERT_EQ(runCli("study " + kSlower + "--out " + straight).code, 0);

    const std::string out = dir / "killed";
    const std::string status = studyStoppedAfterFirstRun(kSlower, out, dir / "log.txt", "KILL");
    EXPECT_NE(status.find("exit=137"), std::string::npos) << status;
    const auto before = readResults(out + "/results.csv");
    ASSERT_GE(before.size(), 1U);
    if (before.size() == kRunPolicies.size()) {
        GTEST_SKIP() << "the study finished before the signal arrived";
    }
    // Every file of the finished runs, with its bytes and time.
    std::map<fs::path, std::pair<std::string, fs::file_time_type>> files;
    for (const auto& [id, row] : before) {
        for (const auto& e : fs::directory_iterator(fs::path(out) / row.at("folder"))) {
            files[e.path()] = {fileBytes(e.path().string()), fs::last_write_time(e.path())};
        }
    }
    ASSERT_FALSE(files.empty());

    const Result again = runCli("study " + kSlower + "--out " + out);
    ASSERT_EQ(again.code, 0) << again.out;
    const std::size_t skipped = before.size();
    EXPECT_NE(
        again.out.find("6 runs, " + std::to_string(skipped) + " already finished (skipped), " +
                       std::to_string(6 - skipped) + " to run"),
        std::string::npos)
        << again.out;
    for (const auto& [id, row] : before) {
        EXPECT_EQ(again.out.find("] " + id + ":"), std::string::npos) << id << " was redone";
    }
    for (const auto& [path, content] : files) {
        EXPECT_EQ(fileBytes(path.string()), content.first) << path;
        EXPECT_EQ(fs::last_write_time(path), content.second) << path;
    }
    const auto a = readResults(straight + "/results.csv");
    const auto b = readResults(out + "/results.csv");
    ASSERT_EQ(b.size(), kRunPolicies.size());
    for (const auto& [id, policy] : kRunPolicies) {
        for (const char* col : {"final_top1",
                                "final_loss",
                                "final_recal_top1",
                                "diverged",
                                "history_bytes",
                                "utilisation",
                                "mean_staleness",
                                "steps"}) {
            EXPECT_EQ(a.at(id).at(col), b.at(id).at(col)) << id << " " << col;
        }
    }
    EXPECT_NE(fileBytes(out + "/report.md").find("Runs: 6 of 6 finished"), std::string::npos);
}

// SIGTERM (or Ctrl-C) stops the study after the current step: exit 143, the unfinished run is
// not recorded, and the report says how to continue.
TEST(Study, StopSignalLeavesTheUnfinishedRunUnrecorded) {
    const TempDir dir("lp-study-term");
    const std::string out = dir / "study";
    const std::string status = studyStoppedAfterFirstRun(kSlower, out, dir / "log.txt", "TERM");
    const std::string log = fileBytes(dir / "log.txt");
    const std::size_t rows = rowCount(out + "/results.csv");
    if (rows == kRunPolicies.size()) {
        GTEST_SKIP() << "the study finished before the signal arrived";
    }
    EXPECT_NE(status.find("exit=143"), std::string::npos) << status << log;
    EXPECT_NE(log.find("stopped by SIGTERM; the unfinished run was not recorded"),
              std::string::npos)
        << log;
    // Each finished run printed its result line; the stopped one did not.
    std::size_t printed = 0;
    for (std::size_t at = log.find(": test top-1 "); at != std::string::npos;
         at = log.find(": test top-1 ", at + 1)) {
        ++printed;
    }
    for (std::size_t at = log.find(": diverged (non-finite"); at != std::string::npos;
         at = log.find(": diverged (non-finite", at + 1)) {
        ++printed;
    }
    EXPECT_EQ(printed, rows) << log;
    EXPECT_NE(fileBytes(out + "/report.md")
                  .find("Runs: " + std::to_string(rows) +
                        " of 6 finished; run the same command "
                        "again to continue"),
              std::string::npos);
}

// A folder holding another study is refused with what differs; the thread count may change.
TEST(Study, RefusesAFolderOfAnotherStudy) {
    const TempDir dir("lp-study-refuse");
    const std::string out = dir / "study";
    const std::string one =
        "--no-charts --set data.dataset=synthetic "
        "--set model.width=4 --set model.inputSize=8 "
        "--set data.syntheticTrain=64 --set data.syntheticTest=32 "
        "--set training.batchSize=16 --set data.trainLimit=0 ";
    ASSERT_EQ(runCli("study --preset quick --runs seq --threads 2 " + one + "--out " + out).code,
              0);
    const std::vector<std::pair<std::string, std::vector<std::string>>> refused = {
        {"--preset paper --runs seq " + one,
         {"holds a study of preset 'quick', but this command asks for preset 'paper'",
          "continue that study with its own command: "}},
        {"--preset quick --runs seq " + one + "--set optimizer.lr=0.2",
         {"holds a 'quick' study with other runs or options than this command",
          "run seq-s1: optimizer.lr: the folder's study has 0.05, this command gives 0.2"}},
        {"--preset quick --runs seq,k4-stash " + one,
         {"run k4-stash-s1 is not in the folder's study"}},
    };
    for (const auto& [args, fragments] : refused) {
        const Result r = runCli("study " + args + " --out " + out);
        EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
        for (const std::string& f : fragments) {
            EXPECT_NE(r.out.find(f), std::string::npos) << f << "\n" << r.out;
        }
    }
    const Result threads =
        runCli("study --preset quick --runs seq " + one + "--threads 1 --out " + out);
    EXPECT_EQ(threads.code, 0) << threads.out;
    EXPECT_NE(threads.out.find("1 runs, 1 already finished (skipped), 0 to run"), std::string::npos)
        << threads.out;

    fs::create_directories(dir / "other");
    std::ofstream(dir / "other/notes.txt") << "mine";
    const Result foreign =
        runCli("study --preset quick --runs seq " + one + "--out " + (dir / "other").string());
    EXPECT_EQ(foreign.code, 2) << foreign.out;
    EXPECT_NE(foreign.out.find("is not empty and holds no study.json"), std::string::npos)
        << foreign.out;
}

TEST(Study, BadNamesAndOptionsListWhatIsAllowed) {
    const TempDir dir("lp-study-names");
    const std::string out = " --out " + (dir / "s").string();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"--preset bogus" + out,
         "--preset must be one of quick, paper, optimizers, delays, got 'bogus'"},
        {"--preset quick --runs k4-nope" + out,
         "--runs: 'k4-nope' is not a run of preset quick; its runs are seq, k4-latest, "
         "k4-stash, k4-ema"},
        {"--preset quick --seeds 0" + out, "--seeds must be in [1, 100], got 0"},
        {"--preset quick --runs seq --set training.epochs" + out,
         "--set expects key=value, got 'training.epochs'"},
        {"--preset quick --runs seq --set optimizer.lr=-1" + out,
         "study run seq-s1: 'optimizer.lr' must be in (0, 10], got -1"},
        {"--preset quick", "--out is required"},
        {"--out " + (dir / "s").string(), "--preset is required"},
    };
    for (const auto& [args, fragment] : cases) {
        const Result r = runCli("study " + args);
        EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
        EXPECT_NE(r.out.find(fragment), std::string::npos) << args << "\n" << r.out;
    }
    EXPECT_FALSE(fs::exists(dir / "s/study.json"));
}

// A run whose loss becomes non-finite is recorded with diverged = yes and the study goes on.
TEST(Study, DivergedRunIsMarkedAndTheStudyGoesOn) {
    const TempDir dir("lp-study-nan");
    const std::string out = dir / "study";
    const Result r = runCli("study " + kTiny +
                            "--runs k4-latest,k4-stash --set optimizer.lr=10 "
                            "--set data.syntheticTrain=320 --out " +
                            out);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto rows = readResults(out + "/results.csv");
    ASSERT_EQ(rows.size(), 2U);
    EXPECT_EQ(rows.at("k4-latest-s1").at("diverged"), "yes");
    EXPECT_EQ(rows.at("k4-latest-s1").at("final_top1"), "");
    EXPECT_EQ(rows.at("k4-stash-s1").at("diverged"), "no");
    EXPECT_NE(r.out.find("k4-latest-s1: diverged (non-finite loss); recorded with diverged=yes"),
              std::string::npos)
        << r.out;
    EXPECT_NE(fileBytes(out + "/report.md").find("| K=4 latest | latest | 4 | 6 4 2 0 | sgd | – |"),
              std::string::npos);
}

// --seeds N repeats every run with seeds 1..N (ids carry the seed); the report gives mean ± std.
// Without --no-charts and without a studio, the report says how to make the charts.
TEST(Study, SeedsRepeatRunsAndTheReportSaysHowToMakeMissingCharts) {
    const TempDir dir("lp-study-seeds");
    const std::string out = dir / "study";
    std::string args = kTiny;
    args.replace(args.find("--no-charts "), 12, "--studio " + (dir / "no-studio").string() + " ");
    const Result r = runCli("study " + args + "--runs seq,k4-ema --seeds 2 --out " + out);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto rows = readResults(out + "/results.csv");
    ASSERT_EQ(rows.size(), 4U);
    for (const char* id : {"seq-s1", "k4-ema-s1", "seq-s2", "k4-ema-s2"}) {
        ASSERT_TRUE(rows.contains(id)) << id;
        EXPECT_EQ(rows.at(id).at("seed"), std::string(1, id[std::string(id).size() - 1]));
    }
    EXPECT_NE(r.out.find("charts not made: " + (dir / "no-studio").string() + " does not exist"),
              std::string::npos)
        << r.out;
    const std::string report = fileBytes(out + "/report.md");
    EXPECT_NE(report.find(" ± "), std::string::npos) << report;
    EXPECT_NE(report.find("Runs: 4 of 4 finished (seeds 1..2)"), std::string::npos) << report;
    EXPECT_NE(report.find("SE = max(s/√N"), std::string::npos) << report;
    EXPECT_NE(report.find("The charts were not made: " + (dir / "no-studio").string() +
                          " does not exist; make them with `QT_QPA_PLATFORM=offscreen "
                          "layerpipe-studio --study " +
                          out + " --write-charts`"),
              std::string::npos)
        << report;
}

// Without --no-charts the studio next to layerpipe draws the charts headless (whatever
// QT_QPA_PLATFORM says) and the report embeds them.
TEST(Study, TheStudioNextToLayerpipeDrawsTheCharts) {
    if (!fs::exists(fs::path(LP_CLI_PATH).parent_path() / "layerpipe-studio")) {
        GTEST_SKIP() << "built without the studio (LP_BUILD_UI=OFF)";
    }
    const TempDir dir("lp-study-charts");
    const std::string out = dir / "study";
    std::string args = kTiny;
    args.replace(args.find("--no-charts "), 12, "");
    const Result r = runShell("QT_QPA_PLATFORM=xcb " + std::string(LP_CLI_PATH) + " study " + args +
                              "--runs seq,k4-ema --out " + out + " 2>&1");
    ASSERT_EQ(r.code, 0) << r.out;
    for (const char* png :
         {"accuracy_vs_memory.png", "accuracy_vs_bubble.png", "loss_curves.png"}) {
        EXPECT_GT(fs::file_size(fs::path(out) / "charts" / png), 1000U) << png;
    }
    const std::string report = fileBytes(out + "/report.md");
    EXPECT_NE(report.find("![Test top-1 against bubble](charts/accuracy_vs_bubble.png)"),
              std::string::npos)
        << report;
    EXPECT_EQ(report.find("were not made"), std::string::npos) << report;
}

// The delays preset: static scales trade bubble for staleness, per-epoch schedules and the
// adaptive rule record the scale each epoch ran with.
TEST(Study, DelaysPresetTradesBubbleForStaleness) {
    const TempDir dir("lp-study-delays");
    const std::string out = dir / "study";
    std::string args = kTiny;
    args.replace(args.find("--preset quick"), 14, "--preset delays");
    const Result r = runCli("study " + args +
                            "--runs c0,c0.5,c1,down,adaptive --set data.syntheticTrain=320 "
                            "--out " +
                            out);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto rows = readResults(out + "/results.csv");
    ASSERT_EQ(rows.size(), 5U);
    const auto num = [&](const char* id, const char* col) {
        return std::stod(rows.at(id).at(col));
    };
    EXPECT_EQ(rows.at("c0-s1").at("mean_staleness"), "0");
    EXPECT_EQ(rows.at("c0-s1").at("delays"), "0 0 0 0");
    EXPECT_LT(num("c0-s1", "utilisation"), num("c0.5-s1", "utilisation"));
    EXPECT_LT(num("c0.5-s1", "utilisation"), num("c1-s1", "utilisation"));
    EXPECT_LT(num("c0.5-s1", "mean_staleness"), num("c1-s1", "mean_staleness"));
    EXPECT_NEAR(num("c1-s1", "bubble"), 1.0 - num("c1-s1", "utilisation"), 1e-12);
    EXPECT_EQ(rows.at("down-s1").at("epoch_scales"), "1 0.5 0.25");
    EXPECT_EQ(rows.at("down-s1").at("delay_schedule"), "epochs");
    EXPECT_EQ(rows.at("adaptive-s1").at("delay_schedule"), "adaptive");
    EXPECT_EQ(split(rows.at("adaptive-s1").at("epoch_scales"), ' ').size(), 3U);
    EXPECT_EQ(rows.at("c1-s1").at("history_bytes"), rows.at("c1-s1").at("history_forecast_bytes"));
    const std::string report = fileBytes(out + "/report.md");
    EXPECT_NE(report.find("| epochs 1/0.5/0.25 | stash | 4 | 6 4 2 0 (epochs: 1 0.5 0.25) |"),
              std::string::npos)
        << report;
    EXPECT_NE(report.find("- **c=1 vs c=0**: "), std::string::npos) << report;
}

}  // namespace
