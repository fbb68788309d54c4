// The layerpipe executable end to end.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/safetensors.hpp"
#include "core/tensor/isa.hpp"

#include "tests/support/cli_run.hpp"
#include "tests/support/same_checkpoint.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace {

using lp::testing::fileBytes;
using lp::testing::Result;
using lp::testing::runShell;
using lp::testing::sameTensors;
using lp::testing::TempDir;

// Runs the CLI with `args` (shell syntax), capturing stdout and stderr together; `env`: shell
// commands or variable assignments put before the command, e.g. "LP_ISA=avx2".
Result runCli(const std::string& args, const std::string& env = "") {
    return runShell(env + " " + std::string(LP_CLI_PATH) + " " + args + " 2>&1");
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
    EXPECT_EQ(r.code, 2) << r.out;
}

// ---- issue 12: never lose a run ----

namespace fs = std::filesystem;

// A tiny sequential experiment: 20 minibatches per epoch, a few milliseconds each.
const std::string kTiny =
    "--dataset synthetic --width 4 --batch-size 16 --set data.syntheticTrain=320 "
    "--set data.syntheticTest=32 --set model.inputSize=8 --threads 2 ";

// The exit-code contract: 0 success, 2 any user input error (flags included), 3 non-finite, 4 a
// resource problem, 130/143 interrupted, 1 only for internal bugs.
TEST(Cli, UserErrorsExitWithCode2AndSayWhatIsWrong) {
    const TempDir dir("lp-cli-codes");
    std::ofstream(dir / "huge.json") << R"({"optimizer": {"lr": 1e400}})";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"train --epochs", "--epochs: 1 required INT missing"},
        {"train --epochs abc", "--epochs"},
        {"train " + kTiny + "--seed -1", "'training.seed' must be a non-negative integer, got -1"},
        {"train -c " + (dir / "huge.json").string(), "number overflow parsing '1e400'"},
        {"train -c /dev/zero", "not a regular file"},
        {"train " + kTiny + "--set name=$(printf 'caf\\351')", "'name' is not valid UTF-8"},
        {"train " + kTiny + "--save /nonexistent-lp/x.st",
         "the folder '/nonexistent-lp' does not exist"},
        {"train " + kTiny + "--save " + dir.path().string(), "it is a folder"},
        {"train " + kTiny + "--save /dev/null/x.st", "Not a directory"},
        {"run " + kTiny + "--out /dev/null/out", "cannot create the output folder"},
        {"eval " + kTiny + "--checkpoint " + (dir / "missing.st").string(), "missing.st"},
    };
    for (const auto& [args, fragment] : cases) {
        const Result r = runCli(args);
        EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
        EXPECT_NE(r.out.find(fragment), std::string::npos) << args << "\n" << r.out;
        // Refused before the first step: nothing was trained.
        EXPECT_EQ(r.out.find("epoch 1/"), std::string::npos) << args << "\n" << r.out;
    }
}

// --stop-after then --resume is the same run as one invocation, to the byte of the checkpoint,
// for each LR schedule; --resume takes the run's config from the checkpoint.
TEST(Cli, StopAfterThenResumeEqualsOneRun) {
    const TempDir dir("lp-cli-resume");
    for (const char* schedule : {"constant", "step", "cosine"}) {
        SCOPED_TRACE(schedule);
        const std::string run = "train " + kTiny + "--epochs 3 --lr-schedule " + schedule +
                                " --set schedule.stepEpochs=1 --set schedule.warmupEpochs=0.5 ";
        const Result straight = runCli(run + "--save " + (dir / "straight.st").string());
        ASSERT_EQ(straight.code, 0) << straight.out;
        const Result first = runCli(run + "--stop-after 1 --save " + (dir / "split.st").string());
        ASSERT_EQ(first.code, 0) << first.out;
        EXPECT_NE(first.out.find("stopped after epoch 1 of 3"), std::string::npos) << first.out;
        const Result second = runCli("train --threads 1 --resume " + (dir / "split.st").string() +
                                     " --save " + (dir / "split.st").string());
        ASSERT_EQ(second.code, 0) << second.out;
        EXPECT_NE(second.out.find("resumed from"), std::string::npos) << second.out;
        EXPECT_NE(second.out.find("epoch 3/3"), std::string::npos) << second.out;
        EXPECT_EQ(second.out.find("epoch 1/3"), std::string::npos) << second.out;
        EXPECT_TRUE(sameTensors(dir / "straight.st", dir / "split.st"));
    }
}

