// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/trainer.hpp"

#include "core/error.hpp"
#include "core/io/safetensors.hpp"
#include "core/model/bn_recalibration.hpp"
#include "core/pipeline/epoch_plan.hpp"
#include "core/session/checkpoint_meta.hpp"
#include "core/session/machine.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

namespace lp::core::session {

Trainer::Trainer(Experiment experiment, telemetry::Recorder* recorder)
    : experiment_(std::move(experiment)), recorder_(recorder) {
    net_ = std::make_unique<model::ResNet>(experiment_.modelSpec);
    const model::ModelState init =
        model::ModelState::create(*net_, experiment_.config.training.seed);
    core_ = std::make_unique<pipeline::PipelineCore>(*net_, init, experiment_.pipeline, recorder_);
    engine_ = std::make_unique<pipeline::Engine>(
        *core_, static_cast<int>(experiment_.config.training.threads));
    const data::Dataset& train = experiment_.data.train;
    const auto norm = data::standardNormalization(train);
    data::BatchSpec spec = data::trainingSpec(
        train, experiment_.config.training.batchSize, experiment_.config.training.seed);
    spec.augment = spec.augment && experiment_.config.data.augment;
    trainLoader_ = std::make_unique<data::BatchLoader>(train, spec, norm);
    testLoader_ = std::make_unique<data::BatchLoader>(
        experiment_.data.test,
        data::BatchSpec::evaluation(experiment_.config.training.batchSize),
        norm);
    // Created inside the engine's arena, where stage 0 waits for its batches: a task spawned
    // outside it (this thread's default arena) could only run on that arena's workers, and with
    // one thread allowed (tbb::global_control, a single core) there are none: runEpoch hung.
    engine_->runInArena(
        [this] { prefetcher_ = std::make_unique<data::Prefetcher>(*trainLoader_, 0, 0); });
    if (!experiment_.delaySchedule.isStatic()) {
        scale_ = experiment_.delaySchedule.firstScale();
        core_->setDelays(experiment_.delaySchedule.delaysAt(scale_));
    }
}

Trainer::~Trainer() {
    // The prefetcher's pending task was spawned by stage 0 inside the engine's arena; wait for it
    // there, or a thread outside the arena (the GUI thread) would wait forever.
    engine_->runInArena([this] { prefetcher_.reset(); });
}

std::int64_t Trainer::ticksPerEpoch() const {
    return pipeline::lastTickOf(pipeline::epochPlan(core_->delays(),
                                                    core_->spec().schedule,
                                                    experiment_.stepsPerEpoch,
                                                    core_->spec().microBatches)) +
           1;
}

float Trainer::lrAt(std::int64_t step) const {
    return optim::learningRate(experiment_.lrSchedule, step) * lrScale_.load();
}

EpochReport Trainer::runEpoch(const pipeline::Engine::BudgetFunction& budget) {
    LP_EXPECTS(!finished(), "every configured epoch has run");
    const std::int64_t e = epoch_;
    const std::int64_t steps = experiment_.stepsPerEpoch;
    // A sequential epoch stopped midway continues at minibatch `first` (0 otherwise).
    const std::int64_t first = epochStep();
    // Stage 0 asks for the minibatches in order; the prefetcher prepares the next one meanwhile.
    const pipeline::BatchSource source = [this, first](std::int64_t ep, std::int64_t index) {
        if (prefetcher_->epoch() != ep || prefetcher_->index() != index + first) {
            prefetcher_->seek(ep, index + first);
        }
        data::Batch b = prefetcher_->next();
        return pipeline::MiniBatch{.images = std::move(b.images), .labels = std::move(b.labels)};
    };
    const pipeline::LrFunction lr = [this](std::int64_t step) {
        return lrAt(step);
    };
    const auto t0 = std::chrono::steady_clock::now();
    recordDelays(e, {});  // the timeline shows the epoch's delays from its first tick
    // Epoch e starts at the tick after the previous epochs' plans (each spans ticksPerEpoch()
    // of its own delays): the ticks of a whole run increase monotonically (the timeline never
    // overlaps epochs) and a resumed run numbers its ticks exactly as an uninterrupted one (the
    // tick base is in the checkpoint). One stage does one minibatch per tick, so a continued
    // epoch starts `first` ticks in.
    const auto outcome = engine_->runEpoch(
        e, steps - first, source, lr, e * steps + first, tickBase_ + first, budget);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EpochReport r;
    r.epoch = e;
    r.completed = outcome.completed;
    r.nonFinite = outcome.stats.nonFinite;
    r.seconds = seconds;
    if (outcome.stats.minibatches > 0) {
        r.imagesPerSecond = static_cast<double>(outcome.stats.samples) / std::max(seconds, 1e-9);
    }
    // The epoch's figures include the minibatches trained before a stop.
    pipeline::EpochStats all = partial_;
    all.lossSum += outcome.stats.lossSum;
    all.correct += outcome.stats.correct;
    all.samples += outcome.stats.samples;
    all.minibatches += outcome.stats.minibatches;
    if (all.minibatches > 0) {
        r.trainLoss = all.lossSum / static_cast<double>(all.minibatches);
        r.trainAccuracy = static_cast<double>(all.correct) / static_cast<double>(all.samples);
    }
    if (!r.completed && !r.nonFinite && core_->stageCount() == 1) {
        // One stage holds nothing in flight once the budget's ticks are done: every minibatch
        // counted in the stats has had its update, so the place is exact.
        partial_ = all;
    }
    if (!r.completed || r.nonFinite) {
        return r;
    }
    ++epoch_;
    partial_ = {};
    r.test = evaluate();
    r.recalibrated = evaluateRecalibrated();
    if (recorder_ != nullptr) {
        telemetry::EvalSample sample{.epoch = static_cast<std::int32_t>(e),
                                     .step = epoch_ * steps,
                                     .loss = static_cast<float>(r.test.loss),
                                     .top1 = static_cast<float>(r.test.top1),
                                     .top5 = static_cast<float>(r.test.top5)};
        if (r.recalibrated) {
            sample.recalBatches = static_cast<std::int32_t>(r.recalibrated->batches);
            sample.recalLoss = static_cast<float>(r.recalibrated->test.loss);
            sample.recalTop1 = static_cast<float>(r.recalibrated->test.top1);
            sample.recalTop5 = static_cast<float>(r.recalibrated->test.top5);
        }
        recorder_->eval(sample);
    }
    finishEpochDelays(r);
    return r;
}

pipeline::BatchSource Trainer::testSource() const {
    return [this](std::int64_t, std::int64_t index) {
        data::Batch b = testLoader_->batch(0, index);
        return pipeline::MiniBatch{.images = std::move(b.images), .labels = std::move(b.labels)};
    };
}

pipeline::EvalResult Trainer::evaluate() {
    return core_->evaluate(testSource(), testLoader_->batchesPerEpoch());
}

std::optional<RecalibratedEval> Trainer::evaluateRecalibrated() {
    const std::int64_t wanted = experiment_.config.eval.recalibrateBatchNorm;
    if (wanted <= 0 || net_->bufferCount() == 0) {
        return std::nullopt;
    }
    for (std::int64_t s = 0; s < core_->stageCount(); ++s) {
        LP_EXPECTS(core_->stage(s).inFlight() == 0, "BN recalibration needs a drained pipeline");
    }
    RecalibratedEval out;
    out.batches = std::min(wanted, trainLoader_->batchesPerEpoch());
    const model::ModelState trained = core_->gather();
    AlignedBuffer recalibrated;
    // In the engine's arena: the forwards use the configured threads (the bits do not depend on
    // them). Epoch 0's batches: a fixed calibration set, the same after every epoch and for
    // `layerpipe eval`, read straight from the loader (the prefetcher's place is untouched).
    engine_->runInArena([&] {
        recalibrated = model::recalibrateBatchNorm(
            *net_,
            trained.weights.span(),
            trained.buffers.span(),
            out.batches,
            [this](std::int64_t index) { return trainLoader_->batch(0, index).images; });
    });
    // The trained statistics are put back afterwards: training and checkpoints are untouched.
    out.test =
        core_->evaluateWith(recalibrated.span(), testSource(), testLoader_->batchesPerEpoch());
    return out;
}

namespace {

constexpr const char* kOptimizerPrefix = "optimizer.";
constexpr const char* kEmaPrefix = "pipeline.ema.";

std::vector<std::string> slotNames(const optim::OptimizerConfig& cfg) {
    if (cfg.kind == optim::OptimizerKind::Sgd) {
        return cfg.momentum > 0.0F ? std::vector<std::string>{"momentum_buffer"}
                                   : std::vector<std::string>{};
    }
    return {"exp_avg", "exp_avg_sq"};
}

std::vector<std::int64_t> dims(const TensorShape& s) {
    std::vector<std::int64_t> d;
    for (int i = 0; i < s.rank(); ++i) {
        d.push_back(s[i]);
    }
    return d;
}

// Visits every tensor a checkpoint holds: fn(name, shape, dtype, floats in memory).
template <typename Fn>
void forEachCheckpointTensor(const model::ResNet& net, pipeline::PipelineCore& core, Fn&& fn) {
    for (std::int64_t s = 0; s < core.stageCount(); ++s) {
        pipeline::Stage& st = core.stage(s);
        const std::size_t w0 = net.weightOffset(static_cast<std::size_t>(st.firstUnit()));
        const std::size_t b0 = net.bufferOffset(static_cast<std::size_t>(st.firstUnit()));
        const std::size_t n = st.paramCount();
        const auto slots = slotNames(st.settings().optimizer);
        for (const model::ModelParam& p : net.params()) {
            if (static_cast<std::int64_t>(p.unit) < st.firstUnit() ||
                static_cast<std::int64_t>(p.unit) >= st.endUnit()) {
                continue;
            }
            const auto count = static_cast<std::size_t>(p.shape.numel());
            if (p.kind != nn::ParamKind::Weight) {
                fn(p.name,
                   dims(p.shape),
                   p.kind == nn::ParamKind::Counter ? io::DType::I64 : io::DType::F32,
                   st.mutableBuffers().subspan(p.offset - b0, count));
                continue;
            }
            const std::size_t off = p.offset - w0;
            fn(p.name, dims(p.shape), io::DType::F32, st.mutableWeights().subspan(off, count));
            for (std::size_t k = 0; k < slots.size(); ++k) {
                fn(kOptimizerPrefix + p.name + "." + slots[k],
                   dims(p.shape),
                   io::DType::F32,
                   st.mutableOptimizerState().subspan(k * n + off, count));
            }
            if (!st.mutableEma().empty()) {
                fn(kEmaPrefix + p.name,
                   dims(p.shape),
                   io::DType::F32,
                   st.mutableEma().subspan(off, count));
            }
        }
    }
}

// The "lr_last" metadata: a finite number >= 0; 0 when absent (a checkpoint from before the
// momentum policy, resumed on a drained pipeline whose next update sets it before any use).
float lastLrMeta(const io::SafetensorsFile& f, const std::filesystem::path& file) {
    const auto it = f.metadata.find("lr_last");
    if (it == f.metadata.end()) {
        return 0.0F;
    }
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || end != it->second.c_str() + it->second.size() || !std::isfinite(v) ||
        v < 0.0) {
        throw InputError(concat("checkpoint ",
                                file.string(),
                                ": metadata 'lr_last' must be a finite number >= 0, got '",
                                it->second.substr(0, 40),
                                "'"));
    }
    return static_cast<float>(v);
}

// A whole decimal number in [lo, hi] from the metadata `key`: "1abc", "-3" or 1e30 must not turn
// into a position (and an overflow in the step arithmetic later). Absent: 0, or an InputError
// when required.
std::int64_t wholeMeta(const io::SafetensorsFile& f,
                       const std::filesystem::path& file,
                       const char* key,
                       std::int64_t lo,
                       std::int64_t hi,
                       bool required = true) {
    const auto it = f.metadata.find(key);
    if (it == f.metadata.end()) {
        if (!required) {
            return 0;
        }
        throw InputError(
            concat("checkpoint ", file.string(), " has no '", key, "' metadata, needed to resume"));
    }
    return wholeNumber(it->second, file, key, lo, hi);
}

// The sums of an epoch stopped after `epochStep` minibatches of `batchSize` (a sequential run's
// mid-epoch checkpoint).
pipeline::EpochStats partialEpochMeta(const io::SafetensorsFile& f,
                                      const std::filesystem::path& file,
                                      std::int64_t epochStep,
                                      std::int64_t batchSize) {
    pipeline::EpochStats partial;
    partial.minibatches = epochStep;
    partial.samples = wholeMeta(f, file, "epoch_samples", 0, epochStep * batchSize);
    partial.correct = wholeMeta(f, file, "epoch_correct", 0, partial.samples);
    const auto it = f.metadata.find("epoch_loss_sum");
    char* end = nullptr;
    partial.lossSum = it == f.metadata.end() ? std::numeric_limits<double>::quiet_NaN()
                                             : std::strtod(it->second.c_str(), &end);
    if (it == f.metadata.end() || end != it->second.c_str() + it->second.size() ||
        !std::isfinite(partial.lossSum)) {
        throw InputError(concat(
            "checkpoint ", file.string(), ": metadata 'epoch_loss_sum' must be a finite number"));
    }
    return partial;
}

// "\n  shape of NAME: expected [a, b], found [c]".
std::string shapeProblem(const std::string& name,
                         const std::vector<std::int64_t>& want,
                         const std::vector<std::int64_t>& found) {
    std::ostringstream text;
    auto list = [&text](const std::vector<std::int64_t>& dims) {
        for (std::size_t i = 0; i < dims.size(); ++i) {
            text << (i ? ", " : "") << dims[i];
        }
    };
    text << "\n  shape of " << name << ": expected [";
    list(want);
    text << "], found [";
    list(found);
    text << "]";
    return text.str();
}

}  // namespace

