// The only library translation unit that includes libtorch (via models/torch_pch.h).
#include <torch/torch.h>

#include "models/models.h"

#include "core/catalogue.h"

namespace claimsweep {
namespace {

namespace nn = torch::nn;

nn::Conv2d Conv(int in, int out, int k, int stride = 1, int pad = 0, bool bias = true) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias));
}

// ---- SqueezeNet (Iandola et al. 2016; torchvision.models.squeezenet) --------

struct FireImpl : nn::Module {
  FireImpl(int in, int squeeze_planes, int e1, int e3)
      : squeeze(register_module("squeeze", Conv(in, squeeze_planes, 1))),
        expand1x1(register_module("expand1x1", Conv(squeeze_planes, e1, 1))),
        expand3x3(register_module("expand3x3", Conv(squeeze_planes, e3, 3, 1, 1))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = squeeze(x).relu_();  // in place, as torchvision's ReLU(inplace=True): a conv's gradient
                             // needs its input only
    return torch::cat({expand1x1(x).relu_(), expand3x3(x).relu_()}, 1);
  }
  nn::Conv2d squeeze, expand1x1, expand3x3;
};
TORCH_MODULE(Fire);

struct SqueezeNetImpl : nn::Module {
  SqueezeNetImpl(const std::string& version, int in_channels, int num_classes) {
    auto pool = [] { return nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).ceil_mode(true)); };
    if (version == "1_0") {
      features->push_back(Conv(in_channels, 96, 7, 2));
      features->push_back(nn::ReLU(true));
      features->push_back(pool());
      features->push_back(Fire(96, 16, 64, 64));
      features->push_back(Fire(128, 16, 64, 64));
      features->push_back(Fire(128, 32, 128, 128));
      features->push_back(pool());
      features->push_back(Fire(256, 32, 128, 128));
      features->push_back(Fire(256, 48, 192, 192));
      features->push_back(Fire(384, 48, 192, 192));
      features->push_back(Fire(384, 64, 256, 256));
      features->push_back(pool());
      features->push_back(Fire(512, 64, 256, 256));
    } else {
      features->push_back(Conv(in_channels, 64, 3, 2));
      features->push_back(nn::ReLU(true));
      features->push_back(pool());
      features->push_back(Fire(64, 16, 64, 64));
      features->push_back(Fire(128, 16, 64, 64));
      features->push_back(pool());
      features->push_back(Fire(128, 32, 128, 128));
      features->push_back(Fire(256, 32, 128, 128));
      features->push_back(pool());
      features->push_back(Fire(256, 48, 192, 192));
      features->push_back(Fire(384, 48, 192, 192));
      features->push_back(Fire(384, 64, 256, 256));
      features->push_back(Fire(512, 64, 256, 256));
    }
    final_conv = Conv(512, num_classes, 1);
    classifier->push_back(nn::Dropout(0.5));
    classifier->push_back(final_conv);
    classifier->push_back(nn::ReLU(true));
    classifier->push_back(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({1, 1})));
    register_module("features", features);
    register_module("classifier", classifier);
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<nn::Conv2d>()) {
        if (c == final_conv.get()) {
          nn::init::normal_(c->weight, 0.0, 0.01);
        } else {
          nn::init::kaiming_uniform_(c->weight);
        }
        if (c->bias.defined()) nn::init::zeros_(c->bias);
      }
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    return torch::flatten(classifier->forward(features->forward(x)), 1);
  }
  nn::Sequential features, classifier;
  nn::Conv2d final_conv{nullptr};
};
TORCH_MODULE(SqueezeNet);

// ---- ResNet (He et al. 2016; torchvision.models.resnet) ---------------------

