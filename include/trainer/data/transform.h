// One classification sample from the dataset to its slot in the batch: decode (if the source
// holds encoded bytes), crop, resize, flip, normalise. Train: NVIDIA's ResNet-50 recipe (random resized crop
// with area 5%..100% and aspect 3/4..4/3, horizontal flip). Eval: shorter side to 256, centre
// crop 224. Sizes are options, so the small demo models (28, 32, 64 pixels) use the same code.
#pragma once

#include <vector>

#include "trainer/core/random.h"
#include "trainer/core/tensor.h"
#include "trainer/data/crop.h"
#include "trainer/data/dataset.h"
#include "trainer/data/decode.h"
#include "trainer/data/sample_transform.h"

namespace trainer::data {

struct TransformOptions {
  bool train = true;
  int height = 224, width = 224;  // output size
  ColorMode color = ColorMode::kRgb;
  RandomResizedCropOptions crop;   // train only
  float flip_probability = 0.5f;   // train only
  int eval_resize_shorter = 256;   // eval only: shorter side before the centre crop
  // RGB 0..255 statistics (NVIDIA's); one value per output channel. Empty: no normalisation.
  std::vector<float> mean = {123.68f, 116.28f, 103.53f};
  std::vector<float> stddev = {58.395f, 57.12f, 57.385f};
  // Decode JPEGs reduced in the DCT domain to no less than the crop needs at the output size.
  bool dct_scaling = true;
};

class ImageTransform : public SampleTransform {
 public:
  // Throws an Error naming the option for an invalid setting.
  explicit ImageTransform(TransformOptions options);

  const TransformOptions& options() const { return options_; }
  int channels() const { return channels_of(options_.color); }
  Shape sample_shape() const override { return {options_.height, options_.width, channels()}; }  // HWC
  bool needs_class_label() const override { return true; }

  // Writes the transformed sample to out: sample_shape() elements of dtype (F32, BF16 or U8;
  // U8 is left unnormalised for normalisation on the device). Random draws come from rng only,
  // in a fixed order (crop, then flip), so the result is a pure function of sample and rng.
  // annotations_out gets the sample's image id and stored size, and no boxes. Throws
  // BadSampleError for an undecodable image.
  void apply(const Sample& sample, Philox& rng, DType dtype, void* out,
             ImageAnnotations* annotations_out = nullptr) const override;

 private:
  TransformOptions options_;
  std::vector<float> inv_std_;
};

}  // namespace trainer::data
