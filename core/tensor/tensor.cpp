// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#include "core/error.hpp"

namespace lp::core {

namespace {

constexpr std::size_t kAlignment = 64;

// Zeroed, 64-byte aligned storage for `count` floats (count may be 0).
float* allocateFloats(std::size_t count) {
    if (count == 0) {
        return nullptr;
    }
    const std::size_t bytes = (count * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, bytes);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    std::memset(p, 0, bytes);
    return static_cast<float*>(p);
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

void Tensor::AlignedFree::operator()(float* p) const noexcept { std::free(p); }

Tensor::Tensor(const TensorShape& shape) : shape_(shape) {
    for (int i = 0; i < shape.rank(); ++i) {
        LP_EXPECTS(shape[i] >= 0, "tensor dimensions must be non-negative, got " + shape.str());
    }
    data_.reset(allocateFloats(size()));
}

Tensor::Tensor(const TensorShape& shape, float value) : Tensor(shape) { fill(value); }

Tensor::Tensor(const Tensor& other) : Tensor(other.shape_) {
    if (!other.empty()) {
        std::memcpy(data(), other.data(), bytes());
    }
}

Tensor& Tensor::operator=(const Tensor& other) {
    if (this != &other) {
        if (size() != other.size()) {
            data_.reset(allocateFloats(other.size()));
        }
        shape_ = other.shape_;
        if (!other.empty()) {
            std::memcpy(data(), other.data(), bytes());
        }
    }
    return *this;
}

void Tensor::fill(float value) { std::fill_n(data(), size(), value); }

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

void AlignedBuffer::AlignedFree::operator()(float* p) const noexcept { std::free(p); }

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

void AlignedBuffer::fill(float value) { std::fill_n(data(), size_, value); }

void expectSameShape(const TensorShape& a, const TensorShape& b, const char* what) {
    if (!(a == b)) {
        throwContractError("a == b", concat(what, ": shape ", a.str(), " does not match ", b.str()),
                           __FILE__, __LINE__);
    }
}

}  // namespace lp::core
