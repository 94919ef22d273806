#include "core/rungs.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

#include "core/asha_spec.h"
#include "core/derived.h"
#include "core/json.h"
#include "core/publish.h"
#include "core/trial_state.h"

namespace claimsweep {

std::string RungStageName(uint32_t k) { return "rung-" + std::to_string(k); }

bool ParseRungStageName(const std::string& name, uint32_t* k) {
  if (name.rfind("rung-", 0) != 0 || name.size() < 6 || name.size() > 15) return false;
  uint64_t v = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  if (v == 0 || v > 0xffffffffu || (name[5] == '0')) return false;
  *k = static_cast<uint32_t>(v);
  return true;
}

SweepLayout RungQueue(const SweepLayout& root, uint32_t k) {
  return k == 0 ? root : SweepLayout::ForStage(root.root(), RungStageName(k));
}

uint64_t RungKey(uint32_t k, uint64_t config) {
  return k == 0 ? config : ItemKey(static_cast<uint32_t>(config), 0);
}

std::string RungScoresDir(const SweepLayout& root, uint32_t k) {
  return root.root() + "/rungs/" + std::to_string(k);
}

std::string ScoreMarkerName(const RungResult& r) {
  if (RanksAsFailed(r)) return TrialName(r.config) + "=fail";
  // The shortest form that reads back as the same double ("0.073", not
  // "0.072999999999999995"); never "-0".
  const double v = r.value == 0 ? 0.0 : r.value;
  char b[40];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(b, sizeof b, "%.*g", digits, v);
    if (std::strtod(b, nullptr) == v) break;
  }
  return TrialName(r.config) + "=" + b;
}

bool ParseScoreMarker(const std::string& name, RungResult* r) {
  const size_t eq = name.find('=');
  if (eq == std::string::npos) return false;
  uint64_t c = 0;
  if (!ParseTrialName(name.substr(0, eq), &c)) return false;
  const std::string v = name.substr(eq + 1);
  r->config = c;
  r->value = 0;
  r->failed = v == "fail";
  if (r->failed) return true;
  if (v.empty() || v.size() > 32) return false;
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(v.c_str(), &end);
  if (end != v.c_str() + v.size() || errno == ERANGE || !std::isfinite(d)) return false;
  r->value = d;
  return true;
}

RungResult ScoreOfRecord(uint64_t config, const TrialResult& rec, const std::string& metric) {
  RungResult r;
  r.config = config;
  r.failed = true;
  if (rec.outcome() != "done") return r;
  const auto& f = rec.metrics().fields();
  auto it = f.find(metric);
  if (it == f.end() || it->second.kind_case() != google::protobuf::Value::kNumberValue) return r;
  r.value = it->second.number_value();
  r.failed = !std::isfinite(r.value);
  return r;
}

Rungs::Rungs(Env* env, SweepLayout root, const Asha& asha)
    : env_(env), root_(std::move(root)), asha_(asha), budgets_(AshaRungBudgets(asha)) {
  if (budgets_.empty()) budgets_.push_back(1);  // refused by validation; never empty here
}

Status Rungs::Read(uint32_t k, std::vector<RungResult>* out) {
  out->clear();
  std::vector<std::string> names;
  Status s = env_->ListDir(RungScoresDir(root_, k), &names);
  if (s.IsNotFound()) return Status::OK();
  CS_RETURN_IF_ERROR(s);
  std::map<uint64_t, RungResult> by;
  for (const std::string& n : names) {
    RungResult r;
    if (!ParseScoreMarker(n, &r)) continue;  // not ours (a hand edit): not a result
    auto [it, fresh] = by.emplace(r.config, r);
    if (!fresh && RanksAsFailed(it->second) && !RanksAsFailed(r)) it->second = r;
  }
  for (const auto& [c, r] : by) out->push_back(r);
  return Status::OK();
}

Status Rungs::Publish(uint32_t k, const RungResult& r) {
  const std::string dir = RungScoresDir(root_, k);
  CS_RETURN_IF_ERROR(env_->CreateDirs(dir));
  Status s = env_->CreateExclusive(dir + "/" + ScoreMarkerName(r), "");
  return s.IsAlreadyExists() ? Status::OK() : s;
}

Status Rungs::Members(uint32_t k, uint64_t num_points, std::vector<uint64_t>* members,
                      bool* complete) {
  members->clear();
  *complete = true;
  if (k == 0) {
    for (uint64_t c = 0; c < num_points; ++c) members->push_back(c);
    return Status::OK();
  }
  std::vector<uint64_t> before;
  CS_RETURN_IF_ERROR(Members(k - 1, num_points, &before, complete));
  if (!*complete) return Status::OK();
  std::vector<RungResult> below;
  CS_RETURN_IF_ERROR(Read(k - 1, &below));
  std::set<uint64_t> member(before.begin(), before.end());
  std::vector<RungResult> in;
  for (const RungResult& r : below) {
    if (member.count(r.config)) in.push_back(r);
  }
  if (in.size() < before.size()) {
    *complete = false;
    return Status::OK();
  }
  *members = ShaPromotions(in, asha_.reduction(), asha_.maximize());
  return Status::OK();
}

