// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/run_command.hpp"

#include "app/cli_print.hpp"
#include "app/cli_signals.hpp"
#include "app/mpi_run.hpp"
#include "app/train_command.hpp"
#include "core/error.hpp"
#include "core/io/atomic_file.hpp"
#include "core/session/cluster_forecast.hpp"
#include "core/session/forecast.hpp"
#include "core/session/run_folder.hpp"
#include "core/telemetry/summary.hpp"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace lp::app {

namespace io = core::io;
namespace session = core::session;

CLI::App* addRunCommand(CLI::App& app, RunOptions& o) {
    CLI::App* run = addCommandWithCommonFlags(
        app, "run", "pipelined training with telemetry and exports", o.flags);
    run->add_option("--out", o.outDir, "folder for CSVs, run.json and trace.json");
    run->add_option("--stages", o.stages, "cut points between the 10 units, e.g. 3,5,7 (4 stages)");
    run->add_option("--delays", o.delays, "per-stage delays, non-increasing, e.g. 6,4,2,0");
    run->add_option("--policy", o.policy, core::allowedChoices<core::WeightPolicy>());
    run->add_option("--schedule", o.pipeSchedule, core::allowedChoices<core::ScheduleKind>());
    run->add_option("--micro-batches", o.micro, "GPipe micro-batches per minibatch");
    run->add_option(
        "--ema-beta",
        o.emaBeta,
        core::allowedChoices<core::EmaBetaMode>() + " (with --set pipeline.emaBetaValue=)");
    run->add_option("--delay-schedule",
                    o.delaySchedule,
                    "static | epochs (with --delay-scales) | adaptive: delays per epoch");
    run->add_option("--delay-scales",
                    o.delayScales,
                    "epoch e's delays = floor(c_e * delays), e.g. 1,0.5,0.25 (last one kept)");
    run->add_flag("--diagnostic",
                  o.diagnostic,
                  "EMA, momentum: measure reconstruction error with a shadow stash");
    run->add_flag("--no-telemetry", o.noTelemetry, "do not record op events (throughput runs)");
    run->add_option("--save", o.saveFile, "write the final checkpoint (safetensors)");
    run->add_option("--init", o.initFile, "start from a checkpoint's weights");
    run->add_option("--resume",
                    o.resumeFile,
                    "continue a checkpoint's run exactly (its config, weights, optimizer, "
                    "place); --epochs may extend it");
    run->add_flag("--mpi",
                  o.mpi,
                  "stages as MPI ranks: start with mpirun -n R (R <= stages), see docs/mpi.md");
    run->add_option("--mpi-timeout",
                    o.mpiTimeout,
                    "seconds a rank waits for a neighbour's tensor, or for every rank at the start "
                    "and end steps, before it ends the run naming the missing rank")
        ->check(CLI::Range(1.0, 86400.0));
    run->add_flag(
        "--dry-run",
        o.dryRun,
        "print the forecast (layout, ticks, utilisation, memory) and exit; trains nothing");
    run->add_option("--machines",
                    o.machines,
                    "with --dry-run: forecast the stages on this many machines (1..stages, "
                    "grouped as --mpi places them), timing each unit on this machine");
    run->add_option("--link-gbit", o.linkGbit, "with --machines: link bandwidth, Gbit/s (10)");
    run->add_option(
        "--link-latency-us", o.linkLatencyUs, "with --machines: link latency per message, us (50)");
    return run;
}

namespace {

void applyPipelineFlags(const RunOptions& o, io::ExperimentConfig& cfg) {
    const auto set = [&cfg](const char* key, const std::string& v) {
        io::applyOverride(cfg, key, v);
    };
    const auto list = [](const std::string& items) {
        return "[" + items + "]";
    };
    if (o.stages) {
        set("pipeline.cuts", list(*o.stages));
    }
    if (o.delays) {
        set("pipeline.delays", list(*o.delays));
    }
    if (o.policy) {
        set("pipeline.policy", *o.policy);
    }
    if (o.pipeSchedule) {
        set("pipeline.schedule", *o.pipeSchedule);
    }
    if (o.micro) {
        set("pipeline.microBatches", std::to_string(*o.micro));
    }
    if (o.emaBeta) {
        set("pipeline.emaBeta", *o.emaBeta);
    }
    if (o.delayScales) {
        set("pipeline.delayScales", list(*o.delayScales));
        set("pipeline.delaySchedule", o.delaySchedule.value_or("epochs"));
    } else if (o.delaySchedule) {
        set("pipeline.delaySchedule", *o.delaySchedule);
    }
    if (o.diagnostic) {
        set("pipeline.diagnosticStash", "true");
    }
    if (o.noTelemetry) {
        set("pipeline.telemetry", "false");
    }
}

}  // namespace

io::ExperimentConfig runConfig(const RunOptions& o) {
    checkCheckpointFlags(o.resumeFile, o.initFile);
    if (!o.resumeFile.empty()) {
        return resumeConfig(
            o.flags, o.resumeFile, [&o](io::ExperimentConfig& c) { applyPipelineFlags(o, c); });
    }
    io::ExperimentConfig cfg = buildConfig(o.flags);
    applyPipelineFlags(o, cfg);
    io::validate(cfg);
    return cfg;
}

