// What the CLI prints about training on stdout and stderr: the run's description, a progress
// line about once a second, a line per epoch, and BN-recalibrated results. Shared by train, run,
// eval and study.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/session/run_folder.hpp"
#include "core/session/trainer.hpp"

#include <cstdint>

namespace lp::app {

// data, model, pipeline and threads of a built trainer (and its first delays under a delay
// schedule that starts below its largest delays).
void describe(const core::session::Trainer& trainer);

// "  with BN recalibrated over 20 training batches: test loss 1.2345, top-1 56.00%, top-5 …"
void printRecalibrated(const core::session::RecalibratedEval& r, bool top5);

// Prints training as `layerpipe train` and `run` always have: a progress line on stderr about
// once a second (rewritten in place on a terminal), a line per finished epoch, and why a run
// stopped. Stops on a stop signal (app/cli_signals.hpp) and after stopAfter epochs (> 0).
core::session::TrainHooks printingHooks(std::int64_t stopAfter = 0);

}  // namespace lp::app
