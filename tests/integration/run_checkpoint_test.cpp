// `layerpipe run --save/--init/--resume` (issue 15, part 6): a pipelined run stopped after an
// epoch and resumed ends with the bits of one run through; --init starts from a checkpoint's
// weights; and `run --mpi` in a build without MPI says so.
// SPDX-License-Identifier: GPL-3.0-or-later

#include "tests/support/cli_run.hpp"
#include "tests/support/same_checkpoint.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lp::testing {
namespace {

// Two epochs of 6 minibatches on 3 stages; a constant LR, so a run extended by --epochs on
// resume follows the same schedule as one started with them.
const std::string kPipelined =
    "run --dataset synthetic --width 4 --batch-size 8 --set data.syntheticTrain=48 "
    "--set data.syntheticTest=8 --set model.inputSize=8 --threads 1 --lr-schedule constant "
    "--stages 3,7 --policy ema ";

Result runCli(const std::string& args) {
    return runShell(std::string(LP_CLI_PATH) + " " + args + " 2>&1");
}

TEST(RunCheckpoint, ResumedRunEqualsOneRunThrough) {
    const TempDir dir;
    const std::string whole = (dir / "whole.safetensors").string();
    const std::string half = (dir / "half.safetensors").string();
    const std::string rest = (dir / "rest.safetensors").string();
    Result r = runCli(kPipelined + "--epochs 2 --out " + (dir / "a").string() + " --save " + whole);
    ASSERT_EQ(r.code, 0) << r.out;
    r = runCli(kPipelined + "--epochs 1 --out " + (dir / "b").string() + " --save " + half);
    ASSERT_EQ(r.code, 0) << r.out;
    r = runCli(kPipelined + "--epochs 2 --out " + (dir / "c").string() + " --resume " + half +
               " --save " + rest);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("resumed from"), std::string::npos) << r.out;
    EXPECT_TRUE(sameTensors(whole, rest));
}

TEST(RunCheckpoint, ResumeRefusesAnotherPipeline) {
    const TempDir dir;
    const std::string ck = (dir / "ck.safetensors").string();
    Result r = runCli(kPipelined + "--epochs 1 --out " + (dir / "a").string() + " --save " + ck);
    ASSERT_EQ(r.code, 0) << r.out;
    r = runCli(kPipelined + "--epochs 2 --out " + (dir / "b").string() + " --resume " + ck +
               " --delays 2,1,0");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("pipeline.delays"), std::string::npos) << r.out;
}

TEST(RunCheckpoint, InitStartsFromTheWeights) {
    const TempDir dir;
    const std::string ck = (dir / "ck.safetensors").string();
    Result r = runCli(kPipelined + "--epochs 1 --out " + (dir / "a").string() + " --save " + ck);
    ASSERT_EQ(r.code, 0) << r.out;
    r = runCli(kPipelined + "--epochs 1 --out " + (dir / "b").string() + " --init " + ck);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("initialised from " + ck), std::string::npos) << r.out;
    r = runCli(kPipelined + "--out " + (dir / "c").string() + " --init " + ck + " --resume " + ck);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("exclude each other"), std::string::npos) << r.out;
}

TEST(RunCheckpoint, MpiFlagInABuildWithoutMpiSaysSo) {
    if (LP_CLI_HAS_MPI) {
        GTEST_SKIP() << "this build has MPI: tests/integration/mpi_test.cpp covers --mpi";
    }
    const TempDir dir;
    const Result r = runCli(kPipelined + "--mpi --out " + (dir / "o").string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("built without MPI"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("libopenmpi-dev"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace lp::testing
