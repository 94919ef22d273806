#include "core/sweep_scan.h"

#include <algorithm>
#include <chrono>

#include "core/token.h"

namespace claimsweep {

Status ScanSweep(Env* env, const SweepLayout& layout, const ClaimPolicy& policy, uint64_t num_points,
                 SweepScan* scan) {
  *scan = SweepScan();
  scan->total = num_points;
  int64_t now_ns = 0;
  const std::string probe = layout.tmp_dir() + "/clock." + ProcessToken();
  if (!env->FsNow(probe, &now_ns).ok()) {
    // Read-only access (e.g. a colleague's sweep): fall back to our clock.
    scan->clock_from_filesystem = false;
    now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  } else {
    env->RemoveFile(probe);
  }
  std::vector<std::string> names;
  CS_RETURN_IF_ERROR(env->ListDir(layout.trials_dir(), &names));
  std::vector<uint64_t> indices;
  for (const auto& n : names) {
    uint64_t i = 0;
    if (ParseTrialName(n, &i) && i < num_points) indices.push_back(i);
  }
  std::sort(indices.begin(), indices.end());
  for (uint64_t i : indices) {
    TrialSnapshot snap;
    CS_RETURN_IF_ERROR(ReadTrialSnapshot(env, layout, i, &snap));
    DerivedState d = DeriveState(snap, policy, now_ns);
    if (d.state == TrialState::kPending) continue;
    scan->trials.push_back({i, d});
    ++scan->counts[static_cast<int>(d.state)];
  }
  scan->counts[static_cast<int>(TrialState::kPending)] = num_points - scan->trials.size();
  return Status::OK();
}

}  // namespace claimsweep