telemetry::PipelineLayout Trainer::layout() const {
    telemetry::PipelineLayout l = core_->layout();
    l.delaySchedule = std::string(pipeline::toString(experiment_.delaySchedule.spec().kind));
    l.hosts = {hostName()};
    return l;
}

void Trainer::save(const std::filesystem::path& file) const {
    io::SafetensorsFile f;
    forEachCheckpointTensor(*net_,
                            *core_,
                            [&](const std::string& name,
                                const std::vector<std::int64_t>& shape,
                                io::DType dtype,
                                std::span<float> values) {
                                f.tensors.push_back({.name = name,
                                                     .shape = shape,
                                                     .dtype = dtype,
                                                     .values = {values.begin(), values.end()}});
                            });
    f.metadata["format"] = "layerpipe-checkpoint/1";
    f.metadata["config"] = io::toJson(experiment_.config).dump();
    f.metadata["epoch"] = std::to_string(epoch_);
    f.metadata["step"] = std::to_string(step());
    f.metadata["ema_updates"] = std::to_string(core_->stage(0).emaUpdates());
    // The momentum policy's lr_last (hexadecimal float, exact). Checkpoints are written on a
    // drained pipeline, where every stage has applied the same last update.
    char lrLast[64];
    std::snprintf(lrLast, sizeof lrLast, "%a", static_cast<double>(core_->stage(0).lastLr()));
    f.metadata["lr_last"] = lrLast;
    saveDelayState(f.metadata);
    if (epochStep() > 0) {
        // A stopped epoch: where it stopped and its statistics so far (the loss sum as a
        // hexadecimal float, exact).
        f.metadata["epoch_step"] = std::to_string(epochStep());
        char sum[64];
        std::snprintf(sum, sizeof sum, "%a", partial_.lossSum);
        f.metadata["epoch_loss_sum"] = sum;
        f.metadata["epoch_correct"] = std::to_string(partial_.correct);
        f.metadata["epoch_samples"] = std::to_string(partial_.samples);
    }
    io::writeSafetensors(file, f);
}

