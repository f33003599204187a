// What this CPU offers the CPU backend, detected at run time: the instruction set oneDNN
// dispatches to (CPUs differ from machine to machine; nothing is assumed at build time).
#pragma once

#include <string>

namespace trainer::cpu {

// oneDNN's instruction set and version, e.g. "avx512_core_amx (oneDNN 2.6.3)".
std::string instruction_set();

}  // namespace trainer::cpu
