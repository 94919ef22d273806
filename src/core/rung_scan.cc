#include "core/rung_scan.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/asha.h"
#include "core/asha_spec.h"
#include "core/layout.h"
#include "core/publish.h"
#include "core/rungs.h"
#include "core/sweep_scan.h"

namespace claimsweep {

const ConfigRung* RungScan::Find(uint64_t config) const {
  auto it = std::lower_bound(configs.begin(), configs.end(), config,
                             [](const ConfigRung& c, uint64_t v) { return c.config < v; });
  return it != configs.end() && it->config == config ? &*it : nullptr;
}

bool HasRungs(const SweepSpec& spec) {
  return spec.has_early_stopping() && spec.early_stopping().has_asha() &&
         !AshaRungBudgets(spec.early_stopping().asha()).empty();
}

Status ScanRungEntries(Env* env, const std::string& root, const SweepSpec& spec, uint32_t k,
                       uint64_t num_points, int64_t now_ns, std::vector<RungEntry>* out) {
  out->clear();
  const SweepLayout q = RungQueue(SweepLayout(root), k);
  std::vector<std::string> names;
  Status s = env->ListDir(q.trials_dir(), &names);
  if (!s.ok() && !s.IsNotFound()) return s;
  std::vector<uint64_t> keys;
  for (const std::string& n : names) {
    uint64_t key = 0;
    if (q.ParseEntryName(n, &key) && ItemSub(key) == 0 && ItemUpstream(key) < num_points)
      keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  std::vector<ScannedTrial> found;
  ScanEntries(env, q, spec, keys, now_ns, &found);
  std::map<uint64_t, RungEntry> by;
  for (ScannedTrial& t : found) {
    RungEntry& e = by[ItemUpstream(t.index)];
    e.config = ItemUpstream(t.index);
    e.has_dir = true;
    e.scanned = std::move(t);
  }
  std::vector<LeaseEntry> leases;
  s = ListLeaseEntries(env, q, &leases);
  if (!s.ok() && !s.IsNotFound()) return s;
  for (const LeaseEntry& l : leases) {
    const uint64_t c = ItemUpstream(l.index);
    if (ItemSub(l.index) != 0 || c >= num_points || by.count(c) != 0) continue;
    RungEntry& e = by[c];  // announced: pending
    e.config = c;
    e.scanned.index = l.index;
  }
  for (auto& [c, e] : by) out->push_back(std::move(e));
  return Status::OK();
}

Status ScanRungs(Env* env, const std::string& root, const SweepSpec& spec,
                 const std::vector<std::pair<uint64_t, TrialState>>& claimed, uint64_t num_points,
                 int64_t now_ns, RungScan* out) {
  *out = RungScan();
  out->budgets = AshaRungBudgets(spec.early_stopping().asha());
  if (out->budgets.empty()) return Status::OK();
  const size_t n = out->budgets.size();
  out->rungs.resize(n);
  std::map<uint64_t, ConfigRung> by;
  // Rung 0: every point; the unclaimed ones pending.
  RungCounts& r0 = out->rungs[0];
  r0.budget = out->budgets[0];
  r0.configurations = num_points;
  uint64_t listed = 0;
  for (const auto& [c, st] : claimed) {
    if (c >= num_points) continue;
    ++listed;
    ++r0.counts[static_cast<int>(st)];
    ConfigRung& cr = by[c];
    cr.config = c;
    cr.state = st;
    if (st == TrialState::kDone) cr.done_rung = 0;
  }
  r0.counts[static_cast<int>(TrialState::kPending)] += num_points - listed;
  for (uint32_t k = 1; k < n; ++k) {
    RungCounts& rk = out->rungs[k];
    rk.rung = k;
    rk.budget = out->budgets[k];
    std::vector<RungEntry> at;
    CS_RETURN_IF_ERROR(ScanRungEntries(env, root, spec, k, num_points, now_ns, &at));
    rk.configurations = at.size();
    for (const RungEntry& e : at) {
      const uint64_t c = e.config;
      const ScannedTrial& t = e.scanned;
      ++rk.counts[static_cast<int>(t.derived.state)];
      ConfigRung& cr = by[c];  // a promotion of an unclaimed trial: a hand edit, shown as is
      cr.config = c;
      cr.rung = k;
      cr.state = t.derived.state;
      cr.attempts = t.derived.latest_attempt;
      if (t.derived.state == TrialState::kDone) cr.done_rung = static_cast<int>(k);
    }
  }
  for (auto& [c, cr] : by) {
    if (cr.done_rung >= 0) cr.epochs_done = out->budgets[static_cast<size_t>(cr.done_rung)];
    out->configs.push_back(cr);
  }
  for (const RungCounts& r : out->rungs) out->reached.push_back(r.count(TrialState::kDone));
  for (size_t k = 0; k < n; ++k) {
    const int prev = k == 0 ? 0 : out->budgets[k - 1];
    out->epochs_used += out->reached[k] * static_cast<uint64_t>(out->budgets[k] - prev);
  }
  out->epochs_exhaustive = out->reached[0] * static_cast<uint64_t>(out->budgets.back());
  out->compute_fraction = ComputeFraction(out->budgets, out->reached);
  return Status::OK();
}

std::string RungLine(const RungCounts& r) {
  std::string line = "rung " + std::to_string(r.rung) + " (" + std::to_string(r.budget) +
                     (r.budget == 1 ? " epoch): " : " epochs): ") +
                     std::to_string(r.configurations) +
                     (r.configurations == 1 ? " configuration" : " configurations");
  // What needs attention first, then the rest; pending is "promoted (not
  // started)" above rung 0 (announced), "pending" at rung 0 (not claimed yet).
  const TrialState order[] = {TrialState::kDone,        TrialState::kRunning, TrialState::kPending,
                              TrialState::kInterrupted, TrialState::kStale,   TrialState::kFailed,
                              TrialState::kStopped,     TrialState::kBroken,  TrialState::kBlocked};
  std::string parts;
  for (TrialState s : order) {
    const uint64_t v = r.count(s);
    if (v == 0) continue;
    const std::string name =
        s == TrialState::kPending && r.rung > 0 ? "promoted (not started)" : TrialStateName(s);
    parts += (parts.empty() ? "" : ", ") + std::to_string(v) + " " + name;
  }
  return parts.empty() ? line : line + ": " + parts;
}

}  // namespace claimsweep
