// Reading, validating and freezing sweep specs (protobuf text format, schema
// in src/proto/spec.proto). Every error names file:line:col and what to fix.
#pragma once

#include <string>

#include "core/env.h"
#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

inline constexpr uint32_t kSpecFormatVersion = 1;

// Parses and validates the spec text read from `path` (used in messages).
// InvalidArgument carries "path:line:col: message" lines.
Result<SweepSpec> ParseSpec(const std::string& text, const std::string& path);
Result<SweepSpec> ReadSpecFile(Env* env, const std::string& path);

// Fills in the documented defaults (lease 300 s, heartbeat 15 s, ...).
void ApplyDefaults(SweepSpec* spec);

// The canonical frozen text: defaults applied, format_version set.
std::string FreezeSpec(SweepSpec spec);

// Reads DIR/sweep.textproto; Unsupported for an unknown format_version.
Result<SweepSpec> ReadFrozenSpec(Env* env, const std::string& sweep_dir);

}  // namespace claimsweep
