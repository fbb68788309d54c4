// MpiWorld: this process's place among the MPI ranks of one `layerpipe run --mpi` (docs/mpi.md),
// and the few collectives the run needs besides the stage-to-stage messages (mpi_transport.hpp).
// One per process, created and destroyed on the main thread (MPI_Init_thread and MPI_Finalize).
// Every MPI call of the process, from any thread, holds mutex(): MPI_THREAD_SERIALIZED is enough.
// No MPI type appears in this header: lp_core and the app never see <mpi.h>.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/pipeline/transport.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace lp::core::distributed {

// Stage range of `rank` out of `ranks` for `stages` stages (core/pipeline/transport.hpp).
using pipeline::StageRange;
using pipeline::stagesOfRank;
// The rank that runs `stage`.
std::int64_t rankOfStage(std::int64_t stage, std::int64_t ranks, std::int64_t stages);

class MpiWorld {
public:
    // MPI_Init_thread; std::runtime_error when the MPI library cannot serialise calls from
    // several threads (MPI_THREAD_SERIALIZED). Gathers every rank's host name.
    MpiWorld();
    ~MpiWorld();  // MPI_Finalize
    MpiWorld(const MpiWorld&) = delete;
    MpiWorld& operator=(const MpiWorld&) = delete;
    MpiWorld(MpiWorld&&) = delete;
    MpiWorld& operator=(MpiWorld&&) = delete;

    int rank() const { return rank_; }

    int size() const { return size_; }

    const std::string& host() const { return hosts_[static_cast<std::size_t>(rank_)]; }

    const std::vector<std::string>& hosts() const { return hosts_; }

    // "rank 2 (host node3)"
    std::string who(int rank) const;

    std::mutex& mutex() { return mutex_; }

    // The communicator handle of the run's collectives (an MPI_Comm, opaque here).
    const void* comm() const;

    // The collectives below are bounded: each starts with a rendezvous of every rank (one small
    // message to and from each other rank); a rank that does not arrive within timeout()
    // seconds makes the waiting ranks throw std::runtime_error naming it ("rank 1 (host h) did
    // not reach <step> within 300 s: stuck or gone (--mpi-timeout)"), never a hang. The caller
    // then ends the run (abortAll). Every rank calls them in the same order.
    double timeout() const { return timeout_; }

    void setTimeout(double seconds);  // > 0; 300 s until set (--mpi-timeout)

    void barrier();
    // A barrier that returns the run's time origin for the ranks' telemetry: rank 0's clock
    // reading after the barrier on every rank of rank 0's host (one steady clock per machine:
    // no skew), this rank's own reading on other hosts (skew: the barrier's exit spread).
    std::chrono::steady_clock::time_point startClock();
    // InputError on every rank unless every rank passed the same `text` (compared by a 64-bit
    // hash); the message names `what` and the ranks that differ from rank 0.
    void checkSame(const std::string& what, const std::string& text);
    // Whether any rank passed true (a stop request agreed between epochs).
    bool anyTrue(bool local);
    // The smallest `local` of every rank.
    std::int64_t minimum(std::int64_t local);
    // Rank 0 receives every rank's bytes (its own included), in rank order; others get {}.
    std::vector<std::vector<std::byte>> gatherBytes(std::span<const std::byte> mine);
    // Root's bytes to every rank; every rank passes a span of the same size.
    void broadcastBytes(std::span<std::byte> bytes, int root);

    // Ends every process of the run now with exit code `code` (MPI_Abort), when MPI is running;
    // returns otherwise. For a failure one rank sees alone: the others would wait for it.
    static void abortAll(int code);

private:
    // The rendezvous before a collective: returns once every rank has arrived at `step`.
    void arrive(const char* step);

    struct Impl;
    std::unique_ptr<Impl> impl_;
    int rank_ = 0;
    int size_ = 1;
    double timeout_ = 300.0;
    std::vector<std::string> hosts_;
    std::mutex mutex_;
};

}  // namespace lp::core::distributed
