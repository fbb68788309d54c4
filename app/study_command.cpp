// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/study_command.hpp"

#include "core/study/study_report.hpp"
#include "core/study/study_runner.hpp"
#include "core/tensor/isa.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <system_error>

namespace lp::app {
namespace {

namespace fs = std::filesystem;
namespace study = core::study;

// The studio next to this program (<dir of layerpipe>/layerpipe-studio).
fs::path defaultStudio() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path("layerpipe-studio") : self.parent_path() / "layerpipe-studio";
}

// Runs `studio --study DIR --write-charts` with QT_QPA_PLATFORM=offscreen; returns "" when the
// charts were made, else why not.
std::string makeCharts(const fs::path& studio, const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(studio, ec)) {
        return studio.string() + " does not exist";
    }
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "QT_QPA_PLATFORM=", 16) != 0) {
            env.emplace_back(*e);
        }
    }
    env.emplace_back("QT_QPA_PLATFORM=offscreen");
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (std::string& s : env) {
        envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    std::string program = studio.string();
    std::string studyFlag = "--study";
    std::string folder = dir.string();
    std::string write = "--write-charts";
    std::vector<char*> args = {
        program.data(), studyFlag.data(), folder.data(), write.data(), nullptr};
    std::cout << "charts: " << program << " --study " << folder << " --write-charts\n"
              << std::flush;
    pid_t pid = 0;
    if (const int err =
            posix_spawn(&pid, program.c_str(), nullptr, nullptr, args.data(), envp.data());
        err != 0) {
        return "cannot start " + program + ": " + std::generic_category().message(err);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return program + " --study " + folder + " --write-charts ended with " +
               (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                  : std::string("a signal")) +
               " (a studio without the Study view's --write-charts option fails so)";
    }
    for (const char* png :
         {"accuracy_vs_memory.png", "accuracy_vs_bubble.png", "loss_curves.png"}) {
        if (!fs::exists(dir / "charts" / png, ec)) {
            return program + " ran but did not write charts/" + png;
        }
    }
    return "";
}

std::string percentText(const study::ResultRow& row, const char* column) {
    const auto v = study::cellNumber(row, column);
    if (!v) {
        return "–";
    }
    std::ostringstream os;
    os << std::fixed << std::setprecision(2) << 100.0 * *v << "%";
    return os.str();
}

std::string mebibytes(const study::ResultRow& row, const char* column) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(2)
       << study::cellNumber(row, column).value_or(0.0) / (1024.0 * 1024.0) << " MiB";
    return os.str();
}

void printRunEnd(const study::StudyRun& run, const study::ResultRow& row) {
    std::cout << run.id << ": ";
    if (study::cell(row, "diverged") == "yes") {
        std::cout << "diverged (non-finite loss); recorded with diverged=yes";
    } else {
        std::cout << "test top-1 " << percentText(row, "final_top1");
        if (!study::cell(row, "final_recal_top1").empty()) {
            std::cout << " (BN recalibrated " << percentText(row, "final_recal_top1") << ")";
        }
    }
    std::cout << ", weight history " << mebibytes(row, "history_bytes") << " (forecast "
              << mebibytes(row, "history_forecast_bytes") << "), " << std::setprecision(0)
              << std::fixed << study::cellNumber(row, "wall_seconds").value_or(0.0) << " s\n"
              << std::flush;
}

// Makes the charts unless the study stopped early or --no-charts; says in the report why not.
void addCharts(study::ReportInput& report,
               const StudyCommandOptions& o,
               const fs::path& dir,
               bool interrupted) {
    const std::string makeThem =
        "QT_QPA_PLATFORM=offscreen layerpipe-studio --study " + dir.string() + " --write-charts";
    if (interrupted) {
        report.chartsNote =
            "the study was stopped before its last run; run the same command "
            "again to continue, or make them now with `" +
            makeThem + "`.";
    } else if (o.noCharts) {
        report.chartsNote = "--no-charts was given; make them with `" + makeThem + "`.";
    } else {
        const std::string why =
            makeCharts(o.studio.empty() ? defaultStudio() : fs::path(o.studio), dir);
        report.chartsMade = why.empty();
        report.chartsNote = why + "; make them with `" + makeThem + "`.";
        if (!why.empty()) {
            std::cout << "charts not made: " << why << "\n";
        }
    }
}

}  // namespace

