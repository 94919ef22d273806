// PointSpace: the sweep's points. Point i is a pure function of (spec, i):
//   i = grid_index * samples + sample
// grid_index is decoded in mixed radix, first grid parameter slowest; random
// parameters are drawn from a SplitMix64 stream seeded by (spec.seed, i), in the
// order the spec lists them. Every process computes the same values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/number_format.h"  // FormatDouble: a point's values are its text
#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

struct Point {
  uint64_t index = 0;
  // (name, value) in spec order: grid parameters, then random ones.
  std::vector<std::pair<std::string, std::string>> values;
  std::map<std::string, std::string> AsMap() const;
};

class PointSpace {
 public:
  // REQUIRES: spec passed ValidateSpec.
  static Result<PointSpace> Create(const SweepSpec& spec);

  uint64_t size() const { return size_; }
  uint64_t grid_size() const { return grid_size_; }
  uint64_t samples() const { return samples_; }
  const std::vector<std::string>& names() const { return names_; }
  // REQUIRES: index < size().
  Point At(uint64_t index) const;

 private:
  SweepSpec spec_;
  std::vector<std::vector<std::string>> grid_values_;  // per grid parameter
  std::vector<std::string> names_;
  uint64_t grid_size_ = 1;
  uint64_t samples_ = 1;
  uint64_t size_ = 1;
};

// The values of a grid parameter (its `values`, or its range expanded).
Status ExpandGridParam(const GridParam& p, std::vector<std::string>* out);

}  // namespace claimsweep
