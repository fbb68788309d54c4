// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/batches.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"
#include "core/tensor/rng.hpp"

#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <numeric>
#include <optional>
#include <utility>

namespace lp::core::data {

namespace {

// Stream tags for Rng::derive: the shuffle and the augmentation never share a stream.
constexpr std::uint64_t kShuffleTag = 0x53485546;  // "SHUF"
constexpr std::uint64_t kAugmentTag = 0x41554745;  // "AUGE"

// Writes sample s of d cropped at offset (dy, dx), out(y, x) = in(y + dy, x + dx) with zero
// pixels outside (torchvision's RandomCrop pads the stored image with 0, i.e. black, before
// normalising), then mirrored if flip (RandomHorizontalFlip comes after the crop). lut maps
// (channel, byte) to the normalised value.
void writeSample(const Dataset& d,
                 const float* lut,
                 std::int64_t s,
                 std::int64_t dy,
                 std::int64_t dx,
                 bool flip,
                 float* out) {
    const std::int64_t h = d.height;
    const std::int64_t w = d.width;
    const std::uint8_t* in = d.pixels.data() + s * d.pixelsPerSample();
    for (std::int64_t c = 0; c < d.channels; ++c) {
        const float* l = lut + c * 256;
        for (std::int64_t y = 0; y < h; ++y) {
            float* row = out + (c * h + y) * w;
            const std::int64_t sy = y + dy;
            if (sy < 0 || sy >= h) {
                std::fill(row, row + w, l[0]);
                continue;
            }
            const std::uint8_t* src = in + (c * h + sy) * w;
            for (std::int64_t x = 0; x < w; ++x) {
                const std::int64_t sx = (flip ? w - 1 - x : x) + dx;
                row[x] = sx >= 0 && sx < w ? l[src[sx]] : l[0];
            }
        }
    }
}

struct ChannelSums {
    std::vector<std::uint64_t> sum;
    std::vector<std::uint64_t> sumSq;
};

}  // namespace

Normalization computeNormalization(const Dataset& split) {
    split.validate();
    LP_EXPECTS(split.count() > 0, "computeNormalization: empty dataset");
    const std::int64_t plane = split.height * split.width;
    const auto channels = static_cast<std::size_t>(split.channels);
    // Integer sums are exact, so neither the chunking nor the combine order can change the result.
    const ChannelSums identity{std::vector<std::uint64_t>(channels, 0),
                               std::vector<std::uint64_t>(channels, 0)};
    const ChannelSums sums = chunkedReduce(
        0,
        split.count(),
        256,
        identity,
        [&](std::int64_t lo, std::int64_t hi, ChannelSums& acc) {
            for (std::int64_t i = lo; i < hi; ++i) {
                const std::uint8_t* p = split.pixels.data() + i * split.pixelsPerSample();
                for (std::size_t c = 0; c < channels; ++c) {
                    std::uint64_t s = 0;
                    std::uint64_t s2 = 0;
                    for (std::int64_t k = 0; k < plane; ++k) {
                        const std::uint64_t v = *p++;
                        s += v;
                        s2 += v * v;
                    }
                    acc.sum[c] += s;
                    acc.sumSq[c] += s2;
                }
            }
        },
        [](ChannelSums& acc, const ChannelSums& part) {
            for (std::size_t c = 0; c < acc.sum.size(); ++c) {
                acc.sum[c] += part.sum[c];
                acc.sumSq[c] += part.sumSq[c];
            }
        });
    const auto n = static_cast<double>(split.count() * plane);
    Normalization norm;
    for (std::size_t c = 0; c < channels; ++c) {
        const double mean = static_cast<double>(sums.sum[c]) / n / 255.0;
        const double meanSq = static_cast<double>(sums.sumSq[c]) / n / (255.0 * 255.0);
        // A constant channel would give std 0; keep the division finite.
        const double sd = std::max(std::sqrt(std::max(meanSq - mean * mean, 0.0)), 1e-3);
        norm.mean.push_back(static_cast<float>(mean));
        norm.stddev.push_back(static_cast<float>(sd));
    }
    return norm;
}

Normalization standardNormalization(const Dataset& train) {
    if (train.name == "cifar10" && train.channels == 3) {
        return {{0.4914F, 0.4822F, 0.4465F}, {0.2470F, 0.2435F, 0.2616F}};
    }
    if (train.name == "cifar100" && train.channels == 3) {
        return {{0.5071F, 0.4865F, 0.4409F}, {0.2673F, 0.2564F, 0.2762F}};
    }
    if (train.name == "fashion-mnist" && train.channels == 1) {
        return {{0.2860F}, {0.3530F}};
    }
    if (train.name == "mnist" && train.channels == 1) {
        return {{0.1307F}, {0.3081F}};
    }
    return computeNormalization(train);
}

BatchSpec BatchSpec::evaluation(std::int64_t batchSize) {
    BatchSpec s;
    s.batchSize = batchSize;
    s.shuffle = false;
    s.dropLast = false;
    s.augment = false;
    return s;
}

BatchSpec trainingSpec(const Dataset& train, std::int64_t batchSize, std::uint64_t seed) {
    BatchSpec s;
    s.batchSize = batchSize;
    s.seed = seed;
    // DESIGN.md section 7: pad-4 random crop and horizontal flip for CIFAR.
    s.augment = train.name == "cifar10" || train.name == "cifar100";
    return s;
}

// One epoch's permutation, shared by all batches of that epoch. Computing it is O(count), so it
// is cached for the most recent epoch; the mutex makes batch() safe from several threads.
struct BatchLoader::OrderCache {
    std::mutex mutex;
    std::int64_t epoch = -1;
    std::shared_ptr<const std::vector<std::int64_t>> order;
};

BatchLoader::BatchLoader(const Dataset& dataset, const BatchSpec& spec, const Normalization& norm)
    : dataset_(&dataset), spec_(spec), norm_(norm), cache_(std::make_unique<OrderCache>()) {
    dataset.validate();
    if (spec.batchSize < 1) {
        throw InputError(concat("batch size must be at least 1, got ", spec.batchSize));
    }
    const std::int64_t side = std::min(dataset.height, dataset.width);
    if (spec.augment && (spec.cropPadding < 0 || spec.cropPadding > side)) {
        throw InputError(concat("crop padding must be in 0..", side, ", got ", spec.cropPadding));
    }
    if (batchesPerEpoch() == 0) {
        throw InputError(concat("batch size ",
                                spec.batchSize,
                                " leaves no batch: ",
                                dataset.name,
                                " has ",
                                dataset.count(),
                                " samples",
                                spec.dropLast ? " and incomplete batches are dropped" : ""));
    }
    const auto channels = static_cast<std::size_t>(dataset.channels);
    LP_EXPECTS(norm.mean.size() == channels && norm.stddev.size() == channels,
               "normalisation needs one mean and one stddev per channel");
    lut_.resize(channels * 256);
    for (std::size_t c = 0; c < channels; ++c) {
        LP_EXPECTS(norm.stddev[c] > 0.0F, "normalisation stddev must be positive");
        for (std::size_t v = 0; v < 256; ++v) {
            // In double, then rounded once: every stored byte maps to one exact float.
            const double x = (static_cast<double>(v) / 255.0 - static_cast<double>(norm.mean[c])) /
                             static_cast<double>(norm.stddev[c]);
            lut_[c * 256 + v] = static_cast<float>(x);
        }
    }
}

BatchLoader::~BatchLoader() = default;
BatchLoader::BatchLoader(BatchLoader&&) noexcept = default;
BatchLoader& BatchLoader::operator=(BatchLoader&&) noexcept = default;

std::int64_t BatchLoader::batchesPerEpoch() const {
    const std::int64_t n = dataset_->count();
    return spec_.dropLast ? n / spec_.batchSize : (n + spec_.batchSize - 1) / spec_.batchSize;
}

std::vector<std::int64_t> BatchLoader::epochOrder(std::int64_t epoch) const {
    LP_EXPECTS(epoch >= 0, "epoch must be non-negative");
    std::vector<std::int64_t> order(static_cast<std::size_t>(dataset_->count()));
    std::iota(order.begin(), order.end(), std::int64_t{0});
    if (spec_.shuffle) {
        Rng rng(Rng::derive(spec_.seed, kShuffleTag, static_cast<std::uint64_t>(epoch)));
        // Fisher–Yates (Knuth, TAOCP vol. 2, Algorithm P): uniform over all permutations.
        for (std::size_t i = order.size(); i > 1; --i) {
            const std::size_t j = rng.below(i);
            std::swap(order[i - 1], order[j]);
        }
    }
    return order;
}

Batch BatchLoader::batch(std::int64_t epoch, std::int64_t index) const {
    LP_EXPECTS(epoch >= 0, "epoch must be non-negative");
    LP_EXPECTS(index >= 0 && index < batchesPerEpoch(), "batch index out of range");
    std::shared_ptr<const std::vector<std::int64_t>> order;
    {
        const std::lock_guard<std::mutex> lock(cache_->mutex);
        if (cache_->epoch != epoch || !cache_->order) {
            cache_->order = std::make_shared<const std::vector<std::int64_t>>(epochOrder(epoch));
            cache_->epoch = epoch;
        }
        order = cache_->order;
    }
    const Dataset& d = *dataset_;
    const std::int64_t first = index * spec_.batchSize;
    const std::int64_t size = std::min(spec_.batchSize, d.count() - first);
    Batch b;
    b.epoch = epoch;
    b.index = index;
    b.images = Tensor(TensorShape{size, d.channels, d.height, d.width});
    b.sampleIndices.assign(order->begin() + first, order->begin() + first + size);
    for (std::int64_t s : b.sampleIndices) {
        b.labels.push_back(d.labels[static_cast<std::size_t>(s)]);
    }
    const std::int64_t pad = spec_.augment ? spec_.cropPadding : 0;
    parallelFor(0, size, 8, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t j = lo; j < hi; ++j) {
            const std::int64_t s = b.sampleIndices[static_cast<std::size_t>(j)];
            // Crop offsets in the padded image, [0, 2 * pad]; pad maps to "no shift".
            std::int64_t oy = pad;
            std::int64_t ox = pad;
            bool flip = false;
            if (spec_.augment) {
                Rng rng(Rng::derive(spec_.seed,
                                    kAugmentTag,
                                    static_cast<std::uint64_t>(epoch),
                                    static_cast<std::uint64_t>(s)));
                const auto span = static_cast<std::uint64_t>(2 * pad + 1);
                oy = static_cast<std::int64_t>(rng.below(span));
                ox = static_cast<std::int64_t>(rng.below(span));
                flip = spec_.horizontalFlip && (rng.next() >> 63U) != 0;
            }
            writeSample(d,
                        lut_.data(),
                        s,
                        oy - pad,
                        ox - pad,
                        flip,
                        b.images.data() + j * d.pixelsPerSample());
        }
    });
    return b;
}

