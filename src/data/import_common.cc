#include "data/import_common.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/number_format.h"
#include "core/rng.h"

namespace claimsweep {

Status CheckImportOptions(const ImportOptions& o) {
  if (!(o.val_fraction >= 0.0 && o.val_fraction < 1.0)) {
    return Status::InvalidArgument("val fraction " + FormatDouble(o.val_fraction) +
                                   " must be in [0, 1)");
  }
  return Status::OK();
}

void CarveValidation(uint64_t n, double val_fraction, uint64_t seed, std::vector<bool>* is_val) {
  const uint64_t n_val = std::min<uint64_t>(n, uint64_t(std::llround(double(n) * val_fraction)));
  std::vector<uint64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Shuffle(&order, MixSeed(seed, 0x76616c /* "val" */));
  is_val->assign(n, false);
  for (uint64_t i = 0; i < n_val; ++i) (*is_val)[order[i]] = true;
}

}  // namespace claimsweep
