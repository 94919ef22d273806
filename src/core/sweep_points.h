// SweepPoints: a sweep's points across the versions of its spec.
//
// Version 1 is DIR/sweep.textproto; `sweep extend` publishes version v >= 2
// as DIR/versions/<v>.textproto (a SpecVersion record, spec.proto). Each
// version keeps every point of the one before, under the same index with
// the same values, and appends its new points: indices
// [first_index, points) are, in order, the new spec's own points that the
// record's runs list. So point i is still a pure function of (the versions
// up to the one that added it, i), and a process that loaded fewer versions
// sees a prefix of the points of one that loaded more.
//
// Readers check every version file whole: its trailing digest line, its
// place in the chain (version number, the previous file's SHA-256, the
// first index), and that it changes neither the task nor anything else
// points depend on. An edited, torn or foreign version is refused by name,
// never skipped: the points after it would be wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
#include "core/points.h"
#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

class SweepPoints {
 public:
  // Version 1 alone (`sweep validate`, `sweep init`, tests).
  // REQUIRES: spec passed ValidateSpec.
  static Result<SweepPoints> FromSpec(const SweepSpec& spec);
  // `base` is ReadFrozenSpec's, `base_text` the bytes it read (their SHA-256
  // starts the chain). Loads every version published so far: one stat when
  // there is none.
  static Result<SweepPoints> Load(Env* env, const SweepLayout& layout, const SweepSpec& base,
                                  const std::string& base_text);

  uint64_t size() const { return versions_.back().points; }
  // Every parameter name of every version, in first-appearance order.
  const std::vector<std::string>& names() const { return names_; }
  // REQUIRES: index < size().
  Point At(uint64_t index) const;
  // The latest version loaded (1 if never extended), and its spec: the
  // claim settings and resources in force now.
  uint32_t version() const { return versions_.back().number; }
  const SweepSpec& spec() const { return versions_.back().spec; }
  // Version v's spec. REQUIRES: 1 <= v <= version().
  const SweepSpec& version_spec(uint32_t v) const { return versions_[v - 1].spec; }
  // The version that added point `index`.
  uint32_t version_of(uint64_t index) const;
  // The SHA-256 of the latest version's file (what the next one must name).
  const std::string& sha256() const { return versions_.back().sha256; }
  // Loads versions published since: *grew is set when size() grew. One stat
  // when there is none.
  Status Refresh(Env* env, const SweepLayout& layout, bool* grew);

  // Version 1's point space (its grid size and samples, for `sweep init`).
  const PointSpace& base_space() const { return versions_.front().space; }

 private:
  struct Version {
    uint32_t number = 1;
    SweepSpec spec;
    PointSpace space;
    uint64_t first = 0, points = 0;
    std::vector<IndexRun> runs;
    std::vector<uint64_t> run_first;  // run k's first point, relative to `first`
    std::string sha256;
  };
  SweepPoints() = default;
  Status LoadVersion(Env* env, const SweepLayout& layout, uint32_t number, bool* found);
  void AddNames(const PointSpace& space);

  std::vector<Version> versions_;
  std::vector<std::string> names_;
};

// ReadFrozenSpec, then Load: a sweep's points, every version.
Result<SweepPoints> ReadSweepPoints(Env* env, const std::string& sweep_dir);

// The version record's text: `record` printed, then its digest line.
std::string VersionFileText(const SpecVersion& record);
// Parses and checks a version file's text (digest line, format version).
// Corruption names `path`.
Status ParseVersionFile(const std::string& text, const std::string& path, SpecVersion* record);

// What a new version may not change: the task and everything the points
// depend on (name, seed, grid and random semantics are checked point by
// point by `sweep extend`; here: task, early_stopping, stages (all but their
// resources), security, spec_dir, format_version).
// InvalidArgument naming the first difference; OK when none.
Status CheckSameTask(const SweepSpec& before, const SweepSpec& after);

// A point's identity: its (name, value) pairs as a set. Two points are the
// same point when their keys are equal.
std::string PointKey(const Point& p);

}  // namespace claimsweep
