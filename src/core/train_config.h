// The train task's configuration for one point: the spec's `train` message
// with the point's values overriding fields of the same name, then defaults
// for the fields that are still absent. Torch-free, so `sweep init` checks
// every point exactly as the trainer will run it.
//
// Presence, not value, decides what is a default: every TrainTask field is
// proto3 `optional`, so `weight_decay: 0` (in `train {}` or as a sweep value)
// is used as written. Defaults depend on the optimizer (PyTorch's for Adam and
// AdamW, the CIFAR ResNet recipe for SGD); TrainDefaultsTable() lists them and
// the README prints the same table.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/points.h"
#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

// The most epochs a train task may run (train.epochs, or an early-stopping
// budget).
inline constexpr int kMaxTrainEpochs = 1000000;

// Names of TrainTask fields a sweep parameter may override.
std::vector<std::string> TrainFieldNames();

// Sets `field` of `task` from the text `value`, type-checked (the field is
// present afterwards, whatever its value). InvalidArgument names the field's
// type (or lists the valid fields for an unknown one).
Status SetTrainField(TrainTask* task, const std::string& field, const std::string& value);

// Fills every absent field that applies to the task's optimizer, schedule and
// model with its default. Fields that do not apply stay absent.
void ApplyTrainDefaults(TrainTask* task);

// What the trainer requires of an effective config (after defaults): names,
// ranges, finiteness, and no field set that the optimizer, schedule or model
// would ignore (a table labelled "momentum 0.9" must not hide an Adam run).
Status CheckTrainTask(const TrainTask& task);

// The point's effective config: base + overrides + defaults, checked.
Result<TrainTask> TrainTaskForPoint(const TrainTask& base, const Point& point);

// One row per default: field, and its value for sgd / adam / adamw ("" where
// the field does not apply). For the README and `sweep validate`.
struct TrainDefault {
  const char* field;
  const char* sgd;
  const char* adam;
  const char* adamw;
  const char* note;
};
const std::vector<TrainDefault>& TrainDefaultsTable();

// The effective config as one JSON object line (every present field).
std::string TrainConfigJson(const TrainTask& task);

// Checks many points' configs fast: each (field, value) is parsed once.
class TrainConfigChecker {
 public:
  explicit TrainConfigChecker(TrainTask base) : base_(std::move(base)) {}
  // The effective config for these values (spec order), or why not.
  Result<TrainTask> For(const std::vector<std::pair<std::string, std::string>>& values);

 private:
  TrainTask base_;
  std::map<std::pair<std::string, std::string>, Result<TrainTask>> parsed_;
};

}  // namespace claimsweep
