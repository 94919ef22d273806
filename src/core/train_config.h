// The train task's configuration for one point: the spec's `train` message
// with the point's values overriding fields of the same name, and defaults
// filled in. Torch-free, so `sweep init` can check overrides.
#pragma once

#include <string>
#include <vector>

#include "core/points.h"
#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

// Names of TrainTask fields a sweep parameter may override.
std::vector<std::string> TrainFieldNames();

// Sets `field` of `task` from the text `value`, type-checked. InvalidArgument
// names the field's type (or lists the valid fields for an unknown one).
Status SetTrainField(TrainTask* task, const std::string& field, const std::string& value);

// Documented defaults; then checks (model name, positive epochs, ...).
void ApplyTrainDefaults(TrainTask* task);
Status CheckTrainTask(const TrainTask& task);

// The point's effective config: base + overrides + defaults, checked.
Result<TrainTask> TrainTaskForPoint(const TrainTask& base, const Point& point);

}  // namespace claimsweep
