#include "trainer/data/resample.h"

#include "resample_core.h"

namespace trainer::data {

void resample(const Image& src, const CropBox& box, int out_height, int out_width, bool flip,
              const Normalization& norm, DType dtype, void* dst, SamplingGrid grid) {
  TRAINER_CHECK(!src.empty() && src.channels >= 1, "resample: empty source image");
  detail::Taps xs, ys;
  detail::box_taps(src.height, src.width, box, out_height, out_width, flip, grid, xs, ys);
  detail::resample_as(src, xs, ys, norm, dtype, dst);
}

void resample_placed(const Image& src, const AxisPlacement& y, const AxisPlacement& x, int out_height, int out_width,
                     const Normalization& norm, DType dtype, void* dst) {
  TRAINER_CHECK(!src.empty() && src.channels >= 1, "resample: empty source image");
  detail::check_placement(y, src.height, out_height, "vertical");
  detail::check_placement(x, src.width, out_width, "horizontal");
  detail::resample_as(src, detail::legacy_taps(x, out_width), detail::legacy_taps(y, out_height), norm, dtype, dst);
}

}  // namespace trainer::data
