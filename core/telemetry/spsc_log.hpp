// SpscLog: an unbounded append-only log with one producer and one consumer and no locks — the
// per-stage telemetry buffer (DESIGN.md section 6: no locks on the hot path). The producer is a
// stage's executor (one op at a time, possibly on different threads, each call ordered after the
// previous one by the flow graph); the consumer is whoever drains (Recorder::drain serialises
// consumers with its own mutex, off the hot path).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <vector>

namespace lp::core::telemetry {

template <typename T, std::size_t ChunkSize = 1024>
class SpscLog {
public:
    SpscLog() : read_(new Chunk), write_(read_) {}

    ~SpscLog() {
        for (Chunk* c = read_; c != nullptr;) {
            Chunk* next = c->next.load(std::memory_order_relaxed);
            delete c;
            c = next;
        }
    }

    SpscLog(const SpscLog&) = delete;
    SpscLog& operator=(const SpscLog&) = delete;
    SpscLog(SpscLog&&) = delete;
    SpscLog& operator=(SpscLog&&) = delete;

    // Producer. The item becomes visible to drainInto() once its count is published; a full
    // chunk is linked to a fresh one, after which the producer never touches it again.
    void push(const T& item) {
        Chunk* c = write_;
        std::size_t n = c->count.load(std::memory_order_relaxed);  // only the producer writes it
        if (n == ChunkSize) {
            auto* fresh = new Chunk;
            c->next.store(fresh, std::memory_order_release);
            write_ = c = fresh;
            n = 0;
        }
        c->items[n] = item;
        c->count.store(n + 1, std::memory_order_release);
    }

    // Consumer: appends everything published since the last call, in push order, and frees the
    // chunks it has finished (a chunk is finished when it is full and the producer has moved on).
    void drainInto(std::vector<T>& out) {
        for (;;) {
            Chunk* c = read_;
            const std::size_t n = c->count.load(std::memory_order_acquire);
            out.insert(out.end(),
                       c->items.begin() + static_cast<std::ptrdiff_t>(readPos_),
                       c->items.begin() + static_cast<std::ptrdiff_t>(n));
            readPos_ = n;
            if (n < ChunkSize) {
                return;
            }
            Chunk* next = c->next.load(std::memory_order_acquire);
            if (next == nullptr) {
                return;
            }
            delete c;
            read_ = next;
            readPos_ = 0;
        }
    }

private:
    struct Chunk {
        std::array<T, ChunkSize> items{};
        std::atomic<std::size_t> count{0};
        std::atomic<Chunk*> next{nullptr};
    };

    Chunk* read_;              // consumer's chunk
    std::size_t readPos_ = 0;  // consumer's position in it
    Chunk* write_;             // producer's chunk
};

}  // namespace lp::core::telemetry
