// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/batch_norm2d.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"
#include "core/tensor/simd.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

namespace lp::core::nn {

namespace {

// A double-precision sum kept in 8 interleaved lanes: element i of a run goes to lane i % 8, and
// the lanes are combined pairwise in a fixed order. The order depends only on the run lengths, so
// the result is reproducible, and the independent lanes avoid a serial (latency-bound)
// accumulator. GCC does not vectorise the lane loops at -O2: whole groups of 8 take AVX2 (two
// vectors of 4 lanes) with the scalar loop's operations per lane, the same bits.
class LaneSum {
public:
    // Σ (x[i] − shift) into `this` and Σ (x[i] − shift)² into `squares`, in one pass. simd: the
    // path has AVX2 (core/tensor/simd.hpp).
    void addShifted(const float* x,
                    std::int64_t count,
                    double shift,
                    LaneSum& squares,
                    [[maybe_unused]] bool simd) {
        std::int64_t i = 0;
#if LP_SIMD_X86
        if (simd) {
            i = addShiftedAvx2(x, count, shift, lanes_, squares.lanes_);
        }
#endif
        for (; i < count; ++i) {
            const double d = static_cast<double>(x[i]) - shift;
            const double square = d * d;
            lanes_[i % kLanes] += d;
            squares.lanes_[i % kLanes] += square;
        }
    }

    // sumA += Σ a[i] and sumAB += Σ a[i]·x̂[i], with x̂[i] = (x[i] − mean)·invstd rounded to float
    // as the forward's normalize rounds it (the product of two floats is exact in double).
    static void addValuesAndProducts(LaneSum& sumA,
                                     LaneSum& sumAB,
                                     const float* a,
                                     const float* x,
                                     float mean,
                                     float invstd,
                                     std::int64_t count,
                                     [[maybe_unused]] bool simd) {
        std::int64_t i = 0;
#if LP_SIMD_X86
        if (simd) {
            i = addValuesAndProductsAvx2(a, x, mean, invstd, count, sumA.lanes_, sumAB.lanes_);
        }
#endif
        for (; i < count; ++i) {
            const auto va = static_cast<double>(a[i]);
            const float xh = (x[i] - mean) * invstd;
            sumA.lanes_[i % kLanes] += va;
            sumAB.lanes_[i % kLanes] += va * static_cast<double>(xh);
        }
    }

