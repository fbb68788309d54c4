// Reading a run folder back (issue 14, point 4): what the exporters write reads back bit for bit,
// columns are found by name, and every broken file is named with its line.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/run_reader.hpp"

#include "core/error.hpp"
#include "core/io/config.hpp"
#include "core/io/csv_reader.hpp"
#include "core/telemetry/exporters.hpp"

#include "tests/support/expect_input_error.hpp"
#include "tests/support/temp_dir.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace lp::core::telemetry {
namespace {

namespace fs = std::filesystem;
using lp::testing::TempDir;
using test::expectInputError;

void writeText(const fs::path& file, const std::string& text) {
    std::ofstream(file, std::ios::binary) << text;
}

PipelineLayout layout() {
    PipelineLayout l;
    l.unitNames = {"stem", "layer1.0", "head"};
    l.stageOfUnit = {0, 0, 1};
    l.delays = {2, 0};
    l.stageParams = {1200, 340};
    l.policy = "ema";
    l.schedule = "layerpipe";
    return l;
}

// Every kind of record, with the awkward values an export must carry: fractions with no short
// decimal, huge and tiny reals, NaN and infinities, recalibrated and plain evaluations.
TelemetryLog awkwardLog() {
    constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
    constexpr float kInf = std::numeric_limits<float>::infinity();
    TelemetryBatch b;
    b.ops = {{0, OpKind::Forward, 0, 0, 0, 0.0, 12.5, 0},
             {1, OpKind::Backward, 0, 0, 1, 1e9 + 0.125, 1e9 + 3.0, 3},
             {0, OpKind::Update, 7, 5, -1, 1.0 / 3.0, 2.0 / 3.0, 1},
             {1, OpKind::Eval, -1, 9, -1, 5e-7, 123456.789, 0, 1}};
    b.staleness = {{1, 0, 2, 2}, {2, 1, 0, 0}};
    b.memory = {{0.5, 0, 0, MemoryCategory::Weights, 4800},
                {0.5, 0, 0, MemoryCategory::WeightHistory, 4800},
                {10.25, 3, 1, MemoryCategory::Activations, std::int64_t{1} << 40},
                {10.25, 3, 1, MemoryCategory::OptimizerState, 0},
                {11.0, 4, 0, MemoryCategory::DiagnosticShadow, 9600}};
    b.train = {{0, 0, 17.0, 2.3025851F, 0.1F, 0.05F, 1234.5F, false},
               {1, 0, 35.5, kNaN, 0.0F, 1e-30F, kInf, true},
               {2, 1, 70.0, -kInf, 1.0F, 3.4e38F, 0.0F, true}};
    b.eval = {{0, 2, 44.5F, 0.625F, 0.875F, 20, 1.62F, 0.7F, 0.95F},
              {1, 3, kNaN, 0.1F, 0.5F, 0, 0.0F, 0.0F, 0.0F}};
    b.reconstruction = {{0, 0, 0.0123F}, {1, 1, 1e-8F}, {2, 0, kNaN}};
    TelemetryLog log;
    log.append(std::move(b));
    return log;
}

bool sameBits(float a, float b) {
    return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b) ||
           (std::isnan(a) && std::isnan(b));
}

bool sameBits(double a, double b) {
    return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b) ||
           (std::isnan(a) && std::isnan(b));
}

// Equal lengths, then same(x, y, i) for each pair of samples.
template <typename Series, typename Same>
void expectEachSame(const Series& a, const Series& b, const Same& same) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        same(a[i], b[i], i);
    }
}

