// layerpipe: the command-line twin of LayerPipe Studio. Wiring only; the work lives in lp::core.
// SPDX-License-Identifier: GPL-3.0-or-later
#include <CLI/CLI.hpp>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app/bench_command.hpp"
#include "core/error.hpp"
#include "core/io/config.hpp"
#include "core/io/safetensors.hpp"
#include "core/session/trainer.hpp"
#include "core/tensor/isa.hpp"
#include "core/telemetry/exporters.hpp"
#include "core/telemetry/summary.hpp"

namespace {

using lp::core::InputError;
namespace core = lp::core;
namespace io = lp::core::io;
namespace session = lp::core::session;
namespace telemetry = lp::core::telemetry;

// Flags shared by train, run and eval; each one that was given overrides the config document.
struct CommonFlags {
    std::string config;
    std::vector<std::string> sets;  // key=value
    std::optional<std::string> dataset;
    std::optional<std::string> dataPath;
    std::optional<std::int64_t> width;
    std::optional<std::int64_t> epochs;
    std::optional<std::int64_t> batchSize;
    std::optional<double> lr;
    std::optional<std::uint64_t> seed;
    std::optional<std::int64_t> threads;
    std::optional<std::int64_t> maxSteps;
    std::optional<std::int64_t> trainLimit;
    std::optional<std::int64_t> testLimit;
    std::optional<std::string> optimizer;
    std::optional<std::string> schedule;
};

void addCommonFlags(CLI::App* app, CommonFlags& f) {
    app->add_option("-c,--config", f.config, "experiment JSON (the GUI's File > Save format)");
    app->add_option("--set", f.sets, "override any config key, e.g. --set training.epochs=3");
    app->add_option("--dataset", f.dataset,
                    "auto | cifar100 | cifar10 | fashion-mnist | mnist | synthetic");
    app->add_option("--data-path", f.dataPath, "folder with the dataset files (or LAYERPIPE_DATA)");
    app->add_option("--width", f.width, "ResNet base width (64 = real ResNet-18)");
    app->add_option("--epochs", f.epochs, "epochs to train");
    app->add_option("--batch-size", f.batchSize, "minibatch size");
    app->add_option("--lr", f.lr, "peak learning rate");
    app->add_option("--seed", f.seed, "seed for weights, shuffling and augmentation");
    app->add_option("--threads", f.threads, "worker threads (0 = all cores)");
    app->add_option("--max-steps", f.maxSteps, "cap on minibatches per epoch (quick runs)");
    app->add_option("--train-limit", f.trainLimit, "use only the first N training images");
    app->add_option("--test-limit", f.testLimit, "use only the first N test images");
    app->add_option("--optimizer", f.optimizer, "sgd | adam | adamw");
    app->add_option("--lr-schedule", f.schedule, "constant | step | cosine");
}

// base: the document used when no --config is given.
io::ExperimentConfig buildConfig(const CommonFlags& f, const io::ExperimentConfig& base = {}) {
    io::ExperimentConfig c = f.config.empty() ? base : io::loadConfig(f.config);
    auto set = [&c](const char* key, const std::string& value) { io::applyOverride(c, key, value); };
    if (f.dataset) {
        set("data.dataset", *f.dataset);
    }
    if (f.dataPath) {
        set("data.path", *f.dataPath);
    }
    if (f.width) {
        set("model.width", std::to_string(*f.width));
    }
    if (f.epochs) {
        set("training.epochs", std::to_string(*f.epochs));
    }
    if (f.batchSize) {
        set("training.batchSize", std::to_string(*f.batchSize));
    }
    if (f.lr) {
        std::ostringstream os;
        os << std::setprecision(17) << *f.lr;
        set("optimizer.lr", os.str());
    }
    if (f.seed) {
        set("training.seed", std::to_string(*f.seed));
    }
    if (f.threads) {
        set("training.threads", std::to_string(*f.threads));
    }
    if (f.maxSteps) {
        set("training.maxSteps", std::to_string(*f.maxSteps));
    }
    if (f.trainLimit) {
        set("data.trainLimit", std::to_string(*f.trainLimit));
    }
    if (f.testLimit) {
        set("data.testLimit", std::to_string(*f.testLimit));
    }
    if (f.optimizer) {
        set("optimizer.kind", *f.optimizer);
    }
    if (f.schedule) {
        set("schedule.kind", *f.schedule);
    }
    for (const std::string& kv : f.sets) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos) {
            throw InputError("--set expects key=value, got '" + kv + "'");
        }
        io::applyOverride(c, kv.substr(0, eq), kv.substr(eq + 1));
    }
    io::validate(c);
    return c;
}