    double total() const {
        return ((lanes_[0] + lanes_[1]) + (lanes_[2] + lanes_[3])) +
               ((lanes_[4] + lanes_[5]) + (lanes_[6] + lanes_[7]));
    }

private:
    static constexpr std::int64_t kLanes = 8;
    alignas(32) double lanes_[kLanes] = {};

#if LP_SIMD_X86
    // The whole groups of 8 of addShifted in AVX2 (two vectors of 4 lanes), the scalar loop's
    // operations per lane; returns the elements done.
    [[gnu::target("avx2,fma")]] static std::int64_t addShiftedAvx2(
        const float* x, std::int64_t count, double shift, double* sums, double* squares) {
        std::int64_t i = 0;
        __m256d lo = _mm256_load_pd(sums);
        __m256d hi = _mm256_load_pd(sums + 4);
        __m256d qLo = _mm256_load_pd(squares);
        __m256d qHi = _mm256_load_pd(squares + 4);
        const __m256d k = _mm256_set1_pd(shift);
        for (; i + kLanes <= count; i += kLanes) {
            const __m256 v = _mm256_loadu_ps(x + i);
            const __m256d dl = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), k);
            const __m256d dh = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), k);
            lo = _mm256_add_pd(lo, dl);
            hi = _mm256_add_pd(hi, dh);
            qLo = _mm256_add_pd(qLo, _mm256_mul_pd(dl, dl));
            qHi = _mm256_add_pd(qHi, _mm256_mul_pd(dh, dh));
        }
        _mm256_store_pd(sums, lo);
        _mm256_store_pd(sums + 4, hi);
        _mm256_store_pd(squares, qLo);
        _mm256_store_pd(squares + 4, qHi);
        return i;
    }

    // The whole groups of 8 of addValuesAndProducts in AVX2; returns the elements done.
    [[gnu::target("avx2,fma")]] static std::int64_t addValuesAndProductsAvx2(const float* a,
                                                                             const float* x,
                                                                             float mean,
                                                                             float invstd,
                                                                             std::int64_t count,
                                                                             double* sums,
                                                                             double* products) {
        const __m256 m = _mm256_set1_ps(mean);
        const __m256 k = _mm256_set1_ps(invstd);
        std::int64_t i = 0;
        __m256d aLo = _mm256_load_pd(sums);
        __m256d aHi = _mm256_load_pd(sums + 4);
        __m256d pLo = _mm256_load_pd(products);
        __m256d pHi = _mm256_load_pd(products + 4);
        for (; i + kLanes <= count; i += kLanes) {
            const __m256 va = _mm256_loadu_ps(a + i);
            const __m256 vb = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), k);
            const __m256d al = _mm256_cvtps_pd(_mm256_castps256_ps128(va));
            const __m256d ah = _mm256_cvtps_pd(_mm256_extractf128_ps(va, 1));
            const __m256d bl = _mm256_cvtps_pd(_mm256_castps256_ps128(vb));
            const __m256d bh = _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1));
            aLo = _mm256_add_pd(aLo, al);
            aHi = _mm256_add_pd(aHi, ah);
            pLo = _mm256_add_pd(pLo, _mm256_mul_pd(al, bl));
            pHi = _mm256_add_pd(pHi, _mm256_mul_pd(ah, bh));
        }
        _mm256_store_pd(sums, aLo);
        _mm256_store_pd(sums + 4, aHi);
        _mm256_store_pd(products, pLo);
        _mm256_store_pd(products + 4, pHi);
        return i;
    }
#endif
};

struct Geometry {
    std::int64_t batch;
    std::int64_t channels;
    std::int64_t plane;  // H·W
    std::int64_t count;  // N·H·W, the elements per channel
};

Geometry geometryOf(const TensorShape& s) {
    return {s[0], s[1], s[2] * s[3], s[0] * s[2] * s[3]};
}

// Offset of plane (b, c) in an NCHW tensor.
std::int64_t planeOffset(const Geometry& g, std::int64_t b, std::int64_t c) {
    return (b * g.channels + c) * g.plane;
}

// The elementwise passes: plain float multiplies and adds (never an FMA) in the same order on
// every path, so every path gives the same bits; 8 or 16 lanes at a time on the SIMD paths (GCC
// does not vectorise these loops at -O2; Eigen's maps, used before, vectorise only for the
// instruction set of the whole translation unit: SSE2 in the portable build, ~40% slower).
#if LP_SIMD_X86
// y = x̂·γ + β with x̂ = (x − μ)·invstd for whole groups of 8; returns the elements done.
[[gnu::target("avx2,fma")]] std::int64_t normalizeAvx2(const float* x,
                                                       std::int64_t count,
                                                       float mean,
                                                       float invstd,
                                                       float gamma,
                                                       float beta,
                                                       float* y) {
    const __m256 m = _mm256_set1_ps(mean);
    const __m256 k = _mm256_set1_ps(invstd);
    const __m256 gm = _mm256_set1_ps(gamma);
    const __m256 bt = _mm256_set1_ps(beta);
    std::int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), k);
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_mul_ps(xh, gm), bt));
    }
    return i;
}

// The same for whole groups of 16, AVX-512.
[[gnu::target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")]] std::int64_t normalizeAvx512(
    const float* x,
    std::int64_t count,
    float mean,
    float invstd,
    float gamma,
    float beta,
    float* y) {
    const __m512 m = _mm512_set1_ps(mean);
    const __m512 k = _mm512_set1_ps(invstd);
    const __m512 gm = _mm512_set1_ps(gamma);
    const __m512 bt = _mm512_set1_ps(beta);
    std::int64_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), m), k);
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_mul_ps(xh, gm), bt));
    }
    return i;
}

