// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/distributed/mpi_transport.hpp"

#include "core/distributed/mpi_check.hpp"
#include "core/error.hpp"
#include "core/pipeline/pipeline_core.hpp"

#include <mpi.h>

#include <array>
#include <bit>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <thread>

namespace lp::core::distributed {

namespace {

using pipeline::Direction;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kHeaderWords = 1 + TensorShape::kMaxRank;  // rank, then the dimensions
constexpr auto kHeaderBytes = static_cast<std::size_t>(pipeline::kMessageHeaderBytes);
static_assert(kHeaderBytes == kHeaderWords * sizeof(std::int64_t));

TensorShape shapeOf(const std::array<std::int64_t, kHeaderWords>& h) {
    switch (h[0]) {
        case 1:
            return TensorShape{h[1]};
        case 2:
            return TensorShape{h[1], h[2]};
        case 3:
            return TensorShape{h[1], h[2], h[3]};
        case 4:
            return TensorShape{h[1], h[2], h[3], h[4]};
        default:
            throw std::runtime_error(concat("an MPI message with a tensor of rank ", h[0]));
    }
}

// One message: the shape header, then the floats.
std::vector<std::byte> pack(const Tensor& t) {
    std::array<std::int64_t, kHeaderWords> h{};
    h[0] = t.shape().rank();
    for (int i = 0; i < t.shape().rank(); ++i) {
        h[static_cast<std::size_t>(i) + 1] = t.shape()[i];
    }
    std::vector<std::byte> bytes(kHeaderBytes + t.bytes());
    std::memcpy(bytes.data(), h.data(), kHeaderBytes);
    if (t.bytes() > 0) {
        std::memcpy(bytes.data() + kHeaderBytes, t.data(), t.bytes());
    }
    return bytes;
}

Tensor unpack(const std::vector<std::byte>& bytes) {
    std::array<std::int64_t, kHeaderWords> h{};
    if (bytes.size() < kHeaderBytes) {
        throw std::runtime_error("an MPI message shorter than its header");
    }
    std::memcpy(h.data(), bytes.data(), kHeaderBytes);
    Tensor t = Tensor::uninitialized(shapeOf(h));
    if (bytes.size() != kHeaderBytes + t.bytes()) {
        throw std::runtime_error("an MPI message whose size does not match its shape");
    }
    if (t.bytes() > 0) {
        std::memcpy(t.data(), bytes.data() + kHeaderBytes, t.bytes());
    }
    return t;
}

int tagOf(Direction dir, std::int64_t unit, int tagLimit) {
    const std::int64_t tag = 2 * unit + (dir == Direction::Backward ? 1 : 0);
    if (tag > tagLimit) {
        throw InputError(concat("an epoch of ",
                                unit + 1,
                                " data units needs MPI tags up to ",
                                tag,
                                ", above this MPI's limit ",
                                tagLimit,
                                ": use fewer steps per epoch"));
    }
    return static_cast<int>(tag);
}

// A broadcast from root that gives up after `timeout` seconds (MPI_Ibcast, then tests), naming
// the rank it waited for: a stuck rank must not hang the others at an epoch's end.
class BoundedBroadcast {
public:
    BoundedBroadcast(MPI_Comm comm, double timeout, const MpiWorld& world)
        : comm_(comm), timeout_(timeout), world_(world) {}

    void operator()(void* data, std::size_t count, MPI_Datatype type, int root) const {
        if (count == 0) {
            return;  // every rank holds the same sizes, so all skip it alike
        }
        LP_EXPECTS(count <= static_cast<std::size_t>(INT_MAX), "a broadcast over 2^31 items");
        MPI_Request request = MPI_REQUEST_NULL;
        checkMpi(MPI_Ibcast(data, static_cast<int>(count), type, root, comm_, &request),
                 "MPI_Ibcast");
        const auto start = Clock::now();
        for (int done = 0; done == 0;) {
            checkMpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
            if (done == 0 &&
                std::chrono::duration<double>(Clock::now() - start).count() > timeout_) {
                throw std::runtime_error(concat(world_.who(world_.rank()),
                                                " waited ",
                                                timeout_,
                                                " s at the end of an epoch for ",
                                                world_.who(root),
                                                " (or another rank of the broadcast): stuck or "
                                                "gone (--mpi-timeout)"));
            }
            if (done == 0) {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
        }
    }

private:
    MPI_Comm comm_;
    double timeout_;
    const MpiWorld& world_;
};

}  // namespace

FailHook failHookFromEnvironment() {
    const char* v = std::getenv("LP_MPI_TEST_FAIL");
    if (v == nullptr || *v == '\0') {
        return {};
    }
    FailHook h;
    char* end = nullptr;
    h.rank = std::strtoll(v, &end, 10);
    bool ok = end != v && *end == ':' && h.rank >= 0;
    h.stall = ok && std::strcmp(end, ":stall") == 0;
    if (ok && !h.stall) {
        const char* unit = end + 1;
        h.unit = std::strtoll(unit, &end, 10);
        ok = end != unit && h.unit >= 0;
        h.die = ok && std::strcmp(end, ":die") == 0;
        ok = ok && (*end == '\0' || h.die);
    }
    if (!ok) {
        throw InputError(
            concat("LP_MPI_TEST_FAIL must be <rank>:<minibatch>, <rank>:<minibatch>:die or "
                   "<rank>:stall (a test hook), got '",
                   v,
                   "'"));
    }
    return h;
}

struct MpiTransport::Impl {
    struct Message {
        MPI_Request request = MPI_REQUEST_NULL;
        std::vector<std::byte> bytes;
        int peer = 0;
        int tag = 0;
        int link = 0;  // 0 forward, 1 backward
        Clock::time_point start;
    };

