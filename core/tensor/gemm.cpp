// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/gemm.hpp"

#include "core/error.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#ifdef LP_HAVE_BLIS
#include <blis.h>
#endif
#ifdef LP_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

namespace lp::core {

namespace {

#ifdef LP_HAVE_BLIS
// The instruction-set level of a BLIS sub-configuration: 2 AVX-512, 1 AVX2 + FMA, 0 anything
// older (its kernels may still use SSE3/AVX, which every CPU at our AVX2 level has).
int levelOf(arch_t id) {
    switch (id) {
        case BLIS_ARCH_SKX:
        case BLIS_ARCH_KNL:
            return 2;
        case BLIS_ARCH_HASWELL:
        case BLIS_ARCH_ZEN:
        case BLIS_ARCH_ZEN2:
        case BLIS_ARCH_ZEN3:
        case BLIS_ARCH_EXCAVATOR:
            return 1;
        default:
            return 0;
    }
}

arch_t canonicalArch(Isa isa) {
    switch (isa) {
        case Isa::Avx512:
            return BLIS_ARCH_SKX;
        case Isa::Avx2:
            return BLIS_ARCH_HASWELL;
        case Isa::Baseline:
            break;
    }
    return BLIS_ARCH_GENERIC;
}

bool userChoseArch() {
    const char* env = std::getenv("BLIS_ARCH_TYPE");
    return env != nullptr && *env != '\0';
}

// BLIS 0.9 reads its sub-configuration from BLIS_ARCH_TYPE (an arch_t number) in
// bli_arch_set_id(); the variable is set only for that call, so child processes do not inherit
// it. bli_init() and the first bli_arch_query_id() run BLIS's own one-time selection first, so
// that it cannot later overwrite ours.
void useArch(arch_t id) {
    bli_init();
    bli_arch_query_id();
    if (bli_gks_lookup_id(id) == nullptr) {
        return;  // not in this BLIS build: keep BLIS's own choice
    }
    const std::string value = std::to_string(static_cast<int>(id));
    setenv("BLIS_ARCH_TYPE", value.c_str(), 1);
    bli_arch_set_id();
    unsetenv("BLIS_ARCH_TYPE");
}

// Thin GEMMs run on haswell's kernels where the chosen kernel set is skx: those with a dimension
// below kSmallDim, or whose output is at most kSmallDim x kSmallDim (a weight gradient summed
// over many tiles). BLIS 0.9's skx sub-configuration has no small-matrix ("sup") kernels, so
// such a GEMM packs whole operands for few multiply-adds per packed value; haswell's sup kernels
// work on the operands in place. Measured on the Zen 5 of docs/cpu-paths.md (AVX-512 path, 2
// threads, width 16 batch 128, one layer's forward / backward in ms, `layerpipe bench`): the
// 3-channel stem (K = 27) 1.65 / 4.93 -> 1.33 / 2.48, the 1x1 downsample 16 -> 32 (K = 16)
// 1.65 / 2.26 -> 1.31 / 1.57, the 32-channel Winograd layers' backward (their weight gradient's
// 32 x 32 outputs) 9.6-9.8 -> 7.9-8.1. Winograd's GEMMs of 64 to 128 channels were slower on
// haswell (forward 1.8-2.5 -> 2.1-2.9 ms), so only the thin ones move. Shapes only: the bits do
// not depend on the thread count. Null: no such split (another kernel set, or BLIS_ARCH_TYPE
// set by the user).
constexpr std::int64_t kSmallDim = 32;
std::atomic<cntx_t*> smallGemmContext{nullptr};

bool isThin(std::int64_t m, std::int64_t n, std::int64_t k) {
    return std::min({m, n, k}) < kSmallDim || m * n <= kSmallDim * kSmallDim;
}
#endif

#ifdef LP_HAVE_LIBXSMM
// GEMMs whose operands fit in cache run on libxsmm's JIT-generated kernels (Debian's libxsmm
// 1.17), which read them in place. On the AVX-512 path: BLIS 0.9's skx sub-configuration has no
// small-matrix kernels and packs both operands. One thread, Zen 5, row-major C [c, nb] = U [c, c]
// · V [c, nb] (the Winograd GEMMs), GFLOP/s BLIS skx -> libxsmm skx: c = 64: nb 64 86 -> 231,
// nb 512 139 -> 209; c = 128, nb 256: 172 -> 222; c = 256, nb 64: 145 -> 226; c = 512, nb 64:
// 131 -> 222; but larger operands lose to BLIS's cache blocking (c = 512, nb 1024: 168 -> 109):
// up to kXsmmOperandFloats of A and B together. On the AVX2 path BLIS's haswell small-matrix
// kernels are as good from 256 channels on (nb 64: c = 64 105 -> 115, c = 128 109 -> 114, c = 256
// 109 -> 100, c = 512 91 -> 86): up to kXsmmOperandFloatsAvx2. Thin GEMMs stay on BLIS (see
// kSmallDim), and so does what libxsmm 1.17 generates no kernel for: a transposed B of ours (its
// transposed A), alpha other than 1, beta other than 0 and 1. A kernel is fixed by the shape, so
// the bits do not depend on the thread count. LP_LIBXSMM=0 keeps every GEMM on BLIS.
constexpr std::int64_t kXsmmOperandFloats = std::int64_t{256} << 10;     // 1 MiB
constexpr std::int64_t kXsmmOperandFloatsAvx2 = std::int64_t{32} << 10;  // 128 KiB
std::atomic<std::int64_t> xsmmLimit{0};  // floats of A and B together; 0: libxsmm off

// True where a product of these shapes and transpositions goes to libxsmm (for alpha 1 and beta 0
// or 1): not thin (kSmallDim), B not transposed, operands within the path's limit.
bool xsmmTakes(Trans transB, std::int64_t m, std::int64_t n, std::int64_t k) {
    return !isThin(m, n, k) && transB == Trans::No &&
           m * k + k * n <= xsmmLimit.load(std::memory_order_relaxed);
}

struct Dims {
    std::int64_t m, n, k;
};

struct Strides {
    std::int64_t lda, ldb, ldc;
};

// libxsmm's kernel for C = alpha · op(A) · op(B) + beta · C of these shapes, or null (BLIS then):
// where xsmmTakes says so, alpha is 1, beta 0 or 1, and libxsmm generates one. Row-major
// C = op(A)·B is column-major Cᵀ = Bᵀ·op(A)ᵀ, so the kernel is called as kernel(b, a, c): its A
// is our B, its B our A (transposed where ours is not).
libxsmm_smmfunction xsmmKernel(
    Trans transA, Trans transB, Dims d, Strides s, float alpha, float beta) {
    if (!xsmmTakes(transB, d.m, d.n, d.k) || alpha != 1.0F || (beta != 0.0F && beta != 1.0F)) {
        return nullptr;
    }
    const auto xlda = static_cast<libxsmm_blasint>(s.ldb);
    const auto xldb = static_cast<libxsmm_blasint>(s.lda);
    const auto xldc = static_cast<libxsmm_blasint>(s.ldc);
    const int flags = transA == Trans::Yes ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
    const int prefetch = LIBXSMM_PREFETCH_NONE;
    return libxsmm_smmdispatch(static_cast<libxsmm_blasint>(d.n),
                               static_cast<libxsmm_blasint>(d.m),
                               static_cast<libxsmm_blasint>(d.k),
                               &xlda,
                               &xldb,
                               &xldc,
                               &alpha,
                               &beta,
                               &flags,
                               &prefetch);
}
#endif

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
    activeIsa();  // the first call selects BLIS's kernel set (and libxsmm's)
#ifdef LP_HAVE_LIBXSMM
    if (const libxsmm_smmfunction kernel =
            xsmmKernel(transA, transB, {m, n, k}, {lda, ldb, ldc}, alpha, beta)) {
        kernel(b, a, c);  // column-major: libxsmm's A is our B (see xsmmKernel)
        return;
    }
#endif

