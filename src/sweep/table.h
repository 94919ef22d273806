// Plain-text output helpers for `sweep`: aligned tables, CSV, JSON strings.
#pragma once

#include <string>
#include <vector>

namespace claimsweep {

using Row = std::vector<std::string>;

// Columns left-aligned, two spaces apart, a rule under the header. For the
// terminal: control characters in cells are escaped (TerminalSafe).
std::string RenderTable(const Row& header, const std::vector<Row>& rows);
// RFC 4180: fields with a comma, quote or newline are quoted; values exact.
std::string RenderCsv(const Row& header, const std::vector<Row>& rows);
// A JSON string literal, quotes included.
std::string JsonString(const std::string& s);

}  // namespace claimsweep
