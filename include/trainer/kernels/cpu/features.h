// What this CPU offers the CPU backend, detected at run time: the instruction set oneDNN
// dispatches to (CPUs differ from machine to machine; nothing is assumed at build time).
#pragma once

#include <string>

namespace trainer::cpu {

// oneDNN's instruction set and version, e.g. "avx512_core_amx (oneDNN 2.6.3)".
std::string instruction_set();
// "2.6.3": the oneDNN this process loaded.
std::string onednn_version();
// How bf16 convolutions and matmuls run on this CPU, e.g. "AMX-BF16 tiles (oneDNN's native bf16
// kernels)" or, without AVX-512, "widened to f32 (this CPU has no bf16 instructions)".
std::string bf16_path();

}  // namespace trainer::cpu
