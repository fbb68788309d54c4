// `layerpipe run --dry-run` (issue 16): prints the core forecast for the config and flags `run`
// accepts, and exits 0 without loading pixels, training or creating the run folder; a bad config
// is the usual user error (exit 2).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/config.hpp"
#include "core/session/forecast.hpp"

#include "tests/support/cli_run.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace {

using lp::testing::Result;
using lp::testing::runShell;
using lp::testing::TempDir;
namespace io = lp::core::io;
namespace session = lp::core::session;

Result runCli(const std::string& args) {
    return runShell(std::string(LP_CLI_PATH) + " " + args + " 2>&1");
}

TEST(DryRun, PrintsTheCoreForecastAndTrainsNothing) {
    const TempDir tmp;
    const std::string out = (tmp / "run").string();
    const Result r = runCli(
        "run --dry-run --dataset synthetic --width 8 --batch-size 16 --epochs 3 --stages 3,5,7 "
        "--policy ema --diagnostic --delay-scales 1,0.5 --set data.syntheticTrain=320 --out " +
        out);
    ASSERT_EQ(r.code, 0) << r.out;

    // The same config as the flags make it (each flag is its config key), forecast here.
    io::ExperimentConfig c;
    for (const auto& [key, value] :
         std::vector<std::pair<const char*, const char*>>{{"data.dataset", "synthetic"},
                                                          {"model.width", "8"},
                                                          {"training.batchSize", "16"},
                                                          {"training.epochs", "3"},
                                                          {"data.syntheticTrain", "320"},
                                                          {"pipeline.cuts", "[3,5,7]"},
                                                          {"pipeline.policy", "ema"},
                                                          {"pipeline.diagnosticStash", "true"},
                                                          {"pipeline.delaySchedule", "epochs"},
                                                          {"pipeline.delayScales", "[1,0.5]"}}) {
        io::applyOverride(c, key, value);
    }
    const session::PipelineForecast f = session::forecastOrThrow(c);
    EXPECT_EQ(r.out, session::forecastText(c, f));
    EXPECT_EQ(f.minibatches, 20);
    EXPECT_EQ(f.ticksPerEpoch, 20 + 2 * 4 - 2);  // DESIGN.md section 4: M + 2K − 2
    EXPECT_NE(r.out.find("epoch: 26 ticks"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("delays by epoch: 6,4,2,0 -> 3,2,1,0 -> 3,2,1,0\n"), std::string::npos)
        << r.out;
    // Nothing trained, nothing written.
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(r.out.find("epoch 1/"), std::string::npos) << r.out;
}

TEST(DryRun, BadConfigIsAUserError) {
    Result r = runCli("run --dry-run --dataset synthetic --stages 3,5,7 --delays 1,2,0,0");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("non-increasing"), std::string::npos) << r.out;
    r = runCli("run --dry-run --data-path /nonexistent/lp-dry-run");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("/nonexistent/lp-dry-run"), std::string::npos) << r.out;
}

// --machines (issue 15): the forecast, then the N-machine forecast from unit times measured
// here — the grouping, each link's bytes (the transport's messages: batch × the unit's output
// floats × 4 + the 40-byte header) and a named bottleneck; bad machines and links are refused
// before anything is printed or timed.
TEST(DryRun, MachinesForecastNamesTheBottleneck) {
    const std::string tiny =
        "run --dry-run --dataset synthetic --width 4 --batch-size 8 --set model.inputSize=8 "
        "--threads 1 --stages 3,5,7 ";
    const Result r = runCli(tiny + "--machines 2 --link-gbit 1 --link-latency-us 20");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("forecast for 2 machines like this one, links of 1 Gbit/s each way and "
                         "20 us latency"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  machine 0   stages 0-1  compute "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  machine 1   stages 2-3  compute "), std::string::npos) << r.out;
    // After layer2.1: 8 images × 8 channels × 4 × 4 floats × 4 B + 40.
    EXPECT_NE(r.out.find("  link 0 -> 1   4136 B each way (1 message, layer2.1's output)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("images/s\nbottleneck: "), std::string::npos) << r.out;

    for (const auto& [flags, words] : std::vector<std::pair<std::string, std::string>>{
             {"--machines 5", "machines must be between 1 and the number of stages (4"},
             {"--machines 0", "got 0"},
             {"--machines 2 --link-gbit 0", "bandwidth must be a positive number of Gbit/s"},
             {"--machines 2 --link-gbit -3", "got -3"},
             {"--machines 2 --link-latency-us -1", "latency must be 0 or more microseconds"},
             {"--link-gbit 10", "give --machines R with --dry-run"}}) {
        const Result bad = runCli(tiny + flags);
        EXPECT_EQ(bad.code, 2) << flags << ": " << bad.out;
        EXPECT_NE(bad.out.find(words), std::string::npos) << flags << ": " << bad.out;
        EXPECT_EQ(bad.out.find("forecast (layerpipe run --dry-run)"), std::string::npos)
            << flags << ": " << bad.out;
    }
    const Result training = runCli("run --dataset synthetic --machines 2");
    EXPECT_EQ(training.code, 2) << training.out;
    EXPECT_NE(training.out.find("use it with --dry-run"), std::string::npos) << training.out;
}

}  // namespace
