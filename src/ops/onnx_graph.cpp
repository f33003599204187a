#include "trainer/ops/onnx_graph.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>

#include "onnx/onnx.pb.h"

namespace trainer {
namespace {

constexpr int64_t kOpset = 17;
constexpr int64_t kIrVersion = 8;
const int64_t kToNchw[] = {0, 3, 1, 2};
const int64_t kToNhwc[] = {0, 2, 3, 1};
// Where NHWC axis a lives in NCHW.
int nchw_axis(int a) { return a == 0 ? 0 : a == 3 ? 1 : a + 1; }

// Which recorded value a tensor is: the memory it starts at, its dtype, shape and strides. The
// recorder holds every tensor it names (State::Value::held), so no memory of a recorded value is
// reused during the recording and a tensor no recorded op produced never passes for one.
std::string identity_key(const Tensor& t) {
  char ptr[32];
  std::snprintf(ptr, sizeof ptr, "%p", t.raw());
  return std::string(ptr) + std::string(dtype_name(t.dtype())) + shape_str(t.shape()) + shape_str(t.strides());
}

std::vector<float> host_floats(const Tensor& t) {
  TRAINER_CHECK(t.dtype() == DType::F32, "export: weight ", t.describe(), " is not f32");
  return t.to(Device::cpu()).to_floats();
}

void set_shape(onnx::ValueInfoProto& info, const std::string& name, const Shape& shape, bool symbolic_batch) {
  info.set_name(name);
  onnx::TypeProto::Tensor* type = info.mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  for (size_t i = 0; i < shape.size(); ++i) {
    onnx::TensorShapeProto::Dimension* d = type->mutable_shape()->add_dim();
    if (i == 0 && symbolic_batch) d->set_dim_param("N");
    else d->set_dim_value(shape[i]);
  }
}

}  // namespace

struct OnnxGraph::State {
  onnx::ModelProto model;
  onnx::GraphProto* graph = nullptr;

  // A value of the graph: the tensor (kept alive), and its name in NHWC (our layout) and/or NCHW
  // (4-D only).
  struct Value {
    Tensor held;
    Shape shape;
    std::string nhwc, nchw;
  };
  std::vector<Value> values;
  std::map<std::string, size_t> by_tensor;        // identity_key -> values index
  std::map<std::string, std::string> constants;  // weight identity + how it was laid out -> initializer
  int64_t next_id = 0;
  bool has_input = false;

  std::string fresh(const std::string& prefix) { return prefix + "_" + std::to_string(next_id++); }

  size_t find(const Tensor& t, const char* op) const {
    const auto it = by_tensor.find(identity_key(t));
    TRAINER_CHECK(it != by_tensor.end(), "export: ", op, " reads ", t.describe(),
                  ", which no exported op produced (an op the ONNX exporter does not record ran before it)");
    return it->second;
  }
  void define(const Tensor& t, Value v) {
    v.held = t;
    v.shape = t.shape();
    values.push_back(std::move(v));
    by_tensor[identity_key(t)] = values.size() - 1;
  }

  onnx::NodeProto& node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs) {
    onnx::NodeProto* n = graph->add_node();
    n->set_op_type(op_type);
    n->set_name(fresh(op_type));
    for (const std::string& i : inputs) n->add_input(i);
    for (const std::string& o : outputs) n->add_output(o);
    return *n;
  }
  // One node with one fresh output; returns the output's name.
  std::string apply(const std::string& op_type, const std::vector<std::string>& inputs,
                    onnx::NodeProto** made = nullptr) {
    const std::string out = fresh(op_type == "Transpose" ? "t" : "v");
    onnx::NodeProto& n = node(op_type, inputs, {out});
    if (made) *made = &n;
    return out;
  }