std::vector<std::string> Trainer::nonFiniteTensors() const {
    std::vector<std::string> names;
    forEachCheckpointTensor(*net_,
                            *core_,
                            [&](const std::string& name,
                                const std::vector<std::int64_t>&,
                                io::DType,
                                std::span<float> values) {
                                if (name.rfind(kOptimizerPrefix, 0) != 0 &&
                                    std::any_of(values.begin(), values.end(), [](float v) {
                                        return !std::isfinite(v);
                                    })) {
                                    names.push_back(name);
                                }
                            });
    return names;
}

std::uintmax_t Trainer::checkpointBytes() const {
    std::uintmax_t bytes = 0;
    forEachCheckpointTensor(*net_,
                            *core_,
                            [&](const std::string&,
                                const std::vector<std::int64_t>&,
                                io::DType dtype,
                                std::span<float> values) {
                                bytes += values.size() * (dtype == io::DType::I64 ? 8U : 4U);
                            });
    return bytes + 64U * 1024U;  // header: names, shapes, offsets and the config
}

void Trainer::load(const std::filesystem::path& file, bool withOptimizerAndEpoch) {
    const io::SafetensorsFile f = io::readSafetensors(file);
    if (withOptimizerAndEpoch) {
        restoreDelayState(f, file);  // first: which EMA tensors exist depends on the delays
    }
    loadTensors(f, file, withOptimizerAndEpoch);
    if (withOptimizerAndEpoch) {
        restorePosition(f, file);
    }
}