TEST(Cli, ResumeRefusesAnotherRunAndInitWithResume) {
    const TempDir dir("lp-cli-refuse");
    const std::string ckpt = dir / "c.st";
    ASSERT_EQ(runCli("train " + kTiny + "--epochs 2 --stop-after 1 --save " + ckpt).code, 0);
    const Result changed = runCli("train --resume " + ckpt + " --lr 0.5 --batch-size 32");
    EXPECT_EQ(changed.code, 2) << changed.out;
    for (const char* fragment :
         {"optimizer.lr: the checkpoint's run has 0.1, this command gives 0.5",
          "training.batchSize: the checkpoint's run has 16, this command gives 32",
          "--init"}) {
        EXPECT_NE(changed.out.find(fragment), std::string::npos) << fragment << "\n" << changed.out;
    }
    const Result both = runCli("train --resume " + ckpt + " --init " + ckpt);
    EXPECT_EQ(both.code, 2) << both.out;
    EXPECT_NE(both.out.find("--init and --resume exclude each other"), std::string::npos)
        << both.out;
    // Extending the run is allowed, and the changed schedule is stated.
    const Result longer = runCli("train --resume " + ckpt + " --epochs 3");
    EXPECT_EQ(longer.code, 0) << longer.out;
    EXPECT_NE(longer.out.find("training.epochs changed from 2 to 3"), std::string::npos)
        << longer.out;
    EXPECT_NE(longer.out.find("cosine LR schedule now spans 3 epochs"), std::string::npos)
        << longer.out;
}

// SIGINT/SIGTERM: the current step finishes, the checkpoint and every export are written, the
// exit code is 128 + the signal, and --resume continues the stopped run exactly.
TEST(Cli, StopSignalsWriteEverythingAndResumeIsExact) {
    const TempDir dir("lp-cli-signal");
    const std::string run = "train " + kTiny + "--epochs 40 --lr-schedule cosine ";
    ASSERT_EQ(runCli(run + "--save " + (dir / "straight.st").string()).code, 0);
    // Started in the background; the signal goes once epoch 2 has been reported.
    const std::string log = dir / "log.txt";
    const std::string script = "sh -c '" + std::string(LP_CLI_PATH) + " " + run + "--save " +
                               (dir / "split.st").string() + " > " + log +
                               " 2>&1 & p=$!; until grep -q \"epoch 2/\" " + log +
                               "; do sleep 0.02; done; kill -INT $p; wait $p; echo \"exit=$?\"'";
    const Result stopped = runShell(script);
    const std::string out = fileBytes(log);
    if (out.find("epoch 40/40") != std::string::npos) {
        GTEST_SKIP() << "the run finished before the signal arrived";
    }
    EXPECT_NE(stopped.out.find("exit=130"), std::string::npos) << stopped.out << out;
    EXPECT_NE(out.find("stopped by SIGINT"), std::string::npos) << out;
    EXPECT_NE(out.find("continue the run with --resume"), std::string::npos) << out;
    const Result resumed = runCli("train --resume " + (dir / "split.st").string() + " --save " +
                                  (dir / "split.st").string());
    ASSERT_EQ(resumed.code, 0) << resumed.out;
    EXPECT_TRUE(fileBytes(dir / "straight.st") == fileBytes(dir / "split.st"));

    // SIGTERM during a pipelined run: the exports are written and marked, exit 143.
    const std::string out2 = dir / "run-out";
    const std::string log2 = dir / "log2.txt";
    const std::string script2 = "sh -c '" + std::string(LP_CLI_PATH) + " run " + kTiny +
                                "--epochs 40 --stages 3,6 --out " + out2 + " > " + log2 +
                                " 2>&1 & p=$!; until grep -q \"epoch 1/\" " + log2 +
                                "; do sleep 0.02; done; kill -TERM $p; wait $p; echo \"exit=$?\"'";
    const std::string status2 = runShell(script2).out;
    if (fileBytes(log2).find("epoch 40/40") != std::string::npos) {
        GTEST_SKIP() << "the pipelined run finished before the signal arrived";
    }
    EXPECT_NE(status2.find("exit=143"), std::string::npos) << status2 << fileBytes(log2);
    const std::string record = fileBytes(out2 + "/run.json");
    EXPECT_NE(record.find("\"interrupted\":true"), std::string::npos) << record.substr(0, 400);
    EXPECT_NE(record.find("\"stop_signal\":\"SIGTERM\""), std::string::npos);
    EXPECT_GT(fs::file_size(out2 + "/train.csv"), 0U);
}

