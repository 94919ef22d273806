#include "core/claim.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <map>
#include <random>

#include "core/json.h"
#include "core/publish.h"
#include "core/token.h"
#include "records.pb.h"

namespace claimsweep {
namespace {

int64_t LeaseNs(const ClaimPolicy& p) {
  return static_cast<int64_t>((p.lease_seconds() > 0 ? p.lease_seconds() : 300) * 1e9);
}

double HeartbeatS(const ClaimPolicy& p) {
  return p.heartbeat_seconds() > 0 ? p.heartbeat_seconds() : 15;
}

const LeaseEntry& Newest(const std::vector<LeaseEntry>& entries) {
  return *std::max_element(
      entries.begin(), entries.end(),
      [](const LeaseEntry& a, const LeaseEntry& b) { return a.attempt < b.attempt; });
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
      clock_probe_(layout_.clock_probe_path(token_)),
      // Looks closer together than half a heartbeat would see nothing new.
      watch_(env_, layout_, LeaseNs(policy_) / 1e9, HeartbeatS(policy_) / 2) {}

Status Claimer::FsNow(int64_t* now_ns) { return env_->FsNow(clock_probe_, now_ns); }

std::string Claimer::NewTempPath() {
  return layout_.tmp_path(token_, "." + std::to_string(temp_counter_++));
}

std::string Claimer::OwnerJson(uint64_t index, uint32_t attempt) const {
  AttemptOwner o;
  o.set_format_version(kJsonRecordVersion);
  if (layout_.stage().empty()) {
    o.set_index(static_cast<uint32_t>(index));
  } else {
    o.set_index(ItemUpstream(index));
    o.set_stage(layout_.stage());
    o.set_item(ItemName(index));
  }
  o.set_attempt(attempt);
  o.set_token(token_);
  o.set_host(HostName());
  o.set_pid(::getpid());
  o.set_slurm_job_id(SlurmJobId());
  o.set_started_at(NowIso8601());
  o.set_spec_version(spec_version_);
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

Status Claimer::ListOpen(OpenTrials* open) {
  std::vector<LeaseEntry> listed;
  CS_RETURN_IF_ERROR(ListLeaseEntries(env_, layout_, &listed));
  for (LeaseEntry& e : listed) {
    // A stage's item is known once its upstream point is (`sweep extend`).
    const uint64_t point = queue_.ordered ? e.index : ItemUpstream(e.index);
    if (point < num_points_) (*open)[e.index].push_back(std::move(e));
  }
  return Status::OK();
}

Status Claimer::TryOpenTrial(uint64_t index, const std::vector<LeaseEntry>& entries,
                             uint32_t stale_attempt, Claim* claim) {
  ++stats_.open_scanned;
  TrialSnapshot snap;
  CS_RETURN_IF_ERROR(ReadTrialSnapshot(env_, layout_, index, &snap));
  if (!snap.exists) {
    // A derived item announced (`<key>.0000.released`: its input is
    // committed) and not claimed yet: claimed like a new point, by the
    // exclusive create of its first entry and the publish.
    const LeaseEntry& newest = Newest(entries);
    if (!queue_.ordered && stale_attempt == 0 && newest.attempt == 0 &&
        newest.mark == LeaseMark::kReleased) {
      if (queue_.ready && !queue_.ready(index))
        return Status::NotFound("item " + layout_.entry_name(index) + " is announced early");
      Status s = TryClaimNew(index, /*exclusive=*/true);
      if (s.ok()) {
        RemoveLeaseEntries(index, entries, 1);  // the announcement
        *claim = Claim{index, 1, TrialState::kPending};
        watch_.Forget(index);
        return s;
      }
      if (s.IsAlreadyExists()) ++stats_.lost_races;
      return s.IsAlreadyExists()
                 ? Status::NotFound("lost the race for " + layout_.entry_name(index))
                 : s;
    }
    // A claimer created leases/<i>.0001 and died before publishing: judged
    // stale, the point is ours to claim (nothing else would lead a claimer to
    // it). Adopt the entry; the rename still decides.
    if (stale_attempt != 1) return Status::NotFound("trial " + TrialName(index) + " is held");
    Status s = TryClaimNew(index, /*exclusive=*/false);
    if (s.ok()) {
      *claim = Claim{index, 1, TrialState::kPending};
      watch_.Forget(index);
      return s;
    }
    if (s.IsAlreadyExists()) ++stats_.lost_races;
    return s.IsAlreadyExists() ? Status::NotFound("lost the race for " + TrialName(index)) : s;
  }
  DerivedState d = DeriveClaimState(snap, policy_, /*judged_stale=*/false);
  // A verdict on attempt k covers an open latest attempt k, or k-1 when the
  // taker that created k's entry died before publishing it; never a newer
  // attempt, which someone started after the verdict.
  if (stale_attempt > 0 && stale_attempt >= d.latest_attempt)
    d = DeriveClaimState(snap, policy_, /*judged_stale=*/true);
  switch (d.state) {
    case TrialState::kDone:
    case TrialState::kFailed:
      RemoveLeaseEntries(index, entries, UINT32_MAX);
      watch_.Forget(index);
      break;
    case TrialState::kRunning:
    case TrialState::kStopped:
    case TrialState::kBroken:  // never taken; `sweep status` says why
    case TrialState::kBlocked:  // never derived from files (stage_scan.h)
    case TrialState::kPending: RemoveLeaseEntries(index, entries, d.latest_attempt); break;
    case TrialState::kInterrupted:
    case TrialState::kStale: {
      Status s = TryTakeOver(index, d.latest_attempt + 1, claim);
      if (s.ok()) {
        claim->previous = d.state;
        RemoveLeaseEntries(index, entries, claim->attempt);
        watch_.Forget(index);
        return s;
      }
      if (!s.IsAlreadyExists()) return s;
      ++stats_.lost_races;
      break;
    }
  }
  return Status::NotFound("trial " + TrialName(index) + " is not claimable");
}

Status Claimer::FindHoles(const OpenTrials& open, std::vector<uint64_t>* holes) {
  holes->clear();
  std::vector<std::string> names;
  CS_RETURN_IF_ERROR(env_->ListDir(layout_.trials_dir(), &names));
  std::vector<bool> present;
  uint64_t top = 0;  // one above the highest trial directory
  for (const std::string& n : names) {
    uint64_t i = 0;
    if (!layout_.ParseEntryName(n, &i) || i >= num_points_) continue;
    if (i >= present.size()) present.resize(i + 1);
    present[i] = true;
    top = std::max(top, i + 1);
  }
  for (uint64_t i = 0; i < top; ++i) {
    if (!present[i] && open.count(i) == 0) holes->push_back(i);
  }
  return Status::OK();
}

bool Claimer::JudgedStale(uint64_t index, uint32_t attempt, const LeaseWatch::Look& look) {
  if (look.verdict == LeaseWatch::Verdict::kStale) return true;
  if (look.verdict == LeaseWatch::Verdict::kGone) return false;
  // A dead node's job is gone long before the lease (once Slurm marks the
  // node down), and an owner whose job ended but which escaped its cgroup
  // still beats: ask Slurm (squeue, cached by the callback) either way.
  return OwnerJobGone(index, attempt);
}

int Claimer::WatchPeers(const Claim& own) {
  OpenTrials open;
  if (!ListOpen(&open).ok()) return 0;
  constexpr int kAliveWanted = 2, kMaxLooks = 16;
  int alive = 0, looks = 0, marked = 0;
  // The trials after our own, in index order, wrapping: every open trial is
  // watched by the live owners just below it, and a run of dead ones by the
  // live owner below the run (up to kMaxLooks of them per round).
  std::vector<const OpenTrials::value_type*> ring;
  for (auto it = open.upper_bound(own.index); it != open.end(); ++it) ring.push_back(&*it);
  for (auto it = open.begin(); it != open.end() && it->first < own.index; ++it)
    ring.push_back(&*it);
  for (const auto* t : ring) {
    if (alive >= kAliveWanted || looks >= kMaxLooks) break;
    const uint64_t index = t->first;
    const LeaseEntry& newest = Newest(t->second);
    if (newest.claimable()) continue;  // any claimer takes it already
    const LeaseWatch::Look look = watch_.Poll(index, newest.attempt, newest.name);
    ++looks;
    if (JudgedStale(index, newest.attempt, look)) {
      Status s = env_->Rename(layout_.lease_entry_path(newest.name),
                              layout_.stale_lease_path(index, newest.attempt));
      // NotFound: its owner released or committed it, or a claimer took it
      // over, meanwhile; nothing to mark.
      if (s.ok()) ++marked;
      watch_.Forget(index);
      continue;
    }
    if (look.verdict == LeaseWatch::Verdict::kAlive) ++alive;
  }
  return marked;
}

bool Claimer::OwnerJobGone(uint64_t index, uint32_t attempt) {
  std::lock_guard<std::mutex> lock(job_mu_);
  if (!job_gone_) return false;
  // owner.json is read once per attempt: its job never changes.
  auto it = owner_jobs_.find(index);
  if (it == owner_jobs_.end() || it->second.first != attempt) {
    std::string text, job;
    AttemptOwner owner;
    const std::string path = layout_.owner_path(index, attempt);
    if (!env_->ReadFileAtMost(path, 1 << 16, &text).ok()) return false;  // look again later
    const char* cluster = std::getenv("SLURM_CLUSTER_NAME");
    if (ParseRecord(text, path, &owner).ok() && !owner.slurm_job_id().empty() &&
        owner.uid() == static_cast<uint32_t>(::getuid()) &&
        owner.slurm_cluster() == (cluster ? cluster : "") && owner.slurm_job_id() != SlurmJobId())
      job = owner.slurm_job_id();
    it = owner_jobs_.insert_or_assign(index, std::make_pair(attempt, job)).first;
  }
  return !it->second.second.empty() && job_gone_(it->second.second);
}

bool Claimer::Claimed(uint64_t i) {
  // `sweep stop` of a pending point publishes a trial directory holding only
  // `stop` (no attempt-0001), possibly above the frontier: it counts as
  // unclaimed so that the search never jumps over a real gap (ClaimNext
  // skips it). `sweep resume` of such a point marks its directory
  // `unordered`: claimed through its lease entry, out of order, it stays
  // uncounted for good.
  // A planted link or file in trials/ is broken, never claimed.
  if (env_->Exists(layout_.attempt_dir(i, 1))) return !env_->Exists(layout_.unordered_path(i));
  FileInfo dir;
  return env_->Stat(layout_.trial_dir(i), &dir).ok() && dir.is_dir && !dir.is_symlink &&
         !env_->Exists(layout_.stop_path(i)) && !env_->Exists(layout_.unordered_path(i));
}

uint64_t Claimer::FindFrontier(bool hint_claimed) {
  // Claimed indices form a prefix of [0, num_points) (a new index is tried only
  // after the one below it was seen claimed; points whose claimer died before
  // publishing are found through their lease entries), so the first missing
  // index is found by galloping from the hint and bisecting: O(log points)
  // stats. The hint is a point known to count as claimed (Claimed()).
  auto claimed = [&](uint64_t i) { return Claimed(i); };
  if (hint_ >= num_points_) return num_points_;
  if (!hint_claimed && !claimed(hint_)) return hint_;
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
  std::sort(h.begin(), h.end(), [](const HeldTrial& a, const HeldTrial& b) {
    if (a.alive != b.alive) return !a.alive;
    if (a.stale_in_s != b.stale_in_s) return a.stale_in_s < b.stale_in_s;
    return a.index < b.index;
  });
  return h;
}

Status Claimer::ClaimInOrder(const OpenTrials& open, Claim* claim) {
  // 2. The lowest unclaimed point. The highest open trial is a claimed point
  //    near the frontier (running trials were claimed last): start there, so
  //    that a process's first claim costs a few probes, not 2 log2(points).
  //    Only an unmarked entry qualifies: a claimer made it, for a point it
  //    claimed in order or took over (`sweep reset|retry|resume` make marked
  //    ones, and a resumed pending point is `unordered`: not Claimed()).
  bool hint_claimed = false;
  for (auto it = open.rbegin(); it != open.rend(); ++it) {
    if (Newest(it->second).claimable()) continue;
    if (it->first > hint_ && Claimed(it->first)) {
      hint_ = it->first;
      hint_claimed = true;
    }
    break;
  }
  const uint64_t frontier = FindFrontier(hint_claimed);
  for (uint64_t i = frontier; i < num_points_; ++i) {
    // A stat is much cheaper than building a claim whose publish is bound to
    // fail: skip points published (or stopped while pending) meanwhile. A
    // lost election costs the exclusive create alone, one call like a stat.
    if (env_->Exists(layout_.trial_dir(i))) continue;
    Status s = TryClaimNew(i, /*exclusive=*/true);
    if (s.ok()) {
      hint_ = i + 1;
      *claim = Claim{i, 1, TrialState::kPending};
      return s;
    }
    if (!s.IsAlreadyExists()) return s;
    ++stats_.lost_races;
  }
  hint_ = num_points_;
  // 2b. Once per process, when it first finds every point claimed: one
  //     listing of trials/ for holes, points below claimed ones with
  //     neither a trial directory nor a lease entry. The frontier search
  //     never finds them: it trusts that an exclusive create answers EEXIST
  //     only for an entry that exists (with GlusterFS clients after a server
  //     restart, all claimers passed over such a point now and then).
  if (holes_checked_to_ < num_points_) {
    std::vector<uint64_t> holes;
    Status hs = FindHoles(open, &holes);
    if (hs.ok()) {
      holes_checked_to_ = num_points_;
      for (uint64_t i : holes) {
        Status s = TryClaimNew(i, /*exclusive=*/true);
        if (s.ok()) {
          if (stats_.holes_found++ == 0) stats_.first_hole = i;
          *claim = Claim{i, 1, TrialState::kPending};
          return s;
        }
        if (!s.IsAlreadyExists()) return s;
        ++stats_.lost_races;
      }
    }
  }
  return Status::NotFound("every point is claimed");
}

Status Claimer::ClaimNext(Claim* claim) {
  held_.clear();
  watching_ = false;
  OpenTrials open;
  CS_RETURN_IF_ERROR(ListOpen(&open));
  // 1. Trials their entry says are claimable: released by their owner (or by
  //    `sweep reset|retry|resume`), or judged stale by an observer.
  for (auto& [index, entries] : open) {
    const LeaseEntry& newest = Newest(entries);
    if (!newest.claimable()) continue;
    Status s =
        TryOpenTrial(index, entries, newest.mark == LeaseMark::kStale ? newest.attempt : 0, claim);
    if (s.ok() || !s.IsNotFound()) return s;
  }
  // 1b. Under Slurm, a dead job's trial (an OOM kill, a crashed node) is
  //     known to Slurm long before its lease ends, but only to an observer
  //     that asks. Running peers ask about their neighbours; with no peer
  //     running (a small sweep, a resubmission), this claim asks about two
  //     open trials picked at random (an owner.json read each, squeue cached).
  if (job_gone_ && !open.empty()) {
    std::vector<const OpenTrials::value_type*> unmarked;
    for (const auto& t : open) {
      if (!Newest(t.second).claimable()) unmarked.push_back(&t);
    }
    std::mt19937_64 rng(std::random_device{}());
    std::shuffle(unmarked.begin(), unmarked.end(), rng);
    for (size_t k = 0; k < unmarked.size() && k < 2; ++k) {
      const uint64_t index = unmarked[k]->first;
      const LeaseEntry& newest = Newest(unmarked[k]->second);
      if (!OwnerJobGone(index, newest.attempt)) continue;
      Status s = TryOpenTrial(index, unmarked[k]->second, newest.attempt, claim);
      if (s.ok() || !s.IsNotFound()) return s;
    }
  }
  // 2 and 2b: only the sweep's points are claimed in index order; a derived
  // stage's items only through their entries (announcements, takeovers).
  if (queue_.ordered) {
    Status s = ClaimInOrder(open, claim);
    if (s.ok() || !s.IsNotFound()) return s;
  }
  // 3. Nothing new to claim: watch the open trials (a look younger than half
  //    a heartbeat is reused, so calling again soon costs nothing).
  for (auto& [index, entries] : open) {
    const LeaseEntry& newest = Newest(entries);
    if (newest.claimable()) continue;  // read above: not claimable after all
    const LeaseWatch::Look look = watch_.Poll(index, newest.attempt, newest.name);
    if (look.verdict == LeaseWatch::Verdict::kGone) continue;
    if (JudgedStale(index, newest.attempt, look)) {
      Status s = TryOpenTrial(index, entries, newest.attempt, claim);
      if (s.ok() || !s.IsNotFound()) return s;
      continue;
    }
    // Alive *now*: it changed, and recently. A trial seen beating once and
    // silent since may have died after that beat: keep watching it until it
    // changes again or stays unchanged for the lease.
    const bool alive =
        look.verdict == LeaseWatch::Verdict::kAlive && look.unchanged_s < 1.5 * HeartbeatS(policy_);
    held_.push_back({index, alive, look.stale_in_s});
    if (!alive) watching_ = true;
  }
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
