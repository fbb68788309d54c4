// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/engine.hpp"

#include "core/error.hpp"
#include "core/pipeline/epoch_plan.hpp"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <tuple>
#include <vector>

namespace lp::core::pipeline {

namespace {

namespace flow = tbb::flow;

// The only message: "an input of yours may have arrived, or the tick budget rose".
using Kick = flow::continue_msg;
// One stage: a serial node whose output port kToNext kicks the next stage (a forward sent it an
// activation) and kToPrevious the previous stage (a backward sent it a gradient).
using StageNode = flow::multifunction_node<Kick, std::tuple<Kick, Kick>, flow::queueing>;
constexpr int kToNext = 0;
constexpr int kToPrevious = 1;

// The state of one epoch that the node bodies share; lives on the driver's stack for the epoch.
struct EpochRun {
    EpochRun(PipelineCore& pipeline, EpochPlan epochOps, bool budgeted)
        : core(pipeline)
        , plan(std::move(epochOps))
        , next(plan.size(), 0)
        , allowedTick(budgeted ? -1 : std::numeric_limits<std::int64_t>::max()) {
        for (std::size_t s = 0; s < plan.size(); ++s) {
            if (core.isLocal(static_cast<std::int64_t>(s))) {
                totalOps += plan[s].size();
            } else {
                next[s] = plan[s].size();  // another process runs it (a transport)
            }
        }
    }

    bool finished() const { return done.load() == totalOps; }

    PipelineCore& core;
    const EpochPlan plan;
    std::vector<std::size_t> next;  // each stage's progress; written only by its serial node
    std::size_t totalOps = 0;
    std::atomic<std::size_t> done{0};
    std::atomic<std::int64_t> allowedTick;  // raised by the driver between settles
    std::vector<StageNode*> nodes;          // to kick a stage whose input arrived remotely
};

// With a transport: puts the tensors that arrived into the core's transit and kicks the stages
// they are for. Safe from any thread of the arena (try_put may be called from a node body).
Transport::Deliver deliverTo(EpochRun& run) {
    return [&run](Direction dir, std::int64_t to, std::int64_t unit, Tensor tensor) {
        run.core.deliver(dir, to, unit, std::move(tensor));
        run.nodes[static_cast<std::size_t>(to)]->try_put(Kick());
    };
}

// Stage s's node body: runs its next ops in plan order while their inputs have arrived and their
// ticks are within the budget, and kicks the neighbour each op fed.
void runReadyOps(EpochRun& run, std::int64_t s, StageNode::output_ports_type& ports) {
    const auto si = static_cast<std::size_t>(s);
    const std::vector<StageOp>& list = run.plan[si];
    while (run.next[si] < list.size()) {
        const StageOp& op = list[run.next[si]];
        if (op.tick > run.allowedTick.load(std::memory_order_acquire) || !run.core.ready(s, op)) {
            return;
        }
        run.core.execute(s, op);
        ++run.next[si];
        run.done.fetch_add(1, std::memory_order_relaxed);
        if (op.kind == OpKind::Forward) {
            std::get<kToNext>(ports).try_put(Kick());
        } else if (op.kind == OpKind::Backward) {
            std::get<kToPrevious>(ports).try_put(Kick());
        }
        if (Transport* t = run.core.transport()) {
            t->poll(deliverTo(run));  // overlap: take in what arrived while this op ran
        }
    }
}

// The driver loop: raise the budget, kick every stage, let the graph settle; repeat until every
// op has run, the budget says stop or the loss went non-finite. Returns what a stage threw (the
// graph reset, reusable) or a stall without a budget (a schedule bug); null otherwise.
std::exception_ptr settleEpoch(flow::graph& g,
                               flow::broadcast_node<Kick>& kickAll,
                               EpochRun& run,
                               const Engine::BudgetFunction& budget) {
    std::int64_t settled = -1;
    while (!run.finished()) {
        if (budget) {
            const std::int64_t b = budget(settled);
            if (b < 0) {
                return nullptr;
            }
            run.allowedTick.store(b, std::memory_order_release);
        }
        kickAll.try_put(Kick());
        try {
            g.wait_for_all();
        } catch (...) {
            g.reset();
            return std::current_exception();
        }
        Transport* transport = run.core.transport();
        if (transport != nullptr && !run.finished()) {
            // Every local stage waits for a tensor from another process (a budget is not
            // allowed with a transport: Engine::runEpoch).
            try {
                transport->waitAny(deliverTo(run));
            } catch (...) {
                return std::current_exception();
            }
            continue;
        }
        if (run.core.epochStats().nonFinite) {
            return nullptr;
        }
        settled = run.allowedTick.load();
        if (!budget && !run.finished()) {
            return std::make_exception_ptr(
                ContractError("engine: pipeline stalled before the end of the epoch"));
        }
    }
    return nullptr;
}

// The graph of one epoch, top to bottom: the nodes, the edges, then the driver loop.
std::exception_ptr runGraph(EpochRun& run, const Engine::BudgetFunction& budget) {
    flow::graph g;
    flow::broadcast_node<Kick> kickAll(g);
    std::vector<std::unique_ptr<StageNode>> stages;
    for (std::size_t s = 0; s < run.plan.size(); ++s) {
        const auto index = static_cast<std::int64_t>(s);
        stages.push_back(std::make_unique<StageNode>(
            g, flow::serial, [&run, index](const Kick&, StageNode::output_ports_type& ports) {
                runReadyOps(run, index, ports);
            }));
        run.nodes.push_back(stages.back().get());
    }

    for (const auto& stage : stages) {
        flow::make_edge(kickAll, *stage);
    }
    for (std::size_t s = 0; s + 1 < stages.size(); ++s) {
        flow::make_edge(flow::output_port<kToNext>(*stages[s]), *stages[s + 1]);      // activation
        flow::make_edge(flow::output_port<kToPrevious>(*stages[s + 1]), *stages[s]);  // gradient
    }

    return settleEpoch(g, kickAll, run, budget);
}

}  // namespace

struct Engine::Impl {
    explicit Impl(int threads) : arena(threads > 0 ? threads : tbb::info::default_concurrency()) {}

