// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/study/study_plan.hpp"

#include "core/data/cifar.hpp"
#include "core/data/dataset.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace lp::core::study {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;  // config key, value

struct Variant {
    std::string id;
    std::string label;
    Settings settings;
};

struct Preset {
    std::string description;
    Settings base;
    std::vector<Variant> variants;
    std::vector<Comparison> comparisons;
    std::string datasetNote;
};

// Cut points: K = 4 splits ResNet-18's 10 units as the README's examples (stem+layer1 | layer2 |
// layer3 | layer4+head); K = 10 is one unit per stage.
const char* cutsFor(int k) {
    return k == 4 ? "3,5,7" : "1,2,3,4,5,6,7,8,9";
}

// A pipelined variant "k<K>-<policy>". The EMA and momentum runs carry the diagnostic shadow
// stash, which measures ‖Ŵ − W_v‖/‖W_v‖ without changing the training's bits (tested in
// tests/integration/engine_test.cpp).
Variant pipelined(int k, const std::string& policy, const std::string& label) {
    Variant v{.id = "k" + std::to_string(k) + "-" + policy,
              .label = label,
              .settings = {{"pipeline.cuts", cutsFor(k)}, {"pipeline.policy", policy}}};
    if (policy == "ema" || policy == "momentum") {
        v.settings.emplace_back("pipeline.diagnosticStash", "true");
    }
    return v;
}

Variant sequential() {
    return {.id = "seq", .label = "sequential", .settings = {}};
}

// Fashion-MNIST, ResNet-18 at width 16, one epoch on a fixed slice of the training set, with the
// test top-1 also after BatchNorm recalibration (the plain one suffers from statistics gathered
// under stale weights; docs/pipeline.md).
//
// Sizing of `quick` (issue 14: at most 15 minutes on this 2-core machine, which is shared): 12800
// training images in minibatches of 64 (200 steps). Measured with a load average of 7 on the 2
// cores: 72 s for the sequential run, 94-140 s for each K = 4 run (evaluation of the 10000 test
// images and BN recalibration included), K = 10 latest diverged after 20 s; 438 s for those
// five, so about 9 minutes with the momentum run, and under 12 if K = 10 ran to the end at
// half the K = 4 speed. On an idle machine about half of that.
Settings fashionBase() {
    return {{"data.dataset", "fashion-mnist"},
            {"model.width", "16"},
            {"training.epochs", "1"},
            {"training.batchSize", "64"},
            {"data.trainLimit", "12800"},
            {"optimizer.lr", "0.05"},
            {"eval.recalibrateBatchNorm", "20"}};
}

Preset quickPreset() {
    Preset p;
    p.description =
        "Fashion-MNIST, ResNet-18 width 16, one epoch on the first 12800 training images (batch "
        "64, SGD lr 0.05 with momentum 0.9, cosine schedule): sequential training against K = 4 "
        "stages (delays 6,4,2,0) with latest weights, exact stashing, the pipeline-aware EMA and "
        "the momentum reconstruction, plus latest weights at K = 10 (delays 18,16,...,0). Sized "
        "to finish within 15 minutes on a 2-core machine.";
    p.base = fashionBase();
    p.variants = {sequential(),
                  pipelined(4, "latest", "K=4 latest"),
                  pipelined(4, "stash", "K=4 stash"),
                  pipelined(4, "ema", "K=4 EMA"),
                  pipelined(4, "momentum", "K=4 momentum"),
                  pipelined(10, "latest", "K=10 latest")};
    p.comparisons = {{"k4-stash", "seq"},
                     {"k4-ema", "seq"},
                     {"k4-momentum", "seq"},
                     {"k4-ema", "k4-stash"},
                     {"k4-momentum", "k4-stash"},
                     {"k4-latest", "seq"},
                     {"k10-latest", "seq"}};
    return p;
}

// CIFAR-100 from the data folder, or Fashion-MNIST when it holds none (said in the report).
void paperData(Preset& p, const std::string& dataPath) {
    std::string folder = dataPath;
    if (folder.empty()) {
        // getenv is not thread-safe against setenv; nothing in core calls setenv.
        // NOLINTNEXTLINE(concurrency-mt-unsafe)
        if (const char* env = std::getenv(std::string(data::kDataEnvVar).c_str())) {
            folder = env;
        }
    }
    if (!folder.empty() && data::findCifar100(folder)) {
        p.base.emplace_back("data.dataset", "cifar100");
        return;
    }
    p.base.emplace_back("data.dataset", "fashion-mnist");
    p.datasetNote = folder.empty() ? "CIFAR-100 was not given (no --data-path, no LAYERPIPE_DATA); "
                                     "Fashion-MNIST replaced it"
                                   : "CIFAR-100 was not found in " + folder +
                                         " (train.bin, test.bin); Fashion-MNIST replaced it";
}

