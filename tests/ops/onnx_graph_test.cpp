// The ONNX exporter's recorder at the op level: ops it cannot express and tensors it did not see
// produced fail the export by name, and layouts change only where an op needs the other one.
// (Numerical agreement with onnxruntime: tests/cli/export_test.cpp.)
#include <gtest/gtest.h>

#include <functional>

#include "trainer/ops/activation.h"
#include "trainer/ops/conv2d.h"
#include "trainer/ops/onnx_graph.h"
#include "trainer/ops/reduce.h"
#include "trainer/ops/shape_ops.h"

namespace trainer {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(OnnxGraph, RefusesAnOpWithoutAnInferenceForm) {
  OnnxGraph graph("test");
  Context ctx;
  ctx.recorder = &graph;
  const Tensor x = Tensor::full({1, 2, 2, 3}, 1.0, DType::F32);
  graph.input("images", x);
  EXPECT_NE(error_of([&] { ops::mean(ctx, x); }).find("export: the model runs mean, which has no place"),
            std::string::npos);
}

TEST(OnnxGraph, RefusesATensorNoRecordedOpProduced) {
  OnnxGraph graph("test");
  Context ctx;
  ctx.recorder = &graph;
  graph.input("images", Tensor::full({1, 2, 2, 3}, 1.0, DType::F32));
  const Tensor stray = Tensor::full({1, 2, 2, 3}, 2.0, DType::F32);
  EXPECT_NE(error_of([&] { ops::relu(ctx, stray); })
                .find("export: activation reads f32[1,2,2,3], which no exported op produced"),
            std::string::npos);
  EXPECT_NE(error_of([&] { graph.serialize(); }).find("export: the graph has no output"), std::string::npos);
}

TEST(OnnxGraph, TransposesOnlyAtLayoutChanges) {
  OnnxGraph graph("test");
  Context ctx;
  ctx.recorder = &graph;
  const Tensor x = Tensor::full({1, 4, 4, 3}, 1.0, DType::F32);
  graph.input("images", x);
  const Tensor w = Tensor::full({8, 3, 3, 3}, 0.1, DType::F32);
  // NHWC input -> Transpose -> Conv -> Relu (stays NCHW) -> Transpose -> Reshape -> Identity.
  const Tensor h = ops::relu(ctx, ops::conv2d(ctx, x, w, Tensor(), {}));
  graph.output("features", ops::reshape(ctx, h, {1, -1}));
  EXPECT_EQ(graph.node_count(), 6);
  EXPECT_EQ(graph.initializer_count(), 2);  // the weight and the reshape's shape
  EXPECT_GT(graph.serialize().size(), static_cast<size_t>(8 * 27 * 4));
}

}  // namespace
}  // namespace trainer
