// Instruction-set paths of the hot kernels and the one dispatcher that picks among them
// (DESIGN.md section 9; docs/cpu-paths.md). The path is chosen once, at first use, from CPUID or
// LP_ISA; setActiveIsa (tests, comparisons) may switch it only while no kernel runs.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core {

// Each kernel exists once per path; a path runs only on a CPU (and OS) that has all of its
// instructions. Ordered from the least to the most capable.
enum class Isa : std::uint8_t {
    Baseline,  // x86-64 (SSE2): plain C++ loops, any 64-bit x86 CPU
    Avx2,      // AVX2 + FMA (x86-64-v3: Haswell, Zen 1 and later)
    Avx512,    // AVX-512 F/BW/DQ/VL (Skylake-SP, Ice Lake, Zen 4, Zen 5 and later)
};

// "baseline", "avx2", "avx512": the names LP_ISA, --version and the tests use.
std::string_view isaName(Isa isa);

// The path named by `name`, or nullopt for an unknown name.
std::optional<Isa> parseIsa(std::string_view name);

// True where this CPU and OS can run the path (CPUID, and XGETBV for the register state).
bool isaSupported(Isa isa);

// Every path this machine can run, baseline first; the last is the best.
std::vector<Isa> supportedIsas();

// The path the kernels use. On first call: LP_ISA from the environment if set (InputError for an
// unknown name or a path this CPU lacks, naming what is allowed), else the best supported path.
// Call it once at start-up (the CLI and the studio do) so that a bad LP_ISA is reported there.
Isa activeIsa();

// True when the active path was forced by LP_ISA or setActiveIsa rather than picked from CPUID.
bool isaForced();

// Switches every kernel (and the GEMM library's kernel set) to `isa`; LP_EXPECTS it supported.
// Not while kernels run: tests and benchmarks call it between steps.
void setActiveIsa(Isa isa);

// The CPU's brand string from CPUID (e.g. "AMD EPYC 9B45 ..."), or "unknown x86-64 CPU".
std::string cpuName();

// One line naming the CPU, the active path and how it was chosen, and the GEMM backend with its
// kernel set, e.g. "CPU: AMD EPYC ...; kernels: avx512 (best of baseline, avx2, avx512);
// GEMM: BLIS 0.9.0, sub-configuration skx".
std::string cpuReport();

}  // namespace lp::core
