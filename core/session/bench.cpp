// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/bench.hpp"

#include "core/error.hpp"
#include "core/nn/loss.hpp"
#include "core/pipeline/engine.hpp"
#include "core/pipeline/pipeline_core.hpp"
#include "core/pipeline/spec.hpp"
#include "core/telemetry/recorder.hpp"
#include "core/tensor/fma_peak.hpp"
#include "core/tensor/rng.hpp"

#include <sys/resource.h>

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <utility>

namespace lp::core::session {

double LayerTiming::forwardGflops() const {
    return macs > 0 ? 2e-9 * macs / forwardSeconds : 0.0;
}

double LayerTiming::backwardGflops() const {
    return macs > 0 ? 4e-9 * macs / backwardSeconds : 0.0;
}

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// User + system CPU seconds of this process so far: a measure that other processes on a shared
// machine disturb far less than wall time (spinning workers count, though).
double cpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Peak resident set of this program so far, in KiB: Linux's VmHWM, the high-water mark of the
// address space that exec gave it. Not getrusage's ru_maxrss, which also keeps the RSS of the
// address space the process had before its exec, i.e. of the parent that forked or vforked it:
// started from a Python that has imported torch (scripts/compare_pytorch.py) it read 227 MiB for
// a run whose own peak is 180 MiB (width 16, batch 128, 1x28x28). ru_maxrss where /proc is not
// mounted.
long peakRssKib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("VmHWM:")) {
            return std::strtol(line.c_str() + 6, nullptr, 10);  // "VmHWM:   184860 kB"
        }
    }
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

int threadCount(std::int64_t threads) {
    return threads > 0 ? static_cast<int>(threads) : tbb::info::default_concurrency();
}

Tensor randomTensor(const TensorShape& shape, Rng& rng) {
    Tensor t(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        t[i] = rng.normal();
    }
    return t;
}

