// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/safetensors.hpp"

#include "core/error.hpp"
#include "core/io/atomic_file.hpp"

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <system_error>
#include <tuple>

namespace lp::core::io {

// The format is little-endian; raw memcpy of floats and integers is only correct on such hosts
// (x86-64 and AArch64 Linux, everything this project targets).
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's limit
constexpr std::string_view kMetadataKey = "__metadata__";
constexpr float kTwoPow63 = 9.2233720368547758e18F;  // exactly 2^63

std::size_t elementSize(DType dtype) {
    return dtype == DType::I64 ? 8 : 4;
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        s += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
    }
    return s + "]";
}

// ---- writing ----

std::string jsonString(const std::string& s, std::string_view what) {
    try {
        return nlohmann::json(s).dump();
    } catch (const nlohmann::json::exception&) {
        throw InputError(concat("safetensors: ", what, " is not valid UTF-8"));
    }
}

// Checks the contract and returns the tensors in the reference writer's order: descending dtype
// alignment, then name (byte-wise, like Rust's String ordering).
std::vector<const NamedTensor*> writeOrder(const SafetensorsFile& file) {
    std::vector<const NamedTensor*> order;
    std::set<std::string_view> names;
    for (const NamedTensor& t : file.tensors) {
        LP_EXPECTS(t.name != kMetadataKey, "safetensors: a tensor may not be named __metadata__");
        LP_EXPECTS(names.insert(t.name).second, concat("safetensors: duplicate tensor ", t.name));
        std::int64_t n = 1;
        for (std::int64_t d : t.shape) {
            LP_EXPECTS(d >= 0,
                       concat("safetensors: tensor ", t.name, " has shape ", shapeText(t.shape)));
            n *= d;
        }
        LP_EXPECTS(static_cast<std::size_t>(n) == t.values.size(),
                   concat("safetensors: tensor ",
                          t.name,
                          " has shape ",
                          shapeText(t.shape),
                          " but ",
                          t.values.size(),
                          " values"));
        if (t.dtype == DType::I64) {
            for (float v : t.values) {
                // int64 holds [-2^63, 2^63); both ends are floats, so every integral float in
                // that range converts exactly.
                LP_EXPECTS(std::trunc(v) == v && v >= -kTwoPow63 && v < kTwoPow63,
                           concat("safetensors: I64 tensor ", t.name, " holds ", v));
            }
        }
        order.push_back(&t);
    }
    std::sort(order.begin(), order.end(), [](const NamedTensor* a, const NamedTensor* b) {
        if (a->dtype != b->dtype) {
            return elementSize(a->dtype) > elementSize(b->dtype);
        }
        return a->name < b->name;
    });
    return order;
}

// The header exactly as serde_json writes the reference's Metadata: compact, "__metadata__"
// first, then the tensors in data order with the fields dtype, shape, data_offsets.
std::string buildHeader(const SafetensorsFile& file, const std::vector<const NamedTensor*>& order) {
    std::string h = "{";
    if (!file.metadata.empty()) {
        h += "\"__metadata__\":{";
        bool first = true;
        for (const auto& [key, value] : file.metadata) {
            h += (first ? "" : ",") + jsonString(key, "a metadata key") + ":" +
                 jsonString(value, concat("metadata '", key, "'"));
            first = false;
        }
        h += "}";
    }
    std::uint64_t offset = 0;
    for (const NamedTensor* t : order) {
        const std::uint64_t bytes = t->values.size() * elementSize(t->dtype);
        h += (h.size() == 1 ? "" : ",") + jsonString(t->name, "a tensor name") + R"(:{"dtype":")" +
             std::string(dtypeName(t->dtype)) + R"(","shape":[)";
        for (std::size_t i = 0; i < t->shape.size(); ++i) {
            h += (i == 0 ? "" : ",") + std::to_string(t->shape[i]);
        }
        h += concat(R"(],"data_offsets":[)", offset, ",", offset + bytes, "]}");
        offset += bytes;
    }
    h += "}";
    // Padding with spaces (valid JSON whitespace) aligns the data section to 8 bytes.
    h.append((8 - h.size() % 8) % 8, ' ');
    return h;
}

