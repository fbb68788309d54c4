// Exporters for what a run recorded: one CSV per series, a Chrome trace (Perfetto), a JSON run
// record, and the history-memory forecasts of DESIGN.md section 5. TelemetryLog is a plain value
// owned by one thread; the writers are free functions with no shared state (thread-safe).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::telemetry {

// Append-only accumulation of every batch drained from a Recorder during a run: each series is
// the concatenation of the batches' series in append order. Not thread-safe.
class TelemetryLog {
public:
    void append(TelemetryBatch&& batch);
    void append(const TelemetryBatch& batch);
    void clear();

    // dropAfterTick on everything appended so far (a diverged run's cut, applied to the records
    // of stages whose process did not see the loss: `layerpipe run --mpi`).
    void cutAfter(std::int64_t tick) { dropAfterTick(all_, tick); }

    bool empty() const { return all_.empty(); }

    const std::vector<OpEvent>& ops() const { return all_.ops; }

    const std::vector<StalenessSample>& staleness() const { return all_.staleness; }

    const std::vector<MemorySample>& memory() const { return all_.memory; }

    const std::vector<TrainSample>& train() const { return all_.train; }

    const std::vector<EvalSample>& eval() const { return all_.eval; }

    const std::vector<ReconstructionSample>& reconstruction() const { return all_.reconstruction; }

    const std::vector<DelaySample>& delays() const { return all_.delays; }

private:
    TelemetryBatch all_;
};

// The last record of each (epoch, stage), ordered by epoch, then stage (a DelaySample is recorded
// when its epoch starts and again, with the measured update size, when it completes).
std::vector<DelaySample> finalDelays(const std::vector<DelaySample>& records);

// Names used in every export (and fit for chart legends).
std::string_view opKindName(OpKind op);                   // "F", "B", "U", "eval"
std::string_view opKindCategory(OpKind op);               // "forward", "backward", "update", "eval"
std::string_view memoryCategoryName(MemoryCategory cat);  // "weights", "weight_history",
                                                          // "activations", "optimizer_state",
                                                          // "diagnostic_shadow"

// Writes one CSV per series into dir (created if missing), each with a header row, one row per
// record in log order, ',' separators, '\n' line ends, '.' decimals whatever the C locale:
//   ops.csv            stage,op,minibatch,weight_version,tick,start_us,end_us,thread,rank,host
//                      (rank: the MPI rank that ran the op, 0 in one process; host:
//                      hosts[rank], empty when `hosts` does not name that rank)
//   staleness.csv      update,stage,staleness,configured_delay
//   memory.csv         time_us,tick,stage,category,bytes
//   train.csv          step,epoch,time_us,loss,accuracy,lr,images_per_second,non_finite
//   eval.csv           epoch,step,loss,top1,top5
//                      (+ recal_batches,recal_loss,recal_top1,recal_top5 when any record has
//                      BN recalibration; a row without it has recal_batches 0 and empty cells)
//   reconstruction.csv minibatch,stage,relative_error
//   delays.csv         epoch,stage,delay,scale,update_size,first_tick,ticks (finalDelays(): one
//                      row per stage of each epoch; update_size empty when not measured or the
//                      epoch did not complete)
// Reals are the shortest text that reads back to the same bits (times, in µs, in fixed notation;
// floats possibly with an exponent; "nan", "inf", "-inf" for non-finite values); non_finite is
// 0 or 1. Same log, same bytes. Each file is replaced atomically; failures throw InputError.
// `hosts`: the host of each rank (PipelineLayout::hosts).
void writeCsvs(const TelemetryLog& log,
               const std::filesystem::path& dir,
               const std::vector<std::string>& hosts = {});

// Writes a Chrome trace (Trace Event Format; opens in Perfetto and chrome://tracing):
//   {"displayTimeUnit":"ms","otherData":{format, version, policy, schedule, delays},
//    "traceEvents":[...]} with one event per line.
// Process pid 1 named "LayerPipe"; one track per stage (tid = stage) named "stage s: <units>" and
// sorted by stage ("M" events). Every op is a complete event {"ph":"X","name":"F 12" | "B 12" |
// "U 12" | "eval","cat":opKindCategory,"ts":startUs,"dur":max(0, endUs - startUs),"pid":1,
// "tid":stage,"args":{minibatch, weight_version, tick, thread}} in log order. Memory is one
// counter event {"ph":"C","name":"memory stage s","ts":timeUs,"args":{<category>: bytes, ...}}
// per (stage, timestamp), holding every category sampled at that exact moment, ordered by stage
// then time. Records with a non-finite time are skipped. Replaced atomically; throws InputError.
// A run over MPI ranks (layout.distributed()) has one trace process per rank instead, pid
// rank + 1, named "rank r (host h)" and holding the tracks of its stages (layout.rankOfStage),
// and after the ops the messages between ranks as flow arrows (trace_flows.hpp: "s" at the
// sending op's end, "f" with "bp":"e" at the receiving op's start, one id per message).
void writeChromeTrace(const TelemetryLog& log,
                      const PipelineLayout& layout,
                      const std::filesystem::path& file);

// Writes the JSON run record, keys in this order, one series record per line:
//   {"format":"layerpipe-run/1","version":LP_VERSION,"config":config,
//    "layout":{units, stageOfUnit, delays, stageParams, policy, schedule},
//    "ranks":[{"rank":r,"host":h,"stages":[s, ...]}, ...] (the processes the stages ran in, from
//    layout.hosts and layout.rankOfStage; left out when layout.hosts is empty),
//    "forecast":{"stash_history_bytes","ema_history_bytes","momentum_history_bytes" (0)} (only
//    when the layout has
//    stageParams for every stage), "summary":summary,
//    "series":{"train":[...],"eval":[...],"staleness":[...],"memory":[...],
//              "reconstruction":[...],"delays":[...]}} (delays: finalDelays())
// Series records are objects keyed like the CSV columns (an eval record has the recal_* keys
// only when it has BN recalibration). Ops are deliberately left out (they can
// be millions; they live in ops.csv and the trace). Floats are written as their shortest decimal;
// non-finite numbers become null (JSON has no NaN). Replaced atomically; throws InputError.
void writeRunRecord(const nlohmann::json& config,
                    const PipelineLayout& layout,
                    const TelemetryLog& log,
                    const nlohmann::json& summary,
                    const std::filesystem::path& file);

// Steady-state weight-history bytes (DESIGN.md section 5), float32 parameters. Both require
// delays and stageParams of equal length with non-negative entries (ContractError otherwise).
// stash: a ring of D_s + 1 versions is D_s copies beyond the live weights: Σ_s D_s·P_s·4.
std::int64_t stashHistoryBytes(const PipelineLayout& layout);
// ema: one EMA buffer d per delayed stage: Σ_{s: D_s > 0} P_s·4. The scratch buffer that Ŵ is
// built in is a working buffer, counted under MemoryCategory::Weights, not history.
std::int64_t emaHistoryBytes(const PipelineLayout& layout);
// The forecast for the layout's own policy: stash and ema as above; latest and momentum keep no
// history (momentum rebuilds Ŵ from the optimizer state): 0. ContractError for another policy.
std::int64_t historyForecastBytes(const PipelineLayout& layout);

}  // namespace lp::core::telemetry
