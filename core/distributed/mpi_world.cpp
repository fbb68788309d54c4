// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/distributed/mpi_world.hpp"

#include "core/distributed/mpi_check.hpp"
#include "core/error.hpp"

#include <mpi.h>

#include <array>
#include <chrono>
#include <climits>
#include <stdexcept>
#include <thread>
#include <utility>

namespace lp::core::distributed {

std::int64_t rankOfStage(std::int64_t stage, std::int64_t ranks, std::int64_t stages) {
    for (std::int64_t r = 0; r < ranks; ++r) {
        if (stage < stagesOfRank(r, ranks, stages).end) {
            return r;
        }
    }
    throw ContractError(concat("rankOfStage: no stage ", stage, " among ", stages));
}

namespace {

int intCount(std::size_t n) {
    LP_EXPECTS(n <= static_cast<std::size_t>(INT_MAX), "an MPI message over 2 GiB");
    return static_cast<int>(n);
}

// FNV-1a: the same text gives the same hash on every rank and every machine.
std::uint64_t hashOf(const std::string& text) {
    std::uint64_t h = 14695981039346656037ULL;
    for (const char c : text) {
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    return h;
}

}  // namespace

struct MpiWorld::Impl {
    MPI_Comm comm = MPI_COMM_NULL;
    MPI_Comm arrivals = MPI_COMM_NULL;  // the rendezvous' tokens, apart from other traffic
    // Their buffers, alive as long as MPI might still write a late token into them.
    int token = 0;
    std::vector<int> from;
};

MpiWorld::MpiWorld() : impl_(std::make_unique<Impl>()) {
    int provided = 0;
    checkMpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided),
             "MPI_Init_thread");
    if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        throw std::runtime_error(
            "this MPI library cannot take calls from several threads (MPI_THREAD_SERIALIZED), "
            "which the pipeline's stages need");
    }
    checkMpi(MPI_Comm_dup(MPI_COMM_WORLD, &impl_->comm), "MPI_Comm_dup");
    // Errors come back as codes (turned into exceptions) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN);
    checkMpi(MPI_Comm_dup(impl_->comm, &impl_->arrivals), "MPI_Comm_dup");
    MPI_Comm_rank(impl_->comm, &rank_);
    MPI_Comm_size(impl_->comm, &size_);
    std::array<char, MPI_MAX_PROCESSOR_NAME> name{};
    int length = 0;
    MPI_Get_processor_name(name.data(), &length);
    std::vector<char> all(static_cast<std::size_t>(size_) * MPI_MAX_PROCESSOR_NAME);
    checkMpi(MPI_Allgather(name.data(),
                           MPI_MAX_PROCESSOR_NAME,
                           MPI_CHAR,
                           all.data(),
                           MPI_MAX_PROCESSOR_NAME,
                           MPI_CHAR,
                           impl_->comm),
             "MPI_Allgather");
    for (int r = 0; r < size_; ++r) {
        hosts_.emplace_back(all.data() + static_cast<std::ptrdiff_t>(r) * MPI_MAX_PROCESSOR_NAME);
    }
}

MpiWorld::~MpiWorld() {
    MPI_Comm_free(&impl_->arrivals);
    MPI_Comm_free(&impl_->comm);
    MPI_Finalize();
}

std::string MpiWorld::who(int rank) const {
    return concat("rank ", rank, " (host ", hosts_[static_cast<std::size_t>(rank)], ")");
}

const void* MpiWorld::comm() const {
    return &impl_->comm;
}

void MpiWorld::setTimeout(double seconds) {
    LP_EXPECTS(seconds > 0.0, concat("MPI timeout ", seconds, " s"));
    timeout_ = seconds;
}

