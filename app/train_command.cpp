// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/train_command.hpp"

#include "app/cli_print.hpp"
#include "app/cli_signals.hpp"
#include "core/error.hpp"
#include "core/io/atomic_file.hpp"
#include "core/session/run_folder.hpp"
#include "core/telemetry/recorder.hpp"

#include <iostream>

namespace lp::app {

CLI::App* addTrainCommand(CLI::App& app, TrainOptions& o) {
    CLI::App* train = addCommandWithCommonFlags(
        app, "train", "sequential training (one stage, no delay)", o.flags);
    train->add_option("--save", o.saveFile, "write the final checkpoint (safetensors)");
    train->add_option("--init", o.initFile, "start from a checkpoint's weights");
    train->add_option("--resume",
                      o.resumeFile,
                      "continue a checkpoint's run exactly (its config, weights, optimizer, "
                      "place); --epochs may extend it");
    train
        ->add_option("--stop-after",
                     o.stopAfter,
                     "stop (and --save) once the run has this many epochs; --resume continues")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{10000}));
    return train;
}

namespace io = core::io;
namespace session = core::session;
namespace telemetry = core::telemetry;

void checkCheckpointFlags(const std::string& resumeFile, const std::string& initFile) {
    if (!resumeFile.empty() && !initFile.empty()) {
        throw core::InputError(
            "--init and --resume exclude each other: --resume continues a checkpoint's "
            "run (its config, weights, optimizer state and place), --init starts a new "
            "run from its weights; give one");
    }
}

void loadCheckpoint(const std::string& resumeFile,
                    const std::string& initFile,
                    session::Trainer& trainer) {
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
}

namespace {

// After training: --stop-after's note, the checkpoint, and the exit code.
int finishTraining(const TrainOptions& o,
                   const io::ExperimentConfig& cfg,
                   const session::Trainer& trainer,
                   const session::TrainResult& r) {
    if (r.stoppedAfter) {
        std::cout << "stopped after epoch " << trainer.epoch() << " of " << cfg.training.epochs
                  << " (--stop-after); --resume continues the run\n";
    }
    if (!o.saveFile.empty() && !r.nonFinite) {
        trainer.save(o.saveFile);
        std::cout << "saved " << o.saveFile
                  << (r.interrupted ? " (continue the run with --resume)" : "") << "\n";
    }
    if (r.nonFinite) {
        std::cerr << "layerpipe: the loss became non-finite (NaN or infinity) in epoch "
                  << r.last.epoch + 1
                  << "; stopped. Lower the learning rate (optimizer.lr) or check the data."
                  << (o.saveFile.empty() ? "" : " No checkpoint was written.") << "\n";
        return 3;
    }
    return exitCodeAfterRun();
}

}  // namespace

int runTrain(const TrainOptions& o) {
    checkCheckpointFlags(o.resumeFile, o.initFile);
    const io::ExperimentConfig cfg =
        o.resumeFile.empty() ? buildConfig(o.flags) : resumeConfig(o.flags, o.resumeFile);
    installStopHandlers();
    telemetry::Recorder recorder(1, false);
    session::Trainer trainer(session::Experiment::create(cfg, true), &recorder);
    if (!o.saveFile.empty()) {
        // Checked before the first step: a typo or a full disk must not cost the run.
        io::probeWritable(o.saveFile, trainer.checkpointBytes());
    }
    loadCheckpoint(o.resumeFile, o.initFile, trainer);
    describe(trainer);
    telemetry::TelemetryLog log;
    const session::TrainResult r =
        session::trainEpochs(trainer, recorder, log, printingHooks(o.stopAfter));
    return finishTraining(o, cfg, trainer, r);
}

}  // namespace lp::app
