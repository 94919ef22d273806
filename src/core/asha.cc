#include "core/asha.h"

#include <algorithm>
#include <cmath>

namespace claimsweep {

bool RanksAsFailed(const RungResult& r) { return r.failed || !std::isfinite(r.value); }

std::vector<uint64_t> TopConfigs(std::vector<RungResult> results, size_t k, bool maximize) {
  // Drop the failed first: they are never returned, and what is left has
  // finite values, so the order below is a strict total order on (value, id).
  results.erase(std::remove_if(results.begin(), results.end(), RanksAsFailed), results.end());
  auto better = [maximize](const RungResult& a, const RungResult& b) {
    if (a.value != b.value) return maximize ? a.value > b.value : a.value < b.value;
    return a.config < b.config;
  };
  const size_t n = std::min(k, results.size());
  std::partial_sort(results.begin(), results.begin() + n, results.end(), better);
  std::vector<uint64_t> top;
  top.reserve(n);
  for (size_t i = 0; i < n; ++i) top.push_back(results[i].config);
  return top;
}

std::vector<uint64_t> ShaPromotions(const std::vector<RungResult>& rung, uint32_t reduction,
                                    bool maximize) {
  if (reduction < 2) return {};
  return TopConfigs(rung, rung.size() / reduction, maximize);
}

AshaDecision AshaDecide(const std::vector<std::vector<RungResult>>& results_per_rung,
                        const std::vector<std::set<uint64_t>>& promoted_from_rung,
                        uint32_t reduction, bool maximize) {
  AshaDecision decision;  // kNew at rung 0 unless a rung has a candidate
  if (reduction < 2 || results_per_rung.size() < 2) return decision;
  static const std::set<uint64_t> kNone;
  for (size_t k = results_per_rung.size() - 1; k-- > 0;) {
    const std::vector<RungResult>& rung = results_per_rung[k];
    const std::set<uint64_t>& promoted =
        k < promoted_from_rung.size() ? promoted_from_rung[k] : kNone;
    for (uint64_t c : TopConfigs(rung, rung.size() / reduction, maximize)) {
      if (promoted.count(c) != 0) continue;
      decision.kind = AshaDecision::kPromote;
      decision.rung = static_cast<uint32_t>(k + 1);
      decision.config = c;
      return decision;
    }
  }
  return decision;
}

double ComputeFraction(const std::vector<int>& budgets,
                       const std::vector<uint64_t>& configs_reaching_rung) {
  if (budgets.empty() || configs_reaching_rung.empty() || configs_reaching_rung[0] == 0) return 0;
  const size_t rungs = std::min(budgets.size(), configs_reaching_rung.size());
  uint64_t trained = 0;
  int previous = 0;
  for (size_t k = 0; k < rungs; ++k) {
    trained += configs_reaching_rung[k] * static_cast<uint64_t>(budgets[k] - previous);
    previous = budgets[k];
  }
  const uint64_t exhaustive = configs_reaching_rung[0] * static_cast<uint64_t>(budgets.back());
  return static_cast<double>(trained) / static_cast<double>(exhaustive);
}

}  // namespace claimsweep