// Out of memory is a resource problem the user can fix (exit 4 with advice), not an internal
// error. The address-space cap lets a small run through and stops a width-256 model at once.
TEST(Cli, OutOfMemoryExitsWithCode4) {
    const std::string tiny =
        "--dataset synthetic --batch-size 16 --set data.syntheticTrain=64 "
        "--set data.syntheticTest=16 --set model.inputSize=8 --threads 1 ";
    const std::string cap = "ulimit -v 400000; ";
    const Result small = runCli("train " + tiny + "--width 4", cap);
    ASSERT_EQ(small.code, 0) << small.out;
    const Result huge = runCli("train " + tiny + "--width 256", cap);
    EXPECT_EQ(huge.code, 4) << huge.out;
    EXPECT_NE(huge.out.find("out of memory; lower training.batchSize or model.width"),
              std::string::npos)
        << huge.out;
}

// eval refuses to report figures for a diverged checkpoint: exit 3 with the tensor names.
TEST(Cli, EvalOfNonFiniteWeightsExitsWithCode3) {
    const TempDir dir("lp-cli-nan");
    const std::string ckpt = dir / "c.st";
    ASSERT_EQ(runCli("train " + kTiny + "--epochs 1 --max-steps 1 --save " + ckpt).code, 0);
    lp::core::io::SafetensorsFile f = lp::core::io::readSafetensors(ckpt);
    for (lp::core::io::NamedTensor& t : f.tensors) {
        if (t.name == "fc.bias" || t.name == "conv1.weight") {
            t.values[0] = std::numeric_limits<float>::quiet_NaN();
        }
    }
    lp::core::io::writeSafetensors(ckpt, f);
    const Result r = runCli("eval --checkpoint " + ckpt);
    EXPECT_EQ(r.code, 3) << r.out;
    EXPECT_NE(r.out.find("non-finite values (NaN or infinity) in 2 tensors"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("conv1.weight"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fc.bias"), std::string::npos) << r.out;
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

// Issue 13: --recalibrate-bn N (eval.recalibrateBatchNorm) on run, train and eval reports the
// test result with recalibrated BatchNorm statistics beside the plain one.
TEST(Cli, RecalibrateBnReportsBothTestResults) {
    const TempDir dir("lp-cli-recal");
    const std::string run = "run " + kTiny + "--epochs 1 --stages 3,5,7 --lr 0.1 ";
    const Result on = runCli(run + "--recalibrate-bn 3 --out " + (dir / "on").string());
    ASSERT_EQ(on.code, 0) << on.out;
    EXPECT_NE(on.out.find("epoch 1/1: train loss"), std::string::npos) << on.out;
    EXPECT_NE(on.out.find("  with BN recalibrated over 3 training batches: test loss "),
              std::string::npos)
        << on.out;
    const std::string evalCsv = fileBytes(dir / "on/eval.csv");
    EXPECT_EQ(evalCsv.rfind("epoch,step,loss,top1,top5,recal_batches,recal_loss,recal_top1,"
                            "recal_top5\n0,20,",
                            0),
              0U)
        << evalCsv;
    EXPECT_NE(fileBytes(dir / "on/run.json").find("\"test_recalibrated\""), std::string::npos);

    const Result off = runCli(run + "--out " + (dir / "off").string());
    ASSERT_EQ(off.code, 0) << off.out;
    EXPECT_EQ(off.out.find("recalibrated"), std::string::npos) << off.out;
    EXPECT_EQ(fileBytes(dir / "off/eval.csv").rfind("epoch,step,loss,top1,top5\n0,20,", 0), 0U);

    const Result train =
        runCli("train " + kTiny + "--recalibrate-bn 2 --save " + (dir / "s.st").string());
    ASSERT_EQ(train.code, 0) << train.out;
    EXPECT_NE(train.out.find("with BN recalibrated over 2 training batches"), std::string::npos)
        << train.out;
    const Result eval =
        runCli("eval --checkpoint " + (dir / "s.st").string() + " --recalibrate-bn 2");
    ASSERT_EQ(eval.code, 0) << eval.out;
    EXPECT_NE(eval.out.find("test loss "), std::string::npos) << eval.out;
    EXPECT_NE(eval.out.find("with BN recalibrated over 2 training batches: test loss "),
              std::string::npos)
        << eval.out;

    const std::vector<std::pair<std::string, std::string>> bad = {
        {"--recalibrate-bn -1", "'eval.recalibrateBatchNorm' must be in [0, 10000], got -1"},
        {"--recalibrate-bn 20000", "'eval.recalibrateBatchNorm' must be in [0, 10000], got 20000"},
        {"--recalibrate-bn many", "'eval.recalibrateBatchNorm' must be an integer, got 'many'"},
        {"--recalibrate-bn 4 --set model.norm=none", "needs model.norm = batch"},
    };
    for (const auto& [flags, fragment] : bad) {
        const Result r = runCli("train " + kTiny + flags);
        EXPECT_EQ(r.code, 2) << flags << "\n" << r.out;
        EXPECT_NE(r.out.find(fragment), std::string::npos) << flags << "\n" << r.out;
    }
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
    // One timed pass: its whole forward and backward hold every layer's call of that pass, and
    // the residual adds and rebuilt conv2 inputs besides.
    const auto j = nlohmann::json::parse(r.out);
    double forward = 0.0;
    double backward = 0.0;
    for (const auto& layer : j.at("layers")) {
        forward += layer.at("forward_ms").get<double>();
        backward += layer.at("backward_ms").get<double>();
    }
    const auto& passes = j.at("passes");
    EXPECT_GT(passes.at("forward_ms").get<double>(), forward) << r.out;
    EXPECT_GT(passes.at("backward_ms").get<double>(), backward) << r.out;
    EXPECT_NEAR(passes.at("no_layer_forward_ms").get<double>(),
                passes.at("forward_ms").get<double>() - forward,
                1e-6)
        << r.out;
    EXPECT_NEAR(passes.at("no_layer_backward_ms").get<double>(),
                passes.at("backward_ms").get<double>() - backward,
                1e-6)
        << r.out;
    const Result bad = runCli("bench --image 3x16");
    EXPECT_NE(bad.code, 0) << bad.out;
}

// Issue 14: --delay-scales / --delay-schedule change the delays between epochs; run prints them
// when they change and writes delays.csv; bad scales are named with the allowed range.
TEST(Cli, DelaySchedulesPrintAndRecordEachEpochsDelays) {
    const TempDir dir("lp-cli-delays");
    const std::string run = "run " + kTiny + "--epochs 3 --max-steps 6 --stages 3,5,7 ";
    const Result r = runCli(run + "--delay-scales 1,0.5 --out " + (dir / "s").string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("delays [6,4,2,0] at most, delay schedule epochs"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("delays for epoch 2/3: [3,2,1,0] (scale 0.5)\n"), std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("delays for epoch 3/3"), std::string::npos) << r.out;  // unchanged
    const std::string csv = fileBytes(dir / "s/delays.csv");
    EXPECT_EQ(csv.rfind("epoch,stage,delay,scale,update_size,first_tick,ticks\n0,0,6,1,", 0), 0U)
        << csv;
    EXPECT_NE(csv.find("\n1,1,2,0.5,"), std::string::npos) << csv;
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 3 * 4) << csv;
    EXPECT_NE(fileBytes(dir / "s/run.json").find("\"delaySchedule\":\"epochs\""),
              std::string::npos);

    const Result adaptive = runCli(run +
                                   "--delay-schedule adaptive --set pipeline.adaptiveDrift="
                                   "0.001 --out " +
                                   (dir / "a").string());
    ASSERT_EQ(adaptive.code, 0) << adaptive.out;
    EXPECT_NE(adaptive.out.find("delays for epoch 2/3: [1,1,0,0] (scale 0.25, chosen from epoch "
                                "1's update sizes ["),
              std::string::npos)
        << adaptive.out;

    const std::vector<std::pair<std::string, std::string>> bad = {
        {"--delay-scales 1,5", "'pipeline.delayScales[1]' must be in [0, 4], got 5"},
        {"--delay-scales 1,x", "'pipeline.delayScales' must be a list of numbers"},
        {"--delay-schedule sometimes",
         "'pipeline.delaySchedule' must be one of static, epochs, adaptive, got 'sometimes'"},
        {"--delay-schedule epochs", "'pipeline.delayScales' must list at least one scale"},
        {"--delay-schedule adaptive --schedule gpipe", "must be static with the gpipe schedule"},
    };
    for (const auto& [flags, fragment] : bad) {
        const Result b = runCli(run + flags + " --out " + (dir / "bad").string());
        EXPECT_EQ(b.code, 2) << flags << "\n" << b.out;
        EXPECT_NE(b.out.find(fragment), std::string::npos) << flags << "\n" << b.out;
    }
}

}  // namespace
