// Learning-rate schedules: a pure function of (config, epoch, step), so a
// resumed run needs no scheduler state.
#include <cmath>

#include "train/train_task.h"

namespace claimsweep {

double LearningRateAt(const TrainTask& t, int epoch, int64_t step, int64_t steps_per_epoch) {
  const double spe = static_cast<double>(std::max<int64_t>(1, steps_per_epoch));
  const double now = epoch * spe + static_cast<double>(step);
  const double warmup = t.warmup_epochs() * spe;
  if (warmup > 0 && now < warmup) return t.lr() * (now + 1) / warmup;
  if (t.schedule() == "step") {
    const int k = t.step_size() > 0 ? epoch / t.step_size() : 0;
    return t.lr() * std::pow(t.gamma(), k);
  }
  if (t.schedule() == "cosine") {
    const double total = t.epochs() * spe;
    const double frac = total > warmup ? (now - warmup) / (total - warmup) : 1.0;
    return t.lr() * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, std::max(0.0, frac))));
  }
  return t.lr();
}

}  // namespace claimsweep
