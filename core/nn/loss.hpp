// Softmax cross-entropy loss with accuracy counts (the ResNet head's loss); a pure function,
// thread-safe.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <span>

namespace lp::core::nn {

struct LossResult {
    float loss = 0.0F;         // mean over the batch of −log softmax(logits)[label]
    Tensor gradLogits;         // dloss/dlogits [N, K] = (softmax − onehot)/N; empty if not asked
    std::int64_t correct = 0;  // samples whose label ranks first
    std::int64_t correctTop5 = 0;  // samples whose label ranks in the first five
};

// logits: [N, K], labels: N class indices in [0, K) (ContractError otherwise). Equal to
// torch.nn.functional.cross_entropy(logits, labels) (reduction "mean"). Numerically stable:
// log-sum-exp after subtracting the row maximum, accumulated in double, so logits of ±1000 are
// fine. Ranking for the accuracy counts breaks ties toward the lower class index (as argmax).
// withGradient = false skips gradLogits (evaluation). Bit-identical for any thread count.
LossResult softmaxCrossEntropy(const Tensor& logits,
                               std::span<const std::int32_t> labels,
                               bool withGradient = true);

}  // namespace lp::core::nn
