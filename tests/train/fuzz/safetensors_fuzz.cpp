// libFuzzer target for safetensors checkpoints: the input is the file. It is read as a
// safetensors file, then loaded as a checkpoint into a small model (weights matched by name and
// shape, optimizer state, moving average, metadata) for training and for inference. Rejections
// must be trainer::Error; a crash, a sanitizer report, another exception or an allocation the
// file's size does not justify is a bug.
#include <cstddef>
#include <cstdint>

#include "../../fuzz_util.h"
#include "trainer/core/error.h"
#include "trainer/nn/parameters.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/safetensors.h"

using namespace trainer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::TempFile file("safetensors");
  file.write(data, size);
  try {
    const train::SafetensorsFile read = train::read_safetensors(file.path());
    (void)train::is_trainer_checkpoint(read.metadata);
  } catch (const Error&) {
  }
  // The model the tests/train seeds were written for (tests/train/fuzz/make_seeds.py).
  static nn::ParameterStore& store = *[] {
    auto* s = new nn::ParameterStore;
    s->add("conv.weight", {2, 3}, nn::ParamRole::Weight, nn::Init::ones());
    s->add("conv.bias", {2}, nn::ParamRole::Bias, nn::Init::zeros());
    s->add_buffer("bn.running_mean", {2}, nn::Init::zeros());
    s->finalize(1);
    return s;
  }();
  Tensor momentum = Tensor::zeros({store.count()}, DType::F32);
  Tensor average = Tensor::zeros({store.count()}, DType::F32);
  try {
    train::load_checkpoint(file.path(), store, {&momentum, &average});
  } catch (const Error&) {
  }
  try {
    train::load_inference_weights(file.path(), store, true);
  } catch (const Error&) {
  }
  return 0;
}
