// PointSpace: the sweep's points. Point i is a pure function of (spec, i):
//   i = grid_index * samples + sample
// The grid is the union of the branches (each the product of its params, then
// its zips), crossed with the shared params and then the shared zips; without
// branches, the shared part alone. grid_index is decoded in mixed radix: the
// branch slowest (branch 1's points first), then the branch's own digits, then
// the shared params, then the shared zips, the last digit fastest. A zip is one
// digit whose value is a tuple. O(parameters) per point, nothing is enumerated.
//
// Random parameters (the global ones, then the point's branch's) are drawn, in
// the order the spec lists them, from one SplitMix64 stream per point, seeded
//   format_version >= 3: by (spec.seed, a hash of the point's grid name=value
//     pairs sorted by name, sample): adding grid values, branches or samples
//     leaves every existing (grid values, sample)'s draws unchanged;
//   format_version 1, 2, and a spec not frozen (0): by (spec.seed, i), as
//     sweeps frozen before version 3 ran. `sweep validate`/`init` show points
//     with the version they freeze (kSpecFormatVersion).
// Every process computes the same values.
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
  // (name, value) of the parameters this point has, in PointSpace::names()
  // order. A parameter its branch lacks is absent (not an empty value).
  std::vector<std::pair<std::string, std::string>> values;
  std::map<std::string, std::string> AsMap() const;
  // The value of `name`, or nullptr when the point has no such parameter.
  const std::string* Find(const std::string& name) const;
};

class PointSpace {
 public:
  // REQUIRES: spec passed ValidateSpec.
  static Result<PointSpace> Create(const SweepSpec& spec);

  uint64_t size() const { return size_; }
  uint64_t grid_size() const { return grid_size_; }
  uint64_t samples() const { return samples_; }
  // Every parameter of any point, in first-appearance order: each branch's
  // (params, zips, random), then the shared params, shared zips, random ones.
  const std::vector<std::string>& names() const { return names_; }
  // REQUIRES: index < size().
  Point At(uint64_t index) const;

 private:
  // One mixed-radix digit: a grid parameter (one slot) or a zip (its params'
  // slots, each column as long as the others).
  struct Axis {
    std::vector<size_t> slots;                      // into names_
    std::vector<std::vector<std::string>> columns;  // per slot: its values
  };
  // A branch, or the shared part of every point.
  struct Part {
    std::vector<Axis> axes;
    std::vector<std::pair<size_t, RandomParam>> random;  // (slot, param)
    uint64_t size = 1;                                   // product of the axes
  };
  Status AddPart(const google::protobuf::RepeatedPtrField<GridParam>& params,
                 const google::protobuf::RepeatedPtrField<Zip>& zips,
                 const google::protobuf::RepeatedPtrField<RandomParam>& random, Part* part,
                 long double* size);
  size_t Slot(const std::string& name);
  void Decode(const Part& part, uint64_t digits, std::vector<const std::string*>* slot) const;

  uint64_t seed_ = 0;
  bool keyed_draws_ = false;  // format_version >= 3
  std::vector<Part> branches_;
  std::vector<uint64_t> branch_start_;  // first branch-local grid index of each branch
  uint64_t branch_total_ = 1;           // points of all branches (1 without branches)
  Part shared_;
  std::vector<std::string> names_;
  std::vector<size_t> by_name_;  // slots in name order (the format-3 key)
  uint64_t grid_size_ = 1;
  uint64_t samples_ = 1;
  uint64_t size_ = 1;
};

// The values of a grid parameter (its `values`, or its range expanded).
Status ExpandGridParam(const GridParam& p, std::vector<std::string>* out);

}  // namespace claimsweep
