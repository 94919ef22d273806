// Reads the last row of a trial's metrics.csv (header line + one row per epoch).
#pragma once

#include <google/protobuf/struct.pb.h>

#include <string>
#include <vector>

#include "core/env.h"

namespace claimsweep {

// Fills `row` with header -> value for the last non-empty line; numbers become
// numbers. NotFound if there is no file; Corruption (naming the file and line)
// if the last row's column count differs from the header's.
Status ReadLastMetricsRow(Env* env, const std::string& path, google::protobuf::Struct* row);

// Parses a whole metrics.csv (`path` is for messages): the header's columns
// and one row per line. Cells that are not numbers become NaN; a row with the
// wrong number of fields (a half-written last line) is Corruption naming
// path:line, with the rows before it kept.
Status ParseMetricsCsv(const std::string& text, const std::string& path,
                       std::vector<std::string>* columns, std::vector<std::vector<double>>* rows);

}  // namespace claimsweep