void Trainer::loadTensors(const io::SafetensorsFile& f,
                          const std::filesystem::path& file,
                          bool withOptimizerAndEpoch) {
    std::ostringstream problems;
    int count = 0;
    std::vector<std::pair<const io::NamedTensor*, std::span<float>>> matches;
    forEachCheckpointTensor(
        *net_,
        *core_,
        [&](const std::string& name,
            const std::vector<std::int64_t>& shape,
            io::DType,
            std::span<float> values) {
            const bool needed = withOptimizerAndEpoch || (name.rfind(kOptimizerPrefix, 0) != 0 &&
                                                          name.rfind(kEmaPrefix, 0) != 0);
            if (!needed) {
                return;
            }
            const io::NamedTensor* t = f.find(name);
            if (t == nullptr) {
                problems << "\n  missing: " << name;
                ++count;
            } else if (t->shape != shape &&
                       !(shape == std::vector<std::int64_t>{1} && t->shape.empty())) {
                problems << shapeProblem(name, shape, t->shape);
                ++count;
            } else {
                matches.emplace_back(t, values);
            }
        });
    if (count > 0) {
        throw InputError(concat("checkpoint ",
                                file.string(),
                                " does not fit this model (",
                                count,
                                " problem",
                                count == 1 ? "" : "s",
                                "):",
                                problems.str()));
    }
    for (auto& [t, values] : matches) {
        std::copy(t->values.begin(), t->values.end(), values.begin());
    }
}

