// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/run_reader.hpp"

#include "core/error.hpp"
#include "core/io/csv_reader.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

namespace lp::core::telemetry {

namespace fs = std::filesystem;
using io::CsvReader;
using nlohmann::json;

namespace {

template <typename T>
T narrow(const CsvReader& r, std::size_t col) {
    const std::int64_t v = r.integer(col);
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
        r.fail(col, concat(v, " is out of range"));
    }
    return static_cast<T>(v);
}

bool flag(const CsvReader& r, std::size_t col) {
    const std::string_view s = r.cell(col);
    if (s != "0" && s != "1") {
        r.fail(col, concat("'", s, "' is not 0 or 1"));
    }
    return s == "1";
}

OpKind opKind(const CsvReader& r, std::size_t col) {
    for (const OpKind k : {OpKind::Forward, OpKind::Backward, OpKind::Update, OpKind::Eval}) {
        if (r.cell(col) == opKindName(k)) {
            return k;
        }
    }
    r.fail(col, concat("'", r.cell(col), "' is not an op (F, B, U or eval)"));
}

MemoryCategory memoryCategory(const CsvReader& r, std::size_t col) {
    for (int c = 0; c < 5; ++c) {
        const auto cat = static_cast<MemoryCategory>(c);
        if (r.cell(col) == memoryCategoryName(cat)) {
            return cat;
        }
    }
    r.fail(col,
           concat("'",
                  r.cell(col),
                  "' is not a memory category (weights, weight_history, activations, "
                  "optimizer_state, diagnostic_shadow)"));
}

// Reads every row of file: the columns named in `names` are looked up once, then make(reader,
// their indices) builds one record per row.
template <typename Record, std::size_t N, typename Make>
std::vector<Record> readSeries(const fs::path& file,
                               const std::array<std::string_view, N>& names,
                               Make make) {
    CsvReader r(file);
    std::array<std::size_t, N> cols{};
    for (std::size_t i = 0; i < N; ++i) {
        cols[i] = r.column(names[i]);
    }
    std::vector<Record> out;
    while (r.next()) {
        out.push_back(make(r, cols));
    }
    return out;
}

template <typename T>
T member(const json& object, std::string_view key, const fs::path& file, std::string_view path) {
    const auto it = object.find(key);
    if (it == object.end()) {
        throw InputError(concat(file.string(), ": no '", path, key, "'"));
    }
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        throw InputError(concat(
            file.string(), ": '", path, key, "' has the wrong type (", it->type_name(), ")"));
    }
}

json parseRecord(const fs::path& file) {
    const std::string text = io::readTextFile(file);
    // The series can hold a long run's every memory sample: skip them while parsing.
    const json::parser_callback_t skipSeries =
        [](int depth, json::parse_event_t event, json& parsed) {
            return !(depth == 1 && event == json::parse_event_t::key && parsed == "series");
        };
    try {
        json doc = json::parse(text, skipSeries);
        if (!doc.is_object()) {
            throw InputError(concat(file.string(), ": not a run record (a JSON object)"));
        }
        return doc;
    } catch (const json::parse_error& e) {
        throw InputError(concat(file.string(), ": not valid JSON (", e.what(), ")"));
    }
}

// run.json's "ranks" (writeRunRecord) into layout.hosts and, for a run over several ranks,
// layout.rankOfStage; needs the layout's delays (its stage count) read.
void readRanks(const json& ranks, const fs::path& file, PipelineLayout& l) {
    if (!ranks.is_array()) {
        throw InputError(concat(file.string(), ": 'ranks' is not an array"));
    }
    std::vector<std::int32_t> ofStage(static_cast<std::size_t>(l.stages()), -1);
    for (const json& r : ranks) {
        if (!r.is_object()) {
            throw InputError(concat(file.string(), ": an entry of 'ranks' is not an object"));
        }
        l.hosts.push_back(member<std::string>(r, "host", file, "ranks[]."));
        for (const auto s : member<std::vector<std::int32_t>>(r, "stages", file, "ranks[].")) {
            if (s < 0 || s >= l.stages()) {
                throw InputError(concat(file.string(),
                                        ": 'ranks' names stage ",
                                        s,
                                        "; the layout has stages 0 to ",
                                        l.stages() - 1));
            }
            ofStage[static_cast<std::size_t>(s)] = static_cast<std::int32_t>(l.hosts.size() - 1);
        }
    }
    if (std::find(ofStage.begin(), ofStage.end(), -1) != ofStage.end()) {
        throw InputError(concat(file.string(), ": 'ranks' leaves a stage without a rank"));
    }
    if (l.hosts.size() > 1) {
        l.rankOfStage = std::move(ofStage);
    }
}

}  // namespace

