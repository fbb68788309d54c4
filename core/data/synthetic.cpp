// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/synthetic.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"
#include "core/tensor/rng.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace lp::core::data {

namespace {

// Stream tags for Rng::derive, so that template and sample streams never coincide.
constexpr std::uint64_t kTemplateTag = 0x54454D50;  // "TEMP"
constexpr std::uint64_t kSampleTag = 0x53414D50;    // "SAMP"
constexpr int kWaves = 4;

void checkRange(const char* field, std::int64_t value, std::int64_t lo, std::int64_t hi) {
    if (value < lo || value > hi) {
        throw InputError(
            concat("synthetic dataset: ", field, " must be in ", lo, "..", hi, ", got ", value));
    }
}

// templates: [classes, C, H, W] in [0, 1] before clamping (mean 0.5).
std::vector<float> makeTemplates(const SyntheticSpec& s) {
    const std::int64_t plane = s.height * s.width;
    std::vector<float> t(static_cast<std::size_t>(s.classes * s.channels * plane), 0.5F);
    for (std::int64_t c = 0; c < s.classes; ++c) {
        Rng rng(Rng::derive(s.seed, kTemplateTag, static_cast<std::uint64_t>(c)));
        for (std::int64_t ch = 0; ch < s.channels; ++ch) {
            float* out = t.data() + (c * s.channels + ch) * plane;
            for (int k = 0; k < kWaves; ++k) {
                // Integer frequencies keep the template periodic, so circular shifts are seamless.
                std::int64_t fx = 0;
                std::int64_t fy = 0;
                while (fx == 0 && fy == 0) {
                    fx = static_cast<std::int64_t>(rng.below(7)) - 3;
                    fy = static_cast<std::int64_t>(rng.below(7)) - 3;
                }
                const auto amp = static_cast<double>(rng.uniform(0.06F, 0.14F));
                const double phase = 2.0 * std::numbers::pi * static_cast<double>(rng.uniform());
                for (std::int64_t y = 0; y < s.height; ++y) {
                    for (std::int64_t x = 0; x < s.width; ++x) {
                        const double arg =
                            2.0 * std::numbers::pi *
                                (static_cast<double>(fx * x) / static_cast<double>(s.width) +
                                 static_cast<double>(fy * y) / static_cast<double>(s.height)) +
                            phase;
                        out[y * s.width + x] += static_cast<float>(amp * std::sin(arg));
                    }
                }
            }
        }
    }
    return t;
}

Dataset makeSplit(const SyntheticSpec& s,
                  const std::vector<float>& templates,
                  std::uint64_t split,
                  std::int64_t count) {
    Dataset d;
    d.name = "synthetic";
    d.channels = s.channels;
    d.height = s.height;
    d.width = s.width;
    d.classes = s.classes;
    for (std::int64_t c = 0; c < s.classes; ++c) {
        d.classNames.push_back(concat("class ", c));
    }
    const std::int64_t plane = s.height * s.width;
    const std::int64_t perSample = s.channels * plane;
    d.labels.resize(static_cast<std::size_t>(count));
    d.pixels.resize(static_cast<std::size_t>(count * perSample));
    const std::int64_t maxShift = std::max<std::int64_t>(1, std::min(s.height, s.width) / 16);
    // Uniform noise on [-a, a] has sd a / sqrt(3); a = 0.104 gives sd 0.06.
    constexpr float kNoise = 0.104F;
    parallelFor(0, count, 32, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; ++i) {
            Rng rng(Rng::derive(s.seed, kSampleTag, split, static_cast<std::uint64_t>(i)));
            const std::int64_t label = i % s.classes;
            const auto span = static_cast<std::uint64_t>(2 * maxShift + 1);
            const std::int64_t dy = static_cast<std::int64_t>(rng.below(span)) - maxShift;
            const std::int64_t dx = static_cast<std::int64_t>(rng.below(span)) - maxShift;
            const float contrast = rng.uniform(0.75F, 1.25F);
            const float brightness = rng.uniform(-0.08F, 0.08F);
            d.labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(label);
            std::uint8_t* out = d.pixels.data() + i * perSample;
            for (std::int64_t ch = 0; ch < s.channels; ++ch) {
                const float* tpl = templates.data() + (label * s.channels + ch) * plane;
                for (std::int64_t y = 0; y < s.height; ++y) {
                    const std::int64_t sy = (y + dy + s.height) % s.height;
                    for (std::int64_t x = 0; x < s.width; ++x) {
                        const std::int64_t sx = (x + dx + s.width) % s.width;
                        const float v = 0.5F + contrast * (tpl[sy * s.width + sx] - 0.5F) +
                                        brightness + rng.uniform(-kNoise, kNoise);
                        const float q = std::clamp(v, 0.0F, 1.0F) * 255.0F + 0.5F;
                        out[(ch * s.height + y) * s.width + x] = static_cast<std::uint8_t>(q);
                    }
                }
            }
        }
    });
    return d;
}

}  // namespace

DatasetPair makeSynthetic(const SyntheticSpec& spec) {
    checkRange("channels", spec.channels, 1, 16);
    checkRange("height", spec.height, 4, 1024);
    checkRange("width", spec.width, 4, 1024);
    checkRange("classes", spec.classes, 2, 1000);
    checkRange("training samples", spec.trainCount, 1, 10'000'000);
    checkRange("test samples", spec.testCount, 1, 10'000'000);
    const std::int64_t bytes =
        (spec.trainCount + spec.testCount) * spec.channels * spec.height * spec.width;
    if (bytes > (std::int64_t{1} << 32)) {
        throw InputError(concat(
            "synthetic dataset: ", bytes, " bytes of pixels requested, at most 4 GiB allowed"));
    }
    const std::vector<float> templates = makeTemplates(spec);
    DatasetPair pair;
    pair.train = makeSplit(spec, templates, 0, spec.trainCount);
    pair.test = makeSplit(spec, templates, 1, spec.testCount);
    pair.source = concat("synthetic (",
                         spec.channels,
                         "x",
                         spec.height,
                         "x",
                         spec.width,
                         ", ",
                         spec.classes,
                         " classes, seed ",
                         spec.seed,
                         ")");  // the counts are printed with every dataset's source
    return pair;
}

}  // namespace lp::core::data
