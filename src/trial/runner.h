// TrialRunner: the body of `trial`. Claims trials one after another (up to
// claim.trials_per_job), runs each, and records how it ended.
#pragma once

#include <string>

#include "core/claim.h"
#include "core/points.h"
#include "spec.pb.h"

namespace claimsweep {

// Exit codes of `trial` (and of `sweep`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 75;  // EX_TEMPFAIL: resubmit me

class TrialRunner {
 public:
  TrialRunner(Env* env, std::string sweep_dir, SweepSpec spec, PointSpace points);
  // Returns the process exit code.
  int Run();

 private:
  enum class Outcome { kDone, kInterrupted, kFailed, kLost };
  Outcome RunOne(Claimer* claimer, const Claim& claim);
  Outcome Record(Claimer* claimer, const Claim& claim, const Point& pt, int exit_code, int term_signal,
                 double seconds, const std::string& started_at, bool lost, const std::string& lost_reason);

  Env* env_;
  SweepLayout layout_;
  SweepSpec spec_;
  PointSpace points_;
};

}  // namespace claimsweep
