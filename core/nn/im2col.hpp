// im2col and its adjoint col2im for Conv2d's GEMM route over NCHW samples, with the geometry of
// a convolution. Stateless: any number of threads may call them at once on disjoint outputs.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>

namespace lp::core::nn {

struct ConvGeometry {
    std::int64_t c = 0;  // input channels
    std::int64_t h = 0;
    std::int64_t w = 0;
    std::int64_t k = 0;
    std::int64_t s = 0;
    std::int64_t p = 0;
    std::int64_t ho = 0;
    std::int64_t wo = 0;

    std::int64_t rows() const { return c * k * k; }  // im2col rows (GEMM inner dimension)

    std::int64_t cols() const { return ho * wo; }  // output pixels per sample

    std::int64_t inSample() const { return c * h * w; }

    // 1x1, stride 1, no padding: the im2col of one sample is the sample itself.
    bool identity() const { return k == 1 && s == 1 && p == 0; }
};

// col[r, j] (row stride ld) = x[c, oy·s − p + ky, ox·s − p + kx] or 0 in the padding, with
// r = (c·k + ky)·k + kx and j = oy·wo + ox. x: one sample [C, H, W]. Only output rows [oy0, oy1)
// are written, at columns (oy − oy0)·wo + ox.
void im2col(const float* x,
            const ConvGeometry& g,
            float* col,
            std::int64_t ld,
            std::int64_t oy0,
            std::int64_t oy1);

// The adjoint of im2col: dx[c, iy, ix] += col[r, j] over every (r, j) that im2col read it into,
// for the output rows [oy0, oy1) held in col at columns (oy − oy0)·wo + ox. col is scratch: its
// wrapped border entries may be zeroed.
void col2im(float* col,
            std::int64_t ld,
            const ConvGeometry& g,
            float* dx,
            std::int64_t oy0,
            std::int64_t oy1);

}  // namespace lp::core::nn
