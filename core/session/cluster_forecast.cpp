// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/cluster_forecast.hpp"

#include "core/error.hpp"
#include "core/pipeline/transport.hpp"
#include "core/session/bench.hpp"
#include "core/session/experiment.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <iomanip>
#include <mutex>
#include <sstream>

namespace lp::core::session {

namespace {

constexpr std::int64_t kFloatBytes = 4;

// F, B and update of each stage, per minibatch.
struct StageWork {
    double forward = 0.0;
    double backward = 0.0;
    double update = 0.0;
};

std::vector<StageWork> stageWork(const PipelineShape& shape,
                                 const std::vector<UnitCost>& costs,
                                 std::int64_t stages) {
    std::vector<StageWork> w(static_cast<std::size_t>(stages));
    for (std::size_t u = 0; u < costs.size(); ++u) {
        StageWork& s = w[static_cast<std::size_t>(shape.stageOfUnit[u])];
        s.forward += costs[u].forwardSeconds;
        s.backward += costs[u].backwardSeconds;
        s.update += costs[u].updateSeconds;
    }
    return w;
}

LinkCost linkAfter(const PipelineShape& shape, std::int64_t stage, const LinkSpec& link) {
    std::size_t last = 0;  // the last unit of `stage`
    for (std::size_t u = 0; u < shape.stageOfUnit.size(); ++u) {
        if (shape.stageOfUnit[u] == stage) {
            last = u;
        }
    }
    LinkCost c;
    c.stage = stage;
    c.unit = shape.units[last].name;
    c.messages = shape.microBatches;
    c.bytes = shape.batchSize * shape.units[last].outputFloats * kFloatBytes +
              c.messages * pipeline::kMessageHeaderBytes;
    c.seconds = static_cast<double>(c.messages) * link.latencyMicroseconds * 1e-6 +
                static_cast<double>(c.bytes) * 8.0 / (link.gbitPerSecond * 1e9);
    return c;
}

// Stage s's cycle: its forward, the forward and backward of every later stage, the links after
// it both ways, its backward and its update.
double roundTrip(const std::vector<StageWork>& work,
                 const std::vector<LinkCost>& links,
                 std::int64_t s) {
    double trip = work[static_cast<std::size_t>(s)].update;
    for (std::size_t t = static_cast<std::size_t>(s); t < work.size(); ++t) {
        trip += work[t].forward + work[t].backward;
    }
    for (const LinkCost& l : links) {
        trip += l.stage >= s ? 2.0 * l.seconds : 0.0;
    }
    return trip;
}

std::string ms(double seconds) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(seconds < 0.01 ? 3 : 1) << 1e3 * seconds << " ms";
    return os.str();
}

std::string machineName(const ClusterForecast& f, std::size_t m) {
    const MachineCost& c = f.machines[m];
    if (c.endStage - c.firstStage == 1) {
        return concat("stage ", c.firstStage, " (machine ", m, ")");
    }
    return concat("machine ", m, " (stages ", c.firstStage, "-", c.endStage - 1, ")");
}

// How long a minibatch takes when `seconds` of one resource's work bound it.
using BoundOf = std::function<double(Bottleneck kind, double seconds)>;

// The largest of the three kinds of bound, named; ties go to the machine, then the link.
// `delays`: D_s, for a round trip's words (GPipe has no round-trip bounds).
void pickBottleneck(ClusterForecast& f,
                    const BoundOf& bound,
                    const std::vector<std::int64_t>& delays) {
    const auto consider = [&f, &bound](Bottleneck kind, std::size_t i, double seconds) {
        const double t = bound(kind, seconds);
        if (t > f.stepSeconds) {
            f.stepSeconds = t;
            f.bottleneck = kind;
            f.bottleneckIndex = static_cast<std::int64_t>(i);
        }
    };
    for (std::size_t m = 0; m < f.machines.size(); ++m) {
        consider(Bottleneck::Machine, m, f.machines[m].computeSeconds);
    }
    for (std::size_t l = 0; l < f.links.size(); ++l) {
        consider(Bottleneck::Link, l, f.links[l].seconds);
    }
    for (std::size_t s = 0; s < f.roundTripSeconds.size(); ++s) {
        consider(Bottleneck::RoundTrip, s, f.roundTripSeconds[s]);
    }
    const auto i = static_cast<std::size_t>(f.bottleneckIndex);
    switch (f.bottleneck) {
        case Bottleneck::Machine:
            f.bottleneckText = concat(machineName(f, i),
                                      ": ",
                                      ms(f.machines[i].computeSeconds),
                                      " of compute per minibatch");
            break;
        case Bottleneck::Link:
            f.bottleneckText = concat("the link machine ",
                                      i,
                                      " -> ",
                                      i + 1,
                                      " (after stage ",
                                      f.links[i].stage,
                                      ", ",
                                      f.links[i].unit,
                                      "): ",
                                      f.links[i].bytes,
                                      " B each way, ",
                                      ms(f.links[i].seconds),
                                      " per minibatch");
            break;
        case Bottleneck::RoundTrip: {
            const std::int64_t runAhead = delays[i] + 1;  // the minibatches D_s lets it run ahead
            f.bottleneckText = concat("stage ",
                                      i,
                                      "'s round trip (to the last stage and back, links "
                                      "included): ",
                                      ms(f.stepSeconds * static_cast<double>(runAhead)),
                                      " over D + 1 = ",
                                      runAhead,
                                      " minibatches; a longer delay would hide it");
            break;
        }
    }
}

}  // namespace

