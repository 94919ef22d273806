// The model zoo against torchvision's reference architectures.
#include <gtest/gtest.h>

#include "models/models.h"

namespace claimsweep {
namespace {

int64_t Params(const std::string& name, int depth = 20, int in = 3, int classes = 10) {
  auto m = MakeModel(name, depth, in, classes);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? CountParameters(*m->module) : -1;
}

// Counts from torchvision 0.14 (Debian's python3-torchvision), num_classes=10:
//   sum(p.numel() for p in torchvision.models.<name>(num_classes=10).parameters())
TEST(Models, ParameterCountsMatchTorchvision) {
  EXPECT_EQ(Params("squeezenet1_1"), 727626);
  EXPECT_EQ(Params("resnet18"), 11181642);
  EXPECT_EQ(Params("squeezenet1_0"), 740554);
  EXPECT_EQ(Params("resnet34"), 21289802);
  EXPECT_EQ(Params("resnet50"), 23528522);
}

// ResNet-20 for CIFAR with projection shortcuts: 3x3 conv (432) + BN (32),
// 9 basic blocks, two 1x1 projections (16->32: 512+64, 32->64: 2048+128), fc 650.
TEST(Models, CifarResNetDepthFollows6nPlus2) {
  EXPECT_EQ(Params("resnet_cifar", 20), 272474);
  EXPECT_GT(Params("resnet_cifar", 56), Params("resnet_cifar", 20));
  auto bad = MakeModel("resnet_cifar", 21, 3, 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("6n+2"), std::string::npos);
  auto unknown = MakeModel("vgg16", 0, 3, 10);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("squeezenet1_1"), std::string::npos);
}

TEST(Models, OutputShapesForCifarAndMnistShapedInputs) {
  torch::NoGradGuard g;
  for (const std::string name : {"squeezenet1_0", "squeezenet1_1", "resnet18", "resnet_cifar"}) {
    auto m = MakeModel(name, 20, 3, 10);
    ASSERT_TRUE(m.ok());
    m->module->eval();
    EXPECT_EQ(m->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10})) << name;
    auto gray = MakeModel(name, 20, 1, 7);
    ASSERT_TRUE(gray.ok());
    gray->module->eval();
    EXPECT_EQ(gray->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 7})) << name;
  }
}

TEST(Models, SubmoduleNamesAreTorchvisions) {
  auto m = MakeModel("resnet18", 0, 3, 10);
  ASSERT_TRUE(m.ok());
  auto params = m->module->named_parameters();
  EXPECT_TRUE(params.contains("conv1.weight"));
  EXPECT_TRUE(params.contains("layer2.0.downsample.0.weight"));
  EXPECT_TRUE(params.contains("layer4.1.bn2.bias"));
  EXPECT_TRUE(params.contains("fc.weight"));
  auto s = MakeModel("squeezenet1_1", 0, 3, 10);
  EXPECT_TRUE(s->module->named_parameters().contains("features.3.expand3x3.weight"));
  EXPECT_TRUE(s->module->named_parameters().contains("classifier.1.weight"));
}

}  // namespace
}  // namespace claimsweep
