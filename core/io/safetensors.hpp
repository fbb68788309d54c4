// safetensors checkpoints (https://github.com/huggingface/safetensors), byte-compatible with the
// reference writer so that PyTorch's load_file / load_state_dict read them. Plain functions over
// values; safe to call from any thread on distinct files.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::io {

// Element types written by this project. F32 for parameters and running statistics; I64 for
// BatchNorm's num_batches_tracked, as torchvision's state_dict stores it.
enum class DType { F32, I64 };

std::string_view dtypeName(DType dtype);  // "F32" / "I64", as in the file header

// One tensor, row-major (C order). values.size() == product(shape); a scalar has shape {} and one
// value. I64 tensors hold their integers as floats in memory (exact up to 2^24 = 16,777,216).
struct NamedTensor {
    std::string name;
    std::vector<std::int64_t> shape;
    DType dtype = DType::F32;
    std::vector<float> values;
};

struct SafetensorsFile {
    std::vector<NamedTensor> tensors;             // read: in file data order
    std::map<std::string, std::string> metadata;  // the header's "__metadata__"

    const NamedTensor* find(std::string_view name) const;  // nullptr when absent
};

// Layout, as the reference implementation's serialize(): u64 little-endian header length N, then N
// bytes of compact JSON {"__metadata__":{..},"name":{"dtype":..,"shape":[..],"data_offsets":[b,e]},
// ..} padded with spaces to a multiple of 8, then the raw little-endian data. Tensors are ordered
// by descending dtype alignment, then by name (so I64 tensors come first, then F32 ones, each
// group sorted by name); the header lists them in that order and the data follows it, so every
// tensor's data is aligned to its element size. "__metadata__" is omitted when empty.
// Written atomically (AtomicFileWriter). Contract errors: duplicate names, the name
// "__metadata__", negative dimensions, values.size() != product(shape), non-integral or out-of-
// range I64 values. InputError: I/O failures, names or metadata that are not valid UTF-8.
void writeSafetensors(const std::filesystem::path& path, const SafetensorsFile& file);

// Serializes to bytes (what writeSafetensors writes); same contract.
std::string serializeSafetensors(const SafetensorsFile& file);

// Reads and validates the whole file: length >= 8, header length within the file (and at most
// 100 MB), header is a JSON object, "__metadata__" maps strings to strings, every tensor has a
// known dtype, a shape of non-negative integers and data_offsets [begin, end] with
// end - begin == product(shape) * element size, and the tensors tile the data section exactly
// (no gaps, no overlaps, nothing after the last one), as the reference reader requires.
// F32 and I64 load as is, I64 values rounded to float; those from 2^63 - 2^38 up round to 2^63,
// which no int64 holds, and are rejected. F64, F16 and BF16 are converted to float and reported
// as F32 (F64 rounds to nearest). Other dtypes (BOOL, U8, I8, I16, U16, I32, U32, U64, F8_*) are
// rejected. Every failure is an InputError naming the file, the tensor and what was expected vs
// found.
SafetensorsFile readSafetensors(const std::filesystem::path& path);

// Parses file bytes; `source` names them in error messages (a path, or e.g. "<memory>").
SafetensorsFile parseSafetensors(std::string_view bytes, std::string_view source);

}  // namespace lp::core::io