PipelineShape pipelineShapeOf(const io::ExperimentConfig& config, const PipelineForecast& f) {
    if (!f.problem.empty()) {
        throw InputError(f.problem);
    }
    const bool gpipe = config.pipeline.schedule == ScheduleKind::GPipe;
    return {.units = f.units,
            .stageOfUnit = f.layout.stageOfUnit,
            .delays = f.delays,
            .gpipe = gpipe,
            .batchSize = config.training.batchSize,
            .microBatches = gpipe ? config.pipeline.microBatches : 1};
}

void checkCluster(std::int64_t machines, std::int64_t stages, const LinkSpec& link) {
    if (machines < 1 || machines > stages) {
        throw InputError(concat("machines must be between 1 and the number of stages (",
                                stages,
                                "; each machine runs at least one), got ",
                                machines));
    }
    if (!(link.gbitPerSecond > 0.0) || !std::isfinite(link.gbitPerSecond)) {
        throw InputError(concat("the link bandwidth must be a positive number of Gbit/s, got ",
                                link.gbitPerSecond));
    }
    if (!(link.latencyMicroseconds >= 0.0) || !std::isfinite(link.latencyMicroseconds)) {
        throw InputError(concat("the link latency must be 0 or more microseconds, got ",
                                link.latencyMicroseconds));
    }
}

ClusterForecast forecastCluster(const PipelineShape& shape,
                                const std::vector<UnitCost>& costs,
                                std::int64_t machines,
                                const LinkSpec& link) {
    LP_EXPECTS(costs.size() == shape.units.size() &&
                   shape.stageOfUnit.size() == shape.units.size() && !costs.empty(),
               "forecastCluster: one cost and one stage per unit");
    const std::int64_t stages = shape.stageOfUnit.back() + 1;
    LP_EXPECTS(shape.gpipe || static_cast<std::int64_t>(shape.delays.size()) == stages,
               "forecastCluster: one delay per stage");
    checkCluster(machines, stages, link);
    const std::vector<StageWork> work = stageWork(shape, costs, stages);
    ClusterForecast f;
    for (std::int64_t m = 0; m < machines; ++m) {
        const pipeline::StageRange r = pipeline::stagesOfRank(m, machines, stages);
        MachineCost c{
            .firstStage = r.first, .endStage = r.end, .stageSeconds = {}, .computeSeconds = 0.0};
        for (std::int64_t s = r.first; s < r.end; ++s) {
            const StageWork& w = work[static_cast<std::size_t>(s)];
            c.stageSeconds.push_back(w.forward + w.backward + w.update);
            c.computeSeconds += c.stageSeconds.back();
        }
        if (m > 0) {
            f.links.push_back(linkAfter(shape, r.first - 1, link));
        }
        f.machines.push_back(std::move(c));
    }
    if (shape.gpipe) {
        // Per micro-batch: compute / M, a link's bytes / M plus one latency; then M + R − 1 of
        // the slowest (the fill and drain of every minibatch's flush).
        const double m = static_cast<double>(shape.microBatches);
        const double waves = m + static_cast<double>(machines) - 1.0;
        const double latency = link.latencyMicroseconds * 1e-6;
        pickBottleneck(f,
                       [m, waves, latency](Bottleneck kind, double seconds) {
                           const double perMicro = kind == Bottleneck::Link
                                                       ? (seconds - (m - 1.0) * latency) / m
                                                       : seconds / m;
                           return waves * perMicro;
                       },
                       {});
    } else {
        for (std::int64_t s = 0; s < stages; ++s) {
            f.roundTripSeconds.push_back(
                roundTrip(work, f.links, s) /
                static_cast<double>(shape.delays[static_cast<std::size_t>(s)] + 1));
        }
        pickBottleneck(
            f, [](Bottleneck, double seconds) { return seconds; }, shape.delays);
    }
    f.imagesPerSecond = static_cast<double>(shape.batchSize) / f.stepSeconds;
    return f;
}

