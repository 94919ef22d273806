// Reading, validating and freezing sweep specs (protobuf text format, schema
// in src/proto/spec.proto). Every error names file:line:col and what to fix.
#pragma once

#include <string>

#include "core/env.h"
#include "core/layout.h"
#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

// The newest format_version this build reads.
//   1: a command runs in trials/<i>/ itself (no digest).
//   2: a command runs in trials/<i>/work/; DIR/sweep.sha256 holds the frozen
//      spec's digest, checked by every reader.
//   3: random draws keyed by the point's grid values and sample, not by its
//      index (see core/points.h), so a sweep can grow; grid branches and zips.
//   4: derived stages (SweepSpec.stage, DIR/stages/<S>/) or early stopping
//      (SweepSpec.early_stopping); points as in 3. Frozen only for a spec
//      with stages or early_stopping, so that a sweep without them stays
//      readable by a claimsweep that knows 3 (FrozenFormatVersion).
inline constexpr uint32_t kSpecFormatVersion = 4;
inline constexpr uint32_t kStagesFormatVersion = 4;
inline constexpr uint32_t kEarlyStoppingFormatVersion = 4;

// The format_version `sweep init` freezes `spec` with: 4 when it has stages
// or early_stopping, else 3.
uint32_t FrozenFormatVersion(const SweepSpec& spec);

// Parses and validates the spec text read from `path` (used in messages).
// InvalidArgument carries "path:line:col: message" lines.
// `check_every_point`: also build every point's train config as the trainer
// will (skipped for frozen specs: `sweep init` did it, and trial start-up
// must not cost O(points)).
Result<SweepSpec> ParseSpec(const std::string& text, const std::string& path,
                            bool check_every_point = true);
Result<SweepSpec> ReadSpecFile(Env* env, const std::string& path);

// Fills in the documented defaults (lease 300 s, heartbeat 15 s, ...; with
// early_stopping, a train task's epochs is asha.max_epochs).
void ApplyDefaults(SweepSpec* spec);

// The canonical frozen text: defaults applied, format_version set.
std::string FreezeSpec(SweepSpec spec);

// The directory a trial's task writes its own files into ({trial_dir}, the
// command's working directory, where metrics.csv is read from): the trial
// directory for train tasks and for sweeps frozen before format_version 2,
// else SweepLayout::work_dir.
std::string TaskDir(const SweepSpec& spec, const SweepLayout& layout, uint64_t index);
std::string MetricsCsvPath(const SweepSpec& spec, const SweepLayout& layout, uint64_t index);

// Reads DIR/sweep.textproto: format_version 1 to 4 (a newer one is refused
// by name). Corruption when its digest (DIR/sweep.sha256, CheckSpecDigest) does
// not match, or is missing for format_version >= 2.
// `text`, if given, receives the bytes read (the start of the chain of
// `sweep extend`'s versions, core/sweep_points.h).
Result<SweepSpec> ReadFrozenSpec(Env* env, const std::string& sweep_dir,
                                 std::string* text = nullptr);

}  // namespace claimsweep