struct BlockImpl : nn::Module {
  // Basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 x4) residual block; a
  // projection shortcut (1x1 conv + BN, "downsample") when the shape changes.
  BlockImpl(int in, int planes, int stride, bool bottleneck) : bottleneck_(bottleneck) {
    const int out = bottleneck ? planes * 4 : planes;
    if (bottleneck) {
      conv1 = register_module("conv1", Conv(in, planes, 1, 1, 0, false));
      bn1 = register_module("bn1", nn::BatchNorm2d(planes));
      conv2 = register_module("conv2", Conv(planes, planes, 3, stride, 1, false));
      bn2 = register_module("bn2", nn::BatchNorm2d(planes));
      conv3 = register_module("conv3", Conv(planes, out, 1, 1, 0, false));
      bn3 = register_module("bn3", nn::BatchNorm2d(out));
    } else {
      conv1 = register_module("conv1", Conv(in, planes, 3, stride, 1, false));
      bn1 = register_module("bn1", nn::BatchNorm2d(planes));
      conv2 = register_module("conv2", Conv(planes, planes, 3, 1, 1, false));
      bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    }
    if (stride != 1 || in != out) {
      downsample = register_module(
          "downsample", nn::Sequential(Conv(in, out, 1, stride, 0, false), nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    // In place, as torchvision's ReLU(inplace=True) and `out += identity`:
    // neither batch norm's nor addition's gradient needs the overwritten output.
    torch::Tensor y = bn1(conv1(x)).relu_();
    y = bn2(conv2(y));
    if (bottleneck_) y = bn3(conv3(y.relu_()));
    y += downsample ? downsample->forward(x) : x;
    return y.relu_();
  }
  bool bottleneck_;
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Block);

struct ResNetImpl : nn::Module {
  // ImageNet form: stem 7x7/2 + maxpool, four stages of 64..512 planes.
  // CIFAR form: stem 3x3, three stages of 16/32/64 planes, n basic blocks each.
  ResNetImpl(std::vector<int> blocks, bool bottleneck, bool cifar, int in_channels, int num_classes)
      : cifar_(cifar) {
    const int stem = cifar ? 16 : 64;
    conv1 = register_module("conv1", cifar ? Conv(in_channels, stem, 3, 1, 1, false)
                                           : Conv(in_channels, stem, 7, 2, 3, false));
    bn1 = register_module("bn1", nn::BatchNorm2d(stem));
    int in = stem;
    for (size_t s = 0; s < blocks.size(); ++s) {
      const int planes = stem << s;
      nn::Sequential layer;
      for (int b = 0; b < blocks[s]; ++b) {
        layer->push_back(Block(in, planes, (b == 0 && s > 0) ? 2 : 1, bottleneck));
        in = bottleneck ? planes * 4 : planes;
      }
      layers.push_back(register_module("layer" + std::to_string(s + 1), layer));
    }
    fc = register_module("fc", nn::Linear(in, num_classes));
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      }
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    x = bn1(conv1(x)).relu_();
    if (!cifar_) x = torch::max_pool2d(x, 3, 2, 1);
    for (auto& l : layers) x = l->forward(x);
    x = torch::adaptive_avg_pool2d(x, {1, 1});
    return fc(torch::flatten(x, 1));
  }
  bool cifar_;
  nn::Conv2d conv1{nullptr};
  nn::BatchNorm2d bn1{nullptr};
  std::vector<nn::Sequential> layers;
  nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet);

template <typename M>
ModelHandle Handle(M m) {
  return ModelHandle{m.ptr(), [m](torch::Tensor x) mutable { return m->forward(x); }};
}

}  // namespace

Result<ModelHandle> MakeModel(const std::string& name, int depth, int in_channels,
                              int num_classes) {
  if (in_channels < 1 || num_classes < 2) {
    return Status::InvalidArgument(
        "model '" + name + "' needs in_channels >= 1 and num_classes >= 2, got " +
        std::to_string(in_channels) + " and " + std::to_string(num_classes));
  }
  try {
    if (name == "squeezenet1_0") return Handle(SqueezeNet("1_0", in_channels, num_classes));
    if (name == "squeezenet1_1") return Handle(SqueezeNet("1_1", in_channels, num_classes));
    if (name == "resnet18")
      return Handle(ResNet(std::vector<int>{2, 2, 2, 2}, false, false, in_channels, num_classes));
    if (name == "resnet34")
      return Handle(ResNet(std::vector<int>{3, 4, 6, 3}, false, false, in_channels, num_classes));
    if (name == "resnet50")
      return Handle(ResNet(std::vector<int>{3, 4, 6, 3}, true, false, in_channels, num_classes));
    if (name == "resnet_cifar") {
      if (depth < 8 || (depth - 2) % 6 != 0) {
        return Status::InvalidArgument("resnet_cifar depth " + std::to_string(depth) +
                                       " is not 6n+2 with n >= 1 (use 20, 32, 44, 56, 110, ...)");
      }
      const int n = (depth - 2) / 6;
      return Handle(ResNet(std::vector<int>{n, n, n}, false, true, in_channels, num_classes));
    }
  } catch (const c10::Error& e) {
    // Allocation or option errors inside libtorch: report, do not crash the trial.
    return Status::InvalidArgument("building model '" + name +
                                   "' failed: " + e.what_without_backtrace());
  } catch (const std::exception& e) {  // e.g. std::bad_alloc for an absurd depth
    return Status::InvalidArgument("building model '" + name + "' failed: " + e.what());
  }
  return Status::InvalidArgument("unknown model '" + name + "'; one of: " + ModelNamesList());
}

int64_t CountParameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace claimsweep
