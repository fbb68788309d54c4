// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/gemm.hpp"

#include "core/error.hpp"
#include "core/tensor/tensor.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstdlib>
#include <string>

#ifdef LP_HAVE_BLIS
#include <blis.h>
#endif

#include "core/tensor/simd.hpp"  // after the library headers: it opens no target region itself

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
#endif


#ifdef LP_HAVE_BLIS
// ---- Our own packing around BLIS's micro-kernel (AVX-512 sub-configurations) ----------------
//
// BLIS 0.9 packs a micro-panel with a dedicated kernel only for panel widths below 32
// (BLIS_NUM_PACKM_KERS); the skx sub-configuration's float micro-kernel is 32 x 12, so every
// 32-wide panel went through BLIS's generic strided copy (bli_spackm_cxk -> scal2m), 10 % of a
// width-64 batch-32 training step (perf, Zen 5), most of it under the Winograd weight
// gradient's 64 x 64 x 256 GEMMs, where packing took about half of each GEMM. Where that is the
// case we pack the panels ourselves with AVX-512 copies and 16 x 16 transposes and call BLIS's
// own micro-kernel on them, through the same loops and K blocks as BLIS's gemm: the same
// kernel sums the same products in the same order, so the result has BLIS's bits exactly
// (Gemm.OwnPackingGivesBlisBits checks every transpose combination and the K-block
// boundaries). Measured, one thread, Zen 5, C += D·Vᵀ (the weight gradient's shape):
// 64 x 64 x 256: 21.9 -> 15.8 us; 128 x 128 x 256: 73.1 -> 57.2 us; 256 x 256 x 128: 132 ->
// 102 us; 512 x 512 x 64: 242 -> 228 us (BLIS's bli_sgemm vs this, best of 5 x 500 calls).
// Sub-configurations whose panels BLIS packs with its own kernels (haswell, zen3) keep
// bli_sgemm as it is.

using GemmUkr = void (*)(dim_t, dim_t, dim_t, float*, float*, float*, float*, float*, inc_t,
                         inc_t, auxinfo_t*, cntx_t*);

// Set by selectGemmKernels before any GEMM of a path runs (the dispatcher publishes the path
// with a release store that every gemm() call reads first).
struct OwnPacking {
    bool on = false;
    dim_t mr = 0;     // micro-kernel rows of Ĉ = Cᵀ (32 for skx)
    dim_t nr = 0;     // micro-kernel columns (12 for skx)
    dim_t kc = 0;     // BLIS's K block and its maximum: the K blocks decide the bits
    dim_t kcMax = 0;
    dim_t mc = 0;
    dim_t nc = 0;
    GemmUkr ukr = nullptr;
    cntx_t* cntx = nullptr;
};
OwnPacking ownPacking;

#if LP_SIMD_X86
// BLIS's forward block size rule (bli_determine_blocksize_f_sub): the rest in one block when it
// fits the maximum, else the default.
dim_t blockFrom(dim_t i, dim_t dim, dim_t def, dim_t max) {
    const dim_t left = dim - i;
    return left <= max ? left : def;
}

#define LP_AVX512_TARGET gnu::target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")

// In-place transpose of a 16 x 16 block held in 16 vectors (row i in r[i] -> column i). The
// all-lanes zero-masked forms of the shuffles: GCC 12's unmasked ones start from
// _mm512_undefined_ps(), which trips -Wmaybe-uninitialized inside its own header.
constexpr __mmask16 kAll = 0xFFFF;

