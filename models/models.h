// The model zoo: SqueezeNet 1.0/1.1 and ResNet (ImageNet form 18/34/50, CIFAR
// form 6n+2), matching torchvision's architectures and initialization. Every
// model is a torch::nn::Module whose submodules are registered under
// torchvision's names (conv1, layer1.0.bn2, features.3.squeeze, ...): those
// names are the checkpoint format, so renaming one is a format change.
#pragma once

#include <torch/nn/module.h>  // not <torch/torch.h>: users bring that (via the PCH)

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace claimsweep {

// A model as a trainer sees it. `module` is the root torch::nn::Module (its
// named submodules are the checkpoint format): use it for parameters(),
// to(device), train()/eval() and serialize::OutputArchive/InputArchive.
// `forward` maps images [N, in_channels, H, W] (float) to logits
// [N, num_classes]; it shares the module's parameters. Copying a handle
// shares the model, it does not clone it.
struct ModelHandle {
  std::shared_ptr<torch::nn::Module> module;
  std::function<torch::Tensor(torch::Tensor)> forward;
};

// Builds a freshly initialized model (torchvision's initialization, drawn
// from libtorch's global RNG: seed it with torch::manual_seed first).
//   name: squeezenet1_0 | squeezenet1_1 | resnet_cifar | resnet18 | resnet34 | resnet50
//   depth: used by resnet_cifar only, and must be 6n+2 (20, 32, 44, 56, 110, ...);
//          ignored by the others.
// Returns InvalidArgument for an unknown name (the message lists the valid
// ones), a bad depth, in_channels < 1 or num_classes < 2.
// Input size: as torchvision, SqueezeNet 1.1 needs H, W >= 17 and 1.0 needs
// >= 21 (three ceil-mode 3x3 max-pools after a strided stem); ResNets take
// small images (CIFAR's 32x32, MNIST's 28x28) too.
Result<ModelHandle> MakeModel(const std::string& name, int depth, int in_channels, int num_classes);

// Number of scalars in the registered parameters (BN running stats and other
// buffers excluded), as torchvision's sum(p.numel() for p in m.parameters()).
int64_t CountParameters(const torch::nn::Module& m);

}  // namespace claimsweep
