// Per-instruction-set copies of the hot kernels (DESIGN.md section 9, docs/cpu-paths.md): which
// copies this build compiles, and the path a kernel call takes. Include only from core .cpp
// files. Thread-safe (reads the dispatcher's choice).
//
// How a kernel is compiled per path: every SIMD copy lives between `#pragma GCC push_options` /
// `#pragma GCC target("avx2,fma")` (or the AVX-512 list below) and `#pragma GCC pop_options`,
// in a namespace of its own, after every #include. So only our kernel functions get AVX2 or
// AVX-512 code; the library and header code they call (std::, oneTBB, our own inline
// functions) stays baseline in every object file, and the linker can never pick an AVX-512 copy
// of an inline function for code that runs on an older CPU. No translation unit is compiled
// with -march=native or -mavx512f. GCC 12.2 with AVX-512 enabled stores some 32- and 64-byte
// constants wrongly (docs/gcc12-avx512-miscompile.md), also inside AVX-512 target regions: there,
// write vectors with storeu or masked stores, never memcpy a __m256i/__m512i or a 32/64-byte
// block that may be a compile-time constant; every AVX-512 kernel is tested on its path. clang
// (the LP_FUZZ build) ignores GCC's target pragmas; there `#pragma clang attribute push(
// __attribute__((target(...))), apply_to = function)` stands in for them. Both are written once:
// a kernel file opens a region with core/tensor/simd_avx2_begin.inc or simd_avx512_begin.inc and
// closes it with simd_end.inc.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/tensor/isa.hpp"

// The SIMD copies need x86-64 only: they are built in every configuration, Debug and the
// sanitizer builds included, so that the sanitizers and the per-path tests see them (GCC reports
// no warning from its intrinsics' macros at -O0: they come from a system header).
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LP_SIMD_X86 1
#else
#define LP_SIMD_X86 0
#endif

namespace lp::core {

// The path a kernel call takes: the dispatcher's (activeIsa), or baseline on a CPU family without
// the SIMD copies.
inline Isa kernelIsa() {
    return LP_SIMD_X86 ? activeIsa() : Isa::Baseline;
}

// True where the path has AVX2 + FMA (the AVX2 and AVX-512 paths): the AVX2 helpers may run.
inline bool kernelsHaveAvx2() {
    return kernelIsa() != Isa::Baseline;
}

}  // namespace lp::core
