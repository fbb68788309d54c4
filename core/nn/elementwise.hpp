// Elementwise tensor ops of the network graph (the residual add); pure functions, thread-safe.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/tensor/tensor.hpp"

namespace lp::core::nn {

// Residual add: returns a + b; a and b must have equal shapes (ContractError otherwise).
// Backward is the identity for both inputs: dL/da = dL/db = dL/d(a + b), so the caller hands the
// same gradient to the main path and to the shortcut; there is nothing to save.
Tensor add(const Tensor& a, const Tensor& b);

// a += b in place; shapes must be equal. Same gradient rule as add.
void addInPlace(Tensor& a, const Tensor& b);

}  // namespace lp::core::nn
