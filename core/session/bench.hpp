// The measurements behind `layerpipe bench`: training throughput of ResNet through the pipeline
// engine on one fixed synthetic minibatch (no data loading), every layer's forward and backward
// time inside whole passes of the real model, the FP32 multiply-add peak of every kernel path
// this CPU supports, and the peak resident memory. Measures and returns; prints nothing
// (app/bench_command.cpp formats the tables and the JSON).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/model/resnet.hpp"
#include "core/optim/optimizer.hpp"
#include "core/pipeline/stage.hpp"
#include "core/tensor/isa.hpp"
#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace lp::core::session {

struct BenchSpec {
    model::ResNetSpec model;
    std::int64_t batchSize = 32;     // >= 2
    std::int64_t threads = 2;        // 0 = all cores
    std::int64_t steps = 5;          // timed training steps, >= 1
    std::int64_t warmup = 1;         // untimed steps first (scratch buffers, page faults), >= 0
    std::vector<std::int64_t> cuts;  // between units; empty = one stage
    std::optional<pipeline::WeightPolicy> policy;  // nullopt: the pipeline's default
    bool telemetry = true;                         // record op events while training
    bool layers = true;                            // also time every layer alone
    std::int64_t layerReps = 2;  // timed whole passes for the layer table (after one warm-up)
    std::uint64_t seed = 1;      // of the weights and the synthetic batch
};

// One layer of the real model, timed inside whole forward + loss + backward passes.
struct LayerTiming {
    std::string name;  // torchvision-style prefix, e.g. "layer1.0.conv1"
    std::string kind;  // "Conv2d", "BatchNorm2d", ...
    TensorShape in;
    TensorShape out;
    double forwardSeconds = 0.0;   // median over the timed passes
    double backwardSeconds = 0.0;  // median over the timed passes
    double macs = 0.0;             // multiply-adds of the forward (conv and fc; else 0)

    // GFLOP/s at 2 FLOPs per multiply-add; the backward does twice the forward's work (input
    // and weight gradients). 0 for layers without multiply-adds.
    double forwardGflops() const;
    double backwardGflops() const;
};

// One pipeline unit (stem, a BasicBlock, head) timed alone on one minibatch of the spec's batch:
// its forward (Train mode) and backward inside whole passes of the real model, unit after unit,
// and one optimizer update of its weights. Medians over the timed passes.
struct UnitTiming {
    std::string name;  // "stem", "layer1.0", ..., "head"
    double forwardSeconds = 0.0;
    double backwardSeconds = 0.0;
    double updateSeconds = 0.0;
};

// Timed training steps (forward, loss, backward, SGD momentum update) through the engine.
struct TrainTiming {
    double seconds = 0.0;     // wall time of the timed steps
    double cpuSeconds = 0.0;  // user + system time of the process over them (all threads)
    std::int64_t images = 0;
    double loss = 0.0;  // mean over the timed steps
    bool nonFinite = false;
    std::int64_t stages = 1;
    int threads = 0;
    long peakRssKib = 0;  // of the process, right after the timed steps
};

// The FP32 multiply-add peak of one kernel path (core/tensor/fma_peak.hpp's probe).
struct IsaPeak {
    Isa isa = Isa::Baseline;
    double gflops = 0.0;
};

struct BenchReport {
    TrainTiming train;
    std::vector<LayerTiming> layers;  // empty unless BenchSpec::layers
    // The layer table's whole forward and backward passes (forwardUnits, backwardUnits; medians
    // over the timed passes): every layer's time plus what no layer does, the residual adds and
    // the BasicBlocks' rebuilt conv2 inputs (core/model/unit.hpp). 0 unless BenchSpec::layers.
    double passForwardSeconds = 0.0;
    double passBackwardSeconds = 0.0;
    // Median over the timed passes of each pass minus its own layers' calls: the residual adds
    // and rebuilt inputs alone (never negative, unlike the difference of the medians).
    double noLayerForwardSeconds = 0.0;
    double noLayerBackwardSeconds = 0.0;
    std::vector<IsaPeak> peaks;     // every supported path, baseline first
    double activePeakGflops = 0.0;  // of the path in use
    double macsPerImage = 0.0;      // one image's forward, counted on the real model
    double imagesPerSecond = 0.0;   // of the timed training steps
    double trainGflops = 0.0;       // imagesPerSecond at 3 forwards' worth of FLOPs per image
};

// Runs the benchmark with `threads` threads: training first (so that the peak RSS is the
// training step's alone), then the layer table, the peaks and the multiply-add count. InputError
// for a bad model spec, cuts or policy; ContractError for counts out of the ranges above.
BenchReport runBenchmark(const BenchSpec& spec);

// Times every unit of spec.model (above) with spec.threads threads: one untimed pass, then
// spec.layerReps timed ones, at spec.batchSize; `optimizer` makes the updates. Returns early with
// what is done (an empty vector) when `stop` is requested between units. InputError for a bad
// model or optimizer; ContractError for batchSize < 1 or layerReps < 1.
std::vector<UnitTiming> timeUnits(const BenchSpec& spec,
                                  const optim::OptimizerConfig& optimizer,
                                  std::stop_token stop = {});

}  // namespace lp::core::session
