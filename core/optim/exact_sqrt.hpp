// A correctly rounded float sqrt for Eigen array expressions (internal to core/optim: includes
// Eigen and x86 intrinsics). Stateless; safe anywhere.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <Eigen/Core>

#include <cmath>

namespace lp::core::optim::detail {

// Correctly rounded sqrt in both of Eigen's evaluation paths. Eigen's own .sqrt() on float
// packets is, under EIGEN_FAST_MATH (its default), an rsqrt estimate plus one Newton step, 1-2
// bits off the std::sqrt of its scalar path: results would then depend on which elements land in
// the vectorised part of a chunk (i.e. on buffer alignment), and would differ from PyTorch's
// exact sqrt. The hardware sqrt instructions are exact; 2.7x faster than a scalar loop here.
struct ExactSqrtOp {
#if defined(EIGEN_VECTORIZE_SSE)
    static constexpr int kVectorised = 1;
#else
    static constexpr int kVectorised = 0;
#endif
    float operator()(float x) const {
        return std::sqrt(x);
    }
#if defined(EIGEN_VECTORIZE_SSE)
    Eigen::internal::Packet4f packetOp(const Eigen::internal::Packet4f& x) const {
        return _mm_sqrt_ps(x);
    }
#endif
#if defined(EIGEN_VECTORIZE_AVX)
    Eigen::internal::Packet8f packetOp(const Eigen::internal::Packet8f& x) const {
        return _mm256_sqrt_ps(x);
    }
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
    Eigen::internal::Packet16f packetOp(const Eigen::internal::Packet16f& x) const {
        // The masked form with every lane selected: _mm512_sqrt_ps trips GCC 12's
        // -Wmaybe-uninitialized on its _mm512_undefined_ps() pass-through operand.
        return _mm512_mask_sqrt_ps(x, static_cast<__mmask16>(0xFFFF), x);
    }
#endif
};

}  // namespace lp::core::optim::detail

// Eigen uses packetOp wherever it vectorises floats on x86 (SSE, AVX, AVX-512); elsewhere the op
// is evaluated with the scalar std::sqrt.
template <>
struct Eigen::internal::functor_traits<lp::core::optim::detail::ExactSqrtOp> {
    enum { Cost = 14, PacketAccess = lp::core::optim::detail::ExactSqrtOp::kVectorised };
};
