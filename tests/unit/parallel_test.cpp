// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/parallel.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>
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
}  // namespace lp::core
