// The forecast of a pipelined run with its K stages on R machines (issue 15; docs/mpi.md,
// "Forecasting N machines"): per-unit compute times measured on this machine, the bytes each
// stage boundary carries per minibatch (as the MPI transport sends them), a link bandwidth and
// latency, and from them the steady-state time per minibatch, images/s and the bottleneck. The
// studio's pipeline editor and `layerpipe run --dry-run --machines R` use it. Plain C++ header
// (ui/ includes it); the pure functions are reentrant; UnitCostMeasurement is below.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/session/forecast.hpp"

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace lp::core::session {

// One unit's work per minibatch (of the config's batch size) on this machine.
struct UnitCost {
    std::string name;
    double forwardSeconds = 0.0;
    double backwardSeconds = 0.0;
    double updateSeconds = 0.0;  // the optimizer's step over the unit's weights
};

// A link between two neighbouring machines, the same for every pair.
struct LinkSpec {
    double gbitPerSecond = 10.0;        // each direction (full duplex), > 0
    double latencyMicroseconds = 50.0;  // per message, >= 0
};

// What the model reads of a pipeline (pipelineShapeOf fills it from a config).
struct PipelineShape {
    std::vector<UnitInfo> units;            // outputFloats: what crosses a boundary after a unit
    std::vector<std::int32_t> stageOfUnit;  // contiguous, from 0
    std::vector<std::int64_t> delays;       // D_s per stage (GPipe: ignored)
    bool gpipe = false;
    std::int64_t batchSize = 32;
    std::int64_t microBatches = 1;  // GPipe's M (messages per minibatch and direction)
};

struct MachineCost {
    std::int64_t firstStage = 0;  // stages [firstStage, endStage), as `run --mpi` places them
    std::int64_t endStage = 0;
    std::vector<double> stageSeconds;  // F + B + update of each of its stages per minibatch
    double computeSeconds = 0.0;       // their sum: the machine's stages share its cores
};

// The link from machine m to m + 1: activations of `unit`'s output forward, their gradients back.
struct LinkCost {
    std::int64_t stage = 0;  // the last stage before the boundary
    std::string unit;
    std::int64_t messages = 0;  // per minibatch and direction
    std::int64_t bytes = 0;     // per minibatch and direction, the 40-byte headers included
    double seconds = 0.0;       // per direction: messages · latency + bytes / bandwidth
};

enum class Bottleneck : std::uint8_t { Machine, Link, RoundTrip };

struct ClusterForecast {
    std::vector<MachineCost> machines;
    std::vector<LinkCost> links;           // machines.size() − 1
    std::vector<double> roundTripSeconds;  // per stage: its cycle over D_s + 1 (LayerPipe)
    double stepSeconds = 0.0;              // steady state, per minibatch
    double imagesPerSecond = 0.0;
    Bottleneck bottleneck = Bottleneck::Machine;
    std::int64_t bottleneckIndex = 0;  // the machine, the link (from machine i) or the stage
    std::string bottleneckText;        // named in words, with its time
};

// The shape of config's pipeline from its forecast (units, stages, delays, schedule, batch).
// InputError with the forecast's problem when it cannot run.
PipelineShape pipelineShapeOf(const io::ExperimentConfig& config, const PipelineForecast& f);

// InputError naming the bad value and what is allowed: machines in [1, stages], a bandwidth > 0
// and finite, a latency >= 0 and finite.
void checkCluster(std::int64_t machines, std::int64_t stages, const LinkSpec& link);

// The model (checkCluster's errors; ContractError when costs and units differ in number).
// Assumptions: every machine is like this one; a machine's stages share its cores, so its time
// per minibatch is the sum of their F + B + update; links are full duplex, a minibatch's
// activations and gradients each take messages · latency + bytes / bandwidth, overlapped with
// compute (non-blocking sends). LayerPipe: time per minibatch T = the largest of every machine's
// compute, every link's time and every stage's round trip (its F, the F and B of the stages
// after it, the links both ways, its B and update) over D_s + 1 minibatches, the minibatches
// its delay lets it run ahead. GPipe (a flush per minibatch): T = (M + R − 1) · the largest of
// those per micro-batch (compute / M, M's share of the bytes plus one latency). The figures in
// machines and links are per minibatch in both cases. Not modelled: the copies into and out of
// messages, a last minibatch smaller than the batch, machines unlike this one.
ClusterForecast forecastCluster(const PipelineShape& shape,
                                const std::vector<UnitCost>& costs,
                                std::int64_t machines,
                                const LinkSpec& link);

// Times config's units on this machine (bench's timeUnits: training.threads threads,
// training.batchSize, synthetic pixels, `reps` timed passes after one warm-up). Empty when `stop`
// came first. InputError for a config whose data or model cannot be resolved.
std::vector<UnitCost> measureUnitCosts(const io::ExperimentConfig& config,
                                       std::int64_t reps = 3,
                                       std::stop_token stop = {});

// What measureUnitCosts depends on (model, input, batch, threads, optimizer), as text: equal
// keys, equal measurements; the editor caches by it.
std::string unitCostKey(const io::ExperimentConfig& config);

// The forecast as text for `layerpipe run --dry-run --machines R`: per machine its stages and
// compute ms, per link its bytes and ms, the step time, images/s and "bottleneck: ...".
std::string clusterText(const ClusterForecast& forecast, const LinkSpec& link);

// measureUnitCosts on a thread of its own, so that the studio's GUI thread never waits: poll
// done(), then read costs() or error(). The destructor asks the thread to stop (between units)
// and joins it. Thread-safe.
class UnitCostMeasurement {
public:
    explicit UnitCostMeasurement(const io::ExperimentConfig& config);
    ~UnitCostMeasurement();
    UnitCostMeasurement(const UnitCostMeasurement&) = delete;
    UnitCostMeasurement& operator=(const UnitCostMeasurement&) = delete;
    UnitCostMeasurement(UnitCostMeasurement&&) = delete;
    UnitCostMeasurement& operator=(UnitCostMeasurement&&) = delete;

    bool done() const;
    std::vector<UnitCost> costs() const;  // empty until done, or after an error
    std::string error() const;            // why it failed; empty otherwise

private:
    struct Result;
    std::shared_ptr<Result> result_;
    std::jthread thread_;
};

}  // namespace lp::core::session
