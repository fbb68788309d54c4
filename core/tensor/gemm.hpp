// Single-threaded float GEMM on row-major matrices, for use inside one parallel chunk: BLIS
// (Debian's serial, thread-safe build) when the build found it, else Eigen's own product.
// Reentrant: any number of threads may call it at once. For given shapes and inputs the result
// bits are fixed on a given machine (no internal threading, a fixed kernel per CPU).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>

namespace lp::core {

enum class Trans : std::uint8_t { No, Yes };

// C[m, n] = alpha · op(A) · op(B) + beta · C, all row-major with leading dimensions (row strides)
// lda, ldb, ldc. op(A) is [m, k]: A is stored [m, k] (Trans::No) or [k, m] (Trans::Yes); op(B)
// is [k, n] likewise. beta = 0 ignores C's previous content (NaNs included). C must not
// overlap A or B.
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
          std::int64_t ldc);

// "blis" or "eigen": the backend this build uses.
const char* gemmBackend();

}  // namespace lp::core
