// Tensor: float32, NCHW, 64-byte aligned, shape-checked; Eigen views over its storage.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <Eigen/Core>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>

namespace lp::core {

// Row-major float matrix and vector types used for every Eigen view in core.
using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatMap = Eigen::Map<MatrixRM, Eigen::Aligned64>;
using ConstMatMap = Eigen::Map<const MatrixRM, Eigen::Aligned64>;
using VecMap = Eigen::Map<Eigen::VectorXf>;
using ConstVecMap = Eigen::Map<const Eigen::VectorXf>;

// Up to 4 dimensions; for images the order is [N, C, H, W].
class TensorShape {
public:
    static constexpr int kMaxRank = 4;

    constexpr TensorShape() = default;

    constexpr TensorShape(std::initializer_list<std::int64_t> dims) {
        if (dims.size() > kMaxRank) {
            throw std::length_error("TensorShape: rank above 4");
        }
        for (std::int64_t d : dims) {
            dims_[static_cast<std::size_t>(rank_++)] = d;
        }
    }

    constexpr int rank() const { return rank_; }

    constexpr std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }

    constexpr std::int64_t numel() const {
        std::int64_t n = 1;
        for (int i = 0; i < rank_; ++i) {
            n *= dims_[static_cast<std::size_t>(i)];
        }
        return rank_ == 0 ? 0 : n;
    }

    // Elements per sample (all dimensions but the first).
    constexpr std::int64_t perSample() const { return rank_ == 0 ? 0 : numel() / dims_[0]; }

    constexpr bool operator==(const TensorShape& o) const {
        if (rank_ != o.rank_) {
            return false;
        }
        for (int i = 0; i < rank_; ++i) {
            if (dims_[static_cast<std::size_t>(i)] != o.dims_[static_cast<std::size_t>(i)]) {
                return false;
            }
        }
        return true;
    }

    std::string str() const;  // "[2, 3, 32, 32]"

private:
    std::array<std::int64_t, kMaxRank> dims_{};
    int rank_ = 0;
};

static_assert(TensorShape{2, 3, 4, 5}.numel() == 120);
static_assert(TensorShape{2, 3, 4, 5}.perSample() == 60);

// Owns its storage (64-byte aligned, zero-initialised). Copy is deep; move is cheap.
class Tensor {
public:
    Tensor() = default;
    explicit Tensor(const TensorShape& shape);  // zeros
    Tensor(const TensorShape& shape, float value);
    // Storage left unwritten (no zeroing pass): for outputs that the caller overwrites whole
    // before anything reads them.
    static Tensor uninitialized(const TensorShape& shape);
    Tensor(const Tensor& other);
    Tensor& operator=(const Tensor& other);
    Tensor(Tensor&&) noexcept = default;
    Tensor& operator=(Tensor&&) noexcept = default;
    ~Tensor() = default;

    const TensorShape& shape() const { return shape_; }

    std::int64_t numel() const { return shape_.numel(); }

    std::size_t size() const { return static_cast<std::size_t>(numel()); }

    std::size_t bytes() const { return size() * sizeof(float); }

    bool empty() const { return numel() == 0; }

    std::int64_t dim(int i) const { return shape_[i]; }

    float* data() { return data_.get(); }

    const float* data() const { return data_.get(); }

    std::span<float> span() { return {data_.get(), size()}; }

    std::span<const float> span() const { return {data_.get(), size()}; }

    float& operator[](std::int64_t i) { return data_[static_cast<std::size_t>(i)]; }

    float operator[](std::int64_t i) const { return data_[static_cast<std::size_t>(i)]; }

    // Element of a rank-4 tensor.
    float& at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
        return data_[static_cast<std::size_t>(((n * shape_[1] + c) * shape_[2] + h) * shape_[3] +
                                              w)];
    }

    float at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
        return data_[static_cast<std::size_t>(((n * shape_[1] + c) * shape_[2] + h) * shape_[3] +
                                              w)];
    }

    void fill(float value);
    // Same storage, new shape with the same element count.
    void reshape(const TensorShape& shape);
    Tensor reshaped(const TensorShape& shape) const&;
    Tensor reshaped(const TensorShape& shape) &&;

    // Row-major [rows, cols] view of the whole tensor; rows * cols must equal numel().
    MatMap matrix(std::int64_t rows, std::int64_t cols);
    ConstMatMap matrix(std::int64_t rows, std::int64_t cols) const;

    VecMap vec() { return {data(), numel()}; }

    ConstVecMap vec() const { return {data(), numel()}; }

private:
    struct AlignedFree {
        void operator()(float* p) const noexcept;
    };

    TensorShape shape_;
    std::unique_ptr<float[], AlignedFree> data_;
};

// 64-byte aligned float allocation, zero-initialised; for flat parameter buffers.
class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(std::size_t count);
    AlignedBuffer(const AlignedBuffer& other);
    AlignedBuffer& operator=(const AlignedBuffer& other);
    AlignedBuffer(AlignedBuffer&&) noexcept = default;
    AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;
    ~AlignedBuffer() = default;

    std::size_t size() const { return size_; }

    std::size_t bytes() const { return size_ * sizeof(float); }

    float* data() { return data_.get(); }

    const float* data() const { return data_.get(); }

    std::span<float> span() { return {data_.get(), size_}; }

    std::span<const float> span() const { return {data_.get(), size_}; }

    float& operator[](std::size_t i) { return data_[i]; }

    float operator[](std::size_t i) const { return data_[i]; }

    void fill(float value);

    // Scratch that is reused across calls: grows to at least `count` floats (the contents are
    // lost when it grows, zeroed as new storage) and returns data().
    float* growTo(std::int64_t count) {
        if (size_ < static_cast<std::size_t>(count)) {
            *this = AlignedBuffer(static_cast<std::size_t>(count));
        }
        return data();
    }

private:
    struct AlignedFree {
        void operator()(float* p) const noexcept;
    };

    std::size_t size_ = 0;
    std::unique_ptr<float[], AlignedFree> data_;
};

// Throws ContractError unless a and b have equal shapes; `what` names the call site.
void expectSameShape(const TensorShape& a, const TensorShape& b, const char* what);

}  // namespace lp::core