  static void attr(onnx::NodeProto& n, const char* name, int64_t v) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto& n, const char* name, float v) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr(onnx::NodeProto& n, const char* name, const std::string& v) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  static void attr(onnx::NodeProto& n, const char* name, const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }

  std::string initializer(const std::string& name, const Shape& dims, const std::vector<float>& data) {
    onnx::TensorProto* t = graph->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float)));
    return name;
  }
  std::string int64s(const std::vector<int64_t>& data) {
    const std::string name = fresh("ints");
    onnx::TensorProto* t = graph->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(data.size()));
    t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(int64_t)));
    return name;
  }
  std::string scalar(float v) {
    const std::string key = "scalar:" + std::to_string(v);
    if (auto it = constants.find(key); it != constants.end()) return it->second;
    return constants[key] = initializer(fresh("c"), {}, {v});
  }
  // A weight as an initializer, once per tensor and layout (a convolution shared across pyramid
  // levels is one initializer). layout "oihw" transposes an OHWI convolution weight.
  std::string weight(const Tensor& w, const std::string& layout) {
    const std::string key = identity_key(w) + layout;
    if (auto it = constants.find(key); it != constants.end()) return it->second;
    std::vector<float> data = host_floats(w);
    Shape dims = w.shape();
    if (layout == "oihw") {
      const int64_t o = dims[0], kh = dims[1], kw = dims[2], i = dims[3];
      std::vector<float> t(data.size());
      for (int64_t a = 0; a < o; ++a)
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t x = 0; x < kw; ++x)
            for (int64_t c = 0; c < i; ++c) t[((a * i + c) * kh + y) * kw + x] = data[((a * kh + y) * kw + x) * i + c];
      data = std::move(t);
      dims = {o, i, kh, kw};
    }
    return constants[key] = initializer(fresh("w"), dims, data);
  }

  const std::string& nchw(size_t v) {
    Value& val = values[v];
    if (val.nchw.empty()) {
      TRAINER_CHECK(val.shape.size() == 4, "export: ", shape_str(val.shape), " is not a 4-D map");
      onnx::NodeProto* n;
      const std::string name = apply("Transpose", {val.nhwc}, &n);
      attr(*n, "perm", std::vector<int64_t>(std::begin(kToNchw), std::end(kToNchw)));
      values[v].nchw = name;
    }
    return values[v].nchw;
  }
  const std::string& nhwc(size_t v) {
    Value& val = values[v];
    if (val.nhwc.empty()) {
      onnx::NodeProto* n;
      const std::string name = apply("Transpose", {val.nchw}, &n);
      attr(*n, "perm", std::vector<int64_t>(std::begin(kToNhwc), std::end(kToNhwc)));
      values[v].nhwc = name;
    }
    return values[v].nhwc;
  }
  // Pointwise ops run in NCHW when every operand is a 4-D map and one of them already is NCHW.
  bool prefer_nchw(const std::vector<size_t>& vs) const {
    bool any = false;
    for (size_t v : vs) {
      if (values[v].shape.size() != 4) return false;
      any = any || !values[v].nchw.empty();
    }
    return any;
  }
  std::string in_layout(size_t v, bool as_nchw) { return as_nchw ? nchw(v) : nhwc(v); }
  void define_in(const Tensor& t, const std::string& name, bool as_nchw) {
    Value v;
    (as_nchw ? v.nchw : v.nhwc) = name;
    define(t, std::move(v));
  }

  std::string activate(const std::string& x, Activation act) {
    switch (act) {
      case Activation::Identity: return x;
      case Activation::Relu: return apply("Relu", {x});
      case Activation::Relu6: return apply("Clip", {x, scalar(0.f), scalar(6.f)});
      case Activation::Sigmoid: return apply("Sigmoid", {x});
      case Activation::Swish: return apply("Mul", {x, apply("Sigmoid", {x})});
    }
    fail("export: activation ", static_cast<int>(act), " has no ONNX form");
  }

  // ONNX pads [top, left, bottom, right] for a window over an NHWC input: explicit or TF 'SAME'.
  static std::vector<int64_t> pads(const std::optional<ops::Padding>& p, const Tensor& x, int64_t kh, int64_t kw,
                                   int64_t sh, int64_t sw, int64_t dh, int64_t dw) {
    if (p) return {p->top, p->left, p->bottom, p->right};
    const auto [top, bottom] = ops::same_padding(x.dim(1), kh, sh, dh);
    const auto [left, right] = ops::same_padding(x.dim(2), kw, sw, dw);
    return {top, left, bottom, right};
  }
};

OnnxGraph::OnnxGraph(const std::string& name) : state_(std::make_unique<State>()) {
  onnx::ModelProto& m = state_->model;
  m.set_ir_version(kIrVersion);
  m.set_producer_name("trainer");
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  state_->graph = m.mutable_graph();
  state_->graph->set_name(name);
}

OnnxGraph::~OnnxGraph() = default;

void OnnxGraph::input(const std::string& name, const Tensor& x) {
  TRAINER_CHECK(!state_->has_input, "export: the graph already has an input");
  set_shape(*state_->graph->add_input(), name, x.shape(), true);
  State::Value v;
  v.nhwc = name;
  state_->define(x, std::move(v));
  state_->has_input = true;
}

