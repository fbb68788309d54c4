// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/mpi_run.hpp"

#include "app/cli_print.hpp"
#include "app/cli_signals.hpp"
#include "core/error.hpp"

#ifdef LP_HAVE_MPI
#include "core/distributed/mpi_transport.hpp"
#include "core/distributed/mpi_world.hpp"
#include "core/distributed/run_gather.hpp"
#endif

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace lp::app {

void rejectMpiLaunch() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
        const char* v = std::getenv(name);
        if (v != nullptr && std::atoi(v) > 1) {
            throw core::InputError(core::concat(
                "this process is one of ",
                v,
                " MPI ranks (",
                name,
                "), but --mpi was not given: every rank would train the whole model into the "
                "same folder. Add --mpi to spread the stages over the ranks, or start one "
                "process without mpirun"));
        }
    }
}

#ifndef LP_HAVE_MPI

int runMpi(const RunOptions&) {
    throw core::InputError(
        "--mpi: this layerpipe was built without MPI (LP_MPI=OFF, or no MPI library was found "
        "when it was built). Install Open MPI (Debian: apt-get install libopenmpi-dev "
        "openmpi-bin), rebuild (cmake -DLP_MPI=ON) and start it with `mpirun -n R layerpipe "
        "run --mpi ...` (docs/mpi.md)");
}

#else

namespace {

namespace io = core::io;
namespace session = core::session;
namespace dist = core::distributed;

// The checks every rank makes before training: a rank that fails one makes every rank fail
// (each with an InputError), so none waits for a rank that has gone.
std::unique_ptr<dist::MpiTransport> setUp(dist::MpiWorld& world,
                                          const RunOptions& o,
                                          std::optional<io::ExperimentConfig>& cfg) {
    std::string problem;
    std::unique_ptr<dist::MpiTransport> transport;
    try {
        if (o.dryRun) {
            throw core::InputError(
                "--dry-run and --mpi exclude each other: the forecast "
                "needs no ranks; drop --mpi (and mpirun)");
        }
        cfg = runConfig(o);
        if (cfg->pipeline.delaySchedule == core::DelayScheduleKind::Adaptive) {
            throw core::InputError(
                "--mpi supports the static and epochs delay schedules, not adaptive (its rule "
                "reads every stage's update sizes, which live on different ranks)");
        }
        const auto stages = static_cast<std::int64_t>(cfg->pipeline.cuts.size()) + 1;
        transport = std::make_unique<dist::MpiTransport>(
            world, stages, o.mpiTimeout, dist::failHookFromEnvironment());
    } catch (const core::InputError& e) {
        problem = e.what();
    }
    const bool anyProblem = world.anyTrue(!problem.empty());
    if (!problem.empty()) {
        throw core::InputError(problem);
    }
    if (anyProblem) {
        throw core::InputError(world.who(world.rank()) +
                               ": another rank rejected the run (its message says why)");
    }
    // Same arguments everywhere, and the same build (records travel as bytes).
    world.checkSame("experiment (config, flags and layerpipe build)",
                    io::toJson(*cfg).dump() + "\n" + o.outDir + "\n" + LP_VERSION);
    return transport;
}

int train(dist::MpiWorld& world,
          dist::MpiTransport& transport,
          const RunOptions& o,
          const io::ExperimentConfig& cfg) {
    const bool root = world.rank() == 0;
    session::TrainHooks train = printingHooks();
    train.wholeEpochs = true;
    train.progress = nullptr;
    train.stopRequested = [&world] {
        return world.anyTrue(stopRequested());  // agreed between epochs, on every rank
    };
    if (!root) {
        train.epochEnded = nullptr;
    }
    session::RunFolderHooks hooks;
    hooks.train = train;
    hooks.distributed.transport = &transport;
    hooks.distributed.writer = root;
    hooks.distributed.startTogether = [&world] {
        const dist::FailHook hook = dist::failHookFromEnvironment();
        if (hook.stall && hook.rank == world.rank()) {
            std::this_thread::sleep_for(std::chrono::hours(1));  // never arrives (a test hook)
        }
        return world.startClock();
    };
    hooks.distributed.gatherLog = [&world](core::telemetry::TelemetryLog& log,
                                           std::int64_t cutTick) {
        dist::gatherTelemetry(world, log, cutTick);
    };
    hooks.distributed.hosts = world.hosts();
    for (std::int64_t s = 0; s < transport.stageCount(); ++s) {
        hooks.distributed.rankOfStage.push_back(
            static_cast<std::int32_t>(dist::rankOfStage(s, world.size(), transport.stageCount())));
    }
    hooks.started = [&world, &transport, root](const session::Trainer& trainer) {
        if (root) {
            describe(trainer);
        }
        std::cout << "mpi: " << world.who(world.rank()) << " of " << world.size() << " runs stages "
                  << transport.firstLocal() << ".." << transport.endLocal() - 1 << "\n";
    };
    hooks.stopSignal = [] {
        return stopSignalText();
    };
    addCheckpointHooks(o, root, hooks);  // every rank loads; rank 0 saves the whole model
    const std::filesystem::path out(o.outDir);
    const session::RunOutcome outcome = session::trainRunFolder(cfg, out, hooks);
    const std::int64_t steps = outcome.epochsDone * outcome.stepsPerEpoch;
    dist::writeMpiRecord(world, transport, steps, out / "mpi.json");
    if (root) {
        printRunOutcome(outcome, o.outDir);
        std::cout << "wrote " << (out / "mpi.json").string()
                  << " (ranks, hosts, bytes and send time per link)\n";
    }
    if (outcome.train.nonFinite) {
        if (root) {
            std::cerr << "layerpipe: the loss became non-finite; the run stopped at the end of "
                         "that epoch (under --mpi every rank agrees there).\n";
        }
        return 3;
    }
    return exitCodeAfterRun();
}

// One rank's failure: the others would wait for its tensors (or, at a rendezvous that timed
// out, MPI_Finalize would wait for the rank that never came). End them all now.
[[noreturn]] void endEveryRank(const dist::MpiWorld& world, const std::exception& e) {
    std::cerr << "layerpipe: " << world.who(world.rank()) << " failed: " << e.what()
              << "\nlayerpipe: ending every rank of the run (MPI_Abort)\n"
              << std::flush;
    dist::MpiWorld::abortAll(dynamic_cast<const core::InputError*>(&e) != nullptr ? 2 : 1);
    throw;  // without MPI running (not reached otherwise)
}

}  // namespace

int runMpi(const RunOptions& o) {
    installStopHandlers();
    dist::MpiWorld world;
    world.setTimeout(o.mpiTimeout);
    std::optional<io::ExperimentConfig> cfg;
    std::unique_ptr<dist::MpiTransport> transport;
    try {
        transport = setUp(world, o, cfg);
    } catch (const core::InputError&) {
        throw;  // every rank saw it alike (setUp's vote): each exits with its message
    } catch (const std::exception& e) {
        endEveryRank(world, e);  // e.g. a rank that never reached the vote
    }
    try {
        return train(world, *transport, o, *cfg);
    } catch (const std::exception& e) {
        endEveryRank(world, e);
    }
}

#endif

}  // namespace lp::app
