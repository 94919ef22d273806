// RunTraining for builds without libtorch (CLAIMSWEEP_WITH_TORCH=OFF): command
// tasks work, train tasks fail with a clear message.
#include "train/train_task.h"

namespace claimsweep {

Status RunTraining(const TrainRequest&, TrainOutcome*) {
  return Status::Unsupported("this `trial` was built without libtorch (CLAIMSWEEP_WITH_TORCH=OFF); rebuild with it");
}

}  // namespace claimsweep