void OnnxGraph::output(const std::string& name, const Tensor& y) {
  const std::string& from = state_->nhwc(state_->find(y, "output"));
  state_->node("Identity", {from}, {name});
  set_shape(*state_->graph->add_output(), name, y.shape(), true);
}

void OnnxGraph::constant_output(const std::string& name, const Tensor& value) {
  const std::string stored = state_->initializer(name + "_constant", value.shape(), host_floats(value));
  state_->node("Identity", {stored}, {name});
  set_shape(*state_->graph->add_output(), name, value.shape(), false);
}

void OnnxGraph::decoded_boxes_output(const std::string& name, const Tensor& box_codes, const Tensor& anchors,
                                     const cpu::BoxCoderScales& scales) {
  State& s = *state_;
  TRAINER_CHECK(box_codes.rank() == 3 && box_codes.dim(2) == 4 && anchors.rank() == 2 && anchors.dim(1) == 4 &&
                    anchors.dim(0) == box_codes.dim(1),
                "export: decoding ", box_codes.describe(), " against anchors ", anchors.describe());
  const std::string codes = s.nhwc(s.find(box_codes, "box decoding"));
  // The anchors' sizes and centres, (ha, wa) and (yca, xca), computed as the kernel does.
  const std::vector<float> a = host_floats(anchors);
  const int64_t n = anchors.dim(0);
  std::vector<float> size(2 * n), centre(2 * n);
  for (int64_t i = 0; i < n; ++i) {
    const float* r = &a[4 * i];
    size[2 * i] = r[2] - r[0], size[2 * i + 1] = r[3] - r[1];
    centre[2 * i] = r[0] + size[2 * i] / 2.f, centre[2 * i + 1] = r[1] + size[2 * i + 1] / 2.f;
  }
  const std::string anchor_size = s.initializer(s.fresh("anchor_size"), {n, 2}, size);
  const std::string anchor_centre = s.initializer(s.fresh("anchor_centre"), {n, 2}, centre);
  auto factor = [](float f) { return f == 0.f ? 1.f : f; };  // 0: that component unscaled
  const std::string centre_scale = s.initializer(s.fresh("c"), {2}, {factor(scales.y), factor(scales.x)});
  const std::string size_scale = s.initializer(s.fresh("c"), {2}, {factor(scales.h), factor(scales.w)});
  const std::string axis = s.int64s({2});
  const std::string t_centre = s.apply("Slice", {codes, s.int64s({0}), s.int64s({2}), axis});  // ty, tx
  const std::string t_size = s.apply("Slice", {codes, s.int64s({2}), s.int64s({4}), axis});    // th, tw
  // yc = ty / fy * ha + yca; h = exp(th / fh) * ha; corners at yc -+ h / 2 (likewise x, w).
  const std::string c = s.apply("Add", {s.apply("Mul", {s.apply("Div", {t_centre, centre_scale}), anchor_size}),
                                        anchor_centre});
  const std::string half =
      s.apply("Div", {s.apply("Mul", {s.apply("Exp", {s.apply("Div", {t_size, size_scale})}), anchor_size}),
                      s.scalar(2.f)});
  onnx::NodeProto* n_concat;
  const std::string corners = s.apply("Concat", {s.apply("Sub", {c, half}), s.apply("Add", {c, half})}, &n_concat);
  State::attr(*n_concat, "axis", int64_t{2});
  s.node("Identity", {corners}, {name});
  set_shape(*s.graph->add_output(), name, box_codes.shape(), true);
}

void OnnxGraph::conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ops::Conv2dOptions& o,
                       const Tensor& y) {
  State& s = *state_;
  std::vector<std::string> inputs = {s.nchw(s.find(x, "conv2d")), s.weight(w, "oihw")};
  if (bias.defined()) inputs.push_back(s.weight(bias, ""));
  onnx::NodeProto* n;
  const std::string out = s.apply("Conv", inputs, &n);
  State::attr(*n, "kernel_shape", std::vector<int64_t>{w.dim(1), w.dim(2)});
  State::attr(*n, "strides", std::vector<int64_t>{o.stride_h, o.stride_w});
  State::attr(*n, "dilations", std::vector<int64_t>{o.dilation_h, o.dilation_w});
  State::attr(*n, "group", o.groups);
  State::attr(*n, "pads", State::pads(o.padding, x, w.dim(1), w.dim(2), o.stride_h, o.stride_w, o.dilation_h,
                                      o.dilation_w));
  s.define_in(y, s.activate(out, o.activation), true);
}

