// Counter-based random numbers (Philox4x32-10): a draw is a pure function of
// (seed, stream, counter), so every random decision can be derived from
// (seed, rank, epoch, sample index) and replayed exactly after a resume (src/README.md,
// decision 11).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace trainer {

class Philox {
 public:
  // key: the seed; stream: which sequence (e.g. hash of rank/epoch/sample/purpose).
  Philox(uint64_t seed, uint64_t stream) : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
                                           stream_(stream) {}

  uint32_t next_u32() {
    if (pos_ == 4) {
      block_ = generate(counter_++);
      pos_ = 0;
    }
    return block_[pos_++];
  }
  uint64_t next_u64() { return (static_cast<uint64_t>(next_u32()) << 32) | next_u32(); }
  // Uniform in [0, 1) with 24 random bits, like a float draw on a GPU.
  float uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }
  double uniform_double() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return n ? next_u64() % n : 0; }
  // Standard normal (Box-Muller, both draws used up).
  float normal() {
    const double u1 = 1.0 - uniform_double(), u2 = uniform_double();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
  // Gamma(alpha, 1) by Marsaglia-Tsang (with the alpha < 1 boost); Beta via two gammas.
  double gamma(double alpha);
  double beta(double a, double b) {
    const double x = gamma(a), y = gamma(b);
    return x + y > 0 ? x / (x + y) : 0.5;
  }

 private:
  std::array<uint32_t, 4> generate(uint64_t counter) const;

  std::array<uint32_t, 2> key_;
  uint64_t stream_;
  uint64_t counter_ = 0;
  std::array<uint32_t, 4> block_{};
  int pos_ = 4;
};

// Mixes several integers into one well-spread 64-bit stream id (SplitMix64 finaliser).
inline uint64_t mix_stream(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (uint64_t p : parts) {
    h ^= p + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
  }
  return h;
}

}  // namespace trainer
