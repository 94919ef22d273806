#include "core/trial_state.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>

namespace claimsweep {

const char* TrialStateName(TrialState s) {
  switch (s) {
    case TrialState::kPending: return "pending";
    case TrialState::kRunning: return "running";
    case TrialState::kInterrupted: return "interrupted";
    case TrialState::kStale: return "stale";
    case TrialState::kDone: return "done";
    case TrialState::kFailed: return "failed";
    case TrialState::kStopped: return "stopped";
    case TrialState::kBroken: return "broken";
    case TrialState::kBlocked: return "blocked";
  }
  return "?";
}

namespace {

// "trials/000003/result.json is a FIFO, not a regular file"
std::string WrongType(const SweepLayout& layout, const std::string& path, uint32_t type,
                      bool want_dir) {
  return layout.relative(path) + " is " + FileTypeName(type) +
         (want_dir ? ", not a directory" : ", not a regular file") +
         "; claimsweep never follows or reads such entries";
}

}  // namespace

Status ReadTrialSnapshot(Env* env, const SweepLayout& layout, uint64_t index, TrialSnapshot* snap) {
  *snap = TrialSnapshot();
  std::vector<DirEntry> entries;
  Status s = env->ListDirEntries(layout.trial_dir(index), &entries);
  if (s.IsNotFound()) return Status::OK();
  snap->exists = true;
  if (!s.ok()) {
    snap->problem = s.message();
    return Status::OK();
  }
  std::map<uint32_t, AttemptFiles> attempts;
  for (const DirEntry& e : entries) {
    uint32_t k = 0;
    AttemptEntry kind;
    bool ours = true, want_dir = false;
    switch (ParseTrialEntry(e.name, &k, &kind)) {
      case TrialEntry::kResult: snap->has_result = true; break;
      case TrialEntry::kStop: snap->has_stop = true; break;
      case TrialEntry::kRetryMarker: snap->retried_after = std::max(snap->retried_after, k); break;
      case TrialEntry::kAttempt: {
        AttemptFiles& a = attempts[k];
        a.number = k;
        if (kind == AttemptEntry::kDir) a.has_dir = want_dir = true;
        if (kind == AttemptEntry::kReleased) a.released = true;
        if (kind == AttemptEntry::kFailed) a.failed = true;
        if (kind == AttemptEntry::kFatal) a.fatal = true;
        break;
      }
      case TrialEntry::kWork:
      case TrialEntry::kCheckpoints:
      case TrialEntry::kKept:
        want_dir = true;  // the task's own directory, a train task's checkpoints: never entered
                          // through a link
        break;
      case TrialEntry::kMetricsCsv:  // checked below like our records (from the listing's type, no
                                     // syscall)
        break;
      case TrialEntry::kUnordered:
      case TrialEntry::kOther:
        ours = false;  // the task's own files: not ours to judge
        break;
    }
    // Type 0: the filesystem did not say; the reads that follow check.
    const uint32_t want = want_dir ? S_IFDIR : S_IFREG;
    if (ours && e.type != 0 && e.type != want && snap->problem.empty()) {
      snap->problem = WrongType(layout, layout.trial_entry_path(index, e.name), e.type, want_dir);
    }
  }
  for (auto& [k, a] : attempts) snap->attempts.push_back(a);
  if (!snap->has_result && !snap->attempts.empty()) {
    const AttemptFiles& last = snap->attempts.back();
    if (last.has_dir && !last.released && !last.failed) {
      FileInfo info;
      s = env->Stat(layout.heartbeat_path(index, last.number), &info);
      if (s.ok() && (info.mode & S_IFMT) != S_IFREG && snap->problem.empty()) {
        snap->problem = WrongType(layout, layout.owner_path(index, last.number), info.mode, false);
      } else if (s.ok()) {
        snap->heartbeat_ns = info.mtime_ns;
      } else if (!s.IsNotFound() && snap->problem.empty()) {
        snap->problem = s.message();
      }
    }
  }
  return Status::OK();
}

namespace {

// Every state but running/stale; *open when the latest attempt is open and
// only its heartbeat can tell which of the two it is.
DerivedState DeriveClosedState(const TrialSnapshot& snap, const ClaimPolicy& policy, bool* open) {
  *open = false;
  DerivedState d;
  if (!snap.exists) return d;  // pending
  bool fatal = false;
  if (!snap.problem.empty()) {
    d.state = TrialState::kBroken;
    d.problem = snap.problem;
    for (const AttemptFiles& a : snap.attempts) {
      if (a.has_dir) d.latest_attempt = std::max(d.latest_attempt, a.number);
    }
    return d;
  }
  for (const AttemptFiles& a : snap.attempts) {
    // A fatal marker without its record (a crash between the two) still counts.
    if ((a.failed || a.fatal) && a.number > snap.retried_after) ++d.failures;
    if (a.fatal && a.number > snap.retried_after) fatal = true;
    if (a.has_dir) d.latest_attempt = std::max(d.latest_attempt, a.number);
  }
  if (snap.has_result) {
    d.state = TrialState::kDone;
    return d;
  }
  if (snap.has_stop) {
    d.state = TrialState::kStopped;
    return d;
  }
  const uint32_t max_attempts = policy.max_attempts() > 0 ? policy.max_attempts() : 3;
  if (fatal || d.failures >= max_attempts) {
    d.state = TrialState::kFailed;
    return d;
  }
  if (d.latest_attempt == 0) {
    // A trial directory with no attempt (e.g. after `sweep reset`): claimable.
    d.state = TrialState::kInterrupted;
    return d;
  }
  const AttemptFiles& last =
      *std::find_if(snap.attempts.rbegin(), snap.attempts.rend(),
                    [&](const AttemptFiles& a) { return a.number == d.latest_attempt; });
  if (last.released || last.failed || last.fatal) {
    d.state = TrialState::kInterrupted;
    return d;
  }
  *open = true;
  d.state = TrialState::kRunning;
  return d;
}

}  // namespace

DerivedState DeriveState(const TrialSnapshot& snap, const ClaimPolicy& policy, int64_t fs_now_ns) {
  bool open = false;
  DerivedState d = DeriveClosedState(snap, policy, &open);
  if (!open) return d;
  if (snap.heartbeat_ns < 0) {
    // An open attempt without a heartbeat file cannot be renewed by anyone:
    // its owner died while publishing it. Treat as expired.
    d.state = TrialState::kStale;
    return d;
  }
  d.heartbeat_age_s = static_cast<double>(fs_now_ns - snap.heartbeat_ns) / 1e9;
  const double lease = policy.lease_seconds() > 0 ? policy.lease_seconds() : 300;
  d.state = d.heartbeat_age_s > lease ? TrialState::kStale : TrialState::kRunning;
  return d;
}

DerivedState DeriveClaimState(const TrialSnapshot& snap, const ClaimPolicy& policy,
                              bool judged_stale) {
  bool open = false;
  DerivedState d = DeriveClosedState(snap, policy, &open);
  if (open) d.state = judged_stale ? TrialState::kStale : TrialState::kRunning;
  return d;
}

}  // namespace claimsweep