    MPI_Comm comm = MPI_COMM_NULL;
    int tagLimit = 32767;  // MPI's guaranteed minimum
    std::deque<Message> sends;
    std::deque<Message> receives;
    std::array<LinkTraffic, 2> traffic{};

    // Frees the sends that completed.
    void completeSends() {
        for (auto it = sends.begin(); it != sends.end();) {
            int flag = 0;
            checkMpi(MPI_Test(&it->request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
            if (flag != 0) {
                traffic[static_cast<std::size_t>(it->link)].sendSeconds +=
                    std::chrono::duration<double>(Clock::now() - it->start).count();
                it = sends.erase(it);
            } else {
                ++it;
            }
        }
    }

    // Completes what can be completed: frees finished sends, moves finished receives to `done`.
    void progress(std::vector<Message>& done) {
        completeSends();
        for (;;) {  // new arrivals: matched now, received without blocking
            int flag = 0;
            MPI_Message handle = MPI_MESSAGE_NULL;
            MPI_Status status{};
            checkMpi(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &flag, &handle, &status),
                     "MPI_Improbe");
            if (flag == 0) {
                break;
            }
            int count = 0;
            MPI_Get_count(&status, MPI_BYTE, &count);
            Message m{.bytes = std::vector<std::byte>(static_cast<std::size_t>(count)),
                      .peer = status.MPI_SOURCE,
                      .tag = status.MPI_TAG,
                      .link = (status.MPI_TAG & 1) != 0 ? 1 : 0,
                      .start = Clock::now()};
            checkMpi(MPI_Imrecv(m.bytes.data(), count, MPI_BYTE, &handle, &m.request),
                     "MPI_Imrecv");
            receives.push_back(std::move(m));
        }
        for (auto it = receives.begin(); it != receives.end();) {
            int flag = 0;
            checkMpi(MPI_Test(&it->request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
            if (flag != 0) {
                done.push_back(std::move(*it));
                it = receives.erase(it);
            } else {
                ++it;
            }
        }
    }
};

MpiTransport::MpiTransport(MpiWorld& world,
                           std::int64_t stages,
                           double timeoutSeconds,
                           FailHook hook)
    : world_(world), stages_(stages), timeout_(timeoutSeconds), hook_(hook) {
    if (world.size() > stages) {
        throw InputError(concat("mpirun started ",
                                world.size(),
                                " ranks for ",
                                stages,
                                " pipeline stages: every rank needs at least one stage; start at "
                                "most ",
                                stages,
                                " ranks (mpirun -n) or cut the model into more stages (--stages)"));
    }
    local_ = stagesOfRank(world.rank(), world.size(), stages);
    impl_ = std::make_unique<Impl>();
    const std::lock_guard lock(world_.mutex());
    checkMpi(MPI_Comm_dup(*static_cast<const MPI_Comm*>(world.comm()), &impl_->comm),
             "MPI_Comm_dup");
    MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN);
    int* limit = nullptr;
    int found = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, static_cast<void*>(&limit), &found);
    if (found != 0 && limit != nullptr) {
        impl_->tagLimit = *limit;
    }
}

MpiTransport::~MpiTransport() {
    const std::lock_guard lock(world_.mutex());
    for (auto& m : impl_->sends) {
        MPI_Cancel(&m.request);
        MPI_Request_free(&m.request);
    }
    MPI_Comm_free(&impl_->comm);
}

void MpiTransport::send(Direction dir, std::int64_t to, std::int64_t unit, const Tensor& tensor) {
    if (!hook_.stall && hook_.rank == world_.rank() && unit >= hook_.unit) {
        if (hook_.die) {
            std::raise(SIGKILL);
        }
        throw std::runtime_error(concat("LP_MPI_TEST_FAIL: rank ",
                                        hook_.rank,
                                        " fails on purpose at data unit ",
                                        unit,
                                        " (a test hook)"));
    }
    const auto peer = static_cast<int>(rankOfStage(to, world_.size(), stages_));
    const int link = dir == Direction::Forward ? 0 : 1;
    Impl::Message m{.bytes = pack(tensor),
                    .peer = peer,
                    .tag = tagOf(dir, unit, impl_->tagLimit),
                    .link = link,
                    .start = Clock::now()};
    const std::lock_guard lock(world_.mutex());
    checkMpi(MPI_Isend(m.bytes.data(),
                       static_cast<int>(m.bytes.size()),
                       MPI_BYTE,
                       peer,
                       m.tag,
                       impl_->comm,
                       &m.request),
             "MPI_Isend");
    LinkTraffic& t = impl_->traffic[static_cast<std::size_t>(link)];
    t.messages += 1;
    t.bytes += static_cast<std::int64_t>(m.bytes.size());
    impl_->sends.push_back(std::move(m));
}

bool MpiTransport::poll(const Deliver& deliver) {
    std::vector<Impl::Message> done;
    {
        const std::lock_guard lock(world_.mutex());
        impl_->progress(done);
    }
    for (Impl::Message& m : done) {
        const bool backward = (m.tag & 1) != 0;
        deliver(backward ? Direction::Backward : Direction::Forward,
                backward ? local_.end - 1 : local_.first,
                m.tag / 2,
                unpack(m.bytes));
    }
    return !done.empty();
}

void MpiTransport::waitAny(const Deliver& deliver) {
    const auto start = Clock::now();
    while (!poll(deliver)) {
        if (std::chrono::duration<double>(Clock::now() - start).count() > timeout_) {
            std::string peers;
            if (local_.first > 0) {
                peers = concat(
                    world_.who(world_.rank() - 1), " (activations into stage ", local_.first, ")");
            }
            if (local_.end < stages_) {
                peers += concat(peers.empty() ? "" : " or ",
                                world_.who(world_.rank() + 1),
                                " (gradients into stage ",
                                local_.end - 1,
                                ")");
            }
            throw std::runtime_error(concat(world_.who(world_.rank()),
                                            " waited ",
                                            timeout_,
                                            " s for a tensor from ",
                                            peers,
                                            ": that rank is stuck or gone (--mpi-timeout)"));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

void MpiTransport::finishEpoch(pipeline::PipelineCore& core) {
    const auto start = Clock::now();
    // Every send of the epoch completes before the collectives. Receives are left alone: a
    // neighbour already past the collectives may have sent the next epoch's first tensors,
    // which wait in MPI for that epoch's polls (messages between two ranks keep their order).
    for (;;) {
        {
            const std::lock_guard lock(world_.mutex());
            impl_->completeSends();
            if (impl_->sends.empty()) {
                break;
            }
        }
        if (std::chrono::duration<double>(Clock::now() - start).count() > timeout_) {
            throw std::runtime_error(concat(world_.who(world_.rank()),
                                            " could not finish its sends within ",
                                            timeout_,
                                            " s: a neighbour rank is stuck or gone"));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    const std::lock_guard lock(world_.mutex());
    const BoundedBroadcast broadcast(impl_->comm, timeout_, world_);
    // The loss sums: counted by the rank that runs the last stage.
    pipeline::EpochStats stats = core.epochStats();
    const auto lastRank = static_cast<int>(rankOfStage(stages_ - 1, world_.size(), stages_));
    std::array<std::int64_t, 5> s{std::bit_cast<std::int64_t>(stats.lossSum),
                                  stats.correct,
                                  stats.samples,
                                  stats.minibatches,
                                  stats.nonFinite ? 1 : 0};
    broadcast(s.data(), s.size(), MPI_INT64_T, lastRank);
    core.setEpochStats({.lossSum = std::bit_cast<double>(s[0]),
                        .correct = s[1],
                        .samples = s[2],
                        .minibatches = s[3],
                        .nonFinite = s[4] != 0});
    // Every stage's state from the rank that ran it.
    for (std::int64_t k = 0; k < stages_; ++k) {
        pipeline::Stage& st = core.stage(k);
        const auto root = static_cast<int>(rankOfStage(k, world_.size(), stages_));
        for (const std::span<float> v : {st.mutableWeights(),
                                         st.mutableBuffers(),
                                         st.mutableOptimizerState(),
                                         st.mutableEma()}) {
            broadcast(v.data(), v.size(), MPI_FLOAT, root);
        }
        std::array<std::int64_t, 3> meta{
            st.version(), st.emaUpdates(), std::bit_cast<std::int32_t>(st.lastLr())};
        broadcast(meta.data(), meta.size(), MPI_INT64_T, root);
        if (root != world_.rank()) {
            st.setVersion(meta[0]);  // a replica: nothing in flight, no stash to keep
            st.setEmaUpdates(meta[1]);
            st.setLastLr(std::bit_cast<float>(static_cast<std::int32_t>(meta[2])));
        }
    }
}

std::vector<LinkTraffic> MpiTransport::traffic() const {
    const std::lock_guard lock(world_.mutex());
    return {impl_->traffic[0], impl_->traffic[1]};
}

}  // namespace lp::core::distributed