std::string joinInts(const std::vector<std::int64_t>& v) {
    std::ostringstream os;
    for (std::size_t i = 0; i < v.size(); ++i) {
        os << (i ? "," : "") << v[i];
    }
    return os.str();
}

// Trains every epoch, printing a progress line to stderr; drains telemetry into `log`.
struct LoopResult {
    session::EpochReport last;
    double seconds = 0.0;
    bool nonFinite = false;
};

LoopResult trainLoop(session::Trainer& trainer, telemetry::Recorder& recorder,
                     telemetry::TelemetryLog& log) {
    const auto& exp = trainer.experiment();
    const std::int64_t epochs = exp.config.training.epochs;
    const std::int64_t steps = exp.stepsPerEpoch;
    const bool tty = isatty(fileno(stderr)) != 0;
    LoopResult result;
    const auto runStart = std::chrono::steady_clock::now();
    std::int64_t stepsDone = trainer.step();
    const std::int64_t stepsAtStart = stepsDone;
    float lastLoss = NAN;
    float lastAcc = NAN;
    while (!trainer.finished()) {
        const std::int64_t epoch = trainer.epoch();
        // Run in chunks of ticks (doubling until a chunk takes ~0.5 s) to report progress.
        std::int64_t chunk = 1;
        auto chunkStart = std::chrono::steady_clock::now();
        auto lastPrint = chunkStart;
        const auto budget = [&](std::int64_t doneTick) -> std::int64_t {
            const auto now = std::chrono::steady_clock::now();
            if (doneTick >= 0 && std::chrono::duration<double>(now - chunkStart).count() < 0.5) {
                chunk *= 2;
            }
            chunkStart = now;
            telemetry::TelemetryBatch b = recorder.drain();
            for (const auto& t : b.train) {
                lastLoss = t.loss;
                lastAcc = t.accuracy;
                stepsDone = t.step + 1;
            }
            log.append(std::move(b));
            if (stepsDone > stepsAtStart &&
                std::chrono::duration<double>(now - lastPrint).count() > 1.0) {
                lastPrint = now;
                const double elapsed = std::chrono::duration<double>(now - runStart).count();
                const std::int64_t doneHere = stepsDone - stepsAtStart;
                const std::int64_t total = epochs * steps;
                const double rate = doneHere > 0 ? elapsed / static_cast<double>(doneHere) : 0.0;
                std::ostringstream os;
                os << "epoch " << epoch + 1 << "/" << epochs << "  step "
                   << std::max<std::int64_t>(stepsDone - epoch * steps, 0) << "/" << steps << "  loss " << std::fixed
                   << std::setprecision(4) << lastLoss << "  acc " << std::setprecision(1)
                   << 100.0F * lastAcc << "%  "
                   << std::setprecision(0)
                   << (elapsed > 0 ? static_cast<double>(doneHere * exp.config.training.batchSize) /
                                         elapsed
                                   : 0.0)
                   << " img/s  ETA "
                   << session::formatDuration(rate * static_cast<double>(total - stepsDone));
                std::cerr << (tty ? "\r\033[K" : "") << os.str() << (tty ? "" : "\n")
                          << std::flush;
            }
            return doneTick < 0 ? chunk - 1 : doneTick + chunk;
        };
        const session::EpochReport r = trainer.runEpoch(budget);
        log.append(recorder.drain());
        if (tty) {
            std::cerr << "\n";
        }
        result.last = r;
        if (r.nonFinite) {
            result.nonFinite = true;
            break;
        }
        std::cout << "epoch " << r.epoch + 1 << "/" << epochs << ": train loss " << std::fixed
                  << std::setprecision(4) << r.trainLoss << ", train acc " << std::setprecision(2)
                  << 100.0 * r.trainAccuracy << "%, test loss " << std::setprecision(4)
                  << r.test.loss << ", test top-1 " << std::setprecision(2) << 100.0 * r.test.top1
                  << "%";
        if (trainer.net().spec().classes > 5) {
            std::cout << ", top-5 " << 100.0 * r.test.top5 << "%";
        }
        std::cout << ", " << std::setprecision(1) << r.imagesPerSecond << " img/s, "
                  << std::setprecision(1) << r.seconds << " s\n"
                  << std::flush;
    }
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - runStart).count();
    return result;
}

