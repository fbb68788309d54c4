// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/forecast.hpp"

#include "core/error.hpp"
#include "core/model/resnet.hpp"
#include "core/optim/optimizer.hpp"
#include "core/optim/rewind.hpp"
#include "core/pipeline/epoch_plan.hpp"
#include "core/pipeline/plan.hpp"
#include "core/pipeline/runner.hpp"
#include "core/session/experiment.hpp"
#include "core/telemetry/exporters.hpp"
#include "core/telemetry/summary.hpp"

#include <algorithm>
#include <exception>
#include <locale>
#include <sstream>
#include <utility>

namespace lp::core::session {

namespace {

constexpr std::int64_t kFloatBytes = 4;
constexpr std::int64_t kShownEpochs = 6;  // delay schedules: the epochs the forecast lists

std::vector<UnitInfo> unitsOf(const model::ResNet& net) {
    std::vector<UnitInfo> units;
    for (std::size_t u = 0; u < net.unitCount(); ++u) {
        const model::Unit& unit = net.unit(u);
        units.push_back({.name = unit.name(),
                         .params = static_cast<std::int64_t>(unit.weightCount()),
                         .buffers = static_cast<std::int64_t>(unit.bufferCount()),
                         .outputFloats = unit.outputShape().numel()});
    }
    return units;
}

// A one-stage layout, so that one stage's history takes the section-5 formulas of telemetry.
telemetry::PipelineLayout oneStage(std::int64_t delay, std::int64_t params, std::string policy) {
    telemetry::PipelineLayout l;
    l.delays = {delay};
    l.stageParams = {params};
    l.policy = std::move(policy);
    return l;
}

// Stage s's bytes per category as pipeline::Stage allocates them (see StageForecast).
StageForecast stageForecast(const pipeline::PipelineSpec& spec,
                            const telemetry::PipelineLayout& layout,
                            const std::vector<UnitInfo>& units,
                            std::int64_t s,
                            std::int64_t inFlight) {
    using telemetry::MemoryCategory;
    StageForecast f;
    for (std::size_t u = 0; u < units.size(); ++u) {
        if (layout.stageOfUnit[u] == s) {
            f.params += units[u].params;
            f.buffers += units[u].buffers;
        }
    }
    f.delay = layout.delays[static_cast<std::size_t>(s)];
    f.inFlight = inFlight;
    const bool reconstructs = f.delay > 0 && (spec.policy == pipeline::WeightPolicy::Ema ||
                                              spec.policy == pipeline::WeightPolicy::Momentum);
    const std::int64_t scratch = reconstructs || spec.measureUpdates ? f.params : 0;
    const telemetry::PipelineLayout one = oneStage(f.delay, f.params, layout.policy);
    const auto state =
        optim::Optimizer(spec.optimizer).stateSize(static_cast<std::size_t>(f.params));
    auto set = [&f](MemoryCategory c, std::int64_t bytes) {
        f.bytes[static_cast<std::size_t>(c)] = bytes;
    };
    set(MemoryCategory::Weights, kFloatBytes * (2 * f.params + f.buffers + scratch));
    set(MemoryCategory::WeightHistory, telemetry::historyForecastBytes(one));
    set(MemoryCategory::OptimizerState, kFloatBytes * static_cast<std::int64_t>(state));
    set(MemoryCategory::DiagnosticShadow,
        reconstructs && spec.diagnostic ? telemetry::stashHistoryBytes(one) : 0);
    return f;
}

// Delay schedules: the delays of the first epochs (those planned before the run).
void forecastSchedule(const Experiment& e, PipelineForecast& f) {
    const pipeline::DelaySchedule& schedule = e.delaySchedule;
    if (schedule.isStatic()) {
        return;
    }
    f.adaptiveDelays = schedule.spec().kind == pipeline::DelayScheduleKind::Adaptive;
    const std::int64_t epochs = std::min(e.config.training.epochs, kShownEpochs);
    for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
        const std::optional<double> c = schedule.plannedScale(epoch);
        if (!c && epoch > 0) {
            break;  // adaptive: decided while it runs
        }
        f.epochDelays.push_back(schedule.delaysAt(c.value_or(schedule.firstScale())));
    }
}

// Everything after the units: the pipeline as Experiment resolves it, its checks, the plan.
void forecastRun(const io::ExperimentConfig& config,
                 const data::DatasetOutline& outline,
                 PipelineForecast& f) {
    // The pipeline's own checks first, in their owners' words (this is what the editor edits),
    // then the whole config as create() checks it.
    const io::PipelineConfig& p = config.pipeline;
    f.delays = p.delays;
    const pipeline::Partition partition(static_cast<std::int64_t>(f.units.size()), p.cuts);
    if (!p.delays.empty() && p.schedule != ScheduleKind::GPipe) {
        static_cast<void>(pipeline::DelayPlan::custom(f.stages, p.delays));
    }
    if (p.policy == WeightPolicy::Momentum) {
        optim::requireRewindable(optimizerOf(config.optimizer));
    }
    io::validate(config);
    const Experiment e = Experiment::fromOutline(config, false, outline);
    const pipeline::PipelineSpec& spec = e.pipeline;
    const bool gpipe = spec.schedule == pipeline::ScheduleKind::GPipe;
    const auto zeros = std::vector<std::int64_t>(static_cast<std::size_t>(f.stages), 0);
    f.delays = gpipe ? zeros : e.delaySchedule.delaysAt(e.delaySchedule.firstScale());
    forecastSchedule(e, f);

    telemetry::PipelineLayout& l = f.layout;
    l.delays = gpipe ? zeros : e.delaySchedule.envelope(config.training.epochs);
    l.stageParams.assign(static_cast<std::size_t>(f.stages), 0);
    for (std::size_t u = 0; u < f.units.size(); ++u) {
        const std::int64_t s = partition.stageOfUnit(static_cast<std::int64_t>(u));
        l.unitNames.push_back(f.units[u].name);
        l.stageOfUnit.push_back(static_cast<std::int32_t>(s));
        l.stageParams[static_cast<std::size_t>(s)] += f.units[u].params;
    }
    l.policy = std::string(pipeline::toString(spec.policy));
    l.schedule = std::string(pipeline::toString(spec.schedule));
    l.delaySchedule = std::string(pipeline::toString(e.delaySchedule.spec().kind));
    f.stashHistoryBytes = telemetry::stashHistoryBytes(l);
    f.emaHistoryBytes = telemetry::emaHistoryBytes(l);
    telemetry::PipelineLayout momentum = l;
    momentum.policy = "momentum";
    f.momentumHistoryBytes = telemetry::historyForecastBytes(momentum);

    f.minibatches = e.stepsPerEpoch;
    const EpochForecast epoch =
        forecastEpoch(f.delays, l.schedule, f.minibatches, spec.microBatches);
    f.ticksPerEpoch = epoch.ticks;
    f.utilisation = epoch.utilisation;
    f.bubble = epoch.bubble;
    for (std::int64_t s = 0; s < f.stages; ++s) {
        f.stageMemory.push_back(
            stageForecast(spec, l, f.units, s, epoch.inFlight[static_cast<std::size_t>(s)]));
    }
}

}  // namespace