std::vector<UnitCost> measureUnitCosts(const io::ExperimentConfig& config,
                                       std::int64_t reps,
                                       std::stop_token stop) {
    BenchSpec spec;
    spec.model = modelSpecOf(config, outlineOf(config));
    spec.batchSize = config.training.batchSize;
    spec.threads = config.training.threads;
    spec.layerReps = reps;
    spec.seed = config.training.seed;
    std::vector<UnitCost> out;
    for (const UnitTiming& t : timeUnits(spec, optimizerOf(config.optimizer), std::move(stop))) {
        out.push_back({t.name, t.forwardSeconds, t.backwardSeconds, t.updateSeconds});
    }
    return out;
}

std::string unitCostKey(const io::ExperimentConfig& config) {
    const nlohmann::json doc = io::toJson(config);
    return concat(doc.at("model").dump(),
                  doc.at("data").dump(),
                  doc.at("optimizer").dump(),
                  "|batch ",
                  config.training.batchSize,
                  "|threads ",
                  config.training.threads);
}

std::string clusterText(const ClusterForecast& f, const LinkSpec& link) {
    std::ostringstream os;
    os << "forecast for " << f.machines.size() << " machines like this one, links of "
       << link.gbitPerSecond << " Gbit/s each way and " << link.latencyMicroseconds
       << " us latency (unit times measured here: noisy on a loaded machine)\n";
    for (std::size_t m = 0; m < f.machines.size(); ++m) {
        if (m > 0) {
            const LinkCost& l = f.links[m - 1];
            os << "  link " << m - 1 << " -> " << m << "   " << l.bytes << " B each way ("
               << l.messages << " message" << (l.messages == 1 ? "" : "s") << ", " << l.unit
               << "'s output)  " << ms(l.seconds) << "\n";
        }
        const MachineCost& c = f.machines[m];
        os << "  machine " << m << "   ";
        if (c.stageSeconds.size() == 1) {
            os << "stage " << c.firstStage << "  compute " << ms(c.computeSeconds) << "\n";
            continue;
        }
        os << "stages " << c.firstStage << "-" << c.endStage - 1 << "  compute "
           << ms(c.computeSeconds) << " (";
        for (std::size_t s = 0; s < c.stageSeconds.size(); ++s) {
            os << (s > 0 ? " + " : "") << ms(c.stageSeconds[s]);
        }
        os << ")\n";
    }
    os << std::fixed << std::setprecision(1) << "step: " << ms(f.stepSeconds) << " per minibatch, "
       << f.imagesPerSecond << " images/s\nbottleneck: " << f.bottleneckText << "\n";
    return os.str();
}

struct UnitCostMeasurement::Result {
    mutable std::mutex mutex;
    bool done = false;
    std::vector<UnitCost> costs;
    std::string error;
};

UnitCostMeasurement::UnitCostMeasurement(const io::ExperimentConfig& config)
    : result_(std::make_shared<Result>()) {
    thread_ = std::jthread([result = result_, config](const std::stop_token& stop) {
        std::vector<UnitCost> costs;
        std::string error;
        try {
            costs = measureUnitCosts(config, 3, stop);
        } catch (const std::exception& e) {
            error = e.what();
        }
        const std::lock_guard lock(result->mutex);
        result->costs = std::move(costs);
        result->error = std::move(error);
        result->done = true;
    });
}

UnitCostMeasurement::~UnitCostMeasurement() = default;  // jthread: request_stop, then join

bool UnitCostMeasurement::done() const {
    const std::lock_guard lock(result_->mutex);
    return result_->done;
}

std::vector<UnitCost> UnitCostMeasurement::costs() const {
    const std::lock_guard lock(result_->mutex);
    return result_->costs;
}

std::string UnitCostMeasurement::error() const {
    const std::lock_guard lock(result_->mutex);
    return result_->error;
}

}  // namespace lp::core::session
