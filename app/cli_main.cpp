// layerpipe: the command-line twin of LayerPipe Studio. Wiring only; the work lives in lp::core.
// main registers one subcommand per file (train, run, eval, bench, study: app/*_command.hpp),
// parses, and hands the parsed one its options.
//
// Exit codes (README.md, tested in tests/integration/cli_test.cpp): 0 success; 2 any user input
// error (flags, config, data, checkpoint, output path: lp::core::InputError); 3 a non-finite
// loss, or eval of NaN/Inf weights; 4 out of memory, disk or quota (lp::core::ResourceError,
// std::bad_alloc); 128 + signal (130 SIGINT, 143 SIGTERM) after a graceful stop that wrote
// everything; 1 only for internal errors (bugs).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/bench_command.hpp"
#include "app/cli_print.hpp"
#include "app/cli_signals.hpp"
#include "app/eval_command.hpp"
#include "app/run_command.hpp"
#include "app/study_command.hpp"
#include "app/train_command.hpp"
#include "core/error.hpp"
#include "core/tensor/isa.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <exception>
#include <filesystem>
#include <iostream>
#include <new>
#include <string>

namespace {

namespace app = lp::app;
namespace core = lp::core;

// Every subcommand's options and the subcommand they were registered on.
struct Commands {
    app::TrainOptions train;
    app::RunOptions run;
    app::EvalOptions eval;
    app::BenchOptions bench;
    app::StudyCommandOptions study;
    CLI::App* trainCommand = nullptr;
    CLI::App* runCommand = nullptr;
    CLI::App* evalCommand = nullptr;
    CLI::App* benchCommand = nullptr;
    CLI::App* studyCommand = nullptr;
};

// Registers the subcommands in the order --help lists them.
void addCommands(CLI::App& cli, Commands& c) {
    c.trainCommand = app::addTrainCommand(cli, c.train);
    c.runCommand = app::addRunCommand(cli, c.run);
    c.evalCommand = app::addEvalCommand(cli, c.eval);
    c.benchCommand = app::addBenchCommand(cli, c.bench);
    c.studyCommand = app::addStudyCommand(cli, c.study);
}

// `layerpipe study` with the CLI's printing and stop signals lent to it.
int runStudy(const app::StudyCommandOptions& options, const std::string& commandLine) {
    app::installStopHandlers();
    const app::StudyConsole console{
        .train = app::printingHooks(),
        .describe = [](const core::session::Trainer& trainer) { app::describe(trainer); },
        .stopSignal =
            [] {
                return app::stopSignalText();
            }};
    const bool stopped = app::runStudyCommand(options, commandLine, console);
    return stopped ? app::stoppedExitCode() : 0;
}

// Runs the parsed subcommand (the help without one); returns the exit code.
int dispatch(const CLI::App& cli, const Commands& c, const std::string& commandLine) {
    if (c.benchCommand->parsed()) {
        return app::runBench(c.bench);
    }
    if (c.studyCommand->parsed()) {
        return runStudy(c.study, commandLine);
    }
    if (c.trainCommand->parsed()) {
        return app::runTrain(c.train);
    }
    if (c.runCommand->parsed()) {
        return app::runRun(c.run);
    }
    if (c.evalCommand->parsed()) {
        return app::runEval(c.eval);
    }
    std::cout << cli.help();
    return 0;
}

// Runs `command`, turning what escapes it into the exit codes of the header comment.
template <typename Command>
int exitCodeOf(const Command& command) {
    try {
        return command();
    } catch (const core::ResourceError& e) {
        std::cerr << "layerpipe: " << e.what() << '\n';
        return 4;
    } catch (const core::InputError& e) {
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
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"layerpipe — pipelined backpropagation for ResNet-18 (LayerPipe Studio's CLI)"};
    // The kernel path is chosen here, before anything runs: a bad LP_ISA is reported at once.
    try {
        core::activeIsa();
    } catch (const core::InputError& e) {
        std::cerr << "layerpipe: " << e.what() << '\n';
        return 2;
    }
    cli.set_version_flag("--version", [] {
        return std::string("layerpipe ") + LP_VERSION + "\n" + core::cpuReport();
    });
    cli.require_subcommand(0, 1);
    Commands commands;
    addCommands(cli, commands);
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version end here with 0; every other parse error is a user error: 2.
        const int code = cli.exit(e);
        return code == 0 ? 0 : 2;
    }
    const std::string commandLine = app::shellCommandLine(argc, argv);
    return exitCodeOf([&] { return dispatch(cli, commands, commandLine); });
}
