// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/bench_command.hpp"

#include "core/error.hpp"
#include "core/model/resnet.hpp"
#include "core/nn/loss.hpp"
#include "core/pipeline/engine.hpp"
#include "core/pipeline/runner.hpp"
#include "core/telemetry/recorder.hpp"
#include "core/tensor/fma_peak.hpp"
#include "core/tensor/gemm.hpp"
#include "core/tensor/isa.hpp"
#include "core/tensor/rng.hpp"

#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

namespace lp::app {

namespace {

using core::InputError;
using core::Tensor;
using core::TensorShape;
namespace nn = core::nn;
namespace model = core::model;
namespace pipeline = core::pipeline;

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

// Peak resident set of this process so far, in KiB (Linux reports ru_maxrss in KiB).
long peakRssKib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

std::vector<std::int64_t> parseInts(const std::string& text, const char* what) {
    std::vector<std::int64_t> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            std::size_t used = 0;
            out.push_back(std::stoll(item, &used));
            if (used != item.size()) {
                throw std::invalid_argument(item);
            }
        } catch (const std::exception&) {
            throw InputError(
                core::concat(what, " expects integers separated by commas, got '", text, "'"));
        }
    }
    return out;
}

// "3x32x32" -> {3, 32}; the image must be square (the model's inputs are).
std::pair<std::int64_t, std::int64_t> parseImage(const std::string& text) {
    std::string spaced = text;
    std::replace(spaced.begin(), spaced.end(), 'x', ',');
    std::vector<std::int64_t> dims;
    try {
        dims = parseInts(spaced, "--image");
    } catch (const InputError&) {
        dims.clear();
    }
    if (dims.size() != 3 || dims[1] != dims[2]) {
        throw InputError("--image expects CxHxW with H == W, e.g. 3x32x32 or 1x28x28, got '" +
                         text + "'");
    }
    return {dims[0], dims[1]};
}

Tensor randomTensor(const TensorShape& shape, core::Rng& rng) {
    Tensor t(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        t[i] = rng.normal();
    }
    return t;
}

struct LayerTiming {
    std::string name;
    std::string kind;
    TensorShape in;
    TensorShape out;
    double forwardSeconds = 0.0;   // median over the timed passes
    double backwardSeconds = 0.0;  // median over the timed passes
    double macs = 0.0;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Collects the layer calls of the real model (model::LayerObserver), keyed by layer object, in
// first-call order: every layer of the sequential model with its torchvision-style name.
class LayerTimes final : public model::LayerObserver {
public:
    void layerDone(const std::string& name, const nn::Layer& layer, const TensorShape& in,
                   const TensorShape& out, bool backward, double seconds) override {
        const auto [it, fresh] = index_.try_emplace(&layer, rows_.size());
        if (fresh) {
            rows_.push_back(
                {.name = name, .layer = &layer, .in = in, .out = out, .forward = {}, .backward = {}});
        }
        Row& r = rows_[it->second];
        (backward ? r.backward : r.forward).push_back(seconds);
    }

