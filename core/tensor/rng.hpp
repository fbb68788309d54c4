// Deterministic random numbers: a counter-free xoshiro256** stream seeded through splitmix64,
// with our own uniform/normal transforms so that results do not depend on the standard library.
// Derive independent streams from (seed, a, b, c) with Rng::derive; never share a generator
// between threads (STYLE.md section 6.7).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <cstdint>

namespace lp::core {

class Rng {
public:
    explicit Rng(std::uint64_t seed);

    // A seed for an independent stream identified by (seed, a, b, c), e.g. (seed, epoch, step).
    static std::uint64_t derive(std::uint64_t seed,
                                std::uint64_t a,
                                std::uint64_t b = 0,
                                std::uint64_t c = 0);

    std::uint64_t next();
    // Uniform in [0, 1) with 24 random bits.
    float uniform();

    // Uniform in [lo, hi).
    float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }

    // Uniform integer in [0, n).
    std::uint64_t below(std::uint64_t n);
    // Standard normal (Box–Muller in double, rounded to float).
    float normal();

private:
    std::array<std::uint64_t, 4> s_{};
    bool hasSpare_ = false;
    double spare_ = 0.0;
};

}  // namespace lp::core
