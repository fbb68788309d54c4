// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/model_forecast.hpp"

#include "core/optim/rewind.hpp"
#include "core/pipeline/delay_schedule.hpp"
#include "core/pipeline/plan.hpp"
#include "core/telemetry/exporters.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

namespace lp::ui {

namespace {

struct DatasetShape {
    std::int64_t channels = 3;
    std::int64_t classes = 10;
    std::int64_t trainCount = 50'000;
};

constexpr DatasetShape kMnistShape{.channels = 1, .classes = 10, .trainCount = 60'000};
constexpr DatasetShape kCifar100Shape{.channels = 3, .classes = 100, .trainCount = 50'000};
constexpr DatasetShape kCifar10Shape{.channels = 3, .classes = 10, .trainCount = 50'000};

// The shape of the dataset core/data would load for config. "auto" without a folder picks
// Fashion-MNIST when Debian's package is installed, else the synthetic set; with a folder it is
// most likely CIFAR-100 (only an estimate: the folder's content decides at load time).
DatasetShape datasetShape(const core::io::ExperimentConfig& config) {
    // Lower case without '-' and '_', as core/data's parser accepts ("Fashion_MNIST").
    std::string name;
    for (const char c : config.data.dataset) {
        if (c != '-' && c != '_') {
            name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        }
    }
    if (name == "auto" && !config.data.path.empty()) {
        return kCifar100Shape;
    }
    if (name == "auto") {
        std::error_code ec;
        if (std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
                                    ec)) {
            return kMnistShape;
        }
    }
    if (name == "fashionmnist" || name == "mnist") {
        return kMnistShape;
    }
    if (name == "cifar100") {
        return kCifar100Shape;
    }
    if (name == "cifar10") {
        return kCifar10Shape;
    }
    // Synthetic: core/session builds it with the model's channels and classes, 3 and 10 by default.
    return {.channels = config.model.inputChannels > 0 ? config.model.inputChannels : 3,
            .classes = config.model.classes > 0 ? config.model.classes : 10,
            .trainCount = config.data.syntheticTrain};
}

std::vector<std::int64_t> blocksOf(const std::string& arch) {
    if (arch == "resnet10") {
        return {1, 1, 1, 1};
    }
    if (arch == "resnet34") {
        return {3, 4, 6, 3};
    }
    return {2, 2, 2, 2};
}

}  // namespace

std::vector<UnitInfo> resnetUnits(const std::vector<std::int64_t>& blocks,
                                  bool imagenetStem,
                                  std::int64_t width,
                                  std::int64_t inChannels,
                                  std::int64_t classes) {
    std::vector<UnitInfo> units;
    const std::int64_t k = imagenetStem ? 7 : 3;
    units.push_back({"stem", inChannels * width * k * k + 2 * width});
    std::int64_t in = width;
    std::int64_t channels = width;
    for (std::size_t stage = 0; stage < blocks.size(); ++stage) {
        for (std::int64_t b = 0; b < blocks[stage]; ++b) {
            const bool strided = stage > 0 && b == 0;
            std::int64_t p =
                9 * in * channels + 2 * channels + 9 * channels * channels + 2 * channels;
            if (strided || in != channels) {
                p += in * channels + 2 * channels;  // 1x1 conv + BN shortcut
            }
            std::string name = "layer";
            name += std::to_string(stage + 1);
            name += '.';
            name += std::to_string(b);
            units.push_back({std::move(name), p});
            in = channels;
        }
        channels *= 2;
    }
    units.push_back({"head", in * classes + classes});
    return units;
}

std::vector<UnitInfo> resnetUnits(const core::io::ExperimentConfig& config) {
    const DatasetShape shape = datasetShape(config);
    const std::int64_t channels =
        config.model.inputChannels > 0 ? config.model.inputChannels : shape.channels;
    const std::int64_t classes = config.model.classes > 0 ? config.model.classes : shape.classes;
    return resnetUnits(blocksOf(config.model.arch),
                       config.model.stem == "imagenet",
                       std::max<std::int64_t>(config.model.width, 1),
                       channels,
                       classes);
}

std::int64_t estimatedStepsPerEpoch(const core::io::ExperimentConfig& config) {
    std::int64_t count = datasetShape(config).trainCount;
    if (config.data.trainLimit > 0) {
        count = std::min(count, config.data.trainLimit);
    }
    std::int64_t steps = count / std::max<std::int64_t>(config.training.batchSize, 1);
    if (config.training.maxSteps > 0) {
        steps = std::min(steps, config.training.maxSteps);
    }
    return steps;
}

namespace {

// Delay schedules: checks the schedule's keys (the config's own rules, InputError), fills
// f.epochDelays and sets f.delays to epoch 1's; returns the envelope that sizes the history.
std::vector<std::int64_t> forecastSchedule(const core::io::ExperimentConfig& config,
                                           PipelineForecast& f) {
    const core::io::PipelineConfig& p = config.pipeline;
    if (p.delaySchedule == "static" && p.delayScales.empty()) {
        return f.delays;
    }
    core::io::validate(config);
    const auto kind = core::pipeline::parseDelayScheduleKind(p.delaySchedule);
    const core::pipeline::DelaySchedule schedule(
        {.kind = kind.value_or(core::pipeline::DelayScheduleKind::Static),
         .scales = p.delayScales,
         .adaptiveDrift = p.adaptiveDrift,
         .adaptiveMinScale = p.adaptiveMinScale},
        f.delays);
    const std::int64_t epochs = config.training.epochs;
    f.adaptiveDelays = p.delaySchedule == "adaptive";
    for (std::int64_t e = 0; e < std::min<std::int64_t>(epochs, 6); ++e) {
        const std::optional<double> c = schedule.plannedScale(e);
        if (!c && e > 0) {
            break;  // adaptive: decided while it runs
        }
        f.epochDelays.push_back(schedule.delaysAt(c.value_or(schedule.firstScale())));
    }
    f.delays = f.epochDelays.front();
    return schedule.envelope(epochs);
}

}  // namespace

PipelineForecast forecastPipeline(const core::io::ExperimentConfig& config) {
    PipelineForecast f;
    const core::io::PipelineConfig& p = config.pipeline;
    const std::vector<UnitInfo> units = resnetUnits(config);
    const auto unitCount = static_cast<std::int64_t>(units.size());
    f.stages = static_cast<std::int64_t>(p.cuts.size()) + 1;
    f.minibatches = estimatedStepsPerEpoch(config);
    try {
        const core::pipeline::Partition partition(unitCount, p.cuts);
        const bool gpipe = p.schedule == "gpipe";
        if (gpipe) {
            f.delays.assign(static_cast<std::size_t>(f.stages), 0);
            if (p.microBatches < 1 || p.microBatches > config.training.batchSize) {
                // Appended piecewise: GCC 12 reports a false -Wrestrict on "literal" + string.
                f.problem = "GPipe splits each minibatch into micro-batches: M must be in [1, ";
                f.problem += std::to_string(config.training.batchSize);
                f.problem += "] (the batch size), got ";
                f.problem += std::to_string(p.microBatches);
                return f;
            }
        } else if (p.delays.empty()) {
            f.delays = core::pipeline::DelayPlan::layerPipeDefault(f.stages).delays();
        } else {
            f.problem = core::pipeline::DelayPlan::whyIllegal(f.stages, p.delays);
            f.delays = p.delays;
            if (!f.problem.empty()) {
                return f;
            }
        }
        core::telemetry::PipelineLayout layout;
        layout.delays = forecastSchedule(config, f);
        layout.stageParams.assign(static_cast<std::size_t>(f.stages), 0);
        for (std::int64_t u = 0; u < unitCount; ++u) {
            layout.stageParams[static_cast<std::size_t>(partition.stageOfUnit(u))] +=
                units[static_cast<std::size_t>(u)].params;
        }
        f.stashHistoryBytes = core::telemetry::stashHistoryBytes(layout);
        f.emaHistoryBytes = core::telemetry::emaHistoryBytes(layout);
        layout.policy = "momentum";
        f.momentumHistoryBytes = core::telemetry::historyForecastBytes(layout);
        if (p.policy == "momentum") {
            const auto kind = core::optim::parseOptimizerKind(config.optimizer.kind);
            core::optim::requireRewindable(
                {.kind = kind.value_or(core::optim::OptimizerKind::Sgd),
                 .momentum = static_cast<float>(config.optimizer.momentum)});
        }
        if (f.minibatches <= 0) {
            return f;
        }
        if (gpipe) {
            const std::int64_t m = std::max<std::int64_t>(p.microBatches, 1);
            f.ticksPerEpoch = f.minibatches * 2 * (m + f.stages - 1);
            f.utilisation = static_cast<double>(m) / static_cast<double>(m + f.stages - 1);
        } else {
            const core::pipeline::TickSchedule ticks = core::pipeline::simulateTicks(
                core::pipeline::DelayPlan::custom(f.stages, f.delays), f.minibatches);
            f.ticksPerEpoch = ticks.tickCount();
            f.utilisation = ticks.utilisation(f.stages);
        }
    } catch (const std::exception& e) {
        // Partition and DelayPlan explain bad cuts; nothing may escape into a slot.
        f.problem = e.what();
    }
    return f;
}

}  // namespace lp::ui
