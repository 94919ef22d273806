#include "core/control.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <ctime>
#include <vector>

#include "core/number_format.h"
#include "core/publish.h"
#include "core/token.h"

namespace claimsweep {
namespace {

std::string Secs(double s) { return FormatDouble(s); }

// The order in which reset moves a trial's entries into the archive. The
// entries that decide the state go last, so that a reader (or a crash) in the
// middle sees the trial as it was (done, stopped, failed) until the very end,
// never as something a claimer would take over early.
int MoveOrder(const std::string& name, uint32_t* attempt) {
  AttemptEntry kind;
  uint32_t number = 0;
  *attempt = 0;
  switch (ParseTrialEntry(name, &number, &kind)) {
    case TrialEntry::kAttempt:
      *attempt = number;
      switch (kind) {
        case AttemptEntry::kDir: return 1;
        case AttemptEntry::kReleased: return 2;
        case AttemptEntry::kFailed:
        case AttemptEntry::kFatal: return 3;
      }
      return 3;
    case TrialEntry::kStop: return 4;
    case TrialEntry::kResult: return 5;
    case TrialEntry::kUnordered: return -1;  // where the directory stands in claim order: stays
    default:
      return 0;  // work/ (a command's files), checkpoints/, metrics.csv, v1 commands' own files,
                 // retry markers
  }
}

// Creates an empty marker or lease entry with O_EXCL; one that is already
// there is what we wanted too (a concurrent or earlier run made it).
// *created says whether this call made it.
Status CreateMarker(Env* env, const std::string& path, bool* created = nullptr) {
  Status s = env->CreateExclusive(path, "");
  if (created != nullptr) *created = s.ok();
  return s.IsAlreadyExists() ? Status::OK() : s;
}

std::string UtcStamp() {
  char b[32];
  const time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(b, sizeof b, "%Y%m%dT%H%M%SZ", &tm);
  return b;
}

}  // namespace

TrialControl::TrialControl(Env* env, SweepLayout layout, ClaimPolicy policy, std::string token)
    : env_(env), layout_(std::move(layout)), policy_(std::move(policy)), token_(std::move(token)) {}

Status TrialControl::Now(int64_t* now_ns) {
  const std::string probe = layout_.clock_probe_path(token_);
  CS_RETURN_IF_ERROR(env_->FsNow(probe, now_ns));
  env_->RemoveFile(probe).IgnoreError();
  return Status::OK();
}

Status TrialControl::State(uint64_t index, DerivedState* derived, TrialSnapshot* snap) {
  TrialSnapshot local;
  if (snap == nullptr) snap = &local;
  CS_RETURN_IF_ERROR(ReadTrialSnapshot(env_, layout_, index, snap));
  int64_t now_ns = 0;
  if (snap->heartbeat_ns >= 0) CS_RETURN_IF_ERROR(Now(&now_ns));
  *derived = DeriveState(*snap, policy_, now_ns);
  return Status::OK();
}

void TrialControl::RemoveLeaseEntries(uint64_t index, uint32_t max_attempt) {
  std::vector<LeaseEntry> entries;
  if (!ListLeaseEntries(env_, layout_, &entries).ok()) return;
  claimsweep::RemoveLeaseEntries(env_, layout_, entries, index, uint64_t{max_attempt} + 1);
}

Status TrialControl::Stop(uint64_t index, ControlReport* r) {
  *r = ControlReport();
  DerivedState d;
  CS_RETURN_IF_ERROR(State(index, &d));
  r->before = d.state;
  r->latest_attempt = d.latest_attempt;
  const std::string note =
      "stopped by `sweep stop` on " + HostName() + " at " + NowIso8601() + "\n";
  switch (d.state) {
    case TrialState::kDone:
      r->refused = true;
      r->what = "already done: nothing to stop";
      return Status::OK();
    case TrialState::kFailed:
      r->refused = true;
      r->what =
          "failed: nothing to stop (`sweep retry` gives it new attempts, `sweep reset` starts it "
          "over)";
      return Status::OK();
    case TrialState::kStopped: r->what = "already stopped"; return Status::OK();
    case TrialState::kBroken:
      r->refused = true;
      r->what = "broken: " + d.problem +
                "; not stopped (nothing is written into it, and no claimer takes it)";
      return Status::OK();
    case TrialState::kBlocked:  // never derived from files; no directory, as pending
    case TrialState::kPending: {
      // Published like a claim: a fully built directory renamed into place.
      // If a claimer publishes trials/<i> first, our rename fails and we stop
      // its fresh attempt instead (below).
      const std::string tmp = layout_.tmp_path(token_, ".stop." + std::to_string(temp_counter_++));
      Status s = env_->CreateDir(tmp);
      if (s.ok()) s = env_->CreateExclusive(SweepLayout::staged_stop_path(tmp), note);
      if (s.ok()) s = PublishDir(env_, tmp, layout_.trial_dir(index));
      if (s.ok()) {
        // A claimer elected for this point (leases/<i>.0001) now loses its
        // publish; its entry would only make claimers re-read a stopped trial.
        RemoveLeaseEntries(index, 1);
        r->changed = true;
        r->what = "stopped (was pending; it will not be claimed)";
        return Status::OK();
      }
      env_->RemoveTree(tmp).IgnoreError();
      if (!s.IsAlreadyExists()) return s;
      CS_RETURN_IF_ERROR(State(index, &d));  // claimed under our feet: stop that claim
      r->before = d.state;
      r->latest_attempt = d.latest_attempt;
      if (d.state == TrialState::kDone) {
        r->refused = true;
        r->what = "already done: nothing to stop";
        return Status::OK();
      }
      break;
    }
    default: break;
  }
  Status s = env_->CreateExclusive(layout_.stop_path(index), note);
  if (s.IsAlreadyExists()) {
    r->what = "already stopped";
    return Status::OK();
  }
  CS_RETURN_IF_ERROR(s);
  // A stopped trial needs no lease entry: claimers never take it, and reset
  // or retry create a fresh one. A running owner's release tolerates its
  // entry being gone.
  RemoveLeaseEntries(index, std::max<uint32_t>(d.latest_attempt, 1));
  r->changed = true;
  const double hb = policy_.heartbeat_seconds() > 0 ? policy_.heartbeat_seconds() : 30;
  switch (d.state) {
    case TrialState::kRunning:
      r->what = "stopped (was running attempt " + std::to_string(d.latest_attempt) +
                "; its trial will checkpoint and stop within ~" + Secs(hb) + " s)";
      break;
    case TrialState::kStale:
      r->what = "stopped (was stale: its owner is gone; it will not be taken over)";
      break;
    default:
      r->what = d.latest_attempt == 0 ? "stopped (was waiting to be claimed; it will not be)"
                                      : "stopped (was interrupted; it will not be resumed)";
  }
  return Status::OK();
}

std::string TrialControl::NewArchiveDir(uint64_t index) {
  const std::string stamp = stamp_.empty() ? UtcStamp() : stamp_;
  std::string dir = layout_.archive_dir(index, stamp);
  for (int n = 2; env_->Exists(dir); ++n) dir = layout_.archive_dir(index, stamp, n);
  return dir;
}

Status TrialControl::Reset(uint64_t index, bool force, ControlReport* r) {
  *r = ControlReport();
  TrialSnapshot snap;
  DerivedState d;
  CS_RETURN_IF_ERROR(State(index, &d, &snap));
  r->before = d.state;
  r->latest_attempt = d.latest_attempt;
  if (!snap.exists) {
    r->what = "pending: nothing to reset";
    return Status::OK();
  }
  if (d.state == TrialState::kRunning && !force) {
    r->refused = true;
    r->what = "running (attempt " + std::to_string(d.latest_attempt) + ", heartbeat " +
              Secs(static_cast<double>(static_cast<int64_t>(d.heartbeat_age_s))) +
              " s ago): not reset; `sweep stop` it first, or --force if its owner is gone";
    return Status::OK();
  }
  std::vector<std::string> names;
  Status ls = env_->ListDir(layout_.trial_dir(index), &names);
  if (!ls.ok() && d.state == TrialState::kBroken) {
    // trials/<i> itself is not a plain directory: nothing in it is ours to move.
    r->refused = true;
    r->what = "broken: " + d.problem + "; not reset: move " +
              layout_.relative(layout_.trial_dir(index)) +
              " away yourself, then the point is pending again";
    return Status::OK();
  }
  CS_RETURN_IF_ERROR(ls);
  const std::string entry = layout_.released_lease_path(index, 1);
  if (names.empty() || (names.size() == 1 && names[0] == kUnorderedFileName)) {
    CS_RETURN_IF_ERROR(CreateMarker(env_, entry, &r->changed));
    r->what = "nothing to archive (already reset); the next claim runs attempt 1";
    return Status::OK();
  }
  // Trials nobody may take over (and a running one, with --force) lose their
  // lease entries before anything moves; an interrupted or stale trial keeps
  // them, since a claimer may be taking it over right now (its new entry must
  // survive).
  if (d.state == TrialState::kDone || d.state == TrialState::kFailed ||
      d.state == TrialState::kStopped || d.state == TrialState::kRunning ||
      d.state == TrialState::kBroken) {
    RemoveLeaseEntries(index, UINT32_MAX);
  }
  // A directory without attempt 1 may be a stopped pending point above the
  // claim frontier; emptied, it would count as claimed and hide the points
  // below it from the frontier search. Marked `unordered`, it never counts.
  if (std::find(names.begin(), names.end(), AttemptName(1)) == names.end()) {
    CS_RETURN_IF_ERROR(CreateMarker(env_, layout_.unordered_path(index)));
  }
  const std::string archive = NewArchiveDir(index);
  CS_RETURN_IF_ERROR(env_->CreateDirs(archive));
  struct Item {
    int order;
    uint32_t attempt;
    std::string name;
  };
  std::vector<Item> items;
  for (std::string& n : names) {
    Item it;
    it.order = MoveOrder(n, &it.attempt);
    it.name = std::move(n);
    items.push_back(std::move(it));
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.order != b.order       ? a.order < b.order
           : a.attempt != b.attempt ? a.attempt < b.attempt
                                    : a.name < b.name;
  });
  size_t moved = 0;
  for (const Item& it : items) {
    if (it.order < 0) continue;
    Status s = env_->Rename(layout_.trial_entry_path(index, it.name),
                            SweepLayout::archive_entry_path(archive, it.name));
    if (s.IsNotFound()) continue;  // a concurrent reset moved it
    if (!s.ok()) {
      return Status::IOError("reset of trial " + TrialName(index) + " stopped after moving " +
                             std::to_string(moved) + " entries to " + archive +
                             " (run it again to finish): " + s.ToString());
    }
    ++moved;
  }
  CS_RETURN_IF_ERROR(CreateMarker(env_, entry));
  r->changed = true;
  r->archive = archive;
  r->what = std::string("reset (was ") + TrialStateName(d.state) +
            (d.latest_attempt > 0 ? ", " + std::to_string(d.latest_attempt) + " attempt" +
                                        (d.latest_attempt == 1 ? "" : "s")
                                  : std::string()) +
            "); " + std::to_string(moved) + " entr" + (moved == 1 ? "y" : "ies") + " moved to " +
            archive + "; the next claim runs attempt 1";
  return Status::OK();
}

