// `mpirun -n R layerpipe run --mpi` end to end (issue 15; docs/mpi.md): the same bits as one
// process — train.csv's loss columns, staleness.csv's rows, eval.csv and the checkpoint's
// tensors — for R = K and R < K, and every weight policy; a failing or dying rank ends the run
// with a message and no checkpoint; more ranks than stages and different arguments are refused.
// Built only when LP_MPI found MPI and mpiexec; ranks oversubscribe the machine.
// SPDX-License-Identifier: GPL-3.0-or-later

#include "tests/support/cli_run.hpp"
#include "tests/support/same_checkpoint.hpp"
#include "tests/support/temp_dir.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace lp::testing {
namespace {

// A tiny experiment: 24 minibatches of 8 images 8x8, two epochs, width 4.
const std::string kTiny =
    "--dataset synthetic --width 4 --batch-size 8 --epochs 2 --set data.syntheticTrain=96 "
    "--set data.syntheticTest=16 --set model.inputSize=8 --threads 1 --seed 7 ";

// mpiexec starting `ranks` ranks of layerpipe, with mpiexec's `options`.
std::string mpirun(int ranks, const std::string& options = "") {
    std::string cmd = std::string(LP_MPIEXEC) + " -n " + std::to_string(ranks) +
                      " --oversubscribe --bind-to none " + options;
    if (::geteuid() == 0) {
        cmd += " --allow-run-as-root";  // CI runs as root
    }
    return cmd + " " + LP_CLI_PATH + " ";
}

std::vector<std::string> lines(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

// The columns of a CSV line at `keep` (0-based).
std::string columns(const std::string& line, const std::vector<int>& keep) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) {
        cells.push_back(cell);
    }
    std::string out;
    for (const int k : keep) {
        out += cells.at(static_cast<std::size_t>(k)) + ",";
    }
    return out;
}

// train.csv without its clock columns (time_us, images_per_second).
std::vector<std::string> trainLosses(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const std::string& l : lines(dir / "train.csv")) {
        out.push_back(columns(l, {0, 1, 3, 4, 5, 7}));
    }
    return out;
}

// staleness.csv's rows as a set: their order is the telemetry drain's, timing-dependent even in
// one process.
std::vector<std::string> stalenessRows(const std::filesystem::path& dir) {
    std::vector<std::string> rows = lines(dir / "staleness.csv");
    std::sort(rows.begin(), rows.end());
    return rows;
}

// Every op row of ops.csv names its rank and that rank's host, as run.json's "ranks" does; each
// rank ran ops.
void expectRanksRecorded(const std::filesystem::path& run, int ranks) {
    const nlohmann::json record = nlohmann::json::parse(fileBytes((run / "run.json").string()));
    const nlohmann::json& listed = record.at("ranks");
    ASSERT_EQ(listed.size(), static_cast<std::size_t>(ranks)) << listed.dump();
    const std::vector<std::string> ops = lines(run / "ops.csv");
    ASSERT_GT(ops.size(), 1U);
    EXPECT_TRUE(ops[0].ends_with(",thread,rank,host")) << ops[0];
    std::set<int> seen;
    for (std::size_t i = 1; i < ops.size(); ++i) {
        const std::string rankAndHost = columns(ops[i], {8, 9});
        const int rank = std::stoi(rankAndHost);
        seen.insert(rank);
        const std::string host = listed.at(static_cast<std::size_t>(rank)).at("host");
        ASSERT_EQ(rankAndHost, std::to_string(rank) + "," + host + ",") << ops[i];
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(ranks));
}

// trace.json loads, and the messages are flow arrows: every id has one start ("s") and one
// finish ("f", "bp":"e") on different processes (ranks), the finish no earlier; for each of the
// `links` boundaries, one forward and one backward message per minibatch (2 epochs of 12).
void expectMessageFlows(const std::filesystem::path& run, int links) {
    const nlohmann::json trace = nlohmann::json::parse(fileBytes((run / "trace.json").string()));
    std::map<std::int64_t, std::vector<nlohmann::json>> flows;
    for (const nlohmann::json& e : trace.at("traceEvents")) {
        if (e.at("ph") == "s" || e.at("ph") == "f") {
            flows[e.at("id").get<std::int64_t>()].push_back(e);
        }
    }
    EXPECT_EQ(flows.size(), static_cast<std::size_t>(links) * 2 * 24);
    for (const auto& [id, pair] : flows) {
        ASSERT_EQ(pair.size(), 2U) << id;
        const nlohmann::json& start = pair[0].at("ph") == "s" ? pair[0] : pair[1];
        const nlohmann::json& finish = pair[0].at("ph") == "s" ? pair[1] : pair[0];
        ASSERT_EQ(finish.at("ph"), "f") << id;
        EXPECT_EQ(finish.at("bp"), "e");
        EXPECT_NE(start.at("pid"), finish.at("pid")) << start.dump();
        EXPECT_LE(start.at("ts").get<double>(), finish.at("ts").get<double>())
            << start.dump() << " " << finish.dump();
    }
}

