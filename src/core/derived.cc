#include "core/derived.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <set>
#include <utility>

#include "core/publish.h"

namespace claimsweep {
namespace {

std::string Blocks(uint64_t block) { return TrialName(block); }

}  // namespace

const char* StageKindName(StageKind k) {
  switch (k) {
    case StageKind::kEachTrial: return "each_trial";
    case StageKind::kEachCheckpoint: return "each_checkpoint";
    case StageKind::kAfterAll: return "after_all";
  }
  return "?";
}

StageKind KindOf(const Stage& stage) {
  if (stage.input_case() == Stage::kEachCheckpoint) return StageKind::kEachCheckpoint;
  if (stage.input_case() == Stage::kAfterAll) return StageKind::kAfterAll;
  return StageKind::kEachTrial;
}

std::string InputOf(const Stage& stage) {
  return KindOf(stage) == StageKind::kAfterAll ? stage.after_all() : kTrialsStageName;
}

StageGraph::StageGraph(const SweepSpec& spec) {
  for (const Stage& s : spec.stage()) {
    StageInfo info;
    info.name = s.name();
    info.spec = s;
    info.kind = KindOf(s);
    info.input = InputOf(s);
    stages_.push_back(std::move(info));
  }
}

const StageInfo* StageGraph::Find(const std::string& name) const {
  for (const StageInfo& s : stages_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<const StageInfo*> StageGraph::FunnelsOf(const std::string& input) const {
  std::vector<const StageInfo*> out;
  for (const StageInfo& s : stages_) {
    if (s.kind == StageKind::kAfterAll && s.input == input) out.push_back(&s);
  }
  return out;
}

std::vector<const StageInfo*> StageGraph::OfKind(StageKind kind) const {
  std::vector<const StageInfo*> out;
  for (const StageInfo& s : stages_) {
    if (s.kind == kind) out.push_back(&s);
  }
  return out;
}

std::string KeptDir(const SweepLayout& root, uint64_t index) { return root.kept_dir(index); }

std::string KeptCheckpointPath(const SweepLayout& root, uint64_t index, uint32_t epoch) {
  return root.kept_checkpoint_path(index, epoch);
}

Status ListKeptEpochs(Env* env, const SweepLayout& root, uint64_t index,
                      std::vector<uint32_t>* epochs) {
  epochs->clear();
  std::vector<std::string> names;
  Status s = env->ListDir(KeptDir(root, index), &names);
  if (s.IsNotFound()) return Status::OK();
  CS_RETURN_IF_ERROR(s);
  for (const std::string& n : names) {
    uint32_t e = 0;
    if (ParseKeptCheckpointName(n, &e)) epochs->push_back(e);
  }
  std::sort(epochs->begin(), epochs->end());
  return Status::OK();
}

Status Announce(Env* env, const SweepLayout& stage, uint64_t key) {
  Status s = env->CreateExclusive(stage.released_lease_path(key, 0), "");
  return s.IsAlreadyExists() ? Status::OK() : s;
}

bool InputReady(Env* env, const SweepLayout& root, const StageInfo& stage, uint64_t key) {
  switch (stage.kind) {
    case StageKind::kEachTrial: return env->Exists(root.result_path(ItemUpstream(key)));
    case StageKind::kEachCheckpoint:
      return env->Exists(KeptCheckpointPath(root, ItemUpstream(key), ItemSub(key)));
    case StageKind::kAfterAll: return true;
  }
  return false;
}

Status ReconcileAnnouncements(Env* env, const SweepLayout& root, const StageInfo& stage,
                              uint64_t num_points, uint64_t* announced) {
  *announced = 0;
  if (stage.kind == StageKind::kAfterAll) return Status::OK();
  const SweepLayout queue = SweepLayout::ForStage(root.root(), stage.name);
  std::vector<std::string> trials, items;
  CS_RETURN_IF_ERROR(env->ListDir(root.trials_dir(), &trials));
  CS_RETURN_IF_ERROR(env->ListDir(queue.trials_dir(), &items));
  std::vector<LeaseEntry> leases;
  CS_RETURN_IF_ERROR(ListLeaseEntries(env, queue, &leases));
  std::set<uint64_t> known;
  for (const std::string& n : items) {
    uint64_t k = 0;
    if (queue.ParseEntryName(n, &k)) known.insert(k);
  }
  for (const LeaseEntry& e : leases) known.insert(e.index);
  for (const std::string& n : trials) {
    uint64_t u = 0;
    if (!ParseTrialName(n, &u) || u >= num_points) continue;
    std::vector<uint32_t> epochs;
    if (stage.kind == StageKind::kEachCheckpoint) {
      CS_RETURN_IF_ERROR(ListKeptEpochs(env, root, u, &epochs));
    } else {
      epochs.push_back(0);
    }
    for (uint32_t e : epochs) {
      const uint64_t key = StageItemKey(u, e);
      if (known.count(key) || !InputReady(env, root, stage, key)) continue;
      CS_RETURN_IF_ERROR(Announce(env, queue, key));
      ++*announced;
    }
  }
  return Status::OK();
}

Gate::Gate(Env* env, SweepLayout root, const StageGraph* graph, const StageInfo* funnel,
           Refresh refresh, uint64_t block)
    : env_(env),
      root_(std::move(root)),
      funnel_(SweepLayout::ForStage(root_.root(), funnel->name)),
      graph_(graph),
      stage_(funnel),
      input_(funnel->input == kTrialsStageName ? nullptr : graph->Find(funnel->input)),
      refresh_(std::move(refresh)),
      block_(block) {}

std::string Gate::points_dir(uint64_t block) const {
  return funnel_.stage_dir() + "/gate/p/" + Blocks(block);
}
std::string Gate::point_marker(uint64_t i) const {
  return points_dir(i / block_) + "/" + TrialName(i);
}
std::string Gate::blocks_dir() const { return funnel_.stage_dir() + "/gate/b"; }
std::string Gate::block_marker(uint64_t block) const { return blocks_dir() + "/" + Blocks(block); }

bool Gate::PointComplete(uint64_t i) {
  if (!input_) return env_->Exists(root_.result_path(i));
  const SweepLayout in = SweepLayout::ForStage(root_.root(), input_->name);
  if (input_->kind == StageKind::kEachTrial) return env_->Exists(in.result_path(StageItemKey(i)));
  if (input_->kind != StageKind::kEachCheckpoint) return false;
  // Trial i's kept checkpoints are final once it is done.
  if (!env_->Exists(root_.result_path(i))) return false;
  std::vector<uint32_t> epochs;
  if (!ListKeptEpochs(env_, root_, i, &epochs).ok()) return false;
  for (uint32_t e : epochs) {
    if (!env_->Exists(in.result_path(StageItemKey(i, e)))) return false;
  }
  return true;
}

Status Gate::Markers(const std::string& dir, std::set<uint64_t>* out) {
  out->clear();
  std::vector<std::string> names;
  Status s = env_->ListDir(dir, &names);
  if (s.IsNotFound()) return Status::OK();
  CS_RETURN_IF_ERROR(s);
  for (const std::string& n : names) {
    uint64_t v = 0;
    if (ParseTrialName(n, &v)) out->insert(v);
  }
  return Status::OK();
}

Status Gate::Mark(const std::string& dir, const std::string& marker) {
  CS_RETURN_IF_ERROR(env_->CreateDirs(dir));
  Status s = env_->CreateExclusive(marker, "");
  return s.IsAlreadyExists() ? Status::OK() : s;  // another finisher made it
}

bool Gate::BlockComplete(uint64_t block, uint64_t num_points, const std::set<uint64_t>& marked) {
  const uint64_t lo = block * block_, hi = std::min(num_points, lo + block_);
  return static_cast<uint64_t>(std::distance(marked.lower_bound(lo), marked.lower_bound(hi))) ==
         hi - lo;
}

Status Gate::PointDone(uint64_t i, uint64_t num_points, uint32_t version, bool* announced) {
  if (announced) *announced = false;
  if (i >= num_points || !PointComplete(i)) return Status::OK();
  CS_RETURN_IF_ERROR(Mark(points_dir(i / block_), point_marker(i)));
  // g3: the last point of a block to finish sees the block complete (or its
  // marker, made by another finisher).
  const uint64_t block = i / block_;
  const bool full = (block + 1) * block_ <= num_points;
  if (!full || !env_->Exists(block_marker(block))) {
    std::set<uint64_t> marked;
    CS_RETURN_IF_ERROR(Markers(points_dir(block), &marked));
    if (!BlockComplete(block, num_points, marked)) return Status::OK();
    if (full) CS_RETURN_IF_ERROR(Mark(blocks_dir(), block_marker(block)));
  }
  // g4: every block.
  bool complete = false;
  CS_RETURN_IF_ERROR(AllComplete(num_points, /*repair=*/false, &complete));
  if (!complete) return Status::OK();
  return AnnounceIfCurrent(num_points, version, announced);
}

Status Gate::AllComplete(uint64_t num_points, bool repair, bool* complete) {
  *complete = false;
  std::set<uint64_t> done;
  CS_RETURN_IF_ERROR(Markers(blocks_dir(), &done));
  const uint64_t blocks = (num_points + block_ - 1) / block_;
  for (uint64_t j = 0; j < blocks; ++j) {
    const bool full = (j + 1) * block_ <= num_points;
    if (full && done.count(j)) continue;
    // The tail block, or a full one whose marker is missing (it was the tail
    // before `sweep extend`, or its last finisher crashed): its points.
    std::set<uint64_t> marked;
    CS_RETURN_IF_ERROR(Markers(points_dir(j), &marked));
    if (repair) {
      // Lost wakeups: mark what is complete; the first point that is not
      // ends the look.
      const uint64_t hi = std::min(num_points, (j + 1) * block_);
      for (uint64_t i = j * block_; i < hi; ++i) {
        if (marked.count(i)) continue;
        if (!PointComplete(i)) return Status::OK();
        CS_RETURN_IF_ERROR(Mark(points_dir(j), point_marker(i)));
        marked.insert(i);
      }
    }
    if (!BlockComplete(j, num_points, marked)) return Status::OK();
    if (full) CS_RETURN_IF_ERROR(Mark(blocks_dir(), block_marker(j)));
  }
  *complete = true;
  return Status::OK();
}

Status Gate::AnnounceIfCurrent(uint64_t num_points, uint32_t version, bool* announced) {
  // A newer version's points are members too: announce for the newest
  // version only, once its points are complete as well.
  uint64_t n = num_points;
  uint32_t v = version;
  while (refresh_ && refresh_(&n, &v)) {
    bool complete = false;
    CS_RETURN_IF_ERROR(AllComplete(n, /*repair=*/false, &complete));
    if (!complete) return Status::OK();
  }
  const std::string path = funnel_.released_lease_path(FunnelKey(v), 0);
  Status s = env_->CreateExclusive(path, "");
  if (s.ok() && announced) *announced = true;
  return s.IsAlreadyExists() ? Status::OK() : s;
}

Status Gate::Repair(uint64_t num_points, uint32_t version, bool* announced) {
  if (announced) *announced = false;
  const uint64_t key = FunnelKey(version);
  if (env_->Exists(funnel_.trial_dir(key)) || env_->Exists(funnel_.released_lease_path(key, 0)))
    return Status::OK();
  bool complete = false;
  CS_RETURN_IF_ERROR(AllComplete(num_points, /*repair=*/true, &complete));
  if (!complete) return Status::OK();
  return AnnounceIfCurrent(num_points, version, announced);
}

}  // namespace claimsweep