void Trainer::restorePosition(const io::SafetensorsFile& f, const std::filesystem::path& file) {
    const std::int64_t steps = experiment_.stepsPerEpoch;
    const std::int64_t epochs = experiment_.config.training.epochs;
    const std::int64_t epoch = wholeMeta(f, file, "epoch", 0, 10000);  // training.epochs' limit
    if (epoch > epochs) {
        throw InputError(concat("checkpoint ",
                                file.string(),
                                " has trained ",
                                epoch,
                                " epochs, more than this run's training.epochs (",
                                epochs,
                                "); give --epochs ",
                                epoch,
                                " or more"));
    }
    const std::int64_t epochStep = wholeMeta(f, file, "epoch_step", 0, steps - 1, false);
    const std::int64_t step = wholeMeta(f, file, "step", 0, epochs * steps);
    if (step != epoch * steps + epochStep) {
        throw InputError(
            concat("checkpoint ",
                   file.string(),
                   " stopped at step ",
                   step,
                   " (epoch ",
                   epoch,
                   epochStep > 0 ? concat(", minibatch ", epochStep) : std::string(),
                   "), which does not fit this experiment's ",
                   steps,
                   " steps per epoch: the data (data.*, training.batchSize) or training.maxSteps "
                   "differ from the run that wrote it"));
    }
    const std::int64_t k = wholeMeta(f, file, "ema_updates", 0, step);
    pipeline::EpochStats partial;
    if (epochStep > 0) {
        if (core_->stageCount() != 1) {
            throw InputError(concat("checkpoint ",
                                    file.string(),
                                    " stopped in the middle of an epoch, which only a "
                                    "sequential run (one stage) can continue"));
        }
        partial = partialEpochMeta(f, file, epochStep, experiment_.config.training.batchSize);
    }
    const float lrLast = lastLrMeta(f, file);
    epoch_ = epoch;
    partial_ = partial;
    const std::vector<std::int64_t> ks = restoredEmaUpdates(f, file, k, step);
    for (std::int64_t s = 0; s < core_->stageCount(); ++s) {
        core_->stage(s).setVersion(step);
        core_->stage(s).setEmaUpdates(ks[static_cast<std::size_t>(s)]);
        core_->stage(s).setLastLr(lrLast);
    }
}