void expectSameLogs(const TelemetryLog& a, const TelemetryLog& b) {
    expectEachSame(a.ops(), b.ops(), [](const OpEvent& x, const OpEvent& y, std::size_t i) {
        EXPECT_EQ(x.stage, y.stage);
        EXPECT_EQ(x.op, y.op);
        EXPECT_EQ(x.minibatch, y.minibatch);
        EXPECT_EQ(x.weightVersion, y.weightVersion);
        EXPECT_EQ(x.tick, y.tick);
        EXPECT_TRUE(sameBits(x.startUs, y.startUs)) << i << ": " << x.startUs << " " << y.startUs;
        EXPECT_TRUE(sameBits(x.endUs, y.endUs)) << i;
        EXPECT_EQ(x.thread, y.thread);
        EXPECT_EQ(x.rank, y.rank);
    });
    expectEachSame(a.staleness(),
                   b.staleness(),
                   [](const StalenessSample& x, const StalenessSample& y, std::size_t) {
                       EXPECT_EQ(x.update, y.update);
                       EXPECT_EQ(x.stage, y.stage);
                       EXPECT_EQ(x.staleness, y.staleness);
                       EXPECT_EQ(x.configuredDelay, y.configuredDelay);
                   });
    expectEachSame(
        a.memory(), b.memory(), [](const MemorySample& x, const MemorySample& y, std::size_t) {
            EXPECT_TRUE(sameBits(x.timeUs, y.timeUs));
            EXPECT_EQ(x.tick, y.tick);
            EXPECT_EQ(x.stage, y.stage);
            EXPECT_EQ(x.category, y.category);
            EXPECT_EQ(x.bytes, y.bytes);
        });
    expectEachSame(
        a.train(), b.train(), [](const TrainSample& x, const TrainSample& y, std::size_t i) {
            EXPECT_EQ(x.step, y.step);
            EXPECT_EQ(x.epoch, y.epoch);
            EXPECT_TRUE(sameBits(x.timeUs, y.timeUs));
            EXPECT_TRUE(sameBits(x.loss, y.loss)) << i << ": " << x.loss << " " << y.loss;
            EXPECT_TRUE(sameBits(x.accuracy, y.accuracy));
            EXPECT_TRUE(sameBits(x.lr, y.lr));
            EXPECT_TRUE(sameBits(x.imagesPerSecond, y.imagesPerSecond));
            EXPECT_EQ(x.nonFinite, y.nonFinite);
        });
    expectEachSame(a.eval(), b.eval(), [](const EvalSample& x, const EvalSample& y, std::size_t) {
        EXPECT_EQ(x.epoch, y.epoch);
        EXPECT_EQ(x.step, y.step);
        EXPECT_TRUE(sameBits(x.loss, y.loss));
        EXPECT_TRUE(sameBits(x.top1, y.top1));
        EXPECT_TRUE(sameBits(x.top5, y.top5));
        EXPECT_EQ(x.recalBatches, y.recalBatches);
        if (x.recalBatches > 0) {
            EXPECT_TRUE(sameBits(x.recalLoss, y.recalLoss));
            EXPECT_TRUE(sameBits(x.recalTop1, y.recalTop1));
            EXPECT_TRUE(sameBits(x.recalTop5, y.recalTop5));
        }
    });
    expectEachSame(a.reconstruction(),
                   b.reconstruction(),
                   [](const ReconstructionSample& x, const ReconstructionSample& y, std::size_t) {
                       EXPECT_EQ(x.minibatch, y.minibatch);
                       EXPECT_EQ(x.stage, y.stage);
                       EXPECT_TRUE(sameBits(x.relativeError, y.relativeError));
                   });
}

// A run folder as `layerpipe run --out` leaves it (`l`: its layout).
void writeRunFolder(const fs::path& dir,
                    const TelemetryLog& log,
                    const io::ExperimentConfig& c,
                    const PipelineLayout& l = layout()) {
    writeCsvs(log, dir, l.hosts);
    writeChromeTrace(log, l, dir / "trace.json");
    writeRunRecord(io::toJson(c), l, log, nlohmann::json{{"epochs", 1}}, dir / "run.json");
    io::saveConfig(dir / "experiment.json", c);
}

TEST(RunReader, CsvsRoundTripBitForBit) {
    const TempDir dir;
    const TelemetryLog log = awkwardLog();
    writeCsvs(log, dir.path());
    expectSameLogs(log, readCsvs(dir.path()));
}

TEST(RunReader, EvalWithoutRecalibrationRoundTrips) {
    const TempDir dir;
    TelemetryBatch b;
    b.eval = {{0, 9, 1.5F, 0.25F, 0.75F}};
    TelemetryLog log;
    log.append(b);
    writeCsvs(log, dir.path());
    expectSameLogs(log, readCsvs(dir.path()));
}

TEST(RunReader, RunFolderGivesLayoutConfigAndSeries) {
    const TempDir dir;
    io::ExperimentConfig config;
    config.name = "round trip";
    config.pipeline.cuts = {2};
    config.pipeline.policy = WeightPolicy::Ema;
    const TelemetryLog log = awkwardLog();
    writeRunFolder(dir.path(), log, config);
    const RunFolder run = readRunFolder(dir.path());
    EXPECT_EQ(run.config, config);
    EXPECT_EQ(run.layout.unitNames, layout().unitNames);
    EXPECT_EQ(run.layout.stageOfUnit, layout().stageOfUnit);
    EXPECT_EQ(run.layout.delays, layout().delays);
    EXPECT_EQ(run.layout.stageParams, layout().stageParams);
    EXPECT_EQ(run.layout.policy, "ema");
    EXPECT_EQ(run.layout.schedule, "layerpipe");
    expectSameLogs(log, run.log);
}

