// The statistics of `sweep summary --group-by` (and the rules for which
// columns and groups get them), apart from the output code so that they are
// tested on their own.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace claimsweep {

// A 95% interval from fewer samples says more about the resampling than
// about the data: below this n the interval is left empty.
inline constexpr size_t kMinCiSamples = 5;

struct Stats {
  size_t n = 0;
  // NaN where undefined: everything for n = 0, std for n < 2, the interval
  // for n < kMinCiSamples.
  double mean, std, min, max, ci95_lo, ci95_hi;
};

// Mean, sample standard deviation (n - 1), min, max, and the 95% percentile
// bootstrap interval of the mean. REQUIRES: no NaN in xs.
Stats Describe(const std::vector<double>& xs);

// Percentile bootstrap of the mean: 2,000 resamples from a fixed seed, so the
// same values give the same interval. NaN, NaN for fewer than 2 values.
std::pair<double, double> BootstrapCi(const std::vector<double>& xs);

// A metric that is a position on a curve's x axis (`epoch`, `step`) or an
// epoch number (`best_epoch`), not a measurement: it gets no statistics.
bool IsXColumn(const std::string& metric);

// Orders parameter values: numerically when both are numbers (2 before 10),
// numbers before text, text by bytes.
bool ValueLess(const std::string& a, const std::string& b);

}  // namespace claimsweep
