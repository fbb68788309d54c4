// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/isa.hpp"

#include "core/error.hpp"
#include "core/tensor/gemm.hpp"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LP_X86 1
#else
#define LP_X86 0
#endif

namespace lp::core {

namespace {

constexpr std::array<std::string_view, 3> kIsaNames{"baseline", "avx2", "avx512"};

// GCC's __builtin_cpu_supports reads CPUID once (libgcc) and, for AVX and AVX-512, also checks
// with XGETBV that the OS saves the ymm/zmm state, so a path it reports can really run.
bool cpuHas(Isa isa) {
#if LP_X86
    __builtin_cpu_init();
    switch (isa) {
        case Isa::Baseline:
            return true;
        case Isa::Avx2:
            return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
        case Isa::Avx512:
            return cpuHas(Isa::Avx2) && __builtin_cpu_supports("avx512f") != 0 &&
                   __builtin_cpu_supports("avx512bw") != 0 &&
                   __builtin_cpu_supports("avx512dq") != 0 &&
                   __builtin_cpu_supports("avx512vl") != 0;
    }
    return false;
#else
    return isa == Isa::Baseline;
#endif
}

Isa bestIsa() {
    Isa best = Isa::Baseline;
    for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
        if (cpuHas(isa)) {
            best = isa;
        }
    }
    return best;
}

std::string allowedIsas() {
    std::string s;
    for (Isa isa : supportedIsas()) {
        s += s.empty() ? "" : ", ";
        s += isaName(isa);
    }
    return s;
}

// -1 until the first activeIsa(); then the index of the active path.
std::atomic<int> active{-1};
std::atomic<bool> forced{false};
std::mutex initMutex;

}  // namespace

std::string_view isaName(Isa isa) {
    return kIsaNames.at(static_cast<std::size_t>(isa));
}

std::optional<Isa> parseIsa(std::string_view name) {
    for (std::size_t i = 0; i < kIsaNames.size(); ++i) {
        if (kIsaNames[i] == name) {
            return static_cast<Isa>(i);
        }
    }
    return std::nullopt;
}

bool isaSupported(Isa isa) {
    return cpuHas(isa);
}

std::vector<Isa> supportedIsas() {
    std::vector<Isa> out;
    for (Isa isa : {Isa::Baseline, Isa::Avx2, Isa::Avx512}) {
        if (cpuHas(isa)) {
            out.push_back(isa);
        }
    }
    return out;
}

Isa activeIsa() {
    const int now = active.load(std::memory_order_acquire);
    if (now >= 0) {
        return static_cast<Isa>(now);
    }
    const std::lock_guard<std::mutex> lock(initMutex);
    if (active.load(std::memory_order_relaxed) >= 0) {
        return static_cast<Isa>(active.load(std::memory_order_relaxed));
    }
    Isa isa = bestIsa();
    const char* env = std::getenv("LP_ISA");
    if (env != nullptr && *env != '\0') {
        const std::optional<Isa> wanted = parseIsa(env);
        if (!wanted) {
            throw InputError(concat("LP_ISA must be one of baseline, avx2, avx512, got \"",
                                    env,
                                    "\" (unset it to use the best path this CPU supports: ",
                                    isaName(bestIsa()),
                                    ")"));
        }
        if (!cpuHas(*wanted)) {
            throw InputError(concat("LP_ISA=",
                                    env,
                                    ": this CPU (",
                                    cpuName(),
                                    ") lacks the instructions of that path; allowed here: ",
                                    allowedIsas()));
        }
        isa = *wanted;
        forced.store(true);
    }
    selectGemmKernels(isa);
    active.store(static_cast<int>(isa), std::memory_order_release);
    return isa;
}

bool isaForced() {
    activeIsa();
    return forced.load();
}

void setActiveIsa(Isa isa) {
    LP_EXPECTS(cpuHas(isa),
               concat("setActiveIsa: this CPU cannot run the ",
                      isaName(isa),
                      " path; it supports ",
                      allowedIsas()));
    activeIsa();  // reads LP_ISA once, so that a later first call cannot override this choice
    const std::lock_guard<std::mutex> lock(initMutex);
    forced.store(isa != bestIsa());
    selectGemmKernels(isa);
    active.store(static_cast<int>(isa), std::memory_order_release);
}

std::string cpuName() {
#if LP_X86
    unsigned int maxExt = __get_cpuid_max(0x80000000U, nullptr);
    if (maxExt >= 0x80000004U) {
        std::array<unsigned int, 12> regs{};
        for (unsigned int i = 0; i < 3; ++i) {
            __get_cpuid(0x80000002U + i,
                        &regs[4 * i],
                        &regs[4 * i + 1],
                        &regs[4 * i + 2],
                        &regs[4 * i + 3]);
        }
        std::array<char, sizeof(regs) + 1> text{};
        std::memcpy(text.data(), regs.data(), sizeof(regs));
        std::string name(text.data());
        const auto first = name.find_first_not_of(' ');
        const auto last = name.find_last_not_of(' ');
        if (first != std::string::npos) {
            return name.substr(first, last - first + 1);
        }
    }
#endif
    return "unknown x86-64 CPU";
}

std::string cpuReport() {
    const Isa isa = activeIsa();
    return concat("CPU: ",
                  cpuName(),
                  "; kernels: ",
                  isaName(isa),
                  isaForced() ? " (forced" : " (best",
                  " of ",
                  allowedIsas(),
                  ")",
                  "; GEMM: ",
                  gemmKernelSet());
}

}  // namespace lp::core