    tbb::task_arena arena;
};

Engine::Engine(PipelineCore& core, int threads)
    : core_(core), impl_(std::make_unique<Impl>(threads)) {}

Engine::~Engine() = default;

int Engine::threads() const {
    return impl_->arena.max_concurrency();
}

void Engine::runInArena(const std::function<void()>& fn) {
    impl_->arena.execute(fn);
}

Engine::EpochOutcome Engine::runEpoch(std::int64_t epoch,
                                      std::int64_t minibatches,
                                      const BatchSource& source,
                                      const LrFunction& lr,
                                      std::int64_t stepBase,
                                      std::int64_t tickBase,
                                      const BudgetFunction& budget) {
    Transport* transport = core_.transport();
    LP_EXPECTS(!budget || transport == nullptr,
               "with a transport an epoch runs whole: every process must reach the same ticks");
    EpochRun run(
        core_,
        epochPlan(core_.delays(), core_.spec().schedule, minibatches, core_.spec().microBatches),
        static_cast<bool>(budget));
    lastTick_ = std::max<std::int64_t>(0, lastTickOf(run.plan));
    core_.beginEpoch(epoch, minibatches, source, lr, stepBase, tickBase);
    std::exception_ptr error;
    impl_->arena.execute([&] { error = runGraph(run, budget); });
    if (transport != nullptr && !error && run.finished()) {
        transport->finishEpoch(core_);  // the epoch's statistics and every stage's state
    }
    const EpochOutcome outcome{.stats = core_.epochStats(), .completed = run.finished()};
    if (!outcome.completed) {
        core_.abortEpoch();  // restartable: nothing stays in flight
    }
    if (error) {
        std::rethrow_exception(error);
    }
    return outcome;
}

}  // namespace lp::core::pipeline
