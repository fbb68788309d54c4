// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/rng.hpp"

#include <cmath>
#include <numbers>

namespace lp::core {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31U);
}

std::uint64_t rotl(std::uint64_t x, unsigned k) {
    return (x << k) | (x >> (64U - k));
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& w : s_) {
        w = splitmix64(x);
    }
}

std::uint64_t Rng::derive(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    std::uint64_t x = seed;
    std::uint64_t h = splitmix64(x);
    for (std::uint64_t v : {a, b, c}) {
        x = h ^ (v + 0x632BE59BD9B4E019ULL);
        h = splitmix64(x);
    }
    return h;
}

std::uint64_t Rng::next() {
    const std::uint64_t result = rotl(s_[1] * 5U, 7U) * 9U;
    const std::uint64_t t = s_[1] << 17U;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45U);
    return result;
}

float Rng::uniform() {
    return static_cast<float>(next() >> 40U) * 0x1.0p-24F;
}

std::uint64_t Rng::below(std::uint64_t n) {
    // Lemire's multiply-shift; the tiny bias is irrelevant for shuffles and crops.
    __extension__ using U128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<U128>(next()) * n) >> 64U);
}

float Rng::normal() {
    if (hasSpare_) {
        hasSpare_ = false;
        return static_cast<float>(spare_);
    }
    double u1 = 0.0;
    do {
        u1 = static_cast<double>(next() >> 11U) * 0x1.0p-53;
    } while (u1 <= 0.0);
    const double u2 = static_cast<double>(next() >> 11U) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(theta);
    hasSpare_ = true;
    return static_cast<float>(r * std::cos(theta));
}

}  // namespace lp::core
