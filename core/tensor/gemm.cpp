// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/gemm.hpp"

#include "core/error.hpp"

#include <Eigen/Core>

#ifdef LP_HAVE_BLIS
#include <blis.h>
#endif

namespace lp::core {

namespace {

#ifndef LP_HAVE_BLIS
using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;
using ConstView = Eigen::Map<const RowMajor, Eigen::Unaligned, Stride>;
using View = Eigen::Map<RowMajor, Eigen::Unaligned, Stride>;

// Eigen products of the four transpose combinations; beta is 0 or 1 in every caller here, other
// values scale C first.
template <typename A, typename B>
void eigenProduct(const A& opA, const B& opB, float alpha, float beta, View& out) {
    if (beta == 0.0F) {
        out.noalias() = alpha * (opA * opB);
        return;
    }
    if (beta != 1.0F) {
        out *= beta;
    }
    out.noalias() += alpha * (opA * opB);
}
#endif

}  // namespace

void gemm(Trans transA,
          Trans transB,
          std::int64_t m,
          std::int64_t n,
          std::int64_t k,
          float alpha,
          const float* a,
          std::int64_t lda,
          const float* b,
          std::int64_t ldb,
          float beta,
          float* c,
          std::int64_t ldc) {
    LP_EXPECTS(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension");
    if (m == 0 || n == 0) {
        return;
    }
#ifdef LP_HAVE_BLIS
    // BLIS takes a row and a column stride per operand, so row-major needs no transposition
    // trick; the serial library never spawns threads of its own.
    bli_sgemm(transA == Trans::Yes ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
              transB == Trans::Yes ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
              m,
              n,
              k,
              &alpha,
              const_cast<float*>(a),
              lda,
              1,
              const_cast<float*>(b),
              ldb,
              1,
              &beta,
              c,
              ldc,
              1);
#else
    View out(c, m, n, Stride(ldc));
    const std::int64_t aRows = transA == Trans::Yes ? k : m;
    const std::int64_t aCols = transA == Trans::Yes ? m : k;
    const std::int64_t bRows = transB == Trans::Yes ? n : k;
    const std::int64_t bCols = transB == Trans::Yes ? k : n;
    const ConstView ma(a, aRows, aCols, Stride(lda));
    const ConstView mb(b, bRows, bCols, Stride(ldb));
    if (transA == Trans::No && transB == Trans::No) {
        eigenProduct(ma, mb, alpha, beta, out);
    } else if (transA == Trans::No) {
        eigenProduct(ma, mb.transpose(), alpha, beta, out);
    } else if (transB == Trans::No) {
        eigenProduct(ma.transpose(), mb, alpha, beta, out);
    } else {
        eigenProduct(ma.transpose(), mb.transpose(), alpha, beta, out);
    }
#endif
}

const char* gemmBackend() {
#ifdef LP_HAVE_BLIS
    return "blis";
#else
    return "eigen";
#endif
}

}  // namespace lp::core
