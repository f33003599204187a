// The loader's view of a transform: one sample in, one fixed-shape slot of the batch out (and,
// for detection, the sample's objects moved along with the pixels). Classification
// (ImageTransform, transform.h) and detection (DetectionTransform, detection_transform.h) are
// the two implementations; the loader's order, sharding, workers and resume rules are the
// same for both.
#pragma once

#include "trainer/core/random.h"
#include "trainer/core/tensor.h"
#include "trainer/data/annotations.h"
#include "trainer/data/dataset.h"

namespace trainer::data {

class SampleTransform {
 public:
  virtual ~SampleTransform() = default;

  // HWC of one output sample; every sample of a batch has this shape.
  virtual Shape sample_shape() const = 0;

  // Whether samples must carry a classification label in [0, num_classes) (the loader checks
  // it and puts it in Batch::labels). Detection samples carry objects instead.
  virtual bool needs_class_label() const = 0;

  // Writes the transformed sample to out: shape_numel(sample_shape()) elements of dtype (F32,
  // BF16 or U8). Random draws come from rng only, in a fixed order documented by each
  // implementation, so the result is a pure function of (sample, rng): this is what makes the
  // loader's batches independent of the worker count and exact after a resume.
  // annotations_out (may be null) receives the image id, the source size and the objects
  // normalised to the output image (none for classification). Throws BadSampleError for an
  // unusable sample (undecodable image, ...).
  virtual void apply(const Sample& sample, Philox& rng, DType dtype, void* out,
                     ImageAnnotations* annotations_out = nullptr) const = 0;
};

}  // namespace trainer::data
