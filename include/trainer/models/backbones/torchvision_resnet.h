// A torchvision ResNet's state_dict (saved as safetensors) in this project's names and layouts,
// so its weights can seed a ResNet backbone: conv1.weight -> <prefix>conv1.conv.weight,
// bn1.{weight,bias,running_mean,running_var} -> <prefix>conv1.bn.{gamma,beta,running_mean,
// running_var}, layerS.B.convK / bnK -> <prefix>layerS.B.convK.{conv,bn}.*, layerS.B.downsample.
// {0,1} -> <prefix>layerS.B.shortcut.{conv,bn}.*, with convolution weights transposed from
// PyTorch's OIHW to OHWI. torchvision's ResNet is the v1.5 layout; its weights have the same
// shapes in every layout (src/models/README.md), so they load into TF-slim's too.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "trainer/core/tensor.h"

namespace trainer::models {

// Whether the names look like a torchvision ResNet's (conv1.weight, layer1.0.conv1.weight, ...).
bool is_torchvision_resnet(const std::map<std::string, Tensor>& state_dict);

// The mapped tensors; the names left out (the classifier `fc.*`, batchnorm's
// `num_batches_tracked` counters, anything unknown) go to `skipped`.
std::map<std::string, Tensor> from_torchvision_resnet(const std::map<std::string, Tensor>& state_dict,
                                                      const std::string& prefix, std::vector<std::string>* skipped);

}  // namespace trainer::models
