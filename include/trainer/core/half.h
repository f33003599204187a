// 16-bit floats on the CPU: storage types with round-to-nearest-even conversions. They are
// bit-compatible with CUDA's __half / __nv_bfloat16, so one buffer serves both backends.
#pragma once

#include <cstdint>
#include <cstring>

namespace trainer {

struct bfloat16 {
  uint16_t bits = 0;
  bfloat16() = default;
  explicit bfloat16(float f) : bits(from_float(f)) {}
  operator float() const { return to_float(bits); }

  // Branch-free (a select of two integers), so loops of conversions vectorise.
  static uint16_t from_float(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;  // round to nearest, ties to even
    const uint32_t quiet_nan = (u >> 16) | 0x40u;
    return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
  }
  static float to_float(uint16_t b) {
    uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

struct float16 {
  uint16_t bits = 0;
  float16() = default;
  explicit float16(float f) : bits(from_float(f)) {}
  operator float() const { return to_float(bits); }

  static uint16_t from_float(float f);  // IEEE binary16, round to nearest even
  static float to_float(uint16_t h);
};

inline float float16::to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (man << 13);  // inf / nan
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    u = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do { ++e; man <<= 1; } while (!(man & 0x400u));
    u = sign | static_cast<uint32_t>(112 - e) << 23 | ((man & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float16::from_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return sign | 0x7e00u;            // nan
  if (u >= 0x477ff000u) return sign | 0x7c00u;           // overflow (incl. rounding up) -> inf
  if (u >= 0x38800000u) {                                // normal half
    const uint32_t rounded = u + 0xfffu + ((u >> 13) & 1u);
    return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
  }
  if (u < 0x33000001u) return sign;                      // rounds to zero
  // subnormal half: shift the full mantissa into place with round-to-nearest-even
  const uint32_t exp = u >> 23, man = (u & 0x7fffffu) | 0x800000u;
  const int shift = 126 - static_cast<int>(exp);         // 14..24
  const uint32_t half_man = man >> shift, rem = man & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  uint32_t r = half_man;
  if (rem > halfway || (rem == halfway && (half_man & 1u))) ++r;
  return sign | static_cast<uint16_t>(r);
}

// Element access for loops templated on the storage type (f32, bf16, f16): 16-bit values are read
// and written through their bits. GCC does not vectorise loops that copy the structs themselves
// (under `omp simd` a temporary struct becomes a per-lane array), so hot loops use these.
inline float load_f32(const float* p, int64_t i) { return p[i]; }
inline float load_f32(const bfloat16* p, int64_t i) {
  return bfloat16::to_float(reinterpret_cast<const uint16_t*>(p)[i]);
}
inline float load_f32(const float16* p, int64_t i) { return float16::to_float(reinterpret_cast<const uint16_t*>(p)[i]); }
inline void store_f32(float* p, int64_t i, float v) { p[i] = v; }
inline void store_f32(bfloat16* p, int64_t i, float v) { reinterpret_cast<uint16_t*>(p)[i] = bfloat16::from_float(v); }
inline void store_f32(float16* p, int64_t i, float v) { reinterpret_cast<uint16_t*>(p)[i] = float16::from_float(v); }

}  // namespace trainer