std::vector<UnitInfo> resnetUnits(const std::vector<std::int64_t>& blocks,
                                  bool imagenetStem,
                                  std::int64_t width,
                                  std::int64_t inChannels,
                                  std::int64_t classes) {
    model::ResNetSpec spec{.width = width,
                           .inChannels = inChannels,
                           .classes = classes,
                           .stem = imagenetStem ? model::Stem::ImageNet : model::Stem::Cifar};
    if (blocks.size() != spec.blocks.size()) {
        throw InputError(
            concat("a ResNet has ", spec.blocks.size(), " stages of blocks, got ", blocks.size()));
    }
    std::copy(blocks.begin(), blocks.end(), spec.blocks.begin());
    return unitsOf(model::ResNet(spec));
}

std::vector<UnitInfo> forecastUnits(const io::ExperimentConfig& config) {
    return unitsOf(model::ResNet(modelSpecOf(config, outlineOf(config))));
}

std::vector<std::int64_t> defaultDelays(std::int64_t stages) {
    return pipeline::DelayPlan::layerPipeDefault(stages).delays();
}

EpochForecast forecastEpoch(const std::vector<std::int64_t>& delays,
                            const std::string& schedule,
                            std::int64_t minibatches,
                            std::int64_t microBatches) {
    const auto kind = pipeline::parseScheduleKind(schedule);
    if (!kind) {
        throw InputError(concat("unknown pipeline schedule '", schedule, "'"));
    }
    const auto k = static_cast<std::int64_t>(delays.size());
    const bool gpipe = *kind == pipeline::ScheduleKind::GPipe;
    const pipeline::DelayPlan plan = pipeline::DelayPlan::custom(
        k, gpipe ? std::vector<std::int64_t>(delays.size(), 0) : delays);
    EpochForecast f;
    f.inFlight.assign(delays.size(), 0);
    const auto lists = pipeline::epochPlan(plan, *kind, minibatches, microBatches);
    for (std::size_t s = 0; s < lists.size(); ++s) {
        std::int64_t held = 0;
        for (const pipeline::StageOp& op : lists[s]) {
            f.ticks = std::max(f.ticks, op.tick + 1);
            if (op.kind == pipeline::OpKind::Update) {
                continue;
            }
            ++f.ops;
            held += op.kind == pipeline::OpKind::Forward ? 1 : -1;
            f.inFlight[s] = std::max(f.inFlight[s], held);
        }
    }
    f.opSlots = telemetry::opSlotsPerTick(schedule) * k * f.ticks;
    if (f.opSlots > 0) {
        f.utilisation = static_cast<double>(f.ops) / static_cast<double>(f.opSlots);
        f.bubble = static_cast<double>(f.opSlots - f.ops) / static_cast<double>(f.opSlots);
    }
    return f;
}

