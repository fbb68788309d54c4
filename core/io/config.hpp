// The experiment document: one JSON object covering model, data, optimizer, schedule, training and
// the pipeline, read by the CLI and the GUI (DESIGN.md). Plain values; functions are reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::optim {
struct OptimizerConfig;
}  // namespace lp::core::optim

namespace lp::core::io {

// Keys are the field names below, in camelCase, grouped by section: {"name": .., "description":
// .., "model": {"width": 16}, "training": {"batchSize": 64}, ...}. Every section and key is
// optional; absent ones keep these defaults. Allowed values are listed per field; "a..b" is an
// inclusive range. Choice fields hold the enums of core/choices.hpp, whose tables are the one
// spelling of each choice in documents, `--set` overrides and messages. Numeric ranges that a
// module also checks are the module's own constants (optim::kMomentumRange, ...), so a value the
// config accepts is never refused later by the module.

struct ModelConfig {
    Arch arch = Arch::ResNet18;      // resnet10 | resnet18 | resnet34 (6, 10, 18 units)
    std::int64_t width = 64;         // 1..256 base channels (64 = the real ResNet-18)
    Stem stem = Stem::Cifar;         // cifar (3x3/1) | imagenet (7x7/2 + max-pool)
    std::int64_t inputChannels = 0;  // 0 = from the dataset, or 1..16
    std::int64_t inputSize = 0;      // 0 = from the dataset, or 8..512 (square; imagenet: 32..)
    std::int64_t classes = 0;        // 0 = from the dataset, or 2..100000
    Norm norm = Norm::Batch;         // batch | none (no BatchNorm: for checking GPipe exactly)

    bool operator==(const ModelConfig&) const = default;
};

struct DataConfig {
    DatasetKind dataset = DatasetKind::Auto;  // auto | cifar100 | cifar10 | fashion-mnist | mnist |
                                              // synthetic
    std::string path;             // folder with the dataset files; empty = the default location
    bool augment = true;          // pad-4 random crop + horizontal flip (CIFAR only)
    std::int64_t trainLimit = 0;  // 0..1e9 samples used, 0 = all
    std::int64_t testLimit = 0;   // 0..1e9, 0 = all
    std::int64_t syntheticTrain = 2048;  // 1..1e6 samples of the synthetic dataset
    std::int64_t syntheticTest = 512;    // 1..1e6

    bool operator==(const DataConfig&) const = default;
};

struct OptimizerSection {
    OptimizerKind kind = OptimizerKind::Sgd;  // sgd | adam | adamw | lamb
    double lr = 0.1;                          // (0, 10]
    double momentum = 0.9;                    // [0, 1), SGD
    double dampening = 0;                     // [0, 1], SGD
    bool nesterov = false;      // SGD; needs momentum > 0 and dampening 0 (as PyTorch)
    double weightDecay = 5e-4;  // [0, 1)
    double beta1 = 0.9;         // [0, 1), Adam/AdamW/LAMB
    double beta2 = 0.999;       // [0, 1), Adam/AdamW/LAMB
    double eps = 1e-8;          // (0, 1], Adam/AdamW/LAMB

    bool operator==(const OptimizerSection&) const = default;
};

struct ScheduleSection {
    LrScheduleKind kind = LrScheduleKind::Cosine;  // constant | step | cosine
    double warmupEpochs = 0;                       // [0, 10000], linear warm-up
    std::int64_t stepEpochs = 30;  // 1..10000, step: multiply by gamma every stepEpochs
    double gamma = 0.1;            // (0, 1]
    double minLr = 0;              // [0, 10] and at most optimizer.lr; cosine's final LR

    bool operator==(const ScheduleSection&) const = default;
};

struct TrainingConfig {
    std::int64_t epochs = 1;       // 1..10000
    std::int64_t batchSize = 128;  // 1..4096
    std::uint64_t seed = 1;        // any unsigned 64-bit integer
    std::int64_t threads = 0;      // 0..256, 0 = all cores
    std::int64_t maxSteps = 0;     // 0..1e9 minibatches, 0 = whole epochs (tests, quick runs)

