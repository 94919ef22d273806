// The model zoo against torchvision's reference architectures.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "core/catalogue.h"
#include "models/models.h"

namespace claimsweep {
namespace {

int64_t Params(const std::string& name, int depth = 20, int in = 3, int classes = 10) {
  auto m = MakeModel(name, depth, in, classes);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? CountParameters(*m->module) : -1;
}

// The catalogue spec validation checks names against (core/catalogue.h) and
// the zoo agree: every catalogued model builds, anything else is refused
// naming the catalogue.
TEST(Models, EveryCataloguedModelBuildsAndNothingElse) {
  for (const ModelInfo& m : ModelCatalogue()) {
    auto made = MakeModel(m.name, 8, 3, 10);
    EXPECT_TRUE(made.ok()) << m.name << ": " << made.status().ToString();
  }
  auto bad = MakeModel("resnet19", 8, 3, 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(ModelNamesList()), std::string::npos)
      << bad.status().ToString();
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

// The checkpoint holds every parameter and buffer (BN running stats and
// num_batches_tracked included): as many tensors as torchvision's state_dict,
// len(torchvision.models.<name>(num_classes=10).state_dict()).
TEST(Models, StateDictSizeMatchesTorchvision) {
  for (const auto& [name, tensors] :
       std::vector<std::pair<std::string, size_t>>{{"squeezenet1_0", 52},
                                                   {"squeezenet1_1", 52},
                                                   {"resnet18", 122},
                                                   {"resnet34", 218},
                                                   {"resnet50", 320}}) {
    auto m = MakeModel(name, 0, 3, 10);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->module->named_parameters().size() + m->module->named_buffers().size(), tensors)
        << name;
  }
}

// ResNet-20 for CIFAR with projection shortcuts ("option B"): 3x3 conv (432) +
// BN (32), 9 basic blocks (16: 3x(2304+32+2304+32), 32: 4608+64+9216+64 then
// 2x(9216+64+9216+64), 64: 18432+128+36864+128 then 2x(36864+128+36864+128)),
// two 1x1 projections (16->32: 512+64, 32->64: 2048+128), fc 64*10+10.
// Cross-checked with a python reference built from torchvision's BasicBlock
// (depth 32: 466906, 56: 855770, 110: 1730714).
TEST(Models, CifarResNetDepthFollows6nPlus2) {
  EXPECT_EQ(Params("resnet_cifar", 20), 272474);
  EXPECT_EQ(Params("resnet_cifar", 32), 466906);
  EXPECT_EQ(Params("resnet_cifar", 56), 855770);
  // One input channel: the stem conv loses 2 x (16 x 3 x 3) weights.
  EXPECT_EQ(Params("resnet_cifar", 20, 1), 272474 - 288);
  for (int depth : {21, 18, 2, 0, -4}) {
    auto bad = MakeModel("resnet_cifar", depth, 3, 10);
    ASSERT_FALSE(bad.ok()) << depth;
    EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("6n+2"), std::string::npos) << bad.status().message();
  }
}

TEST(Models, BadNamesAndShapesAreClearErrors) {
  auto unknown = MakeModel("vgg16", 0, 3, 10);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("vgg16"), std::string::npos);
  for (const char* valid :
       {"squeezenet1_0", "squeezenet1_1", "resnet_cifar", "resnet18", "resnet34", "resnet50"}) {
    EXPECT_NE(unknown.status().message().find(valid), std::string::npos) << valid;
  }
  EXPECT_FALSE(MakeModel("resnet18", 0, 0, 10).ok());
  EXPECT_FALSE(MakeModel("resnet18", 0, 3, 1).ok());
}

TEST(Models, OutputShapesForCifarAndMnistShapedInputs) {
  torch::NoGradGuard g;
  for (const std::string name : {"squeezenet1_0", "squeezenet1_1", "resnet18", "resnet_cifar"}) {
    auto m = MakeModel(name, 20, 3, 10);
    ASSERT_TRUE(m.ok());
    m->module->eval();
    EXPECT_EQ(m->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}))
        << name;
    auto gray = MakeModel(name, 20, 1, 7);
    ASSERT_TRUE(gray.ok());
    gray->module->eval();
    EXPECT_EQ(gray->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 7}))
        << name;
  }
}

// Training reaches every parameter: no registered-but-unused submodule.
TEST(Models, BackwardReachesEveryParameter) {
  for (const std::string name : {"squeezenet1_1", "resnet_cifar"}) {
    auto m = MakeModel(name, 20, 3, 10);
    ASSERT_TRUE(m.ok());
    m->module->train();
    auto loss = torch::nn::functional::cross_entropy(m->forward(torch::randn({2, 3, 32, 32})),
                                                     torch::tensor({1, 7}));
    loss.backward();
    for (const auto& p : m->module->named_parameters()) {
      EXPECT_TRUE(p.value().grad().defined()) << name << " " << p.key();
    }
  }
}

// A checkpoint written through serialize::OutputArchive restores the same
// function (BN running stats included) into a freshly built model.
TEST(Models, ArchiveRoundTripRestoresOutputs) {
  torch::manual_seed(1);
  auto a = MakeModel("resnet_cifar", 20, 3, 10);
  ASSERT_TRUE(a.ok());
  a->module->train();
  a->forward(torch::randn({4, 3, 32, 32}) + 1.0);  // move the running stats off their init
  std::stringstream bytes;
  torch::serialize::OutputArchive out;
  a->module->save(out);
  out.save_to(bytes);

  auto b = MakeModel("resnet_cifar", 20, 3, 10);
  ASSERT_TRUE(b.ok());
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  b->module->load(in);

  torch::NoGradGuard g;
  a->module->eval();
  b->module->eval();
  auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
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
