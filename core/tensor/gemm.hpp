// Single-threaded float GEMM on row-major matrices, for use inside one parallel chunk: BLIS
// (Debian's serial, thread-safe build) when the build found it, else Eigen's own product.
// Reentrant: any number of threads may call it at once. For given shapes and inputs the result
// bits are fixed on a given machine (no internal threading, a fixed kernel per CPU).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/tensor/isa.hpp"

#include <cstdint>
#include <string>

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

// True where gemm() with these shapes, B as given, alpha 1 and beta 0 or 1 runs on libxsmm's
// kernels (gemm.cpp says which products go there): a caller that can lay out its operands
// either way picks the one that does.
bool gemmRunsOnLibxsmm(Trans transB, std::int64_t m, std::int64_t n, std::int64_t k);

// True where the active path's GEMMs pack even small operands before multiplying (BLIS's skx
// kernels where libxsmm is not there to take the small GEMMs): callers then make their GEMMs
// longer to amortise the packing.
bool gemmPacksSmallOperands();

// "blis" or "eigen": the backend this build uses.
const char* gemmBackend();

// The backend with its version and kernel set, e.g. "BLIS 0.9.0, sub-configuration skx (haswell
// for GEMMs thinner than 32); libxsmm 1.17 (skx) for GEMMs with up to 1024 KiB of operands".
std::string gemmKernelSet();

// Makes the GEMM library use kernels of the instruction set `isa` (called by the dispatcher in
// core/tensor/isa.cpp, never while GEMMs run). BLIS 0.9 picks its sub-configuration from CPUID
// but knows no CPU newer than Zen 3 / Ice Lake and falls back to its slow reference kernels
// ("generic": training ~2.6x slower on a Zen 5), and on an AVX-512 Intel CPU whose model it cannot
// read (a VM's masked brand string) to its AVX2 ones. Unless BLIS_ARCH_TYPE is set by the user,
// its own pick is kept where it is at the level of `isa`, else skx (AVX-512), haswell (AVX2) or
// generic (baseline) is chosen: the GEMMs always run at the path's level, forced or not. Where
// that is skx, GEMMs thinner than 32 take haswell's small-matrix kernels; on the AVX2 and AVX-512
// paths, GEMMs with small operands take libxsmm's kernels for the path (gemm.cpp says why).
void selectGemmKernels(Isa isa);

}  // namespace lp::core