[[LP_AVX512_TARGET, gnu::always_inline]] inline void transpose16(__m512 (&r)[16]) {
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {  // pairs of rows interleaved
        t[2 * i] = _mm512_maskz_unpacklo_ps(kAll, r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_maskz_unpackhi_ps(kAll, r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {  // 4 x 4 blocks within each 128-bit lane
        r[4 * i] = _mm512_maskz_shuffle_ps(kAll, t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_maskz_shuffle_ps(kAll, t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_maskz_shuffle_ps(kAll, t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_maskz_shuffle_ps(kAll, t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {  // the 128-bit lanes of rows 0-3, 4-7, 8-11, 12-15
        const __m512 ab0 = _mm512_maskz_shuffle_f32x4(kAll, r[j], r[4 + j], 0x88);
        const __m512 ab1 = _mm512_maskz_shuffle_f32x4(kAll, r[j], r[4 + j], 0xDD);
        const __m512 cd0 = _mm512_maskz_shuffle_f32x4(kAll, r[8 + j], r[12 + j], 0x88);
        const __m512 cd1 = _mm512_maskz_shuffle_f32x4(kAll, r[8 + j], r[12 + j], 0xDD);
        t[j] = _mm512_maskz_shuffle_f32x4(kAll, ab0, cd0, 0x88);
        t[8 + j] = _mm512_maskz_shuffle_f32x4(kAll, ab0, cd0, 0xDD);
        t[4 + j] = _mm512_maskz_shuffle_f32x4(kAll, ab1, cd1, 0x88);
        t[12 + j] = _mm512_maskz_shuffle_f32x4(kAll, ab1, cd1, 0xDD);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
        r[i] = t[i];
    }
}

__mmask16 firstLanes(std::int64_t n) {
    return static_cast<__mmask16>((1U << static_cast<unsigned>(n)) - 1U);
}

// A micro-panel from rows of the source: dst[kk·P + r] = src[r·ld + kk] for r < rows, zero for
// rows <= r < P (P <= 32, BLIS's zero padding), kk < k.
[[LP_AVX512_TARGET]] void packTransposed(
    const float* src, std::int64_t ld, std::int64_t rows, std::int64_t k, std::int64_t P,
    float* dst) {
    for (std::int64_t kk = 0; kk < k; kk += 16) {
        const std::int64_t kn = std::min<std::int64_t>(16, k - kk);
        const __mmask16 loadMask = firstLanes(kn);
        for (std::int64_t g = 0; g * 16 < P; ++g) {
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; ++i) {
                const std::int64_t row = g * 16 + i;
                r[i] = row < rows ? _mm512_maskz_loadu_ps(loadMask, src + row * ld + kk)
                                  : _mm512_setzero_ps();
            }
            transpose16(r);
            const __mmask16 storeMask = firstLanes(std::min<std::int64_t>(16, P - g * 16));
#pragma GCC unroll 16
            for (int t = 0; t < 16; ++t) {
                if (t < kn) {
                    _mm512_mask_storeu_ps(dst + (kk + t) * P + g * 16, storeMask, r[t]);
                }
            }
        }
    }
}

// A micro-panel from columns of the source: dst[kk·P + r] = src[kk·ld + r] for r < cols, zero
// up to P.
[[LP_AVX512_TARGET]] void packCopied(
    const float* src, std::int64_t ld, std::int64_t cols, std::int64_t k, std::int64_t P,
    float* dst) {
    for (std::int64_t kk = 0; kk < k; ++kk) {
        for (std::int64_t c0 = 0; c0 < P; c0 += 16) {
            const std::int64_t n = std::clamp<std::int64_t>(cols - c0, 0, 16);
            const __m512 v = _mm512_maskz_loadu_ps(firstLanes(n), src + kk * ld + c0);
            _mm512_mask_storeu_ps(
                dst + kk * P + c0, firstLanes(std::min<std::int64_t>(16, P - c0)), v);
        }
    }
}
#undef LP_AVX512_TARGET

// Packs `count` = [first, first + count) rows of the kernel's operand (kernel row i, K index
// kk) into P-wide panels `stride` floats apart. transposed: element (i, kk) at src[i·ld + kk],
// else at src[kk·ld + i].
void packPanels(const float* src,
                std::int64_t ld,
                bool transposed,
                std::int64_t first,
                std::int64_t count,
                std::int64_t k0,
                std::int64_t k,
                std::int64_t P,
                std::int64_t stride,
                float* dst) {
    for (std::int64_t i = 0; i < count; i += P) {
        const std::int64_t rows = std::min(P, count - i);
        float* panel = dst + (i / P) * stride;
        if (transposed) {
            packTransposed(src + (first + i) * ld + k0, ld, rows, k, P, panel);
        } else {
            packCopied(src + k0 * ld + first + i, ld, rows, k, P, panel);
        }
    }
}

struct PackBuffers {
    AlignedBuffer a;
    AlignedBuffer b;
};

PackBuffers& packBuffers() {
    thread_local PackBuffers buffers;
    return buffers;
}

// C [m, n] (row-major, ldc) = alpha·op(A)·op(B) + beta·C as BLIS computes it for a
// column-preferring micro-kernel: Ĉ = Cᵀ (column-major, the same memory) = op(B)ᵀ · op(A)ᵀ,
// loops jc (NC over Ĉ's columns = C's rows), pc (BLIS's K blocks), ic (MC over Ĉ's rows), jr,
// ir. Â = op(B)ᵀ panels of MR, B̂ = op(A)ᵀ panels of NR.
void gemmOwnPacking(Trans transA,
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
    const OwnPacking& op = ownPacking;
    const std::int64_t mr = op.mr;
    const std::int64_t nr = op.nr;
    PackBuffers& buffers = packBuffers();
    const std::int64_t aStride = mr * op.kcMax;                  // a multiple of 16 floats
    const std::int64_t bStride = (nr * op.kcMax + 15) / 16 * 16;  // 64-byte aligned panels
    // Â(î, kk) = op(B)(kk, î): B stored [k, n] reads along rows (a copy), [n, k] transposes.
    const bool aTransposed = transB == Trans::Yes;
    // B̂(kk, ĵ) = op(A)(ĵ, kk): A stored [m, k] transposes, [k, m] copies.
    const bool bTransposed = transA == Trans::No;
    auxinfo_t aux{};
    for (std::int64_t jc = 0; jc < m; jc += op.nc) {
        const std::int64_t ncNow = std::min<std::int64_t>(op.nc, m - jc);
        float* bPack = buffers.b.growTo((ncNow + nr - 1) / nr * bStride);
        for (std::int64_t pc = 0; pc < k;) {
            const std::int64_t kc = blockFrom(pc, k, op.kc, op.kcMax);
            packPanels(a, lda, bTransposed, jc, ncNow, pc, kc, nr, bStride, bPack);
            float betaNow = pc == 0 ? beta : 1.0F;
            for (std::int64_t ic = 0; ic < n; ic += op.mc) {
                const std::int64_t mcNow = std::min<std::int64_t>(op.mc, n - ic);
                float* aPack = buffers.a.growTo((mcNow + mr - 1) / mr * aStride);
                packPanels(b, ldb, aTransposed, ic, mcNow, pc, kc, mr, aStride, aPack);
                for (std::int64_t jr = 0; jr < ncNow; jr += nr) {
                    float* bPanel = bPack + (jr / nr) * bStride;
                    for (std::int64_t ir = 0; ir < mcNow; ir += mr) {
                        float* aPanel = aPack + (ir / mr) * aStride;
                        bli_auxinfo_set_next_a(aPanel, &aux);
                        bli_auxinfo_set_next_b(bPanel, &aux);
                        op.ukr(std::min(mr, mcNow - ir),
                               std::min(nr, ncNow - jr),
                               kc,
                               &alpha,
                               aPanel,
                               bPanel,
                               &betaNow,
                               c + (jc + jr) * ldc + ic + ir,
                               1,
                               ldc,
                               &aux,
                               op.cntx);
                    }
                }
            }
            pc += kc;
        }
    }
}
#endif  // LP_SIMD_X86

// Called by selectGemmKernels once BLIS's sub-configuration is set.
void chooseOwnPacking(Isa isa) {
    ownPacking = OwnPacking{};
#if LP_SIMD_X86
    cntx_t* cntx = bli_gks_query_cntx();
    const dim_t mr = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MR, cntx);
    const dim_t nr = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NR, cntx);
    // Only where BLIS has no packing kernel for the panel (mr >= 32), for column-preferring
    // kernels (BLIS then packs op(B) into the mr-wide panels of Cᵀ), and on the AVX-512 path
    // (our packers are AVX-512 code).
    const bool wanted = isa == Isa::Avx512 && mr >= BLIS_NUM_PACKM_KERS && mr % 16 == 0 &&
                        mr <= 32 && nr <= 16 &&
                        bli_cntx_l3_nat_ukr_prefers_cols_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx);
    if (!wanted) {
        return;
    }
    ownPacking = OwnPacking{
        .on = true,
        .mr = mr,
        .nr = nr,
        .kc = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, cntx),
        .kcMax = bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, cntx),
        .mc = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MC, cntx),
        .nc = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NC, cntx),
        .ukr = reinterpret_cast<GemmUkr>(
            bli_cntx_get_l3_nat_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx)),
        .cntx = cntx};