std::vector<OpEvent> readOpsCsv(const fs::path& file) {
    CsvReader r(file);
    std::array<std::size_t, 8> c{};
    constexpr std::array<std::string_view, 8> kNames = {
        "stage", "op", "minibatch", "weight_version", "tick", "start_us", "end_us", "thread"};
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        c[i] = r.column(kNames[i]);
    }
    const auto rank = r.findColumn("rank");  // none in folders written before MPI runs
    std::vector<OpEvent> out;
    while (r.next()) {
        out.push_back(OpEvent{narrow<std::int32_t>(r, c[0]),
                              opKind(r, c[1]),
                              r.integer(c[2]),
                              r.integer(c[3]),
                              r.integer(c[4]),
                              r.real(c[5]),
                              r.real(c[6]),
                              narrow<std::int32_t>(r, c[7]),
                              rank ? narrow<std::int32_t>(r, *rank) : 0});
    }
    return out;
}

std::vector<StalenessSample> readStalenessCsv(const fs::path& file) {
    constexpr std::array<std::string_view, 4> kNames = {
        "update", "stage", "staleness", "configured_delay"};
    return readSeries<StalenessSample>(file, kNames, [](const CsvReader& r, const auto& c) {
        return StalenessSample{
            r.integer(c[0]), narrow<std::int32_t>(r, c[1]), r.integer(c[2]), r.integer(c[3])};
    });
}

std::vector<MemorySample> readMemoryCsv(const fs::path& file) {
    constexpr std::array<std::string_view, 5> kNames = {
        "time_us", "tick", "stage", "category", "bytes"};
    return readSeries<MemorySample>(file, kNames, [](const CsvReader& r, const auto& c) {
        return MemorySample{r.real(c[0]),
                            r.integer(c[1]),
                            narrow<std::int32_t>(r, c[2]),
                            memoryCategory(r, c[3]),
                            r.integer(c[4])};
    });
}

std::vector<TrainSample> readTrainCsv(const fs::path& file) {
    constexpr std::array<std::string_view, 8> kNames = {
        "step", "epoch", "time_us", "loss", "accuracy", "lr", "images_per_second", "non_finite"};
    return readSeries<TrainSample>(file, kNames, [](const CsvReader& r, const auto& c) {
        return TrainSample{r.integer(c[0]),
                           narrow<std::int32_t>(r, c[1]),
                           r.real(c[2]),
                           r.realFloat(c[3]),
                           r.realFloat(c[4]),
                           r.realFloat(c[5]),
                           r.realFloat(c[6]),
                           flag(r, c[7])};
    });
}

std::vector<EvalSample> readEvalCsv(const fs::path& file) {
    CsvReader r(file);
    const std::array<std::size_t, 5> c = {
        r.column("epoch"), r.column("step"), r.column("loss"), r.column("top1"), r.column("top5")};
    // BN recalibration's columns come as a group, or not at all.
    const auto batches = r.findColumn("recal_batches");
    std::array<std::size_t, 3> recal{};
    if (batches) {
        recal = {r.column("recal_loss"), r.column("recal_top1"), r.column("recal_top5")};
    }
    std::vector<EvalSample> out;
    while (r.next()) {
        EvalSample e{narrow<std::int32_t>(r, c[0]),
                     r.integer(c[1]),
                     r.realFloat(c[2]),
                     r.realFloat(c[3]),
                     r.realFloat(c[4])};
        if (batches) {
            e.recalBatches = narrow<std::int32_t>(r, *batches);
            if (e.recalBatches > 0) {
                e.recalLoss = r.realFloat(recal[0]);
                e.recalTop1 = r.realFloat(recal[1]);
                e.recalTop5 = r.realFloat(recal[2]);
            }
        }
        out.push_back(e);
    }
    return out;
}

std::vector<ReconstructionSample> readReconstructionCsv(const fs::path& file) {
    constexpr std::array<std::string_view, 3> kNames = {"minibatch", "stage", "relative_error"};
    return readSeries<ReconstructionSample>(file, kNames, [](const CsvReader& r, const auto& c) {
        return ReconstructionSample{
            r.integer(c[0]), narrow<std::int32_t>(r, c[1]), r.realFloat(c[2])};
    });
}

std::vector<DelaySample> readDelaysCsv(const fs::path& file) {
    constexpr std::array<std::string_view, 7> kNames = {
        "epoch", "stage", "delay", "scale", "update_size", "first_tick", "ticks"};
    return readSeries<DelaySample>(file, kNames, [](const CsvReader& r, const auto& c) {
        constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
        return DelaySample{narrow<std::int32_t>(r, c[0]),
                           narrow<std::int32_t>(r, c[1]),
                           r.integer(c[2]),
                           r.optionalReal(c[3]).value_or(kNaN),
                           r.optionalReal(c[4]).value_or(kNaN),
                           r.integer(c[5]),
                           r.integer(c[6])};
    });
}

