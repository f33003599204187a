// trainer's side of scripts/bench/conv2d_bench.py: convolution forward, backward-data and
// backward-weights through the CPU backend (oneDNN, NHWC activations, OHWI weights) on
// ResNet-50's convolution shapes. Prints one JSON object per shape: the milliseconds of every
// timed repeat after one warm-up call.
//   trainer_conv2d_bench BATCH REPEATS [winograd|direct]   (the algorithm: trainer's default is winograd)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "trainer/core/parallel.h"
#include "trainer/core/random.h"
#include "trainer/core/tensor.h"
#include "trainer/kernels/cpu/conv2d.h"
#include "resnet50_conv_shapes.h"

using namespace trainer;

namespace {

template <class F>
std::string times_ms(int repeats, F&& f) {
  f();  // warm-up: builds and caches the oneDNN primitives
  std::string list = "[";
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    list += (i ? ", " : "") + std::to_string(ms);
  }
  return list + "]";
}

Tensor random(const Shape& shape, uint64_t stream) {
  Tensor t = Tensor::empty(shape, DType::F32);
  Philox rng(1, stream);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.uniform(-1.f, 1.f);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 32;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  const cpu::ConvAlgorithm algorithm =
      argc > 3 && std::string(argv[3]) == "direct" ? cpu::ConvAlgorithm::Direct : cpu::ConvAlgorithm::Winograd;
  set_num_threads(0);
  for (const bench::ConvShape& c : bench::resnet50_conv_shapes()) {
    cpu::Conv2dShape s;
    s.batch = batch, s.in_h = s.in_w = c.size, s.in_c = c.in, s.out_c = c.out;
    s.kernel_h = s.kernel_w = c.kernel, s.stride_h = s.stride_w = c.stride;
    s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = c.kernel / 2;
    const Tensor x = random({batch, c.size, c.size, c.in}, 1), w = random({c.out, c.kernel, c.kernel, c.in}, 2);
    const Tensor dy = random({batch, s.out_h(), s.out_w(), c.out}, 3);
    Tensor y = Tensor::empty(dy.shape(), DType::F32), dx = Tensor::empty(x.shape(), DType::F32);
    Tensor dw = Tensor::empty(w.shape(), DType::F32);
    const std::string fwd = times_ms(repeats, [&] {
      cpu::conv2d_forward(s, DType::F32, x.raw(), w.raw(), nullptr, Activation::Identity, y.raw(), algorithm);
    });
    const std::string bwd = times_ms(repeats, [&] {
      cpu::conv2d_backward_data(s, DType::F32, dy.raw(), w.raw(), dx.raw(), algorithm);
      cpu::conv2d_backward_weights(s, DType::F32, x.raw(), dy.raw(), dw.data<float>(), nullptr, algorithm);
    });
    std::printf("{\"name\": \"%s\", \"count\": %d, \"fwd_ms\": %s, \"bwd_ms\": %s}\n", c.name, c.count, fwd.c_str(),
                bwd.c_str());
    std::fflush(stdout);
  }
  return 0;
}