CLI::App* addStudyCommand(CLI::App& app, StudyCommandOptions& o) {
    CLI::App* s = app.add_subcommand(
        "study",
        "run a preset grid of experiments into a folder, resumably: results.csv, "
        "report.md, charts");
    s->add_option("--preset", o.study.preset, "quick | paper | optimizers | delays")->required();
    s->add_option("--out", o.out, "study folder (created; an existing study there continues)")
        ->required();
    s->add_option("--data-path",
                  o.study.dataPath,
                  "folder with the dataset files (paper: CIFAR-100; or LAYERPIPE_DATA)");
    s->add_option("--seeds", o.study.seeds, "repeat every run with seeds 1..N");
    s->add_option("--threads", o.study.threads, "worker threads of every run (0 = all cores)");
    s->add_option(
        "--set", o.study.sets, "override a config key in every run, e.g. --set training.epochs=2");
    s->add_option("--runs",
                  o.study.only,
                  "only these runs of the preset (ids without the seed, e.g. seq,k4-ema)")
        ->delimiter(',');
    s->add_flag("--no-charts", o.noCharts, "do not run layerpipe-studio to draw the charts");
    s->add_option("--studio", o.studio, "layerpipe-studio to draw the charts with");
    return s;
}

bool runStudyCommand(const StudyCommandOptions& o,
                     const std::string& commandLine,
                     const StudyConsole& console) {
    const study::StudyPlan plan = study::planStudy(o.study);
    const fs::path dir(o.out);
    study::StudyHooks hooks;
    hooks.train = console.train;
    hooks.trainerBuilt = console.describe;
    hooks.stopSignal = console.stopSignal;
    hooks.planned = [&](std::size_t skipped, std::size_t remaining) {
        std::cout << "study " << plan.preset << " in " << dir.string() << ": " << plan.runs.size()
                  << " runs, " << skipped << " already finished (skipped), " << remaining
                  << " to run\n";
        if (!plan.datasetNote.empty()) {
            std::cout << "note: " << plan.datasetNote << "\n";
        }
        std::cout << std::flush;
    };
    hooks.runStarted = [](const study::StudyRun& run, std::size_t i, std::size_t n) {
        std::cout << "\n[" << i << "/" << n << "] " << run.id << ": " << run.label << "\n"
                  << std::flush;
    };
    hooks.runEnded = printRunEnd;
    const study::StudyOutcome outcome = study::runStudy(plan, dir, commandLine, hooks);

    study::ReportInput report{.plan = plan,
                              .rows = outcome.rows,
                              .firstCommand = outcome.firstCommand,
                              .command = commandLine,
                              .machine = core::cpuReport(),
                              .chartsMade = false,
                              .chartsNote = ""};
    addCharts(report, o, dir, outcome.interrupted);
    study::writeReport(dir, report);
    std::cout << "\nstudy " << plan.preset << ": " << outcome.rows.size() << " of "
              << plan.runs.size() << " runs finished";
    if (outcome.diverged > 0) {
        std::cout << " (" << outcome.diverged << " diverged in this call)";
    }
    std::cout << "; wrote " << (dir / "results.csv").string() << " and "
              << (dir / "report.md").string()
              << (report.chartsMade ? " with the charts in " + (dir / "charts").string() : "")
              << "\n";
    if (outcome.interrupted) {
        std::cout << "stopped by " << console.stopSignal()
                  << "; the unfinished run was not recorded. Run the same command again to "
                     "continue.\n";
    }
    std::cout << std::flush;
    return outcome.interrupted;
}

std::string shellCommandLine(int argc, const char* const* argv) {
    std::string out;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        const bool plain = !a.empty() && a.find_first_not_of(
                                             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                             "0123456789-_./=:,+@%") == std::string::npos;
        std::string quoted = "'";
        for (const char c : a) {
            quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
        }
        out += (i ? " " : "") + (plain ? a : quoted + "'");
    }
    return out;
}

}  // namespace lp::app
