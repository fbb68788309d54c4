// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/bench_command.hpp"

#include "core/error.hpp"
#include "core/session/bench.hpp"
#include "core/tensor/gemm.hpp"
#include "core/tensor/isa.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <utility>
#include <vector>

namespace lp::app {

namespace {

using core::InputError;
using core::session::BenchReport;
using core::session::LayerTiming;

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

// --policy: the weight policy it names. The one place the bench reads a policy's name.
core::pipeline::WeightPolicy parsePolicy(const std::string& name) {
    const auto p = core::pipeline::parseWeightPolicy(name);
    if (!p) {
        throw InputError("--policy expects " + core::allowedChoices<core::WeightPolicy>() +
                         ", got '" + name + "'");
    }
    return *p;
}

// The benchmark the options describe; InputError for a bad option, in the order the old
// command checked them (image, counts, model, stages, policy).
core::session::BenchSpec benchSpec(const BenchOptions& o) {
    const auto [channels, size] = parseImage(o.image);
    if (o.batchSize < 2 || o.steps < 1 || o.warmup < 0 || o.threads < 0 || o.layerReps < 1) {
        throw InputError(
            "bench needs --batch-size >= 2, --steps >= 1, --warmup >= 0, "
            "--threads >= 0 and --layer-reps >= 1");
    }
    core::model::ResNetSpec model;
    model.width = o.width;
    model.inChannels = channels;
    model.inSize = size;
    model.classes = o.classes;
    core::session::BenchSpec spec{.model = model,
                                  .batchSize = o.batchSize,
                                  .threads = o.threads,
                                  .steps = o.steps,
                                  .warmup = o.warmup,
                                  .cuts = {},
                                  .policy = std::nullopt,
                                  .telemetry = !o.noTelemetry,
                                  .layers = o.layers,
                                  .layerReps = o.layerReps,
                                  .seed = o.seed};
    core::model::validate(spec.model);
    if (o.stages) {
        spec.cuts = parseInts(*o.stages, "--stages");
    }
    if (o.policy) {
        spec.policy = parsePolicy(*o.policy);
    }
    return spec;
}

std::string fixed(double v, int precision) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(precision) << v;
    return os.str();
}

// "12.3%" of the peak, or "-" for layers without multiply-adds.
std::string percentOf(double gflops, double peak) {
    return gflops > 0.0 && peak > 0.0 ? fixed(100.0 * gflops / peak, 1) + "%" : "-";
}

// A fraction of the peak for the JSON, 0 without multiply-adds or a peak.
double fractionOf(double gflops, double peak) {
    return gflops > 0.0 && peak > 0.0 ? gflops / peak : 0.0;
}

nlohmann::json layersJson(const BenchReport& r) {
    nlohmann::json arr = nlohmann::json::array();
    const double peak = r.activePeakGflops;
    for (const LayerTiming& l : r.layers) {
        arr.push_back({{"name", l.name},
                       {"kind", l.kind},
                       {"input", l.in.str()},
                       {"output", l.out.str()},
                       {"forward_ms", 1e3 * l.forwardSeconds},
                       {"backward_ms", 1e3 * l.backwardSeconds},
                       {"forward_gflops", l.forwardGflops()},
                       {"backward_gflops", l.backwardGflops()},
                       {"forward_fraction_of_peak", fractionOf(l.forwardGflops(), peak)},
                       {"backward_fraction_of_peak", fractionOf(l.backwardGflops(), peak)}});
    }
    return arr;
}

// One JSON object (scripts/compare_pytorch.py reads it).
void printJson(const BenchOptions& o, const BenchReport& r) {
    nlohmann::json j;
    j["config"] = {{"width", o.width},
                   {"batch_size", o.batchSize},
                   {"image", o.image},
                   {"classes", o.classes},
                   {"threads", r.train.threads},
                   {"steps", o.steps},
                   {"warmup", o.warmup},
                   {"stages", r.train.stages},
                   {"telemetry", !o.noTelemetry}};
    j["images_per_second"] = r.imagesPerSecond;
    j["step_ms"] = 1e3 * r.train.seconds / static_cast<double>(o.steps);
    j["step_cpu_ms"] = 1e3 * r.train.cpuSeconds / static_cast<double>(o.steps);
    j["gemm"] = core::gemmBackend();
    j["gemm_kernels"] = core::gemmKernelSet();
    j["isa"] = core::isaName(core::activeIsa());
    j["cpu"] = core::cpuName();
    for (const auto& [isa, gflops] : r.peaks) {
        j["fma_peak_gflops"][std::string(core::isaName(isa))] = gflops;
    }
    j["train_gflops"] = r.trainGflops;
    j["peak_rss_kib"] = r.train.peakRssKib;
    j["loss"] = r.train.loss;
    j["non_finite"] = r.train.nonFinite;
    j["layers"] = layersJson(r);
    if (!r.layers.empty()) {
        j["passes"] = {{"forward_ms", 1e3 * r.passForwardSeconds},
                       {"backward_ms", 1e3 * r.passBackwardSeconds},
                       {"no_layer_forward_ms", 1e3 * r.noLayerForwardSeconds},
                       {"no_layer_backward_ms", 1e3 * r.noLayerBackwardSeconds}};
    }
    std::cout << j.dump(2) << "\n";
}

// The header lines: the run, the CPU and the peak of every kernel path.
void printHeader(const BenchOptions& o, const BenchReport& r) {
    std::cout << "ResNet-18 width " << o.width << ", " << o.image << ", " << o.classes
              << " classes, batch " << o.batchSize << ", " << r.train.threads << " thread(s), "
              << r.train.stages << " stage(s), telemetry " << (o.noTelemetry ? "off" : "on") << "\n"
              << core::cpuReport() << "\n"
              << "FP32 multiply-add peak (register-loop probe, " << r.train.threads
              << " thread(s)):";
    for (const auto& [isa, gflops] : r.peaks) {
        std::cout << " " << core::isaName(isa) << " " << fixed(gflops, 1) << " GFLOP/s"
                  << (isa == core::activeIsa() ? " (in use)" : "") << ";";
    }
    std::cout << "\n";
}

// The per-layer table and its sums.
void printLayers(const BenchReport& r) {
    const double peak = r.activePeakGflops;
    std::cout << std::left << std::setw(26) << "layer" << std::setw(20) << "input" << std::right
              << std::setw(10) << "fwd ms" << std::setw(10) << "GFLOP/s" << std::setw(8)
              << "of peak" << std::setw(10) << "bwd ms" << std::setw(10) << "GFLOP/s"
              << std::setw(8) << "of peak"
              << "\n";
    double fwdTotal = 0.0;
    double bwdTotal = 0.0;
    for (const LayerTiming& l : r.layers) {
        fwdTotal += l.forwardSeconds;
        bwdTotal += l.backwardSeconds;
        const double fwd = l.forwardGflops();
        const double bwd = l.backwardGflops();
        std::cout << std::left << std::setw(26) << l.name << std::setw(20) << l.in.str()
                  << std::right << std::setw(10) << fixed(1e3 * l.forwardSeconds, 2)
                  << std::setw(10) << (l.macs > 0 ? fixed(fwd, 1) : "-") << std::setw(8)
                  << percentOf(fwd, peak) << std::setw(10) << fixed(1e3 * l.backwardSeconds, 2)
                  << std::setw(10) << (l.macs > 0 ? fixed(bwd, 1) : "-") << std::setw(8)
                  << percentOf(bwd, peak) << "\n";
    }
    const auto sumLine = [](const std::string& what, double fwd, double bwd) {
        std::cout << std::left << std::setw(46) << what << std::right << std::setw(10)
                  << fixed(1e3 * fwd, 2) << std::setw(18) << "" << std::setw(10)
                  << fixed(1e3 * bwd, 2) << "\n";
    };
    sumLine("sum of layers", fwdTotal, bwdTotal);
    sumLine("whole passes (medians)", r.passForwardSeconds, r.passBackwardSeconds);
    sumLine("  in no layer: residual adds, rebuilt inputs",
            r.noLayerForwardSeconds,
            r.noLayerBackwardSeconds);
    std::cout << "GFLOP/s count a direct convolution's multiply-adds (2 FLOPs each): Winograd "
                 "layers do 2.25x fewer, so their share of the peak can pass 100%.\n";
}

// The training lines: time, rate, loss, CPU time and peak memory.
void printTraining(const BenchOptions& o, const BenchReport& r) {
    const double steps = static_cast<double>(o.steps);
    std::cout << "training: " << o.steps << " steps in " << fixed(r.train.seconds, 3) << " s, "
              << fixed(1e3 * r.train.seconds / steps, 1) << " ms/step, "
              << fixed(r.imagesPerSecond, 1) << " images/s, " << fixed(r.trainGflops, 1)
              << " GFLOP/s, mean loss " << fixed(r.train.loss, 4) << "\n"
              << "CPU time: " << fixed(1e3 * r.train.cpuSeconds / steps, 1)
              << " ms/step (all threads; GEMM backend " << core::gemmBackend() << ")\n"
              << "peak RSS (training): "
              << fixed(static_cast<double>(r.train.peakRssKib) / 1024.0, 1) << " MiB\n";
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
    b->add_option(
        "--policy", o.policy, core::allowedChoices<core::WeightPolicy>() + " (with --stages)");
    b->add_flag("--no-telemetry", o.noTelemetry, "do not record op events");
    b->add_flag("!--no-layers", o.layers, "skip the per-layer timings");
    b->add_option(
        "--layer-reps", o.layerReps, "timed forward+backward passes for the per-layer table");
    b->add_flag("--json", o.json, "print one JSON object instead of tables");
    b->add_option("--seed", o.seed, "seed of the weights and the synthetic batch");
    return b;
}

int runBench(const BenchOptions& o) {
    const BenchReport r = core::session::runBenchmark(benchSpec(o));
    if (o.json) {
        printJson(o, r);
    } else {
        printHeader(o, r);
        if (!r.layers.empty()) {
            printLayers(r);
        }
        printTraining(o, r);
    }
    return r.train.nonFinite ? 3 : 0;
}

}  // namespace lp::app
