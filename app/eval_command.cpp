// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/eval_command.hpp"

#include "app/cli_print.hpp"
#include "core/session/trainer.hpp"

#include <cmath>
#include <iomanip>
#include <iostream>

namespace lp::app {

namespace io = core::io;
namespace session = core::session;

CLI::App* addEvalCommand(CLI::App& app, EvalOptions& o) {
    CLI::App* eval =
        addCommandWithCommonFlags(app, "eval", "test loss and accuracy of a checkpoint", o.flags);
    eval->add_option("--checkpoint", o.checkpoint, "safetensors checkpoint")->required();
    return eval;
}

namespace {

// Non-finite weights make every figure meaningless: names them (10 at most); true if any.
bool reportNonFiniteWeights(const session::Trainer& trainer, const std::string& checkpoint) {
    const auto bad = trainer.nonFiniteTensors();
    if (bad.empty()) {
        return false;
    }
    std::cerr << "layerpipe: checkpoint " << checkpoint << " has non-finite values "
              << "(NaN or infinity) in " << bad.size() << " tensor" << (bad.size() == 1 ? "" : "s")
              << ":";
    for (std::size_t i = 0; i < bad.size() && i < 10; ++i) {
        std::cerr << (i ? ", " : " ") << bad[i];
    }
    std::cerr << (bad.size() > 10 ? ", ..." : "") << "; its run diverged before it was saved\n";
    return true;
}

}  // namespace

int runEval(const EvalOptions& o) {
    // Without --config the checkpoint's own config describes its model; flags override.
    const io::ExperimentConfig cfg = buildConfig(
        o.flags,
        o.flags.config.empty() ? session::checkpointConfig(o.checkpoint) : io::ExperimentConfig{});
    session::Trainer trainer(session::Experiment::create(cfg, true), nullptr);
    trainer.load(o.checkpoint, false);
    describe(trainer);
    if (reportNonFiniteWeights(trainer, o.checkpoint)) {
        return 3;
    }
    const auto r = trainer.evaluate();
    std::cout << "test loss " << std::fixed << std::setprecision(4) << r.loss << ", top-1 "
              << std::setprecision(2) << 100.0 * r.top1 << "%, top-5 " << 100.0 * r.top5 << "% on "
              << r.samples << " images\n";
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

}  // namespace lp::app