void addCheckpointHooks(const RunOptions& o, bool saves, session::RunFolderHooks& hooks) {
    hooks.prepare = [&o, saves](session::Trainer& trainer) {
        if (saves && !o.saveFile.empty()) {
            // Checked before the first step: a typo or a full disk must not cost the run.
            io::probeWritable(o.saveFile, trainer.checkpointBytes());
        }
        loadCheckpoint(o.resumeFile, o.initFile, trainer);
    };
    if (!saves || o.saveFile.empty()) {
        return;
    }
    hooks.finished = [&o](const session::Trainer& trainer, const session::TrainResult& r) {
        if (r.nonFinite) {
            std::cerr << "layerpipe: no checkpoint written: the loss became non-finite\n";
            return;
        }
        trainer.save(o.saveFile);  // atomically: never a partial file
        std::cout << "saved " << o.saveFile
                  << (r.interrupted ? " (continue the run with --resume)" : "") << "\n";
    };
}

namespace {

std::string mebibytes(std::int64_t bytes) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(2) << static_cast<double>(bytes) / (1024.0 * 1024.0)
       << " MiB (" << bytes << " B)";
    return os.str();
}

// After a run: the steady-state rate and the memory peaks next to DESIGN.md section 5's formulas.
void printRunSummary(const core::telemetry::RunSummary& s) {
    using core::telemetry::MemoryCategory;
    std::cout << std::fixed << std::setprecision(1) << "steady state: " << s.steadyImagesPerSecond
              << " img/s over " << s.steadySteps
              << " steps (pipeline fill, drain and evaluation excluded)\n"
              << "memory peaks (per stage, summed):\n"
              << "  weights (+ grads, BN buffers, EMA scratch) "
              << mebibytes(s.peak(MemoryCategory::Weights)) << "\n"
              << "  weight history   " << mebibytes(s.peak(MemoryCategory::WeightHistory))
              << "   formula: stash " << mebibytes(s.stashFormulaBytes) << ", ema "
              << mebibytes(s.emaFormulaBytes) << "\n"
              << "  activations      " << mebibytes(s.peak(MemoryCategory::Activations)) << "\n"
              << "  optimizer state  " << mebibytes(s.peak(MemoryCategory::OptimizerState)) << "\n";
    if (s.peak(MemoryCategory::DiagnosticShadow) > 0) {
        std::cout << "  diagnostic shadow stash (not part of the EMA) "
                  << mebibytes(s.peak(MemoryCategory::DiagnosticShadow)) << "\n";
    }
}

}  // namespace

void printRunOutcome(const session::RunOutcome& outcome, const std::string& outDir) {
    std::cout << "wrote " << outDir
              << "/{train,eval,ops,staleness,memory,reconstruction,delays}.csv, run.json, "
                 "trace.json (open in https://ui.perfetto.dev), experiment.json\n";
    printRunSummary(outcome.summary);
}

namespace {

// --dry-run [--machines R [--link-gbit G] [--link-latency-us L]]: the forecast, and with R the
// N-machine forecast from unit times measured here.
int printForecast(const RunOptions& o, const io::ExperimentConfig& cfg) {
    const session::PipelineForecast f = session::forecastOrThrow(cfg);
    const session::LinkSpec link{.gbitPerSecond = o.linkGbit.value_or(10.0),
                                 .latencyMicroseconds = o.linkLatencyUs.value_or(50.0)};
    if (o.machines) {
        session::checkCluster(*o.machines, f.stages, link);  // before anything is printed
    }
    std::cout << session::forecastText(cfg, f);
    if (!o.machines) {
        return 0;
    }
    std::cout << "\ntiming each unit on this machine (batch " << cfg.training.batchSize
              << ", 3 passes after a warm-up)...\n"
              << std::flush;
    const std::vector<session::UnitCost> costs = session::measureUnitCosts(cfg);
    std::cout << session::clusterText(
        session::forecastCluster(session::pipelineShapeOf(cfg, f), costs, *o.machines, link), link);
    return 0;
}

void checkForecastFlags(const RunOptions& o) {
    if (!o.dryRun && o.machines) {
        throw core::InputError(
            "--machines forecasts a run on several machines: use it with --dry-run "
            "(an MPI run takes its machines from mpirun -n)");
    }
    if (!o.machines && (o.linkGbit || o.linkLatencyUs)) {
        throw core::InputError(
            "--link-gbit and --link-latency-us describe the links of --machines: "
            "give --machines R with --dry-run");
    }
}

}  // namespace

int runRun(const RunOptions& o) {
    checkForecastFlags(o);
    if (o.mpi) {
        return runMpi(o);
    }
    rejectMpiLaunch();
    const io::ExperimentConfig cfg = runConfig(o);
    if (o.dryRun) {
        return printForecast(o, cfg);
    }
    installStopHandlers();
    const std::filesystem::path out(o.outDir);
    session::RunFolderHooks hooks;
    hooks.train = printingHooks();
    hooks.started = [](const session::Trainer& trainer) {
        describe(trainer);
    };
    hooks.stopSignal = [] {
        return stopSignalText();
    };
    addCheckpointHooks(o, true, hooks);
    const session::RunOutcome outcome = session::trainRunFolder(cfg, out, hooks);
    printRunOutcome(outcome, out.string());
    if (outcome.train.nonFinite) {
        std::cerr << "layerpipe: the loss became non-finite; the run stopped early.\n";
        return 3;
    }
    return exitCodeAfterRun();
}

}  // namespace lp::app
