#include "trainer/models/backbones/torchvision_resnet.h"

#include <regex>

namespace trainer::models {
namespace {

// OIHW -> OHWI.
Tensor to_ohwi(const Tensor& w) {
  TRAINER_CHECK(w.rank() == 4 && w.dtype() == DType::F32, "a torchvision convolution weight ", w.describe(),
                " (expected f32 [out, in, kh, kw])");
  const int64_t o = w.dim(0), i = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  Tensor out = Tensor::empty({o, kh, kw, i}, DType::F32);
  const Tensor src = w.contiguous();
  const float* s = src.data<float>();
  float* d = out.data<float>();
  for (int64_t a = 0; a < o; ++a)
    for (int64_t b = 0; b < i; ++b)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x) d[((a * kh + y) * kw + x) * i + b] = s[((a * i + b) * kh + y) * kw + x];
  return out;
}

const char* bn_field(const std::string& torch) {
  if (torch == "weight") return "gamma";
  if (torch == "bias") return "beta";
  if (torch == "running_mean") return "running_mean";
  if (torch == "running_var") return "running_var";
  return nullptr;
}

}  // namespace

bool is_torchvision_resnet(const std::map<std::string, Tensor>& state_dict) {
  return state_dict.count("conv1.weight") && state_dict.count("bn1.weight") && state_dict.count("layer1.0.conv1.weight");
}

std::map<std::string, Tensor> from_torchvision_resnet(const std::map<std::string, Tensor>& state_dict,
                                                      const std::string& prefix, std::vector<std::string>* skipped) {
  static const std::regex stem_bn(R"(bn1\.(\w+))");
  static const std::regex unit_conv(R"(layer(\d)\.(\d+)\.conv(\d)\.weight)");
  static const std::regex unit_bn(R"(layer(\d)\.(\d+)\.bn(\d)\.(\w+))");
  static const std::regex shortcut(R"(layer(\d)\.(\d+)\.downsample\.([01])\.(\w+))");
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : state_dict) {
    std::smatch m;
    std::string ours;
    bool conv = false;
    if (name == "conv1.weight") {
      ours = "conv1.conv.weight", conv = true;
    } else if (std::regex_match(name, m, stem_bn) && bn_field(m[1])) {
      ours = std::string("conv1.bn.") + bn_field(m[1]);
    } else if (std::regex_match(name, m, unit_conv)) {
      ours = "layer" + m[1].str() + "." + m[2].str() + ".conv" + m[3].str() + ".conv.weight", conv = true;
    } else if (std::regex_match(name, m, unit_bn) && bn_field(m[4])) {
      ours = "layer" + m[1].str() + "." + m[2].str() + ".conv" + m[3].str() + ".bn." + bn_field(m[4]);
    } else if (std::regex_match(name, m, shortcut)) {
      const std::string unit = "layer" + m[1].str() + "." + m[2].str() + ".shortcut.";
      if (m[3] == "0" && m[4] == "weight") ours = unit + "conv.weight", conv = true;
      else if (m[3] == "1" && bn_field(m[4])) ours = unit + "bn." + bn_field(m[4]);
    }
    if (ours.empty()) {
      if (skipped) skipped->push_back(name);
      continue;
    }
    out.emplace(prefix + ours, conv ? to_ohwi(t) : t);
  }
  return out;
}

}  // namespace trainer::models