#else
    static_cast<void>(isa);
#endif
}

#endif  // LP_HAVE_BLIS

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

void gemmLibrary(Trans transA,
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
    activeIsa();  // the first call selects BLIS's kernel set
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
#if defined(LP_HAVE_BLIS) && LP_SIMD_X86
    activeIsa();  // the first call selects BLIS's kernel set and our packing
    // alpha = 1 only: BLIS applies any other alpha while packing, which rounds differently; an
    // empty K leaves the scaling of C to BLIS.
    if (ownPacking.on && m > 0 && n > 0 && k > 0 && alpha == 1.0F) {
        gemmOwnPacking(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#endif
    gemmLibrary(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

bool gemmPacksPanels() {
#ifdef LP_HAVE_BLIS
    activeIsa();
    return ownPacking.on;
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
    return concat("BLIS ",
                  bli_info_get_version_str(),
                  ", sub-configuration ",
                  bli_arch_string(id),
                  userChoseArch() ? " (BLIS_ARCH_TYPE)" : "",
                  ownPacking.on ? ", AVX-512 panel packing" : "");
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

void selectGemmKernels(Isa isa, bool forced) {
#ifdef LP_HAVE_BLIS
    if (userChoseArch()) {
        bli_init();  // BLIS honours the user's BLIS_ARCH_TYPE itself
        chooseOwnPacking(isa);
        return;
    }
    const arch_t native = bli_cpuid_query_id();
    const int level = static_cast<int>(isa);
    const bool keep = forced ? levelOf(native) == level : native != BLIS_ARCH_GENERIC;
    useArch(keep ? native : canonicalArch(isa));
    chooseOwnPacking(isa);
#else
    static_cast<void>(isa);
    static_cast<void>(forced);
#endif
}

}  // namespace lp::core
