#include "core/stage_scan.h"

#include <algorithm>
#include <map>

namespace claimsweep {

std::string BlockingProblem(const ItemInput& in) {
  switch (in.state) {
    case TrialState::kFailed:
      return in.name + " failed (" + std::to_string(in.attempts) +
             (in.attempts == 1 ? " attempt)" : " attempts)");
    case TrialState::kStopped: return in.name + " stopped";
    case TrialState::kBlocked: return in.name + " blocked: " + in.problem;
    default: return "";
  }
}

DerivedState DeriveItemState(const ItemInput& input) {
  DerivedState d;  // pending: ready when committed, else waiting
  if (input.committed) return d;
  d.problem = BlockingProblem(input);
  if (!d.problem.empty()) d.state = TrialState::kBlocked;
  return d;
}

SweepSpec StageTaskSpec(const SweepSpec& spec, const Stage& stage) {
  SweepSpec t;
  t.set_format_version(spec.format_version());
  *t.mutable_claim() = spec.claim();
  if (stage.has_command()) *t.mutable_command() = stage.command();
  return t;
}

const Stage* FindStage(const SweepSpec& spec, const std::string& name) {
  for (const Stage& s : spec.stage()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

std::string StageNamesText(const SweepSpec& spec) {
  std::string out;
  for (const Stage& s : spec.stage()) out += (out.empty() ? "" : ", ") + s.name();
  return out.empty() ? "none" : out;
}

namespace {

// The keys of a stage's item directories, sorted; none when items/ is absent.
Status ListItemKeys(Env* env, const SweepLayout& stage, std::vector<uint64_t>* keys) {
  keys->clear();
  std::vector<std::string> names;
  Status s = env->ListDir(stage.trials_dir(), &names);
  if (s.IsNotFound()) return Status::OK();
  CS_RETURN_IF_ERROR(s);
  for (const auto& n : names) {
    uint64_t k = 0;
    if (stage.ParseEntryName(n, &k)) keys->push_back(k);
  }
  std::sort(keys->begin(), keys->end());
  return Status::OK();
}

ItemInput TrialInput(const SweepLayout& layout, const ScannedTrial* t, uint64_t index) {
  ItemInput in;
  in.name = layout.relative(layout.trial_dir(index));
  if (t == nullptr) return in;  // unclaimed: pending
  in.state = t->derived.state;
  in.committed = in.state == TrialState::kDone;
  in.attempts = t->derived.latest_attempt;
  return in;
}

void Count(StageScan* st) {
  for (const ScannedItem& it : st->items) ++st->counts[static_cast<int>(it.derived.state)];
  uint64_t known = st->items.size();
  if (st->total > known) st->counts[static_cast<int>(TrialState::kPending)] += st->total - known;
  st->total = std::max(st->total, known);
}

}  // namespace

Status ListStageItems(Env* env, const SweepLayout& layout, const Stage& stage, uint64_t num_points,
                      uint32_t version, std::vector<uint64_t>* keys) {
  std::vector<uint64_t> all;
  CS_RETURN_IF_ERROR(ListItemKeys(env, layout, &all));
  keys->clear();
  const StageKind kind = KindOf(stage);
  for (uint64_t k : all) {
    const bool ours = kind == StageKind::kAfterAll ? k == ItemKey(0, version)
                      : kind == StageKind::kEachTrial
                          ? ItemSub(k) == 0 && ItemUpstream(k) < num_points
                          : ItemUpstream(k) < num_points;
    if (ours) keys->push_back(k);
  }
  return Status::OK();
}

Status ScanStages(Env* env, const std::string& root, const SweepSpec& spec, const SweepScan& trials,
                  uint64_t num_points, uint32_t version, int64_t now_ns,
                  std::vector<StageScan>* out) {
  out->clear();
  const SweepLayout points(root);
  std::map<uint64_t, const ScannedTrial*> claimed;
  for (const ScannedTrial& t : trials.trials) claimed[t.index] = &t;
  for (const Stage& stage : spec.stage()) {
    StageScan st;
    st.name = stage.name();
    st.kind = KindOf(stage);
    st.input = InputOf(stage);
    const SweepLayout layout = SweepLayout::ForStage(root, stage.name());
    std::vector<uint64_t> dirs;
    CS_RETURN_IF_ERROR(ListItemKeys(env, layout, &dirs));
    // Each candidate item with its input (as seen now).
    std::map<uint64_t, ItemInput> inputs;
    if (st.kind == StageKind::kEachTrial) {
      st.total = num_points;
      for (const auto& [i, t] : claimed)
        inputs[ItemKey(static_cast<uint32_t>(i), 0)] = TrialInput(points, t, i);
      for (uint64_t k : dirs) {
        if (ItemSub(k) == 0 && ItemUpstream(k) < num_points && inputs.count(k) == 0)
          inputs[k] = TrialInput(points, nullptr, ItemUpstream(k));
      }
    } else if (st.kind == StageKind::kEachCheckpoint) {
      std::vector<uint64_t> indices;
      for (const auto& [i, t] : claimed) indices.push_back(i);
      std::vector<std::vector<uint32_t>> kept(indices.size());
      std::vector<Status> errs(indices.size());
      ParallelFor(indices.size(), 8, 64,
                  [&](size_t k) { errs[k] = ListKeptEpochs(env, points, indices[k], &kept[k]); });
      for (size_t k = 0; k < indices.size(); ++k) {
        CS_RETURN_IF_ERROR(errs[k]);
        for (uint32_t e : kept[k]) {
          ItemInput& in = inputs[ItemKey(static_cast<uint32_t>(indices[k]), e)];
          in.committed = true;  // a kept checkpoint never changes
          in.name = points.relative(points.kept_dir(indices[k]));
        }
      }
      for (uint64_t k : dirs) {
        if (ItemUpstream(k) < num_points && inputs.count(k) == 0)
          inputs[k].committed = true;  // claimed, so its checkpoint was kept
      }
    } else {
      // The funnel of the newest version: blocked by the first bad input.
      ItemInput in;
      const StageScan* up = nullptr;
      for (const StageScan& s : *out) {
        if (s.name == st.input) up = &s;
      }
      if (up != nullptr) {
        const SweepLayout ul = SweepLayout::ForStage(root, up->name);
        for (const ScannedItem& it : up->items) {
          ItemInput u{it.derived.state == TrialState::kDone, it.derived.state,
                      ul.relative(ul.trial_dir(it.key)), it.derived.latest_attempt,
                      it.derived.problem};
          if (!BlockingProblem(u).empty()) {
            in = u;
            break;
          }
        }
      }
      // Trials are inputs of a funnel over them, and over each_checkpoint
      // (point i is complete only when trial i is done, §1.5).
      if (in.name.empty() && (up == nullptr || up->kind == StageKind::kEachCheckpoint)) {
        for (const auto& [i, t] : claimed) {
          ItemInput u = TrialInput(points, t, i);
          if (!BlockingProblem(u).empty()) {
            in = u;
            break;
          }
        }
      }
      inputs[ItemKey(0, version)] = in;
      st.total = 1;
    }
    // Items with a directory: their files say; the others: their input.
    std::vector<uint64_t> with_dir;
    for (uint64_t k : dirs) {
      if (inputs.count(k) != 0) with_dir.push_back(k);
    }
    std::vector<ScannedTrial> found;
    const SweepSpec task = StageTaskSpec(spec, stage);
    ScanEntries(env, layout, task, with_dir, now_ns, &found);
    std::map<uint64_t, DerivedState> from_dir;
    for (const ScannedTrial& f : found) from_dir[f.index] = f.derived;
    for (const auto& [k, in] : inputs) {
      ScannedItem it;
      it.key = k;
      auto d = from_dir.find(k);
      it.has_dir = d != from_dir.end();
      it.derived = it.has_dir ? d->second : DeriveItemState(in);
      st.items.push_back(std::move(it));
    }
    Count(&st);
    out->push_back(std::move(st));
  }
  return Status::OK();
}

}  // namespace claimsweep