// The task writes `ready` or `error`; task_group::wait() orders those writes before the driving
// thread reads them. Exceptions are caught inside the task so that the group never ends up
// cancelled and stays reusable.
struct Prefetcher::Impl {
    Impl(const BatchLoader* l, std::int64_t e, std::int64_t i) : loader(l), epoch(e), index(i) {}

    const BatchLoader* loader;
    std::int64_t epoch;
    std::int64_t index;
    tbb::task_group group;
    bool pending = false;
    std::optional<Batch> ready;
    std::exception_ptr error;

    void start() {
        pending = true;
        group.run([this, e = epoch, i = index] {
            try {
                ready = loader->batch(e, i);
            } catch (...) {
                error = std::current_exception();
            }
        });
    }

    void finish() {
        if (pending) {
            group.wait();
            pending = false;
        }
    }
};

Prefetcher::Prefetcher(const BatchLoader& loader, std::int64_t epoch, std::int64_t index)
    : impl_(std::make_unique<Impl>(&loader, epoch, index)) {
    LP_EXPECTS(epoch >= 0 && index >= 0 && index < loader.batchesPerEpoch(),
               "prefetcher start position out of range");
    impl_->start();
}

Prefetcher::~Prefetcher() {
    // The task captures impl_; it must finish before impl_ goes. Its result is discarded.
    impl_->group.wait();
}

Batch Prefetcher::next() {
    Impl& p = *impl_;
    if (!p.pending && !p.ready) {
        p.start();  // after an error, or never started: prepare the cursor's batch again
    }
    p.finish();
    if (p.error) {
        std::exception_ptr e = std::exchange(p.error, nullptr);
        std::rethrow_exception(e);
    }
    Batch out = std::move(*p.ready);
    p.ready.reset();
    if (++p.index == p.loader->batchesPerEpoch()) {
        p.index = 0;
        ++p.epoch;
    }
    p.start();
    return out;
}

void Prefetcher::seek(std::int64_t epoch, std::int64_t index) {
    LP_EXPECTS(epoch >= 0 && index >= 0 && index < impl_->loader->batchesPerEpoch(),
               "prefetcher position out of range");
    Impl& p = *impl_;
    if (p.epoch == epoch && p.index == index) {
        return;
    }
    p.finish();
    p.ready.reset();
    p.error = nullptr;
    p.epoch = epoch;
    p.index = index;
    p.start();
}

std::int64_t Prefetcher::epoch() const {
    return impl_->epoch;
}

std::int64_t Prefetcher::index() const {
    return impl_->index;
}

}  // namespace lp::core::data
