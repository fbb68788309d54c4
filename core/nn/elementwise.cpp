// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/elementwise.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"

#include <Eigen/Core>

namespace lp::core::nn {

namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Elements per parallel chunk.
constexpr std::int64_t kGrain = std::int64_t{1} << 15;

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
    expectSameShape(a.shape(), b.shape(), "add");
    Tensor y = Tensor::uninitialized(a.shape());  // written whole below
    const float* as = a.data();
    const float* bs = b.data();
    float* ys = y.data();
    parallelFor(0, a.numel(), kGrain, [as, bs, ys](std::int64_t lo, std::int64_t hi) {
        ArrayMap(ys + lo, hi - lo) =
            ConstArrayMap(as + lo, hi - lo) + ConstArrayMap(bs + lo, hi - lo);
    });
    return y;
}

void addInPlace(Tensor& a, const Tensor& b) {
    expectSameShape(a.shape(), b.shape(), "addInPlace");
    float* as = a.data();
    const float* bs = b.data();
    parallelFor(0, a.numel(), kGrain, [as, bs](std::int64_t lo, std::int64_t hi) {
        ArrayMap(as + lo, hi - lo) += ConstArrayMap(bs + lo, hi - lo);
    });
}

}  // namespace lp::core::nn