Preset paperPreset(const std::string& dataPath) {
    Preset p;
    p.description =
        "LayerPipe2's claim on its own ground: ResNet-18 at full width (64) on CIFAR-100, 30 "
        "epochs (batch 128, SGD lr 0.1 with momentum 0.9 and weight decay 5e-4, cosine schedule), "
        "K = 4 and K = 10 stages with latest, stash, EMA and momentum weights, against sequential "
        "training and GPipe (K = 4, 4 micro-batches). Test top-1 is reported with and without "
        "BatchNorm recalibration (50 training batches). Days on a small machine: see "
        "docs/study.md for the budget; --set model.width=16 and --set training.epochs=N shrink it.";
    p.base = {{"model.width", "64"},
              {"training.epochs", "30"},
              {"training.batchSize", "128"},
              {"optimizer.lr", "0.1"},
              {"eval.recalibrateBatchNorm", "50"}};
    paperData(p, dataPath);
    p.variants = {sequential(),
                  {.id = "gpipe",
                   .label = "GPipe K=4 M=4",
                   .settings = {{"pipeline.cuts", cutsFor(4)},
                                {"pipeline.schedule", "gpipe"},
                                {"pipeline.microBatches", "4"}}}};
    for (const int k : {4, 10}) {
        const std::string kk = "K=" + std::to_string(k) + " ";
        for (const auto& [policy, name] : {std::pair{"latest", "latest"},
                                           {"stash", "stash"},
                                           {"ema", "EMA"},
                                           {"momentum", "momentum"}}) {
            p.variants.push_back(pipelined(k, policy, kk + name));
        }
        const std::string pre = "k" + std::to_string(k) + "-";
        p.comparisons.push_back({pre + "stash", "seq"});
        p.comparisons.push_back({pre + "ema", pre + "stash"});
        p.comparisons.push_back({pre + "momentum", pre + "stash"});
        p.comparisons.push_back({pre + "latest", pre + "stash"});
    }
    p.comparisons.push_back({"gpipe", "seq"});
    return p;
}

// Each optimizer with the settings it is usually run with; the same for every policy.
Preset optimizersPreset() {
    Preset p;
    p.description =
        "Open question 1: does the EMA reconstruction work with adaptive optimizers? SGD "
        "(lr 0.05, momentum 0.9), Adam (lr 1e-3, L2 5e-4), AdamW (lr 1e-3, decoupled decay "
        "0.05) and LAMB (lr 5e-3, decay 0.01) at K = 4 with stash, EMA and latest weights, on "
        "the quick preset's data and model (Fashion-MNIST, width 16, one epoch of 12800 "
        "images).";
    p.base = fashionBase();
    const std::vector<std::pair<std::string, Settings>> optimizers = {
        {"sgd", {{"optimizer.kind", "sgd"}, {"optimizer.lr", "0.05"}}},
        {"adam", {{"optimizer.kind", "adam"}, {"optimizer.lr", "0.001"}}},
        {"adamw",
         {{"optimizer.kind", "adamw"},
          {"optimizer.lr", "0.001"},
          {"optimizer.weightDecay", "0.05"}}},
        {"lamb",
         {{"optimizer.kind", "lamb"},
          {"optimizer.lr", "0.005"},
          {"optimizer.weightDecay", "0.01"}}},
    };
    for (const auto& [name, settings] : optimizers) {
        for (const auto& [policy, label] :
             {std::pair{"stash", "stash"}, {"ema", "EMA"}, {"latest", "latest"}}) {
            Variant v = pipelined(4, policy, name + " " + label);
            v.id = name + "-" + policy;
            v.settings.insert(v.settings.end(), settings.begin(), settings.end());
            p.variants.push_back(std::move(v));
        }
        p.comparisons.push_back({name + "-ema", name + "-stash"});
        p.comparisons.push_back({name + "-latest", name + "-stash"});
    }
    return p;
}

// Open question 3: delay against bubble against staleness against accuracy, K = 4 with exact
// stashing (so that only the staleness differs), three epochs so that schedules can change.
Preset delaysPreset() {
    Preset p;
    p.description =
        "Open question 3: the trade-off between delay, bubble, staleness and accuracy. K = 4 "
        "stages with exact stashing (only the staleness differs between runs), Fashion-MNIST "
        "width 16, three epochs of 6400 images: static delays c·2S(s) for c = 0 (sequential "
        "semantics, the most bubble), 0.25, 0.5 and 1 (LayerPipe2's full pipeline); per-epoch "
        "schedules 1 → 0.5 → 0.25 (shrink the staleness as training settles) and 0.25 → 0.5 → 1; "
        "and the adaptive rule (docs/pipeline.md).";
    p.base = fashionBase();
    p.base.emplace_back("training.epochs", "3");
    p.base.emplace_back("data.trainLimit", "6400");
    const auto staticScale = [](const std::string& id, const std::string& c) {
        Variant v = pipelined(4, "stash", "c=" + c);
        v.id = id;
        v.settings.emplace_back("pipeline.delaySchedule", "epochs");
        v.settings.emplace_back("pipeline.delayScales", c);
        return v;
    };
    p.variants = {staticScale("c0", "0"),
                  staticScale("c0.25", "0.25"),
                  staticScale("c0.5", "0.5"),
                  staticScale("c1", "1")};
    Variant down = staticScale("down", "1,0.5,0.25");
    down.label = "epochs 1/0.5/0.25";
    Variant up = staticScale("up", "0.25,0.5,1");
    up.label = "epochs 0.25/0.5/1";
    Variant adaptive = pipelined(4, "stash", "adaptive");
    adaptive.id = "adaptive";
    adaptive.settings.emplace_back("pipeline.delaySchedule", "adaptive");
    p.variants.push_back(std::move(down));
    p.variants.push_back(std::move(up));
    p.variants.push_back(std::move(adaptive));
    p.comparisons = {{"c0.25", "c0"},
                     {"c0.5", "c0"},
                     {"c1", "c0"},
                     {"down", "c1"},
                     {"up", "c1"},
                     {"adaptive", "c1"}};
    return p;
}