// Streams the whole file through sink(std::string_view) in bounded chunks, so that writing a
// checkpoint does not hold a second copy of the model in memory.
template <typename Sink>
void emitFile(const SafetensorsFile& file, Sink&& sink) {
    const std::vector<const NamedTensor*> order = writeOrder(file);
    const std::string header = buildHeader(file, order);
    std::array<char, 8> length{};
    const std::uint64_t n = header.size();
    std::memcpy(length.data(), &n, sizeof n);
    sink(std::string_view(length.data(), length.size()));
    sink(header);

    constexpr std::size_t kChunk = 8192;  // elements per write
    std::vector<char> buffer(kChunk * 8);
    for (const NamedTensor* t : order) {
        for (std::size_t begin = 0; begin < t->values.size(); begin += kChunk) {
            const std::size_t count = std::min(kChunk, t->values.size() - begin);
            if (t->dtype == DType::F32) {
                std::memcpy(buffer.data(), t->values.data() + begin, count * sizeof(float));
            } else {
                for (std::size_t i = 0; i < count; ++i) {
                    const auto v = static_cast<std::int64_t>(t->values[begin + i]);
                    std::memcpy(buffer.data() + i * 8, &v, 8);
                }
            }
            sink(std::string_view(buffer.data(), count * elementSize(t->dtype)));
        }
    }
}

// ---- reading ----

enum class Decode { Unsupported, F32, I64, F64, F16, BF16 };

struct StoredType {
    std::string_view name;
    std::uint64_t size;
    Decode decode;
};

// Every dtype of the reference implementation, so that a valid file with an unsupported type gets
// "not supported" rather than "unknown".
constexpr std::array<StoredType, 15> kStoredTypes{{
    {"BOOL", 1, Decode::Unsupported},
    {"U8", 1, Decode::Unsupported},
    {"I8", 1, Decode::Unsupported},
    {"F8_E5M2", 1, Decode::Unsupported},
    {"F8_E4M3", 1, Decode::Unsupported},
    {"I16", 2, Decode::Unsupported},
    {"U16", 2, Decode::Unsupported},
    {"F16", 2, Decode::F16},
    {"BF16", 2, Decode::BF16},
    {"I32", 4, Decode::Unsupported},
    {"U32", 4, Decode::Unsupported},
    {"F32", 4, Decode::F32},
    {"F64", 8, Decode::F64},
    {"I64", 8, Decode::I64},
    {"U64", 8, Decode::Unsupported},
}};

constexpr std::string_view kSupported = "supported: F32, I64; F64, F16 and BF16 convert to F32";

struct HeaderEntry {
    std::string name;
    const StoredType* type = nullptr;
    std::vector<std::int64_t> shape;
    std::uint64_t count = 0;  // elements
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

[[noreturn]] void bad(std::string_view source, const std::string& what) {
    throw InputError(concat("safetensors file '", source, "': ", what));
}

// A header value for a message: numbers, booleans, short strings and short flat arrays as
// written, anything else by its type and size. Never dump() a nested value: it recurses once per
// level, and a 100 MB header nests deep enough to overflow the stack (issue 12, found by
// fuzzing); a long string would make the message as long.
std::string jsonText(const nlohmann::json& v) {
    constexpr std::size_t kMaxItems = 16;
    constexpr std::size_t kMaxChars = 64;
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        return s.size() <= kMaxChars ? v.dump() : concat("a string of ", s.size(), " bytes");
    }
    if (v.is_array() && v.size() <= kMaxItems &&
        std::none_of(v.begin(), v.end(), [](const nlohmann::json& item) {
            return item.is_structured() || item.is_string();
        })) {
        return v.dump();
    }
    if (v.is_structured()) {
        return concat(
            "an ", v.type_name(), " of ", v.size(), v.size() == 1 ? " entry" : " entries");
    }
    return v.dump();
}

