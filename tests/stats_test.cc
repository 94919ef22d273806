// The statistics of `sweep summary --group-by` (src/sweep/stats.h).
#include "sweep/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace claimsweep {
namespace {

TEST(Stats, MeanSampleStdMinMax) {
  const Stats s = Describe({1, 2, 3, 4});
  EXPECT_EQ(s.n, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.std, std::sqrt(5.0 / 3.0), 1e-12);  // n - 1 in the denominator
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 4);
}

TEST(Stats, UndefinedFiguresAreNaN) {
  const Stats none = Describe({});
  EXPECT_EQ(none.n, 0u);
  EXPECT_TRUE(std::isnan(none.mean) && std::isnan(none.min) && std::isnan(none.ci95_lo));
  const Stats one = Describe({0.5});
  EXPECT_EQ(one.mean, 0.5);
  EXPECT_TRUE(std::isnan(one.std)) << "one value has no sample std";
}

TEST(Stats, NoConfidenceIntervalBelowFiveSamples) {
  for (size_t n = 1; n < kMinCiSamples; ++n) {
    std::vector<double> xs(n);
    for (size_t i = 0; i < n; ++i) xs[i] = static_cast<double>(i);
    const Stats s = Describe(xs);
    EXPECT_TRUE(std::isnan(s.ci95_lo) && std::isnan(s.ci95_hi)) << "n = " << n;
  }
  EXPECT_EQ(kMinCiSamples, 5u);
}

TEST(Stats, BootstrapIntervalSurroundsTheMeanAndIsReproducible) {
  const std::vector<double> xs = {3, 1, 4, 1, 5, 9, 2, 6};
  const Stats s = Describe(xs);
  EXPECT_GE(s.ci95_lo, s.min);
  EXPECT_LT(s.ci95_lo, s.mean);
  EXPECT_GT(s.ci95_hi, s.mean);
  EXPECT_LE(s.ci95_hi, s.max);
  const Stats again = Describe(xs);
  EXPECT_EQ(again.ci95_lo, s.ci95_lo);
  EXPECT_EQ(again.ci95_hi, s.ci95_hi);
  // Equal values: mean and interval are that value, bit for bit, and the std is 0.
  const std::vector<double> flat(12, 0.1103456789);
  const Stats f = Describe(flat);
  EXPECT_EQ(f.mean, 0.1103456789);
  EXPECT_EQ(f.std, 0);
  EXPECT_EQ(f.ci95_lo, 0.1103456789);
  EXPECT_EQ(f.ci95_hi, 0.1103456789);
}

TEST(Stats, PositionsOnTheXAxisAreNotMeasurements) {
  EXPECT_TRUE(IsXColumn("epoch"));
  EXPECT_TRUE(IsXColumn("step"));
  EXPECT_TRUE(IsXColumn("best_epoch"));
  EXPECT_FALSE(IsXColumn("val_acc"));
  EXPECT_FALSE(IsXColumn("epoch_seconds"));
}

TEST(Stats, ValuesSortAsNumbersWhenTheyAreNumbers) {
  std::vector<std::string> v = {"10", "b", "2", "1e-3", "1", "a", "-4"};
  std::sort(v.begin(), v.end(), ValueLess);
  EXPECT_EQ(v, (std::vector<std::string>{"-4", "1e-3", "1", "2", "10", "a", "b"}));
}

}  // namespace
}  // namespace claimsweep