TelemetryLog readCsvs(const fs::path& dir) {
    TelemetryBatch b;
    b.ops = readOpsCsv(dir / "ops.csv");
    b.staleness = readStalenessCsv(dir / "staleness.csv");
    b.memory = readMemoryCsv(dir / "memory.csv");
    b.train = readTrainCsv(dir / "train.csv");
    b.eval = readEvalCsv(dir / "eval.csv");
    b.reconstruction = readReconstructionCsv(dir / "reconstruction.csv");
    std::error_code ec;
    if (fs::exists(dir / "delays.csv", ec)) {
        b.delays = readDelaysCsv(dir / "delays.csv");
    }
    TelemetryLog log;
    log.append(std::move(b));
    return log;
}

RunRecord readRunRecord(const fs::path& file) {
    const json doc = parseRecord(file);
    const auto layout = member<json>(doc, "layout", file, "");
    if (!layout.is_object()) {
        throw InputError(concat(file.string(), ": 'layout' is not an object"));
    }
    RunRecord record;
    PipelineLayout& l = record.layout;
    l.unitNames = member<std::vector<std::string>>(layout, "units", file, "layout.");
    l.stageOfUnit = member<std::vector<std::int32_t>>(layout, "stageOfUnit", file, "layout.");
    l.delays = member<std::vector<std::int64_t>>(layout, "delays", file, "layout.");
    l.stageParams = member<std::vector<std::int64_t>>(layout, "stageParams", file, "layout.");
    l.policy = member<std::string>(layout, "policy", file, "layout.");
    l.schedule = member<std::string>(layout, "schedule", file, "layout.");
    if (layout.contains("delaySchedule")) {
        l.delaySchedule = member<std::string>(layout, "delaySchedule", file, "layout.");
    }
    if (doc.contains("ranks")) {
        readRanks(member<json>(doc, "ranks", file, ""), file, l);
    }
    if (l.unitNames.size() != l.stageOfUnit.size()) {
        throw InputError(concat(file.string(),
                                ": 'layout' names ",
                                l.unitNames.size(),
                                " units but gives ",
                                l.stageOfUnit.size(),
                                " stage indices"));
    }
    try {
        record.config = io::parseConfig(member<json>(doc, "config", file, ""));
    } catch (const InputError& e) {
        throw InputError(concat(file.string(), ": config: ", e.what()));
    }
    return record;
}

std::vector<LinkRecord> readMpiLinks(const fs::path& file) {
    const json doc = parseRecord(file);
    const auto links = member<json>(doc, "links", file, "");
    if (!links.is_array()) {
        throw InputError(concat(file.string(), ": 'links' is not an array"));
    }
    std::vector<LinkRecord> out;
    for (const json& l : links) {
        const auto direction = member<std::string>(l, "direction", file, "links[].");
        if (direction != "forward" && direction != "backward") {
            throw InputError(concat(
                file.string(), ": a link's direction is '", direction, "' (forward or backward)"));
        }
        out.push_back(
            {.from = member<std::int32_t>(l, "from", file, "links[]."),
             .to = member<std::int32_t>(l, "to", file, "links[]."),
             .forward = direction == "forward",
             .messages = member<std::int64_t>(l, "messages", file, "links[]."),
             .bytes = member<std::int64_t>(l, "bytes", file, "links[]."),
             .sendSeconds = member<double>(l, "sendSeconds", file, "links[]."),
             .bytesPerStep = member<double>(l, "bytesPerStep", file, "links[]."),
             .sendSecondsPerStep = member<double>(l, "sendSecondsPerStep", file, "links[].")});
    }
    return out;
}

RunFolder readRunFolder(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        throw InputError(concat(dir.string(), " is not a folder"));
    }
    if (!fs::exists(dir / "run.json", ec)) {
        throw InputError(
            concat(dir.string(),
                   " is not a run folder: it has no run.json (a run folder is what "
                   "`layerpipe run --out DIR` writes: run.json and train.csv, "
                   "eval.csv, staleness.csv, memory.csv, reconstruction.csv, ops.csv)"));
    }
    RunRecord record = readRunRecord(dir / "run.json");
    // The studio's report export keeps the CSVs in csv/ beside run.json.
    const fs::path csvDir =
        !fs::exists(dir / "train.csv", ec) && fs::exists(dir / "csv" / "train.csv", ec)
            ? dir / "csv"
            : dir;
    RunFolder run{dir, std::move(record.config), std::move(record.layout), readCsvs(csvDir), {}};
    if (fs::exists(dir / "mpi.json", ec)) {
        run.links = readMpiLinks(dir / "mpi.json");
    }
    return run;
}

}  // namespace lp::core::telemetry
