// The one catalogue of what a train task can name: models, optimizers and
// learning-rate schedules, and the columns of the metrics.csv it writes.
// Torch-free: spec validation (core/train_config) and model and optimizer
// construction (models/, models/trainer.cc) both read it, so a name is
// known, or refused, in one place.
#pragma once

#include <string>
#include <vector>

namespace claimsweep {

struct ModelInfo {
  const char* name;
  bool takes_depth;  // resnet_cifar: 6n+2 layers
};

const std::vector<ModelInfo>& ModelCatalogue();
const std::vector<std::string>& OptimizerNames();  // sgd, adam, adamw
const std::vector<std::string>& ScheduleNames();   // constant, step, cosine

// The header of a train trial's metrics.csv, in order: "epoch", then one
// value per finished epoch (models/trainer.cc writes exactly these; spec
// validation checks an early_stopping metric against them).
const std::vector<std::string>& TrainMetricsColumns();

bool IsModel(const std::string& name);
bool ModelTakesDepth(const std::string& name);
bool IsOptimizer(const std::string& name);
bool IsSchedule(const std::string& name);

// "a, b, c": for messages that list the valid names.
std::string ModelNamesList();
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace claimsweep