// dx = k·((dy − mean(dy)) − x̂·mean(dy·x̂)) for whole groups of 8; returns the elements done.
[[gnu::target("avx2,fma")]] std::int64_t inputGradientAvx2(const float* dy,
                                                           const float* x,
                                                           float mean,
                                                           float invstd,
                                                           std::int64_t count,
                                                           float k,
                                                           float meanDy,
                                                           float meanDyXhat,
                                                           float* dx) {
    const __m256 m = _mm256_set1_ps(mean);
    const __m256 is = _mm256_set1_ps(invstd);
    const __m256 kv = _mm256_set1_ps(k);
    const __m256 md = _mm256_set1_ps(meanDy);
    const __m256 mx = _mm256_set1_ps(meanDyXhat);
    std::int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 centred = _mm256_sub_ps(_mm256_loadu_ps(dy + i), md);
        const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), is);
        const __m256 v = _mm256_sub_ps(centred, _mm256_mul_ps(xh, mx));
        _mm256_storeu_ps(dx + i, _mm256_mul_ps(kv, v));
    }
    return i;
}

// The same for whole groups of 16, AVX-512.
[[gnu::target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")]] std::int64_t inputGradientAvx512(
    const float* dy,
    const float* x,
    float mean,
    float invstd,
    std::int64_t count,
    float k,
    float meanDy,
    float meanDyXhat,
    float* dx) {
    const __m512 m = _mm512_set1_ps(mean);
    const __m512 is = _mm512_set1_ps(invstd);
    const __m512 kv = _mm512_set1_ps(k);
    const __m512 md = _mm512_set1_ps(meanDy);
    const __m512 mx = _mm512_set1_ps(meanDyXhat);
    std::int64_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m512 centred = _mm512_sub_ps(_mm512_loadu_ps(dy + i), md);
        const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), m), is);
        const __m512 v = _mm512_sub_ps(centred, _mm512_mul_ps(xh, mx));
        _mm512_storeu_ps(dx + i, _mm512_mul_ps(kv, v));
    }
    return i;
}
#endif

// y = x̂·γ + β with x̂ = (x − μ)·invstd for channel c: the forward's output, and recomputeOutput's.
void normalizeChannel(const Geometry& g,
                      std::int64_t c,
                      const float* x,
                      float mean,
                      float invstd,
                      float gamma,
                      float beta,
                      float* y,
                      [[maybe_unused]] Isa isa) {
    for (std::int64_t b = 0; b < g.batch; ++b) {
        const std::int64_t o = planeOffset(g, b, c);
        std::int64_t i = 0;
#if LP_SIMD_X86
        if (isa == Isa::Avx512) {
            i = normalizeAvx512(x + o, g.plane, mean, invstd, gamma, beta, y + o);
        } else if (isa == Isa::Avx2) {
            i = normalizeAvx2(x + o, g.plane, mean, invstd, gamma, beta, y + o);
        }
#endif
        for (; i < g.plane; ++i) {
            const float xh = (x[o + i] - mean) * invstd;
            y[o + i] = xh * gamma + beta;
        }
    }
}

// dx = k·((dy − mean(dy)) − x̂·mean(dy·x̂)) for channel c, x̂ = (x − μ)·invstd.
void inputGradientChannel(const Geometry& g,
                          std::int64_t c,
                          const float* dy,
                          const float* x,
                          float mean,
                          float invstd,
                          float k,
                          float meanDy,
                          float meanDyXhat,
                          float* dx,
                          [[maybe_unused]] Isa isa) {
    for (std::int64_t b = 0; b < g.batch; ++b) {
        const std::int64_t o = planeOffset(g, b, c);
        std::int64_t i = 0;
#if LP_SIMD_X86
        if (isa == Isa::Avx512) {
            i = inputGradientAvx512(
                dy + o, x + o, mean, invstd, g.plane, k, meanDy, meanDyXhat, dx + o);
        } else if (isa == Isa::Avx2) {
            i = inputGradientAvx2(
                dy + o, x + o, mean, invstd, g.plane, k, meanDy, meanDyXhat, dx + o);
        }
#endif
        for (; i < g.plane; ++i) {
            const float xh = (x[o + i] - mean) * invstd;
            dx[o + i] = k * ((dy[o + i] - meanDy) - xh * meanDyXhat);
        }
    }
}