// The synthetic minibatch: normal pixels, labels cycling through the classes.
pipeline::MiniBatch syntheticBatch(const model::ResNet& net, std::int64_t n, std::uint64_t seed) {
    Rng rng(seed + 1);
    pipeline::MiniBatch batch{.images = randomTensor(net.inputShape(n), rng), .labels = {}};
    for (std::int64_t i = 0; i < n; ++i) {
        batch.labels.push_back(static_cast<std::int32_t>(i % net.spec().classes));
    }
    return batch;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Collects the layer calls of the real model (model::LayerObserver), keyed by layer object, in
// first-call order: every layer of the sequential model with its torchvision-style name.
class LayerTimes final : public model::LayerObserver {
public:
    void layerDone(const std::string& name,
                   const nn::Layer& layer,
                   const TensorShape& in,
                   const TensorShape& out,
                   bool backward,
                   double seconds) override {
        const auto [it, fresh] = index_.try_emplace(&layer, rows_.size());
        if (fresh) {
            rows_.push_back({.name = name,
                             .layer = &layer,
                             .in = in,
                             .out = out,
                             .forward = {},
                             .backward = {}});
        }
        Row& r = rows_[it->second];
        (backward ? r.backward : r.forward).push_back(seconds);
    }

    // The summed forward or backward layer calls of timed pass `rep` (each layer is called once
    // per pass in each direction).
    double passSum(std::size_t rep, bool backward) const {
        double sum = 0.0;
        for (const Row& r : rows_) {
            const std::vector<double>& calls = backward ? r.backward : r.forward;
            sum += rep < calls.size() ? calls[rep] : 0.0;
        }
        return sum;
    }

    std::vector<LayerTiming> timings() const {
        std::vector<LayerTiming> out;
        for (const Row& r : rows_) {
            double macs = 0.0;  // conv and fc: every output element is one dot product
            if (r.layer->kind() == "Conv2d" || r.layer->kind() == "Linear") {
                const TensorShape w = r.layer->params().front().shape;  // [out, in, ...]
                macs = static_cast<double>(r.out.numel()) * static_cast<double>(w.numel() / w[0]);
            }
            out.push_back({r.name,
                           std::string(r.layer->kind()),
                           r.in,
                           r.out,
                           median(r.forward),
                           r.backward.empty() ? 0.0 : median(r.backward),
                           macs});
        }
        return out;
    }

private:
    struct Row {
        std::string name;
        const nn::Layer* layer = nullptr;
        TensorShape in;
        TensorShape out;
        std::vector<double> forward;
        std::vector<double> backward;
    };

    std::map<const nn::Layer*, std::size_t> index_;
    std::vector<Row> rows_;
};

// The per-layer table: each layer's medians, and those of the whole passes around them.
struct LayerTable {
    std::vector<LayerTiming> layers;
    double forwardSeconds = 0.0;
    double backwardSeconds = 0.0;
    double noLayerForwardSeconds = 0.0;
    double noLayerBackwardSeconds = 0.0;
};

// Times every layer inside whole forward + loss + backward passes of the real model (the
// sequential trainer's path, so caches and scratch buffers are as in training): one untimed
// pass, then layerReps timed ones; medians per layer, and of the whole forward and backward
// passes (the loss between them left out), which also hold what is in no layer: the residual
// adds and the BasicBlocks' rebuilt conv2 inputs.
LayerTable timeLayers(const BenchSpec& b) {
    const model::ResNet net(b.model);
    model::ModelState state = model::ModelState::create(net, b.seed);
    AlignedBuffer grads(net.weightCount());
    const pipeline::MiniBatch batch = syntheticBatch(net, b.batchSize, b.seed);
    std::vector<model::UnitContext> ctxs;
    LayerTimes times;
    std::vector<double> forwardPasses;
    std::vector<double> backwardPasses;
    const auto pass = [&](model::LayerObserver* observer) {
        const auto t0 = Clock::now();
        const Tensor logits = model::forwardUnits(net,
                                                  0,
                                                  net.unitCount(),
                                                  state.weights.span(),
                                                  state.buffers.span(),
                                                  batch.images,
                                                  ctxs,
                                                  nn::Mode::Train,
                                                  observer);
        const double forwardSeconds = secondsSince(t0);
        const nn::LossResult loss = nn::softmaxCrossEntropy(logits, batch.labels);
        const auto t1 = Clock::now();
        model::backwardUnits(net,
                             0,
                             net.unitCount(),
                             state.weights.span(),
                             loss.gradLogits,
                             ctxs,
                             grads.span(),
                             observer);
        if (observer != nullptr) {
            forwardPasses.push_back(forwardSeconds);
            backwardPasses.push_back(secondsSince(t1));
        }
    };
    tbb::task_arena arena(threadCount(b.threads));
    arena.execute([&] {
        pass(nullptr);  // warms the scratch buffers, the block cache and the caches
        for (std::int64_t rep = 0; rep < b.layerReps; ++rep) {
            pass(&times);
        }
    });
    std::vector<double> noLayerForward;
    std::vector<double> noLayerBackward;
    for (std::size_t rep = 0; rep < forwardPasses.size(); ++rep) {
        noLayerForward.push_back(forwardPasses[rep] - times.passSum(rep, false));
        noLayerBackward.push_back(backwardPasses[rep] - times.passSum(rep, true));
    }
    return {times.timings(),
            median(forwardPasses),
            median(backwardPasses),
            median(noLayerForward),
            median(noLayerBackward)};
}

// One pass of the units one by one (forward in Train mode, loss, backward in reverse, one update
// of each unit's weights), each call timed alone; false when `stop` came first.
struct UnitPass {
    const model::ResNet& net;
    model::ModelState& state;
    const optim::Optimizer& optimizer;
    const pipeline::MiniBatch& batch;
    std::vector<std::vector<model::UnitContext>> ctxs;  // one per unit
    std::vector<AlignedBuffer> grads;                   // one per unit
    std::vector<AlignedBuffer> optimizerState;          // one per unit
    std::int64_t steps = 0;

    bool run(std::vector<UnitTiming>* out, std::stop_token stop) {
        const std::size_t n = net.unitCount();
        std::vector<Tensor> inputs{batch.images};
        ++steps;
        for (std::size_t u = 0; u < n; ++u) {
            const auto t0 = Clock::now();
            inputs.push_back(model::forwardUnits(net,
                                                 u,
                                                 u + 1,
                                                 state.unitWeights(net, u),
                                                 state.unitBuffers(net, u),
                                                 inputs.back(),
                                                 ctxs[u],
                                                 nn::Mode::Train));
            record(out, u, &UnitTiming::forwardSeconds, t0);
        }
        Tensor grad = nn::softmaxCrossEntropy(inputs.back(), batch.labels).gradLogits;
        for (std::size_t u = n; u-- > 0;) {
            if (stop.stop_requested()) {
                return false;
            }
            const std::span<float> w = state.unitWeights(net, u);
            const auto t0 = Clock::now();
            grad = model::backwardUnits(net, u, u + 1, w, grad, ctxs[u], grads[u].span());
            record(out, u, &UnitTiming::backwardSeconds, t0);
            const std::array<std::size_t, 1> ends{w.size()};  // one tensor: Lamb's layout aside
            const auto t1 = Clock::now();
            optimizer.step(w,
                           grads[u].span(),
                           optimizerState[u].span(),
                           steps,
                           0.01F,
                           w.empty() ? std::span<const std::size_t>{} : ends);
            record(out, u, &UnitTiming::updateSeconds, t1);
        }
        return true;
    }

    static void record(std::vector<UnitTiming>* out,
                       std::size_t u,
                       double UnitTiming::*field,
                       Clock::time_point t0) {
        if (out != nullptr) {
            (*out)[u].*field = secondsSince(t0);
        }
    }
};

// Multiply-adds of one image's forward (convolutions and the classifier), counted by observing
// an evaluation pass of a batch of one through the real model.
double modelMacsPerImage(const model::ResNetSpec& spec, std::uint64_t seed) {
    const model::ResNet net(spec);
    model::ModelState state = model::ModelState::create(net, seed);
    Rng rng(seed + 1);
    std::vector<model::UnitContext> ctxs;
    LayerTimes calls;
    model::forwardUnits(net,
                        0,
                        net.unitCount(),
                        state.weights.span(),
                        state.buffers.span(),
                        randomTensor(net.inputShape(1), rng),
                        ctxs,
                        nn::Mode::Eval,
                        &calls);
    double macs = 0.0;
    for (const LayerTiming& t : calls.timings()) {
        macs += t.macs;
    }
    return macs;
}

// Full training steps (forward, loss, backward, SGD momentum update) through the pipeline
// engine, on one fixed synthetic minibatch so that no data loading is measured.
TrainTiming timeTraining(const BenchSpec& b) {
    const model::ResNet net(b.model);
    pipeline::PipelineSpec ps;  // SGD, momentum 0.9, weight decay 5e-4 (the config defaults)
    ps.cuts = b.cuts;
    ps.policy = b.policy.value_or(ps.policy);
    const auto stageCount = static_cast<std::int32_t>(ps.cuts.size() + 1);
    telemetry::Recorder recorder(stageCount, b.telemetry);
    // The initial weights live only while the stages copy them, as in Trainer, not through the
    // timed steps (measured: peak RSS of width 64 batch 128 1172.3-1172.9 -> 1166.8 MiB, Zen 5,
    // AVX2 path; width 64 batch 32 and width 16 batch 128 unchanged).
    pipeline::PipelineCore pcore(net, model::ModelState::create(net, b.seed), ps, &recorder);
    pipeline::Engine engine(pcore, static_cast<int>(b.threads));

    const pipeline::MiniBatch batch = syntheticBatch(net, b.batchSize, b.seed);
    const pipeline::BatchSource source = [&batch](std::int64_t, std::int64_t) {
        return batch;
    };
    const pipeline::LrFunction lr = [](std::int64_t) {
        return 0.01F;
    };
    if (b.warmup > 0) {
        engine.runEpoch(0, b.warmup, source, lr, 0, 0);
        recorder.drain();
    }
    const double cpu0 = cpuSeconds();
    const auto t0 = Clock::now();
    const auto outcome = engine.runEpoch(1, b.steps, source, lr, b.warmup, 0);
    TrainTiming r;
    r.seconds = secondsSince(t0);
    r.cpuSeconds = cpuSeconds() - cpu0;
    r.peakRssKib = peakRssKib();
    recorder.drain();
    r.images = outcome.stats.samples;
    r.loss = outcome.stats.minibatches > 0
                 ? outcome.stats.lossSum / static_cast<double>(outcome.stats.minibatches)
                 : 0.0;
    r.nonFinite = outcome.stats.nonFinite;
    r.stages = stageCount;
    r.threads = engine.threads();
    return r;
}

// The FP32 multiply-add peak of every path this CPU supports, measured with `threads` threads
// (the probe of core/tensor/fma_peak.hpp), baseline first.
std::vector<IsaPeak> measurePeaks(std::int64_t threads) {
    std::vector<IsaPeak> peaks;
    const int n = threadCount(threads);
    tbb::task_arena arena(n);
    arena.execute([&] {
        for (Isa isa : supportedIsas()) {
            peaks.push_back({isa, measureFmaPeakGflops(isa, n)});
        }
    });
    return peaks;
}

}  // namespace