// An MPI run's folder (docs/mpi.md): run.json's ranks give each rank's host and stages back;
// ops.csv names the host of each op's rank; a one-process layout keeps its one host.
TEST(RunReader, RanksAndHostsRoundTrip) {
    const TempDir dir;
    PipelineLayout two = layout();
    two.hosts = {"node-a", "node-b"};
    two.rankOfStage = {0, 1};
    const TelemetryLog log = awkwardLog();
    writeRunFolder(dir.path(), log, io::ExperimentConfig{}, two);
    const RunFolder run = readRunFolder(dir.path());
    EXPECT_EQ(run.layout.hosts, two.hosts);
    EXPECT_EQ(run.layout.rankOfStage, two.rankOfStage);
    expectSameLogs(log, run.log);
    std::ifstream ops(dir.path() / "ops.csv");
    std::vector<std::string> rows;
    for (std::string line; std::getline(ops, line);) {
        rows.push_back(line);
    }
    ASSERT_EQ(rows.size(), 5U);
    EXPECT_EQ(rows[0], "stage,op,minibatch,weight_version,tick,start_us,end_us,thread,rank,host");
    EXPECT_TRUE(rows[1].ends_with(",0,node-a")) << rows[1];
    EXPECT_TRUE(rows[4].ends_with(",1,node-b")) << rows[4];  // awkwardLog's eval op: rank 1

    PipelineLayout one = layout();
    one.hosts = {"here"};
    writeRunFolder(dir.path(), log, io::ExperimentConfig{}, one);
    const PipelineLayout back = readRunFolder(dir.path()).layout;
    EXPECT_EQ(back.hosts, one.hosts);
    EXPECT_FALSE(back.distributed());
}

TEST(RunReader, BadRanksAreNamed) {
    const TempDir dir;
    const std::string head = R"({"layout": {"units": ["stem", "head"], "stageOfUnit": [0, 1],
        "delays": [1, 0], "stageParams": [1, 1], "policy": "stash", "schedule": "layerpipe"},
        "config": {}, "ranks": )";
    writeText(dir.path() / "run.json", head + R"([{"rank": 0, "host": "a", "stages": [0, 2]}]})");
    expectInputError([&] { readRunRecord(dir.path() / "run.json"); },
                     {"run.json", "'ranks' names stage 2", "stages 0 to 1"});
    writeText(dir.path() / "run.json", head + R"([{"rank": 0, "host": "a", "stages": [0]}]})");
    expectInputError([&] { readRunRecord(dir.path() / "run.json"); },
                     {"'ranks' leaves a stage without a rank"});
    writeText(dir.path() / "run.json", head + R"([{"rank": 0, "stages": [0, 1]}]})");
    expectInputError([&] { readRunRecord(dir.path() / "run.json"); }, {"no 'ranks[].host'"});
}

// mpi.json's links (core/distributed/run_gather.hpp writes them) for the studio's timeline.
TEST(RunReader, MpiLinksAreRead) {
    const TempDir dir;
    const fs::path file = dir.path() / "mpi.json";
    writeText(file, R"({"format": "layerpipe-mpi-1", "links": [
        {"from": 0, "to": 1, "direction": "forward", "messages": 24, "bytes": 49152,
         "sendSeconds": 0.012, "bytesPerStep": 2048.0, "sendSecondsPerStep": 0.0005},
        {"from": 1, "to": 0, "direction": "backward", "messages": 24, "bytes": 49152,
         "sendSeconds": 0.024, "bytesPerStep": 2048.0, "sendSecondsPerStep": 0.001}]})");
    const std::vector<LinkRecord> links = readMpiLinks(file);
    ASSERT_EQ(links.size(), 2U);
    EXPECT_TRUE(links[0].forward);
    EXPECT_EQ(links[0].to, 1);
    EXPECT_EQ(links[0].bytes, 49152);
    EXPECT_FALSE(links[1].forward);
    EXPECT_EQ(links[1].from, 1);
    EXPECT_EQ(links[1].sendSecondsPerStep, 0.001);
    writeText(file, R"({"links": [{"from": 0, "to": 1, "direction": "sideways"}]})");
    expectInputError([&] { readMpiLinks(file); },
                     {"mpi.json", "'sideways'", "forward or backward"});
    writeText(file, R"({"links": [{"from": 0, "to": 1, "direction": "forward"}]})");
    expectInputError([&] { readMpiLinks(file); }, {"no 'links[].messages'"});
}

TEST(RunReader, ReportFolderKeepsItsCsvsInCsvSubfolder) {
    const TempDir dir;
    const TelemetryLog log = awkwardLog();
    writeCsvs(log, dir.path() / "csv");
    writeRunRecord(io::toJson(io::ExperimentConfig{}), layout(), log, {}, dir.path() / "run.json");
    expectSameLogs(log, readRunFolder(dir.path()).log);
}

TEST(RunReader, ColumnsAreFoundByNameInAnyOrder) {
    const TempDir dir;
    writeText(dir.path() / "staleness.csv",
              "configured_delay,note,stage,staleness,update\n4,x,1,3,12\n");
    const auto s = readStalenessCsv(dir.path() / "staleness.csv");
    ASSERT_EQ(s.size(), 1U);
    EXPECT_EQ(s[0].update, 12);
    EXPECT_EQ(s[0].stage, 1);
    EXPECT_EQ(s[0].staleness, 3);
    EXPECT_EQ(s[0].configuredDelay, 4);
}