std::uint64_t readU64(std::string_view source, const std::string& where, const nlohmann::json& v) {
    if (!v.is_number_unsigned()) {
        bad(source, concat(where, " must be a non-negative integer, got ", jsonText(v)));
    }
    return v.get<std::uint64_t>();
}

// Parses one header entry; checks types, the dtype, shape·size against the offsets and that the
// offsets lie inside the data section of dataSize bytes.
HeaderEntry parseEntry(std::string_view source,
                       const std::string& name,
                       const nlohmann::json& j,
                       std::uint64_t dataSize) {
    const std::string where = concat("tensor '", name, "'");
    if (!j.is_object()) {
        bad(source,
            concat(
                where, ": expected an object {dtype, shape, data_offsets}, got ", j.type_name()));
    }
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
        if (!j.contains(key)) {
            bad(source, concat(where, ": missing \"", key, "\""));
        }
    }
    HeaderEntry e;
    e.name = name;
    const nlohmann::json& dtype = j.at("dtype");
    if (!dtype.is_string()) {
        bad(source, concat(where, ": dtype must be a string, got ", jsonText(dtype)));
    }
    const auto& dtypeText = dtype.get_ref<const std::string&>();
    const auto* const type = std::find_if(kStoredTypes.begin(),
                                          kStoredTypes.end(),
                                          [&](const StoredType& t) { return t.name == dtypeText; });
    if (type == kStoredTypes.end()) {
        bad(source, concat(where, ": unknown dtype ", jsonText(dtype), " (", kSupported, ")"));
    }
    if (type->decode == Decode::Unsupported) {
        bad(source, concat(where, ": dtype ", type->name, " is not supported (", kSupported, ")"));
    }
    e.type = &*type;

    const nlohmann::json& shape = j.at("shape");
    if (!shape.is_array()) {
        bad(source, concat(where, ": shape must be an array, got ", jsonText(shape)));
    }
    // Keep count * 8 within 64 bits, so the byte count below cannot overflow either.
    constexpr std::uint64_t kMaxCount = std::numeric_limits<std::uint64_t>::max() / 8;
    e.count = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const std::uint64_t d = readU64(source, concat(where, ": shape[", i, "]"), shape[i]);
        if (d > kMaxCount || (d != 0 && e.count > kMaxCount / d)) {
            bad(source, concat(where, ": shape ", jsonText(shape), " has too many elements"));
        }
        e.count *= d;
        e.shape.push_back(static_cast<std::int64_t>(d));
    }

    const nlohmann::json& offsets = j.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2) {
        bad(source, concat(where, ": data_offsets must be [begin, end], got ", jsonText(offsets)));
    }
    e.begin = readU64(source, where + ": data_offsets[0]", offsets[0]);
    e.end = readU64(source, where + ": data_offsets[1]", offsets[1]);
    if (e.begin > e.end || e.end > dataSize) {
        bad(source,
            concat(where,
                   ": data_offsets [",
                   e.begin,
                   ", ",
                   e.end,
                   "] are outside the data section [0, ",
                   dataSize,
                   "]"));
    }
    const std::uint64_t bytes = e.count * type->size;
    if (e.end - e.begin != bytes) {
        bad(source,
            concat(where,
                   ": shape ",
                   shapeText(e.shape),
                   " of ",
                   type->name,
                   " needs ",
                   bytes,
                   " bytes, but data_offsets [",
                   e.begin,
                   ", ",
                   e.end,
                   "] hold ",
                   e.end - e.begin));
    }
    return e;
}

// IEEE 754 binary16 to binary32, exact (every half is a float).
float halfToFloat(std::uint16_t h) {
    const std::uint32_t bits = h;
    const std::uint32_t sign = (bits & 0x8000U) << 16U;
    const std::uint32_t exponent = (bits >> 10U) & 0x1FU;
    const std::uint32_t mantissa = bits & 0x3FFU;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
        const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign != 0 ? -magnitude : magnitude;
    }
    if (exponent == 31) {  // infinity or NaN (payload kept)
        return std::bit_cast<float>(sign | 0x7F800000U | (mantissa << 13U));
    }
    return std::bit_cast<float>(sign | ((exponent + 112U) << 23U) | (mantissa << 13U));
}