// Saved-context layout of forward.
constexpr std::size_t kSavedInput = 0;  // x
constexpr std::size_t kSavedStats = 1;  // the float μ then invstd that normalized x, [2C]
constexpr std::size_t kSavedTrainFlag = 2;
constexpr std::size_t kSavedAffine = 3;  // the forward's γ then β, [2C]
constexpr std::size_t kSavedCount = 4;

}  // namespace

BatchNorm2d::BatchNorm2d(const BatchNorm2dSpec& spec) : spec_(spec) {
    LP_EXPECTS(spec.channels > 0, concat("BatchNorm2d channels must be > 0, got ", spec.channels));
    LP_EXPECTS(spec.eps > 0.0F, concat("BatchNorm2d eps must be > 0, got ", spec.eps));
    LP_EXPECTS(spec.momentum >= 0.0F && spec.momentum <= 1.0F,
               concat("BatchNorm2d momentum must be in [0, 1], got ", spec.momentum));
}

std::vector<ParamSpec> BatchNorm2d::params() const {
    const TensorShape c{spec_.channels};
    return {{"weight", c, ParamKind::Weight},
            {"bias", c, ParamKind::Weight},
            {"running_mean", c, ParamKind::Buffer},
            {"running_var", c, ParamKind::Buffer},
            {"num_batches_tracked", TensorShape{1}, ParamKind::Counter}};
}

TensorShape BatchNorm2d::outputShape(const TensorShape& in) const {
    LP_EXPECTS(in.rank() == 4 && in[1] == spec_.channels,
               concat("BatchNorm2d(",
                      spec_.channels,
                      ") expects [N, ",
                      spec_.channels,
                      ", H, W], got ",
                      in.str()));
    return in;
}

void BatchNorm2d::checkParams(const LayerParams& p) const {
    const auto c = static_cast<std::size_t>(spec_.channels);
    LP_EXPECTS(p.weights.size() == 2 * c,
               concat("BatchNorm2d expects ", 2 * c, " weights, got ", p.weights.size()));
    LP_EXPECTS(p.buffers.size() == 2 * c + 1,
               concat("BatchNorm2d expects ", 2 * c + 1, " buffer floats, got ", p.buffers.size()));
}

Tensor BatchNorm2d::forward(const LayerParams& p, const Tensor& x, Context& ctx, Mode mode) const {
    return forwardConsuming(p, Tensor(x), ctx, mode);  // the context keeps this copy of x
}

