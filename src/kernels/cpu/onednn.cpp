#include "onednn.h"

#include "trainer/kernels/cpu/features.h"

namespace trainer::cpu::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

bool native_bf16() {
  static const bool native = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core;
  return native;
}

}  // namespace trainer::cpu::onednn

namespace trainer::cpu {

std::string instruction_set() {
  using isa = dnnl::cpu_isa;
  std::string name;
  switch (dnnl::get_effective_cpu_isa()) {
    case isa::sse41: name = "sse41"; break;
    case isa::avx: name = "avx"; break;
    case isa::avx2: name = "avx2"; break;
    case isa::avx2_vnni: name = "avx2_vnni"; break;
    case isa::avx512_core: name = "avx512_core"; break;
    case isa::avx512_core_vnni: name = "avx512_core_vnni"; break;
    case isa::avx512_core_bf16: name = "avx512_core_bf16"; break;
    case isa::avx512_core_amx: name = "avx512_core_amx"; break;
    default: name = "other"; break;
  }
  return str(name, " (oneDNN ", onednn_version(), ")");
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return str(v->major, ".", v->minor, ".", v->patch);
}

std::string bf16_path() {
  using isa = dnnl::cpu_isa;
  const isa have = dnnl::get_effective_cpu_isa();
  if (have >= isa::avx512_core_amx) return "AMX-BF16 tiles (oneDNN's native bf16 kernels)";
  if (have >= isa::avx512_core_bf16) return "AVX512-BF16 dot products (oneDNN's native bf16 kernels)";
  if (have >= isa::avx512_core) return "AVX-512 with bf16 emulated by oneDNN (no AVX512-BF16 on this CPU)";
  return "widened to f32 around oneDNN's f32 kernels (this CPU has no AVX-512)";
}

}  // namespace trainer::cpu
