// Winograd F(2x2, 3x3) convolution (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
// Networks", section 4.1) for 3x3, stride-1, padding-1 convolutions over NCHW tensors: the
// forward y = conv(x, W), the input gradient dx = conv(dy, rot180(W)ᵀ) and the weight gradient
// of Conv2d. The GEMM work drops from 9 to 4 multiply-adds per output pixel and channel pair
// (2.25x fewer).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/conv3x3_shape.hpp"

#include <cstdint>

namespace lp::core::nn {

enum class WinogradPass : std::uint8_t {
    Forward,        // out[n, o] = Σ_i W[o, i] ⋆ in[n, i]          (in: x, out: y)
    InputGradient,  // out[n, i] = Σ_o rot180(W[o, i]) ⋆ in[n, o]  (in: dy, out: dx)
};

// One 3x3 stride-1 padding-1 cross-correlation (PyTorch's conv2d, no bias) computed as
// Winograd F(2x2, 3x3): 4x4 input tiles are transformed (Bᵀ d B), multiplied with the
// transformed filters (G g Gᵀ) as 16 GEMMs ([out, in] · [in, tiles], one per transform
// position), and transformed back (Aᵀ m A) into 2x2 output tiles.
//   weights: [outC, inC, 3, 3] (Conv2d's weight layout for both passes); sizes from `shape`.
//   Forward:       in [n, inC, h, w]  -> out [n, outC, h, w]
//   InputGradient: in [n, outC, h, w] -> out [n, inC, h, w]
// out is written whole (no accumulation) and must not overlap in. Work is split into tile
// blocks chosen from the shapes only and run in parallel over oneTBB (core/tensor/parallel.hpp);
// every output value is computed by one fixed sequence of operations, so the bits do not depend
// on the thread count. The results differ from im2col's in the last bits (the transforms
// reassociate the sums); the relative error is of the order of float epsilon.
// Each thread keeps tile-block scratch between calls (grows to the largest layer).
void winogradConv3x3(WinogradPass pass,
                     const float* weights,
                     const float* in,
                     const Conv3x3Shape& shape,
                     float* out);

// The weight gradient of the same convolution by Winograd F(2x2, 3x3): ADDS
// gradWeights[o, i, ky, kx] += Σ_n,y,x dy[n, o, y, x] · x[n, i, y + ky − 1, x + kx − 1]
// (gradWeights: [outC, inC, 3, 3]; x: [n, inC, h, w]; dy: [n, outC, h, w]). By the chain rule
// through y = Aᵀ[U ⊙ V]A and U = G g Gᵀ: ∂L/∂U[pos] = Σ_tiles (A e Aᵀ)[pos] ⊙ V[pos] (e: a 2x2
// tile of dy, V: the forward's transformed 4x4 input tile), summed over tiles as 16 GEMMs
// ([outC, tiles] · [tiles, inC]), then ∂L/∂g = Gᵀ (∂L/∂U) G. 4 instead of 9 multiply-adds per
// output pixel and channel pair, like the forward. Up to 256 channels, fixed chunks of tile rows
// each sum L2-sized blocks into their own partial ∂L/∂U, added in chunk order; with more
// channels (partials too large), fixed super-blocks of tiles are transformed in parallel and each
// position's sum is one task, in super-block order. Both partitions depend on the shapes only, so
// the bits do not depend on the thread count. The calling thread keeps the partials and the
// super-block scratch between calls.
void winogradWeightGradient(const float* x,
                            const float* dy,
                            const Conv3x3Shape& shape,
                            float* gradWeights);

// 3x3, stride-2, padding-1 convolutions (ResNet's downsampling 3x3 layers) by a Winograd-style
// transform of 25 positions per 2x2 output tile, 16 of them distinct filters (F(2, 2) on the odd
// taps, the even tap direct, in each direction: core/nn/winograd_s2.inc): 25 instead of 36
// multiply-adds per 2x2 outputs and channel pair. shape.h, shape.w are the INPUT map; the output
// is ((h − 1)/2 + 1) x ((w − 1)/2 + 1). Both channel counts must be multiples of 8.
//   forward:  y [n, outC, ho, wo] = conv(x [n, inC, h, w], weights [outC, inC, 3, 3]), written
//   backward: dx [n, inC, h, w] written; gradWeights [outC, inC, 3, 3] ADDED to
// Work is split into blocks of whole samples chosen from the shapes only; each block's transforms
// run in parallel over (sample, channel slice), its GEMMs one per transformed filter, and the
// weight gradient sums every filter's blocks in block order: the bits do not depend on the
// thread count.
void winogradStride2Forward(const float* weights,
                            const float* x,
                            const Conv3x3Shape& shape,
                            float* y);

void winogradStride2Backward(const float* weights,
                             const float* x,
                             const float* dy,
                             const Conv3x3Shape& shape,
                             float* dx,
                             float* gradWeights);

}  // namespace lp::core::nn
