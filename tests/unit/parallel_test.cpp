// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/parallel.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace lp::core {
namespace {

// A kernel called from a task whose group is being cancelled (the engine's flow graph, when
// another stage threw) still runs every chunk: a skipped chunk would leave a partial sum unwritten
// (the direct weight gradient then read an empty buffer and crashed).
TEST(ParallelFor, RunsEveryChunkWhenTheCallersGroupIsCancelled) {
    for (const int threads : {1, 2, 4}) {
        const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                        static_cast<std::size_t>(threads));
        std::vector<std::atomic<int>> ran(257);
        tbb::task_group group;
        group.run([&] {
            group.cancel();
            parallelFor(0, 257, 3, [&](std::int64_t lo, std::int64_t hi) {
                for (std::int64_t i = lo; i < hi; ++i) {
                    ran[static_cast<std::size_t>(i)].fetch_add(1);
                }
            });
        });
        group.wait();
        for (std::size_t i = 0; i < ran.size(); ++i) {
            ASSERT_EQ(ran[i].load(), 1) << "index " << i << ", " << threads << " threads";
        }
    }
}

TEST(ParallelFor, ChunksAreFixedByTheGrainAndABodysExceptionPropagates) {
    std::vector<std::int64_t> starts(10, -1);
    parallelFor(5, 35, 3, [&](std::int64_t lo, std::int64_t hi) {
        EXPECT_EQ(hi - lo, 3);
        starts[static_cast<std::size_t>((lo - 5) / 3)] = lo;
    });
    for (std::size_t k = 0; k < starts.size(); ++k) {
        EXPECT_EQ(starts[k], 5 + 3 * static_cast<std::int64_t>(k));
    }
    EXPECT_THROW(parallelFor(0,
                             100,
                             1,
                             [](std::int64_t lo, std::int64_t) {
                                 if (lo == 57) {
                                     throw std::runtime_error("chunk 57");
                                 }
                             }),
                 std::runtime_error);
}

}  // namespace

// A kernel may keep per-thread scratch across its own parallel loops (direct3x3's packed weights,
// the Winograd kernels' block buffers): while a caller waits for its loop's chunks, its thread
// must not run another task of the arena (another pipeline stage's kernel, which would reuse that
// scratch). 20 rounds of 64 outer tasks, each setting a per-thread value, running an inner loop
// and checking the value after it, on 8 threads; without parallelFor's isolation 12 to 26 of the
// 1280 callers found their value clobbered (3 runs on a 2-core machine).
TEST(ParallelFor, AWaitingCallerRunsOnlyChunksOfItsOwnLoop) {
    static thread_local std::int64_t owner = -1;
    std::atomic<int> clobbered{0};
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 8);
    tbb::task_arena arena(8);
    for (int round = 0; round < 20; ++round) {
        arena.execute([&] {
            lp::core::parallelFor(0, 64, 1, [&](std::int64_t lo, std::int64_t hi) {
                for (std::int64_t task = lo; task < hi; ++task) {
                    owner = task;
                    std::atomic<std::int64_t> sink{0};
                    lp::core::parallelFor(0, 16, 1, [&](std::int64_t a, std::int64_t b) {
                        std::int64_t x = a;
                        for (std::int64_t i = 0; i < 20000; ++i) {
                            x = (x * 1103515245 + 12345 + b) % 2147483647;
                        }
                        sink += x;
                    });
                    if (owner != task) {
                        ++clobbered;
                    }
                }
            });
        });
    }
    EXPECT_EQ(clobbered.load(), 0);
}

}  // namespace lp::core