std::vector<UnitTiming> timeUnits(const BenchSpec& b,
                                  const optim::OptimizerConfig& optimizer,
                                  std::stop_token stop) {
    LP_EXPECTS(b.batchSize >= 1 && b.layerReps >= 1, "timeUnits: batch >= 1, layerReps >= 1");
    model::validate(b.model);
    const model::ResNet net(b.model);
    model::ModelState state = model::ModelState::create(net, b.seed);
    const optim::Optimizer opt(optimizer);
    const pipeline::MiniBatch batch = syntheticBatch(net, b.batchSize, b.seed);
    UnitPass pass{.net = net,
                  .state = state,
                  .optimizer = opt,
                  .batch = batch,
                  .ctxs = {},
                  .grads = {},
                  .optimizerState = {},
                  .steps = 0};
    for (std::size_t u = 0; u < net.unitCount(); ++u) {
        const std::size_t p = state.unitWeights(net, u).size();
        pass.ctxs.emplace_back(1);
        pass.grads.emplace_back(p);
        pass.optimizerState.emplace_back(opt.stateSize(p));
    }
    std::vector<std::vector<UnitTiming>> reps(static_cast<std::size_t>(b.layerReps),
                                              std::vector<UnitTiming>(net.unitCount()));
    bool whole = true;
    tbb::task_arena arena(threadCount(b.threads));
    arena.execute([&] {
        whole = pass.run(nullptr, stop);  // warms the scratch buffers and the caches
        for (std::size_t r = 0; whole && r < reps.size(); ++r) {
            whole = pass.run(&reps[r], stop);
        }
    });
    std::vector<UnitTiming> out;
    for (std::size_t u = 0; whole && u < net.unitCount(); ++u) {
        const auto medianOf = [&reps, u](double UnitTiming::*field) {
            std::vector<double> v;
            for (const std::vector<UnitTiming>& rep : reps) {
                v.push_back(rep[u].*field);
            }
            return median(v);
        };
        out.push_back({.name = net.unit(u).name(),
                       .forwardSeconds = medianOf(&UnitTiming::forwardSeconds),
                       .backwardSeconds = medianOf(&UnitTiming::backwardSeconds),
                       .updateSeconds = medianOf(&UnitTiming::updateSeconds)});
    }
    return out;
}

