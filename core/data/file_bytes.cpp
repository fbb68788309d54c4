// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/file_bytes.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <system_error>

// Makes z_stream::next_in a pointer to const, so no const_cast is needed on the input span.
#define ZLIB_CONST
#include <zlib.h>

namespace lp::core::data {

namespace {

// zlib counts in 32-bit uInt; feed and drain at most this many bytes per call.
constexpr std::size_t kMaxChunk = std::size_t{1} << 30U;

// Ends the inflate/deflate stream (End = inflateEnd or deflateEnd) however the function is left.
template <int (*End)(z_stream*)>
struct ZStreamGuard {
    explicit ZStreamGuard(z_stream* z) : zs(z) {}

    z_stream* zs;
    ZStreamGuard(const ZStreamGuard&) = delete;
    ZStreamGuard& operator=(const ZStreamGuard&) = delete;
    ZStreamGuard(ZStreamGuard&&) = delete;
    ZStreamGuard& operator=(ZStreamGuard&&) = delete;

    ~ZStreamGuard() { End(zs); }
};

using InflateGuard = ZStreamGuard<inflateEnd>;
using DeflateGuard = ZStreamGuard<deflateEnd>;

// The gzip trailer's ISIZE (uncompressed size mod 2^32) of the last member; only a capacity hint.
std::size_t sizeHint(std::span<const std::uint8_t> c) {
    if (c.size() < 18) {
        return 0;
    }
    const std::size_t n = c.size();
    const std::size_t isize = std::size_t{c[n - 4]} | (std::size_t{c[n - 3]} << 8U) |
                              (std::size_t{c[n - 2]} << 16U) | (std::size_t{c[n - 1]} << 24U);
    // A corrupt trailer must not make us allocate gigabytes up front.
    return std::min(isize, c.size() * 1100);
}

}  // namespace

std::vector<std::uint8_t> readFileBytes(const std::filesystem::path& file) {
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
        // A symlink loop, a path through a file, no permission: the OS's own reason.
        throw InputError(concat(file.string(), ": ", ec.message()));
    }
    if (!std::filesystem::exists(status)) {
        throw InputError(concat(file.string(), ": file not found"));
    }
    if (!std::filesystem::is_regular_file(status)) {
        throw InputError(concat(file.string(), ": not a regular file"));
    }
    const std::uintmax_t size = std::filesystem::file_size(file, ec);
    std::ifstream in(file, std::ios::binary);
    if (ec || !in) {
        throw InputError(concat(file.string(),
                                ": cannot open for reading: ",
                                ec ? ec.message() : std::system_category().message(errno)));
    }
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    // char and uint8_t may alias; istream::read takes char*.
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (static_cast<std::uintmax_t>(in.gcount()) != size) {
        throw InputError(concat(file.string(), ": read ", in.gcount(), " of ", size, " bytes"));
    }
    return bytes;
}

void writeFileBytes(const std::filesystem::path& file, std::span<const std::uint8_t> bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
        throw InputError(concat(file.string(), ": cannot write ", bytes.size(), " bytes"));
    }
}

std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> compressed,
                                 const std::filesystem::path& file,
                                 std::size_t maxBytes) {
    if (compressed.empty()) {
        throw InputError(concat(file.string(), ": empty file, expected gzip data"));
    }
    z_stream zs{};
    // 16 + MAX_WBITS: expect a gzip header and trailer (zlib manual, inflateInit2).
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        throw InputError(concat(file.string(), ": zlib could not start decompression"));
    }
    const InflateGuard guard(&zs);
    std::vector<std::uint8_t> out(
        std::min(std::max<std::size_t>(sizeHint(compressed), 1U << 16U), maxBytes + 1));
    std::size_t inPos = 0;
    std::size_t produced = 0;
    for (;;) {
        if (zs.avail_in == 0 && inPos < compressed.size()) {
            const std::size_t n = std::min(kMaxChunk, compressed.size() - inPos);
            zs.next_in = compressed.data() + inPos;
            zs.avail_in = static_cast<uInt>(n);
            inPos += n;
        }
        if (produced > maxBytes) {
            throw InputError(concat(file.string(),
                                    ": decompresses to more than ",
                                    maxBytes,
                                    " bytes, the most a data file may hold (a damaged file, or "
                                    "not a data set?)"));
        }
        if (produced == out.size()) {
            // One byte beyond the cap is enough to know it is exceeded.
            out.resize(std::min(out.size() * 2, maxBytes + 1));
        }
        const std::size_t room = std::min(kMaxChunk, out.size() - produced);
        zs.next_out = out.data() + produced;
        zs.avail_out = static_cast<uInt>(room);
        const int rc = inflate(&zs, Z_NO_FLUSH);
        produced += room - zs.avail_out;
        const bool inputDone = zs.avail_in == 0 && inPos == compressed.size();
        if (rc == Z_STREAM_END) {
            if (inputDone) {
                break;
            }
            // Another gzip member follows (what `cat a.gz b.gz` makes); gzip reads them all.
            inflateReset(&zs);
        } else if (rc == Z_BUF_ERROR && inputDone) {
            throw InputError(concat(file.string(),
                                    ": truncated gzip data (stream ends after ",
                                    compressed.size(),
                                    " compressed bytes)"));
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            throw InputError(concat(file.string(),
                                    ": corrupt gzip data (zlib: ",
                                    zs.msg != nullptr ? zs.msg : "error",
                                    ")"));
        }
    }
    out.resize(produced);
    return out;
}

std::vector<std::uint8_t> gzip(std::span<const std::uint8_t> bytes, int level) {
    LP_EXPECTS(level >= 0 && level <= 9, "gzip level must be in 0..9");
    LP_EXPECTS(bytes.size() <= kMaxChunk, "gzip: at most 1 GiB in one call");
    z_stream zs{};
    LP_EXPECTS(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
               "zlib deflateInit2 failed");
    const DeflateGuard guard(&zs);
    // deflateBound is for the zlib wrapper; the gzip header and trailer add at most 18 bytes more.
    std::vector<std::uint8_t> out(deflateBound(&zs, bytes.size()) + 32);
    zs.next_in = bytes.data();
    zs.avail_in = static_cast<uInt>(bytes.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    LP_EXPECTS(deflate(&zs, Z_FINISH) == Z_STREAM_END, "zlib deflate did not finish");
    out.resize(out.size() - zs.avail_out);
    return out;
}

std::vector<std::uint8_t> readMaybeGzipped(const std::filesystem::path& file) {
    std::vector<std::uint8_t> bytes = readFileBytes(file);
    if (file.extension() == ".gz") {
        return gunzip(bytes, file);
    }
    return bytes;
}

}  // namespace lp::core::data