Tensor BatchNorm2d::forwardConsuming(const LayerParams& p,
                                     Tensor&& x,
                                     Context& ctx,
                                     Mode mode) const {
    outputShape(x.shape());
    checkParams(p);
    const Geometry g = geometryOf(x.shape());
    const bool train = mode == Mode::Train;
    LP_EXPECTS(!train || g.count > 1,
               concat("BatchNorm2d needs more than 1 value per channel in Train mode, got ",
                      x.shape().str()));

    const float* gamma = p.weights.data();
    const float* beta = gamma + g.channels;
    float* runningMean = p.buffers.data();
    float* runningVar = runningMean + g.channels;
    float* batchesTracked = runningVar + g.channels;

    // Written whole, channel by channel, below.
    Tensor y = Tensor::uninitialized(x.shape());
    Tensor stats = Tensor::uninitialized(TensorShape{2 * g.channels});  // μ then invstd, floats
    std::vector<double> batchMean(static_cast<std::size_t>(g.channels));
    std::vector<double> batchVar(static_cast<std::size_t>(g.channels));
    const float* xs = x.data();
    const Isa isa = kernelIsa();
    const bool simd = kernelsHaveAvx2();

    // One task per channel: its statistics are reduced serially, in a fixed order, by that task,
    // so the bits do not depend on the thread count.
    parallelFor(0, g.channels, 1, [&](std::int64_t c0, std::int64_t c1) {
        for (std::int64_t c = c0; c < c1; ++c) {
            double mean = 0.0;
            double var = 0.0;
            if (train) {
                // One pass of shifted sums: with K = the channel's first value, mean = K + E[x − K]
                // and var = E[(x − K)²] − E[x − K]², in double. K lies within the data, so the
                // subtraction cancels little (the textbook E[x²] − E[x]² would lose the variance of
                // data far from 0). Replacing the second pass over x made the BN layers' forward
                // 6-17% faster (width 16, batch 128).
                const double shift = static_cast<double>(xs[planeOffset(g, 0, c)]);
                LaneSum sum;
                LaneSum squares;
                for (std::int64_t b = 0; b < g.batch; ++b) {
                    sum.addShifted(xs + planeOffset(g, b, c), g.plane, shift, squares, simd);
                }
                const double count = static_cast<double>(g.count);
                const double meanShifted = sum.total() / count;
                mean = shift + meanShifted;
                // Biased, as PyTorch normalises; clamped, as rounding can leave a constant channel
                // a tiny negative value.
                var = std::max(0.0, squares.total() / count - meanShifted * meanShifted);
                batchMean[static_cast<std::size_t>(c)] = mean;
                batchVar[static_cast<std::size_t>(c)] = var;
            } else {
                mean = static_cast<double>(runningMean[c]);
                var = static_cast<double>(runningVar[c]);
            }
            const auto meanF = static_cast<float>(mean);
            const auto inv =
                static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(spec_.eps)));
            stats[c] = meanF;
            stats[g.channels + c] = inv;
            normalizeChannel(g, c, xs, meanF, inv, gamma[c], beta[c], y.data(), isa);
        }
    });

    if (train) {
        // PyTorch's update (torch.nn.functional.batch_norm, CPU kernel): in double, with the
        // unbiased variance σ²·n/(n−1) for the running average.
        const auto m = static_cast<double>(spec_.momentum);
        const auto n = static_cast<double>(g.count);
        for (std::int64_t c = 0; c < g.channels; ++c) {
            const auto k = static_cast<std::size_t>(c);
            runningMean[c] = static_cast<float>(m * batchMean[k] +
                                                (1.0 - m) * static_cast<double>(runningMean[c]));
            runningVar[c] = static_cast<float>(m * batchVar[k] * n / (n - 1.0) +
                                               (1.0 - m) * static_cast<double>(runningVar[c]));
        }
        *batchesTracked += 1.0F;
    }

    ctx.saved.clear();
    ctx.saved.push_back(std::move(x));
    ctx.saved.push_back(std::move(stats));
    ctx.saved.emplace_back(TensorShape{1}, train ? 1.0F : 0.0F);
    Tensor affine = Tensor::uninitialized(TensorShape{2 * g.channels});  // copied whole
    std::copy(p.weights.begin(), p.weights.end(), affine.data());
    ctx.saved.push_back(std::move(affine));
    return y;
}