    // BLIS takes a row and a column stride per operand, so row-major needs no transposition
    // trick; the serial library never spawns threads of its own.
    cntx_t* cntx = nullptr;  // the global kernel set
    if (isThin(m, n, k)) {
        cntx = smallGemmContext.load(std::memory_order_relaxed);
    }
    bli_sgemm_ex(transA == Trans::Yes ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
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
                 1,
                 cntx,
                 nullptr);
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

bool gemmRunsOnLibxsmm(Trans transB, std::int64_t m, std::int64_t n, std::int64_t k) {
#ifdef LP_HAVE_LIBXSMM
    activeIsa();
    return xsmmTakes(transB, m, n, k);
#else
    static_cast<void>(transB);
    static_cast<void>(m);
    static_cast<void>(n);
    static_cast<void>(k);
    return false;
#endif
}

bool gemmPacksSmallOperands() {
#ifdef LP_HAVE_BLIS
    activeIsa();
#ifdef LP_HAVE_LIBXSMM
    const bool xsmm = xsmmLimit.load() > 0;
#else
    const bool xsmm = false;
#endif
    return bli_arch_query_id() == BLIS_ARCH_SKX && !xsmm;
#else
    return false;
#endif
}

const char* gemmBackend() {
#ifdef LP_HAVE_BLIS
    return "blis";
#else
    return "eigen";
#endif
}

std::string gemmKernelSet() {
#ifdef LP_HAVE_BLIS
    activeIsa();
    const arch_t id = bli_arch_query_id();
    const bool split = smallGemmContext.load() != nullptr;
    return concat("BLIS ",
                  bli_info_get_version_str(),
                  ", sub-configuration ",
                  bli_arch_string(id),
                  split ? concat(" (haswell for GEMMs thinner than ", kSmallDim, ")") : "",
                  userChoseArch() ? " (BLIS_ARCH_TYPE)" : ""
#ifdef LP_HAVE_LIBXSMM
                  ,
                  xsmmLimit.load() > 0 ? concat("; libxsmm ",
                                                LIBXSMM_CONFIG_VERSION,
                                                " (",
                                                libxsmm_get_target_arch(),
                                                ") for GEMMs with up to ",
                                                xsmmLimit.load() * 4 >> 10,
                                                " KiB of operands")
                                       : std::string()
#endif
    );
#else
    return concat("Eigen ",
                  EIGEN_WORLD_VERSION,
                  ".",
                  EIGEN_MAJOR_VERSION,
                  ".",
                  EIGEN_MINOR_VERSION,
                  " (",
                  Eigen::SimdInstructionSetsInUse(),
                  ")");
#endif
}

void selectGemmKernels(Isa isa) {
#ifdef LP_HAVE_LIBXSMM
    // libxsmm's JIT targets exactly the path's instruction set ("skx": AVX-512 F/CD/BW/DQ/VL;
    // "hsw": AVX2 + FMA), whatever newer extensions the CPU has. Its registry keeps generated
    // kernels by shape, whatever target made them: after a switch of path at run time (only the
    // tests switch) a shape generated before keeps its earlier kernel. Emptying the registry
    // (libxsmm_finalize, then libxsmm_init) made oneTBB's allocator crash under ASan; the bits
    // did not differ (a 64 x 96 x 80 product: the same bits from hsw and skx kernels, each in a
    // process of its own). A path chosen at start-up (LP_ISA) generates only its own kernels.
    const char* optOut = std::getenv("LP_LIBXSMM");
    const bool xsmm = isa != Isa::Baseline && !(optOut != nullptr && std::string(optOut) == "0");
    if (xsmm) {
        libxsmm_init();
        libxsmm_set_target_arch(isa == Isa::Avx512 ? "skx" : "hsw");
    }
    xsmmLimit.store(!xsmm ? 0 : isa == Isa::Avx512 ? kXsmmOperandFloats : kXsmmOperandFloatsAvx2);
#endif
#ifdef LP_HAVE_BLIS
    smallGemmContext.store(nullptr);
    if (userChoseArch()) {
        bli_init();  // BLIS honours the user's BLIS_ARCH_TYPE itself
        return;
    }
    // BLIS's own pick is kept only at the path's level. On an AVX-512 CPU whose FMA units BLIS
    // cannot count (a virtual machine's masked brand string "Intel(R) Xeon(R) Processor": BLIS
    // 0.9's vpu_count() parses the SKU from it) BLIS falls back to haswell; our register-loop
    // probe measured 337.6 GFLOP/s with AVX-512 against 152.1 with AVX2 on such a CPU (2
    // threads), so the AVX-512 path takes skx there.
    const arch_t native = bli_cpuid_query_id();
    useArch(levelOf(native) == static_cast<int>(isa) ? native : canonicalArch(isa));
    if (bli_arch_query_id() == BLIS_ARCH_SKX && bli_gks_lookup_id(BLIS_ARCH_HASWELL) != nullptr) {
        smallGemmContext.store(bli_gks_lookup_ind_cntx(BLIS_ARCH_HASWELL, BLIS_NAT));
    }
#else
    static_cast<void>(isa);
#endif
}

}  // namespace lp::core
