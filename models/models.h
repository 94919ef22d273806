// The model zoo: SqueezeNet 1.0/1.1 and ResNet (ImageNet form 18/34/50, CIFAR
// form 6n+2), matching torchvision's architectures and initialization. Every
// model is a torch::nn::Module whose submodules are registered under
// torchvision's names (conv1, layer1.0.bn2, features.3.squeeze, ...): those
// names are the checkpoint format, so renaming one is a format change.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace claimsweep {

struct ModelHandle {
  std::shared_ptr<torch::nn::Module> module;           // parameters, to(), train(), save()
  std::function<torch::Tensor(torch::Tensor)> forward;  // logits [N, classes]
};

// name: squeezenet1_0 | squeezenet1_1 | resnet_cifar | resnet18 | resnet34 | resnet50.
// `depth` is used by resnet_cifar only (6n+2). InvalidArgument lists the names.
Result<ModelHandle> MakeModel(const std::string& name, int depth, int in_channels, int num_classes);

int64_t CountParameters(const torch::nn::Module& m);

}  // namespace claimsweep
