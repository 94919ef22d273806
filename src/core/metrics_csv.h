// Reads the last row of a trial's metrics.csv (header line + one row per epoch).
#pragma once

#include <google/protobuf/struct.pb.h>

#include <string>

#include "core/env.h"

namespace claimsweep {

// Fills `row` with header -> value for the last non-empty line; numbers become
// numbers. NotFound if there is no file; Corruption (naming the file and line)
// if the last row's column count differs from the header's.
Status ReadLastMetricsRow(Env* env, const std::string& path, google::protobuf::Struct* row);

}  // namespace claimsweep
