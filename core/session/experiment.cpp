// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/experiment.hpp"

#include "core/error.hpp"
#include "core/pipeline/plan.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace lp::core::session {

namespace {

// The first `limit` samples of a split (0 = all).
void truncate(data::Dataset& d, std::int64_t limit) {
    if (limit <= 0 || limit >= d.count()) {
        return;
    }
    d.pixels.resize(static_cast<std::size_t>(limit * d.pixelsPerSample()));
    d.labels.resize(static_cast<std::size_t>(limit));
    if (!d.coarseLabels.empty()) {
        d.coarseLabels.resize(static_cast<std::size_t>(limit));
    }
}

// The outline cut to data.trainLimit and data.testLimit (0: no limit), as truncate() cuts data.
data::DatasetOutline limitedOutline(data::DatasetOutline outline, const io::DataConfig& data) {
    if (data.trainLimit > 0) {
        outline.trainCount = std::min(outline.trainCount, data.trainLimit);
    }
    if (data.testLimit > 0) {
        outline.testCount = std::min(outline.testCount, data.testLimit);
    }
    return outline;
}

}  // namespace

data::DataSource dataSourceOf(const io::ExperimentConfig& config) {
    const io::ModelConfig& mc = config.model;
    data::DataSource src;
    src.kind = config.data.dataset;
    src.path = config.data.path;
    src.synthetic = {.channels = mc.inputChannels > 0 ? mc.inputChannels : 3,
                     .height = mc.inputSize > 0 ? mc.inputSize : 32,
                     .width = mc.inputSize > 0 ? mc.inputSize : 32,
                     .classes = mc.classes > 0 ? mc.classes : 10,
                     .trainCount = config.data.syntheticTrain,
                     .testCount = config.data.syntheticTest,
                     .seed = config.training.seed};
    return src;
}

data::DatasetOutline outlineOf(const io::ExperimentConfig& config) {
    return limitedOutline(data::outlineDataset(dataSourceOf(config)), config.data);
}

optim::OptimizerConfig optimizerOf(const io::OptimizerSection& o) {
    const optim::OptimizerConfig opt = io::optimizerConfig(o);
    optim::validate(opt);
    return opt;
}

model::ResNetSpec modelSpecOf(const io::ExperimentConfig& config,
                              const data::DatasetOutline& train) {
    const io::ModelConfig& mc = config.model;
    auto fromData = [](std::int64_t configured, std::int64_t actual, const char* key) {
        if (configured != 0 && configured != actual) {
            throw InputError(concat("'",
                                    key,
                                    "' is ",
                                    configured,
                                    " but the dataset has ",
                                    actual,
                                    "; set it to 0 to take it from the dataset"));
        }
        return actual;
    };
    model::ResNetSpec spec = {
        .width = mc.width,
        .inChannels = fromData(mc.inputChannels, train.channels, "model.inputChannels"),
        .inSize = fromData(mc.inputSize, train.size, "model.inputSize"),
        .classes = mc.classes != 0 ? mc.classes : train.classes,
        .stem = mc.stem,
        .blocks = model::blocksOf(mc.arch),
        .batchNorm = mc.norm == Norm::Batch};
    if (spec.classes < train.classes) {
        throw InputError(concat("'model.classes' is ",
                                spec.classes,
                                " but the dataset has ",
                                train.classes,
                                " classes"));
    }
    model::validate(spec);
    return spec;
}

Experiment Experiment::create(const io::ExperimentConfig& config, bool sequential) {
    io::validate(config);
    data::DatasetPair pair = data::loadDataset(dataSourceOf(config));
    if (pair.train.height != pair.train.width) {
        throw InputError(concat("the model needs square images, the dataset has ",
                                pair.train.height,
                                "x",
                                pair.train.width));
    }
    const data::DatasetOutline outline = limitedOutline(data::outlineOf(pair), config.data);
    truncate(pair.train, outline.trainCount);
    truncate(pair.test, outline.testCount);
    Experiment e = fromOutline(config, sequential, outline);
    e.data = std::move(pair);
    return e;
}

Experiment Experiment::fromOutline(const io::ExperimentConfig& config,
                                   bool sequential,
                                   const data::DatasetOutline& train) {
    Experiment e;
    e.config = config;
    e.modelSpec = modelSpecOf(config, train);

    const io::OptimizerSection& o = config.optimizer;
    const optim::OptimizerConfig opt = optimizerOf(o);

    const io::PipelineConfig& p = config.pipeline;
    e.pipeline = {.cuts = sequential ? std::vector<std::int64_t>{} : p.cuts,
                  .delays = sequential ? std::vector<std::int64_t>{} : p.delays,
                  .policy = p.policy,
                  .betaMode = p.emaBeta,
                  .fixedBeta = static_cast<float>(p.emaBetaValue),
                  .diagnostic = p.diagnosticStash,
                  .schedule = sequential ? ScheduleKind::LayerPipe : p.schedule,
                  .microBatches = p.microBatches,
                  .optimizer = opt};
    // Validate the partition and delays now, with the unit count known.
    const pipeline::Partition part(
        static_cast<std::int64_t>(model::ResNet(e.modelSpec).unitCount()), e.pipeline.cuts);
    if (!e.pipeline.delays.empty()) {
        static_cast<void>(pipeline::DelayPlan::custom(part.stageCount(), e.pipeline.delays));
    }
    e.resolveDelaySchedule(sequential, part.stageCount());

    const std::int64_t bs = config.training.batchSize;
    if (bs > train.trainCount) {
        throw InputError(concat("'training.batchSize' is ",
                                bs,
                                " but the training split has only ",
                                train.trainCount,
                                " samples"));
    }
    e.stepsPerEpoch = train.trainCount / bs;
    if (config.training.maxSteps > 0) {
        e.stepsPerEpoch = std::min(e.stepsPerEpoch, config.training.maxSteps);
    }
    e.testBatches = (train.testCount + bs - 1) / bs;

    const io::ScheduleSection& sc = config.schedule;
    const std::int64_t total = e.stepsPerEpoch * config.training.epochs;
    e.lrSchedule = {.kind = sc.kind,
                    .baseLr = static_cast<float>(o.lr),
                    .warmupSteps = static_cast<std::int64_t>(
                        std::llround(sc.warmupEpochs * static_cast<double>(e.stepsPerEpoch))),
                    .stepSize = std::max<std::int64_t>(1, sc.stepEpochs * e.stepsPerEpoch),
                    .gamma = static_cast<float>(sc.gamma),
                    .totalSteps = std::max<std::int64_t>(1, total),
                    .minLr = static_cast<float>(sc.minLr)};
    // Stated in the config's own keys (optim::validate would name its internal fields).
    if (e.lrSchedule.kind == optim::LrScheduleKind::Cosine &&
        e.lrSchedule.totalSteps <= e.lrSchedule.warmupSteps) {
        throw InputError(concat("'schedule.warmupEpochs' (",
                                sc.warmupEpochs,
                                " epochs = ",
                                e.lrSchedule.warmupSteps,
                                " steps) must be shorter than the run with the cosine schedule (",
                                "training.epochs ",
                                config.training.epochs,
                                " x ",
                                e.stepsPerEpoch,
                                " steps per epoch = ",
                                total,
                                " steps)"));
    }
    optim::validate(e.lrSchedule);
    return e;
}

}  // namespace lp::core::session
