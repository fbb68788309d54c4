// layerpipe: the command-line twin of LayerPipe Studio. Wiring only; the work lives in lp::core.
//
// Exit codes (README.md, tested in tests/integration/cli_test.cpp): 0 success; 2 any user input
// error (flags, config, data, checkpoint, output path: lp::core::InputError); 3 a non-finite
// loss, or eval of NaN/Inf weights; 4 out of memory, disk or quota (lp::core::ResourceError,
// std::bad_alloc); 128 + signal (130 SIGINT, 143 SIGTERM) after a graceful stop that wrote
// everything; 1 only for internal errors (bugs).
// SPDX-License-Identifier: GPL-3.0-or-later
#include <CLI/CLI.hpp>
#include <unistd.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app/bench_command.hpp"
#include "app/study_command.hpp"
#include "core/error.hpp"
#include "core/io/atomic_file.hpp"
#include "core/io/config.hpp"
#include "core/session/run_folder.hpp"
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

// ---- graceful stop (issue 12): SIGINT/SIGTERM finish the step, then everything is written ----

// The first stop signal, or 0. Written only by the handler; read by the training loop's budget.
volatile std::sig_atomic_t gStopSignal = 0;

extern "C" void onStopSignal(int sig) {
    if (gStopSignal != 0) {
        _exit(128 + sig);  // the second signal: quit at once (a save in progress leaves only a
                           // temporary file, which the next save to that target removes)
    }
    gStopSignal = sig;
    static const char kMessage[] =
        "\nlayerpipe: stopping after the current step and writing the results; press Ctrl-C "
        "again to quit at once\n";
    const ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    static_cast<void>(ignored);
}

