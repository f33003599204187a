#include "trainer/data/transform.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>

#include "trainer/data/resample.h"

namespace trainer::data {
namespace {

// Pixels a source already holds (IDX, synthetic) in the channel count the output wants.
Image convert_channels(const Image& image, int channels) {
  Image out(image.height, image.width, channels);
  const cv::Mat src(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1,
                    const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat dst(out.height, out.width, channels == 3 ? CV_8UC3 : CV_8UC1, out.pixels.data());
  cv::cvtColor(src, dst, channels == 3 ? cv::COLOR_GRAY2RGB : cv::COLOR_RGB2GRAY);
  return out;
}

}  // namespace

ImageTransform::ImageTransform(TransformOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  TRAINER_CHECK(o.height > 0 && o.width > 0, "transform: output size must be positive, got ", o.width, "x", o.height);
  TRAINER_CHECK(o.mean.size() == o.stddev.size() && (o.mean.empty() || static_cast<int>(o.mean.size()) == channels()),
                "transform: mean and stddev need one value per output channel (", channels(), "), got ", o.mean.size(),
                " and ", o.stddev.size());
  for (float s : o.stddev) TRAINER_CHECK(s > 0, "transform: stddev values must be positive, got ", s);
  for (float s : o.stddev) inv_std_.push_back(1.0f / s);
  if (o.train) {
    const auto& c = o.crop;
    TRAINER_CHECK(c.min_area > 0 && c.min_area <= c.max_area && c.max_area <= 1, "transform: crop area range [",
                  c.min_area, ", ", c.max_area, "] must lie in (0, 1]");
    TRAINER_CHECK(c.min_aspect > 0 && c.min_aspect <= c.max_aspect, "transform: crop aspect range [", c.min_aspect,
                  ", ", c.max_aspect, "] must be positive and ordered");
    TRAINER_CHECK(c.max_attempts >= 0, "transform: crop max_attempts must be >= 0, got ", c.max_attempts);
    TRAINER_CHECK(o.flip_probability >= 0 && o.flip_probability <= 1, "transform: flip_probability ",
                  o.flip_probability, " is not in [0, 1]");
  } else {
    TRAINER_CHECK(o.eval_resize_shorter >= std::max(o.height, o.width), "transform: eval_resize_shorter (",
                  o.eval_resize_shorter, ") must be at least the crop size ", o.width, "x", o.height);
  }
}

void ImageTransform::apply(const Sample& sample, Philox& rng, DType dtype, void* out,
                           ImageAnnotations* annotations_out) const {
  const auto& o = options_;
  // A JPEG is decoded after the crop is planned (from its header), so it can be decoded small.
  const bool defer_decode = o.dct_scaling && is_jpeg(sample.encoded);
  Image decoded;
  ImageSize size;
  if (defer_decode) {
    size = jpeg_size(sample.encoded, sample.name);
  } else if (!sample.encoded.empty()) {
    decoded = decode_image(sample.encoded, sample.name, o.color);
    size = {decoded.height, decoded.width};
  } else {
    TRAINER_CHECK(!sample.image.empty(), "transform: sample ", sample.name, " has neither encoded bytes nor pixels");
    size = {sample.image.height, sample.image.width};
  }

  CropBox box = o.train ? random_resized_crop(size, o.crop, rng)
                        : resize_then_center_crop(size, o.eval_resize_shorter, o.height, o.width);
  const bool flip = o.train && rng.uniform() < o.flip_probability;

  if (defer_decode) {
    // Keep at least one source pixel per output pixel inside the box.
    const ImageSize needed{static_cast<int>(std::ceil(size.height * o.height / box.height - 1e-9)),
                           static_cast<int>(std::ceil(size.width * o.width / box.width - 1e-9))};
    decoded = decode_image(sample.encoded, sample.name, o.color, needed);
    const double sy = static_cast<double>(decoded.height) / size.height;
    const double sx = static_cast<double>(decoded.width) / size.width;
    box = {box.x * sx, box.y * sy, box.width * sx, box.height * sy};
  }
  const Image* source = &decoded;
  if (sample.encoded.empty()) {
    if (sample.image.channels == channels())
      source = &sample.image;
    else
      decoded = convert_channels(sample.image, channels());
  }
  const Normalization norm{o.mean.empty() ? nullptr : o.mean.data(), o.mean.empty() ? nullptr : inv_std_.data()};
  resample(*source, box, o.height, o.width, flip, norm, dtype, out);
  if (annotations_out) *annotations_out = {sample.annotations.image_id, size.height, size.width, {}};
}

}  // namespace trainer::data