    bool operator==(const TrainingConfig&) const = default;
};

struct PipelineConfig {
    // Cut points between units: cut c puts units [.., c) before it. Strictly increasing within
    // 1..units-1 (1..9 for ResNet-18). Empty = one stage. Stages K = cuts.size() + 1.
    std::vector<std::int64_t> cuts;
    // Delay D_s per stage, 0..256, non-increasing from input to output (anything else
    // deadlocks), exactly K entries. Empty = the default 2·S(s) (DESIGN.md section 4).
    std::vector<std::int64_t> delays;
    WeightPolicy policy =
        WeightPolicy::Stash;  // latest | stash | ema | momentum (SGD: momentum > 0)
    EmaBetaMode emaBeta = EmaBetaMode::Window;  // window: (D-1)/(D+1) | plain: D/(D+1) | fixed:
                                                // emaBetaValue
    double emaBetaValue = 0.9;                  // [0, 1), used when emaBeta is fixed
    ScheduleKind schedule = ScheduleKind::LayerPipe;  // layerpipe | gpipe
    std::int64_t microBatches = 4;                    // 1..1024, gpipe; at most training.batchSize
    bool diagnosticStash = false;  // ema/momentum: a shadow stash measuring ‖Ŵ − W_v‖/‖W_v‖
    bool telemetry = true;         // record op events, staleness and memory samples
    // Delay schedule (layerpipe only; docs/pipeline.md): epoch e's delays are
    // floor(c_e · base_s), base = delays (or 2·S(s)). static: c_e = 1, base itself (default) |
    // epochs: c_e = delayScales[e], epochs past the list's end keep the last | adaptive: c_0 = 1,
    // then the update-size rule with adaptiveDrift and adaptiveMinScale.
    DelayScheduleKind delaySchedule = DelayScheduleKind::Static;
    std::vector<double> delayScales{};  // each in [0, 4]; non-empty exactly when schedule is epochs
    double adaptiveDrift = 0.02;        // (0, 1]: target relative weight drift over a delay window
    double adaptiveMinScale = 0.25;     // [0, 1]: smallest scale the adaptive rule chooses

    bool operator==(const PipelineConfig&) const = default;
};

// Evaluation on the test split after every epoch (and `layerpipe eval`).
struct EvalConfig {
    // BatchNorm recalibration (issue 13; docs/pipeline.md): 0 = off. N > 0: after an epoch, also
    // evaluate with BN running statistics recomputed under the current weights over the first N
    // training minibatches (epoch 0's order), and report both results. 0..10000; at most the
    // minibatches in one pass over the training split are used. Needs model.norm = batch. Does
    // not change the training, the checkpoints or the plain test result.
    std::int64_t recalibrateBatchNorm = 0;

    bool operator==(const EvalConfig&) const = default;
};

struct ExperimentConfig {
    std::string name = "experiment";  // non-empty
    std::string description;
    ModelConfig model;
    DataConfig data;
    OptimizerSection optimizer;
    ScheduleSection schedule;
    TrainingConfig training;
    PipelineConfig pipeline;
    EvalConfig eval;

    bool operator==(const ExperimentConfig&) const = default;
};

// A top-level object under this key holds settings of the studio only (a lesson preset's
// comparison, ui/lessons.hpp): parseConfig checks that it is an object and otherwise skips it,
// so a lesson preset stays an experiment document the CLI runs; toJson does not write it.
inline constexpr std::string_view kStudioKey = "studio";

// Strict: unknown keys (with the allowed ones listed), wrong JSON types and every rule of
// validate() throw InputError naming the key path, e.g. "'optimizer.lr' must be in (0, 10], got
// -0.1". Integer fields accept integral numbers only (3 or 3.0, not 3.5). The "studio" object
// (kStudioKey) is skipped.
ExperimentConfig parseConfig(const nlohmann::json& doc);

// Parses a document's text as loadConfig does, without the file: InputError for JSON syntax
// errors (with line and column), numbers beyond double's range, duplicate keys and everything
// parseConfig rejects.
ExperimentConfig parseConfigText(std::string_view text);

// Reads and parses a file. InputError naming the file on I/O errors, JSON syntax errors (with
// line and column), duplicate keys, and everything parseConfig rejects.
ExperimentConfig loadConfig(const std::filesystem::path& path);

// Every field, so that the document records the whole experiment; parseConfig(toJson(c)) == c.
nlohmann::json toJson(const ExperimentConfig& config);

// Writes toJson(config) pretty-printed (4 spaces) and atomically. InputError on I/O failure.
void saveConfig(const std::filesystem::path& path, const ExperimentConfig& config);

// Checks every field's range or allowed values and the rules between fields (cuts within the
// architecture's units, one delay per stage, minLr <= lr, Nesterov's needs, gpipe micro-batches
// <= batch size, BN recalibration only with BatchNorm). Throws InputError with the key path.
void validate(const ExperimentConfig& config);

// The optimizer section as optim::Optimizer reads it (floats). validate() checks it with
// optim::validate; Experiment::create builds the optimizer from it.
optim::OptimizerConfig optimizerConfig(const OptimizerSection& section);

// Sets one field from text, as the CLI's `--set training.epochs=3`: keyPath is "section.key" (or
// "name", "description"). Strings are taken verbatim; every other value is read as JSON (3, 0.05,
// 1e-3, true), booleans also as 1|0 and lists also without brackets ("3,6"; "" = empty). Checks
// the key, the type and the field's own rules (range, allowed values, list order) exactly as a
// document would, and leaves config unchanged on error. The rules between fields are left to
// validate(), to be called after the last override.
void applyOverride(ExperimentConfig& config, std::string_view keyPath, std::string_view value);

}  // namespace lp::core::io
