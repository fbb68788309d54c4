// MpiTransport: pipeline::Transport over MPI point-to-point messages between neighbouring ranks
// (docs/mpi.md). Rank r runs stages stagesOfRank(r, R, K). A tensor crossing a rank boundary
// goes as one non-blocking message (MPI_Isend; MPI_Improbe + MPI_Imrecv on the other side),
// tagged 2·unit + direction, its shape in a 40-byte header; the stages' serial nodes poll for
// arrivals after every op, so messages overlap compute. Waits are bounded by `timeoutSeconds`.
// At the end of an epoch (finishEpoch) every stage's state is broadcast from the rank that ran
// it, so every rank holds the whole model between epochs. Thread-safe (MpiWorld::mutex()).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/distributed/mpi_world.hpp"
#include "core/pipeline/transport.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace lp::core::distributed {

// Bytes and seconds of one link (between rank r and r + 1) in one direction.
struct LinkTraffic {
    std::int64_t messages = 0;
    std::int64_t bytes = 0;    // payload and header, as sent
    double sendSeconds = 0.0;  // from MPI_Isend to its completion being seen
};

// A test hook (docs/mpi.md): LP_MPI_TEST_FAIL="<rank>:<minibatch>[:die]" makes that rank throw
// (or, with ":die", end itself with SIGKILL) when it sends a tensor of that data unit;
// "<rank>:stall" makes that rank never arrive at the start of training (it sleeps there).
struct FailHook {
    std::int64_t rank = -1;  // -1: off
    std::int64_t unit = 0;
    bool die = false;
    bool stall = false;
};

// The hook from the environment; InputError for a malformed value.
FailHook failHookFromEnvironment();

class MpiTransport final : public pipeline::Transport {
public:
    // InputError when there are more ranks than stages.
    MpiTransport(MpiWorld& world, std::int64_t stages, double timeoutSeconds, FailHook hook = {});
    ~MpiTransport() override;
    MpiTransport(const MpiTransport&) = delete;
    MpiTransport& operator=(const MpiTransport&) = delete;
    MpiTransport(MpiTransport&&) = delete;
    MpiTransport& operator=(MpiTransport&&) = delete;

    std::int64_t firstLocal() const override { return local_.first; }

    std::int64_t endLocal() const override { return local_.end; }

    std::int64_t stageCount() const { return stages_; }

    void send(pipeline::Direction dir,
              std::int64_t to,
              std::int64_t unit,
              const Tensor& tensor) override;
    bool poll(const Deliver& deliver) override;
    void waitAny(const Deliver& deliver) override;
    void finishEpoch(pipeline::PipelineCore& core) override;

    // What this rank sent so far: [0] forward to rank + 1, [1] backward to rank − 1.
    std::vector<LinkTraffic> traffic() const;

private:
    struct Impl;
    MpiWorld& world_;
    std::int64_t stages_;
    StageRange local_;
    double timeout_;
    FailHook hook_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lp::core::distributed
