// Graceful stop for the CLI (issue 12): the first SIGINT/SIGTERM lets the current step finish and
// everything be written; a second one quits at once (docs/reliability.md).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>

namespace lp::app {

// Installs the handlers for SIGINT and SIGTERM (restarting interrupted reads).
void installStopHandlers();

// True once a stop signal arrived.
bool stopRequested();

// "SIGINT" or "SIGTERM" for the signal that arrived, "signal" before one did.
const char* stopSignalName();

// The signal's name for run records and studies: "SIGINT", "SIGTERM", or "" when none arrived.
std::string stopSignalText();

// 128 + the signal: 130 for SIGINT, 143 for SIGTERM.
int stoppedExitCode();

// stoppedExitCode() after a stop, else 0.
int exitCodeAfterRun();

}  // namespace lp::app