PipelineForecast forecastPipeline(const io::ExperimentConfig& config) {
    PipelineForecast f;
    f.stages = static_cast<std::int64_t>(config.pipeline.cuts.size()) + 1;
    data::DatasetOutline outline;
    try {
        outline = outlineOf(config);
        f.dataset = std::string(data::displayName(outline.kind));
        f.trainImages = outline.trainCount;
        f.exactImages = outline.exactCounts;
        const model::ResNetSpec spec = modelSpecOf(config, outline);
        f.inChannels = spec.inChannels;
        f.inSize = spec.inSize;
        f.classes = spec.classes;
        f.units = unitsOf(model::ResNet(spec));
    } catch (const std::exception& e) {
        f.problem = e.what();  // the data or the model: no units to cut
        return f;
    }
    try {
        forecastRun(config, outline, f);
    } catch (const std::exception& e) {
        // Whatever stops the run; nothing may escape into the editor's slots.
        f.problem = e.what();
        f.ticksPerEpoch = 0;
        f.utilisation = 0.0;
        f.bubble = 0.0;
        f.stageMemory.clear();
    }
    return f;
}

PipelineForecast forecastOrThrow(const io::ExperimentConfig& config) {
    PipelineForecast f = forecastPipeline(config);
    if (!f.problem.empty()) {
        throw InputError(f.problem);
    }
    return f;
}

namespace {

std::string joined(const std::vector<std::int64_t>& v, const char* separator) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        out += (i > 0 ? separator : "") + std::to_string(v[i]);
    }
    return out;
}

// The units of each stage, "stem layer1.0 | layer1.1 | ...".
std::string stagesText(const telemetry::PipelineLayout& l) {
    std::string out;
    for (std::size_t u = 0; u < l.unitNames.size(); ++u) {
        if (u > 0) {
            out += l.stageOfUnit[u] != l.stageOfUnit[u - 1] ? " | " : " ";
        }
        out += l.unitNames[u];
    }
    return out;
}