void describe(const session::Trainer& trainer) {
    const auto& exp = trainer.experiment();
    const auto l = trainer.layout();
    std::cout << "data: " << exp.data.source << " (" << exp.data.train.count() << " train, "
              << exp.data.test.count() << " test)\n"
              << "model: ResNet width " << exp.modelSpec.width << ", "
              << exp.modelSpec.inChannels << "x" << exp.modelSpec.inSize << "x"
              << exp.modelSpec.inSize << ", " << exp.modelSpec.classes << " classes, "
              << trainer.net().weightCount() << " parameters\n"
              << "pipeline: " << l.stages() << " stage(s), cuts [" << joinInts(exp.pipeline.cuts)
              << "], delays [" << joinInts(l.delays) << "], policy " << l.policy << ", schedule "
              << l.schedule << "\n"
              << "threads: " << const_cast<session::Trainer&>(trainer).engine().threads()
              << ", batch " << exp.config.training.batchSize << ", " << exp.stepsPerEpoch
              << " steps/epoch\n"
              << std::flush;
}

std::string mebibytes(std::int64_t bytes) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(2) << static_cast<double>(bytes) / (1024.0 * 1024.0)
       << " MiB (" << bytes << " B)";
    return os.str();
}

// After a run: the steady-state rate and the memory peaks next to DESIGN.md section 5's formulas.
void printRunSummary(const telemetry::RunSummary& s) {
    using telemetry::MemoryCategory;
    std::cout << std::fixed << std::setprecision(1) << "steady state: "
              << s.steadyImagesPerSecond << " img/s over " << s.steadySteps
              << " steps (pipeline fill, drain and evaluation excluded)\n"
              << "memory peaks (per stage, summed):\n"
              << "  weights (+ grads, BN buffers, EMA scratch) " << mebibytes(s.peak(MemoryCategory::Weights)) << "\n"
              << "  weight history   " << mebibytes(s.peak(MemoryCategory::WeightHistory))
              << "   formula: stash " << mebibytes(s.stashFormulaBytes) << ", ema "
              << mebibytes(s.emaFormulaBytes) << "\n"
              << "  activations      " << mebibytes(s.peak(MemoryCategory::Activations)) << "\n"
              << "  optimizer state  " << mebibytes(s.peak(MemoryCategory::OptimizerState))
              << "\n";
    if (s.peak(MemoryCategory::DiagnosticShadow) > 0) {
        std::cout << "  diagnostic shadow stash (not part of the EMA) "
                  << mebibytes(s.peak(MemoryCategory::DiagnosticShadow)) << "\n";
    }
}

