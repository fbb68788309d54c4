// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli_config.hpp"

#include "core/error.hpp"
#include "core/session/trainer.hpp"

#include <iomanip>
#include <iostream>
#include <sstream>

namespace lp::app {

namespace io = core::io;
namespace session = core::session;
using core::InputError;

CLI::App* addCommandWithCommonFlags(CLI::App& parent,
                                    const std::string& name,
                                    const std::string& description,
                                    CommonFlags& f) {
    CLI::App* app = parent.add_subcommand(name, description);
    app->add_option("-c,--config", f.config, "experiment JSON (the GUI's File > Save format)");
    app->add_option("--set", f.sets, "override any config key, e.g. --set training.epochs=3");
    app->add_option("--dataset", f.dataset, core::allowedChoices<core::DatasetKind>());
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
    app->add_option("--optimizer", f.optimizer, core::allowedChoices<core::OptimizerKind>());
    app->add_option("--lr-schedule", f.schedule, core::allowedChoices<core::LrScheduleKind>());
    app->add_option("--recalibrate-bn",
                    f.recalibrateBn,
                    "also evaluate with BatchNorm statistics recomputed under the current weights "
                    "over N training minibatches (0 = off; eval.recalibrateBatchNorm)");
    return app;
}

namespace {

// --lr as text that reads back to the same double.
std::string exactText(double v) {
    std::ostringstream os;
    os << std::setprecision(17) << v;
    return os.str();
}

// Each given flag as the config key it stands for, in the order the flags are listed.
void applyFlags(const CommonFlags& f, io::ExperimentConfig& c) {
    const auto set = [&c](const char* key, const std::optional<std::string>& value) {
        if (value) {
            io::applyOverride(c, key, *value);
        }
    };
    const auto number = [](const std::optional<std::int64_t>& v) {
        return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
    };
    set("data.dataset", f.dataset);
    set("data.path", f.dataPath);
    set("model.width", number(f.width));
    set("training.epochs", number(f.epochs));
    set("training.batchSize", number(f.batchSize));
    set("optimizer.lr", f.lr ? std::optional<std::string>(exactText(*f.lr)) : std::nullopt);
    set("training.seed", f.seed);
    set("training.threads", number(f.threads));
    set("training.maxSteps", number(f.maxSteps));
    set("data.trainLimit", number(f.trainLimit));
    set("data.testLimit", number(f.testLimit));
    set("optimizer.kind", f.optimizer);
    set("schedule.kind", f.schedule);
    set("eval.recalibrateBatchNorm", f.recalibrateBn);
}

}  // namespace

io::ExperimentConfig buildConfig(const CommonFlags& f, const io::ExperimentConfig& base) {
    io::ExperimentConfig c = f.config.empty() ? base : io::loadConfig(f.config);
    applyFlags(f, c);
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

io::ExperimentConfig resumeConfig(const CommonFlags& flags,
                                  const std::string& checkpoint,
                                  const std::function<void(io::ExperimentConfig&)>& pipelineFlags) {
    const io::ExperimentConfig stored = session::checkpointConfig(checkpoint);
    io::ExperimentConfig cfg = buildConfig(flags, stored);
    if (pipelineFlags) {
        pipelineFlags(cfg);
        io::validate(cfg);
    }
    const auto diffs = session::runDefiningDifferences(stored, cfg, !pipelineFlags);
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
        if (cfg.schedule.kind == core::LrScheduleKind::Cosine) {
            std::cout << "; the cosine LR schedule now spans " << cfg.training.epochs
                      << " epochs, so the steps from here differ from a run started with "
                         "--epochs "
                      << cfg.training.epochs;
        }
        std::cout << "\n";
    }
    return cfg;
}

}  // namespace lp::app
