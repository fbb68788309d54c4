// Parallel helpers over oneTBB with fixed, thread-count-independent chunking (DESIGN.md section 4,
// determinism). Include only from core .cpp files: ui/ must never see TBB headers.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <cstdint>
#include <vector>

namespace lp::core {

// Calls body(lo, hi) on disjoint chunks [lo, hi) of [begin, end), each at most `grain` long, in
// parallel. Chunk boundaries depend only on (begin, end, grain); bodies must write disjoint data.
// Every chunk runs, even when the caller's task group is cancelled (the engine's flow graph is,
// when another stage throws): the loop has its own isolated context, so a kernel never returns
// with chunks skipped and its partial sums unwritten. An exception thrown by body propagates.
// The loop also runs in an isolated region (this_task_arena::isolate): while the caller waits for
// its chunks, its thread runs only chunks of this loop, never another task of the arena (another
// pipeline stage's op). Kernels keep per-thread scratch across their loops (direct3x3's packed
// weights, the Winograd kernels' block buffers); without the isolation a waiting thread could
// run another stage's kernel on that scratch: Engine.EqualsReferenceRunnerToTheBit failed once
// that way (K = 10, 4 threads, ASan build), and without it
// ParallelFor.AWaitingCallerRunsOnlyChunksOfItsOwnLoop finds 12 to 26 clobbered callers.
template <typename Body>
void parallelFor(std::int64_t begin, std::int64_t end, std::int64_t grain, const Body& body) {
    if (end <= begin) {
        return;
    }
    if (grain < 1) {
        grain = 1;
    }
    if (end - begin <= grain) {
        body(begin, end);
        return;
    }
    const std::int64_t chunks = (end - begin + grain - 1) / grain;
    tbb::task_group_context isolated(tbb::task_group_context::isolated);
    tbb::this_task_arena::isolate([&] {
        tbb::parallel_for(
            tbb::blocked_range<std::int64_t>(0, chunks, 1),
            [&](const tbb::blocked_range<std::int64_t>& r) {
                for (std::int64_t k = r.begin(); k != r.end(); ++k) {
                    const std::int64_t lo = begin + k * grain;
                    const std::int64_t hi = lo + grain < end ? lo + grain : end;
                    body(lo, hi);
                }
            },
            tbb::simple_partitioner(),
            isolated);
    });
}

// Deterministic sum of per-chunk partial results: partial(lo, hi, out) fills one accumulator per
// fixed chunk in parallel; the accumulators are then added in chunk order by the caller's
// combine(acc, partial). Result bits do not depend on the thread count.
template <typename Acc, typename Partial, typename Combine>
Acc chunkedReduce(std::int64_t begin,
                  std::int64_t end,
                  std::int64_t grain,
                  Acc identity,
                  const Partial& partial,
                  const Combine& combine) {
    if (end <= begin) {
        return identity;
    }
    if (grain < 1) {
        grain = 1;
    }
    const std::int64_t chunks = (end - begin + grain - 1) / grain;
    std::vector<Acc> parts(static_cast<std::size_t>(chunks), identity);
    parallelFor(0, chunks, 1, [&](std::int64_t k0, std::int64_t k1) {
        for (std::int64_t k = k0; k < k1; ++k) {
            const std::int64_t lo = begin + k * grain;
            const std::int64_t hi = lo + grain < end ? lo + grain : end;
            partial(lo, hi, parts[static_cast<std::size_t>(k)]);
        }
    });
    Acc acc = std::move(identity);
    for (auto& p : parts) {
        combine(acc, p);
    }
    return acc;
}

}  // namespace lp::core