void installStopHandlers() {
    struct sigaction sa {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // reads in progress (the dataset) carry on
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

int stoppedExitCode() { return 128 + static_cast<int>(gStopSignal); }  // 130 or 143

const char* signalName(int sig) {
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
}

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
    std::optional<std::string> seed;  // text: checked by the config's own rule, as --set
    std::optional<std::int64_t> threads;
    std::optional<std::int64_t> maxSteps;
    std::optional<std::int64_t> trainLimit;
    std::optional<std::int64_t> testLimit;
    std::optional<std::string> optimizer;
    std::optional<std::string> schedule;
    std::optional<std::string> recalibrateBn;  // text: checked by the config's own rule
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
    app->add_option("--optimizer", f.optimizer, "sgd | adam | adamw | lamb");
    app->add_option("--lr-schedule", f.schedule, "constant | step | cosine");
    app->add_option("--recalibrate-bn",
                    f.recalibrateBn,
                    "also evaluate with BatchNorm statistics recomputed under the current weights "
                    "over N training minibatches (0 = off; eval.recalibrateBatchNorm)");
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
        set("training.seed", *f.seed);
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
    if (f.recalibrateBn) {
        set("eval.recalibrateBatchNorm", *f.recalibrateBn);
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

// --resume: the run is the checkpoint's, its stored config with the flags on top; nothing that
// changes the trained bits may differ from it (session::runDefiningDifferences).
io::ExperimentConfig resumeConfig(const CommonFlags& flags, const std::string& checkpoint) {
    const io::ExperimentConfig stored = session::checkpointConfig(checkpoint);
    io::ExperimentConfig cfg = buildConfig(flags, stored);
    const auto diffs = session::runDefiningDifferences(stored, cfg, true);
    if (!diffs.empty()) {
        std::ostringstream os;
        for (const session::ConfigDifference& d : diffs) {
            os << "\n  " << d.key << ": the checkpoint's run has " << d.stored
               << ", this command gives " << d.given;
        }
        throw InputError("--resume continues the run stored in " + checkpoint +
                         ", but these values differ from it:" + os.str() +
                         "\nDrop them to continue that run exactly (only --epochs, --threads, "
                         "--data-path and the name may change), or start a new run from its "
                         "weights with --init.");
    }
    if (cfg.training.epochs != stored.training.epochs) {
        std::cout << "note: training.epochs changed from " << stored.training.epochs << " to "
                  << cfg.training.epochs << " on resume";
        if (cfg.schedule.kind == "cosine") {
            std::cout << "; the cosine LR schedule now spans " << cfg.training.epochs
                      << " epochs, so the steps from here differ from a run started with "
                         "--epochs "
                      << cfg.training.epochs;
        }
        std::cout << "\n";
    }
    return cfg;
}

std::string joinInts(const std::vector<std::int64_t>& v) {
    std::ostringstream os;
    for (std::size_t i = 0; i < v.size(); ++i) {
        os << (i ? "," : "") << v[i];
    }
    return os.str();
}

// "  with BN recalibrated over 20 training batches: test loss 1.2345, top-1 56.00%, top-5 …"
void printRecalibrated(const session::RecalibratedEval& r, bool top5) {
    std::cout << "  with BN recalibrated over " << r.batches << " training batch"
              << (r.batches == 1 ? "" : "es") << ": test loss " << std::fixed
              << std::setprecision(4) << r.test.loss << ", top-1 " << std::setprecision(2)
              << 100.0 * r.test.top1 << "%";
    if (top5) {
        std::cout << ", top-5 " << 100.0 * r.test.top5 << "%";
    }
    std::cout << "\n";
}

// Delay schedules: the delays the next epoch runs with, and for the adaptive rule the signal of
// the epoch before (`last`, if any) that chose them.
void printEpochDelays(const session::Trainer& trainer, const session::EpochReport* last) {
    std::ostringstream os;  // default float format: std::cout may be left in fixed
    os << "delays for epoch " << trainer.epoch() + 1 << "/"
       << trainer.experiment().config.training.epochs << ": [" << joinInts(trainer.delays())
       << "] (scale " << std::setprecision(4) << trainer.delayScale();
    if (trainer.layout().delaySchedule == "adaptive" && last != nullptr) {
        os << ", chosen from epoch " << last->epoch + 1 << "'s update sizes ["
           << std::setprecision(3);
        for (std::size_t s = 0; s < last->updateSize.size(); ++s) {
            os << (s > 0 ? ", " : "") << last->updateSize[s].value_or(NAN);
        }
        os << "]";
    }
    std::cout << os.str() << ")\n" << std::flush;
}

// The line after an epoch: its figures, or why it stopped (nothing for a non-finite loss, which
// the caller explains).
void printEpochEnd(const session::Trainer& trainer, const session::EpochReport& r) {
    const std::int64_t epochs = trainer.experiment().config.training.epochs;
    if (r.nonFinite) {
        return;
    }
    if (!r.completed) {
        std::cout << "stopped by " << signalName(gStopSignal) << " in epoch " << r.epoch + 1 << "/"
                  << epochs << " at step " << trainer.step() << " of "
                  << epochs * trainer.experiment().stepsPerEpoch
                  << (trainer.layout().stages() > 1
                          ? " (a pipelined epoch stopped midway is not counted)"
                          : "")
                  << "\n";
        return;
    }
    std::cout << "epoch " << r.epoch + 1 << "/" << epochs << ": train loss " << std::fixed
              << std::setprecision(4) << r.trainLoss << ", train acc " << std::setprecision(2)
              << 100.0 * r.trainAccuracy << "%, test loss " << std::setprecision(4) << r.test.loss
              << ", test top-1 " << std::setprecision(2) << 100.0 * r.test.top1 << "%";
    if (trainer.net().spec().classes > 5) {
        std::cout << ", top-5 " << 100.0 * r.test.top5 << "%";
    }
    std::cout << ", " << std::setprecision(1) << r.imagesPerSecond << " img/s, "
              << std::setprecision(1) << r.seconds << " s\n";
    if (r.recalibrated) {
        printRecalibrated(*r.recalibrated, trainer.net().spec().classes > 5);
    }
    std::cout << std::flush;
}

// Prints training as `layerpipe train` and `run` always have: a progress line on stderr about once
// a second (rewritten in place on a terminal), a line per finished epoch, and why a run stopped.
session::TrainHooks printingHooks(std::int64_t stopAfter = 0) {
    const bool tty = isatty(fileno(stderr)) != 0;
    session::TrainHooks hooks;
    hooks.stopAfter = stopAfter;
    hooks.stopRequested = [] {
        return gStopSignal != 0;
    };
    hooks.progress = [tty](const session::TrainProgress& p) {
        std::ostringstream os;
        os << "epoch " << p.epoch + 1 << "/" << p.epochs << "  step " << p.epochStep << "/"
           << p.stepsPerEpoch << "  loss " << std::fixed << std::setprecision(4) << p.loss
           << "  acc " << std::setprecision(1) << 100.0F * p.accuracy << "%  "
           << std::setprecision(0) << p.imagesPerSecond << " img/s  ETA "
           << session::formatDuration(p.etaSeconds);
        std::cerr << (tty ? "\r\033[K" : "") << os.str() << (tty ? "" : "\n") << std::flush;
    };
    hooks.epochEnded = [tty](const session::Trainer& trainer, const session::EpochReport& r) {
        if (tty) {
            std::cerr << "\n";
        }
        printEpochEnd(trainer, r);
        if (r.completed && !r.nonFinite && !trainer.finished() && trainer.delays() != r.delays) {
            printEpochDelays(trainer, &r);
        }
    };
    return hooks;
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
              << "], delays [" << joinInts(l.delays) << "]"
              << (l.delaySchedule == "static" ? "" : " at most, delay schedule " + l.delaySchedule)
              << ", policy " << l.policy << ", schedule " << l.schedule << "\n"
              << "threads: " << const_cast<session::Trainer&>(trainer).engine().threads()
              << ", batch " << exp.config.training.batchSize << ", " << exp.stepsPerEpoch
              << " steps/epoch\n"
              << std::flush;
    if (trainer.delays() != l.delays) {  // a delay schedule starting below its largest delays
        printEpochDelays(trainer, nullptr);
    }
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
    train->add_option("--resume", resumeFile,
                      "continue a checkpoint's run exactly (its config, weights, optimizer, "
                      "place); --epochs may extend it");
    std::int64_t stopAfter = 0;
    train->add_option("--stop-after", stopAfter,
                      "stop (and --save) once the run has this many epochs; --resume continues")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{10000}));

    CommonFlags runFlags;
    std::string outDir = "layerpipe-out";
    std::optional<std::string> stages;
    std::optional<std::string> delays;
    std::optional<std::string> policy;
    std::optional<std::string> pipeSchedule;
    std::optional<std::int64_t> micro;
    std::optional<std::string> emaBeta;
    std::optional<std::string> delaySchedule;
    std::optional<std::string> delayScales;
    bool diagnostic = false;
    bool noTelemetry = false;
    CLI::App* run = app.add_subcommand("run", "pipelined training with telemetry and exports");
    addCommonFlags(run, runFlags);
    run->add_option("--out", outDir, "folder for CSVs, run.json and trace.json");
    run->add_option("--stages", stages, "cut points between the 10 units, e.g. 3,5,7 (4 stages)");
    run->add_option("--delays", delays, "per-stage delays, non-increasing, e.g. 6,4,2,0");
    run->add_option("--policy", policy, "latest | stash | ema | momentum");
    run->add_option("--schedule", pipeSchedule, "layerpipe | gpipe");
    run->add_option("--micro-batches", micro, "GPipe micro-batches per minibatch");
    run->add_option("--ema-beta", emaBeta, "window | plain | fixed (with --set pipeline.emaBetaValue=)");
    run->add_option("--delay-schedule", delaySchedule,
                    "static | epochs (with --delay-scales) | adaptive: delays per epoch");
    run->add_option("--delay-scales", delayScales,
                    "epoch e's delays = floor(c_e * delays), e.g. 1,0.5,0.25 (last one kept)");
    run->add_flag("--diagnostic", diagnostic,
                  "EMA, momentum: measure reconstruction error with a shadow stash");
    run->add_flag("--no-telemetry", noTelemetry, "do not record op events (throughput runs)");

    CommonFlags evalFlags;
    std::string checkpoint;
    CLI::App* eval = app.add_subcommand("eval", "test loss and accuracy of a checkpoint");
    addCommonFlags(eval, evalFlags);
    eval->add_option("--checkpoint", checkpoint, "safetensors checkpoint")->required();

    lp::app::BenchOptions benchOptions;
    CLI::App* bench = lp::app::addBenchCommand(app, benchOptions);

    lp::app::StudyCommandOptions studyOptions;
    CLI::App* study = lp::app::addStudyCommand(app, studyOptions);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version end here with 0; every other parse error is a user error: 2.
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    try {
        if (app.get_subcommands().empty()) {
            std::cout << app.help();
            return 0;
        }
        if (bench->parsed()) {
            return lp::app::runBench(benchOptions);
        }
        if (study->parsed()) {
            installStopHandlers();
            const lp::app::StudyConsole console{
                .train = printingHooks(),
                .describe = [](const session::Trainer& trainer) { describe(trainer); },
                .stopSignal = [] {
                    return std::string(gStopSignal != 0 ? signalName(gStopSignal) : "");
                }};
            const bool stopped = lp::app::runStudyCommand(
                studyOptions, lp::app::shellCommandLine(argc, argv), console);
            return stopped ? stoppedExitCode() : 0;
        }
        if (train->parsed()) {
            if (!resumeFile.empty() && !initFile.empty()) {
                throw InputError(
                    "--init and --resume exclude each other: --resume continues a checkpoint's "
                    "run (its config, weights, optimizer state and place), --init starts a new "
                    "run from its weights; give one");
            }
            const io::ExperimentConfig cfg = resumeFile.empty()
                                                 ? buildConfig(trainFlags)
                                                 : resumeConfig(trainFlags, resumeFile);
            installStopHandlers();
            telemetry::Recorder recorder(1, false);
            session::Trainer trainer(session::Experiment::create(cfg, true), &recorder);
            if (!saveFile.empty()) {
                // Checked before the first step: a typo or a full disk must not cost the run.
                io::probeWritable(saveFile, trainer.checkpointBytes());
            }
            if (!resumeFile.empty()) {
                trainer.load(resumeFile, true);
                std::cout << "resumed from " << resumeFile << " at epoch " << trainer.epoch();
                if (trainer.epochStep() > 0) {
                    std::cout << ", minibatch " << trainer.epochStep() << "/"
                              << trainer.experiment().stepsPerEpoch;
                }
                std::cout << (trainer.finished() ? " (the run is complete; give --epochs to "
                                                   "extend it)"
                                                 : "")
                          << "\n";
            } else if (!initFile.empty()) {
                trainer.load(initFile, false);
                std::cout << "initialised from " << initFile << "\n";
            }
            describe(trainer);
            telemetry::TelemetryLog log;
            const session::TrainResult r =
                session::trainEpochs(trainer, recorder, log, printingHooks(stopAfter));
            if (r.stoppedAfter) {
                std::cout << "stopped after epoch " << trainer.epoch() << " of "
                          << cfg.training.epochs << " (--stop-after); --resume continues the run\n";
            }
            if (!saveFile.empty() && !r.nonFinite) {
                trainer.save(saveFile);
                std::cout << "saved " << saveFile
                          << (r.interrupted ? " (continue the run with --resume)" : "") << "\n";
            }
            if (r.nonFinite) {
                std::cerr << "layerpipe: the loss became non-finite (NaN or infinity) in epoch "
                          << r.last.epoch + 1
                          << "; stopped. Lower the learning rate (optimizer.lr) or check the data."
                          << (saveFile.empty() ? "" : " No checkpoint was written.") << "\n";
                return 3;
            }
            return gStopSignal != 0 ? stoppedExitCode() : 0;
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
            if (delayScales) {
                set("pipeline.delayScales", "[" + *delayScales + "]");
                set("pipeline.delaySchedule", delaySchedule.value_or("epochs"));
            } else if (delaySchedule) {
                set("pipeline.delaySchedule", *delaySchedule);
            }
            if (diagnostic) {
                set("pipeline.diagnosticStash", "true");
            }
            if (noTelemetry) {
                set("pipeline.telemetry", "false");
            }
            io::validate(cfg);
            installStopHandlers();
            const std::filesystem::path out(outDir);
            session::RunFolderHooks hooks{
                .train = printingHooks(),
                .started = [](const session::Trainer& trainer) { describe(trainer); },
                .stopSignal = [] {
                    return std::string(gStopSignal != 0 ? signalName(gStopSignal) : "");
                }};
            const session::RunOutcome outcome = session::trainRunFolder(cfg, out, hooks);
            const session::TrainResult& r = outcome.train;
            const telemetry::RunSummary& summary = outcome.summary;
            std::cout << "wrote " << out.string()
                      << "/{train,eval,ops,staleness,memory,reconstruction,delays}.csv, run.json, "
                         "trace.json (open in https://ui.perfetto.dev), experiment.json\n";
            printRunSummary(summary);
            if (r.nonFinite) {
                std::cerr << "layerpipe: the loss became non-finite; the run stopped early.\n";
                return 3;
            }
            return gStopSignal != 0 ? stoppedExitCode() : 0;
        }
        if (eval->parsed()) {
            // Without --config the checkpoint's own config describes its model; flags override.
            const io::ExperimentConfig cfg = buildConfig(
                evalFlags, evalFlags.config.empty() ? session::checkpointConfig(checkpoint)
                                                    : io::ExperimentConfig{});
            session::Trainer trainer(session::Experiment::create(cfg, true), nullptr);
            trainer.load(checkpoint, false);
            describe(trainer);
            // Non-finite weights make every figure meaningless: name them and exit 3.
            if (const auto bad = trainer.nonFiniteTensors(); !bad.empty()) {
                std::cerr << "layerpipe: checkpoint " << checkpoint << " has non-finite values "
                          << "(NaN or infinity) in " << bad.size() << " tensor"
                          << (bad.size() == 1 ? "" : "s") << ":";
                for (std::size_t i = 0; i < bad.size() && i < 10; ++i) {
                    std::cerr << (i ? ", " : " ") << bad[i];
                }
                std::cerr << (bad.size() > 10 ? ", ..." : "")
                          << "; its run diverged before it was saved\n";
                return 3;
            }
            const auto r = trainer.evaluate();
            std::cout << "test loss " << std::fixed << std::setprecision(4) << r.loss
                      << ", top-1 " << std::setprecision(2) << 100.0 * r.top1 << "%, top-5 "
                      << 100.0 * r.top5 << "% on " << r.samples << " images\n";
            if (const auto rc = trainer.evaluateRecalibrated()) {
                printRecalibrated(*rc, true);
            }
            if (!std::isfinite(r.loss)) {
                std::cerr << "layerpipe: the test loss is not finite (the model's outputs "
                             "overflow on this data)\n";
                return 3;
            }
            return 0;
        }
    } catch (const core::ResourceError& e) {
        std::cerr << "layerpipe: " << e.what() << '\n';
        return 4;
    } catch (const InputError& e) {
        std::cerr << "layerpipe: " << e.what() << '\n';
        return 2;
    } catch (const std::bad_alloc&) {
        std::cerr << "layerpipe: out of memory; lower training.batchSize or model.width, or "
                     "use data.trainLimit, and run again\n";
        return 4;
    } catch (const std::filesystem::filesystem_error& e) {
        const int err = e.code().value();
        std::cerr << "layerpipe: " << e.what() << '\n';
        return err == ENOSPC || err == EDQUOT ? 4 : 2;
    } catch (const std::exception& e) {
        std::cerr << "layerpipe: internal error: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