io::ExperimentConfig checkpointConfig(const std::filesystem::path& file) {
    const io::SafetensorsFile f = io::readSafetensors(file);
    const auto it = f.metadata.find("config");
    if (it == f.metadata.end()) {
        throw InputError(concat("checkpoint ",
                                file.string(),
                                " has no 'config' metadata (it was not written by layerpipe); "
                                "give the experiment with --config"));
    }
    try {
        return io::parseConfig(nlohmann::json::parse(it->second));
    } catch (const nlohmann::json::exception& e) {
        const std::string what = e.what();
        throw InputError(concat("checkpoint ",
                                file.string(),
                                ": its stored config is not valid JSON: ",
                                what.substr(what.find("] ") + 2)));
    } catch (const InputError& e) {
        throw InputError(
            concat("checkpoint ", file.string(), ": its stored config is invalid: ", e.what()));
    }
}

std::vector<ConfigDifference> runDefiningDifferences(const io::ExperimentConfig& stored,
                                                     const io::ExperimentConfig& given,
                                                     bool sequential) {
    static const std::set<std::string> kFree = {"name",
                                                "description",
                                                "data.path",
                                                "data.testLimit",
                                                "training.threads",
                                                "training.epochs",
                                                "eval.recalibrateBatchNorm"};
    const nlohmann::json a = io::toJson(stored);
    const nlohmann::json b = io::toJson(given);
    std::vector<ConfigDifference> out;
    const auto visit = [&](const std::string& key,
                           const nlohmann::json& x,
                           const nlohmann::json& y) {
        if (kFree.count(key) == 0 && !(sequential && key.rfind("pipeline.", 0) == 0) && x != y) {
            out.push_back({.key = key, .stored = x.dump(), .given = y.dump()});
        }
    };
    for (const auto& [section, value] : a.items()) {
        if (!value.is_object()) {
            visit(section, value, b.at(section));
            continue;
        }
        for (const auto& [k, v] : value.items()) {
            visit(section + "." + k, v, b.at(section).at(k));
        }
    }
    return out;
}

std::string formatDuration(double seconds) {
    const auto total = static_cast<std::int64_t>(std::llround(std::max(seconds, 0.0)));
    std::ostringstream os;
    if (total >= 3600) {
        os << total / 3600 << "h" << (total % 3600) / 60 << "m";
    } else if (total >= 60) {
        os << total / 60 << "m" << total % 60 << "s";
    } else {
        os << total << "s";
    }
    return os.str();
}

}  // namespace lp::core::session
