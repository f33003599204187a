// The inference graph as an ONNX model (opset 17, IR version 8): a GraphRecorder that turns each
// op it is told about into ONNX nodes and the weights it reads into initializers (`trainer
// export`, src/ops/README.md "Export").
//
// Layout: our activations are NHWC, ONNX's convolutions and pools NCHW. Every value keeps our
// shape at the graph's boundary (input [N,H,W,C], outputs as the model returns them); inside,
// a 4-D value exists in the layout its producer made and gets a Transpose only where a consumer
// needs the other one (convolutions, pools and resizes read NCHW; reshapes and graph outputs
// NHWC; pointwise ops take whichever their operands have). The batch dimension is symbolic ("N").
#pragma once

#include <memory>
#include <string>

#include "trainer/ops/graph_recorder.h"

namespace trainer {

class OnnxGraph final : public GraphRecorder {
 public:
  // name: the graph's name (the model's architecture).
  explicit OnnxGraph(const std::string& name);
  ~OnnxGraph() override;

  void input(const std::string& name, const Tensor& x) override;
  void output(const std::string& name, const Tensor& y) override;
  void constant_output(const std::string& name, const Tensor& value) override;
  void decoded_boxes_output(const std::string& name, const Tensor& box_codes, const Tensor& anchors,
                            const cpu::BoxCoderScales& scales) override;

  void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ops::Conv2dOptions& options,
              const Tensor& y) override;
  void batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var,
                  const ops::BatchNormOptions& options, const Tensor& y) override;
  void activation(const Tensor& x, Activation act, const Tensor& y) override;
  void binary(RecordedBinary op, const Tensor& a, const Tensor& b, const Tensor& y) override;
  void scale(const Tensor& x, float alpha, const Tensor& y) override;
  void pool2d(RecordedPool kind, const Tensor& x, const ops::Pool2dOptions& options, const Tensor& y) override;
  void global_avg_pool(const Tensor& x, const Tensor& y) override;
  void upsample_nearest2x(const Tensor& x, const Tensor& y) override;
  void concat(const std::vector<Tensor>& xs, int axis, const Tensor& y) override;
  void reshape(const Tensor& x, const Tensor& y) override;
  void slice(const Tensor& x, int axis, int64_t begin, int64_t end, const Tensor& y) override;
  void linear(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) override;
  void weighted_fusion(const std::vector<Tensor>& xs, const Tensor& weights, float epsilon, const Tensor& y) override;
  [[noreturn]] void refuse(const char* op) override;

  int64_t node_count() const;
  int64_t initializer_count() const;
  // The ONNX model file's bytes; the graph needs its input and at least one output.
  std::string serialize() const;
  void write(const std::string& path) const;

 private:
  struct State;  // the protobuf model and the values seen so far (keeps protobuf out of this header)
  std::unique_ptr<State> state_;
};

}  // namespace trainer
