#include <gtest/gtest.h>

#include "core/trial_state.h"

namespace claimsweep {
namespace {

constexpr int64_t kSec = 1000000000;

ClaimPolicy Policy() {
  ClaimPolicy p;
  p.set_lease_seconds(60);
  p.set_max_attempts(2);
  return p;
}

TrialSnapshot Open(uint32_t attempts, int64_t heartbeat_ns) {
  TrialSnapshot s;
  s.exists = true;
  for (uint32_t k = 1; k <= attempts; ++k) s.attempts.push_back({k, true, false, false});
  s.heartbeat_ns = heartbeat_ns;
  return s;
}

TEST(TrialState, PendingRunningStaleByFilesystemTime) {
  EXPECT_EQ(DeriveState(TrialSnapshot(), Policy(), 0).state, TrialState::kPending);
  const int64_t now = 1000 * kSec;
  EXPECT_EQ(DeriveState(Open(1, now - 59 * kSec), Policy(), now).state, TrialState::kRunning);
  DerivedState d = DeriveState(Open(1, now - 61 * kSec), Policy(), now);
  EXPECT_EQ(d.state, TrialState::kStale);
  EXPECT_NEAR(d.heartbeat_age_s, 61, 1e-6);
  // A heartbeat "from the future" (skewed writer clock) is simply young.
  EXPECT_EQ(DeriveState(Open(1, now + 5 * kSec), Policy(), now).state, TrialState::kRunning);
}

TEST(TrialState, ReleasedOrFailedWithAttemptsLeftIsInterrupted) {
  TrialSnapshot s = Open(1, -1);
  s.attempts[0].released = true;
  EXPECT_EQ(DeriveState(s, Policy(), 0).state, TrialState::kInterrupted);
  s.attempts[0].released = false;
  s.attempts[0].failed = true;
  DerivedState d = DeriveState(s, Policy(), 0);
  EXPECT_EQ(d.state, TrialState::kInterrupted);
  EXPECT_EQ(d.failures, 1u);
}

TEST(TrialState, FailedWhenAttemptsExhaustedButInterruptionsDoNotCount) {
  TrialSnapshot s = Open(3, -1);
  s.attempts[0].failed = true;
  s.attempts[1].released = true;  // a walltime interruption
  s.attempts[2].failed = true;
  DerivedState d = DeriveState(s, Policy(), 0);
  EXPECT_EQ(d.state, TrialState::kFailed);
  EXPECT_EQ(d.failures, 2u);
  EXPECT_EQ(d.latest_attempt, 3u);
  s.attempts[2].failed = false;
  s.attempts[2].released = true;
  EXPECT_EQ(DeriveState(s, Policy(), 0).state, TrialState::kInterrupted);
}

TEST(TrialState, ResultWinsOverEverythingAndStopOverOpenAttempts) {
  TrialSnapshot s = Open(2, 0);
  s.has_stop = true;
  EXPECT_EQ(DeriveState(s, Policy(), 0).state, TrialState::kStopped);
  s.has_result = true;
  EXPECT_EQ(DeriveState(s, Policy(), 1000 * kSec).state, TrialState::kDone);
}

TEST(TrialState, OpenAttemptWithoutHeartbeatFileIsStale) {
  EXPECT_EQ(DeriveState(Open(1, -1), Policy(), 0).state, TrialState::kStale);
}

}  // namespace
}  // namespace claimsweep
