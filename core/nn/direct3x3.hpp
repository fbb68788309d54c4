// Direct 3x3, stride-1, padding-1 convolution for few channels (ResNet's first stage at width 16:
// 16 channels at 32x32), where im2col + GEMM runs far below the FMA peak (a 16-row GEMM, and the
// im2col written and read once more than the input) and Winograd's GEMMs are too small to pay.
//
// Each sample's input planes are copied once into zero-padded planes of (h + 2) rows of w + 2,
// laid end to end. Output pixel (y, x) at flat index j = y·(w + 2) + x then reads the padded
// input at j + ky·(w + 2) + kx for every tap: the convolution becomes a 1-D one over the flat
// index, with no border cases (the two columns per row that fall past the map are computed and
// discarded). Register tiles of 6 consecutive flat outputs x 16 output channels (12 AVX
// accumulators) sum over the input channels and taps in that fixed order, each input value
// broadcast against a vector of packed weights; the pixel-major tiles go back to NCHW through
// 8x8 transposes. (Vectorising over pixels with broadcast weights instead spilled registers at
// -O2 and ran at half of im2col's speed.)
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/conv3x3_shape.hpp"

#include <cstdint>

namespace lp::core::nn {

// True where this build has the kernel (AVX2 and FMA, with optimisation); elsewhere Conv2d keeps
// im2col.
bool directConv3x3Available();

// out[n, o, y, x] = Σ_i,ky,kx weights[o, i, ky, kx] · in[n, i, y + ky − 1, x + kx − 1] (zero
// outside the map): PyTorch's conv2d with a 3x3 kernel, stride 1, padding 1, no bias.
//   weights: [outC, inC, 3, 3]; in: [n, inC, h, w]; out: [n, outC, h, w], written whole.
//   (outC, inC, n, h, w: `shape`.)
// For the input gradient of a convolution with weights W [o, i, 3, 3], pass
// rotatedTransposed(W) and dy as `in`: dx = conv(dy, rot180(W)ᵀ).
// Samples run in parallel over oneTBB; each output value is one fixed sequence of FMAs, so the
// bits do not depend on the thread count. Each thread keeps its padded-plane scratch between
// calls. Requires directConv3x3Available().
void directConv3x3(const float* weights, const float* in, const Conv3x3Shape& shape, float* out);

// ADDS the weight gradient of the same convolution: gradWeights[o, i, ky, kx] +=
// Σ_n,y,x dy[n, o, y, x] · x[n, i, y + ky − 1, x + kx − 1] (gradWeights: [outC, inC, 3, 3]). Over
// the flat index again: dy is made pixel-major (zeros in the discarded columns) and 6 (channel,
// tap) pairs x 16 output channels accumulate in registers over the flat outputs, input values
// broadcast. Fixed chunks of samples (by n only) hold partial sums added in chunk order: the bits
// do not depend on the thread count. Requires directConv3x3Available().
void directWeightGradient3x3(const float* x,
                             const float* dy,
                             const Conv3x3Shape& shape,
                             float* gradWeights);

// W' [inC, outC, 3, 3] with W'[i, o, ky, kx] = W[o, i, 2 − ky, 2 − kx] (W: [outC, inC, 3, 3]),
// written into `dst` (inC·outC·9 floats).
void rotatedTransposed(const float* weights, std::int64_t outC, std::int64_t inC, float* dst);

}  // namespace lp::core::nn
