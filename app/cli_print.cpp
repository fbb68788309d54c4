// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli_print.hpp"

#include "app/cli_signals.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace lp::app {

namespace session = core::session;

namespace {

std::string joinInts(const std::vector<std::int64_t>& v) {
    std::ostringstream os;
    for (std::size_t i = 0; i < v.size(); ++i) {
        os << (i ? "," : "") << v[i];
    }
    return os.str();
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
        std::cout << "stopped by " << stopSignalName() << " in epoch " << r.epoch + 1 << "/"
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

}  // namespace

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

session::TrainHooks printingHooks(std::int64_t stopAfter) {
    const bool tty = isatty(fileno(stderr)) != 0;
    session::TrainHooks hooks;
    hooks.stopAfter = stopAfter;
    hooks.stopRequested = [] {
        return stopRequested();
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
              << "model: ResNet width " << exp.modelSpec.width << ", " << exp.modelSpec.inChannels
              << "x" << exp.modelSpec.inSize << "x" << exp.modelSpec.inSize << ", "
              << exp.modelSpec.classes << " classes, " << trainer.net().weightCount()
              << " parameters\n"
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

}  // namespace lp::app
