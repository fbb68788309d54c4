// SPDX-License-Identifier: GPL-3.0-or-later
// The synthetic dataset, batch assembly (shuffle, augmentation, normalisation) and prefetching.
#include "core/data/batches.hpp"
#include "core/data/synthetic.hpp"
#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

namespace lp::core::data {
namespace {

bool sameBits(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

bool sameBatch(const Batch& a, const Batch& b) {
    return sameBits(a.images, b.images) && a.labels == b.labels &&
           a.sampleIndices == b.sampleIndices && a.epoch == b.epoch && a.index == b.index;
}

// A hand-made dataset of random bytes (labels i % classes).
Dataset toyDataset(std::int64_t count, std::int64_t c, std::int64_t h, std::int64_t w) {
    Dataset d;
    d.name = "toy";
    d.channels = c;
    d.height = h;
    d.width = w;
    d.classes = 4;
    Rng rng(99);
    d.pixels.resize(static_cast<std::size_t>(count * c * h * w));
    for (std::uint8_t& p : d.pixels) {
        p = static_cast<std::uint8_t>(rng.below(256));
    }
    for (std::int64_t i = 0; i < count; ++i) {
        d.labels.push_back(static_cast<std::int32_t>(i % d.classes));
    }
    return d;
}

float normalised(const Dataset& d,
                 const Normalization& n,
                 std::int64_t s,
                 std::int64_t c,
                 std::int64_t y,
                 std::int64_t x) {
    const std::uint8_t p =
        d.pixels[static_cast<std::size_t>(((s * d.channels + c) * d.height + y) * d.width + x)];
    const auto k = static_cast<std::size_t>(c);
    return static_cast<float>((static_cast<double>(p) / 255.0 - static_cast<double>(n.mean[k])) /
                              static_cast<double>(n.stddev[k]));
}

TEST(Synthetic, IsDeterministicPerSeed) {
    const SyntheticSpec spec{3, 16, 16, 5, 200, 50, 11};
    const DatasetPair a = makeSynthetic(spec);
    const DatasetPair b = makeSynthetic(spec);
    EXPECT_EQ(a.train.pixels, b.train.pixels);
    EXPECT_EQ(a.test.pixels, b.test.pixels);
    EXPECT_EQ(a.train.labels, b.train.labels);
    EXPECT_NE(a.train.pixels, a.test.pixels);
    SyntheticSpec other = spec;
    other.seed = 12;
    EXPECT_NE(makeSynthetic(other).train.pixels, a.train.pixels);
    a.train.validate();
    EXPECT_EQ(a.train.count(), 200);
    EXPECT_EQ(a.test.count(), 50);
    {
        // Thread count must not change a single byte.
        const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
        EXPECT_EQ(makeSynthetic(spec).train.pixels, a.train.pixels);
    }
}

// Nearest class mean, fitted on train and scored on test: far above chance (1 / classes).
double nearestMeanAccuracy(const DatasetPair& p) {
    const Dataset& tr = p.train;
    const auto dim = static_cast<std::size_t>(tr.pixelsPerSample());
    std::vector<double> means(static_cast<std::size_t>(tr.classes) * dim, 0.0);
    std::vector<double> counts(static_cast<std::size_t>(tr.classes), 0.0);
    for (std::int64_t i = 0; i < tr.count(); ++i) {
        const auto c = static_cast<std::size_t>(tr.labels[static_cast<std::size_t>(i)]);
        counts[c] += 1.0;
        for (std::size_t k = 0; k < dim; ++k) {
            means[c * dim + k] += tr.pixels[static_cast<std::size_t>(i) * dim + k];
        }
    }
    for (std::size_t k = 0; k < means.size(); ++k) {
        means[k] /= counts[k / dim];
    }
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < p.test.count(); ++i) {
        std::size_t best = 0;
        double bestDist = 1e300;
        for (std::size_t c = 0; c < counts.size(); ++c) {
            double dist = 0.0;
            for (std::size_t k = 0; k < dim; ++k) {
                const double diff =
                    p.test.pixels[static_cast<std::size_t>(i) * dim + k] - means[c * dim + k];
                dist += diff * diff;
            }
            if (dist < bestDist) {
                bestDist = dist;
                best = c;
            }
        }
        correct += static_cast<std::int64_t>(best) == p.test.labels[static_cast<std::size_t>(i)];
    }
    return static_cast<double>(correct) / static_cast<double>(p.test.count());
}

TEST(Synthetic, ClassesAreSeparable) {
    EXPECT_GT(nearestMeanAccuracy(makeSynthetic(SyntheticSpec{3, 32, 32, 10, 500, 200, 1})), 0.9);
    EXPECT_GT(nearestMeanAccuracy(makeSynthetic(SyntheticSpec{1, 28, 28, 10, 500, 200, 2})), 0.9);
}

TEST(Synthetic, RejectsBadSpecs) {
    EXPECT_THROW(makeSynthetic(SyntheticSpec{0, 32, 32, 10, 10, 10, 1}), InputError);
    EXPECT_THROW(makeSynthetic(SyntheticSpec{3, 2, 32, 10, 10, 10, 1}), InputError);
    EXPECT_THROW(makeSynthetic(SyntheticSpec{3, 32, 32, 1, 10, 10, 1}), InputError);
    EXPECT_THROW(makeSynthetic(SyntheticSpec{3, 32, 32, 10, 0, 10, 1}), InputError);
    EXPECT_THROW(makeSynthetic(SyntheticSpec{16, 1024, 1024, 10, 1000, 10, 1}), InputError);
}

TEST(BatchLoader, SameSeedEpochAndIndexGiveIdenticalBits) {
    const Dataset d = toyDataset(100, 3, 8, 8);
    BatchSpec spec;
    spec.batchSize = 16;
    spec.augment = true;
    spec.cropPadding = 2;
    spec.seed = 5;
    const Normalization n = computeNormalization(d);
    const BatchLoader a(d, spec, n);
    const BatchLoader b(d, spec, n);
    EXPECT_EQ(a.batchesPerEpoch(), 6);
    for (std::int64_t e : {0, 3}) {
        for (std::int64_t i : {0, 5, 2}) {
            EXPECT_TRUE(sameBatch(a.batch(e, i), b.batch(e, i))) << e << " " << i;
        }
    }
    spec.seed = 6;
    const BatchLoader c(d, spec, n);
    EXPECT_FALSE(sameBatch(a.batch(0, 0), c.batch(0, 0)));
}

TEST(BatchLoader, EachEpochVisitsEverySampleOnceInItsOwnOrder) {
    const Dataset d = toyDataset(103, 1, 4, 4);
    BatchSpec spec;
    spec.batchSize = 10;
    const BatchLoader loader(d, spec, computeNormalization(d));
    EXPECT_EQ(loader.batchesPerEpoch(), 10);  // drop-last: 3 samples left out per epoch
    std::vector<std::int64_t> previous;
    for (std::int64_t e = 0; e < 3; ++e) {
        std::vector<std::int64_t> order = loader.epochOrder(e);
        std::vector<std::int64_t> seen;
        for (std::int64_t i = 0; i < loader.batchesPerEpoch(); ++i) {
            const Batch b = loader.batch(e, i);
            EXPECT_EQ(b.images.shape(), (TensorShape{10, 1, 4, 4}));
            for (std::size_t j = 0; j < b.labels.size(); ++j) {
                EXPECT_EQ(b.labels[j], d.labels[static_cast<std::size_t>(b.sampleIndices[j])]);
            }
            seen.insert(seen.end(), b.sampleIndices.begin(), b.sampleIndices.end());
        }
        EXPECT_TRUE(std::equal(seen.begin(), seen.end(), order.begin()));
        std::sort(order.begin(), order.end());
        for (std::int64_t k = 0; k < d.count(); ++k) {
            ASSERT_EQ(order[static_cast<std::size_t>(k)], k);
        }
        EXPECT_NE(seen, previous);
        previous = seen;
    }

    BatchSpec keep = BatchSpec::evaluation(10);
    const BatchLoader eval(d, keep, computeNormalization(d));
    EXPECT_EQ(eval.batchesPerEpoch(), 11);
    const Batch last = eval.batch(0, 10);
    EXPECT_EQ(last.images.dim(0), 3);
    EXPECT_EQ(last.sampleIndices, (std::vector<std::int64_t>{100, 101, 102}));
    EXPECT_EQ(eval.batch(4, 0).sampleIndices, eval.batch(0, 0).sampleIndices);
    EXPECT_THROW(static_cast<void>(eval.batch(0, 11)), ContractError);
}

TEST(BatchLoader, UnaugmentedImagesAreTheNormalisedPixels) {
    const Dataset d = toyDataset(20, 3, 5, 7);
    const Normalization n{{0.1F, 0.5F, 0.9F}, {0.2F, 0.25F, 0.3F}};
    const BatchLoader loader(d, BatchSpec::evaluation(8), n);
    const Batch b = loader.batch(0, 1);
    for (std::int64_t j = 0; j < 8; ++j) {
        for (std::int64_t c = 0; c < 3; ++c) {
            for (std::int64_t y = 0; y < 5; ++y) {
                for (std::int64_t x = 0; x < 7; ++x) {
                    ASSERT_EQ(b.images.at(j, c, y, x), normalised(d, n, 8 + j, c, y, x));
                }
            }
        }
    }
}

// Every augmented image is the original shifted by (dy, dx) in [-pad, pad] with black filling,
// possibly mirrored; both flips and many shifts occur.
TEST(BatchLoader, AugmentationIsAPaddedCropAndFlip) {
    const Dataset d = toyDataset(64, 2, 6, 6);
    const Normalization n = computeNormalization(d);
    BatchSpec spec;
    spec.batchSize = 32;
    spec.augment = true;
    spec.cropPadding = 2;
    const BatchLoader loader(d, spec, n);
    std::set<std::int64_t> shiftsSeen;
    int flips = 0;
    for (std::int64_t i = 0; i < loader.batchesPerEpoch(); ++i) {
        const Batch b = loader.batch(1, i);
        EXPECT_EQ(b.images.shape(), (TensorShape{32, 2, 6, 6}));
        for (std::int64_t j = 0; j < 32; ++j) {
            const std::int64_t s = b.sampleIndices[static_cast<std::size_t>(j)];
            int matches = 0;
            for (std::int64_t dy = -2; dy <= 2; ++dy) {
                for (std::int64_t dx = -2; dx <= 2; ++dx) {
                    for (bool flip : {false, true}) {
                        bool all = true;
                        for (std::int64_t c = 0; c < 2 && all; ++c) {
                            const auto black = static_cast<float>(
                                -static_cast<double>(n.mean[static_cast<std::size_t>(c)]) /
                                static_cast<double>(n.stddev[static_cast<std::size_t>(c)]));
                            for (std::int64_t y = 0; y < 6 && all; ++y) {
                                for (std::int64_t x = 0; x < 6 && all; ++x) {
                                    const std::int64_t sy = y + dy;
                                    const std::int64_t sx = (flip ? 5 - x : x) + dx;
                                    const bool inside = sy >= 0 && sy < 6 && sx >= 0 && sx < 6;
                                    const float want =
                                        inside ? normalised(d, n, s, c, sy, sx) : black;
                                    all = b.images.at(j, c, y, x) == want;
                                }
                            }
                        }
                        if (all) {
                            ++matches;
                            shiftsSeen.insert((dy + 2) * 5 + dx + 2);
                            flips += flip ? 1 : 0;
                        }
                    }
                }
            }
            EXPECT_EQ(matches, 1) << "sample " << s;
        }
    }
    EXPECT_GT(shiftsSeen.size(), 15U);
    EXPECT_GT(flips, 16);
    EXPECT_LT(flips, 48);
}

TEST(BatchLoader, IndependentOfThreadCountAndBatchSize) {
    const DatasetPair p = makeSynthetic(SyntheticSpec{3, 16, 16, 10, 256, 16, 3});
    BatchSpec spec = trainingSpec(p.train, 64, 9);
    spec.augment = true;
    const Normalization n = standardNormalization(p.train);
    const BatchLoader big(p.train, spec, n);
    spec.batchSize = 32;
    const BatchLoader small(p.train, spec, n);
    const Batch whole = big.batch(2, 1);
    Batch first;
    Batch second;
    {
        const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
        first = small.batch(2, 2);
        second = small.batch(2, 3);
        EXPECT_TRUE(sameBatch(big.batch(2, 1), whole));
    }
    const std::size_t half = first.images.size();
    EXPECT_EQ(std::memcmp(whole.images.data(), first.images.data(), half * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(whole.images.data() + half, second.images.data(), half * sizeof(float)),
              0);
}

TEST(BatchLoader, ComputedNormalisationGivesZeroMeanUnitStd) {
    const DatasetPair p = makeSynthetic(SyntheticSpec{3, 16, 16, 10, 300, 16, 4});
    const Normalization n = standardNormalization(p.train);  // computed: synthetic has no constants
    const BatchLoader loader(p.train, BatchSpec::evaluation(64), n);
    std::vector<double> sum(3, 0.0);
    std::vector<double> sumSq(3, 0.0);
    double perChannel = 0.0;
    for (std::int64_t i = 0; i < loader.batchesPerEpoch(); ++i) {
        const Batch b = loader.batch(0, i);
        for (std::int64_t j = 0; j < b.images.dim(0); ++j) {
            for (std::int64_t c = 0; c < 3; ++c) {
                for (std::int64_t k = 0; k < 256; ++k) {
                    const auto v = static_cast<double>(b.images.at(j, c, k / 16, k % 16));
                    sum[static_cast<std::size_t>(c)] += v;
                    sumSq[static_cast<std::size_t>(c)] += v * v;
                }
            }
            perChannel += 256.0;
        }
    }
    for (std::size_t c = 0; c < 3; ++c) {
        const double mean = sum[c] / perChannel;
        EXPECT_NEAR(mean, 0.0, 1e-4);
        EXPECT_NEAR(std::sqrt(sumSq[c] / perChannel - mean * mean), 1.0, 1e-3);
    }
}

TEST(BatchLoader, StandardConstantsAndTrainingDefaults) {
    Dataset cifar = toyDataset(4, 3, 32, 32);
    cifar.name = "cifar10";
    EXPECT_FLOAT_EQ(standardNormalization(cifar).mean[0], 0.4914F);
    EXPECT_TRUE(trainingSpec(cifar, 128, 1).augment);
    Dataset fashion = toyDataset(4, 1, 28, 28);
    fashion.name = "fashion-mnist";
    EXPECT_FLOAT_EQ(standardNormalization(fashion).stddev[0], 0.3530F);
    EXPECT_FALSE(trainingSpec(fashion, 128, 1).augment);
}

TEST(BatchLoader, RejectsSpecsThatYieldNoBatch) {
    const Dataset d = toyDataset(10, 1, 4, 4);
    const Normalization n = computeNormalization(d);
    BatchSpec spec;
    spec.batchSize = 0;
    EXPECT_THROW(BatchLoader(d, spec, n), InputError);
    spec.batchSize = 11;
    EXPECT_THROW(BatchLoader(d, spec, n), InputError);
    spec.dropLast = false;
    EXPECT_EQ(BatchLoader(d, spec, n).batchesPerEpoch(), 1);
    spec.augment = true;
    spec.cropPadding = 5;
    EXPECT_THROW(BatchLoader(d, spec, n), InputError);
    EXPECT_THROW(
        BatchLoader(d, BatchSpec::evaluation(4), Normalization{{0.5F, 0.5F}, {1.0F, 1.0F}}),
        ContractError);
}

TEST(Prefetcher, YieldsExactlyTheDirectBatchesAcrossEpochs) {
    const DatasetPair p = makeSynthetic(SyntheticSpec{3, 8, 8, 10, 230, 16, 5});
    BatchSpec spec;
    spec.batchSize = 50;
    spec.augment = true;
    spec.cropPadding = 1;
    const BatchLoader loader(p.train, spec, standardNormalization(p.train));
    Prefetcher pre(loader);
    for (std::int64_t k = 0; k < 10; ++k) {
        const std::int64_t e = k / 4;
        const std::int64_t i = k % 4;
        EXPECT_EQ(pre.epoch(), e);
        EXPECT_EQ(pre.index(), i);
        EXPECT_TRUE(sameBatch(pre.next(), loader.batch(e, i))) << k;
    }
    pre.seek(7, 3);
    EXPECT_TRUE(sameBatch(pre.next(), loader.batch(7, 3)));
    EXPECT_TRUE(sameBatch(pre.next(), loader.batch(8, 0)));
    EXPECT_THROW(pre.seek(0, 4), ContractError);
    {
        // With one thread the task runs inside next()'s wait: slower, never stuck.
        const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
        Prefetcher single(loader, 1, 2);
        EXPECT_TRUE(sameBatch(single.next(), loader.batch(1, 2)));
        EXPECT_TRUE(sameBatch(single.next(), loader.batch(1, 3)));
    }
}

}  // namespace
}  // namespace lp::core::data
