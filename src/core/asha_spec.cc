#include "core/asha_spec.h"

#include <cstdint>

namespace claimsweep {

std::vector<int> AshaRungBudgets(const Asha& asha) {
  std::vector<int> out;
  const int64_t lo = asha.min_epochs(), hi = asha.max_epochs(), r = asha.reduction();
  if (lo < 1 || r < 2 || hi < lo) return out;
  // b < hi < 2^31 and r < 2^31, so b * r < 2^62: no overflow in int64_t.
  for (int64_t b = lo; b < hi; b *= r) out.push_back(static_cast<int>(b));
  out.push_back(static_cast<int>(hi));
  return out;
}

std::string DescribeEarlyStopping(const EarlyStopping& es) {
  if (!es.has_asha()) return "";
  const Asha& a = es.asha();
  std::string rungs;
  for (int b : AshaRungBudgets(a)) rungs += (rungs.empty() ? "" : ", ") + std::to_string(b);
  return std::string(a.synchronous() ? "SHA" : "ASHA") + " on " + a.metric() +
         (a.maximize() ? " (maximize)" : " (minimize)") + ", rungs " + rungs +
         " epochs, reduction " + std::to_string(a.reduction());
}

}  // namespace claimsweep
