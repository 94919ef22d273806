// What the importers (CIFAR-10, MNIST) share: their options and how they
// carve a validation split out of the training set.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace claimsweep {

struct ImportOptions {
  double val_fraction = 0.1;  // of the source's training set, moved to "val"
  uint64_t seed = 0;          // of the validation carve
  uint64_t records_per_shard = 10000;
};

// InvalidArgument unless 0 <= val_fraction < 1.
Status CheckImportOptions(const ImportOptions& o);

// (*is_val)[i] says whether training example i goes to val. Exactly
// round(n * val_fraction) examples are chosen, by a SplitMix64 shuffle seeded
// with `seed`: a pure function of (n, val_fraction, seed). Train and val keep
// the source's order.
void CarveValidation(uint64_t n, double val_fraction, uint64_t seed, std::vector<bool>* is_val);

}  // namespace claimsweep