void MpiWorld::arrive(const char* step) {
    if (size_ == 1) {
        return;
    }
    // Tokens between two ranks keep their order, so one tag serves every rendezvous.
    impl_->token = rank_;
    std::vector<int>& from = impl_->from;
    from.assign(static_cast<std::size_t>(size_), -1);
    std::vector<MPI_Request> sends;
    std::vector<std::pair<int, MPI_Request>> receives;  // (peer, request) not yet arrived
    {
        const std::lock_guard lock(mutex_);
        for (int r = 0; r < size_; ++r) {
            if (r == rank_) {
                continue;
            }
            MPI_Request& send = sends.emplace_back(MPI_REQUEST_NULL);
            checkMpi(MPI_Isend(&impl_->token, 1, MPI_INT, r, 0, impl_->arrivals, &send),
                     "MPI_Isend");
            MPI_Request& recv = receives.emplace_back(r, MPI_REQUEST_NULL).second;
            checkMpi(
                MPI_Irecv(
                    &from[static_cast<std::size_t>(r)], 1, MPI_INT, r, 0, impl_->arrivals, &recv),
                "MPI_Irecv");
        }
    }
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        int sent = 0;
        {
            const std::lock_guard lock(mutex_);
            std::erase_if(receives, [](std::pair<int, MPI_Request>& r) {
                int done = 0;
                checkMpi(MPI_Test(&r.second, &done, MPI_STATUS_IGNORE), "MPI_Test");
                return done != 0;
            });
            checkMpi(MPI_Testall(intCount(sends.size()), sends.data(), &sent, MPI_STATUSES_IGNORE),
                     "MPI_Testall");
        }
        if (receives.empty() && sent != 0) {
            return;
        }
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
            timeout_) {
            std::string missing;
            for (const auto& [peer, request] : receives) {
                missing += (missing.empty() ? "" : ", ") + who(peer);
            }
            throw std::runtime_error(concat(missing.empty() ? std::string("a rank") : missing,
                                            " did not reach ",
                                            step,
                                            " within ",
                                            timeout_,
                                            " s (",
                                            who(rank_),
                                            " waited): stuck or gone (--mpi-timeout)"));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

void MpiWorld::barrier() {
    arrive("the start of training");
    // Everyone is there: MPI's own barrier now returns at once, and on every rank at nearly the
    // same moment (the rendezvous' polling would leave them up to a poll interval apart).
    const std::lock_guard lock(mutex_);
    checkMpi(MPI_Barrier(impl_->comm), "MPI_Barrier");
}

void MpiWorld::checkSame(const std::string& what, const std::string& text) {
    arrive("the check of the ranks' arguments");
    const std::uint64_t mine = hashOf(text);
    std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
    {
        const std::lock_guard lock(mutex_);
        checkMpi(MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, impl_->comm),
                 "MPI_Allgather");
    }
    std::string differ;
    for (int r = 1; r < size_; ++r) {
        if (all[static_cast<std::size_t>(r)] != all[0]) {
            differ += (differ.empty() ? "" : ", ") + who(r);
        }
    }
    if (!differ.empty()) {
        throw InputError(concat("every MPI rank must run the same ",
                                what,
                                ", but ",
                                differ,
                                " got different ones than rank 0: give every rank the same "
                                "arguments and config file"));
    }
}

std::chrono::steady_clock::time_point MpiWorld::startClock() {
    barrier();
    const auto mine = std::chrono::steady_clock::now();
    std::int64_t origin = mine.time_since_epoch().count();
    broadcastBytes(std::as_writable_bytes(std::span(&origin, 1)), 0);
    if (host() != hosts_[0]) {
        return mine;
    }
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(origin));
}

bool MpiWorld::anyTrue(bool local) {
    arrive("a vote of the ranks (a problem at start, or a stop request after an epoch)");
    int in = local ? 1 : 0;
    int out = 0;
    const std::lock_guard lock(mutex_);
    checkMpi(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, impl_->comm), "MPI_Allreduce");
    return out != 0;
}

std::int64_t MpiWorld::minimum(std::int64_t local) {
    arrive("the agreement on where the telemetry ends (after training)");
    std::int64_t out = 0;
    const std::lock_guard lock(mutex_);
    checkMpi(MPI_Allreduce(&local, &out, 1, MPI_INT64_T, MPI_MIN, impl_->comm), "MPI_Allreduce");
    return out;
}

std::vector<std::vector<std::byte>> MpiWorld::gatherBytes(std::span<const std::byte> mine) {
    arrive("the gathering of telemetry to rank 0 at the end");
    const std::lock_guard lock(mutex_);
    const int count = intCount(mine.size());
    std::vector<int> counts(static_cast<std::size_t>(size_));
    checkMpi(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, impl_->comm),
             "MPI_Gather");
    std::vector<int> offsets(static_cast<std::size_t>(size_), 0);
    std::size_t total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
        offsets[r] = intCount(total);
        total += static_cast<std::size_t>(counts[r]);
    }
    std::vector<std::byte> all(rank_ == 0 ? total : 0);
    checkMpi(MPI_Gatherv(mine.data(),
                         count,
                         MPI_BYTE,
                         all.data(),
                         counts.data(),
                         offsets.data(),
                         MPI_BYTE,
                         0,
                         impl_->comm),
             "MPI_Gatherv");
    std::vector<std::vector<std::byte>> out;
    if (rank_ == 0) {
        for (std::size_t r = 0; r < counts.size(); ++r) {
            const auto* begin = all.data() + offsets[r];
            out.emplace_back(begin, begin + counts[r]);
        }
    }
    return out;
}

void MpiWorld::broadcastBytes(std::span<std::byte> bytes, int root) {
    arrive("a broadcast");
    const std::lock_guard lock(mutex_);
    checkMpi(MPI_Bcast(bytes.data(), intCount(bytes.size()), MPI_BYTE, root, impl_->comm),
             "MPI_Bcast");
}

void MpiWorld::abortAll(int code) {
    int initialized = 0;
    int finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized != 0 && finalized == 0) {
        MPI_Abort(MPI_COMM_WORLD, code);
    }
}

}  // namespace lp::core::distributed