TEST(RunReader, BrokenFilesAreNamedWithTheirLine) {
    const TempDir dir;
    const fs::path train = dir.path() / "train.csv";
    expectInputError([&] { readTrainCsv(train); }, {train.string(), "does not exist"});
    writeText(train, "");
    expectInputError([&] { readTrainCsv(train); }, {train.string(), "empty"});
    writeText(train, "step,epoch,time_us,loss,accuracy,lr,images_per_second\n");
    expectInputError([&] { readTrainCsv(train); }, {train.string(), "no column 'non_finite'"});
    const std::string header = "step,epoch,time_us,loss,accuracy,lr,images_per_second,non_finite\n";
    writeText(train, header + "0,0,1.5,2.3,0.1,0.1,100,0\n1,0,2.5,abc,0.1,0.1,100,0\n");
    expectInputError([&] { readTrainCsv(train); },
                     {train.string(), "line 3", "column 'loss'", "'abc' is not a number"});
    writeText(train, header + "0,0,1.5,2.3,0.1,0.1,100\n");
    expectInputError([&] { readTrainCsv(train); }, {"line 2", "7 cells", "8 columns"});
    writeText(train, header + "0,0,1.5,2.3,0.1,0.1,100,yes\n");
    expectInputError([&] { readTrainCsv(train); }, {"column 'non_finite'", "not 0 or 1"});
    const fs::path ops = dir.path() / "ops.csv";
    writeText(ops,
              "stage,op,minibatch,weight_version,tick,start_us,end_us,thread\n0,X,0,0,0,0,1,0\n");
    expectInputError([&] { readOpsCsv(ops); }, {"column 'op'", "'X' is not an op"});
    const fs::path memory = dir.path() / "memory.csv";
    writeText(memory, "time_us,tick,stage,category,bytes\n0,0,0,cache,1\n");
    expectInputError([&] { readMemoryCsv(memory); }, {"'cache' is not a memory category"});
}

TEST(RunReader, FolderProblemsSayWhatARunFolderHolds) {
    const TempDir dir;
    expectInputError([&] { readRunFolder(dir.path() / "nothing"); }, {"is not a folder"});
    expectInputError([&] { readRunFolder(dir.path()); },
                     {"no run.json", "layerpipe run --out", "train.csv"});
    writeText(dir.path() / "run.json", "{\"format\": \"layerpipe-run/1\",\n \"layout\": [}");
    expectInputError([&] { readRunFolder(dir.path()); }, {"run.json", "not valid JSON", "line 2"});
    writeText(dir.path() / "run.json", R"({"layout": {"units": ["stem"], "stageOfUnit": [0],
        "delays": [0], "stageParams": [1], "policy": "stash", "schedule": "layerpipe"},
        "config": {"training": {"epochs": 0}}})");
    expectInputError([&] { readRunFolder(dir.path()); }, {"run.json", "config", "training.epochs"});
    writeText(dir.path() / "run.json", R"({"layout": {"units": "stem"}})");
    expectInputError([&] { readRunFolder(dir.path()); }, {"layout.units", "wrong type"});
    const io::ExperimentConfig config;
    writeRunFolder(dir.path(), awkwardLog(), config);
    fs::remove(dir.path() / "memory.csv");
    expectInputError([&] { readRunFolder(dir.path()); }, {"memory.csv", "does not exist"});
}

TEST(CsvReader, QuotedCellsHoldCommasQuotesAndLineBreaks) {
    const TempDir dir;
    const fs::path file = dir.path() / "q.csv";
    writeText(file, "a,\"b c\"\r\n\"1,2\",\"say \"\"hi\"\"\nthere\"\r\n\r\nplain,\n");
    io::CsvReader r(file);
    EXPECT_EQ(r.column("b c"), 1U);
    ASSERT_TRUE(r.next());
    EXPECT_EQ(r.cell(0), "1,2");
    EXPECT_EQ(r.cell(1), "say \"hi\"\nthere");
    EXPECT_EQ(r.line(), 2U);
    ASSERT_TRUE(r.next());
    EXPECT_EQ(r.line(), 5U);
    EXPECT_EQ(r.cell(0), "plain");
    EXPECT_EQ(r.cell(1), "");
    EXPECT_FALSE(r.optionalReal(1).has_value());
    EXPECT_FALSE(r.next());
    writeText(file, "a\n\"open\n");
    io::CsvReader bad(file);
    expectInputError([&] { bad.next(); }, {"line 2", "not closed"});
}

}  // namespace
}  // namespace lp::core::telemetry
