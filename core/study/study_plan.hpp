// Study presets (`layerpipe study --preset ...`, docs/study.md): a grid of runs with the same
// model, seed and data order that differ only in pipeline or optimizer settings. Plain values;
// functions are reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::study {

// One run of a study. id: "<variant>-s<seed>" (letters, digits, '-', '.'), also its folder name
// under runs/; variant: the id without the seed; label: what the report calls it.
struct StudyRun {
    std::string id;
    std::string variant;
    std::string label;
    io::ExperimentConfig config;
};

// Two variants the report compares, with the question the comparison answers.
struct Comparison {
    std::string variant;   // compared ...
    std::string baseline;  // ... against this one
};

// What the command line asks for.
struct StudyOptions {
    std::string preset;             // one of presetNames()
    std::string dataPath;           // --data-path; empty: the presets' defaults
    std::int64_t seeds = 1;         // 1..100: every run repeated with seeds 1..seeds
    std::int64_t threads = 0;       // training.threads of every run (0 = all cores)
    std::vector<std::string> sets;  // "key=value", applied to every run after the preset
    // Variant ids (run ids without the seed, e.g. "k4-ema") to keep; empty = the whole preset.
    // A study of a subset is a study of its own: its folder refuses another selection.
    std::vector<std::string> only;
};

struct StudyPlan {
    std::string preset;
    std::string description;  // one paragraph: what the preset asks and how it was sized
    std::vector<StudyRun> runs;
    std::vector<Comparison> comparisons;
    std::vector<std::string> sets;  // the options' --set overrides, which the description
                                    // does not know of
    std::vector<std::string> only;  // the options' --runs selection
    // Set when the preset's data set was replaced, e.g. "CIFAR-100 was not found in <path>
    // (train.bin, test.bin); Fashion-MNIST replaced it".
    std::string datasetNote;
};

// "quick", "paper", "optimizers", "delays".
const std::vector<std::string_view>& presetNames();

// The runs of a preset with the options applied: preset settings, then data.path (dataPath),
// training.seed, training.threads, then every --set in order; each config validated. InputError
// for an unknown preset (listing the allowed ones), seeds out of range, an `only` id that is not
// one of the preset's (listing them), a malformed --set or a config that does not validate
// (naming the run).
StudyPlan planStudy(const StudyOptions& options);

}  // namespace lp::core::study