// One process and R ranks, same flags: the same bits.
void expectSameBits(const std::string& pipeline, int ranks) {
    const TempDir dir;
    const std::string one = (dir / "one").string();
    const std::string many = (dir / "many").string();
    const std::string flags = kTiny + pipeline;
    const Result a = runShell(std::string(LP_CLI_PATH) + " run " + flags + " --out " + one +
                              " --save " + one + ".safetensors 2>&1");
    ASSERT_EQ(a.code, 0) << a.out;
    const Result b = runShell(mpirun(ranks) + "run --mpi " + flags + " --out " + many + " --save " +
                              many + ".safetensors 2>&1");
    ASSERT_EQ(b.code, 0) << b.out;
    EXPECT_NE(b.out.find("runs stages"), std::string::npos) << b.out;
    const std::vector<std::string> losses = trainLosses(one);
    EXPECT_EQ(losses.size(), 1U + 2 * 12);  // header + 2 epochs of 12 minibatches
    EXPECT_EQ(losses, trainLosses(many));
    EXPECT_EQ(stalenessRows(one), stalenessRows(many));
    EXPECT_EQ(lines(dir / "one" / "eval.csv"), lines(dir / "many" / "eval.csv"));
    EXPECT_TRUE(sameTensors(one + ".safetensors", many + ".safetensors"));
    EXPECT_TRUE(std::filesystem::exists(dir / "many" / "mpi.json"));
    // One trace process per rank, named after it.
    const std::string trace = fileBytes((dir / "many" / "trace.json").string());
    EXPECT_NE(trace.find("\"rank " + std::to_string(ranks - 1) + " (host "), std::string::npos);
    expectRanksRecorded(dir / "many", ranks);
    expectRanksRecorded(dir / "one", 1);
    expectMessageFlows(dir / "many", ranks - 1);
}

TEST(MpiRun, FourRanksFourStagesEmaEqualsOneProcess) {
    expectSameBits("--stages 3,5,7 --policy ema", 4);
}

TEST(MpiRun, TwoRanksFourStagesStashEqualsOneProcess) {
    expectSameBits("--stages 3,5,7 --policy stash", 2);
}

TEST(MpiRun, TwoRanksTwoStagesLatestEqualsOneProcess) {
    expectSameBits("--stages 5 --policy latest", 2);
}

