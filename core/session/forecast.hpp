// What an experiment will look like before it runs (issue 16): the model's units from the real
// ResNet (core/model), the minibatches per epoch from the data's outline (core/data resolves
// "auto" without reading pixels), the ticks, utilisation and bubble of the real epoch plan
// (core/pipeline), and the bytes each stage will hold per memory category (the engine's own
// accounting). The studio's pipeline editor, `layerpipe run --dry-run` and the tests use it.
// Plain C++ header (ui/ includes it); pure functions of the config and of which dataset files
// exist; reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/telemetry/events.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lp::core::session {

// One pipeline unit of the ResNet (DESIGN.md section 3) as model::ResNet builds it.
struct UnitInfo {
    std::string name;          // "stem", "layer1.0", ..., "head"
    std::int64_t params = 0;   // trainable floats
    std::int64_t buffers = 0;  // BN running statistics and counters, floats
    // Floats of the unit's output for one image: what crosses a stage boundary after it
    // (activations forward, the same number of gradient floats backward).
    std::int64_t outputFloats = 0;
};

// The units of a ResNet of the family: blocks per stage ({2,2,2,2} ResNet-18, four entries),
// the ImageNet or CIFAR stem, base width, input channels, classes; with BatchNorm. ResNet-18,
// width 64, 3 channels, 100 classes has 11,220,132 trainable floats (the bench/ reference).
// InputError for a model core/model rejects.
std::vector<UnitInfo> resnetUnits(const std::vector<std::int64_t>& blocks,
                                  bool imagenetStem,
                                  std::int64_t width,
                                  std::int64_t inChannels,
                                  std::int64_t classes);

// The units the Session will build for config: its model section, with input channels, size and
// classes from the dataset it names where they are 0. InputError for an unknown dataset, a bad
// data folder or a model core/model rejects.
std::vector<UnitInfo> forecastUnits(const io::ExperimentConfig& config);

// LayerPipe2's default delays, D_s = 2·S(s) = 2·(K − 1 − s), for `stages` ≥ 1 stages.
std::vector<std::int64_t> defaultDelays(std::int64_t stages);

// One epoch of a pipeline plan on the tick axis (DESIGN.md section 4): its ticks, and its F and
// B ops over the tick model's slots (telemetry::opSlotsPerTick) — the figures the run summary
// measures from the recorded ops.
struct EpochForecast {
    std::int64_t ticks = 0;
    std::int64_t ops = 0;      // forwards and backwards of every stage (GPipe: micro-batches)
    std::int64_t opSlots = 0;  // slots per tick · stages · ticks
    double utilisation = 0.0;
    double bubble = 0.0;  // (slots − ops) / slots
    // Per stage: the most minibatches (GPipe: micro-batches) in flight at once, forwarded and
    // not yet backwarded: those whose activations the stage holds.
    std::vector<std::int64_t> inFlight;
};

// The plan of `minibatches` minibatches for these delays ("layerpipe": the delays as given;
// "gpipe": all 0, `microBatches` per minibatch). InputError for an illegal delay vector.
EpochForecast forecastEpoch(const std::vector<std::int64_t>& delays,
                            const std::string& schedule,
                            std::int64_t minibatches,
                            std::int64_t microBatches);

// Bytes one stage holds once the pipeline is full, by the engine's accounting
// (pipeline::StageMemory, sampled as telemetry::MemorySample): weights = weights + BN buffers +
// gradient + the Ŵ scratch (ema and momentum with D > 0, or a delay schedule's measurement);
// weight history = D·P·4 for stash (a delay schedule: its largest D), P·4 for ema with D > 0,
// 0 otherwise; optimizer state = the optimizer's state floats · 4; the diagnostic shadow = D·P·4
// for ema or momentum with the diagnostic on. Activations are not forecast (what a layer saves
// depends on its kernel): nullopt, with `inFlight` minibatches' worth held at once.
struct StageForecast {
    std::int64_t params = 0;   // P_s
    std::int64_t buffers = 0;  // BN buffers, floats
    std::int64_t delay = 0;    // D_s sizing the history
    std::int64_t inFlight = 0;
    std::array<std::optional<std::int64_t>, 5> bytes{};  // indexed by telemetry::MemoryCategory

    std::optional<std::int64_t> at(telemetry::MemoryCategory c) const {
        return bytes[static_cast<std::size_t>(c)];
    }
};

struct PipelineForecast {
    std::int64_t stages = 1;
    std::vector<std::int64_t> delays;  // epoch 1's effective D_s (GPipe: all 0)
    std::int64_t minibatches = 0;      // per epoch
    std::int64_t ticksPerEpoch = 0;
    double utilisation = 0.0;  // F and B ops / the tick model's slots (EpochForecast)
    double bubble = 0.0;
    std::int64_t stashHistoryBytes = 0;
    std::int64_t emaHistoryBytes = 0;       // EMA buffers only (the scratch Ŵ counts as weights)
    std::int64_t momentumHistoryBytes = 0;  // 0: it rebuilds Ŵ from the optimizer state
    // Delay schedules: the delays of the first epochs (at most 6; empty when static), the ticks
    // and utilisation above being epoch 1's; the history bytes are those of each stage's largest
    // delay over the run (the envelope), what the memory peaks reach.
    std::vector<std::vector<std::int64_t>> epochDelays;
    bool adaptiveDelays = false;  // epochDelays holds epoch 1's only; the rest are measured
    std::vector<UnitInfo> units;
    // The data the Session will load, as core/data resolves it ("Fashion-MNIST", "synthetic"),
    // its training images after data.trainLimit (exactImages false: the standard files' count),
    // and the model's input it implies.
    std::string dataset;
    std::int64_t trainImages = 0;
    bool exactImages = false;
    std::int64_t inChannels = 0;
    std::int64_t inSize = 0;
    std::int64_t classes = 0;
    // The layout the Session will report (unit names, stage of each unit, delays — a delay
    // schedule's envelope —, P_s, policy, schedule, delay schedule).
    telemetry::PipelineLayout layout;
    std::vector<StageForecast> stageMemory;  // per stage, for the configured policy
    std::string problem;                     // why the experiment cannot run; empty when it can
};

// Forecast of one epoch of config's pipeline. Never throws: whatever would stop the run is
// reported in `problem`, in the order the pipeline editor explains it — the data and the model
// (units stay empty), the partition and delay vector (DelayPlan's words; delays as configured,
// tick and memory fields 0), the momentum policy with an optimizer that keeps no state
// (optim::requireRewindable's words), then the rest of the config (io::validate).
PipelineForecast forecastPipeline(const io::ExperimentConfig& config);

// The same, for the CLI: InputError with `problem` when there is one.
PipelineForecast forecastOrThrow(const io::ExperimentConfig& config);

// The forecast as text for `layerpipe run --dry-run`: model, data, layout, delays, ticks,
// utilisation, bubble, and a table of bytes per stage and memory category for the configured
// policy (integers, '-' where not forecast), then the history forecast of every policy.
std::string forecastText(const io::ExperimentConfig& config, const PipelineForecast& forecast);

}  // namespace lp::core::session
