// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/tensor.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <sstream>
#include <vector>

namespace lp::core {

namespace {

constexpr std::size_t kAlignment = 64;

// Large blocks are recycled instead of going back to malloc: a training step allocates and frees
// the same activation sizes every time, and glibc returns big freed blocks to the kernel (mmap
// above its threshold, heap trimming below), so every step paid its page faults and the kernel's
// page zeroing again (perf: ~8% of a width-16 step). Blocks are reused only at their exact size;
// at most kCacheCapBytes wait in the cache, so the resident memory stays close to the live set.
constexpr std::size_t kCacheMinBytes = std::size_t{256} << 10;
constexpr std::size_t kCacheCapBytes = std::size_t{256} << 20;

class BlockCache {
public:
    // A cached block of exactly `bytes`, or nullptr.
    void* take(std::size_t bytes) {
        if (bytes < kCacheMinBytes) {
            return nullptr;
        }
        const std::lock_guard<std::mutex> lock(mutex_);
        auto it = free_.find(bytes);
        if (it == free_.end() || it->second.empty()) {
            return nullptr;
        }
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= bytes;
        return p;
    }

    // Keeps the block if it is large and the cache has room; false: the caller frees it.
    bool give(void* p, std::size_t bytes) {
        if (bytes < kCacheMinBytes) {
            return false;
        }
        const std::lock_guard<std::mutex> lock(mutex_);
        if (cached_ + bytes > kCacheCapBytes) {
            return false;
        }
        free_[bytes].push_back(p);
        cached_ += bytes;
        return true;
    }

private:
    std::mutex mutex_;
    std::map<std::size_t, std::vector<void*>> free_;
    std::size_t cached_ = 0;
};

// Never destroyed: tensors with static storage may be freed after the cache would have been.
BlockCache& blockCache() {
    static auto* cache = new BlockCache();
    return *cache;
}

// The block's byte count sits in the kAlignment bytes before the floats.
constexpr std::size_t kHeader = kAlignment;

// 64-byte aligned storage for `count` floats (count may be 0), zeroed unless zero = false.
float* allocateFloats(std::size_t count, bool zero = true) {
    if (count == 0) {
        return nullptr;
    }
    const std::size_t bytes = (count * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
    void* base = blockCache().take(bytes);
    if (base == nullptr) {
        base = std::aligned_alloc(kAlignment, bytes + kHeader);
        if (base == nullptr) {
            throw std::bad_alloc();
        }
        std::memcpy(base, &bytes, sizeof bytes);
    }
    auto* p = static_cast<unsigned char*>(base) + kHeader;
    if (zero) {
        std::memset(p, 0, bytes);
    }
    return reinterpret_cast<float*>(p);
}

void freeFloats(float* p) noexcept {
    if (p == nullptr) {
        return;
    }
    void* base = reinterpret_cast<unsigned char*>(p) - kHeader;
    std::size_t bytes = 0;
    std::memcpy(&bytes, base, sizeof bytes);
    try {
        if (blockCache().give(base, bytes)) {
            return;
        }
    } catch (...) {  // the cache's vector could not grow: free the block instead
    }
    std::free(base);
}

}  // namespace

std::string TensorShape::str() const {
    std::ostringstream os;
    os << '[';
    for (int i = 0; i < rank_; ++i) {
        os << (i ? ", " : "") << dims_[static_cast<std::size_t>(i)];
    }
    os << ']';
    return os.str();
}

void Tensor::AlignedFree::operator()(float* p) const noexcept {
    freeFloats(p);
}

Tensor::Tensor(const TensorShape& shape) : shape_(shape) {
    for (int i = 0; i < shape.rank(); ++i) {
        LP_EXPECTS(shape[i] >= 0, "tensor dimensions must be non-negative, got " + shape.str());
    }
    data_.reset(allocateFloats(size()));
}

Tensor Tensor::uninitialized(const TensorShape& shape) {
    for (int i = 0; i < shape.rank(); ++i) {
        LP_EXPECTS(shape[i] >= 0, "tensor dimensions must be non-negative, got " + shape.str());
    }
    Tensor t;
    t.shape_ = shape;
    t.data_.reset(allocateFloats(t.size(), false));
    return t;
}

Tensor::Tensor(const TensorShape& shape, float value) : Tensor(shape) {
    fill(value);
}

// The copy is written whole, so its storage is not zeroed first.
Tensor::Tensor(const Tensor& other) : shape_(other.shape_) {
    data_.reset(allocateFloats(size(), false));
    if (!other.empty()) {
        std::memcpy(data(), other.data(), bytes());
    }
}

Tensor& Tensor::operator=(const Tensor& other) {
    if (this != &other) {
        if (size() != other.size()) {
            data_.reset(allocateFloats(other.size(), false));
        }
        shape_ = other.shape_;
        if (!other.empty()) {
            std::memcpy(data(), other.data(), bytes());
        }
    }
    return *this;
}

void Tensor::fill(float value) {
    std::fill_n(data(), size(), value);
}

void Tensor::reshape(const TensorShape& shape) {
    LP_EXPECTS(shape.numel() == numel(),
               "reshape must keep the element count: " + shape_.str() + " -> " + shape.str());
    shape_ = shape;
}

Tensor Tensor::reshaped(const TensorShape& shape) const& {
    Tensor t(*this);
    t.reshape(shape);
    return t;
}

Tensor Tensor::reshaped(const TensorShape& shape) && {
    reshape(shape);
    return std::move(*this);
}

MatMap Tensor::matrix(std::int64_t rows, std::int64_t cols) {
    LP_EXPECTS(rows * cols == numel(), "matrix view must cover the tensor " + shape_.str());
    return {data(), rows, cols};
}

ConstMatMap Tensor::matrix(std::int64_t rows, std::int64_t cols) const {
    LP_EXPECTS(rows * cols == numel(), "matrix view must cover the tensor " + shape_.str());
    return {data(), rows, cols};
}

void AlignedBuffer::AlignedFree::operator()(float* p) const noexcept {
    freeFloats(p);
}

AlignedBuffer::AlignedBuffer(std::size_t count) : size_(count), data_(allocateFloats(count)) {}

AlignedBuffer::AlignedBuffer(const AlignedBuffer& other) : AlignedBuffer(other.size_) {
    if (size_ != 0) {
        std::memcpy(data(), other.data(), bytes());
    }
}

AlignedBuffer& AlignedBuffer::operator=(const AlignedBuffer& other) {
    if (this != &other) {
        if (size_ != other.size_) {
            data_.reset(allocateFloats(other.size_));
            size_ = other.size_;
        }
        if (size_ != 0) {
            std::memcpy(data(), other.data(), bytes());
        }
    }
    return *this;
}

void AlignedBuffer::fill(float value) {
    std::fill_n(data(), size_, value);
}

void expectSameShape(const TensorShape& a, const TensorShape& b, const char* what) {
    if (!(a == b)) {
        throwContractError("a == b",
                           concat(what, ": shape ", a.str(), " does not match ", b.str()),
                           __FILE__,
                           __LINE__);
    }
}

}  // namespace lp::core