void OnnxGraph::batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                           const Tensor& var, const ops::BatchNormOptions& o, const Tensor& y) {
  State& s = *state_;
  const size_t v = s.find(x, "batch_norm");
  // ONNX normalises axis 1: NCHW maps, or [N, C] as it is.
  const bool as_nchw = x.rank() == 4;
  TRAINER_CHECK(as_nchw || x.rank() == 2, "export: batch_norm over ", x.describe(), " (expected 2-D or 4-D)");
  onnx::NodeProto* n;
  const std::string out = s.apply(
      "BatchNormalization",
      {s.in_layout(v, as_nchw), s.weight(gamma, ""), s.weight(beta, ""), s.weight(mean, ""), s.weight(var, "")}, &n);
  State::attr(*n, "epsilon", o.epsilon);
  s.define_in(y, s.activate(out, o.activation), as_nchw);
}

void OnnxGraph::activation(const Tensor& x, Activation act, const Tensor& y) {
  State& s = *state_;
  const size_t v = s.find(x, "activation");
  const bool as_nchw = s.prefer_nchw({v});
  s.define_in(y, s.activate(s.in_layout(v, as_nchw), act), as_nchw);
}

void OnnxGraph::binary(RecordedBinary op, const Tensor& a, const Tensor& b, const Tensor& y) {
  State& s = *state_;
  const size_t va = s.find(a, "elementwise op"), vb = s.find(b, "elementwise op");
  // Broadcasting aligns trailing axes (ops/elementwise.h, as ONNX does): a lower-rank operand
  // only lines up in our layout.
  const bool as_nchw = s.prefer_nchw({va, vb});
  const std::string A = s.in_layout(va, as_nchw), B = s.in_layout(vb, as_nchw);
  std::string out;
  switch (op) {
    case RecordedBinary::Add: out = s.apply("Add", {A, B}); break;
    case RecordedBinary::Sub: out = s.apply("Sub", {A, B}); break;
    case RecordedBinary::Mul: out = s.apply("Mul", {A, B}); break;
    case RecordedBinary::AddRelu: out = s.apply("Relu", {s.apply("Add", {A, B})}); break;
  }
  s.define_in(y, out, as_nchw);
}

void OnnxGraph::scale(const Tensor& x, float alpha, const Tensor& y) {
  State& s = *state_;
  const size_t v = s.find(x, "scale");
  const bool as_nchw = s.prefer_nchw({v});
  s.define_in(y, s.apply("Mul", {s.in_layout(v, as_nchw), s.scalar(alpha)}), as_nchw);
}

void OnnxGraph::pool2d(RecordedPool kind, const Tensor& x, const ops::Pool2dOptions& o, const Tensor& y) {
  State& s = *state_;
  onnx::NodeProto* n;
  const std::string out = s.apply(kind == RecordedPool::Max ? "MaxPool" : "AveragePool",
                                  {s.nchw(s.find(x, "pool2d"))}, &n);
  State::attr(*n, "kernel_shape", std::vector<int64_t>{o.kernel_h, o.kernel_w});
  State::attr(*n, "strides", std::vector<int64_t>{o.stride_h, o.stride_w});
  // Max pooling ignores padded positions; average pooling counts them as our option says.
  State::attr(*n, "pads", State::pads(o.padding, x, o.kernel_h, o.kernel_w, o.stride_h, o.stride_w, 1, 1));
  if (kind == RecordedPool::Average) State::attr(*n, "count_include_pad", int64_t{o.count_include_pad ? 1 : 0});
  s.define_in(y, out, true);
}

void OnnxGraph::global_avg_pool(const Tensor& x, const Tensor& y) {
  State& s = *state_;
  const std::string pooled = s.apply("GlobalAveragePool", {s.nchw(s.find(x, "global_avg_pool"))});
  onnx::NodeProto* n;
  const std::string flat = s.apply("Flatten", {pooled}, &n);  // [N, C, 1, 1] -> [N, C]
  State::attr(*n, "axis", int64_t{1});
  s.define_in(y, flat, false);
}

void OnnxGraph::upsample_nearest2x(const Tensor& x, const Tensor& y) {
  State& s = *state_;
  // out[i] = in[floor(i / 2)]: nearest with asymmetric coordinates, rounding down.
  onnx::NodeProto* n;
  const std::string out = s.apply(
      "Resize", {s.nchw(s.find(x, "upsample_nearest2x")), "", s.initializer(s.fresh("scales"), {4}, {1, 1, 2, 2})},
      &n);
  State::attr(*n, "mode", std::string("nearest"));
  State::attr(*n, "coordinate_transformation_mode", std::string("asymmetric"));
  State::attr(*n, "nearest_mode", std::string("floor"));
  s.define_in(y, out, true);
}