// A CSV's columns at `keep` (0-based), its lines sorted: records whose order is the drain's.
std::vector<std::string> sortedColumns(const std::filesystem::path& file,
                                       const std::vector<int>& keep) {
    std::vector<std::string> out;
    for (const std::string& l : lines(file)) {
        out.push_back(columns(l, keep));
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A diverged run (no BatchNorm, lr 10: the loss turns NaN in the first epoch) runs its epoch whole
// on every rank, and only the last stage's rank sees the loss: the other ranks' records are cut
// at its tick too, so the run folder holds what one process records (docs/pipeline.md,
// "Non-finite values"). Without the cut the first stages' ops, staleness and memory rows ran on.
TEST(MpiRun, DivergedRunRecordsWhatOneProcessRecords) {
    const TempDir dir;
    const std::string one = (dir / "one").string();
    const std::string many = (dir / "many").string();
    const std::string flags =
        "--dataset synthetic --width 4 --batch-size 8 --epochs 1 --set data.syntheticTrain=256 "
        "--set data.syntheticTest=16 --set model.inputSize=8 --set model.norm=none "
        "--set optimizer.lr=10 --set schedule.kind=constant --stages 4,7 --threads 1 --seed 7";
    const Result a =
        runShell(std::string(LP_CLI_PATH) + " run " + flags + " --out " + one + " 2>&1");
    ASSERT_EQ(a.code, 3) << a.out;  // a non-finite loss
    const Result b = runShell(mpirun(3) + "run --mpi " + flags + " --out " + many + " 2>&1");
    ASSERT_NE(b.code, 0) << b.out;
    const std::vector<std::string> losses = trainLosses(one);
    ASSERT_GE(losses.size(), 3U);
    EXPECT_NE(losses.back().find("nan"), std::string::npos) << losses.back();
    EXPECT_EQ(losses, trainLosses(many));
    EXPECT_EQ(stalenessRows(one), stalenessRows(many));
    // ops.csv's stage, op, minibatch, weight_version and tick; memory.csv without time_us.
    EXPECT_EQ(sortedColumns(dir / "one" / "ops.csv", {0, 1, 2, 3, 4}),
              sortedColumns(dir / "many" / "ops.csv", {0, 1, 2, 3, 4}));
    EXPECT_EQ(sortedColumns(dir / "one" / "memory.csv", {1, 2, 3, 4}),
              sortedColumns(dir / "many" / "memory.csv", {1, 2, 3, 4}));
    EXPECT_EQ(lines(dir / "one" / "eval.csv"), lines(dir / "many" / "eval.csv"));
}

// A rank that throws (the LP_MPI_TEST_FAIL hook) or dies ends every rank: non-zero, the rank and
// the cause named, no hang (the CTest timeout would catch one), and no checkpoint.
void expectFailure(const std::string& hook, const std::string& words) {
    const TempDir dir;
    const Result r =
        runShell("LP_MPI_TEST_FAIL=" + hook + " timeout 120 " + mpirun(2, "-x LP_MPI_TEST_FAIL") +
                 "run --mpi " + kTiny + "--stages 5 --out " + (dir / "out").string() + " --save " +
                 (dir / "ck.safetensors").string() + " --mpi-timeout 60 2>&1");
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_NE(r.code, 124) << "the run hung:\n" << r.out;
    EXPECT_NE(r.out.find(words), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(dir / "ck.safetensors"));
    for (const std::string& name : dir.listing()) {
        EXPECT_EQ(name.find(".tmp"), std::string::npos) << "a partial file: " << name;
    }
}

TEST(MpiRun, ThrowingRankEndsTheRunNamingIt) {
    expectFailure("1:3", "rank 1 (host");
}

TEST(MpiRun, DyingRankEndsTheRun) {
    expectFailure("0:3:die", "signal");
}

// A rank that never reaches the start of training: the other names it within --mpi-timeout
// and ends the run (the rendezvous of MpiWorld::arrive), instead of waiting in a barrier.
TEST(MpiRun, RankThatNeverArrivesIsNamed) {
    const TempDir dir;
    const Result r = runShell(
        "LP_MPI_TEST_FAIL=1:stall timeout 120 " + mpirun(2, "-x LP_MPI_TEST_FAIL") + "run --mpi " +
        kTiny + "--stages 5 --out " + (dir / "out").string() + " --mpi-timeout 2 2>&1");
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_NE(r.code, 124) << "the run hung:\n" << r.out;
    EXPECT_NE(r.out.find("rank 1 (host"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("did not reach the start of training within 2 s"), std::string::npos)
        << r.out;
}

TEST(MpiRun, MoreRanksThanStagesIsRefused) {
    const TempDir dir;
    const Result r = runShell(mpirun(3) + "run --mpi " + kTiny + "--stages 5 --out " +
                              (dir / "out").string() + " 2>&1");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("3 ranks for 2 pipeline stages"), std::string::npos) << r.out;
}

TEST(MpiRun, RanksWithoutTheMpiFlagAreRefused) {
    const TempDir dir;
    const Result r =
        runShell(mpirun(2) + "run " + kTiny + "--out " + (dir / "o").string() + " 2>&1");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("but --mpi was not given"), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(dir / "o"));
}

TEST(MpiRun, DifferentArgumentsAreRefused) {
    const TempDir dir;
    const std::string common = "run --mpi " + kTiny + "--stages 5 --out " + (dir / "o").string();
    std::string launch = mpirun(1);
    const std::string second = std::string(" : -n 1 ") + LP_CLI_PATH + " " + common;
    const Result r = runShell(launch + common + " --lr 0.05" + second + " --lr 0.1 2>&1");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("got different ones than rank 0"), std::string::npos) << r.out;
}

// The N-machine forecast counts what the transport sends (issue 15; docs/mpi.md): mpi.json's
// bytes per step on each link and direction equal `run --dry-run --machines 2`'s bytes per
// minibatch (the floats and the 40-byte shape header).
TEST(MpiRun, ForecastLinkBytesAreTheMessagesSent) {
    const TempDir dir;
    const std::string flags = kTiny + "--stages 3,5,7 ";
    const Result run =
        runShell(mpirun(2) + "run --mpi " + flags + "--out " + (dir / "run").string() + " 2>&1");
    ASSERT_EQ(run.code, 0) << run.out;
    const Result dry =
        runShell(std::string(LP_CLI_PATH) + " run --dry-run " + flags + "--machines 2 2>&1");
    ASSERT_EQ(dry.code, 0) << dry.out;
    const nlohmann::json doc =
        nlohmann::json::parse(fileBytes((dir / "run" / "mpi.json").string()));
    ASSERT_EQ(doc.at("links").size(), 2U);  // 0 -> 1 forward, 1 -> 0 backward
    for (const nlohmann::json& link : doc.at("links")) {
        const auto bytes = link.at("bytesPerStep").get<double>();
        EXPECT_EQ(bytes, 4136.0);  // 8 images × 8 × 4 × 4 floats × 4 B + 40
        const std::string line =
            "link 0 -> 1   " + std::to_string(static_cast<long long>(bytes)) + " B each way";
        EXPECT_NE(dry.out.find(line), std::string::npos) << dry.out;
    }
}

}  // namespace
}  // namespace lp::testing
