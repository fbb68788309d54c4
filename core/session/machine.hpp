// The machine the kernels run on, in words, for the studio's About box and `layerpipe --version`
// (ui/ may not include core/tensor). Reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>

namespace lp::core::session {

// One line naming the CPU, the kernel path in use and how it was chosen, and the GEMM backend
// (core::cpuReport), e.g. "CPU: AMD EPYC ...; kernels: avx512 (best of baseline, avx2, avx512);
// GEMM: BLIS 0.9.0, sub-configuration skx". Chooses the kernel path on first use (InputError for
// a bad LP_ISA).
std::string machineReport();

// This machine's host name (gethostname), as the run folder records where ops ran; "unknown"
// when the system gives none.
std::string hostName();

}  // namespace lp::core::session