void OnnxGraph::concat(const std::vector<Tensor>& xs, int axis, const Tensor& y) {
  State& s = *state_;
  std::vector<size_t> vs;
  for (const Tensor& x : xs) vs.push_back(s.find(x, "concat"));
  if (axis < 0) axis += y.rank();
  bool all_nchw = y.rank() == 4;
  for (size_t v : vs) all_nchw = all_nchw && !s.values[v].nchw.empty();
  std::vector<std::string> names;
  for (size_t v : vs) names.push_back(s.in_layout(v, all_nchw));
  onnx::NodeProto* n;
  const std::string out = s.apply("Concat", names, &n);
  State::attr(*n, "axis", int64_t{all_nchw ? nchw_axis(axis) : axis});
  s.define_in(y, out, all_nchw);
}

void OnnxGraph::reshape(const Tensor& x, const Tensor& y) {
  State& s = *state_;
  TRAINER_CHECK(x.rank() >= 1 && y.rank() >= 1 && x.dim(0) == y.dim(0), "export: reshape ", x.describe(), " -> ",
                y.describe(), " mixes the batch with other axes (the graph's batch dimension is symbolic)");
  std::vector<int64_t> shape = y.shape();
  shape[0] = 0;  // ONNX: copy the input's (symbolic) batch size
  const std::string out = s.apply("Reshape", {s.nhwc(s.find(x, "reshape")), s.int64s(shape)});
  s.define_in(y, out, false);
}

void OnnxGraph::slice(const Tensor& x, int axis, int64_t begin, int64_t end, const Tensor& y) {
  State& s = *state_;
  const size_t v = s.find(x, "slice");
  if (axis < 0) axis += x.rank();
  const bool as_nchw = s.prefer_nchw({v});
  const int64_t onnx_axis = as_nchw ? nchw_axis(axis) : axis;
  const std::string out = s.apply("Slice", {s.in_layout(v, as_nchw), s.int64s({begin}), s.int64s({end}),
                                            s.int64s({onnx_axis})});
  s.define_in(y, out, as_nchw);
}

void OnnxGraph::linear(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  State& s = *state_;
  std::vector<std::string> inputs = {s.nhwc(s.find(x, "linear")), s.weight(w, "")};
  if (bias.defined()) inputs.push_back(s.weight(bias, ""));
  onnx::NodeProto* n;
  const std::string out = s.apply("Gemm", inputs, &n);
  State::attr(*n, "transB", int64_t{1});
  s.define_in(y, out, false);
}

void OnnxGraph::weighted_fusion(const std::vector<Tensor>& xs, const Tensor& weights, float epsilon,
                                const Tensor& y) {
  State& s = *state_;
  std::vector<size_t> vs;
  for (const Tensor& x : xs) vs.push_back(s.find(x, "weighted_fusion"));
  // The coefficients c_i = relu(w_i) / (sum_j relu(w_j) + epsilon) are constants of the
  // checkpoint, computed as the kernel computes them (kernels/cpu/fusion.h).
  const std::vector<float> w = host_floats(weights);
  float total = epsilon;
  for (float wi : w) total += std::max(wi, 0.f);
  const bool as_nchw = s.prefer_nchw(vs);
  std::string sum;
  for (size_t i = 0; i < vs.size(); ++i) {
    const std::string term = s.apply("Mul", {s.in_layout(vs[i], as_nchw), s.scalar(std::max(w[i], 0.f) / total)});
    sum = i == 0 ? term : s.apply("Add", {sum, term});
  }
  s.define_in(y, sum, as_nchw);
}

void OnnxGraph::refuse(const char* op) {
  fail("export: the model runs ", op, ", which has no place in the exported inference graph");
}

int64_t OnnxGraph::node_count() const { return state_->graph->node_size(); }
int64_t OnnxGraph::initializer_count() const { return state_->graph->initializer_size(); }

std::string OnnxGraph::serialize() const {
  TRAINER_CHECK(state_->has_input && state_->graph->output_size() > 0, "export: the graph has no ",
                state_->has_input ? "output" : "input");
  std::string bytes;
  TRAINER_CHECK(state_->model.SerializeToString(&bytes), "export: the ONNX model could not be serialised");
  return bytes;
}

void OnnxGraph::write(const std::string& path) const {
  const std::string bytes = serialize();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  TRAINER_CHECK(out, "export: cannot open ", path, " for writing");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  TRAINER_CHECK(out, "export: writing ", path, " failed");
}

}  // namespace trainer
