// Minibatches from a Dataset: deterministic shuffle, augmentation and per-channel normalisation
// (DESIGN.md section 7), plus a Prefetcher that prepares the next batch on oneTBB. BatchLoader is
// immutable after construction and batch() may run on several threads at once; a Prefetcher
// belongs to one thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/data/dataset.hpp"
#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace lp::core::data {

// x = (p / 255 - mean[c]) / stddev[c] for a stored pixel p of channel c; one entry per channel.
struct Normalization {
    std::vector<float> mean;
    std::vector<float> stddev;
};

// Exact per-channel mean and population standard deviation of the split (integer sums, so the
// result does not depend on the thread count).
Normalization computeNormalization(const Dataset& split);

// The published training-split statistics for "cifar10" (0.4914, 0.4822, 0.4465 /
// 0.2470, 0.2435, 0.2616), "cifar100" (0.5071, 0.4865, 0.4409 / 0.2673, 0.2564, 0.2762),
// "fashion-mnist" (0.2860 / 0.3530) and "mnist" (0.1307 / 0.3081); computeNormalization(train)
// for any other dataset (synthetic). Pass the training split, also for the test loader.
Normalization standardNormalization(const Dataset& train);

struct BatchSpec {
    std::int64_t batchSize = 128;
    bool shuffle = true;
    bool dropLast = true;          // else the last batch of an epoch may be smaller
    bool augment = false;          // random crop (and flip, if horizontalFlip) per sample
    std::int64_t cropPadding = 4;  // zero (black) padding on each side before the crop
    bool horizontalFlip = true;    // leave off for digits
    std::uint64_t seed = 1;

    // In order, every sample once, no augmentation: for evaluation.
    static BatchSpec evaluation(std::int64_t batchSize);
};

// Training default for a dataset: shuffled, drop-last; CIFAR adds pad-4 crop and flip.
BatchSpec trainingSpec(const Dataset& train, std::int64_t batchSize, std::uint64_t seed);

struct Batch {
    Tensor images;                            // [B, C, H, W], normalised
    std::vector<std::int32_t> labels;         // B fine labels
    std::vector<std::int64_t> sampleIndices;  // B dataset indices
    std::int64_t epoch = 0;
    std::int64_t index = 0;
};

class BatchLoader {
public:
    // The dataset must outlive the loader. Throws InputError for a batch size below 1, a crop
    // padding outside 0..min(height, width), or a dataset that yields no batch (fewer samples
    // than one batch with dropLast). Throws ContractError unless norm has one positive-stddev
    // entry per channel.
    BatchLoader(const Dataset& dataset, const BatchSpec& spec, const Normalization& norm);
    ~BatchLoader();
    BatchLoader(BatchLoader&& other) noexcept;
    BatchLoader& operator=(BatchLoader&& other) noexcept;
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    const Dataset& dataset() const { return *dataset_; }

    const BatchSpec& spec() const { return spec_; }

    std::int64_t batchesPerEpoch() const;

    // Dataset indices in the order epoch visits them: a permutation of 0..count-1, a Fisher–Yates
    // shuffle seeded by (seed, epoch) when shuffle is on, else the identity. epoch >= 0.
    std::vector<std::int64_t> epochOrder(std::int64_t epoch) const;

    // Batch `index` (0 <= index < batchesPerEpoch()) of `epoch`: a pure function of
    // (dataset, spec, norm, epoch, index). A sample's crop and flip are drawn from
    // (seed, epoch, dataset index), so they do not depend on the batch size or thread count.
    Batch batch(std::int64_t epoch, std::int64_t index) const;

private:
    struct OrderCache;
    const Dataset* dataset_;
    BatchSpec spec_;
    Normalization norm_;
    std::vector<float> lut_;  // [channels, 256]: normalised value of each stored byte
    std::unique_ptr<OrderCache> cache_;
};

// Walks a loader's batches in order (across epochs), preparing batch k+1 as a oneTBB task while
// the caller works on batch k. One thread drives it; the loader must outlive it.
class Prefetcher {
public:
    // Starts preparing (epoch, index) at once.
    explicit Prefetcher(const BatchLoader& loader, std::int64_t epoch = 0, std::int64_t index = 0);
    ~Prefetcher();  // waits for a batch still being prepared
    Prefetcher(const Prefetcher&) = delete;
    Prefetcher& operator=(const Prefetcher&) = delete;
    Prefetcher(Prefetcher&&) = delete;
    Prefetcher& operator=(Prefetcher&&) = delete;

    // Equal to loader.batch(epoch(), index()): waits for it if needed (rethrowing an exception
    // from its preparation), moves the cursor on (after an epoch's last batch to batch 0 of the
    // next epoch) and starts preparing the batch there.
    Batch next();
    // Moves the cursor; a batch being prepared for another position is awaited and dropped.
    void seek(std::int64_t epoch, std::int64_t index);
    std::int64_t epoch() const;
    std::int64_t index() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lp::core::data
