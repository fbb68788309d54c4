// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/isa.hpp"

#include "core/error.hpp"
#include "core/nn/conv2d.hpp"
#include "core/tensor/fma_peak.hpp"
#include "core/tensor/gemm.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/bits.hpp"
#include "tests/support/conv3x3_reference.hpp"
#include "tests/support/grad_check.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace lp::core {
namespace {

using lp::testing::Conv3x3Shape;
using lp::testing::relativeError;

// Restores the path a test started with.
class IsaRestorer {
public:
    IsaRestorer() : previous_(activeIsa()) {}

    ~IsaRestorer() { setActiveIsa(previous_); }

    IsaRestorer(const IsaRestorer&) = delete;
    IsaRestorer& operator=(const IsaRestorer&) = delete;
    IsaRestorer(IsaRestorer&&) = delete;
    IsaRestorer& operator=(IsaRestorer&&) = delete;

private:
    Isa previous_;
};

// What the CPU has, asked independently of the dispatcher.
std::vector<Isa> expectedPaths() {
    std::vector<Isa> paths{Isa::Baseline};
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
    if (avx2) {
        paths.push_back(Isa::Avx2);
        if (__builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0 &&
            __builtin_cpu_supports("avx512dq") != 0 && __builtin_cpu_supports("avx512vl") != 0) {
            paths.push_back(Isa::Avx512);
        }
    }
#endif
    return paths;
}

TEST(Isa, NamesRoundTripAndUnknownNamesAreRefused) {
    for (Isa isa : {Isa::Baseline, Isa::Avx2, Isa::Avx512}) {
        EXPECT_EQ(parseIsa(isaName(isa)), isa);
    }
    EXPECT_FALSE(parseIsa("sse9").has_value());
    EXPECT_FALSE(parseIsa("AVX2").has_value());
    EXPECT_FALSE(parseIsa("").has_value());
}

// The dispatcher offers exactly the paths the CPU has, and without LP_ISA picks the best.
TEST(Isa, PicksTheBestPathTheCpuSupports) {
    EXPECT_EQ(supportedIsas(), expectedPaths());
    const char* env = std::getenv("LP_ISA");
    if (env == nullptr || *env == '\0') {
        EXPECT_EQ(activeIsa(), expectedPaths().back());
        EXPECT_FALSE(isaForced());
    } else {
        EXPECT_EQ(activeIsa(), parseIsa(env));
    }
    EXPECT_NE(cpuReport().find(std::string(isaName(activeIsa()))), std::string::npos);
}

// The instruction-set level of a BLIS sub-configuration named in gemmKernelSet(): 2 AVX-512,
// 1 AVX2 + FMA, 0 older (generic, penryn, sandybridge, ...).
int blisLevel(const std::string& set) {
    for (const char* name : {" skx", " knl"}) {
        if (set.find(name) != std::string::npos) {
            return 2;
        }
    }
    for (const char* name : {" haswell", " zen", " excavator"}) {
        if (set.find(name) != std::string::npos) {
            return 1;
        }
    }
    return 0;
}

// Switching the path switches the GEMM library's kernel set with it, to one at the path's level:
// BLIS's AVX-512 kernels on the AVX-512 path only, AVX2 kernels on the AVX2 path, and on the
// baseline path BLIS's own pick for an older CPU or its reference kernels, never AVX2 ones.
TEST(Isa, TheGemmKernelSetFollowsThePath) {
    if (std::string(gemmBackend()) != "blis") {
        GTEST_SKIP() << "built without BLIS";
    }
    const IsaRestorer restore;
    for (Isa isa : supportedIsas()) {
        setActiveIsa(isa);
        EXPECT_EQ(activeIsa(), isa);
        const std::string set = gemmKernelSet();
        EXPECT_EQ(blisLevel(set), static_cast<int>(isa)) << isaName(isa) << ": " << set;
    }
}

// Where the build has libxsmm, the AVX2 and AVX-512 paths give it their small GEMMs with
// kernels of the path's own instruction set ("hsw", "skx"), the baseline path never;
// LP_LIBXSMM=0 keeps every GEMM on BLIS, whose skx kernels then pack small operands too
// (gemmPacksSmallOperands: the Winograd blocks grow).
TEST(Isa, LibxsmmTakesTheSmallGemmsOfTheSimdPathsAtTheirLevel) {
    const IsaRestorer restore;
    bool any = false;
    for (Isa isa : supportedIsas()) {
        setActiveIsa(isa);
        any = any || gemmKernelSet().find("libxsmm") != std::string::npos;
    }
    if (!any) {
        GTEST_SKIP() << "built without libxsmm";
    }
    for (Isa isa : supportedIsas()) {
        setActiveIsa(isa);
        const std::string set = gemmKernelSet();
        switch (isa) {
            case Isa::Baseline:
                EXPECT_EQ(set.find("libxsmm"), std::string::npos) << set;
                break;
            case Isa::Avx2:
                EXPECT_NE(set.find("libxsmm 1.17 (hsw)"), std::string::npos) << set;
                EXPECT_FALSE(gemmPacksSmallOperands()) << set;
                break;
            case Isa::Avx512:
                EXPECT_NE(set.find("libxsmm 1.17 (skx)"), std::string::npos) << set;
                EXPECT_FALSE(gemmPacksSmallOperands()) << set;
                break;
        }
    }
    setenv("LP_LIBXSMM", "0", 1);
    for (Isa isa : supportedIsas()) {
        setActiveIsa(isa);
        EXPECT_EQ(gemmKernelSet().find("libxsmm"), std::string::npos) << isaName(isa);
        if (isa == Isa::Avx512 &&
            gemmKernelSet().find("sub-configuration skx") != std::string::npos) {
            EXPECT_TRUE(gemmPacksSmallOperands());
        }
    }
    unsetenv("LP_LIBXSMM");
}

TEST(Isa, RefusesAPathTheCpuLacks) {
    const std::vector<Isa> have = supportedIsas();
    if (have.size() == 3) {
        GTEST_SKIP() << "this CPU runs every path";
    }
    EXPECT_THROW(setActiveIsa(Isa::Avx512), ContractError);
}

// The register-loop probe runs on every path and returns a finite, positive rate (how fast is
// the bench's business, not a unit test's).
TEST(Isa, FmaPeakProbeRunsOnEveryPath) {
    for (Isa isa : supportedIsas()) {
        const double gflops = measureFmaPeakGflops(isa, 1, 0.01);
        EXPECT_TRUE(std::isfinite(gflops)) << isaName(isa);
        EXPECT_GT(gflops, 0.0) << isaName(isa);
    }
    EXPECT_THROW(measureFmaPeakGflops(Isa::Baseline, 0), ContractError);
}

// Where the AVX-512 path runs BLIS's skx kernels, GEMMs thinner than 32 (a dimension below 32,
// or an output of at most 32 x 32) run on haswell's small-matrix kernels (core/tensor/gemm.cpp):
// their bits are the AVX2 path's wherever that path runs haswell's kernels too.
TEST(Isa, ThinGemmsOnTheSkxKernelSetTakeHaswellsKernels) {
    const std::vector<Isa> have = supportedIsas();
    if (std::string(gemmBackend()) != "blis" || have.back() != Isa::Avx512) {
        GTEST_SKIP() << "needs BLIS and an AVX-512 CPU";
    }
    const IsaRestorer restore;
    setActiveIsa(Isa::Avx2);
    if (gemmKernelSet().find("sub-configuration haswell") == std::string::npos) {
        GTEST_SKIP() << "the AVX2 path runs " << gemmKernelSet();
    }
    setActiveIsa(Isa::Avx512);
    if (gemmKernelSet().find("sub-configuration skx") == std::string::npos) {
        GTEST_SKIP() << "the AVX-512 path runs " << gemmKernelSet();
    }
    EXPECT_NE(gemmKernelSet().find("haswell for GEMMs thinner than 32"), std::string::npos)
        << gemmKernelSet();

    struct Case {
        Trans transB;
        std::int64_t m, n, k;
    };

    // A 3-channel stem's im2col product (K = 27), a 1x1 convolution of 16 channels, and a
    // 32-channel Winograd weight gradient (32 x 32 summed over many tiles, B transposed).
    for (const Case& c : {Case{Trans::No, 16, 300, 27},
                          Case{Trans::No, 64, 200, 16},
                          Case{Trans::Yes, 32, 32, 3000}}) {
        const std::vector<float> a = lp::testing::randomWeights(c.m * c.k, 5);
        const std::vector<float> b = lp::testing::randomWeights(c.k * c.n, 6);
        const std::int64_t ldb = c.transB == Trans::Yes ? c.k : c.n;
        std::vector<std::vector<float>> out;
        for (const Isa isa : {Isa::Avx2, Isa::Avx512}) {
            setActiveIsa(isa);
            std::vector<float> y(static_cast<std::size_t>(c.m * c.n));
            gemm(Trans::No,
                 c.transB,
                 c.m,
                 c.n,
                 c.k,
                 1.0F,
                 a.data(),
                 c.k,
                 b.data(),
                 ldb,
                 0.0F,
                 y.data(),
                 c.n);
            out.push_back(std::move(y));
        }
        EXPECT_TRUE(
            lp::testing::sameBits(std::span<const float>(out[0]), std::span<const float>(out[1])))
            << c.m << " x " << c.n << " x " << c.k;
    }
}

// Paths may differ in the low bits (BLIS's kernel sets and the direct kernel's FMAs sum in other
// orders), never by more than kPathBound from the double-precision reference: the forward, the
// input gradient and the weight gradient of 3x3 convolutions on the Winograd, direct and im2col
// routes (docs/cpu-paths.md).
constexpr double kPathBound = 2e-6;

TEST(KernelPaths, StayWithinTheBoundOfTheDoubleReference) {
    const IsaRestorer restore;
    const std::vector<Conv3x3Shape> shapes{
        {2, 32, 32, 16, 16},  // Winograd, 8 tiles a vector
        {2, 64, 64, 8, 8},    // Winograd, tile rows packed into the lanes
        {2, 16, 16, 32, 32},  // direct kernel (im2col on the baseline path)
        {2, 3, 8, 12, 12},    // im2col everywhere
    };
    for (const Conv3x3Shape& s : shapes) {
        const auto [wt, x, dy] = lp::testing::randomCase(s, 31);
        const std::vector<double> refY = lp::testing::referenceConv3x3(false, wt, s, x.data());
        const std::vector<double> refDx = lp::testing::referenceConv3x3(true, wt, s, dy.data());
        const std::vector<double> refGw =
            lp::testing::referenceWeightGradient3x3(s, x.data(), dy.data());
        const nn::Conv2d conv(
            {.inChannels = s.inC, .outChannels = s.outC, .kernel = 3, .stride = 1, .padding = 1});
        for (Isa isa : supportedIsas()) {
            setActiveIsa(isa);
            nn::Context ctx;
            const Tensor y = conv.forward({wt, {}}, x, ctx, nn::Mode::Train);
            std::vector<float> gw(wt.size(), 0.0F);
            const Tensor dx = conv.backward({wt, {}}, dy, ctx, gw);
            const std::string where = std::string(isaName(isa)) + " " + std::to_string(s.inC) +
                                      "->" + std::to_string(s.outC) + " at " + std::to_string(s.h);
            EXPECT_LT(relativeError(y.span(), refY), kPathBound) << where;
            EXPECT_LT(relativeError(dx.span(), refDx), kPathBound) << where;
            EXPECT_LT(relativeError(gw, refGw), kPathBound) << where;
        }
    }
}

}  // namespace
}  // namespace lp::core
