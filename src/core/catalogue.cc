#include "core/catalogue.h"

#include <algorithm>

namespace claimsweep {

const std::vector<ModelInfo>& ModelCatalogue() {
  static const std::vector<ModelInfo> m = {
      {"squeezenet1_0", false}, {"squeezenet1_1", false}, {"resnet_cifar", true},
      {"resnet18", false},      {"resnet34", false},      {"resnet50", false},
  };
  return m;
}

const std::vector<std::string>& OptimizerNames() {
  static const std::vector<std::string> o = {"sgd", "adam", "adamw"};
  return o;
}

const std::vector<std::string>& ScheduleNames() {
  static const std::vector<std::string> s = {"constant", "step", "cosine"};
  return s;
}

const std::vector<std::string>& TrainMetricsColumns() {
  static const std::vector<std::string> c = {"epoch",         "train_loss",  "train_acc",
                                             "val_loss",      "val_acc",     "lr",
                                             "epoch_seconds", "images_per_s"};
  return c;
}

bool IsModel(const std::string& name) {
  const auto& m = ModelCatalogue();
  return std::any_of(m.begin(), m.end(), [&](const ModelInfo& i) { return name == i.name; });
}

bool ModelTakesDepth(const std::string& name) {
  for (const ModelInfo& i : ModelCatalogue()) {
    if (name == i.name) return i.takes_depth;
  }
  return false;
}

bool IsOptimizer(const std::string& name) {
  return std::find(OptimizerNames().begin(), OptimizerNames().end(), name) !=
         OptimizerNames().end();
}

bool IsSchedule(const std::string& name) {
  return std::find(ScheduleNames().begin(), ScheduleNames().end(), name) != ScheduleNames().end();
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string ModelNamesList() {
  std::vector<std::string> names;
  for (const ModelInfo& i : ModelCatalogue()) names.push_back(i.name);
  return JoinNames(names);
}

}  // namespace claimsweep
