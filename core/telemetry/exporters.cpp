// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/exporters.hpp"

#include "core/choices.hpp"
#include "core/error.hpp"
#include "core/io/atomic_file.hpp"
#include "core/telemetry/trace_flows.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace lp::core::telemetry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kFloatBytes = 4;  // parameters are float32 (DESIGN.md section 2)
constexpr std::size_t kCategories = 5;   // enumerators of MemoryCategory

// Exports of a long run reach hundreds of MB; text is streamed to the atomic writer in 1 MiB
// pieces instead of being built whole (a json DOM of every op would cost ~1 KB per event).
class BufferedFile {
public:
    explicit BufferedFile(const fs::path& target) : writer_(target) {}

    std::string& text() { return text_; }

    void maybeFlush() {
        if (text_.size() >= kFlushBytes) {
            writer_.write(text_);
            text_.clear();
        }
    }

    void commit() {
        writer_.write(text_);
        text_.clear();
        writer_.commit();
    }

private:
    static constexpr std::size_t kFlushBytes = std::size_t{1} << 20U;
    io::AtomicFileWriter writer_;
    std::string text_;
};

// std::to_chars, unlike printf and streams, ignores the C locale: a Qt application calls
// setlocale(LC_ALL, "") and would otherwise write "0,5" in a German session. Without a precision
// it gives the shortest text that parses back to the same bits.
template <typename T>
void appendReal(std::string& out, T v, std::chars_format fmt) {
    if (std::isnan(v)) {
        out.append("nan");  // to_chars would write "-nan" for a NaN with its sign bit set
        return;
    }
    std::array<char, 400> buf{};  // fixed notation of the smallest double needs ~330 chars
    std::to_chars_result r = std::to_chars(buf.data(), buf.data() + buf.size(), v, fmt);
    if (r.ec != std::errc{}) {
        r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    }
    out.append(buf.data(), r.ptr);
}

template <typename T>
void appendValue(std::string& out, const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
        out.push_back(v ? '1' : '0');
    } else if constexpr (std::is_same_v<T, std::string_view>) {
        out.append(v);
    } else if constexpr (std::is_same_v<T, double>) {
        appendReal(out, v, std::chars_format::fixed);  // times in µs: no exponent for readers
    } else if constexpr (std::is_same_v<T, float>) {
        appendReal(out, v, std::chars_format::general);
    } else {
        static_assert(std::is_integral_v<T>);
        std::array<char, 24> buf{};
        const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), v);
        out.append(buf.data(), result.ptr);
    }
}

template <typename... Ts>
void appendRow(std::string& out, const Ts&... values) {
    bool first = true;
    const auto cell = [&](const auto& v) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        appendValue(out, v);
    };
    (cell(values), ...);
    out.push_back('\n');
}

// One CSV row per record, columns in the order of the header in exporters.hpp.
void appendCsvRow(std::string& out, const OpEvent& e, std::string_view host) {
    appendRow(out,
              e.stage,
              opKindName(e.op),
              e.minibatch,
              e.weightVersion,
              e.tick,
              e.startUs,
              e.endUs,
              e.thread,
              e.rank,
              host);
}

void appendCsvRow(std::string& out, const StalenessSample& s) {
    appendRow(out, s.update, s.stage, s.staleness, s.configuredDelay);
}

void appendCsvRow(std::string& out, const MemorySample& m) {
    appendRow(out, m.timeUs, m.tick, m.stage, memoryCategoryName(m.category), m.bytes);
}

void appendCsvRow(std::string& out, const TrainSample& t) {
    appendRow(
        out, t.step, t.epoch, t.timeUs, t.loss, t.accuracy, t.lr, t.imagesPerSecond, t.nonFinite);
}

void appendCsvRow(std::string& out, const EvalSample& e) {
    appendRow(out, e.epoch, e.step, e.loss, e.top1, e.top5);
}

bool anyRecalibrated(const std::vector<EvalSample>& records) {
    return std::any_of(
        records.begin(), records.end(), [](const EvalSample& e) { return e.recalBatches > 0; });
}

