// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/engine.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <vector>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include "core/error.hpp"
#include "core/pipeline/epoch_plan.hpp"

namespace lp::core::pipeline {

namespace flow = tbb::flow;

struct Engine::Impl {
    explicit Impl(int threads) : arena(threads > 0 ? threads : tbb::info::default_concurrency()) {}
    tbb::task_arena arena;
};

Engine::Engine(PipelineCore& core, int threads)
    : core_(core), impl_(std::make_unique<Impl>(threads)) {}

Engine::~Engine() = default;

int Engine::threads() const { return impl_->arena.max_concurrency(); }

void Engine::runInArena(const std::function<void()>& fn) { impl_->arena.execute(fn); }

Engine::EpochOutcome Engine::runEpoch(std::int64_t epoch, std::int64_t minibatches,
                                      const BatchSource& source, const LrFunction& lr,
                                      std::int64_t stepBase, std::int64_t tickBase,
                                      const BudgetFunction& budget) {
    const EpochPlan plan =
        epochPlan(core_.delays(), core_.spec().schedule, minibatches, core_.spec().microBatches);
    const auto stages = static_cast<std::int64_t>(plan.size());
    lastTick_ = 0;
    std::size_t totalOps = 0;
    for (const auto& list : plan) {
        lastTick_ = std::max(lastTick_, list.empty() ? 0 : list.back().tick);
        totalOps += list.size();
    }
    core_.beginEpoch(epoch, minibatches, source, lr, stepBase, tickBase);
    stop_.store(false);

    // Progress of each stage through its list; written only by that stage's serial node.
    std::vector<std::size_t> next(plan.size(), 0);
    std::atomic<std::size_t> done{0};
    std::atomic<std::int64_t> allowedTick{budget ? -1 : std::numeric_limits<std::int64_t>::max()};
    std::atomic<bool> failed{false};

    EpochOutcome outcome;
    std::exception_ptr error;
    impl_->arena.execute([&] {
        // ---- the graph: one serial node per stage, each kicking its neighbours ----
        flow::graph g;
        using Node = flow::function_node<flow::continue_msg, flow::continue_msg, flow::queueing>;
        std::vector<std::unique_ptr<Node>> nodes;
        nodes.reserve(plan.size());
        for (std::int64_t s = 0; s < stages; ++s) {
            nodes.push_back(std::make_unique<Node>(
                g, flow::serial, [&, s](const flow::continue_msg&) {
                    const auto si = static_cast<std::size_t>(s);
                    const auto& list = plan[si];
                    bool progressed = false;
                    while (next[si] < list.size() && !stop_.load(std::memory_order_relaxed)) {
                        const StageOp& op = list[next[si]];
                        if (op.tick > allowedTick.load(std::memory_order_acquire) ||
                            !core_.ready(s, op)) {
                            break;
                        }
                        core_.execute(s, op);
                        ++next[si];
                        done.fetch_add(1, std::memory_order_relaxed);
                        progressed = true;
                        // A forward feeds the next stage, a backward the previous one.
                        if (op.kind == OpKind::Forward && s + 1 < stages) {
                            nodes[si + 1]->try_put(flow::continue_msg());
                        } else if (op.kind == OpKind::Backward && s > 0) {
                            nodes[si - 1]->try_put(flow::continue_msg());
                        }
                    }
                    static_cast<void>(progressed);
                    return flow::continue_msg();
                }));
        }
        auto kickAll = [&] {
            for (auto& n : nodes) {
                n->try_put(flow::continue_msg());
            }
        };

        // ---- the driver loop: raise the budget, let the graph settle, repeat ----
        std::int64_t settled = -1;
        while (done.load() < totalOps) {
            if (budget) {
                const std::int64_t b = budget(settled);
                if (b < 0) {
                    stop_.store(true);
                    break;
                }
                allowedTick.store(b, std::memory_order_release);
            }
            kickAll();
            try {
                g.wait_for_all();
            } catch (...) {
                error = std::current_exception();
                failed.store(true);
                g.reset();
                break;
            }
            if (core_.epochStats().nonFinite) {
                stop_.store(true);
                break;
            }
            if (stop_.load()) {
                break;
            }
            settled = allowedTick.load();
            if (!budget && done.load() < totalOps) {
                // Without a budget everything runs at once; not finishing means a schedule bug.
                error = std::make_exception_ptr(
                    ContractError("engine: pipeline stalled before the end of the epoch"));
                break;
            }
        }
    });
    outcome.stats = core_.epochStats();
    outcome.completed = done.load() == totalOps;
    if (!outcome.completed) {
        core_.abortEpoch();  // restartable: nothing stays in flight
    }
    if (error) {
        std::rethrow_exception(error);
    }
    return outcome;
}

}  // namespace lp::core::pipeline