Status TrialControl::Retry(uint64_t index, ControlReport* r) {
  *r = ControlReport();
  TrialSnapshot snap;
  DerivedState d;
  CS_RETURN_IF_ERROR(State(index, &d, &snap));
  r->before = d.state;
  r->latest_attempt = d.latest_attempt;
  uint32_t k = d.latest_attempt;
  for (const AttemptFiles& a : snap.attempts) k = std::max(k, a.number);
  switch (d.state) {
    case TrialState::kFailed: {
      // Marker first, entry second: an entry seen before the marker would
      // show a failed trial, and a claimer would remove it as garbage.
      CS_RETURN_IF_ERROR(CreateMarker(env_, layout_.trial_entry_path(index, RetryMarkerName(k))));
      CS_RETURN_IF_ERROR(CreateMarker(env_, layout_.released_lease_path(index, k)));
      r->changed = true;
      r->what = "retry (was failed after " + std::to_string(d.failures) + " failed attempt" +
                (d.failures == 1 ? "" : "s") + "; kept as history); the next claim runs attempt " +
                std::to_string(d.latest_attempt + 1);
      return Status::OK();
    }
    case TrialState::kInterrupted: {
      // Already claimable; make sure an entry leads claimers to it (a retry
      // that died between its marker and its entry is finished here).
      CS_RETURN_IF_ERROR(CreateMarker(
          env_, layout_.released_lease_path(index, std::max<uint32_t>(k, 1)), &r->changed));
      r->what = "not failed (interrupted: the next claim runs attempt " +
                std::to_string(d.latest_attempt + 1) + ")";
      return Status::OK();
    }
    case TrialState::kStale:
      r->what = "stale: the next claim takes it over anyway";
      return Status::OK();
    case TrialState::kPending: r->what = "pending: nothing to retry"; break;
    case TrialState::kBlocked: r->what = "blocked: retry its input instead"; break;
    case TrialState::kRunning: r->what = "running: nothing to retry"; break;
    case TrialState::kDone: r->what = "done: nothing to retry (`sweep reset` runs it again)"; break;
    case TrialState::kStopped:
      r->what = "stopped: not retried (`sweep resume` continues it, `sweep reset` runs it again)";
      break;
    case TrialState::kBroken: r->what = "broken: " + d.problem + "; not retried"; break;
  }
  r->refused = true;
  return Status::OK();
}

