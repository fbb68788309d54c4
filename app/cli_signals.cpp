// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli_signals.hpp"

#include <unistd.h>

#include <csignal>

namespace lp::app {
namespace {

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

}  // namespace

void installStopHandlers() {
    struct sigaction sa {};

    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // reads in progress (the dataset) carry on
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

bool stopRequested() {
    return gStopSignal != 0;
}

const char* stopSignalName() {
    return gStopSignal == SIGINT ? "SIGINT" : gStopSignal == SIGTERM ? "SIGTERM" : "signal";
}

std::string stopSignalText() {
    return stopRequested() ? stopSignalName() : "";
}

int stoppedExitCode() {
    return 128 + static_cast<int>(gStopSignal);
}

int exitCodeAfterRun() {
    return stopRequested() ? stoppedExitCode() : 0;
}

}  // namespace lp::app
