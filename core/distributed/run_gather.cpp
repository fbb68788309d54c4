// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/distributed/run_gather.hpp"

#include "core/io/atomic_file.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <limits>
#include <type_traits>

namespace lp::core::distributed {

namespace {

// Appends a vector of plain records as its length and its bytes.
template <typename T>
void put(std::vector<std::byte>& out, const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto n = static_cast<std::uint64_t>(v.size());
    const auto* count = reinterpret_cast<const std::byte*>(&n);
    out.insert(out.end(), count, count + sizeof n);
    const auto* data = reinterpret_cast<const std::byte*>(v.data());
    out.insert(out.end(), data, data + v.size() * sizeof(T));
}

template <typename T>
void take(const std::vector<std::byte>& in, std::size_t& at, std::vector<T>& into) {
    std::uint64_t n = 0;
    std::memcpy(&n, in.data() + at, sizeof n);
    at += sizeof n;
    const std::size_t first = into.size();
    into.resize(first + n);
    std::memcpy(into.data() + first, in.data() + at, n * sizeof(T));
    at += n * sizeof(T);
}

}  // namespace

void gatherTelemetry(MpiWorld& world, telemetry::TelemetryLog& log, std::int64_t cutTick) {
    const std::int64_t cut = world.minimum(cutTick);
    if (cut != std::numeric_limits<std::int64_t>::max()) {
        log.cutAfter(cut);
    }
    std::vector<std::byte> mine;
    put(mine, log.ops());
    put(mine, log.staleness());
    put(mine, log.memory());
    put(mine, log.reconstruction());
    put(mine, log.train());
    const std::vector<std::vector<std::byte>> all = world.gatherBytes(mine);
    if (world.rank() != 0) {
        return;
    }
    telemetry::TelemetryBatch merged;
    for (std::size_t r = 0; r < all.size(); ++r) {
        const std::vector<std::byte>& bytes = all[r];
        std::size_t at = 0;
        const std::size_t firstOp = merged.ops.size();
        take(bytes, at, merged.ops);
        for (std::size_t i = firstOp; i < merged.ops.size(); ++i) {
            merged.ops[i].rank = static_cast<std::int32_t>(r);
        }
        take(bytes, at, merged.staleness);
        take(bytes, at, merged.memory);
        take(bytes, at, merged.reconstruction);
        take(bytes, at, merged.train);
    }
    merged.eval = log.eval();
    merged.delays = log.delays();
    log.clear();
    log.append(std::move(merged));
}

void writeMpiRecord(MpiWorld& world,
                    const MpiTransport& transport,
                    std::int64_t steps,
                    const std::filesystem::path& file) {
    const std::vector<LinkTraffic> mine = transport.traffic();
    std::vector<std::byte> bytes(mine.size() * sizeof(LinkTraffic));
    std::memcpy(bytes.data(), mine.data(), bytes.size());
    const std::vector<std::vector<std::byte>> all = world.gatherBytes(bytes);
    if (world.rank() != 0) {
        return;
    }
    const auto perStep = [steps](double v) {
        return steps > 0 ? v / static_cast<double>(steps) : 0.0;
    };
    nlohmann::json ranks = nlohmann::json::array();
    nlohmann::json links = nlohmann::json::array();
    const std::int64_t stages = transport.stageCount();
    for (int r = 0; r < world.size(); ++r) {
        const StageRange s = stagesOfRank(r, world.size(), stages);
        ranks.push_back({{"rank", r},
                         {"host", world.hosts()[static_cast<std::size_t>(r)]},
                         {"firstStage", s.first},
                         {"endStage", s.end}});
        std::vector<LinkTraffic> t(2);
        std::memcpy(t.data(), all[static_cast<std::size_t>(r)].data(), 2 * sizeof(LinkTraffic));
        for (int d = 0; d < 2; ++d) {
            const LinkTraffic& l = t[static_cast<std::size_t>(d)];
            if (l.messages == 0) {
                continue;
            }
            links.push_back({{"from", r},
                             {"to", d == 0 ? r + 1 : r - 1},
                             {"direction", d == 0 ? "forward" : "backward"},
                             {"messages", l.messages},
                             {"bytes", l.bytes},
                             {"sendSeconds", l.sendSeconds},
                             {"bytesPerStep", perStep(static_cast<double>(l.bytes))},
                             {"sendSecondsPerStep", perStep(l.sendSeconds)}});
        }
    }
    const nlohmann::json doc{{"format", "layerpipe-mpi-1"},
                             {"ranks", world.size()},
                             {"stages", stages},
                             {"steps", steps},
                             {"perRank", ranks},
                             {"links", links}};
    io::writeFileAtomically(file, doc.dump(2) + "\n");
}

}  // namespace lp::core::distributed
