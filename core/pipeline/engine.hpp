// Engine: runs PipelineCore's epoch plan on a oneTBB flow graph (DESIGN.md section 4; STYLE.md
// section 6.6). One serial node per stage; a message to a node means "an input of yours may have
// arrived": the node then runs as many of its next ops, in its fixed plan order, as have their
// inputs and are within the tick budget. So each stage executes exactly the ReferenceRunner's op
// sequence, whatever the thread count or timing — same bits. The graph (engine.cpp, buildGraph)
// has one edge per neighbour pair and direction: a forward kicks the next stage, a backward the
// previous one; a broadcast node kicks every stage when the budget rises.
//
// The graph is built and waited on inside a task_arena with the configured thread count, by the
// caller's thread (the Session's driver thread). Tick budget: ops with plan tick > allowed tick
// wait; step(n) and play raise it, pause freezes it. Exceptions in a stage cancel the graph and
// are rethrown from runEpoch after graph.reset(), leaving the engine reusable.
//
// With a transport (PipelineCore::setTransport; docs/mpi.md) only the local stages have ops; the
// stage nodes poll the transport after every op and kick the stage a tensor arrived for, and
// when the graph settles with local ops left the driver waits for the next arrival. Such an
// epoch runs whole (no budget) and ends with Transport::finishEpoch.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/pipeline/pipeline_core.hpp"
#include "core/pipeline/spec.hpp"

#include <cstdint>
#include <functional>
#include <memory>

namespace lp::core::pipeline {

class Engine {
public:
    // threads = 0: all cores.
    Engine(PipelineCore& core, int threads);
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;
    Engine(Engine&&) = delete;
    Engine& operator=(Engine&&) = delete;
    ~Engine();

    // Called between waits on the driver thread; returns the new tick budget (absolute tick within
    // the epoch up to which ops may run), or a negative value to stop the epoch early. Default:
    // everything at once.
    using BudgetFunction = std::function<std::int64_t(std::int64_t tickDone)>;

    // Runs one epoch like ReferenceRunner::runEpoch. With a budget function, the driver waits
    // for the graph to settle at each budget and asks for the next one. Returns the stats and
    // whether the epoch ran to completion.
    struct EpochOutcome {
        EpochStats stats;
        bool completed = false;
    };

    EpochOutcome runEpoch(std::int64_t epoch,
                          std::int64_t minibatches,
                          const BatchSource& source,
                          const LrFunction& lr,
                          std::int64_t stepBase,
                          std::int64_t tickBase,
                          const BudgetFunction& budget = {});

    // The last tick of the current epoch's plan.
    std::int64_t lastTick() const { return lastTick_; }

    int threads() const;
    // Runs fn inside the engine's task_arena (e.g. to wait for tasks spawned by stage ops, which
    // only this arena's threads can run).
    void runInArena(const std::function<void()>& fn);

private:
    struct Impl;
    PipelineCore& core_;
    std::unique_ptr<Impl> impl_;
    std::int64_t lastTick_ = 0;
};

}  // namespace lp::core::pipeline
