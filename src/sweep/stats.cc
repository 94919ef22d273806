#include "sweep/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <tuple>

#include "core/rng.h"

namespace claimsweep {
namespace {

// The mean, corrected by a second pass: the mean of equal values is that
// value, not one a rounding away.
double Mean(const std::vector<double>& xs) {
  double sum = 0;
  for (double x : xs) sum += x;
  const double mean = sum / static_cast<double>(xs.size());
  double correction = 0;
  for (double x : xs) correction += x - mean;
  return mean + correction / static_cast<double>(xs.size());
}

bool ParseNumber(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return *end == '\0' && !std::isnan(*v);
}

}  // namespace

std::pair<double, double> BootstrapCi(const std::vector<double>& xs) {
  if (xs.size() < 2) return {NAN, NAN};
  SplitMix64 rng(0x9e3779b97f4a7c15ULL ^
                 xs.size());  // fixed seed: the same results, the same interval
  // Resampled deviations from the mean, so that equal values give exactly their value.
  const double mean = Mean(xs);
  constexpr int kResamples = 2000;
  std::vector<double> means(kResamples);
  for (int b = 0; b < kResamples; ++b) {
    double sum = 0;
    for (size_t i = 0; i < xs.size(); ++i) sum += xs[rng.Next() % xs.size()] - mean;
    means[b] = mean + sum / static_cast<double>(xs.size());
  }
  std::sort(means.begin(), means.end());
  return {means[static_cast<size_t>(0.025 * kResamples)],
          means[static_cast<size_t>(0.975 * kResamples) - 1]};
}

Stats Describe(const std::vector<double>& xs) {
  Stats s{xs.size(), NAN, NAN, NAN, NAN, NAN, NAN};
  if (xs.empty()) return s;
  s.mean = Mean(xs);
  double ss = 0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  if (xs.size() > 1) s.std = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  s.min = *std::min_element(xs.begin(), xs.end());
  s.max = *std::max_element(xs.begin(), xs.end());
  if (xs.size() >= kMinCiSamples) std::tie(s.ci95_lo, s.ci95_hi) = BootstrapCi(xs);
  return s;
}

bool IsXColumn(const std::string& metric) {
  return metric == "epoch" || metric == "step" || metric == "best_epoch";
}

bool ValueLess(const std::string& a, const std::string& b) {
  double x = 0, y = 0;
  const bool nx = ParseNumber(a, &x), ny = ParseNumber(b, &y);
  if (nx && ny) return x < y;
  if (nx != ny) return nx;
  return a < b;
}

}  // namespace claimsweep