Status TrialControl::Resume(uint64_t index, ControlReport* r) {
  *r = ControlReport();
  TrialSnapshot snap;
  DerivedState d;
  CS_RETURN_IF_ERROR(State(index, &d, &snap));
  r->before = d.state;
  r->latest_attempt = d.latest_attempt;
  if (d.state != TrialState::kStopped) {
    r->refused = true;
    switch (d.state) {
      case TrialState::kDone:
        r->what = "done: not stopped, nothing to resume (`sweep reset` runs it again)";
        break;
      case TrialState::kFailed:
        r->what = "failed: not stopped, nothing to resume (`sweep retry` gives it new attempts)";
        break;
      default: r->what = std::string(TrialStateName(d.state)) + ": not stopped, nothing to resume";
    }
    return Status::OK();
  }
  uint32_t k = d.latest_attempt;
  for (const AttemptFiles& a : snap.attempts) k = std::max(k, a.number);
  // What the trial is without its `stop`.
  TrialSnapshot unstopped = snap;
  unstopped.has_stop = false;
  int64_t now_ns = 0;
  if (snap.heartbeat_ns >= 0) CS_RETURN_IF_ERROR(Now(&now_ns));
  const DerivedState u = DeriveState(unstopped, policy_, now_ns);
  if (d.latest_attempt == 0) {
    // Never claimed (stopped while pending), or reset and then stopped. The
    // directory may lie above the claim frontier: `unordered` keeps the
    // frontier search from counting it, before `stop` goes.
    CS_RETURN_IF_ERROR(CreateMarker(env_, layout_.unordered_path(index)));
  }
  // The entry goes in before `stop` goes: a claimer that lists it while the
  // trial is still stopped leaves it (its attempt is not below the latest),
  // and a crash in between leaves a stopped trial that resume finishes.
  if (u.state != TrialState::kFailed) {
    const bool open = u.state == TrialState::kRunning || u.state == TrialState::kStale;
    const uint32_t a = std::max<uint32_t>(k, 1);
    const std::string entry =
        open ? layout_.lease_path(index, a) : layout_.released_lease_path(index, a);
    CS_RETURN_IF_ERROR(CreateMarker(env_, entry));
  }
  Status s = env_->RemoveFile(layout_.stop_path(index));
  if (!s.ok() && !s.IsNotFound()) return s;
  r->changed = true;
  switch (u.state) {
    case TrialState::kRunning:
      r->what = "resumed (attempt " + std::to_string(d.latest_attempt) +
                " had not stopped yet: it goes on, or the next claim continues it)";
      break;
    case TrialState::kStale:
      r->what = "resumed (stale: the next claim takes it over as attempt " +
                std::to_string(d.latest_attempt + 1) + ")";
      break;
    case TrialState::kFailed:
      r->what = "resumed, but it is failed (" + std::to_string(u.failures) +
                " failed attempts): `sweep retry` gives it new attempts";
      break;
    default:
      r->what = d.latest_attempt == 0 ? "resumed (was never run; the next claim runs attempt 1)"
                                      : "resumed; the next claim continues it as attempt " +
                                            std::to_string(d.latest_attempt + 1);
  }
  return Status::OK();
}

}  // namespace claimsweep
