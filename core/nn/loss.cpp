// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/loss.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace lp::core::nn {

namespace {

constexpr std::int64_t kRowGrain = 64;

// Per-sample results, written by the task that owns the row and summed in row order afterwards.
struct RowResult {
    double loss = 0.0;
    int rank = 0;  // classes ranked before the label
};

// Classes that rank before `label`: higher logits, or equal logits at a lower index. A row with
// a NaN logit ranks its label nowhere (INT_MAX, outside every top-k): comparisons with NaN are
// false, so without this check a diverged model would score 100% (a NaN label logit has nothing
// "above" it).
int rankOf(const float* z, std::int64_t k, std::int64_t label) {
    const float target = z[label];
    int rank = 0;
    for (std::int64_t j = 0; j < k; ++j) {
        if (std::isnan(z[j])) {
            return std::numeric_limits<int>::max();
        }
        if (z[j] > target || (z[j] == target && j < label)) {
            ++rank;
        }
    }
    return rank;
}

}  // namespace

LossResult softmaxCrossEntropy(const Tensor& logits,
                               std::span<const std::int32_t> labels,
                               bool withGradient) {
    LP_EXPECTS(
        logits.shape().rank() == 2 && logits.dim(0) > 0 && logits.dim(1) > 0,
        "softmaxCrossEntropy expects logits [N, K] with N, K > 0, got " + logits.shape().str());
    const std::int64_t n = logits.dim(0);
    const std::int64_t k = logits.dim(1);
    LP_EXPECTS(static_cast<std::int64_t>(labels.size()) == n,
               concat("softmaxCrossEntropy: ", labels.size(), " labels for ", n, " samples"));
    for (std::size_t i = 0; i < labels.size(); ++i) {
        LP_EXPECTS(labels[i] >= 0 && labels[i] < k,
                   concat("softmaxCrossEntropy: label ",
                          labels[i],
                          " of sample ",
                          i,
                          " is outside [0, ",
                          k,
                          ")"));
    }

    LossResult result;
    if (withGradient) {
        result.gradLogits = Tensor(logits.shape());
    }
    std::vector<RowResult> rows(static_cast<std::size_t>(n));
    const float* zs = logits.data();
    float* gs = withGradient ? result.gradLogits.data() : nullptr;
    const double invN = 1.0 / static_cast<double>(n);

    parallelFor(0, n, kRowGrain, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t r = lo; r < hi; ++r) {
            const float* z = zs + r * k;
            const std::int64_t label = labels[static_cast<std::size_t>(r)];
            // log Σ exp(z) = m + log Σ exp(z − m) with m = max z: every exponent is ≤ 0.
            float m = z[0];
            for (std::int64_t j = 1; j < k; ++j) {
                m = z[j] > m ? z[j] : m;
            }
            const auto md = static_cast<double>(m);
            double sum = 0.0;
            for (std::int64_t j = 0; j < k; ++j) {
                sum += std::exp(static_cast<double>(z[j]) - md);
            }
            const double lse = md + std::log(sum);
            RowResult& row = rows[static_cast<std::size_t>(r)];
            row.loss = lse - static_cast<double>(z[label]);
            row.rank = rankOf(z, k, label);
            if (gs != nullptr) {
                float* g = gs + r * k;
                for (std::int64_t j = 0; j < k; ++j) {
                    const double p = std::exp(static_cast<double>(z[j]) - lse);
                    g[j] = static_cast<float>((p - (j == label ? 1.0 : 0.0)) * invN);
                }
            }
        }
    });

    double total = 0.0;
    for (const RowResult& row : rows) {
        total += row.loss;
        result.correct += row.rank < 1 ? 1 : 0;
        result.correctTop5 += row.rank < 5 ? 1 : 0;
    }
    result.loss = static_cast<float>(total * invN);
    return result;
}

}  // namespace lp::core::nn