    std::vector<LayerTiming> timings() const {
        std::vector<LayerTiming> out;
        for (const Row& r : rows_) {
            double macs = 0.0;  // conv and fc: every output element is one dot product
            if (r.layer->kind() == "Conv2d" || r.layer->kind() == "Linear") {
                const TensorShape w = r.layer->params().front().shape;  // [out, in, ...]
                macs = static_cast<double>(r.out.numel()) *
                       static_cast<double>(w.numel() / w[0]);
            }
            out.push_back({r.name, std::string(r.layer->kind()), r.in, r.out, median(r.forward),
                           r.backward.empty() ? 0.0 : median(r.backward), macs});
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

// Times every layer inside whole forward + loss + backward passes of the real model (the
// sequential trainer's path, so caches and scratch buffers are as in training): one untimed
// pass, then layerReps timed ones; medians per layer. Residual adds are not layers.
std::vector<LayerTiming> timeLayers(const model::ResNetSpec& spec, const BenchOptions& o) {
    const model::ResNet net(spec);
    model::ModelState state = model::ModelState::create(net, o.seed);
    core::AlignedBuffer grads(net.weightCount());
    core::Rng rng(o.seed + 1);
    const Tensor x = randomTensor(net.inputShape(o.batchSize), rng);
    std::vector<std::int32_t> labels;
    for (std::int64_t i = 0; i < o.batchSize; ++i) {
        labels.push_back(static_cast<std::int32_t>(i % spec.classes));
    }
    std::vector<model::UnitContext> ctxs;
    const auto pass = [&] {
        const Tensor logits = model::forwardUnits(net, 0, net.unitCount(), state.weights.span(),
                                                  state.buffers.span(), x, ctxs, nn::Mode::Train);
        const nn::LossResult loss = nn::softmaxCrossEntropy(logits, labels);
        model::backwardUnits(net, 0, net.unitCount(), state.weights.span(), loss.gradLogits, ctxs,
                             grads.span());
    };
    LayerTimes times;
    tbb::task_arena arena(o.threads > 0 ? static_cast<int>(o.threads)
                                        : tbb::info::default_concurrency());
    arena.execute([&] {
        pass();  // warms the scratch buffers, the block cache and the caches
        const model::ScopedLayerObserver observing(times);
        for (std::int64_t rep = 0; rep < o.layerReps; ++rep) {
            pass();
        }
    });
    return times.timings();
}

// Multiply-adds of one image's forward (convolutions and the classifier), counted by observing
// an evaluation pass of a batch of one through the real model.
double modelMacsPerImage(const model::ResNetSpec& spec, std::uint64_t seed) {
    const model::ResNet net(spec);
    model::ModelState state = model::ModelState::create(net, seed);
    core::Rng rng(seed + 1);
    std::vector<model::UnitContext> ctxs;
    LayerTimes calls;
    {
        const model::ScopedLayerObserver observing(calls);
        model::forwardUnits(net, 0, net.unitCount(), state.weights.span(), state.buffers.span(),
                            randomTensor(net.inputShape(1), rng), ctxs, nn::Mode::Eval);
    }
    double macs = 0.0;
    for (const LayerTiming& t : calls.timings()) {
        macs += t.macs;
    }
    return macs;
}

struct TrainResult {
    double seconds = 0.0;
    double cpuSeconds = 0.0;
    std::int64_t images = 0;
    double loss = 0.0;
    bool nonFinite = false;
    std::int64_t stages = 1;
    int threads = 0;
    long peakRssKib = 0;
};

// Full training steps (forward, loss, backward, SGD momentum update) through the pipeline
// engine, on one fixed synthetic minibatch so that no data loading is measured.
TrainResult timeTraining(const model::ResNetSpec& spec, const BenchOptions& o) {
    const model::ResNet net(spec);
    const model::ModelState init = model::ModelState::create(net, o.seed);
    pipeline::PipelineSpec ps;  // SGD, momentum 0.9, weight decay 5e-4 (the config defaults)
    if (o.stages) {
        ps.cuts = parseInts(*o.stages, "--stages");
    }
    if (o.policy) {
        const auto p = pipeline::parseWeightPolicy(*o.policy);
        if (!p) {
            throw InputError("--policy expects latest | stash | ema | momentum, got '" + *o.policy + "'");
        }
        ps.policy = *p;
    }
    const auto stageCount = static_cast<std::int32_t>(ps.cuts.size() + 1);
    core::telemetry::Recorder recorder(stageCount, !o.noTelemetry);
    pipeline::PipelineCore pcore(net, init, ps, &recorder);
    pipeline::Engine engine(pcore, static_cast<int>(o.threads));

    core::Rng rng(o.seed + 1);
    pipeline::MiniBatch batch{.images = randomTensor(net.inputShape(o.batchSize), rng),
                              .labels = {}};
    for (std::int64_t i = 0; i < o.batchSize; ++i) {
        batch.labels.push_back(static_cast<std::int32_t>(i % spec.classes));
    }
    const pipeline::BatchSource source = [&batch](std::int64_t, std::int64_t) {
        return batch;
    };
    const pipeline::LrFunction lr = [](std::int64_t) {
        return 0.01F;
    };

    if (o.warmup > 0) {
        engine.runEpoch(0, o.warmup, source, lr, 0, 0);
        recorder.drain();
    }
    const double cpu0 = cpuSeconds();
    const auto t0 = Clock::now();
    const auto outcome = engine.runEpoch(1, o.steps, source, lr, o.warmup, 0);
    TrainResult r;
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

std::string fixed(double v, int precision) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(precision) << v;
    return os.str();
}

}  // namespace

CLI::App* addBenchCommand(CLI::App& app, BenchOptions& o) {
    CLI::App* b = app.add_subcommand(
        "bench", "training throughput (synthetic data), per-layer times and GFLOP/s, peak RSS");
    b->add_option("--width", o.width, "ResNet base width (64 = real ResNet-18)");
    b->add_option("--batch-size", o.batchSize, "minibatch size");
    b->add_option("--image", o.image, "input CxHxW, e.g. 3x32x32 or 1x28x28");
    b->add_option("--classes", o.classes, "classes of the classifier");
    b->add_option("--threads", o.threads, "worker threads (0 = all cores)");
    b->add_option("--steps", o.steps, "timed training steps");
    b->add_option("--warmup", o.warmup, "untimed training steps before");
    b->add_option("--stages", o.stages, "cut points between the 10 units, e.g. 3,5,7 (K > 1)");
    b->add_option("--policy", o.policy, "latest | stash | ema | momentum (with --stages)");
    b->add_flag("--no-telemetry", o.noTelemetry, "do not record op events");
    b->add_flag("!--no-layers", o.layers, "skip the per-layer timings");
    b->add_option("--layer-reps", o.layerReps, "timed forward+backward passes for the per-layer table");
    b->add_flag("--json", o.json, "print one JSON object instead of tables");
    b->add_option("--seed", o.seed, "seed of the weights and the synthetic batch");
    return b;
}

namespace {

// The FP32 multiply-add peak of every path this CPU supports, measured with `threads` threads
// (the probe of core/tensor/fma_peak.hpp), baseline first.
std::vector<std::pair<core::Isa, double>> measurePeaks(std::int64_t threads) {
    std::vector<std::pair<core::Isa, double>> peaks;
    const int n = threads > 0 ? static_cast<int>(threads) : tbb::info::default_concurrency();
    tbb::task_arena arena(n);
    arena.execute([&] {
        for (core::Isa isa : core::supportedIsas()) {
            peaks.emplace_back(isa, core::measureFmaPeakGflops(isa, n));
        }
    });
    return peaks;
}

// "12.3%" of the peak, or "-" for layers without multiply-adds.
std::string percentOf(double gflops, double peak) {
    return gflops > 0.0 && peak > 0.0 ? fixed(100.0 * gflops / peak, 1) + "%" : "-";
}

}  // namespace

int runBench(const BenchOptions& o) {
    const auto [channels, size] = parseImage(o.image);
    if (o.batchSize < 2 || o.steps < 1 || o.warmup < 0 || o.threads < 0 || o.layerReps < 1) {
        throw InputError(
            "bench needs --batch-size >= 2, --steps >= 1, --warmup >= 0, "
            "--threads >= 0 and --layer-reps >= 1");
    }
    model::ResNetSpec spec;
    spec.width = o.width;
    spec.inChannels = channels;
    spec.inSize = size;
    spec.classes = o.classes;
    model::validate(spec);

    // Training first, so that the peak RSS is the training step's alone.
    const TrainResult train = timeTraining(spec, o);
    const std::vector<LayerTiming> layers =
        o.layers ? timeLayers(spec, o) : std::vector<LayerTiming>{};

    const std::vector<std::pair<core::Isa, double>> peaks = measurePeaks(o.threads);
    double peak = 0.0;  // of the active path
    for (const auto& [isa, gflops] : peaks) {
        if (isa == core::activeIsa()) {
            peak = gflops;
        }
    }

    const double macsPerImage = modelMacsPerImage(spec, o.seed);
    const double imagesPerSecond = static_cast<double>(train.images) / train.seconds;
    // 2 FLOPs per multiply-add; backward costs twice the forward (input and weight gradients).
    const double trainGflops = imagesPerSecond * macsPerImage * 2.0 * 3.0 * 1e-9;

    if (o.json) {
        nlohmann::json j;
        j["config"] = {{"width", o.width},
                       {"batch_size", o.batchSize},
                       {"image", o.image},
                       {"classes", o.classes},
                       {"threads", train.threads},
                       {"steps", o.steps},
                       {"warmup", o.warmup},
                       {"stages", train.stages},
                       {"telemetry", !o.noTelemetry}};
        j["images_per_second"] = imagesPerSecond;
        j["step_ms"] = 1e3 * train.seconds / static_cast<double>(o.steps);
        j["step_cpu_ms"] = 1e3 * train.cpuSeconds / static_cast<double>(o.steps);
        j["gemm"] = core::gemmBackend();
        j["gemm_kernels"] = core::gemmKernelSet();
        j["isa"] = core::isaName(core::activeIsa());
        j["cpu"] = core::cpuName();
        for (const auto& [isa, gflops] : peaks) {
            j["fma_peak_gflops"][std::string(core::isaName(isa))] = gflops;
        }
        j["train_gflops"] = trainGflops;
        j["peak_rss_kib"] = train.peakRssKib;
        j["loss"] = train.loss;
        j["non_finite"] = train.nonFinite;
        nlohmann::json arr = nlohmann::json::array();
        for (const LayerTiming& l : layers) {
            arr.push_back(
                {{"name", l.name},
                 {"kind", l.kind},
                 {"input", l.in.str()},
                 {"output", l.out.str()},
                 {"forward_ms", 1e3 * l.forwardSeconds},
                 {"backward_ms", 1e3 * l.backwardSeconds},
                 {"forward_gflops", l.macs > 0 ? 2e-9 * l.macs / l.forwardSeconds : 0.0},
                 {"backward_gflops", l.macs > 0 ? 4e-9 * l.macs / l.backwardSeconds : 0.0},
                 {"forward_fraction_of_peak",
                  l.macs > 0 && peak > 0.0 ? 2e-9 * l.macs / l.forwardSeconds / peak : 0.0},
                 {"backward_fraction_of_peak",
                  l.macs > 0 && peak > 0.0 ? 4e-9 * l.macs / l.backwardSeconds / peak : 0.0}});
        }
        j["layers"] = arr;
        std::cout << j.dump(2) << "\n";
        return train.nonFinite ? 3 : 0;
    }

    std::cout << "ResNet-18 width " << o.width << ", " << o.image << ", " << o.classes
              << " classes, batch " << o.batchSize << ", " << train.threads << " thread(s), "
              << train.stages << " stage(s), telemetry " << (o.noTelemetry ? "off" : "on") << "\n"
              << core::cpuReport() << "\n"
              << "FP32 multiply-add peak (register-loop probe, " << train.threads << " thread(s)):";
    for (const auto& [isa, gflops] : peaks) {
        std::cout << " " << core::isaName(isa) << " " << fixed(gflops, 1) << " GFLOP/s"
                  << (isa == core::activeIsa() ? " (in use)" : "") << ";";
    }
    std::cout << "\n";
    if (!layers.empty()) {
        std::cout << std::left << std::setw(26) << "layer" << std::setw(20) << "input" << std::right
                  << std::setw(10) << "fwd ms" << std::setw(10) << "GFLOP/s" << std::setw(8)
                  << "of peak" << std::setw(10) << "bwd ms" << std::setw(10) << "GFLOP/s"
                  << std::setw(8) << "of peak"
                  << "\n";
        double fwdTotal = 0.0;
        double bwdTotal = 0.0;
        for (const LayerTiming& l : layers) {
            fwdTotal += l.forwardSeconds;
            bwdTotal += l.backwardSeconds;
            const double fwd = l.macs > 0 ? 2e-9 * l.macs / l.forwardSeconds : 0.0;
            const double bwd = l.macs > 0 ? 4e-9 * l.macs / l.backwardSeconds : 0.0;
            std::cout << std::left << std::setw(26) << l.name << std::setw(20) << l.in.str()
                      << std::right << std::setw(10) << fixed(1e3 * l.forwardSeconds, 2)
                      << std::setw(10) << (l.macs > 0 ? fixed(fwd, 1) : "-") << std::setw(8)
                      << percentOf(fwd, peak) << std::setw(10)
                      << fixed(1e3 * l.backwardSeconds, 2) << std::setw(10)
                      << (l.macs > 0 ? fixed(bwd, 1) : "-") << std::setw(8) << percentOf(bwd, peak)
                      << "\n";
        }
        std::cout << std::left << std::setw(46) << "sum of layers (no residual adds)" << std::right
                  << std::setw(10) << fixed(1e3 * fwdTotal, 2) << std::setw(18) << ""
                  << std::setw(10) << fixed(1e3 * bwdTotal, 2) << "\n"
                  << "GFLOP/s count a direct convolution's multiply-adds (2 FLOPs each): Winograd "
                     "layers do 2.25x fewer, so their share of the peak can pass 100%.\n";
    }
    std::cout << "training: " << o.steps << " steps in " << fixed(train.seconds, 3) << " s, "
              << fixed(1e3 * train.seconds / static_cast<double>(o.steps), 1) << " ms/step, "
              << fixed(imagesPerSecond, 1) << " images/s, " << fixed(trainGflops, 1)
              << " GFLOP/s, mean loss " << fixed(train.loss, 4) << "\n"
              << "CPU time: " << fixed(1e3 * train.cpuSeconds / static_cast<double>(o.steps), 1)
              << " ms/step (all threads; GEMM backend " << core::gemmBackend() << ")\n"
              << "peak RSS (training): " << fixed(static_cast<double>(train.peakRssKib) / 1024.0, 1)
              << " MiB\n";
    return train.nonFinite ? 3 : 0;
}

}  // namespace lp::app
