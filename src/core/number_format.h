// Number -> text: the one home of every number claimsweep writes.
//
// Machines and exact displays (spec values, CSV, markdown, control and
// importer messages, the report's sort keys) get FormatDouble: the shortest
// text that reads back as the same double. Only text for eyes rounds, and only
// through the functions below. JSON is the exception that proves the rule:
// protobuf's printer writes its numbers (core/json.h says how; they read back
// exactly too).
#pragma once

#include <string>

namespace claimsweep {

// Shortest text that reads back as the same double: integers below 1e15 as
// integers ("4", "-3", "1000000000"), the rest as std::to_chars writes them
// ("0.1", "0.30000000000000004", "1e-05", "1e+15"); "nan", "inf", "-inf".
std::string FormatDouble(double v);

// For eyes: integers below 1e15 as integers, the rest with `digits`
// significant digits ("%.4g": "0.1235", "1.235e+08"). Non-finite as printf
// writes them ("nan", "inf", "-inf").
std::string FormatRounded(double v, int digits = 4);

// `digits` significant digits, printf's %g ("%.2g": "1.2e+06", "0.5").
std::string FormatSignificant(double v, int digits);

// `decimals` digits after the point, printf's %f ("%.1f": "12.3"; 0: "12").
std::string FormatFixed(double v, int decimals);

}  // namespace claimsweep
