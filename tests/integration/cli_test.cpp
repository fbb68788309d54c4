// The layerpipe executable end to end.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/isa.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

struct Result {
    int code = -1;
    std::string out;
};

// Runs the CLI with `args` (shell syntax), capturing stdout and stderr together; `env`: shell
// variable assignments put before the command, e.g. "LP_ISA=avx2".
Result runCli(const std::string& args, const std::string& env = "") {
    const std::string cmd = env + " " + std::string(LP_CLI_PATH) + " " + args + " 2>&1";
    Result r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) {
        return r;
    }
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
        r.out.append(buf.data(), n);
    }
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

TEST(Cli, HelpExitsZero) {
    const Result r = runCli("--help");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("layerpipe"), std::string::npos) << r.out;
}

TEST(Cli, VersionMatchesProjectVersion) {
    const Result r = runCli("--version");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(LP_PROJECT_VERSION), std::string::npos) << r.out;
}

// --version names the kernel path in use; LP_ISA forces one (issue 11).
TEST(Cli, VersionNamesTheKernelPathAndLpIsaForcesIt) {
    const Result best = runCli("--version", "env -u LP_ISA");
    EXPECT_EQ(best.code, 0) << best.out;
    EXPECT_NE(best.out.find("kernels: "), std::string::npos) << best.out;
    EXPECT_NE(best.out.find("(best of "), std::string::npos) << best.out;
    const Result baseline = runCli("--version", "LP_ISA=baseline");
    EXPECT_EQ(baseline.code, 0) << baseline.out;
    EXPECT_NE(baseline.out.find("kernels: baseline (forced"), std::string::npos) << baseline.out;
}

TEST(Cli, UnknownOrUnsupportedLpIsaIsAnInputError) {
    const Result bad = runCli("--version", "LP_ISA=sse9");
    EXPECT_EQ(bad.code, 2) << bad.out;
    EXPECT_NE(bad.out.find("LP_ISA must be one of baseline, avx2, avx512, got \"sse9\""),
              std::string::npos)
        << bad.out;
    if (lp::core::isaSupported(lp::core::Isa::Avx512)) {
        return;  // every path runs here
    }
    const Result missing = runCli("--version", "LP_ISA=avx512");
    EXPECT_EQ(missing.code, 2) << missing.out;
    EXPECT_NE(missing.out.find("lacks the instructions of that path"), std::string::npos)
        << missing.out;
}

TEST(Cli, UnknownFlagIsAnError) {
    const Result r = runCli("--no-such-flag");
    EXPECT_NE(r.code, 0) << r.out;
}

TEST(Cli, IllegalDelaysExplainTheRuleWithExitCode2) {
    const Result r = runCli("run --dataset synthetic --stages 5 --delays 1,2 --out /tmp/never");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("non-increasing"), std::string::npos) << r.out;
}

TEST(Cli, RunWritesExportsAndPrintsTheSummary) {
    const std::filesystem::path out =
        std::filesystem::temp_directory_path() / ("lp-cli-run-" + std::to_string(::getpid()));
    const Result r = runCli(
        "run --dataset synthetic --width 4 --batch-size 8 --epochs 1 --max-steps 12 "
        "--set data.syntheticTrain=96 --set data.syntheticTest=16 --set model.inputSize=16 "
        "--stages 3,5,7 --policy ema --out " +
        out.string());
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("steady state: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("formula: stash"), std::string::npos) << r.out;
    for (const char* f : {"train.csv", "ops.csv", "memory.csv", "run.json", "trace.json"}) {
        EXPECT_GT(std::filesystem::file_size(out / f), 0U) << f;
    }
    std::filesystem::remove_all(out);
}

TEST(Cli, BenchPrintsThroughputAndLayerTimes) {
    const Result r = runCli(
        "bench --width 4 --batch-size 8 --image 3x16x16 --classes 10 --steps 2 --warmup 1 "
        "--layer-reps 1 --json");
    EXPECT_EQ(r.code, 0) << r.out;
    for (const char* key :
         {"\"images_per_second\"", "\"layers\"", "\"forward_gflops\"", "\"gemm\""}) {
        EXPECT_NE(r.out.find(key), std::string::npos) << key << " in " << r.out;
    }
    const Result bad = runCli("bench --image 3x16");
    EXPECT_NE(bad.code, 0) << bad.out;
}

}  // namespace
