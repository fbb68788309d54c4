// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/conv2d.hpp"

#include "core/error.hpp"
#include "core/nn/direct3x3.hpp"
#include "core/nn/im2col.hpp"
#include "core/nn/winograd.hpp"
#include "core/tensor/gemm.hpp"
#include "core/tensor/parallel.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

namespace lp::core::nn {

namespace {

// Slices of tensors and of the flat parameter buffers start at arbitrary offsets: unaligned maps.
using RowMap = Eigen::Map<MatrixRM>;
using ConstRowMap = Eigen::Map<const MatrixRM>;

// A GEMM narrower than this many columns (output pixels) runs far below peak and, in dW, streams
// the whole weight gradient through memory once per sample; small feature maps (ResNet's last
// stages: 4x4 or 8x8) are therefore batched several samples per GEMM.
constexpr std::int64_t kGroupColumns = 256;
constexpr std::int64_t kBlockFloats = std::int64_t{64} << 10;  // 256 KiB of im2col
constexpr std::int64_t kMinBlockColumns = 128;
// Backward's dW GEMM re-reads its [out, rows] accumulator once per block: wider blocks pay off
// there (measured at width 64: layer1 backward 110 -> 120 GFLOP/s; forward was best at 128).
constexpr std::int64_t kMinBlockColumnsBackward = 256;
// The weight gradient is summed over the batch in at most this many fixed chunks (each chunk but
// the first holds a partial copy of dW), and the partial copies together stay under the budget
// (8 MiB: at width 64, batch 128 a 32 MiB budget raised the peak resident memory by ~30 MiB).
constexpr std::int64_t kMaxChunks = 8;
constexpr std::int64_t kPartialBudgetFloats = std::int64_t{2} << 20;  // 8 MiB

// A half-open range [lo, hi) of samples.
struct Range {
    std::int64_t lo = 0;
    std::int64_t hi = 0;
};

// Per-thread scratch that grows to the largest layer's need and is then reused, so that a
// training step does not allocate (and page-fault) megabytes per sample. Chunk bodies never nest
// or block, so a thread uses its scratch for one chunk at a time; the contents are always fully
// rewritten before being read, so reuse cannot leak values between calls.
struct Scratch {
    AlignedBuffer col;    // im2col / column gradient of a group: [rows, group·cols]
    AlignedBuffer plane;  // GEMM output or gathered dy of a group: [out, group·cols]
};

Scratch& threadScratch() {
    thread_local Scratch scratch;
    return scratch;
}

// Samples per GEMM: enough for kGroupColumns output columns. Depends on shapes only.
std::int64_t groupSize(const ConvGeometry& g, std::int64_t n) {
    const std::int64_t want = (kGroupColumns + g.cols() - 1) / g.cols();
    return std::clamp<std::int64_t>(want, 1, n);
}

// Output rows per im2col block of a one-sample group: the im2col of a large map (e.g. 576 rows x
// 1024 columns, 2.3 MB) overflows the 512 KiB L2 between being written and being read by the
// GEMM, so it is built and consumed in blocks of whole output rows of about kBlockFloats, but
// at least minColumns columns wide (narrower GEMMs repack the weights too often).
// Depends on shapes only, so results do not depend on the thread count.
std::int64_t blockRows(const ConvGeometry& g, std::int64_t minColumns = kMinBlockColumns) {
    const std::int64_t cols = std::max(kBlockFloats / g.rows(), minColumns);
    return std::clamp<std::int64_t>(cols / g.wo, 1, g.ho);
}

// Fills col [rows, gn·cols] with the im2col of samples [n0, n0 + gn) side by side; returns the
// GEMM operand (x itself for an identity 1x1 convolution of one sample).
const float* gatherColumns(
    const Tensor& x, const ConvGeometry& g, std::int64_t n0, std::int64_t gn, Scratch& s) {
    const std::int64_t width = gn * g.cols();
    if (g.identity() && gn == 1) {
        return x.data() + n0 * g.inSample();
    }
    float* col = s.col.growTo(g.rows() * width);
    for (std::int64_t i = 0; i < gn; ++i) {
        im2col(x.data() + (n0 + i) * g.inSample(), g, col + i * g.cols(), width, 0, g.ho);
    }
    return col;
}

// Forward of one sample through L2-sized blocks of output rows (blockRows):
// Y[:, block] [out, bw] = W [out, rows] · col_block [rows, bw].
void forwardSampleBlocked(const float* xs,
                          const float* w,
                          std::int64_t outC,
                          const ConvGeometry& g,
                          float* ys,
                          Scratch& s) {
    const std::int64_t rows = g.rows();
    const std::int64_t br = blockRows(g);
    float* col = s.col.growTo(rows * br * g.wo);
    for (std::int64_t oy0 = 0; oy0 < g.ho; oy0 += br) {
        const std::int64_t oy1 = std::min(g.ho, oy0 + br);
        const std::int64_t bw = (oy1 - oy0) * g.wo;
        im2col(xs, g, col, bw, oy0, oy1);
        gemm(Trans::No,
             Trans::No,
             outC,
             bw,
             rows,
             1.0F,
             w,
             rows,
             col,
             bw,
             0.0F,
             ys + oy0 * g.wo,
             g.cols());
    }
}

// Backward of one sample in the forward's blocks: ADDS dW += dY_block · col_blockᵀ block after
// block (a fixed order), and ADDS col2im(Wᵀ · dY_block) into dxs.
void backwardSampleBlocked(const float* xs,
                           const float* dys,
                           const float* w,
                           std::int64_t outC,
                           const ConvGeometry& g,
                           float* acc,
                           float* dxs,
                           Scratch& s) {
    const std::int64_t rows = g.rows();
    const std::int64_t cols = g.cols();
    const std::int64_t br = blockRows(g, kMinBlockColumnsBackward);
    float* col = s.col.growTo(rows * br * g.wo);
    for (std::int64_t oy0 = 0; oy0 < g.ho; oy0 += br) {
        const std::int64_t oy1 = std::min(g.ho, oy0 + br);
        const std::int64_t bw = (oy1 - oy0) * g.wo;
        const float* dyBlock = dys + oy0 * g.wo;  // [out, bw], row stride cols
        im2col(xs, g, col, bw, oy0, oy1);
        gemm(Trans::No, Trans::Yes, outC, rows, bw, 1.0F, dyBlock, cols, col, bw, 1.0F, acc, rows);
        // The block's im2col is dead once its dW term is added: col now takes its gradient.
        gemm(Trans::Yes, Trans::No, rows, bw, outC, 1.0F, w, rows, dyBlock, cols, 0.0F, col, bw);
        col2im(col, bw, g, dxs, oy0, oy1);
    }
}

// Backward of samples [samples.lo, samples.hi): ADDS dW = dY·colᵀ (and db = Σ dY) into acc
// [out·rows (+ out)] from the saved input, and writes dx = col2im(Wᵀ·dY) with the weights wMat
// given to backward.
void backwardGroup(const Tensor& x,
                   const Tensor& dy,
                   const ConstRowMap& wMat,
                   const ConvGeometry& g,
                   Range samples,
                   float* acc,
                   bool bias,
                   Tensor& dx,
                   Scratch& s) {
    const std::int64_t outC = wMat.rows();
    const std::int64_t rows = g.rows();
    const std::int64_t cols = g.cols();
    const std::int64_t n0 = samples.lo;
    const std::int64_t gn = samples.hi - samples.lo;
    const std::int64_t width = gn * cols;
    const float* dyGroup = dy.data() + n0 * outC * cols;
    // dy of the group as one [out, gn·cols] matrix, like the forward's GEMM output.
    const float* dyPtr = dyGroup;
    if (gn > 1) {
        RowMap gathered(s.plane.growTo(outC * width), outC, width);
        for (std::int64_t i = 0; i < gn; ++i) {
            gathered.middleCols(i * cols, cols) =
                ConstRowMap(dyGroup + i * outC * cols, outC, cols);
        }
        dyPtr = gathered.data();
    }
    const ConstRowMap dyMat(dyPtr, outC, width);
    if (bias) {
        VecMap(acc + outC * rows, outC) += dyMat.rowwise().sum();
    }
    float* dxGroup = dx.data() + n0 * g.inSample();
    if (!g.identity() || gn > 1) {  // col2im accumulates: start from zero
        std::fill(dxGroup, dxGroup + gn * g.inSample(), 0.0F);
    }
    if (gn == 1 && !g.identity()) {
        backwardSampleBlocked(
            x.data() + n0 * g.inSample(), dyPtr, wMat.data(), outC, g, acc, dxGroup, s);
        return;
    }

    // dW [out, rows] += dY [out, width] · colᵀ [width, rows]
    const float* col = gatherColumns(x, g, n0, gn, s);
    gemm(Trans::No, Trans::Yes, outC, rows, width, 1.0F, dyPtr, width, col, width, 1.0F, acc, rows);

    // dcol [rows, width] = Wᵀ [rows, out] · dY [out, width]: straight into dx when the im2col of
    // one sample is the sample itself; otherwise into s.col (col may alias it: it is dead once dW
    // is done), then scattered back by col2im.
    const bool intoDx = g.identity() && gn == 1;
    float* dcol = intoDx ? dxGroup : s.col.growTo(rows * width);
    gemm(Trans::Yes,
         Trans::No,
         rows,
         width,
         outC,
         1.0F,
         wMat.data(),
         rows,
         dyPtr,
         width,
         0.0F,
         dcol,
         width);
    if (intoDx) {
        return;
    }
    for (std::int64_t i = 0; i < gn; ++i) {
        col2im(dcol + i * cols, width, g, dxGroup + i * g.inSample(), 0, g.ho);
    }
}

// 3x3, stride 1, padding 1 convolutions run their forward, input and weight gradient as Winograd
// F(2x2, 3x3) (core/nn/winograd.hpp) where it measured faster than im2col (layerpipe bench, 2
// threads, width 64 batch 32 and width 16 batch 128): the transforms cost about as much per
// tile and channel as the GEMM saves per output channel, so few channels do not pay. Maps at
// least 16 wide take the transforms' AVX2 path (8 tiles at a time): from 32 channels on
// (16 channels at 32x32: forward slower, backward faster, a wash). 8-, 7-, 4- and 3-wide maps
// take the AVX2 path that packs tile rows into the lanes: from 64 channels on (width 16 batch
// 128, where layers 3 and 4 are 64 channels at 8x8 and 128 at 4x4: 429 -> 463 images/s with
// the first, channel-packed version; width 64 batch 32: 47.7 -> 48.2; 64 channels at 7x7 from a
// 28x28 input: forward 3.6 -> 3.2 ms, 570 -> 594 images/s, median of 5). Other narrow maps
// transform tile by tile: only from 256 channels on at least 8 wide (64 channels at 8x8 tile by
// tile was 40% slower). Shapes only, so the choice (and with it the bits) does not depend on the
// thread count. A Winograd layer computes its
// weight gradient by Winograd too (winogradWeightGradient; one layer's backward, 2 threads:
// width 64 batch 32: 64 channels at 32x32 28.0 -> 22.3 ms, 128 at 16x16 27.1 -> 20.1, 256 at
// 8x8 27.7 -> 20.4, 512 at 4x4 31.8 -> 28.1; width 16 batch 128: 32 at 16x16 8.3 -> 7.9, 64 at
// 8x8 8.3 -> 6.8, 128 at 4x4 10.7 -> 7.9).
bool useWinograd(const ConvGeometry& g, std::int64_t outC) {
    if (g.k != 3 || g.s != 1 || g.p != 1) {
        return false;
    }
    const std::int64_t channels = std::min(g.c, outC);
    // winograd.cpp's AVX2 paths that pack 2 or 4 tile rows into the lanes.
    const bool lanePacked = g.w == 8 || g.w == 7 || g.w == 4 || g.w == 3;
    return (g.w >= 16 && channels >= 32) || (lanePacked && channels >= 64) ||
           (g.w >= 8 && channels >= 256);
}

// 3x3 stride-2 padding-1 layers (ResNet's downsampling 3x3 convolutions) run forward, input and
// weight gradient by the stride-2 Winograd transform (core/nn/winograd.hpp: 25 instead of 36
// multiply-adds per 2x2 outputs) from 32 channels on, where both counts are multiples of 8.
// Measured (one layer, 2 threads, Zen 5, forward / backward ms, im2col -> stride-2 Winograd), AVX2
// path: 64 -> 128 channels from 32x32, batch 32, 7.0 / 14.2 -> 6.4-6.8 / 12.7-13.4; 128 -> 256
// from 16x16 7.2 / 13.6 -> 5.7 / 10.3; 256 -> 512 from 8x8 6.7 / 13.9 -> 6.6 / 11.1; batch 128:
// 32 -> 64 from 16x16 2.4 / 5.1 -> 1.7 / 4.0, 64 -> 128 from 8x8 2.1 / 4.3 -> 1.6 / 3.2. AVX-512
// path: 4.2 / 9.0 -> 4.3 / 8.5, 4.5 / 8.4 -> 3.4 / 6.1, 4.0 / 8.4 -> 4.1 / 7.2, 1.6 / 4.1 -> 1.2
// / 2.8, 1.4 / 3.1 -> 0.9 / 2.0. Not below 32 channels: 16 -> 32 from 32x32, batch 128, AVX-512
// path 2.0 / 4.7 -> 3.1 / 6.3 (too little GEMM work per transformed tile).
bool useWinogradStride2(const ConvGeometry& g, std::int64_t outC) {
    return g.k == 3 && g.s == 2 && g.p == 1 && g.c % 8 == 0 && outC % 8 == 0 &&
           std::min(g.c, outC) >= 32;
}

// 3x3 stride-1 padding-1 layers of 8 to 16 channels (a width-16 ResNet's first stage, which
// Winograd leaves out) run forward, input and weight gradient on the direct kernels
// (core/nn/direct3x3.hpp) where the build has them. Measured (layerpipe bench, 2 threads, batch
// 128, one layer): 16 channels at 32x32 forward 5.8 -> 4.9 ms, backward 12.1 -> 9.9 (direct
// input gradient, im2col dW) -> 8.3 (direct dW too); at 28x28 4.2 -> 3.7 and 8.3 -> 7.3. Not
// below 8 channels (the 3-channel stem's backward: 2.9 -> 4.3 ms) nor from 32 (14x14: equal; 64
// at 7x7: 3.6 -> 5.5 ms).
bool useDirect(const ConvGeometry& g, std::int64_t outC) {
    const std::int64_t channels = std::min(g.c, outC);
    return directConv3x3Available() && g.k == 3 && g.s == 1 && g.p == 1 && channels >= 8 &&
           channels <= 16 && !useWinograd(g, outC);
}

ConvGeometry makeConvGeometry(const Conv2dSpec& spec,
                              const TensorShape& in,
                              const TensorShape& out) {
    return ConvGeometry{.c = in[1],
                        .h = in[2],
                        .w = in[3],
                        .k = spec.kernel,
                        .s = spec.stride,
                        .p = spec.padding,
                        .ho = out[2],
                        .wo = out[3]};
}

}  // namespace

Conv2d::Conv2d(const Conv2dSpec& spec) : spec_(spec) {
    LP_EXPECTS(
        spec.inChannels >= 1 && spec.outChannels >= 1,
        concat("Conv2d channels must be >= 1, got ", spec.inChannels, " -> ", spec.outChannels));
    LP_EXPECTS(spec.kernel >= 1 && spec.stride >= 1 && spec.padding >= 0,
               concat("Conv2d needs kernel >= 1, stride >= 1, padding >= 0, got k=",
                      spec.kernel,
                      " s=",
                      spec.stride,
                      " p=",
                      spec.padding));
}

std::vector<ParamSpec> Conv2d::params() const {
    std::vector<ParamSpec> out{
        {"weight",
         TensorShape{spec_.outChannels, spec_.inChannels, spec_.kernel, spec_.kernel},
         ParamKind::Weight}};
    if (spec_.bias) {
        out.push_back({"bias", TensorShape{spec_.outChannels}, ParamKind::Weight});
    }
    return out;
}

TensorShape Conv2d::outputShape(const TensorShape& in) const {
    LP_EXPECTS(in.rank() == 4 && in[1] == spec_.inChannels && in[0] >= 1,
               concat("Conv2d expects [N, ", spec_.inChannels, ", H, W], got ", in.str()));
    const WindowPlane out =
        windowOutputPlane("Conv2d", "kernel", in, spec_.kernel, spec_.stride, spec_.padding);
    return TensorShape{in[0], spec_.outChannels, out.height, out.width};
}

Tensor Conv2d::forward(const LayerParams& p, const Tensor& x, Context& ctx, Mode mode) const {
    Tensor y = compute(p, x);
    if (mode == Mode::Train) {
        ctx.saved.clear();
        ctx.saved.push_back(x);
    }
    return y;
}

Tensor Conv2d::forwardConsuming(const LayerParams& p, Tensor&& x, Context& ctx, Mode mode) const {
    Tensor y = compute(p, x);
    if (mode == Mode::Train) {
        ctx.saved.clear();
        ctx.saved.push_back(std::move(x));
    }
    return y;
}

const Tensor& Conv2d::savedInput(const Context& ctx) {
    LP_EXPECTS(!ctx.saved.empty(), "Conv2d::savedInput needs the context of a Train-mode forward");
    return ctx.saved.front();
}

void Conv2d::restoreSavedInput(Context& ctx, Tensor x) {
    LP_EXPECTS(ctx.saved.empty(), "Conv2d::restoreSavedInput: the context still holds an input");
    ctx.saved.push_back(std::move(x));
}

Tensor Conv2d::compute(const LayerParams& p, const Tensor& x) const {
    const TensorShape outShape = outputShape(x.shape());
    LP_EXPECTS(p.weights.size() == weightCount(),
               concat("Conv2d::forward: ", p.weights.size(), " weights, expected ", weightCount()));
    const ConvGeometry g = makeConvGeometry(spec_, x.shape(), outShape);
    const std::int64_t n = x.dim(0);
    const std::int64_t outC = spec_.outChannels;
    const std::int64_t cols = g.cols();
    const ConstRowMap wMat(p.weights.data(), outC, g.rows());
    const float* bias = spec_.bias ? p.weights.data() + outC * g.rows() : nullptr;
    const std::int64_t group = groupSize(g, n);
    Tensor y = Tensor::uninitialized(outShape);  // every group writes all of its samples

    const bool winograd = useWinograd(g, outC);
    const bool stride2 = useWinogradStride2(g, outC);
    if (winograd || stride2 || useDirect(g, outC)) {
        const Conv3x3Shape shape{.n = n, .inC = g.c, .outC = outC, .h = g.h, .w = g.w};
        if (stride2) {
            winogradStride2Forward(p.weights.data(), x.data(), shape, y.data());
        } else if (winograd) {
            winogradConv3x3(WinogradPass::Forward, p.weights.data(), x.data(), shape, y.data());
        } else {
            directConv3x3(p.weights.data(), x.data(), shape, y.data());
        }
        if (bias != nullptr) {
            parallelFor(0, n, 1, [&](std::int64_t lo, std::int64_t hi) {
                for (std::int64_t i = lo; i < hi; ++i) {
                    RowMap(y.data() + i * outC * cols, outC, cols).colwise() +=
                        ConstVecMap(bias, outC);
                }
            });
        }
        return y;
    }

    // Y_group [out, gn·cols] = W [out, rows] · col [rows, gn·cols]; each group writes only its
    // own samples of y, so groups run in parallel with no reduction.
    parallelFor(0, (n + group - 1) / group, 1, [&](std::int64_t lo, std::int64_t hi) {
        Scratch& s = threadScratch();
        for (std::int64_t gi = lo; gi < hi; ++gi) {
            const std::int64_t n0 = gi * group;
            const std::int64_t gn = std::min(group, n - n0);
            const std::int64_t width = gn * cols;
            float* yGroup = y.data() + n0 * outC * cols;
            if (gn == 1 && !g.identity()) {
                forwardSampleBlocked(x.data() + n0 * g.inSample(), wMat.data(), outC, g, yGroup, s);
            } else {
                // Y [out, width] = W [out, rows] · B [rows, width]: B is the sample itself for a
                // 1x1 stride-1 layer (identity geometry, gn == 1; Y is then y's own block), else
                // the group's im2col, and Y goes through scratch.
                const bool inPlace = gn == 1;
                const float* b =
                    inPlace ? x.data() + n0 * g.inSample() : gatherColumns(x, g, n0, gn, s);
                float* out = inPlace ? yGroup : s.plane.growTo(outC * width);
                gemm(Trans::No,
                     Trans::No,
                     outC,
                     width,
                     g.rows(),
                     1.0F,
                     wMat.data(),
                     g.rows(),
                     b,
                     width,
                     0.0F,
                     out,
                     width);
                if (!inPlace) {  // [out, gn·cols] -> gn samples of [out, cols]
                    const RowMap outMap(out, outC, width);
                    for (std::int64_t i = 0; i < gn; ++i) {
                        RowMap(yGroup + i * outC * cols, outC, cols) =
                            outMap.middleCols(i * cols, cols);
                    }
                }
            }
            if (bias != nullptr) {
                for (std::int64_t i = 0; i < gn; ++i) {
                    RowMap yi(yGroup + i * outC * cols, outC, cols);
                    yi.colwise() += ConstVecMap(bias, outC);
                }
            }
        }
    });
    return y;
}

Tensor Conv2d::backward(const LayerParams& p,
                        const Tensor& dy,
                        Context& ctx,
                        std::span<float> gradWeights) const {
    LP_EXPECTS(!ctx.saved.empty(), "Conv2d::backward needs the context of a Train-mode forward");
    const Tensor& x = ctx.saved.front();
    const TensorShape outShape = outputShape(x.shape());
    expectSameShape(dy.shape(), outShape, "Conv2d::backward dy");
    const std::size_t wCount = weightCount();
    LP_EXPECTS(p.weights.size() == wCount && gradWeights.size() == wCount,
               concat("Conv2d::backward: ",
                      p.weights.size(),
                      " weights and ",
                      gradWeights.size(),
                      " gradients, expected ",
                      wCount));
    const ConvGeometry g = makeConvGeometry(spec_, x.shape(), outShape);
    const std::int64_t n = x.dim(0);
    const std::int64_t outC = spec_.outChannels;
    const ConstRowMap wMat(p.weights.data(), outC, g.rows());

    Tensor dx = Tensor::uninitialized(x.shape());
    const bool winograd = useWinograd(g, outC);
    const bool stride2 = useWinogradStride2(g, outC);
    if (winograd || stride2 || useDirect(g, outC)) {
        // All three products on the forward's kernel: dW (added to gradWeights), db, and dx (the
        // stride-2 kernel computes dx with dW; for stride 1 dx = conv(dy, rot180(W)ᵀ), a 3x3
        // stride-1 padding-1 convolution itself).
        const Conv3x3Shape shape{.n = n, .inC = g.c, .outC = outC, .h = g.h, .w = g.w};
        if (stride2) {
            winogradStride2Backward(
                p.weights.data(), x.data(), dy.data(), shape, dx.data(), gradWeights.data());
        } else if (winograd) {
            winogradWeightGradient(x.data(), dy.data(), shape, gradWeights.data());
        } else {
            directWeightGradient3x3(x.data(), dy.data(), shape, gradWeights.data());
        }
        if (spec_.bias) {
            VecMap db(gradWeights.data() + outC * g.rows(), outC);
            for (std::int64_t i = 0; i < n; ++i) {  // samples in order: fixed bits
                db += ConstRowMap(dy.data() + i * outC * g.cols(), outC, g.cols()).rowwise().sum();
            }
        }
        if (winograd) {
            winogradConv3x3(
                WinogradPass::InputGradient, p.weights.data(), dy.data(), shape, dx.data());
        } else if (!stride2) {
            std::vector<float> rotated(static_cast<std::size_t>(outC * g.rows()));
            rotatedTransposed(p.weights.data(), outC, g.c, rotated.data());
            // The input gradient's own convolution: outC planes in, inC out.
            const Conv3x3Shape back{.n = n, .inC = outC, .outC = g.c, .h = g.h, .w = g.w};
            directConv3x3(rotated.data(), dy.data(), back, dx.data());
        }
        return dx;
    }

    // Fixed partition (shapes only): groups of samples per GEMM, whole groups per dW chunk.
    const std::int64_t group = groupSize(g, n);
    const std::int64_t groups = (n + group - 1) / group;
    const std::int64_t byMemory =
        std::max<std::int64_t>(2, kPartialBudgetFloats / static_cast<std::int64_t>(wCount));
    std::int64_t wantChunks = std::min({groups, kMaxChunks, byMemory});
    // An even count splits evenly over two threads (the common case here): with 3 chunks one
    // thread would do two while the other waits.
    if (wantChunks > 2) {
        wantChunks -= wantChunks % 2;
    }
    const std::int64_t groupsPerChunk = (groups + wantChunks - 1) / wantChunks;
    const std::int64_t chunks = (groups + groupsPerChunk - 1) / groupsPerChunk;

    // Each group clears its own samples of dx right before accumulating into them (cache-hot),
    // instead of a separate zeroing pass over the whole tensor.
    // Chunk 0 accumulates straight into gradWeights; chunk k > 0 into partials[k − 1].
    std::vector<AlignedBuffer> partials(static_cast<std::size_t>(chunks - 1));
    parallelFor(0, chunks, 1, [&](std::int64_t k0, std::int64_t k1) {
        Scratch& s = threadScratch();
        for (std::int64_t k = k0; k < k1; ++k) {
            float* acc = gradWeights.data();
            if (k > 0) {
                AlignedBuffer& part = partials[static_cast<std::size_t>(k - 1)];
                part = AlignedBuffer(wCount);
                acc = part.data();
            }
            const std::int64_t gEnd = std::min(groups, (k + 1) * groupsPerChunk);
            for (std::int64_t gi = k * groupsPerChunk; gi < gEnd; ++gi) {
                const std::int64_t n0 = gi * group;
                backwardGroup(
                    x, dy, wMat, g, {n0, std::min(n, n0 + group)}, acc, spec_.bias, dx, s);
            }
        }
    });

    // Partial sums in chunk order: the bits do not depend on which thread ran which chunk.
    VecMap total(gradWeights.data(), static_cast<std::int64_t>(wCount));
    for (const AlignedBuffer& part : partials) {
        total += ConstVecMap(part.data(), static_cast<std::int64_t>(wCount));
    }
    return dx;
}

void Conv2d::init(std::span<float> weights, std::span<float> /*buffers*/, Rng& rng) const {
    LP_EXPECTS(weights.size() == weightCount(),
               concat("Conv2d::init: ", weights.size(), " weights, expected ", weightCount()));
    const std::int64_t kk = spec_.kernel * spec_.kernel;
    // He et al. 2015 (Delving Deep into Rectifiers), eq. (10) with fan_out, as torchvision's
    // ResNet: std = sqrt(2 / (out·k·k)).
    const double stdDev = std::sqrt(2.0 / static_cast<double>(spec_.outChannels * kk));
    const auto nWeight = static_cast<std::size_t>(spec_.outChannels * spec_.inChannels * kk);
    for (std::size_t i = 0; i < nWeight; ++i) {
        weights[i] = static_cast<float>(stdDev * static_cast<double>(rng.normal()));
    }
    if (spec_.bias) {
        const auto bound =
            static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec_.inChannels * kk)));
        for (std::size_t i = nWeight; i < weights.size(); ++i) {
            weights[i] = rng.uniform(-bound, bound);
        }
    }
}

}  // namespace lp::core::nn