Preset presetByName(const std::string& name, const std::string& dataPath) {
    if (name == "quick") {
        return quickPreset();
    }
    if (name == "paper") {
        return paperPreset(dataPath);
    }
    if (name == "optimizers") {
        return optimizersPreset();
    }
    if (name == "delays") {
        return delaysPreset();
    }
    std::string allowed;
    for (const std::string_view n : presetNames()) {
        allowed += (allowed.empty() ? "" : ", ") + std::string(n);
    }
    throw InputError("--preset must be one of " + allowed + ", got '" + name + "'");
}

// Keeps the variants named in `only` (all when empty), in the preset's order.
void select(Preset& p, const std::string& name, const std::vector<std::string>& only) {
    if (only.empty()) {
        return;
    }
    std::string ids;
    for (const Variant& v : p.variants) {
        ids += (ids.empty() ? "" : ", ") + v.id;
    }
    for (const std::string& id : only) {
        if (std::none_of(p.variants.begin(), p.variants.end(), [&](const Variant& v) {
                return v.id == id;
            })) {
            throw InputError(
                concat("--runs: '", id, "' is not a run of preset ", name, "; its runs are ", ids));
        }
    }
    std::erase_if(p.variants, [&](const Variant& v) {
        return std::find(only.begin(), only.end(), v.id) == only.end();
    });
}

void apply(io::ExperimentConfig& c,
           const std::string& key,
           const std::string& value,
           const std::string& runId) {
    try {
        io::applyOverride(c, key, value);
    } catch (const InputError& e) {
        throw InputError("study run " + runId + ": " + e.what());
    }
}

}  // namespace

const std::vector<std::string_view>& presetNames() {
    static const std::vector<std::string_view> kNames = {"quick", "paper", "optimizers", "delays"};
    return kNames;
}

StudyPlan planStudy(const StudyOptions& o) {
    Preset preset = presetByName(o.preset, o.dataPath);
    select(preset, o.preset, o.only);
    if (o.seeds < 1 || o.seeds > 100) {
        throw InputError("--seeds must be in [1, 100], got " + std::to_string(o.seeds));
    }
    for (const std::string& kv : o.sets) {
        if (kv.find('=') == std::string::npos) {
            throw InputError("--set expects key=value, got '" + kv + "'");
        }
    }
    StudyPlan plan{.preset = o.preset,
                   .description = preset.description,
                   .runs = {},
                   .comparisons = preset.comparisons,
                   .sets = o.sets,
                   .only = o.only,
                   .datasetNote = preset.datasetNote};
    for (std::int64_t seed = 1; seed <= o.seeds; ++seed) {
        for (const Variant& v : preset.variants) {
            StudyRun run{.id = v.id + "-s" + std::to_string(seed),
                         .variant = v.id,
                         .label = v.label,
                         .config = {}};
            io::ExperimentConfig& c = run.config;
            c.name = "study " + o.preset + ": " + v.label + " (seed " + std::to_string(seed) + ")";
            for (const auto& [key, value] : preset.base) {
                apply(c, key, value, run.id);
            }
            for (const auto& [key, value] : v.settings) {
                apply(c, key, value, run.id);
            }
            c.data.path = o.dataPath;
            c.training.seed = static_cast<std::uint64_t>(seed);
            apply(c, "training.threads", std::to_string(o.threads), run.id);
            for (const std::string& kv : o.sets) {
                const auto eq = kv.find('=');
                apply(c, kv.substr(0, eq), kv.substr(eq + 1), run.id);
            }
            try {
                io::validate(c);
            } catch (const InputError& e) {
                throw InputError("study run " + run.id + ": " + e.what());
            }
            plan.runs.push_back(std::move(run));
        }
    }
    // A --set of data.dataset overrides the preset's replacement too: say it only when true.
    if (std::none_of(plan.runs.begin(), plan.runs.end(), [](const StudyRun& r) {
            return r.config.data.dataset == DatasetKind::FashionMnist;
        })) {
        plan.datasetNote.clear();
    }
    return plan;
}

}  // namespace lp::core::study