Status Rungs::ShaAdvance(uint32_t k, uint64_t num_points, size_t* announced) {
  *announced = 0;
  if (!asha_.synchronous() || k >= top()) return Status::OK();
  std::vector<uint64_t> members;
  bool complete = false;
  CS_RETURN_IF_ERROR(Members(k, num_points, &members, &complete));
  if (!complete) return Status::OK();
  std::vector<RungResult> results;
  CS_RETURN_IF_ERROR(Read(k, &results));
  std::set<uint64_t> member(members.begin(), members.end());
  std::vector<RungResult> in;
  for (const RungResult& r : results) {
    if (member.count(r.config)) in.push_back(r);
  }
  if (in.size() < members.size()) return Status::OK();  // some member still runs
  const SweepLayout next = RungQueue(root_, k + 1);
  // Announced before, or claimed since (the claimer drops the announcement):
  // announcing those again would only leave garbage entries.
  std::set<uint64_t> done;
  CS_RETURN_IF_ERROR(Promoted(k, &done));
  for (uint64_t c : ShaPromotions(in, asha_.reduction(), asha_.maximize())) {
    if (done.count(c)) continue;
    Status s = env_->CreateExclusive(next.released_lease_path(RungKey(k + 1, c), 0), "");
    if (s.ok()) {
      ++*announced;
    } else if (!s.IsAlreadyExists()) {
      return s;
    }
  }
  return Status::OK();
}

Status Rungs::Promoted(uint32_t k, std::set<uint64_t>* out) {
  out->clear();
  const SweepLayout next = RungQueue(root_, k + 1);
  std::vector<std::string> items;
  Status s = env_->ListDir(next.trials_dir(), &items);
  if (!s.ok() && !s.IsNotFound()) return s;
  for (const std::string& n : items) {
    uint64_t key = 0;
    if (ParseItemName(n, &key)) out->insert(ItemUpstream(key));
  }
  std::vector<LeaseEntry> leases;
  s = ListLeaseEntries(env_, next, &leases);
  if (!s.ok() && !s.IsNotFound()) return s;
  for (const LeaseEntry& e : leases) out->insert(ItemUpstream(e.index));
  return Status::OK();
}

Status Rungs::AshaPromote(bool* promoted, uint32_t* to, uint64_t* config) {
  *promoted = false;
  if (asha_.synchronous() || top() == 0) return Status::OK();
  for (int round = 0; round < 4; ++round) {
    std::vector<std::vector<RungResult>> results(budgets_.size());
    std::vector<std::set<uint64_t>> promoted_from(budgets_.size());
    for (uint32_t k = 0; k < budgets_.size(); ++k) {
      CS_RETURN_IF_ERROR(Read(k, &results[k]));
      if (k < top()) CS_RETURN_IF_ERROR(Promoted(k, &promoted_from[k]));
    }
    const AshaDecision d = AshaDecide(results, promoted_from, asha_.reduction(), asha_.maximize());
    if (d.kind != AshaDecision::kPromote) return Status::OK();
    const SweepLayout next = RungQueue(root_, d.rung);
    Status s = env_->CreateExclusive(next.released_lease_path(RungKey(d.rung, d.config), 0), "");
    if (s.ok()) {
      *promoted = true;
      *to = d.rung;
      *config = d.config;
      return Status::OK();
    }
    if (!s.IsAlreadyExists()) return s;
    // Another decider promoted it between our listing and the create: the
    // promotion happened once; decide again with what is published now.
  }
  return Status::OK();
}

Status Rungs::Finished(uint32_t k, const RungResult& r, uint64_t num_points, size_t* announced) {
  *announced = 0;
  CS_RETURN_IF_ERROR(Publish(k, r));
  return ShaAdvance(k, num_points, announced);
}

Status Rungs::Repair(uint64_t num_points, const ClaimPolicy& policy, size_t* fixed) {
  *fixed = 0;
  for (uint32_t k = 0; k < budgets_.size(); ++k) {
    // Who may have ended at rung k: every point at rung 0, else whatever was
    // promoted to it (announced or claimed).
    std::set<uint64_t> candidates;
    if (k == 0) {
      for (uint64_t c = 0; c < num_points; ++c) candidates.insert(c);
    } else {
      CS_RETURN_IF_ERROR(Promoted(k - 1, &candidates));
    }
    std::vector<RungResult> have;
    CS_RETURN_IF_ERROR(Read(k, &have));
    for (const RungResult& r : have) candidates.erase(r.config);
    const SweepLayout q = RungQueue(root_, k);
    const std::string metric = asha_.metric();
    for (uint64_t c : candidates) {
      const uint64_t key = RungKey(k, c);
      std::string text;
      TrialResult rec;
      bool ended = false;
      if (env_->ReadFile(q.result_path(key), &text).ok() &&
          ParseJson(text, q.result_path(key), &rec).ok()) {
        ended = true;
      } else {
        TrialSnapshot snap;
        if (!ReadTrialSnapshot(env_, q, key, &snap).ok() || !snap.exists) continue;
        if (DeriveClaimState(snap, policy, false).state != TrialState::kFailed) continue;
        ended = true;
        rec.set_outcome("failed");
      }
      if (!ended) continue;
      CS_RETURN_IF_ERROR(Publish(k, ScoreOfRecord(c, rec, metric)));
      ++*fixed;
    }
    size_t announced = 0;
    CS_RETURN_IF_ERROR(ShaAdvance(k, num_points, &announced));
    *fixed += announced;
  }
  return Status::OK();
}

}  // namespace claimsweep
