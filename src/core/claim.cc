#include "core/claim.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <map>

#include "core/json.h"
#include "core/publish.h"
#include "core/token.h"
#include "records.pb.h"

namespace claimsweep {
namespace {

int64_t LeaseNs(const ClaimPolicy& p) {
  return static_cast<int64_t>((p.lease_seconds() > 0 ? p.lease_seconds() : 300) * 1e9);
}

std::string SlurmJobId() {
  const char* j = std::getenv("SLURM_JOB_ID");
  return j ? j : "";
}

}  // namespace

Claimer::Claimer(Env* env, SweepLayout layout, ClaimPolicy policy, uint64_t num_points,
                 std::string token)
    : env_(env),
      layout_(std::move(layout)),
      policy_(std::move(policy)),
      num_points_(num_points),
      token_(std::move(token)),
      clock_probe_(layout_.clock_probe_path(token_)) {}

Status Claimer::FsNow(int64_t* now_ns) { return env_->FsNow(clock_probe_, now_ns); }

Status Claimer::LazyNow(int64_t* now_ns) {
  if (now_ns_ < 0) CS_RETURN_IF_ERROR(FsNow(&now_ns_));
  *now_ns = now_ns_;
  return Status::OK();
}

std::string Claimer::NewTempPath() {
  return layout_.tmp_path(token_, "." + std::to_string(temp_counter_++));
}

std::string Claimer::OwnerJson(uint64_t index, uint32_t attempt) const {
  AttemptOwner o;
  o.set_format_version(kJsonRecordVersion);
  o.set_index(static_cast<uint32_t>(index));
  o.set_attempt(attempt);
  o.set_token(token_);
  o.set_host(HostName());
  o.set_pid(::getpid());
  o.set_slurm_job_id(SlurmJobId());
  o.set_started_at(NowIso8601());
  o.set_uid(static_cast<uint32_t>(::getuid()));
  if (const char* c = std::getenv("SLURM_CLUSTER_NAME")) o.set_slurm_cluster(c);
  return ToJson(o, /*pretty=*/false);
}

void Claimer::DropLeaseIfDone(uint64_t index, uint32_t attempt) {
  // We lost the publish after creating the lease entry. If the winner had
  // already committed (and removed its entry), ours would be left behind.
  if (env_->Exists(layout_.result_path(index)))
    env_->RemoveFile(layout_.lease_path(index, attempt)).IgnoreError();
}

Status Claimer::TryClaimNew(uint64_t index, bool exclusive) {
  // The lease entry goes in before the publish, so that a trial directory
  // never exists without an entry that leads claimers to it. Created with
  // O_EXCL it also elects one builder per point: losers pay one call.
  if (exclusive) CS_RETURN_IF_ERROR(env_->CreateExclusive(layout_.lease_path(index, 1), ""));
  const std::string tmp = NewTempPath();
  const std::string attempt = SweepLayout::staged_attempt_dir(tmp, 1);
  Status s = env_->CreateDir(tmp);
  if (s.ok()) s = env_->CreateDir(attempt);
  if (s.ok())
    s = env_->CreateExclusive(SweepLayout::staged_owner_path(attempt), OwnerJson(index, 1));
  if (s.ok()) s = PublishDir(env_, tmp, layout_.trial_dir(index));
  if (!s.ok()) {
    env_->RemoveTree(tmp).IgnoreError();
    if (s.IsAlreadyExists()) DropLeaseIfDone(index, 1);
  }
  return s;
}

Status Claimer::TryTakeOver(uint64_t index, uint32_t attempt, Claim* claim) {
  const std::string tmp = NewTempPath();
  Status s = env_->CreateDir(tmp);
  if (s.ok())
    s = env_->CreateExclusive(SweepLayout::staged_owner_path(tmp), OwnerJson(index, attempt));
  if (s.ok()) {
    s = env_->CreateExclusive(layout_.lease_path(index, attempt), "");
    if (s.IsAlreadyExists()) s = Status::OK();  // a racing taker's; the publish decides
  }
  if (s.ok()) s = PublishDir(env_, tmp, layout_.attempt_dir(index, attempt));
  if (!s.ok()) {
    env_->RemoveTree(tmp).IgnoreError();
    if (s.IsAlreadyExists()) DropLeaseIfDone(index, attempt);
    return s;
  }
  // The old owner may have committed between our look and our publish (it was
  // late, not dead). Its result stands; we have nothing to do.
  if (env_->Exists(layout_.result_path(index))) {
    env_->RemoveFile(layout_.lease_path(index, attempt)).IgnoreError();
    return Status::AlreadyExists("trial " + TrialName(index) +
                                 " was committed by its previous owner");
  }
  claim->index = index;
  claim->attempt = attempt;
  return Status::OK();
}

void Claimer::RemoveLeaseEntries(uint64_t index, const std::vector<LeaseEntry>& entries,
                                 uint32_t below) {
  stats_.garbage_removed += claimsweep::RemoveLeaseEntries(env_, layout_, entries, index, below);
}

Status Claimer::ClaimOpenTrial(Claim* claim) {
  std::vector<LeaseEntry> listed;
  CS_RETURN_IF_ERROR(ListLeaseEntries(env_, layout_, &listed));
  std::map<uint64_t, std::vector<LeaseEntry>> open;
  for (LeaseEntry& e : listed) {
    if (e.index < num_points_) open[e.index].push_back(std::move(e));
  }
  const int64_t recheck_ns = static_cast<int64_t>(policy_.heartbeat_seconds() * 1e9);
  int64_t now_ns = 0;
  if (!open.empty()) CS_RETURN_IF_ERROR(LazyNow(&now_ns));
  for (auto& [index, entries] : open) {
    const LeaseEntry& newest = *std::max_element(
        entries.begin(), entries.end(),
        [](const LeaseEntry& a, const LeaseEntry& b) { return a.attempt < b.attempt; });
    // A running trial cannot turn stale within one heartbeat period of being
    // seen running; a release shows in the entry's name. So skip the reads.
    auto seen = seen_running_.find(index);
    if (!newest.released && seen != seen_running_.end() && seen->second.attempt == newest.attempt &&
        now_ns - seen->second.seen_ns < recheck_ns) {
      if (seen->second.lease_expires_ns > 0)
        held_.push_back({index, seen->second.lease_expires_ns, 0});
      continue;
    }
    ++stats_.open_scanned;
    TrialSnapshot snap;
    CS_RETURN_IF_ERROR(ReadTrialSnapshot(env_, layout_, index, &snap));
    if (!snap.exists) {
      // A claimer created the lease entry and then died before publishing (or
      // is publishing right now). Once the entry is older than a lease, the
      // point is ours to claim: nothing else would ever lead a claimer to it.
      FileInfo info;
      if (!env_->Stat(layout_.lease_entry_path(newest.name), &info).ok()) continue;
      if (now_ns - info.mtime_ns <= LeaseNs(policy_)) {
        held_.push_back({index, info.mtime_ns + LeaseNs(policy_), 0});
        continue;
      }
      Status s = TryClaimNew(index, /*exclusive=*/false);
      if (s.ok()) {
        *claim = Claim{index, 1, TrialState::kPending};
        return s;
      }
      if (!s.IsAlreadyExists()) return s;
      ++stats_.lost_races;
      continue;
    }
    DerivedState d = DeriveState(snap, policy_, now_ns);
    switch (d.state) {
      case TrialState::kDone:
      case TrialState::kFailed:
        RemoveLeaseEntries(index, entries, UINT32_MAX);
        seen_running_.erase(index);
        break;
      case TrialState::kRunning:
        if (OwnerJobGone(index, d.latest_attempt)) {
          Status s = TryTakeOver(index, d.latest_attempt + 1, claim);
          if (s.ok()) {
            claim->previous = TrialState::kStale;
            RemoveLeaseEntries(index, entries, claim->attempt);
            return s;
          }
          if (!s.IsAlreadyExists()) return s;
          ++stats_.lost_races;
          break;
        }
        [[fallthrough]];
      case TrialState::kStopped:
      case TrialState::kBroken:  // never taken; `sweep status` says why
      case TrialState::kPending: {
        RemoveLeaseEntries(index, entries, d.latest_attempt);
        const int64_t expires =
            d.state == TrialState::kRunning ? snap.heartbeat_ns + LeaseNs(policy_) : 0;
        if (expires > 0) held_.push_back({index, expires, 0});
        seen_running_[index] = {d.latest_attempt, now_ns, expires};
        break;
      }
      case TrialState::kInterrupted:
      case TrialState::kStale: {
        Status s = TryTakeOver(index, d.latest_attempt + 1, claim);
        if (s.ok()) {
          claim->previous = d.state;
          RemoveLeaseEntries(index, entries, claim->attempt);
          return s;
        }
        if (!s.IsAlreadyExists()) return s;
        ++stats_.lost_races;
        break;
      }
    }
  }
  return Status::NotFound("no open trial is claimable");
}

bool Claimer::OwnerJobGone(uint64_t index, uint32_t attempt) {
  if (!job_gone_) return false;
  std::string text;
  AttemptOwner owner;
  const std::string path = layout_.owner_path(index, attempt);
  if (!env_->ReadFileAtMost(path, 1 << 16, &text).ok() || !ParseRecord(text, path, &owner).ok())
    return false;
  const char* cluster = std::getenv("SLURM_CLUSTER_NAME");
  if (owner.slurm_job_id().empty() || owner.uid() != static_cast<uint32_t>(::getuid()) ||
      owner.slurm_cluster() != (cluster ? cluster : "") || owner.slurm_job_id() == SlurmJobId()) {
    return false;
  }
  return job_gone_(owner.slurm_job_id());
}

uint64_t Claimer::FindFrontier() {
  // Claimed indices form a prefix of [0, num_points) (a new index is tried only
  // after the one below it was seen claimed), so the first missing index is
  // found by galloping from the hint and bisecting: O(log points) stats.
  // `sweep stop` of a pending point publishes a trial directory holding only
  // `stop` (no attempt-0001), possibly above the frontier: the search counts it
  // as unclaimed so it never jumps over a real gap (ClaimNext skips it).
  // `sweep resume` of such a point marks its directory `unordered`: claimed
  // through its lease entry, out of order, it stays uncounted for good.
  auto claimed = [&](uint64_t i) {
    if (env_->Exists(layout_.attempt_dir(i, 1))) return !env_->Exists(layout_.unordered_path(i));
    return env_->Exists(layout_.trial_dir(i)) && !env_->Exists(layout_.stop_path(i)) &&
           !env_->Exists(layout_.unordered_path(i));
  };
  if (hint_ >= num_points_) return num_points_;
  if (!claimed(hint_)) return hint_;
  uint64_t lo = hint_, hi = num_points_, step = 1;
  while (lo + step < num_points_) {
    if (!claimed(lo + step)) {
      hi = lo + step;
      break;
    }
    lo += step;
    step *= 2;
  }
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (claimed(mid)) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  hint_ = hi;
  return hi;
}

std::vector<HeldTrial> Claimer::held() const {
  std::vector<HeldTrial> h = held_;
  for (HeldTrial& t : h) t.seconds_left = static_cast<double>(t.lease_expires_ns - now_ns_) / 1e9;
  std::sort(h.begin(), h.end(), [](const HeldTrial& a, const HeldTrial& b) {
    return a.lease_expires_ns != b.lease_expires_ns ? a.lease_expires_ns < b.lease_expires_ns
                                                    : a.index < b.index;
  });
  return h;
}

Status Claimer::ClaimNext(Claim* claim) {
  now_ns_ = -1;
  held_.clear();
  Status s = ClaimOpenTrial(claim);
  if (s.ok() || !s.IsNotFound()) return s;
  for (uint64_t i = FindFrontier(); i < num_points_; ++i) {
    // Stats are much cheaper than an exclusive create that is bound to fail
    // (on network filesystems, and on many local ones): skip points already
    // published, and points whose election another claimer already won.
    if (env_->Exists(layout_.trial_dir(i)) || env_->Exists(layout_.lease_path(i, 1))) continue;
    s = TryClaimNew(i, /*exclusive=*/true);
    if (s.ok()) {
      hint_ = i + 1;
      *claim = Claim{i, 1, TrialState::kPending};
      return s;
    }
    if (!s.IsAlreadyExists()) return s;
    ++stats_.lost_races;
  }
  hint_ = num_points_;
  return Status::NotFound("every point is claimed and no open trial is claimable");
}

Status Claimer::CheckOwnership(const Claim& c) {
  if (env_->Exists(layout_.attempt_dir(c.index, c.attempt + 1))) {
    return Status::Superseded("trial " + TrialName(c.index) + " attempt " +
                              std::to_string(c.attempt) + " was taken over by attempt " +
                              std::to_string(c.attempt + 1) + " (this process missed its lease)");
  }
  if (!env_->Exists(layout_.attempt_dir(c.index, c.attempt))) {
    return Status::Superseded("trial " + TrialName(c.index) + " attempt " +
                              std::to_string(c.attempt) +
                              " no longer exists (the trial was reset)");
  }
  return Status::OK();
}

Status Claimer::Heartbeat(const Claim& c) {
  CS_RETURN_IF_ERROR(CheckOwnership(c));
  return env_->Touch(layout_.heartbeat_path(c.index, c.attempt));
}

Status Claimer::Commit(const Claim& c, const std::string& result_json) {
  CS_RETURN_IF_ERROR(CheckOwnership(c));
  // Whole and durable before it becomes visible: fsync'ed temp, then link.
  const std::string tmp = NewTempPath();
  CS_RETURN_IF_ERROR(env_->CreateExclusive(tmp, result_json, /*sync=*/true));
  Status s = PublishFile(env_, tmp, layout_.result_path(c.index), result_json);
  env_->RemoveFile(tmp).IgnoreError();
  if (!s.ok()) return s;
  env_->RemoveFile(layout_.lease_path(c.index, c.attempt)).IgnoreError();
  return Status::OK();
}

Status Claimer::MarkReleased(const Claim& c) {
  // Renaming the entry tells every claimer, from a directory listing alone,
  // that this trial can be taken at once. If this step is lost (a crash), the
  // trial is still found released when its directory is next read.
  Status s = env_->Rename(layout_.lease_path(c.index, c.attempt),
                          layout_.released_lease_path(c.index, c.attempt));
  return s.IsNotFound() ? Status::OK() : s;
}

Status Claimer::Release(const Claim& c, const std::string& record_json) {
  CS_RETURN_IF_ERROR(CheckOwnership(c));
  CS_RETURN_IF_ERROR(env_->WriteFileAtomic(layout_.released_path(c.index, c.attempt), record_json));
  return MarkReleased(c);
}

Status Claimer::Fail(const Claim& c, const std::string& record_json, bool* final, bool retryable) {
  CS_RETURN_IF_ERROR(CheckOwnership(c));
  if (!retryable) {
    Status s = env_->CreateExclusive(layout_.fatal_path(c.index, c.attempt), "");
    if (!s.ok() && !s.IsAlreadyExists()) return s;
  }
  CS_RETURN_IF_ERROR(env_->WriteFileAtomic(layout_.failed_path(c.index, c.attempt), record_json));
  TrialSnapshot snap;
  CS_RETURN_IF_ERROR(ReadTrialSnapshot(env_, layout_, c.index, &snap));
  DerivedState d = DeriveState(snap, policy_, 0);
  *final = d.state == TrialState::kFailed;
  if (*final) {
    env_->RemoveFile(layout_.lease_path(c.index, c.attempt)).IgnoreError();
    return Status::OK();
  }
  return MarkReleased(c);
}

}  // namespace claimsweep
