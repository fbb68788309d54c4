// The machine's measured FP32 multiply-add peak per kernel path: a register-loop probe, so that
// `layerpipe bench` can print how close each layer runs to the limit. Thread-safe (runs its own
// parallel loop over oneTBB in the calling arena).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/tensor/isa.hpp"

namespace lp::core {

// GFLOP/s (2 FLOPs per multiply-add) of `threads` concurrent loops that keep 12 vector
// accumulators in registers and update each with one FMA per iteration (the baseline path, SSE2
// without FMA, with a multiply and an add on 4 lanes), over about `seconds` of wall time: the best
// round's rate. Twelve independent
// chains cover the FMA latency times the FMA units of current x86 cores (4 cycles x 2 units on
// Zen 3-5 and Skylake-SP), so the loop measures the FMA units, not memory. LP_EXPECTS the path
// supported and threads >= 1.
double measureFmaPeakGflops(Isa isa, int threads, double seconds = 0.2);

}  // namespace lp::core