// With BN recalibration the row goes on with recal_batches and the recalibrated figures (left
// empty in a row without them).
void appendRecalibratedCsvRow(std::string& out, const EvalSample& e) {
    appendCsvRow(out, e);
    out.pop_back();  // the '\n'
    out.push_back(',');
    if (e.recalBatches > 0) {
        appendRow(out, e.recalBatches, e.recalLoss, e.recalTop1, e.recalTop5);
    } else {
        out.append("0,,,\n");
    }
}

void appendCsvRow(std::string& out, const ReconstructionSample& r) {
    appendRow(out, r.minibatch, r.stage, r.relativeError);
}

// A scale or an update size: shortest text of the double; an unmeasured one stays empty.
void appendMeasure(std::string& out, double v) {
    if (std::isfinite(v)) {
        appendReal(out, v, std::chars_format::general);
    }
}

void appendCsvRow(std::string& out, const DelaySample& d) {
    appendRow(out, d.epoch, d.stage, d.delay);
    out.back() = ',';
    appendMeasure(out, d.scale);
    out.push_back(',');
    appendMeasure(out, d.updateSize);
    out.push_back(',');
    appendRow(out, d.firstTick, d.ticks);
}

// writeCsv's rows: appendCsvRow(out, record, extra...) for each record.
template <typename Record, typename... Extra>
void writeCsv(const fs::path& file,
              std::string_view header,
              const std::vector<Record>& records,
              const Extra&... extra) {
    BufferedFile f(file);
    f.text().append(header);
    f.text().push_back('\n');
    for (const Record& r : records) {
        appendCsvRow(f.text(), r, extra(r)...);
        f.maybeFlush();
    }
    f.commit();
}

void ensureDirectory(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir, ec)) {
        throw InputError(concat("cannot create directory '",
                                dir.string(),
                                "': ",
                                ec ? ec.message() : std::string("a file of that name exists")));
    }
}

