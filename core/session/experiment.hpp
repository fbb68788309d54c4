// Experiment: an experiment document resolved into what a Trainer runs — data, model spec,
// pipeline spec, delay schedule, LR schedule, steps per epoch — with InputError for anything
// inconsistent; or, for the forecast, the same from the data's outline without loading it.
// Plain values; every function is reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/data/dataset.hpp"
#include "core/io/config.hpp"
#include "core/model/resnet.hpp"
#include "core/optim/lr_schedule.hpp"
#include "core/pipeline/delay_schedule.hpp"
#include "core/pipeline/spec.hpp"

#include <cstdint>

namespace lp::core::session {

// The resolved pieces of an experiment (InputError for anything inconsistent).
struct Experiment {
    io::ExperimentConfig config;
    data::DatasetPair data;
    model::ResNetSpec modelSpec;
    // With a delay schedule, pipeline.delays is the schedule's envelope (each stage's largest
    // delay over the run) and the Trainer sets each epoch's delays; static: as configured.
    pipeline::PipelineSpec pipeline;
    pipeline::DelaySchedule delaySchedule;
    optim::LrScheduleConfig lrSchedule;
    std::int64_t stepsPerEpoch = 0;
    std::int64_t testBatches = 0;

    // Loads the data and resolves the model's input and class counts from it. sequential = true
    // forces one stage with no delay (layerpipe train).
    static Experiment create(const io::ExperimentConfig& config, bool sequential);
    // create() without loading anything: every part resolved from the training data's outline
    // (`data` stays empty), for a config io::validate accepts (create() checks that first). The
    // forecast's way to the same model, pipeline, delay schedule and steps per epoch.
    static Experiment fromOutline(const io::ExperimentConfig& config,
                                  bool sequential,
                                  const data::DatasetOutline& train);
    // Part of create(): the delay schedule from pipeline.delaySchedule and its keys (static when
    // sequential or GPipe), and pipeline.delays as its envelope (trainer_delays.cpp).
    void resolveDelaySchedule(bool sequential, std::int64_t stages);
};

// The dataset the config names (data.dataset, data.path or LAYERPIPE_DATA; the synthetic set
// shaped by the model section, sized by data.synthetic*, seeded by training.seed).
data::DataSource dataSourceOf(const io::ExperimentConfig& config);
// What create() would load for config, without reading any pixels (data::outlineDataset), cut to
// data.trainLimit and data.testLimit. InputError for an unknown dataset or a bad data folder.
data::DatasetOutline outlineOf(const io::ExperimentConfig& config);
// The optimizer section as optim's config, checked by optim::validate (InputError).
optim::OptimizerConfig optimizerOf(const io::OptimizerSection& optimizer);
// The model for training data of this outline: input channels and size from the data where the
// config has 0, classes likewise; InputError when they disagree or the model is invalid.
model::ResNetSpec modelSpecOf(const io::ExperimentConfig& config,
                              const data::DatasetOutline& train);

}  // namespace lp::core::session
