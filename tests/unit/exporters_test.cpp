// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/exporters.hpp"

#include "core/error.hpp"
#include "core/pipeline/epoch_plan.hpp"
#include "core/pipeline/plan.hpp"
#include "core/telemetry/summary.hpp"

#include "tests/support/temp_dir.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace lp::core::telemetry {
namespace {

namespace fs = std::filesystem;
using lp::testing::TempDir;
using nlohmann::json;

constexpr std::int32_t kStages = 3;
constexpr std::int64_t kMinibatches = 6;
constexpr std::int64_t kMemoryTicks = 3;  // memory sampled at ticks 0, 2, 4

std::string readText(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    EXPECT_TRUE(in.good()) << file;
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

std::vector<std::vector<std::string>> readCsv(const fs::path& file) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(readText(file));
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::istringstream cellStream(line);
        std::string cell;
        while (std::getline(cellStream, cell, ',')) {
            cells.push_back(cell);
        }
        rows.push_back(cells);
    }
    return rows;
}

template <typename T>
T parseNumber(const std::string& text) {
    T v{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    EXPECT_TRUE(ec == std::errc{} && end == text.data() + text.size()) << "'" << text << "'";
    return v;
}

PipelineLayout threeStageLayout() {
    return {.unitNames = {"stem", "layer1.0", "layer1.1", "head"},
            .stageOfUnit = {0, 0, 1, 2},
            .delays = {4, 2, 0},
            .stageParams = {1000, 2000, 3000},
            .policy = "stash",
            .schedule = "layerpipe",
            .hosts = {},
            .rankOfStage = {}};
}

// The LayerPipe schedule for K = 3 (DESIGN.md section 4): in tick τ stage s runs F of τ-s,
// then B and U of τ-(2K-2-s). Times are µs with a few non-integer values to test round trips.
TelemetryBatch schedule() {
    TelemetryBatch b;
    const std::int64_t ticks = kMinibatches + std::int64_t{2} * kStages - 2;
    for (std::int32_t s = 0; s < kStages; ++s) {
        const std::int64_t delay = std::int64_t{2} * (kStages - 1 - s);
        for (std::int64_t tick = 0; tick < ticks; ++tick) {
            const double t0 = static_cast<double>(tick) * 100.0 + 0.125 * s;
            // Stage s's op `kind` on `minibatch` at weight version `version`, in this tick.
            const auto op = [&](OpKind kind,
                                std::int64_t minibatch,
                                std::int64_t version,
                                double startUs,
                                double endUs) {
                b.ops.push_back({.stage = s,
                                 .op = kind,
                                 .minibatch = minibatch,
                                 .weightVersion = version,
                                 .tick = tick,
                                 .startUs = startUs,
                                 .endUs = endUs,
                                 .thread = s});
            };
            const std::int64_t f = tick - s;
            if (f >= 0 && f < kMinibatches) {
                op(OpKind::Forward, f, f - std::min(f, delay), t0, t0 + 30.1);
            }
            const std::int64_t j = tick - (2 * kStages - 2 - s);
            if (j >= 0 && j < kMinibatches) {
                const std::int64_t v = j - std::min(j, delay);
                op(OpKind::Backward, j, v, t0 + 40.0, t0 + 70.0);
                op(OpKind::Update, j, j, t0 + 70.0, t0 + 75.0);
                b.staleness.push_back(
                    {.update = j + 1, .stage = s, .staleness = j - v, .configuredDelay = delay});
                if (delay > 0) {
                    b.reconstruction.push_back(
                        {.minibatch = j,
                         .stage = s,
                         .relativeError = 1e-3F / static_cast<float>(j + 1)});
                }
            }
        }
    }
    b.ops.push_back({.stage = 0,
                     .op = OpKind::Eval,
                     .minibatch = kMinibatches,
                     .weightVersion = kMinibatches,
                     .tick = -1,
                     .startUs = 5000.0,
                     .endUs = 5400.0,
                     .thread = 1});
    for (std::int64_t i = 0; i < kMinibatches; ++i) {
        const bool last = i == kMinibatches - 1;
        b.train.push_back({.step = i,
                           .epoch = 0,
                           .timeUs = 1234.5678 * static_cast<double>(i + 1),
                           .loss = last ? std::numeric_limits<float>::quiet_NaN()
                                        : 2.3F / static_cast<float>(i + 1),
                           .accuracy = static_cast<float>(i) / 7.0F,
                           .lr = 0.1F,
                           .imagesPerSecond = 1e6F / 3.0F,
                           .nonFinite = last});
    }
    b.eval.push_back({.epoch = 0, .step = kMinibatches, .loss = 1.7F, .top1 = 0.4F, .top5 = 0.9F});
    return b;
}

// Memory of every stage at ticks 0, 2, 4; the diagnostic shadow only on stage 0.
TelemetryBatch memory(bool firstHalf) {
    TelemetryBatch b;
    for (std::int32_t s = 0; s < kStages; ++s) {
        for (std::int64_t k = 0; k < kMemoryTicks; ++k) {
            for (std::int32_t c = 0; c < 5; ++c) {
                if ((c < 2) != firstHalf || (c == 4 && s != 0)) {
                    continue;
                }
                b.memory.push_back({.timeUs = 200.0 * static_cast<double>(k) + 99.5,
                                    .tick = 2 * k,
                                    .stage = s,
                                    .category = static_cast<MemoryCategory>(c),
                                    .bytes = 1000 * (s + 1) + 10 * c + k});
            }
        }
    }
    return b;
}

// A moment's categories split over two drains, as happens when a drain falls between them.
TelemetryLog syntheticLog() {
    TelemetryLog log;
    log.append(schedule());
    log.append(memory(true));
    log.append(memory(false));
    return log;
}

TEST(TelemetryLog, AppendConcatenatesAndClearEmpties) {
    TelemetryLog log;
    EXPECT_TRUE(log.empty());
    const TelemetryBatch first = schedule();
    log.append(first);
    log.append(schedule());
    EXPECT_EQ(log.ops().size(), 2 * first.ops.size());
    EXPECT_EQ(log.train().size(), 2 * first.train.size());
    EXPECT_EQ(log.staleness().size(), 2 * first.staleness.size());
    EXPECT_EQ(log.reconstruction().size(), 2 * first.reconstruction.size());
    EXPECT_EQ(log.eval().size(), 2U);
    EXPECT_EQ(log.ops()[first.ops.size()].minibatch, first.ops[0].minibatch);
    log.clear();
    EXPECT_TRUE(log.empty());
    EXPECT_TRUE(log.ops().empty());
}

TEST(Exporters, CsvsHaveHeadersRowCountsAndRoundTrip) {
    const TempDir dir;
    const TelemetryLog log = syntheticLog();
    writeCsvs(log, dir / "out/csv", {"node-a"});

    const auto ops = readCsv(dir / "out/csv/ops.csv");
    ASSERT_EQ(ops.size(), log.ops().size() + 1);
    EXPECT_EQ(ops[0],
              (std::vector<std::string>{"stage",
                                        "op",
                                        "minibatch",
                                        "weight_version",
                                        "tick",
                                        "start_us",
                                        "end_us",
                                        "thread",
                                        "rank",
                                        "host"}));
    for (std::size_t i = 0; i < log.ops().size(); ++i) {
        const OpEvent& e = log.ops()[i];
        const auto& row = ops[i + 1];
        ASSERT_EQ(row.size(), 10U);
        EXPECT_EQ(row[8], "0");
        EXPECT_EQ(row[9], "node-a");
        EXPECT_EQ(parseNumber<std::int32_t>(row[0]), e.stage);
        EXPECT_EQ(row[1], opKindName(e.op));
        EXPECT_EQ(parseNumber<std::int64_t>(row[2]), e.minibatch);
        EXPECT_EQ(parseNumber<std::int64_t>(row[3]), e.weightVersion);
        EXPECT_EQ(parseNumber<std::int64_t>(row[4]), e.tick);
        EXPECT_EQ(parseNumber<double>(row[5]), e.startUs);
        EXPECT_EQ(parseNumber<double>(row[6]), e.endUs);
        EXPECT_EQ(row[6].find('e'), std::string::npos);  // times in fixed notation
        EXPECT_EQ(parseNumber<std::int32_t>(row[7]), e.thread);
    }
    EXPECT_EQ(ops.back()[1], "eval");

    const auto train = readCsv(dir / "out/csv/train.csv");
    ASSERT_EQ(train.size(), log.train().size() + 1);
    EXPECT_EQ(train[0][7], "non_finite");
    for (std::size_t i = 0; i + 1 < log.train().size(); ++i) {
        const TrainSample& t = log.train()[i];
        const auto& row = train[i + 1];
        EXPECT_EQ(parseNumber<float>(row[3]), t.loss);
        EXPECT_EQ(parseNumber<float>(row[4]), t.accuracy);
        EXPECT_EQ(parseNumber<float>(row[5]), t.lr);
        EXPECT_EQ(parseNumber<float>(row[6]), t.imagesPerSecond);
        EXPECT_EQ(parseNumber<double>(row[2]), t.timeUs);
        EXPECT_EQ(row[7], "0");
    }
    EXPECT_EQ(train.back()[3], "nan");
    EXPECT_EQ(train.back()[7], "1");
    EXPECT_EQ(train[1][5], "0.1");  // shortest text, not 0.100000001

    const auto mem = readCsv(dir / "out/csv/memory.csv");
    ASSERT_EQ(mem.size(), log.memory().size() + 1);
    EXPECT_EQ(mem[0], (std::vector<std::string>{"time_us", "tick", "stage", "category", "bytes"}));
    std::map<std::string, int> categories;
    for (std::size_t i = 1; i < mem.size(); ++i) {
        ++categories[mem[i][3]];
        EXPECT_EQ(parseNumber<std::int64_t>(mem[i][4]), log.memory()[i - 1].bytes);
    }
    EXPECT_EQ(categories,
              (std::map<std::string, int>{{"weights", 9},
                                          {"weight_history", 9},
                                          {"activations", 9},
                                          {"optimizer_state", 9},
                                          {"diagnostic_shadow", 3}}));

    const auto stale = readCsv(dir / "out/csv/staleness.csv");
    ASSERT_EQ(stale.size(), log.staleness().size() + 1);
    EXPECT_EQ(stale[0].back(), "configured_delay");
    const auto eval = readCsv(dir / "out/csv/eval.csv");
    ASSERT_EQ(eval.size(), 2U);
    EXPECT_EQ(parseNumber<float>(eval[1][4]), 0.9F);
    const auto rec = readCsv(dir / "out/csv/reconstruction.csv");
    ASSERT_EQ(rec.size(), log.reconstruction().size() + 1);
    EXPECT_EQ(parseNumber<float>(rec[2][2]), log.reconstruction()[1].relativeError);
}

TEST(Exporters, CsvsAreDeterministicAndReplaceOldFiles) {
    const TempDir dir;
    TelemetryLog log = syntheticLog();
    writeCsvs(log, dir / "a");
    writeCsvs(log, dir / "b");
    for (const char* name : {"ops.csv",
                             "staleness.csv",
                             "memory.csv",
                             "train.csv",
                             "eval.csv",
                             "reconstruction.csv"}) {
        EXPECT_EQ(readText(dir / "a" / name), readText(dir / "b" / name)) << name;
    }
    log.clear();
    writeCsvs(log, dir / "a");
    EXPECT_EQ(readText(dir / "a/ops.csv"),
              "stage,op,minibatch,weight_version,tick,start_us,end_us,thread,rank,host\n");
}

TEST(Exporters, CsvsIntoAFileThrowInputError) {
    const TempDir dir;
    std::ofstream(dir / "taken") << "x";
    EXPECT_THROW(writeCsvs(syntheticLog(), dir / "taken"), InputError);
    EXPECT_THROW(writeChromeTrace(syntheticLog(), threeStageLayout(), dir / "taken/trace.json"),
                 InputError);
}

TEST(Exporters, ChromeTraceHasTracksOpsAndCounters) {
    const TempDir dir;
    const TelemetryLog log = syntheticLog();
    writeChromeTrace(log, threeStageLayout(), dir / "trace.json");
    const json trace = json::parse(readText(dir / "trace.json"));
    EXPECT_EQ(trace.at("displayTimeUnit"), "ms");
    EXPECT_EQ(trace.at("otherData").at("policy"), "stash");

    std::map<std::int32_t, std::string> threadNames;
    std::map<std::int32_t, int> sortIndex;
    std::map<std::int32_t, int> xPerTid;
    int processNames = 0;
    int counters = 0;
    for (const json& e : trace.at("traceEvents")) {
        EXPECT_EQ(e.at("pid"), 1);
        const std::string ph = e.at("ph");
        const auto tid = e.at("tid").get<std::int32_t>();
        if (ph == "M" && e.at("name") == "process_name") {
            ++processNames;
            EXPECT_EQ(e.at("args").at("name"), "LayerPipe");
        } else if (ph == "M" && e.at("name") == "thread_name") {
            EXPECT_TRUE(threadNames.emplace(tid, e.at("args").at("name")).second);
        } else if (ph == "M" && e.at("name") == "thread_sort_index") {
            sortIndex[tid] = e.at("args").at("sort_index");
        } else if (ph == "X") {
            ++xPerTid[tid];
            EXPECT_GE(e.at("dur").get<double>(), 0.0);
            EXPECT_TRUE(e.at("args").contains("weight_version"));
            EXPECT_TRUE(e.at("args").contains("tick"));
        } else if (ph == "C") {
            ++counters;
            EXPECT_EQ(e.at("name"), concat("memory stage ", tid));
            EXPECT_EQ(e.at("args").size(), tid == 0 ? 5U : 4U);  // both halves merged
            const auto k = static_cast<std::int64_t>((e.at("ts").get<double>() - 99.5) / 200.0);
            const std::int64_t base = std::int64_t{1000} * (tid + 1);
            EXPECT_EQ(e.at("args").at("weights"), base + k);
            EXPECT_EQ(e.at("args").at("optimizer_state"), base + 30 + k);
        } else {
            ADD_FAILURE() << e.dump();
        }
    }
    EXPECT_EQ(processNames, 1);
    EXPECT_EQ(threadNames,
              (std::map<std::int32_t, std::string>{
                  {0, "stage 0: stem, layer1.0"}, {1, "stage 1: layer1.1"}, {2, "stage 2: head"}}));
    EXPECT_EQ(sortIndex, (std::map<std::int32_t, int>{{0, 0}, {1, 1}, {2, 2}}));
    const int perStage = static_cast<int>(3 * kMinibatches);  // F, B and U of every minibatch
    EXPECT_EQ(xPerTid,
              (std::map<std::int32_t, int>{{0, perStage + 1}, {1, perStage}, {2, perStage}}));
    EXPECT_EQ(counters, kStages * kMemoryTicks);

    // The first op of the log: stage 0's forward of minibatch 0.
    const auto first = std::find_if(trace.at("traceEvents").begin(),
                                    trace.at("traceEvents").end(),
                                    [](const json& e) { return e.at("ph") == "X"; });
    ASSERT_NE(first, trace.at("traceEvents").end());
    EXPECT_EQ(first->at("name"), "F 0");
    EXPECT_EQ(first->at("cat"), "forward");
    EXPECT_DOUBLE_EQ(first->at("dur").get<double>(), 30.1);
}

TEST(Exporters, RunRecordParsesWithConfigLayoutAndSeries) {
    const TempDir dir;
    const TelemetryLog log = syntheticLog();
    const json config = {{"name", "lesson 1"}, {"training", {{"epochs", 1}, {"seed", 7}}}};
    const json summary = {{"final_loss", 1.5}, {"steps", kMinibatches}};
    writeRunRecord(config, threeStageLayout(), log, summary, dir / "run.json");
    const std::string text = readText(dir / "run.json");
    EXPECT_EQ(text.rfind("{\"format\":\"layerpipe-run/1\"", 0), 0U);
    const json run = json::parse(text);
    EXPECT_EQ(run.at("config"), config);
    EXPECT_EQ(run.at("summary"), summary);
    EXPECT_EQ(run.at("layout").at("units").size(), 4U);
    EXPECT_EQ(run.at("layout").at("delays"), json({4, 2, 0}));
    EXPECT_EQ(run.at("layout").at("policy"), "stash");
    EXPECT_EQ(run.at("forecast").at("stash_history_bytes"), (4 * 1000 + 2 * 2000) * 4);
    EXPECT_EQ(run.at("forecast").at("ema_history_bytes"), (1000 + 2000) * 4);
    EXPECT_EQ(run.at("forecast").at("momentum_history_bytes"), 0);

    const json& series = run.at("series");
    EXPECT_FALSE(series.contains("ops"));
    EXPECT_EQ(series.at("train").size(), log.train().size());
    EXPECT_EQ(series.at("eval").size(), 1U);
    EXPECT_EQ(series.at("staleness").size(), log.staleness().size());
    EXPECT_EQ(series.at("memory").size(), log.memory().size());
    EXPECT_EQ(series.at("reconstruction").size(), log.reconstruction().size());
    EXPECT_EQ(series.at("train")[1].at("loss").get<double>(), 1.15);  // shortest of 2.3F / 2
    EXPECT_EQ(static_cast<float>(series.at("train")[1].at("loss").get<double>()),
              log.train()[1].loss);
    EXPECT_TRUE(series.at("train").back().at("loss").is_null());  // NaN
    EXPECT_EQ(series.at("train").back().at("non_finite"), true);
    EXPECT_EQ(series.at("memory")[0].at("category"), "weights");
}

// A run over two MPI ranks (docs/mpi.md): run.json lists each rank's host and stages, and the
// trace has one process per rank holding its stages' tracks; without hosts there is no "ranks".
TEST(Exporters, RanksInRunRecordAndTraceProcesses) {
    const TempDir dir;
    PipelineLayout layout = threeStageLayout();
    writeRunRecord(json::object(), layout, syntheticLog(), json::object(), dir / "none.json");
    EXPECT_FALSE(json::parse(readText(dir / "none.json")).contains("ranks"));
    layout.hosts = {"node-a", "node-b"};
    layout.rankOfStage = {0, 0, 1};
    writeRunRecord(json::object(), layout, syntheticLog(), json::object(), dir / "run.json");
    EXPECT_EQ(json::parse(readText(dir / "run.json")).at("ranks"),
              json::parse(R"([{"rank": 0, "host": "node-a", "stages": [0, 1]},
                              {"rank": 1, "host": "node-b", "stages": [2]}])"));
    writeChromeTrace(syntheticLog(), layout, dir / "trace.json");
    std::map<int, std::string> processes;
    std::map<int, std::set<int>> tidsOfPid;
    const json trace = json::parse(readText(dir / "trace.json"));
    for (const json& e : trace.at("traceEvents")) {
        if (e.at("ph") == "M" && e.at("name") == "process_name") {
            processes[e.at("pid")] = e.at("args").at("name");
        } else if (e.at("ph") == "X") {
            tidsOfPid[e.at("pid")].insert(e.at("tid").get<int>());
        }
    }
    EXPECT_EQ(
        processes,
        (std::map<int, std::string>{{1, "rank 0 (host node-a)"}, {2, "rank 1 (host node-b)"}}));
    EXPECT_EQ(tidsOfPid, (std::map<int, std::set<int>>{{1, {0, 1}}, {2, {2}}}));
}

// The messages between two ranks as flow arrows: ranks {0, 1} | {2} cut between stages 1 and 2,
// so each of the 6 minibatches sends a forward (F m, stage 1 → 2) and a backward (B m, stage
// 2 → 1). Each arrow starts inside the sending op and ends inside the receiving one, later.
TEST(Exporters, ChromeTraceHasMessagesAsFlows) {
    const TempDir dir;
    PipelineLayout layout = threeStageLayout();
    layout.hosts = {"node-a", "node-b"};
    layout.rankOfStage = {0, 0, 1};
    const TelemetryLog log = syntheticLog();
    writeChromeTrace(log, layout, dir / "trace.json");
    std::vector<json> ops;
    std::map<std::int64_t, std::vector<json>> flows;  // by id
    const json trace = json::parse(readText(dir / "trace.json"));
    for (const json& e : trace.at("traceEvents")) {
        if (e.at("ph") == "X") {
            ops.push_back(e);
        } else if (e.at("ph") == "s" || e.at("ph") == "f") {
            flows[e.at("id").get<std::int64_t>()].push_back(e);
        }
    }
    // The op on (pid, tid) whose slice holds ts.
    const auto opAt = [&ops](const json& flow) {
        const double ts = flow.at("ts").get<double>();
        for (const json& op : ops) {
            const double start = op.at("ts").get<double>();
            if (op.at("pid") == flow.at("pid") && op.at("tid") == flow.at("tid") && start <= ts &&
                ts <= start + op.at("dur").get<double>()) {
                return op.at("name").get<std::string>();
            }
        }
        return std::string("none");
    };
    ASSERT_EQ(flows.size(), 2 * static_cast<std::size_t>(kMinibatches));
    std::map<std::string, int> names;
    for (const auto& [id, pair] : flows) {
        ASSERT_EQ(pair.size(), 2U) << id;
        const json& start = pair[0].at("ph") == "s" ? pair[0] : pair[1];
        const json& finish = pair[0].at("ph") == "s" ? pair[1] : pair[0];
        ASSERT_EQ(start.at("ph"), "s");
        ASSERT_EQ(finish.at("ph"), "f");
        EXPECT_EQ(finish.at("bp"), "e");
        EXPECT_EQ(start.at("name"), finish.at("name"));
        EXPECT_EQ(start.at("cat"), finish.at("cat"));
        EXPECT_NE(start.at("pid"), finish.at("pid"));
        EXPECT_LT(start.at("ts").get<double>(), finish.at("ts").get<double>());
        const std::string name = start.at("name");
        EXPECT_EQ(opAt(start), name);
        EXPECT_EQ(opAt(finish), name);
        EXPECT_EQ(start.at("tid").get<int>(), name[0] == 'F' ? 1 : 2);
        ++names[name.substr(0, 1)];
    }
    EXPECT_EQ(names, (std::map<std::string, int>{{"B", 6}, {"F", 6}}));

    writeChromeTrace(log, threeStageLayout(), dir / "one.json");  // one process: no messages
    EXPECT_EQ(readText(dir / "one.json").find("\"ph\":\"s\""), std::string::npos);
}

// Issue 13: BN recalibration adds eval columns and record keys only to runs that use it, so the
// files of every other run stay as they were.
TEST(Exporters, RecalibrationColumnsAppearOnlyWhenUsed) {
    const TempDir dir;
    TelemetryBatch first;
    first.eval.push_back({.epoch = 0, .step = 4, .loss = 2.5F, .top1 = 0.5F, .top5 = 0.75F});
    TelemetryLog plain;
    plain.append(first);
    writeCsvs(plain, dir / "plain");
    EXPECT_EQ(readText(dir / "plain/eval.csv"), "epoch,step,loss,top1,top5\n0,4,2.5,0.5,0.75\n");
    writeRunRecord(json::object(), threeStageLayout(), plain, json::object(), dir / "plain.json");
    const json plainEval = json::parse(readText(dir / "plain.json")).at("series").at("eval");
    EXPECT_FALSE(plainEval[0].contains("recal_loss"));

    TelemetryBatch second;
    second.eval.push_back({.epoch = 1,
                           .step = 8,
                           .loss = 99.5F,
                           .top1 = 0.125F,
                           .top5 = 0.5F,
                           .recalBatches = 20,
                           .recalLoss = 1.5F,
                           .recalTop1 = 0.625F,
                           .recalTop5 = 1.0F});
    TelemetryLog mixed = plain;
    mixed.append(second);
    writeCsvs(mixed, dir / "mixed");
    EXPECT_EQ(readText(dir / "mixed/eval.csv"),
              "epoch,step,loss,top1,top5,recal_batches,recal_loss,recal_top1,recal_top5\n"
              "0,4,2.5,0.5,0.75,0,,,\n"
              "1,8,99.5,0.125,0.5,20,1.5,0.625,1\n");
    writeRunRecord(json::object(), threeStageLayout(), mixed, json::object(), dir / "mixed.json");
    const json eval = json::parse(readText(dir / "mixed.json")).at("series").at("eval");
    ASSERT_EQ(eval.size(), 2U);
    EXPECT_FALSE(eval[0].contains("recal_batches"));
    EXPECT_EQ(eval[1].at("recal_batches"), 20);
    EXPECT_EQ(eval[1].at("recal_loss"), 1.5);
    EXPECT_EQ(eval[1].at("recal_top1"), 0.625);
    EXPECT_EQ(eval[1].at("loss"), 99.5);
}

PipelineLayout delaysAndParams(std::vector<std::int64_t> delays, std::vector<std::int64_t> params) {
    PipelineLayout layout;
    layout.delays = std::move(delays);
    layout.stageParams = std::move(params);
    return layout;
}

TEST(Exporters, ForecastsMatchTheFormulas) {
    PipelineLayout layout = delaysAndParams({6, 4, 2, 0}, {1000, 2000, 3000, 500});
    EXPECT_EQ(stashHistoryBytes(layout), (6 * 1000 + 4 * 2000 + 2 * 3000 + 0 * 500) * 4);
    EXPECT_EQ(emaHistoryBytes(layout), (1000 + 2000 + 3000) * 4);

    // Stages far beyond ResNet-18's 11M parameters must not overflow.
    layout = delaysAndParams({18, 0}, {11'000'000'000, 1});
    EXPECT_EQ(stashHistoryBytes(layout), 18 * 11'000'000'000LL * 4);
    EXPECT_EQ(emaHistoryBytes(layout), 11'000'000'000LL * 4);

    layout = delaysAndParams({0, 0}, {5, 7});  // sequential SGD keeps no history
    EXPECT_EQ(stashHistoryBytes(layout), 0);
    EXPECT_EQ(emaHistoryBytes(layout), 0);

    layout = delaysAndParams({2, 0}, {5});
    EXPECT_THROW(stashHistoryBytes(layout), ContractError);
    layout = delaysAndParams({-1}, {5});
    EXPECT_THROW(emaHistoryBytes(layout), ContractError);
}

// Issue 14: the forecast of the layout's own policy; momentum, like latest, keeps no history.
TEST(Exporters, HistoryForecastFollowsThePolicy) {
    PipelineLayout layout = delaysAndParams({6, 4, 2, 0}, {1000, 2000, 3000, 500});
    layout.policy = "stash";
    EXPECT_EQ(historyForecastBytes(layout), stashHistoryBytes(layout));
    layout.policy = "ema";
    EXPECT_EQ(historyForecastBytes(layout), emaHistoryBytes(layout));
    layout.policy = "momentum";
    EXPECT_EQ(historyForecastBytes(layout), 0);
    layout.policy = "latest";
    EXPECT_EQ(historyForecastBytes(layout), 0);
    layout.policy = "shadow";
    EXPECT_THROW(historyForecastBytes(layout), ContractError);
    layout = delaysAndParams({2, 0}, {5});
    layout.policy = "momentum";
    EXPECT_THROW(historyForecastBytes(layout), ContractError);
}

TEST(Summary, SteadyRateSkipsTheFillAndPeaksSumStageMaxima) {
    const PipelineLayout layout = delaysAndParams({4, 2, 0}, {1000, 2000, 3000});
    TelemetryLog log;
    TelemetryBatch b;
    // Two epochs of 10 steps, batch 8. Fill (2K − 2 = 4 steps) is slow, the rest one step per
    // 10 ms: the steady window is steps 4..9 of each epoch, 5 intervals of 10 ms each.
    for (std::int64_t step = 0; step < 20; ++step) {
        const std::int64_t i = step % 10;
        const double epochStart = static_cast<double>(step / 10) * 1e6;
        const double t = epochStart + (i < 4 ? static_cast<double>(i) * 1e5
                                             : 4e5 + static_cast<double>(i - 4) * 1e4);
        b.train.push_back(
            {.step = step, .epoch = static_cast<std::int32_t>(step / 10), .timeUs = t});
    }
    // Stage peaks at different times; the category peak is the sum of the stage peaks.
    b.memory.push_back(
        {.tick = 0, .stage = 0, .category = MemoryCategory::WeightHistory, .bytes = 100});
    b.memory.push_back(
        {.tick = 5, .stage = 0, .category = MemoryCategory::WeightHistory, .bytes = 16000});
    b.memory.push_back(
        {.tick = 6, .stage = 0, .category = MemoryCategory::WeightHistory, .bytes = 9000});
    b.memory.push_back(
        {.tick = 7, .stage = 1, .category = MemoryCategory::WeightHistory, .bytes = 16000});
    b.memory.push_back(
        {.tick = 7, .stage = 1, .category = MemoryCategory::Activations, .bytes = 77});
    log.append(std::move(b));

    const RunSummary r = summarise(log, layout, 10, 8);
    EXPECT_EQ(r.steadySteps, 10);
    EXPECT_NEAR(r.steadyImagesPerSecond, 10.0 * 8.0 / 0.1, 1e-6);
    EXPECT_EQ(r.peak(MemoryCategory::WeightHistory), 32000);
    EXPECT_EQ(r.peak(MemoryCategory::Activations), 77);
    EXPECT_EQ(r.peak(MemoryCategory::Weights), 0);
    EXPECT_EQ(r.stashFormulaBytes, (4 * 1000 + 2 * 2000) * 4);
    EXPECT_EQ(r.emaFormulaBytes, (1000 + 2000) * 4);

    // A run too short to have a steady window reports 0, never a fill-polluted rate.
    TelemetryLog shortLog;
    TelemetryBatch one;
    one.train.push_back({.step = 0, .timeUs = 5.0});
    shortLog.append(std::move(one));
    EXPECT_EQ(summarise(shortLog, layout, 1, 8).steadyImagesPerSecond, 0.0);
}

// The ops one engine run records for `epochs` epochs of the plan (as PipelineCore does: an
// F or B of micro-batch u belongs to minibatch u / micro; epoch e starts at tick e·span).
TelemetryLog opsOfPlan(const std::vector<std::int64_t>& delays,
                       pipeline::ScheduleKind schedule,
                       std::int64_t minibatches,
                       std::int64_t micro,
                       std::int64_t epochs) {
    const auto plan = pipeline::epochPlan(
        pipeline::DelayPlan::custom(static_cast<std::int64_t>(delays.size()), delays),
        schedule,
        minibatches,
        micro);
    std::int64_t span = 0;
    for (const auto& list : plan) {
        span = std::max(span, list.back().tick + 1);
    }
    TelemetryBatch b;
    for (std::int64_t e = 0; e < epochs; ++e) {
        for (std::size_t s = 0; s < plan.size(); ++s) {
            for (const pipeline::StageOp& op : plan[s]) {
                const bool update = op.kind == OpKind::Update;
                b.ops.push_back(
                    {.stage = static_cast<std::int32_t>(s),
                     .op = op.kind,
                     .minibatch = e * minibatches + (update ? op.unit : op.unit / micro),
                     .tick = e * span + op.tick});
            }
        }
    }
    TelemetryLog log;
    log.append(std::move(b));
    return log;
}

// Issue 14: utilisation from the recorded ticks reproduces DESIGN.md section 4's numbers (K = 4,
// 40 minibatches: 40/46 with D = 2S, 1/7 with D = 0) and GPipe's M / (M + K − 1), over two
// epochs; the mean staleness is the mean of the samples.
TEST(Summary, UtilisationFollowsTheTickModelAndMeanStalenessTheSamples) {
    using pipeline::ScheduleKind;
    PipelineLayout layout = delaysAndParams({6, 4, 2, 0}, {1, 1, 1, 1});
    layout.schedule = "layerpipe";
    const auto util = [&](const std::vector<std::int64_t>& d) {
        layout.delays = d;
        return summarise(opsOfPlan(d, ScheduleKind::LayerPipe, 40, 1, 2), layout, 40, 8)
            .utilisation.value_or(-1.0);
    };
    EXPECT_NEAR(util({6, 4, 2, 0}), 40.0 / 46.0, 1e-12);
    EXPECT_NEAR(util({3, 2, 1, 0}), 40.0 / 75.0, 1e-12);
    EXPECT_NEAR(util({0, 0, 0, 0}), 40.0 / 280.0, 1e-12);
    layout.schedule = "gpipe";
    layout.delays = {0, 0, 0, 0};
    const RunSummary g =
        summarise(opsOfPlan({0, 0, 0, 0}, ScheduleKind::GPipe, 10, 4, 2), layout, 10, 8);
    EXPECT_NEAR(g.utilisation.value_or(-1.0), 4.0 / (4.0 + 3.0), 1e-12);
    EXPECT_NEAR(g.bubble.value_or(-1.0), 3.0 / (4.0 + 3.0), 1e-12);
    // One stage works in every tick.
    PipelineLayout one = delaysAndParams({0}, {1});
    one.schedule = "layerpipe";
    EXPECT_NEAR(summarise(opsOfPlan({0}, ScheduleKind::LayerPipe, 7, 1, 1), one, 7, 8)
                    .utilisation.value_or(-1.0),
                1.0,
                1e-12);

    TelemetryLog none;
    EXPECT_FALSE(summarise(none, layout, 10, 8).utilisation.has_value());
    EXPECT_FALSE(summarise(none, layout, 10, 8).meanStaleness.has_value());
    TelemetryBatch st;
    st.staleness = {
        {.stage = 0, .staleness = 6}, {.stage = 1, .staleness = 3}, {.stage = 2, .staleness = 0}};
    none.append(std::move(st));
    EXPECT_DOUBLE_EQ(summarise(none, layout, 10, 8).meanStaleness.value_or(-1.0), 3.0);
}

}  // namespace
}  // namespace lp::core::telemetry
