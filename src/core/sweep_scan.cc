#include "core/sweep_scan.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

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
  // Most trials of a big sweep are done: one stat of result.json says so
  // (done wins over every other file). Only the others are listed. Several
  // threads: on a network filesystem each call is a round trip.
  std::vector<ScannedTrial> found(indices.size());
  std::vector<Status> errors(indices.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k; (k = next.fetch_add(1)) < indices.size();) {
      const uint64_t i = indices[k];
      found[k].index = i;
      FileInfo info;
      if (env->Stat(layout.result_path(i), &info).ok()) {
        found[k].derived.state = TrialState::kDone;
        found[k].derived.latest_attempt = 0;  // filled in by ReadTrialDetails when shown
        continue;
      }
      TrialSnapshot snap;
      errors[k] = ReadTrialSnapshot(env, layout, i, &snap);
      found[k].derived = DeriveState(snap, policy, now_ns);
    }
  };
  const int threads = std::max(1, std::min<int>(8, static_cast<int>(indices.size() / 256) + 1));
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  for (size_t k = 0; k < found.size(); ++k) {
    CS_RETURN_IF_ERROR(errors[k]);
    if (found[k].derived.state == TrialState::kPending) continue;
    ++scan->counts[static_cast<int>(found[k].derived.state)];
    scan->trials.push_back(found[k]);
  }
  scan->counts[static_cast<int>(TrialState::kPending)] = num_points - scan->trials.size();
  return Status::OK();
}

}  // namespace claimsweep