void memoryTable(std::ostream& os, const PipelineForecast& f) {
    constexpr std::array kCategories{telemetry::MemoryCategory::Weights,
                                     telemetry::MemoryCategory::WeightHistory,
                                     telemetry::MemoryCategory::Activations,
                                     telemetry::MemoryCategory::OptimizerState,
                                     telemetry::MemoryCategory::DiagnosticShadow};
    os << "stage params delay";
    for (const telemetry::MemoryCategory c : kCategories) {
        os << ' ' << telemetry::memoryCategoryName(c);
    }
    os << " in_flight\n";
    std::array<std::int64_t, kCategories.size()> total{};
    for (std::size_t s = 0; s < f.stageMemory.size(); ++s) {
        const StageForecast& m = f.stageMemory[s];
        os << s << ' ' << m.params << ' ' << m.delay;
        for (std::size_t c = 0; c < kCategories.size(); ++c) {
            const std::optional<std::int64_t> bytes = m.at(kCategories[c]);
            os << ' ' << (bytes ? std::to_string(*bytes) : std::string("-"));
            total[c] += bytes.value_or(0);
        }
        os << ' ' << m.inFlight << '\n';
    }
    os << "total - -";
    for (std::size_t c = 0; c < kCategories.size(); ++c) {
        const bool known = f.stageMemory.empty() || f.stageMemory[0].at(kCategories[c]);
        os << ' ' << (known ? std::to_string(total[c]) : std::string("-"));
    }
    os << " -\n";
}

}  // namespace

std::string forecastText(const io::ExperimentConfig& config, const PipelineForecast& f) {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    std::int64_t params = 0;
    for (const UnitInfo& u : f.units) {
        params += u.params;
    }
    os << "forecast (layerpipe run --dry-run): nothing was loaded or trained\n"
       << "model: " << choiceName(config.model.arch) << ", width " << config.model.width << ", "
       << choiceName(config.model.stem) << " stem, " << f.inChannels << 'x' << f.inSize << 'x'
       << f.inSize << " inputs, " << f.classes << " classes, " << f.units.size() << " units, "
       << params << " parameters\n"
       << "data: " << f.dataset << ", " << f.trainImages << " training images"
       << (f.exactImages ? "" : " (the standard files' count)") << ", batch "
       << config.training.batchSize << ": " << f.minibatches << " minibatches per epoch\n"
       << "layout: " << f.stages << " stage" << (f.stages == 1 ? "" : "s") << ": "
       << stagesText(f.layout) << '\n'
       << "schedule: " << f.layout.schedule;
    if (f.layout.schedule == "gpipe") {
        os << ", " << config.pipeline.microBatches << " micro-batches per minibatch";
    }
    os << ", delays " << joined(f.delays, ",") << ", delay schedule " << f.layout.delaySchedule
       << '\n';
    if (!f.epochDelays.empty()) {
        os << "delays by epoch: ";
        for (std::size_t e = 0; e < f.epochDelays.size(); ++e) {
            os << (e > 0 ? " -> " : "") << joined(f.epochDelays[e], ",");
        }
        os << (f.adaptiveDelays ? ", then adaptive" : "") << '\n';
    }
    os << "epoch: " << f.ticksPerEpoch << " ticks, utilisation " << f.utilisation << ", bubble "
       << f.bubble << '\n'
       << "memory: policy " << f.layout.policy
       << ", bytes per stage once the pipeline is full (activations: measured at run time)\n";
    memoryTable(os, f);
    os << "weight history by policy: stash " << f.stashHistoryBytes << ", ema " << f.emaHistoryBytes
       << ", momentum " << f.momentumHistoryBytes << ", latest 0\n";
    return os.str();
}

}  // namespace lp::core::session