template <typename T>
T load(const char* p) {
    T v{};
    std::memcpy(&v, p, sizeof(T));
    return v;
}

std::vector<float> decodeValues(std::string_view source, const HeaderEntry& e, const char* data) {
    std::vector<float> out(e.count);
    const char* p = data + e.begin;
    if (e.type->decode == Decode::F32) {
        if (!out.empty()) {  // memcpy from or to a null pointer is undefined even for 0 bytes
            std::memcpy(out.data(), p, out.size() * sizeof(float));
        }
        return out;
    }
    const std::size_t size = e.type->size;
    for (std::size_t i = 0; i < out.size(); ++i, p += size) {
        switch (e.type->decode) {
            case Decode::F32:
                out[i] = load<float>(p);
                break;
            case Decode::I64: {
                // Values from 2^63 - 2^38 up round to 2^63, which no int64 holds: such a tensor
                // could not be written back (issue 12, found by fuzz_safetensors' round trip).
                const auto v = load<std::int64_t>(p);
                out[i] = static_cast<float>(v);
                if (out[i] >= kTwoPow63) {
                    bad(source,
                        concat("tensor '",
                               e.name,
                               "' element ",
                               i,
                               " is ",
                               v,
                               ", which rounds to 2^63 as a float; I64 values load as floats and "
                               "must be below 2^63 - 2^38 = 9223371761976868864"));
                }
                break;
            }
            case Decode::F64:
                out[i] = static_cast<float>(load<double>(p));
                break;
            case Decode::F16:
                out[i] = halfToFloat(load<std::uint16_t>(p));
                break;
            case Decode::BF16:
                out[i] = std::bit_cast<float>(std::uint32_t{load<std::uint16_t>(p)} << 16U);
                break;
            case Decode::Unsupported:
                break;  // rejected in parseEntry
        }
    }
    return out;
}

// The reference reader requires the tensors to tile the data section: sorted by offset, each
// starts where the previous ends and the last ends at the end of the file.
void checkTiling(std::string_view source,
                 std::vector<HeaderEntry>& entries,
                 std::uint64_t dataSize) {
    std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    std::uint64_t expected = 0;
    const HeaderEntry* previous = nullptr;
    for (const HeaderEntry& e : entries) {
        if (e.begin < expected) {
            bad(source,
                concat("tensor '",
                       e.name,
                       "' data_offsets [",
                       e.begin,
                       ", ",
                       e.end,
                       "] overlap tensor '",
                       previous->name,
                       "' [",
                       previous->begin,
                       ", ",
                       previous->end,
                       "]"));
        }
        if (e.begin > expected) {
            bad(source,
                concat("tensor '",
                       e.name,
                       "' data_offsets start at ",
                       e.begin,
                       ", expected ",
                       expected,
                       " (",
                       e.begin - expected,
                       " unused bytes before it)"));
        }
        expected = e.end;
        previous = &e;
    }
    if (expected != dataSize) {
        bad(source,
            concat("the tensors cover ",
                   expected,
                   " bytes of the ",
                   dataSize,
                   "-byte data section (trailing bytes after the last tensor)"));
    }
}

}  // namespace

std::string_view dtypeName(DType dtype) {
    return dtype == DType::I64 ? "I64" : "F32";
}

const NamedTensor* SafetensorsFile::find(std::string_view name) const {
    const auto it = std::find_if(
        tensors.begin(), tensors.end(), [name](const NamedTensor& t) { return t.name == name; });
    return it == tensors.end() ? nullptr : &*it;
}

std::string serializeSafetensors(const SafetensorsFile& file) {
    std::string out;
    emitFile(file, [&out](std::string_view bytes) { out.append(bytes); });
    return out;
}

void writeSafetensors(const std::filesystem::path& path, const SafetensorsFile& file) {
    // Check the contract before a temporary file exists.
    static_cast<void>(writeOrder(file));
    AtomicFileWriter writer(path);
    emitFile(file, [&writer](std::string_view bytes) { writer.write(bytes); });
    writer.commit();
}