Tensor BatchNorm2d::backward(const LayerParams& p,
                             const Tensor& dy,
                             Context& ctx,
                             std::span<float> gradWeights) const {
    // Backward reads only γ: the running buffers may be absent (layer.hpp's contract).
    LP_EXPECTS(
        p.weights.size() == 2 * static_cast<std::size_t>(spec_.channels),
        concat("BatchNorm2d expects ", 2 * spec_.channels, " weights, got ", p.weights.size()));
    LP_EXPECTS(ctx.saved.size() == kSavedCount,
               "BatchNorm2d::backward needs the context of its forward");
    const Tensor& x = ctx.saved[kSavedInput];
    const bool train = ctx.saved[kSavedTrainFlag][0] != 0.0F;
    expectSameShape(dy.shape(), x.shape(), "BatchNorm2d::backward dy");
    LP_EXPECTS(gradWeights.size() == p.weights.size(),
               concat("BatchNorm2d expects ",
                      p.weights.size(),
                      " weight gradients, got ",
                      gradWeights.size()));

    const Geometry g = geometryOf(dy.shape());
    const float* gamma = p.weights.data();
    float* gradGamma = gradWeights.data();
    float* gradBeta = gradGamma + g.channels;
    Tensor dx = Tensor::uninitialized(dy.shape());  // written whole, channel by channel
    const float* dys = dy.data();
    const Isa isa = kernelIsa();
    const bool simd = kernelsHaveAvx2();
    const float* xs = x.data();
    const float* means = ctx.saved[kSavedStats].data();
    const float* invstds = means + g.channels;
    float* dxs = dx.data();

    parallelFor(0, g.channels, 1, [&](std::int64_t c0, std::int64_t c1) {
        for (std::int64_t c = c0; c < c1; ++c) {
            LaneSum sumDy;
            LaneSum sumDyXhat;
            for (std::int64_t b = 0; b < g.batch; ++b) {
                const std::int64_t o = planeOffset(g, b, c);
                LaneSum::addValuesAndProducts(
                    sumDy, sumDyXhat, dys + o, xs + o, means[c], invstds[c], g.plane, simd);
            }
            const double sdy = sumDy.total();
            const double sdyx = sumDyXhat.total();
            gradGamma[c] += static_cast<float>(sdyx);
            gradBeta[c] += static_cast<float>(sdy);

            // Train: x̂ depends on every x of the channel through μ and σ² (Ioffe & Szegedy 2015,
            // section 3), giving dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)).
            // Eval: μ and σ² are constants and dx = γ·invstd·dy.
            const float k = gamma[c] * invstds[c];
            const auto n = static_cast<double>(g.count);
            const auto meanDy = train ? static_cast<float>(sdy / n) : 0.0F;
            const auto meanDyXhat = train ? static_cast<float>(sdyx / n) : 0.0F;
            inputGradientChannel(
                g, c, dys, xs, means[c], invstds[c], k, meanDy, meanDyXhat, dxs, isa);
        }
    });
    return dx;
}

Tensor BatchNorm2d::recomputeOutput(const Context& ctx) const {
    LP_EXPECTS(ctx.saved.size() == kSavedCount,
               "BatchNorm2d::recomputeOutput needs the context of its forward");
    const Tensor& x = ctx.saved[kSavedInput];
    const Geometry g = geometryOf(x.shape());
    const float* means = ctx.saved[kSavedStats].data();
    const float* invstds = means + g.channels;
    const float* gamma = ctx.saved[kSavedAffine].data();
    const float* beta = gamma + g.channels;
    Tensor y = Tensor::uninitialized(x.shape());  // written whole, channel by channel
    const Isa isa = kernelIsa();
    parallelFor(0, g.channels, 1, [&](std::int64_t c0, std::int64_t c1) {
        for (std::int64_t c = c0; c < c1; ++c) {
            normalizeChannel(
                g, c, x.data(), means[c], invstds[c], gamma[c], beta[c], y.data(), isa);
        }
    });
    return y;
}

void BatchNorm2d::init(std::span<float> weights, std::span<float> buffers, Rng& /*rng*/) const {
    const auto c = static_cast<std::size_t>(spec_.channels);
    LP_EXPECTS(weights.size() == 2 * c && buffers.size() == 2 * c + 1,
               "BatchNorm2d::init: spans do not match params()");
    std::fill_n(weights.begin(), c, 1.0F);
    std::fill_n(weights.begin() + static_cast<std::ptrdiff_t>(c), c, 0.0F);
    std::fill_n(buffers.begin(), c, 0.0F);
    std::fill_n(buffers.begin() + static_cast<std::ptrdiff_t>(c), c, 1.0F);
    buffers[2 * c] = 0.0F;
}

}  // namespace lp::core::nn
