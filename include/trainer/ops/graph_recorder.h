// Sees the inference graph as the model runs: every op front-end that has a place in an
// exported graph tells the context's recorder (Context::recorder) what it computed from what,
// with its output tensor, so one eval-mode forward of any model yields its graph (`trainer
// export`, ops/onnx_graph.h). Tensors are told as they are: the recorder identifies a value by
// the memory and shape it occupies. Ops with no place in an inference graph (losses,
// reductions, casts between dtypes, matmul) call refuse(), so an export never silently drops one.
#pragma once

#include <string>
#include <vector>

#include "trainer/core/tensor.h"
#include "trainer/kernels/cpu/box_ops.h"
#include "trainer/ops/batchnorm.h"
#include "trainer/ops/conv2d.h"
#include "trainer/ops/pooling.h"

namespace trainer {

enum class RecordedBinary : uint8_t { Add, Sub, Mul, AddRelu };
enum class RecordedPool : uint8_t { Max, Average };

class GraphRecorder {
 public:
  virtual ~GraphRecorder() = default;

  // The graph's boundary, named by the task: its input (the preprocessed batch, before the first
  // op), the recorded tensors it returns, and constants it returns beside them (anchors).
  virtual void input(const std::string& name, const Tensor& x) = 0;
  virtual void output(const std::string& name, const Tensor& y) = 0;
  virtual void constant_output(const std::string& name, const Tensor& value) = 0;
  // An output decoded in the graph from recorded box codes [N, A, 4] against constant anchors
  // [A, 4]: the Faster R-CNN box coder's decode as kernels/cpu/box_ops.h `decode_boxes` does it,
  // boxes [N, A, 4] as [ymin, xmin, ymax, xmax] in the anchors' (normalised) coordinates.
  virtual void decoded_boxes_output(const std::string& name, const Tensor& box_codes, const Tensor& anchors,
                                    const cpu::BoxCoderScales& scales) = 0;

  // y = conv(x, w) + bias, then options.activation. w: OHWI; bias: [O] or undefined.
  virtual void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ops::Conv2dOptions& options,
                      const Tensor& y) = 0;
  // Inference batchnorm (running statistics), then options.activation.
  virtual void batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                          const Tensor& var, const ops::BatchNormOptions& options, const Tensor& y) = 0;
  virtual void activation(const Tensor& x, Activation act, const Tensor& y) = 0;
  // a (op) b, b broadcasting as ops/elementwise.h allows.
  virtual void binary(RecordedBinary op, const Tensor& a, const Tensor& b, const Tensor& y) = 0;
  virtual void scale(const Tensor& x, float alpha, const Tensor& y) = 0;
  virtual void pool2d(RecordedPool kind, const Tensor& x, const ops::Pool2dOptions& options, const Tensor& y) = 0;
  virtual void global_avg_pool(const Tensor& x, const Tensor& y) = 0;  // [N,H,W,C] -> [N,C]
  virtual void upsample_nearest2x(const Tensor& x, const Tensor& y) = 0;
  virtual void concat(const std::vector<Tensor>& xs, int axis, const Tensor& y) = 0;
  virtual void reshape(const Tensor& x, const Tensor& y) = 0;
  virtual void slice(const Tensor& x, int axis, int64_t begin, int64_t end, const Tensor& y) = 0;
  // y = x w^T + bias; w: [out, in], bias: [out] or undefined.
  virtual void linear(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) = 0;
  // y = sum_i relu(w_i) x_i / (sum_j relu(w_j) + epsilon) (ops/fusion.h).
  virtual void weighted_fusion(const std::vector<Tensor>& xs, const Tensor& weights, float epsilon,
                               const Tensor& y) = 0;
  // An op the graph cannot express: throws an Error naming it.
  [[noreturn]] virtual void refuse(const char* op) = 0;
};

}  // namespace trainer