SafetensorsFile readSafetensors(const std::filesystem::path& path) {
    const std::string name = path.string();
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below); it has
    // no effect on reading a regular file.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        throw InputError(
            concat("cannot read '", name, "': ", std::system_category().message(errno)));
    }
    std::string bytes;

    struct stat st {};

    int err = 0;
    if (::fstat(fd, &st) != 0) {
        err = errno;
    } else if (S_ISDIR(st.st_mode)) {
        err = EISDIR;
    } else if (!S_ISREG(st.st_mode)) {
        static_cast<void>(::close(fd));
        throw InputError(concat("cannot read '",
                                name,
                                "': not a regular file (a FIFO, device or socket); give a "
                                ".safetensors file"));
    } else {
        bytes.resize(static_cast<std::size_t>(st.st_size));
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                err = n < 0 ? errno : 0;
                break;
            }
            done += static_cast<std::size_t>(n);
        }
        bytes.resize(done);  // a file that shrank while we read shows up as a short file
    }
    static_cast<void>(::close(fd));
    if (err != 0) {
        throw InputError(concat("cannot read '", name, "': ", std::system_category().message(err)));
    }
    return parseSafetensors(bytes, name);
}

SafetensorsFile parseSafetensors(std::string_view bytes, std::string_view source) {
    if (bytes.size() < 8) {
        bad(source,
            concat("file is ", bytes.size(), " bytes, expected at least 8 (the header length)"));
    }
    const auto headerSize = load<std::uint64_t>(bytes.data());
    const std::uint64_t available = bytes.size() - 8;
    if (headerSize > available || headerSize > kMaxHeaderBytes) {
        bad(source,
            concat("header length ",
                   headerSize,
                   " exceeds the ",
                   available,
                   " bytes after the 8-byte length field",
                   headerSize > kMaxHeaderBytes ? " (or the 100 MB limit)" : ""));
    }
    const std::string_view headerText = bytes.substr(8, headerSize);
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(headerText);
    } catch (const nlohmann::json::parse_error& e) {
        // what() starts with "[json.exception.parse_error.101] "; the rest is the useful part.
        const std::string what = e.what();
        bad(source, concat("header is not valid JSON: ", what.substr(what.find("] ") + 2)));
    } catch (const nlohmann::json::out_of_range& e) {
        // A number beyond double's range (1e400) is out_of_range.406, not a parse_error.
        const std::string what = e.what();
        bad(source,
            concat("header is not valid JSON: ",
                   what.substr(what.find("] ") + 2),
                   " (numbers must be within double's range; shapes and offsets are integers "
                   "below 2^64)"));
    }
    if (!header.is_object()) {
        bad(source, concat("header must be a JSON object, got ", header.type_name()));
    }
    const std::uint64_t dataSize = available - headerSize;
    SafetensorsFile file;
    std::vector<HeaderEntry> entries;
    for (const auto& [key, value] : header.items()) {
        if (key != kMetadataKey) {
            entries.push_back(parseEntry(source, key, value, dataSize));
            continue;
        }
        if (!value.is_object()) {
            bad(source, concat("__metadata__ must be an object, got ", value.type_name()));
        }
        for (const auto& [mkey, mvalue] : value.items()) {
            if (!mvalue.is_string()) {
                bad(source,
                    concat("__metadata__ entry '",
                           mkey,
                           "' must be a string, got ",
                           mvalue.type_name()));
            }
            file.metadata.emplace(mkey, mvalue.get<std::string>());
        }
    }
    checkTiling(source, entries, dataSize);
    const char* data = bytes.data() + 8 + headerSize;
    for (const HeaderEntry& e : entries) {
        file.tensors.push_back(NamedTensor{
            .name = e.name,
            .shape = e.shape,
            .dtype = e.type->decode == Decode::I64 ? DType::I64 : DType::F32,
            .values = decodeValues(source, e, data),
        });
    }
    return file;
}

}  // namespace lp::core::io
