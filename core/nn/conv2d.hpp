// Conv2d: 2-D convolution over NCHW tensors with PyTorch semantics (square kernels). A layer's
// shapes alone choose one path (useWinograd and useDirect in conv2d.cpp), which computes its
// output, input gradient and weight gradient alike: im2col + GEMM (core/tensor/gemm.hpp: serial
// BLIS, or Eigen); Winograd F(2x2,3x3) (winograd.hpp) for 3x3 stride-1 pad-1 layers wide enough
// to gain; the direct 3x3 kernels (direct3x3.hpp), where the build has them, for 3x3 stride-1
// pad-1 layers of 8 to 16 channels that Winograd leaves out. Stateless and const: one instance
// may serve several contexts/threads.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/layer.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace lp::core::nn {

struct Conv2dSpec {
    std::int64_t inChannels = 0;
    std::int64_t outChannels = 0;
    std::int64_t kernel = 3;
    std::int64_t stride = 1;
    std::int64_t padding = 1;
    bool bias = false;
};

// y[n, o] = Σ_c W[o, c] ⋆ x[n, c] (+ b[o]). Parameters, in buffer order:
//   "weight" [out, in, k, k] (Weight), then "bias" [out] (Weight) when spec.bias.
// Train-mode forward saves the input in ctx.saved[0] (a copy, or the input itself given to
// forwardConsuming); backward on the im2col path recomputes the im2col.
// All work is split into fixed chunks of samples (parallel over oneTBB); the weight gradient's
// per-chunk partial sums are added in chunk order, so every result is bit-identical whatever the
// thread count. Each thread keeps an im2col / Winograd scratch buffer between calls; it is not
// part of ctx.bytes(). Winograd changes the bits relative to im2col (relative error ~1e-7), never
// between thread counts.
class Conv2d final : public Layer {
public:
    // Throws ContractError unless channels, kernel and stride are >= 1 and padding >= 0.
    explicit Conv2d(const Conv2dSpec& spec);

    const Conv2dSpec& spec() const { return spec_; }

    std::string_view kind() const override { return "Conv2d"; }

    std::vector<ParamSpec> params() const override;
    // in: [N, inChannels, H, W]; returns [N, outChannels, Ho, Wo] with Ho = windowOutputSize(H,
    // ...).
    TensorShape outputShape(const TensorShape& in) const override;
    // x: [N, inChannels, H, W] -> [N, outChannels, Ho, Wo].
    Tensor forward(const LayerParams& p, const Tensor& x, Context& ctx, Mode mode) const override;
    // Saves x itself instead of a copy (Train mode).
    Tensor forwardConsuming(const LayerParams& p,
                            Tensor&& x,
                            Context& ctx,
                            Mode mode) const override;
    // dy: [N, outChannels, Ho, Wo]. Returns dL/dx computed with p.weights (which may differ from
    // the forward's weights) and ADDS dL/dW (and dL/db) from the saved input into gradWeights.
    Tensor backward(const LayerParams& p,
                    const Tensor& dy,
                    Context& ctx,
                    std::span<float> gradWeights) const override;

    // The saved input is all a Train-mode forward keeps, so a caller that can rebuild it bit for
    // bit (BasicBlock: its second conv's input from the first BatchNorm's x̂) may drop it after
    // forward (ctx then holds nothing) and put it back before backward.
    static void dropSavedInput(Context& ctx) { ctx.clear(); }

    static bool holdsSavedInput(const Context& ctx) { return !ctx.saved.empty(); }

    // The input a Train-mode forward saved (ContractError if none): what a caller that gave x
    // to forwardConsuming reads instead of a copy (BasicBlock's shortcut).
    static const Tensor& savedInput(const Context& ctx);

    static void restoreSavedInput(Context& ctx, Tensor x);
    // Kaiming normal, mode fan_out, ReLU gain: std = sqrt(2 / (out·k·k)); bias (if any)
    // U(−1/sqrt(in·k·k), 1/sqrt(in·k·k)) as PyTorch's default.
    void init(std::span<float> weights, std::span<float> buffers, Rng& rng) const override;

private:
    Tensor compute(const LayerParams& p, const Tensor& x) const;  // y = conv(x) (+ b)

    Conv2dSpec spec_;
};

}  // namespace lp::core::nn