nlohmann::json summaryOf(const LoopResult& r, const session::Trainer& trainer,
                         const telemetry::RunSummary& s) {
    using telemetry::MemoryCategory;
    return {{"epochs", trainer.epoch()},
            {"steady_images_per_second", s.steadyImagesPerSecond},
            {"steady_steps", s.steadySteps},
            {"peak_bytes",
             {{"weights", s.peak(MemoryCategory::Weights)},
              {"weight_history", s.peak(MemoryCategory::WeightHistory)},
              {"activations", s.peak(MemoryCategory::Activations)},
              {"optimizer_state", s.peak(MemoryCategory::OptimizerState)},
              {"diagnostic_shadow", s.peak(MemoryCategory::DiagnosticShadow)}}},
            {"weight_history_formula_bytes",
             {{"stash", s.stashFormulaBytes}, {"ema", s.emaFormulaBytes}}},
            {"seconds", r.seconds},
            {"train_loss", r.last.trainLoss},
            {"train_accuracy", r.last.trainAccuracy},
            {"test_loss", r.last.test.loss},
            {"test_top1", r.last.test.top1},
            {"test_top5", r.last.test.top5},
            {"images_per_second_last_epoch", r.last.imagesPerSecond},
            {"non_finite", r.nonFinite}};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"layerpipe — pipelined backpropagation for ResNet-18 (LayerPipe Studio's CLI)"};
    // The kernel path is chosen here, before anything runs: a bad LP_ISA is reported at once.
    try {
        core::activeIsa();
    } catch (const InputError& e) {
        std::cerr << "layerpipe: " << e.what() << '\n';
        return 2;
    }
    app.set_version_flag("--version", [] {
        return std::string("layerpipe ") + LP_VERSION + "\n" + core::cpuReport();
    });
    app.require_subcommand(0, 1);

    CommonFlags trainFlags;
    std::string saveFile;
    std::string initFile;
    std::string resumeFile;
    CLI::App* train = app.add_subcommand("train", "sequential training (one stage, no delay)");
    addCommonFlags(train, trainFlags);
    train->add_option("--save", saveFile, "write the final checkpoint (safetensors)");
    train->add_option("--init", initFile, "start from a checkpoint's weights");
    train->add_option("--resume", resumeFile, "continue a checkpoint's run (weights, optimizer, epoch)");

    CommonFlags runFlags;
    std::string outDir = "layerpipe-out";
    std::optional<std::string> stages;
    std::optional<std::string> delays;
    std::optional<std::string> policy;
    std::optional<std::string> pipeSchedule;
    std::optional<std::int64_t> micro;
    std::optional<std::string> emaBeta;
    bool diagnostic = false;
    bool noTelemetry = false;
    CLI::App* run = app.add_subcommand("run", "pipelined training with telemetry and exports");
    addCommonFlags(run, runFlags);
    run->add_option("--out", outDir, "folder for CSVs, run.json and trace.json");
    run->add_option("--stages", stages, "cut points between the 10 units, e.g. 3,5,7 (4 stages)");
    run->add_option("--delays", delays, "per-stage delays, non-increasing, e.g. 6,4,2,0");
    run->add_option("--policy", policy, "latest | stash | ema");
    run->add_option("--schedule", pipeSchedule, "layerpipe | gpipe");
    run->add_option("--micro-batches", micro, "GPipe micro-batches per minibatch");
    run->add_option("--ema-beta", emaBeta, "window | plain | fixed (with --set pipeline.emaBetaValue=)");
    run->add_flag("--diagnostic", diagnostic, "EMA: measure reconstruction error with a shadow stash");
    run->add_flag("--no-telemetry", noTelemetry, "do not record op events (throughput runs)");

    CommonFlags evalFlags;
    std::string checkpoint;
    CLI::App* eval = app.add_subcommand("eval", "test loss and accuracy of a checkpoint");
    addCommonFlags(eval, evalFlags);
    eval->add_option("--checkpoint", checkpoint, "safetensors checkpoint")->required();

    lp::app::BenchOptions benchOptions;
    CLI::App* bench = lp::app::addBenchCommand(app, benchOptions);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if (app.get_subcommands().empty()) {
            std::cout << app.help();
            return 0;
        }
        if (bench->parsed()) {
            return lp::app::runBench(benchOptions);
        }
        if (train->parsed()) {
            io::ExperimentConfig cfg = buildConfig(trainFlags);
            telemetry::Recorder recorder(1, false);
            session::Trainer trainer(session::Experiment::create(cfg, true), &recorder);
            if (!resumeFile.empty()) {
                trainer.load(resumeFile, true);
                std::cout << "resumed from " << resumeFile << " at epoch " << trainer.epoch()
                          << "\n";
            } else if (!initFile.empty()) {
                trainer.load(initFile, false);
                std::cout << "initialised from " << initFile << "\n";
            }
            describe(trainer);
            telemetry::TelemetryLog log;
            const LoopResult r = trainLoop(trainer, recorder, log);
            if (!saveFile.empty() && !r.nonFinite) {
                trainer.save(saveFile);
                std::cout << "saved " << saveFile << "\n";
            }
            if (r.nonFinite) {
                std::cerr << "layerpipe: the loss became non-finite (NaN or infinity) in epoch "
                          << r.last.epoch + 1
                          << "; stopped. Lower the learning rate (optimizer.lr) or check the data."
                          << (saveFile.empty() ? "" : " No checkpoint was written.") << "\n";
                return 3;
            }
            return 0;
        }
        if (run->parsed()) {
            io::ExperimentConfig cfg = buildConfig(runFlags);
            auto set = [&cfg](const char* key, const std::string& v) {
                io::applyOverride(cfg, key, v);
            };
            if (stages) {
                set("pipeline.cuts", "[" + *stages + "]");
            }
            if (delays) {
                set("pipeline.delays", "[" + *delays + "]");
            }
            if (policy) {
                set("pipeline.policy", *policy);
            }
            if (pipeSchedule) {
                set("pipeline.schedule", *pipeSchedule);
            }
            if (micro) {
                set("pipeline.microBatches", std::to_string(*micro));
            }
            if (emaBeta) {
                set("pipeline.emaBeta", *emaBeta);
            }
            if (diagnostic) {
                set("pipeline.diagnosticStash", "true");
            }
            if (noTelemetry) {
                set("pipeline.telemetry", "false");
            }
            io::validate(cfg);
            session::Experiment exp = session::Experiment::create(cfg, false);
            const auto stageCount = static_cast<std::int32_t>(exp.pipeline.cuts.size() + 1);
            telemetry::Recorder recorder(stageCount, cfg.pipeline.telemetry);
            session::Trainer trainer(std::move(exp), &recorder);
            describe(trainer);
            telemetry::TelemetryLog log;
            const LoopResult r = trainLoop(trainer, recorder, log);
            const std::filesystem::path out(outDir);
            std::filesystem::create_directories(out);
            telemetry::writeCsvs(log, out);
            telemetry::writeChromeTrace(log, trainer.layout(), out / "trace.json");
            const telemetry::RunSummary summary =
                telemetry::summarise(log, trainer.layout(), trainer.experiment().stepsPerEpoch,
                                     cfg.training.batchSize);
            telemetry::writeRunRecord(io::toJson(cfg), trainer.layout(), log,
                                      summaryOf(r, trainer, summary), out / "run.json");
            io::saveConfig(out / "experiment.json", cfg);
            std::cout << "wrote " << out.string()
                      << "/{train,eval,ops,staleness,memory,reconstruction}.csv, run.json, "
                         "trace.json (open in https://ui.perfetto.dev), experiment.json\n";
            printRunSummary(summary);
            if (r.nonFinite) {
                std::cerr << "layerpipe: the loss became non-finite; the run stopped early.\n";
                return 3;
            }
            return 0;
        }
        if (eval->parsed()) {
            // Without --config the checkpoint's own config describes its model; flags override.
            io::ExperimentConfig base;
            const auto meta = io::readSafetensors(checkpoint).metadata;
            if (auto it = meta.find("config"); it != meta.end()) {
                base = io::parseConfig(nlohmann::json::parse(it->second));
            }
            const io::ExperimentConfig cfg = buildConfig(evalFlags, base);
            session::Trainer trainer(session::Experiment::create(cfg, true), nullptr);
            trainer.load(checkpoint, false);
            describe(trainer);
            const auto r = trainer.evaluate();
            std::cout << "test loss " << std::fixed << std::setprecision(4) << r.loss
                      << ", top-1 " << std::setprecision(2) << 100.0 * r.top1 << "%, top-5 "
                      << 100.0 * r.top5 << "% on " << r.samples << " images\n";
            return 0;
        }
    } catch (const InputError& e) {
        std::cerr << "layerpipe: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "layerpipe: internal error: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
