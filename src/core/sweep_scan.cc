#include "core/sweep_scan.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "core/publish.h"
#include "core/spec.h"
#include "core/token.h"

namespace claimsweep {

int64_t ScanClock(Env* env, const SweepLayout& layout, bool* from_fs) {
  int64_t now_ns = 0;
  const std::string probe = layout.clock_probe_path(ProcessToken());
  *from_fs = env->FsNow(probe, &now_ns).ok();
  if (*from_fs) {
    env->RemoveFile(probe).IgnoreError();
    return now_ns;
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ListClaimedIndices(Env* env, const SweepLayout& layout, uint64_t num_points,
                          std::vector<uint64_t>* out) {
  out->clear();
  std::vector<std::string> names;
  CS_RETURN_IF_ERROR(env->ListDir(layout.trials_dir(), &names));
  for (const auto& n : names) {
    uint64_t i = 0;
    if (layout.ParseEntryName(n, &i) && i < num_points) out->push_back(i);
  }
  std::sort(out->begin(), out->end());
  return Status::OK();
}

void ParallelFor(size_t n, int threads, size_t per_thread, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k; (k = next.fetch_add(1)) < n;) fn(k);
  };
  const size_t wanted = n / std::max<size_t>(1, per_thread) + 1;
  const int count =
      static_cast<int>(std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(threads), wanted)));
  std::vector<std::thread> pool;
  for (int w = 1; w < count; ++w) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

namespace {

// The files of an unfinished trial that summary, report and watch read
// besides claimsweep's records: a link or FIFO there makes the trial broken.
std::string TaskFileProblem(Env* env, const SweepLayout& layout, const SweepSpec& spec,
                            uint64_t index, uint32_t attempt) {
  std::vector<std::string> paths = {MetricsCsvPath(spec, layout, index)};
  if (attempt > 0) paths.push_back(layout.log_path(index, attempt));
  for (const std::string& p : paths) {
    FileInfo info;
    Status s = env->Stat(p, &info);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return s.message();
    if ((info.mode & S_IFMT) != S_IFREG) {
      return layout.relative(p) + " is " + FileTypeName(info.mode) +
             ", not a regular file; claimsweep never follows or reads such entries";
    }
  }
  return "";
}

}  // namespace

Status ScanSweep(Env* env, const SweepLayout& layout, const SweepSpec& spec, uint64_t num_points,
                 SweepScan* scan) {
  *scan = SweepScan();
  scan->total = num_points;
  const int64_t now_ns = ScanClock(env, layout, &scan->clock_from_filesystem);
  std::vector<uint64_t> indices;
  CS_RETURN_IF_ERROR(ListClaimedIndices(env, layout, num_points, &indices));
  std::vector<ScannedTrial> found;
  ScanEntries(env, layout, spec, indices, now_ns, &found);
  for (size_t k = 0; k < found.size(); ++k) {
    if (found[k].derived.state == TrialState::kPending) continue;
    ++scan->counts[static_cast<int>(found[k].derived.state)];
    scan->trials.push_back(found[k]);
  }
  scan->counts[static_cast<int>(TrialState::kPending)] = num_points - scan->trials.size();
  return Status::OK();
}

void ScanEntries(Env* env, const SweepLayout& layout, const SweepSpec& spec,
                 const std::vector<uint64_t>& indices, int64_t now_ns,
                 std::vector<ScannedTrial>* out) {
  // Verdicts of the observers (leases/<i>.<k>.stale): such a trial is stale
  // whatever its file time says (on a client-stamped filesystem a skewed
  // node's stamps can look fresh, or old while it runs).
  std::map<uint64_t, uint32_t> judged;
  std::vector<LeaseEntry> entries;
  if (ListLeaseEntries(env, layout, &entries).ok()) {
    for (const LeaseEntry& e : entries) {
      if (e.mark == LeaseMark::kStale) judged[e.index] = std::max(judged[e.index], e.attempt);
    }
  }
  // Most trials of a big sweep are done: one stat of result.json says so
  // (done wins over every other file). Only the others are listed.
  std::vector<ScannedTrial>& found = *out;
  found.assign(indices.size(), ScannedTrial());
  ParallelFor(indices.size(), 8, 256, [&](size_t k) {
    const uint64_t i = indices[k];
    found[k].index = i;
    FileInfo info;
    if (env->Stat(layout.result_path(i), &info).ok() && (info.mode & S_IFMT) == S_IFREG) {
      if (info.size == 0) {  // the stat says so for free; a record is never empty
        found[k].derived.state = TrialState::kBroken;
        found[k].derived.problem =
            layout.relative(layout.result_path(i)) +
            " is empty: a result is written whole (fsync, then link), so it was damaged";
        return;
      }
      found[k].derived.state = TrialState::kDone;
      found[k].derived.latest_attempt =
          0;  // `sweep status` reads the attempts of the rows it shows
      return;
    }
    TrialSnapshot snap;
    ReadTrialSnapshot(env, layout, i, &snap).IgnoreError();  // problems land in snap.problem
    DerivedState& d = found[k].derived;
    d = DeriveState(snap, spec.claim(), now_ns);
    auto verdict = judged.find(i);
    if (d.state == TrialState::kRunning && verdict != judged.end() &&
        verdict->second >= d.latest_attempt)
      d.state = TrialState::kStale;
    if (d.state == TrialState::kPending || d.state == TrialState::kBroken ||
        d.state == TrialState::kDone)
      return;
    d.problem = TaskFileProblem(env, layout, spec, i, d.latest_attempt);
    if (!d.problem.empty()) d.state = TrialState::kBroken;
  });
}

}  // namespace claimsweep
