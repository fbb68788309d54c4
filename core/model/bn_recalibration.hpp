// BatchNorm recalibration (issue 13; docs/pipeline.md): the running statistics a model's
// BatchNorm layers get from forward passes under fixed weights, as torch.optim.swa_utils.update_bn
// computes them. Reentrant; parallel only inside the layers' ops, so the bits do not depend on
// the thread count.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/model/resnet.hpp"
#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <functional>
#include <span>

namespace lp::core::model {

// Minibatch `index` (0-based) of the recalibration set: images [N, C, H, W].
using RecalibrationBatch = std::function<Tensor(std::int64_t index)>;

// Returns the model-wide buffers with every BatchNorm running_mean and running_var replaced by
// the average over minibatches b = 0..count−1 of that minibatch's statistics under `weights`:
//   running_mean = (1/count)·Σ_b μ_b,   running_var = (1/count)·Σ_b σ²_b·n/(n−1)
// where μ_b and σ²_b are the mean and biased variance over (N, H, W) of the layer's input in a
// Train-mode forward of minibatch b, and n = N·H·W. This is torch.nn.BatchNorm2d with
// momentum=None (the cumulative average) after its running statistics are reset, i.e. what
// torch.optim.swa_utils.update_bn computes. A Train-mode forward normalises with the batch's own
// statistics, so the result does not depend on the running statistics in `buffers`; the counters
// (num_batches_tracked) are copied from `buffers` unchanged. Sums run in double, in batch order,
// each rounded to float once. Nothing is written but the returned buffer.
// weights/buffers: the model-wide flat arrays (ModelState's layout); count >= 1.
AlignedBuffer recalibrateBatchNorm(const ResNet& net,
                                   std::span<const float> weights,
                                   std::span<const float> buffers,
                                   std::int64_t count,
                                   const RecalibrationBatch& batch);

}  // namespace lp::core::model
