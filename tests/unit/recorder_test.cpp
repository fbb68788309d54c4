// The telemetry recorder's lock-free per-stage logs: everything pushed comes out once, in order,
// while a producer and a consumer run at the same time; the Recorder keeps stages apart.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/recorder.hpp"

#include "core/telemetry/spsc_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace lp::core::telemetry {
namespace {

TEST(SpscLog, ConcurrentProducerAndConsumerSeeEveryItemOnceInOrder) {
    constexpr std::int64_t kItems = 200'000;
    SpscLog<std::int64_t, 7> log;  // tiny chunks: thousands of chunk hand-overs
    std::atomic<bool> done{false};
    std::thread producer([&] {
        for (std::int64_t i = 0; i < kItems; ++i) {
            log.push(i);
        }
        done.store(true, std::memory_order_release);
    });
    std::vector<std::int64_t> seen;
    while (!done.load(std::memory_order_acquire)) {
        log.drainInto(seen);
    }
    producer.join();
    log.drainInto(seen);
    ASSERT_EQ(static_cast<std::int64_t>(seen.size()), kItems);
    for (std::int64_t i = 0; i < kItems; ++i) {
        ASSERT_EQ(seen[static_cast<std::size_t>(i)], i);
    }
    std::vector<std::int64_t> again;
    log.drainInto(again);
    EXPECT_TRUE(again.empty());
}

TEST(Recorder, DrainReturnsEachStagesEventsOnceInRecordingOrder) {
    Recorder r(3);
    for (std::int64_t j = 0; j < 2500; ++j) {  // more than one chunk per stage
        for (std::int32_t s = 0; s < 3; ++s) {
            r.op({.stage = s, .minibatch = j});
            r.memory({.tick = j, .stage = s, .bytes = j});
        }
    }
    r.train({.step = 7});
    const TelemetryBatch b = r.drain();
    ASSERT_EQ(b.ops.size(), 7500U);
    ASSERT_EQ(b.memory.size(), 7500U);
    for (std::size_t i = 0; i < b.ops.size(); ++i) {  // by stage, then recording order
        EXPECT_EQ(b.ops[i].stage, static_cast<std::int32_t>(i / 2500));
        EXPECT_EQ(b.ops[i].minibatch, static_cast<std::int64_t>(i % 2500));
    }
    ASSERT_EQ(b.train.size(), 1U);
    EXPECT_TRUE(r.drain().empty());

    r.setRecordsOps(false);  // op events off (throughput runs); the rest is still recorded
    r.op({.stage = 0});
    r.staleness({.stage = 1, .staleness = 2});
    const TelemetryBatch off = r.drain();
    EXPECT_TRUE(off.ops.empty());
    EXPECT_EQ(off.staleness.size(), 1U);
}

}  // namespace
}  // namespace lp::core::telemetry