BenchReport runBenchmark(const BenchSpec& b) {
    LP_EXPECTS(
        b.batchSize >= 2 && b.steps >= 1 && b.warmup >= 0 && b.threads >= 0 && b.layerReps >= 1,
        "runBenchmark: batch >= 2, steps >= 1, warmup >= 0, threads >= 0, layerReps >= 1");
    model::validate(b.model);
    BenchReport r;
    r.train = timeTraining(b);  // first, so that the peak RSS is the training step's alone
    if (b.layers) {
        LayerTable table = timeLayers(b);
        r.layers = std::move(table.layers);
        r.passForwardSeconds = table.forwardSeconds;
        r.passBackwardSeconds = table.backwardSeconds;
        r.noLayerForwardSeconds = table.noLayerForwardSeconds;
        r.noLayerBackwardSeconds = table.noLayerBackwardSeconds;
    }
    r.peaks = measurePeaks(b.threads);
    for (const IsaPeak& p : r.peaks) {
        if (p.isa == activeIsa()) {
            r.activePeakGflops = p.gflops;
        }
    }
    r.macsPerImage = modelMacsPerImage(b.model, b.seed);
    r.imagesPerSecond = static_cast<double>(r.train.images) / r.train.seconds;
    // 2 FLOPs per multiply-add; backward costs twice the forward (input and weight gradients).
    r.trainGflops = r.imagesPerSecond * r.macsPerImage * 2.0 * 3.0 * 1e-9;
    return r;
}

}  // namespace lp::core::session
