// Transport: the seam between pipeline stages that run in different processes (DESIGN.md
// section 8). A process runs the contiguous stages [firstLocal, endLocal) of the partition; the
// tensors that cross the ends of that range — activations forward into firstLocal, gradients
// backward into endLocal − 1, and their outgoing twins — travel through a Transport, everything
// else stays in PipelineCore's in-process transit. core/pipeline knows only this interface; the
// MPI implementation lives in core/distributed (docs/mpi.md). Called from the stages' serial
// nodes and the engine's driver thread: implementations are thread-safe.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/error.hpp"
#include "core/pipeline/spec.hpp"
#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <functional>

namespace lp::core::pipeline {

class PipelineCore;

enum class Direction : std::uint8_t { Forward, Backward };

// Bytes in front of every message's floats: the tensor's rank, then TensorShape::kMaxRank
// dimensions, as int64 (what the MPI transport sends; the N-machine forecast counts it too).
inline constexpr std::int64_t kMessageHeaderBytes =
    (1 + TensorShape::kMaxRank) * static_cast<std::int64_t>(sizeof(std::int64_t));

// The stages of process `rank` out of `ranks` for `stages` stages (contiguous groups):
// [floor(rank·K/R), floor((rank+1)·K/R)). ContractError unless 1 <= ranks <= stages and
// 0 <= rank < ranks.
struct StageRange {
    std::int64_t first = 0;
    std::int64_t end = 0;
};

inline StageRange stagesOfRank(std::int64_t rank, std::int64_t ranks, std::int64_t stages) {
    LP_EXPECTS(ranks >= 1 && ranks <= stages && rank >= 0 && rank < ranks,
               concat("stagesOfRank: rank ", rank, " of ", ranks, " for ", stages, " stages"));
    return {.first = rank * stages / ranks, .end = (rank + 1) * stages / ranks};
}

class Transport {
public:
    Transport() = default;
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;
    Transport(Transport&&) = delete;
    Transport& operator=(Transport&&) = delete;
    virtual ~Transport() = default;

    // The stages this process runs: [firstLocal(), endLocal()).
    virtual std::int64_t firstLocal() const = 0;
    virtual std::int64_t endLocal() const = 0;

    bool isLocal(std::int64_t stage) const { return stage >= firstLocal() && stage < endLocal(); }

    // Receives a tensor that arrived: stage `to` (a local stage) gets the activation (Forward)
    // or gradient (Backward) of data unit `unit`.
    using Deliver =
        std::function<void(Direction dir, std::int64_t to, std::int64_t unit, Tensor tensor)>;

    // Sends stage `to`'s input of data unit `unit` (`to` is not local); returns at once.
    virtual void send(Direction dir, std::int64_t to, std::int64_t unit, const Tensor& tensor) = 0;
    // Delivers what has arrived, without waiting; returns whether anything was delivered.
    virtual bool poll(const Deliver& deliver) = 0;
    // Waits until at least one tensor has arrived and delivers it (and any others). Throws when
    // nothing arrives within the transport's timeout, naming the peer it waited for.
    virtual void waitAny(const Deliver& deliver) = 0;
    // After an epoch's local ops have run: completes the sends, gives every process the epoch's
    // statistics (the last stage's loss sums) and the weights, buffers, optimizer state and
    // weight history of every stage, so that evaluation, checkpoints and the next epoch's
    // bookkeeping see one model everywhere. Collective: every process calls it.
    virtual void finishEpoch(PipelineCore& core) = 0;
};

}  // namespace lp::core::pipeline