// Invalid UTF-8 in a unit name or a config string must not abort an export at the end of a run.
std::string dumpJson(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// json stores doubles; 0.1F widened would print as 0.10000000149011612. Going through the
// float's shortest decimal keeps the record readable, and it still reads back to the same float.
double jsonReal(float v) {
    if (!std::isfinite(v)) {
        return static_cast<double>(v);  // dumped as null
    }
    std::array<char, 64> buf{};
    const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    double d = 0.0;
    std::from_chars(buf.data(), result.ptr, d);
    return d;
}

// Stage count for the trace tracks: every stage the layout names, even one with no ops.
std::int32_t trackCount(const PipelineLayout& layout) {
    LP_EXPECTS(layout.stageOfUnit.size() == layout.unitNames.size(),
               concat("layout has ",
                      layout.unitNames.size(),
                      " unit names but ",
                      layout.stageOfUnit.size(),
                      " stage indices"));
    std::int32_t tracks = layout.stages();
    for (const std::int32_t s : layout.stageOfUnit) {
        LP_EXPECTS(s >= 0, concat("layout assigns a unit to stage ", s));
        tracks = std::max(tracks, s + 1);
    }
    return tracks;
}

json metadataEvent(std::string_view name, std::int32_t tid, json args, std::int32_t pid = 1) {
    return {{"ph", "M"}, {"name", name}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

// The trace's processes: "LayerPipe", or in a run over MPI ranks one per rank ("rank r (host
// h)", pid r + 1).
std::vector<json> processEvents(const PipelineLayout& layout) {
    if (!layout.distributed()) {
        return {metadataEvent("process_name", 0, {{"name", "LayerPipe"}})};
    }
    const std::int32_t ranks =
        1 + *std::max_element(layout.rankOfStage.begin(), layout.rankOfStage.end());
    std::vector<json> out;
    for (std::int32_t r = 0; r < ranks; ++r) {
        const std::string name = concat("rank ", r, " (host ", layout.hostOf(r), ")");
        out.push_back(metadataEvent("process_name", 0, {{"name", name}}, r + 1));
        out.push_back(metadataEvent("process_sort_index", 0, {{"sort_index", r + 1}}, r + 1));
    }
    return out;
}

json opEvent(const OpEvent& e, std::int32_t pid) {
    json name = std::string(opKindName(e.op));
    if (e.op != OpKind::Eval) {
        name = concat(opKindName(e.op), " ", e.minibatch);
    }
    return {{"ph", "X"},
            {"name", std::move(name)},
            {"cat", opKindCategory(e.op)},
            {"ts", e.startUs},
            {"dur", std::max(0.0, e.endUs - e.startUs)},
            {"pid", pid},
            {"tid", e.stage},
            {"args",
             {{"minibatch", e.minibatch},
              {"weight_version", e.weightVersion},
              {"tick", e.tick},
              {"thread", e.thread}}}};
}

// Groups memory samples into one counter event per (stage, moment), ordered by stage then time.
// Samples of one moment need not be adjacent in the log (a drain can fall between them).
template <typename Emit, typename Pid>
void emitCounterEvents(const TelemetryLog& log, Emit emit, Pid pidOf) {
    using Moment = std::array<std::optional<std::int64_t>, kCategories>;
    std::map<std::pair<std::int32_t, double>, Moment> moments;
    for (const MemorySample& m : log.memory()) {
        if (std::isfinite(m.timeUs)) {
            moments[{m.stage, m.timeUs}][static_cast<std::size_t>(m.category)] = m.bytes;
        }
    }
    for (const auto& [key, moment] : moments) {
        json args = json::object();
        for (std::size_t c = 0; c < kCategories; ++c) {
            if (moment[c]) {
                args[std::string(memoryCategoryName(static_cast<MemoryCategory>(c)))] = *moment[c];
            }
        }
        emit(json{{"ph", "C"},
                  {"name", concat("memory stage ", key.first)},
                  {"ts", key.second},
                  {"pid", pidOf(key.first)},
                  {"tid", key.first},
                  {"args", std::move(args)}});
    }
}

json layoutJson(const PipelineLayout& layout) {
    return {{"units", layout.unitNames},
            {"stageOfUnit", layout.stageOfUnit},
            {"delays", layout.delays},
            {"stageParams", layout.stageParams},
            {"policy", layout.policy},
            {"schedule", layout.schedule},
            {"delaySchedule", layout.delaySchedule}};
}

// run.json's "ranks": each process with its host and its stages.
json ranksJson(const PipelineLayout& layout) {
    json ranks = json::array();
    for (std::size_t r = 0; r < layout.hosts.size(); ++r) {
        ranks.push_back(
            {{"rank", r}, {"host", layout.hosts[r]}, {"stages", std::vector<std::int32_t>{}}});
    }
    for (std::int32_t s = 0; s < layout.stages(); ++s) {
        const auto r = static_cast<std::size_t>(layout.rankOf(s));
        if (r < ranks.size()) {
            ranks[r]["stages"].push_back(s);
        }
    }
    return ranks;
}

bool forecastable(const PipelineLayout& layout) {
    const auto negative = [](std::int64_t v) {
        return v < 0;
    };
    return layout.delays.size() == layout.stageParams.size() &&
           std::none_of(layout.delays.begin(), layout.delays.end(), negative) &&
           std::none_of(layout.stageParams.begin(), layout.stageParams.end(), negative);
}

void expectForecastable(const PipelineLayout& layout) {
    LP_EXPECTS(forecastable(layout),
               concat("memory forecast needs one delay and one parameter count per stage, all "
                      "non-negative; got ",
                      layout.delays.size(),
                      " delays and ",
                      layout.stageParams.size(),
                      " parameter counts"));
}

// One record of a run-record series, keyed like the CSV columns.
json recordJson(const TrainSample& s) {
    return {{"step", s.step},
            {"epoch", s.epoch},
            {"time_us", s.timeUs},
            {"loss", jsonReal(s.loss)},
            {"accuracy", jsonReal(s.accuracy)},
            {"lr", jsonReal(s.lr)},
            {"images_per_second", jsonReal(s.imagesPerSecond)},
            {"non_finite", s.nonFinite}};
}

json recordJson(const EvalSample& s) {
    json r = {{"epoch", s.epoch},
              {"step", s.step},
              {"loss", jsonReal(s.loss)},
              {"top1", jsonReal(s.top1)},
              {"top5", jsonReal(s.top5)}};
    if (s.recalBatches > 0) {
        r["recal_batches"] = s.recalBatches;
        r["recal_loss"] = jsonReal(s.recalLoss);
        r["recal_top1"] = jsonReal(s.recalTop1);
        r["recal_top5"] = jsonReal(s.recalTop5);
    }
    return r;
}

json recordJson(const StalenessSample& s) {
    return {{"update", s.update},
            {"stage", s.stage},
            {"staleness", s.staleness},
            {"configured_delay", s.configuredDelay}};
}

json recordJson(const MemorySample& s) {
    return {{"time_us", s.timeUs},
            {"tick", s.tick},
            {"stage", s.stage},
            {"category", memoryCategoryName(s.category)},
            {"bytes", s.bytes}};
}

json recordJson(const DelaySample& s) {
    const auto measure = [](double v) {
        return std::isfinite(v) ? json(v) : json(nullptr);
    };
    return {{"epoch", s.epoch},
            {"stage", s.stage},
            {"delay", s.delay},
            {"scale", measure(s.scale)},
            {"update_size", measure(s.updateSize)},
            {"first_tick", s.firstTick},
            {"ticks", s.ticks}};
}

json recordJson(const ReconstructionSample& s) {
    return {{"minibatch", s.minibatch},
            {"stage", s.stage},
            {"relative_error", jsonReal(s.relativeError)}};
}

// One series of the run record: "name":[ one record per line ]
template <typename Record>
void appendSeries(BufferedFile& f,
                  std::string_view name,
                  const std::vector<Record>& records,
                  bool last) {
    f.text().append(concat("\"", name, "\":["));
    for (std::size_t i = 0; i < records.size(); ++i) {
        f.text().append(i == 0 ? "\n" : ",\n");
        f.text().append(dumpJson(recordJson(records[i])));
        f.maybeFlush();
    }
    f.text().append(last ? "\n]\n" : "\n],\n");
}

}  // namespace

void writeCsvs(const TelemetryLog& log,
               const fs::path& dir,
               const std::vector<std::string>& hosts) {
    ensureDirectory(dir);
    writeCsv(dir / "ops.csv",
             "stage,op,minibatch,weight_version,tick,start_us,end_us,thread,rank,host",
             log.ops(),
             [&hosts](const OpEvent& e) {
                 const auto r = static_cast<std::size_t>(e.rank);
                 return e.rank >= 0 && r < hosts.size() ? std::string_view(hosts[r])
                                                        : std::string_view();
             });
    writeCsv(dir / "staleness.csv", "update,stage,staleness,configured_delay", log.staleness());
    writeCsv(dir / "memory.csv", "time_us,tick,stage,category,bytes", log.memory());
    writeCsv(dir / "train.csv",
             "step,epoch,time_us,loss,accuracy,lr,images_per_second,non_finite",
             log.train());
    if (anyRecalibrated(log.eval())) {
        BufferedFile f(dir / "eval.csv");
        f.text().append(
            "epoch,step,loss,top1,top5,recal_batches,recal_loss,recal_top1,recal_top5\n");
        for (const EvalSample& e : log.eval()) {
            appendRecalibratedCsvRow(f.text(), e);
        }
        f.commit();
    } else {
        writeCsv(dir / "eval.csv", "epoch,step,loss,top1,top5", log.eval());
    }
    writeCsv(dir / "reconstruction.csv", "minibatch,stage,relative_error", log.reconstruction());
    writeCsv(dir / "delays.csv",
             "epoch,stage,delay,scale,update_size,first_tick,ticks",
             finalDelays(log.delays()));
}

void writeChromeTrace(const TelemetryLog& log, const PipelineLayout& layout, const fs::path& file) {
    const std::int32_t tracks = trackCount(layout);
    const auto pidOf = [&layout](std::int32_t stage) {
        return layout.rankOf(stage) + 1;
    };
    std::vector<std::string> trackNames;
    trackNames.reserve(static_cast<std::size_t>(tracks));
    for (std::int32_t s = 0; s < tracks; ++s) {
        trackNames.push_back(concat("stage ", s));
    }
    for (std::size_t u = 0; u < layout.unitNames.size(); ++u) {
        std::string& n = trackNames[static_cast<std::size_t>(layout.stageOfUnit[u])];
        n.append(n.find(':') == std::string::npos ? ": " : ", ").append(layout.unitNames[u]);
    }

    // Metadata, then counters, then ops, each event dumped and streamed as soon as it is built.
    std::vector<json> head = processEvents(layout);
    for (std::int32_t s = 0; s < tracks; ++s) {
        head.push_back(metadataEvent(
            "thread_name", s, {{"name", trackNames[static_cast<std::size_t>(s)]}}, pidOf(s)));
        head.push_back(metadataEvent("thread_sort_index", s, {{"sort_index", s}}, pidOf(s)));
    }
    const json other = {{"format", "layerpipe-trace/1"},
                        {"version", LP_VERSION},
                        {"policy", layout.policy},
                        {"schedule", layout.schedule},
                        {"delays", layout.delays}};
    BufferedFile f(file);
    f.text().append(
        concat(R"({"displayTimeUnit":"ms","otherData":)", dumpJson(other), ",\"traceEvents\":[\n"));
    bool first = true;
    const auto emit = [&](const json& event) {
        f.text().append(first ? "" : ",\n");
        first = false;
        f.text().append(dumpJson(event));
        f.maybeFlush();
    };
    for (const json& event : head) {
        emit(event);
    }
    emitCounterEvents(log, emit, pidOf);
    for (const OpEvent& e : log.ops()) {
        if (std::isfinite(e.startUs) && std::isfinite(e.endUs)) {
            emit(opEvent(e, pidOf(e.stage)));
        }
    }
    for (const json& event : flowEvents(log.ops(), layout, findMessages(log.ops(), layout))) {
        emit(event);
    }
    f.text().append("\n]}\n");
    f.commit();
}

void writeRunRecord(const json& config,
                    const PipelineLayout& layout,
                    const TelemetryLog& log,
                    const json& summary,
                    const fs::path& file) {
    BufferedFile f(file);
    std::string& t = f.text();
    t.append(concat("{\"format\":\"layerpipe-run/1\",\n\"version\":",
                    dumpJson(LP_VERSION),
                    ",\n\"config\":",
                    dumpJson(config),
                    ",\n\"layout\":",
                    dumpJson(layoutJson(layout)),
                    ",\n"));
    if (!layout.hosts.empty()) {
        t.append(concat("\"ranks\":", dumpJson(ranksJson(layout)), ",\n"));
    }
    if (forecastable(layout)) {
        const json forecast = {{"stash_history_bytes", stashHistoryBytes(layout)},
                               {"ema_history_bytes", emaHistoryBytes(layout)},
                               {"momentum_history_bytes", 0}};
        t.append(concat("\"forecast\":", dumpJson(forecast), ",\n"));
    }
    t.append(concat("\"summary\":", dumpJson(summary), ",\n\"series\":{\n"));
    appendSeries(f, "train", log.train(), false);
    appendSeries(f, "eval", log.eval(), false);
    appendSeries(f, "staleness", log.staleness(), false);
    appendSeries(f, "memory", log.memory(), false);
    appendSeries(f, "reconstruction", log.reconstruction(), false);
    appendSeries(f, "delays", finalDelays(log.delays()), true);
    t.append("}}\n");
    f.commit();
}

std::int64_t stashHistoryBytes(const PipelineLayout& layout) {
    expectForecastable(layout);
    std::int64_t bytes = 0;
    for (std::size_t s = 0; s < layout.delays.size(); ++s) {
        bytes += layout.delays[s] * layout.stageParams[s] * kFloatBytes;
    }
    return bytes;
}

std::int64_t emaHistoryBytes(const PipelineLayout& layout) {
    expectForecastable(layout);
    std::int64_t bytes = 0;
    for (std::size_t s = 0; s < layout.delays.size(); ++s) {
        if (layout.delays[s] > 0) {
            bytes += layout.stageParams[s] * kFloatBytes;
        }
    }
    return bytes;
}

std::int64_t historyForecastBytes(const PipelineLayout& layout) {
    if (layout.policy == "stash") {
        return stashHistoryBytes(layout);
    }
    if (layout.policy == "ema") {
        return emaHistoryBytes(layout);
    }
    LP_EXPECTS(layout.policy == "latest" || layout.policy == "momentum",
               concat("no history forecast for weight policy '", layout.policy, "'"));
    expectForecastable(layout);
    return 0;
}

}  // namespace lp::core::telemetry
